"""Launch arguments and NodeSpecs of launch/teleop_compare.launch.py (no launch, no rclpy here).

The nodes are the ones ``wmp session`` starts (world_model_planner.app.session.session_specs: recorder, sim in
real time, mux, and in planner/shared mode world model, planner, lifecycle manager), plus the
person's input device: ``teleop_keyboard`` (in its own terminal window) or ``joy_node`` +
``teleop_joy``.
"""
from __future__ import annotations

from pathlib import Path

from world_model_planner.app.launch_args import LaunchArgument
from world_model_planner.app.stack import PLANNERS, NodeSpec

TELEOP_COMPARE_ARGUMENTS = (
    LaunchArgument("scenario", "open", "Built-in scenario name or scenario YAML path."),
    LaunchArgument("mode", "teleop", "Who drives: teleop (the person), planner, or shared "
                   "(the planner, the person may take over).", ("teleop", "planner", "shared")),
    LaunchArgument("operator", "person", "Operator name written into the recording's metadata."),
    LaunchArgument("input", "keyboard", "The person's device: keyboard (teleop_keyboard in an xterm), "
                   "joy (joy_node + teleop_joy) or none.", ("keyboard", "joy", "none")),
    LaunchArgument("out", "session", "Recording: a rosbag2 directory, created (a name ending in .mcap writes "
                   "one MCAP file)."),
    LaunchArgument("seed", "0", "Sim seed (written into the metadata)."),
    LaunchArgument("planner", "hierarchical", "Planner in planner/shared mode.", PLANNERS),
    LaunchArgument("model", "", "World-model checkpoint ('' = the shipped model)."),
)


def input_device_problem(values: dict, which=None, has_package=None) -> str | None:
    """Why the person's input device cannot start here (xterm or the joy package missing), or
    None. ``which``/``has_package`` default to shutil.which and an ament index lookup."""
    import shutil

    which = which or shutil.which
    if values.get("mode") not in ("teleop", "shared"):
        return None
    if values.get("input") == "keyboard" and which("xterm") is None:
        return ("input:=keyboard starts teleop_keyboard in an xterm, and xterm is not installed "
                "(apt install xterm), or use input:=joy or input:=none")
    if values.get("input") == "joy" and not (has_package or _in_ament_index)("joy"):
        return ("input:=joy starts joy_node from the ROS package joy, which is not installed "
                "(apt install ros-$ROS_DISTRO-joy), or use input:=keyboard or input:=none")
    return None


def _in_ament_index(package: str) -> bool:
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:        # no ament index here (PyPI wheels): nothing to check against
        return True
    try:
        get_package_prefix(package)
        return True
    except PackageNotFoundError:
        return False


def teleop_compare_specs(values: dict) -> list[NodeSpec]:
    """values: launch argument name -> string. Returns NodeSpecs in start order."""
    from world_model_planner.app.session import SessionOptions, session_specs

    mode = values["mode"]
    opts = SessionOptions(scenario=values["scenario"], mode=mode, operator=values["operator"],
                          seed=int(values["seed"]), planner=values["planner"],
                          model=values["model"] or None)
    specs = session_specs(opts, Path(values["out"]).expanduser().resolve())
    if mode in ("teleop", "shared"):
        if values["input"] == "keyboard":
            specs.append(NodeSpec("teleop_keyboard", "teleop_keyboard",
                                  parameters=[{"use_sim_time": True}]))
        elif values["input"] == "joy":
            specs.append(NodeSpec("joy_node", "joy_node", package="joy"))
            specs.append(NodeSpec("teleop_joy", "teleop_joy", parameters=[{"use_sim_time": True}]))
    return specs
