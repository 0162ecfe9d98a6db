"""Launch arguments of sim.launch.py and robot.launch.py, and the NodeSpecs they produce.

The launch files only declare :data:`SIM_ARGUMENTS` / :data:`ROBOT_ARGUMENTS` and, in an
OpaqueFunction, turn :func:`sim_specs` / :func:`robot_specs` into ``launch_ros.actions.Node``
actions. The specs come from :mod:`world_model_planner.app.stack`, the same description that
``wmp run`` and the CI process tests start, so launch and CI share one wiring. No launch, no
rclpy here: launch argument values arrive as strings.
"""
from __future__ import annotations

from dataclasses import dataclass

from world_model_planner.core.robot_config import load_robot, planner_params, robot_file
from world_model_planner.app.stack import MUX, PLANNER, PLANNERS, WORLD_MODEL, NodeSpec, has_mux, robot_stack, sim_stack


@dataclass(frozen=True)
class LaunchArgument:
    name: str
    default: str
    description: str
    choices: tuple = ()


_COMMON = (
    LaunchArgument("planner", "hierarchical", "Planner: hierarchical (subgoals + MPPI through the "
                   "world model), flat (MPPI only), classic (unicycle model) or classic_id (identified "
                   "lag + delay model, tracked moving obstacles).", PLANNERS),
    LaunchArgument("model", "", "World-model checkpoint ('' = the shipped models/husky_default.pt)."),
    LaunchArgument("namespace", "", "Namespace for every node of the stack."),
    LaunchArgument("params_file", "", "Extra ROS parameter file applied to every node after the "
                   "shipped config/*.yaml (keys '/**/<node>' or '/**')."),
)
_BOOL = ("true", "false")

SIM_ARGUMENTS = (
    LaunchArgument("scenario", "open", "Built-in scenario (open, wall, u_trap, two_rooms, maze) or a "
                   "scenario YAML path."),
    *_COMMON,
    LaunchArgument("gui", "false", "Show the PyBullet window.", _BOOL),
    LaunchArgument("lockstep", "false", "Lockstep: the sim waits for one command per control period "
                   "(deterministic; the planner plans once per /odom).", _BOOL),
    LaunchArgument("use_sim_time", "true", "Nodes follow the sim's /clock.", _BOOL),
)

ROBOT_ARGUMENTS = (
    LaunchArgument("robot", "husky", "Robot file: a name under config/robots (husky, turtlebot4) or "
                   "a YAML path with limits and footprint."),
    LaunchArgument("odom", "/odom", "The robot's odometry topic (nav_msgs/Odometry)."),
    LaunchArgument("scan", "/scan", "The robot's lidar topic (sensor_msgs/LaserScan)."),
    LaunchArgument("image", "/camera/image_raw", "The robot's camera topic (sensor_msgs/Image)."),
    LaunchArgument("depth", "", "The camera's depth image (sensor_msgs/Image 32FC1 m or 16UC1 mm, e.g. an "
                   "OAK-D's or RealSense's) for a camera world model: the planner maps and avoids what it "
                   "shows (planner_node depth.* parameters give its mounting). '' = RGB only."),
    LaunchArgument("cmd_vel", "/cmd_vel", "Where the robot takes velocity commands."),
    LaunchArgument("cmd_vel_stamped", "true", "The robot's cmd_vel is geometry_msgs/TwistStamped "
                   "(false: Twist, e.g. drivers written before Jazzy).", _BOOL),
    LaunchArgument("localization_topic", "", "The localization pose in the map frame (geometry_msgs/"
                   "PoseWithCovarianceStamped: AMCL's /amcl_pose, slam_toolbox's /pose); the planner pairs it "
                   "with odometry for goals in map. '' = tf2 only."),
    LaunchArgument("prior_map", "false", "Seed the planner's grid from /map (map_server, slam_toolbox).", _BOOL),
    *_COMMON,
    LaunchArgument("use_sim_time", "false", "Nodes follow /clock (only for bag replay or an "
                   "external simulator).", _BOOL),
)


def _flag(values: dict, name: str) -> bool:
    text = str(values[name]).strip().lower()
    if text not in _BOOL:
        raise ValueError(f"launch argument '{name}': expected true or false, got {values[name]!r}")
    return text == "true"


def _complete(values: dict, arguments) -> dict:
    """Defaults for missing arguments; refuse unknown ones and values outside the choices."""
    names = {a.name for a in arguments}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown launch argument(s) {unknown}; expected some of {sorted(names)}")
    out = {a.name: str(values.get(a.name, a.default)) for a in arguments}
    for a in arguments:
        if a.choices and out[a.name].strip().lower() not in a.choices:
            raise ValueError(f"launch argument '{a.name}': expected one of {list(a.choices)}, "
                             f"got {out[a.name]!r}")
    if out.get("params_file"):   # a missing file would fail later, inside every node, as a traceback
        from world_model_planner.core.cli_checks import in_file_problem

        why = in_file_problem(out["params_file"], "launch argument 'params_file'")
        if why:
            raise ValueError(why)
    return out


def sim_specs(values: dict) -> list[NodeSpec]:
    """sim.launch.py argument values (strings) → the simulation stack's NodeSpecs."""
    v = _complete(values, SIM_ARGUMENTS)
    return sim_stack(scenario=v["scenario"], planner=v["planner"], model=v["model"] or None,
                     gui=_flag(v, "gui"), lockstep=_flag(v, "lockstep"),
                     use_sim_time=_flag(v, "use_sim_time"), params_file=v["params_file"] or None,
                     namespace=v["namespace"])


def robot_specs(values: dict) -> list[NodeSpec]:
    """robot.launch.py argument values (strings) → the robot stack's NodeSpecs; the robot
    file's limits and footprint become planner_node parameters (robot_config.planner_params),
    and ``cmd_vel_stamped`` sets the message type on the robot's cmd_vel (the mux output, or
    the planner's where there is no mux) and the one world_model_node listens to."""
    v = _complete(values, ROBOT_ARGUMENTS)
    robot = load_robot(v["robot"])
    stamped = _flag(v, "cmd_vel_stamped")
    planner_values = planner_params(robot)
    if v["localization_topic"]:
        planner_values["localization_topic"] = v["localization_topic"]
    if _flag(v, "prior_map"):
        planner_values["prior_map"] = True
    extra = {WORLD_MODEL: {"cmd_vel_stamped": stamped}}
    if has_mux():   # the mux writes the robot's cmd_vel; the planner keeps its own default
        extra[MUX] = {"output_stamped": stamped}
    else:           # the planner's output is remapped straight onto the robot's cmd_vel
        planner_values["cmd_stamped"] = stamped
    return robot_stack(robot_yaml=str(robot_file(v["robot"])), odom=v["odom"], scan=v["scan"],
                       image=v["image"], depth=v["depth"], cmd_vel=v["cmd_vel"], planner=v["planner"],
                       model=v["model"] or None, use_sim_time=_flag(v, "use_sim_time"),
                       params_file=v["params_file"] or None, namespace=v["namespace"],
                       extra={PLANNER: planner_values, **extra})
