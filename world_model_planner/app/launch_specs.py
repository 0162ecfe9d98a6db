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
    LaunchArgument("out", "session.mcap", "Recording file (MCAP)."),
    LaunchArgument("seed", "0", "Sim seed (written into the metadata)."),
    LaunchArgument("planner", "hierarchical", "Planner in planner/shared mode.", PLANNERS),
    LaunchArgument("model", "", "World-model checkpoint ('' = the shipped model)."),
)


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
