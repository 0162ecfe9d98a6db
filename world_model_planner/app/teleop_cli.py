"""`wmp` sub-commands of the teleop area: teleop, record, compare, session."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("teleop", help="drive from the keyboard (publishes /cmd_vel_teleop)",
                              description="Keyboard teleop: w/a/s/d or arrows, +/- speed, space stops, "
                                          "q quits. Extra arguments go to ROS (--ros-args -p name:=value).")
    p.add_argument("ros_args", nargs=argparse.REMAINDER, help="e.g. --ros-args -p max_linear_mps:=0.5")
    p.set_defaults(func=_teleop)
    from world_model_planner.app.cli import load_area

    for mod in ("world_model_planner.app.recorder_cli", "world_model_planner.teleop.compare_cli", "world_model_planner.app.session_cli"):
        module = load_area(mod, "wmp")
        if module is not None:
            module.register(subparsers)


def _teleop(args) -> int:
    from world_model_planner.teleop.keyboard import main

    return main(["wmp-teleop", *args.ros_args])
