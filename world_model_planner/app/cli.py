"""`wmp`: one command line for the whole stack.

Each area registers its own sub-commands in its ``cli`` module (``register(subparsers)``);
this file only wires them together. Heavy imports (torch, pybullet, rclpy) happen inside the
command functions, so ``wmp --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys

# Modules that contribute sub-commands, in the order they appear in --help.
COMMAND_MODULES = (
    "world_model_planner.app.sim_cli",
    "world_model_planner.app.import_world_cli",
    "world_model_planner.world_model_node.cli",
    "world_model_planner.planner_node.cli",
    "world_model_planner.app.teleop_cli",
    "world_model_planner.app.stack_cli",
    "world_model_planner.app.snapshot_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wmp",
        description="world_model_planner: plan through a learned world model (ROS 2 + PyBullet).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = load_area(name, "wmp")
        if module is not None:
            module.register(subparsers)
    return parser


def load_area(name: str, prog: str):
    """Import a module that contributes sub-commands. Every area ships with the package, so a
    missing area module is a packaging bug and raises. When a third-party dependency *of* the
    area is missing, say so in one line naming it, and go on without the area's commands."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or "?"
        if missing.split(".")[0] == "world_model_planner":
            raise
        print(f"{prog}: warning: the commands of {name.rsplit('.', 1)[0]} are unavailable: "
              f"it needs the module {missing!r}, which is not installed", file=sys.stderr)
        return None


def _refusal_types() -> tuple:
    """Exceptions that mean "bad input" and become one line and exit 2 (never a traceback)."""
    from world_model_planner.core.params import ConfigError
    from world_model_planner.core.safeio import InputError

    types = [InputError, ConfigError]
    for mod, cls in (("world_model_planner.sim.scenario", "ScenarioError"), ("world_model_planner.core.robot_config", "RobotConfigError")):
        try:
            types.append(getattr(importlib.import_module(mod), cls))
        except (ImportError, AttributeError):
            pass
    return tuple(types)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a process supervisor, ``timeout``, ``docker stop``): the same clean stop as Ctrl-C,
    so the nodes a command started are stopped with it and never left driving the robot."""


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C stops every command, even when started from a shell that ignores SIGINT for its
    # background jobs (the disposition is inherited, and Python then installs no handler)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    refusals = _refusal_types()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        term = isinstance(exc, Terminated)
        print("terminated" if term else "interrupted", file=sys.stderr)
        return 143 if term else 130
    except refusals as exc:
        from world_model_planner.core.cli_checks import refuse

        return refuse(f"wmp {args.command}", str(exc) or type(exc).__name__)


if __name__ == "__main__":
    sys.exit(main())
