"""`wmp`: one command line for the whole stack.

Each area registers its own sub-commands in its ``cli`` module (``register(subparsers)``);
this file only wires them together. Heavy imports (torch, pybullet, rclpy) happen inside the
command functions, so ``wmp --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Modules that contribute sub-commands, in the order they appear in --help.
COMMAND_MODULES = (
    "sim.cli",
    "world_model_node.cli",
    "planner_node.cli",
    "teleop.cli",
    "world_model_planner.stack_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wmp",
        description="world_model_planner: plan through a learned world model (ROS 2 + PyBullet).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # an area that is not part of this install
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
