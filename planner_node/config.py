"""planner_node's own parameters, and the prefixes under which the library configs appear as
ROS parameters (declared once, from the dataclasses, by ``rosutil.declare_config``)."""
from __future__ import annotations

from dataclasses import dataclass

from world_model_planner.core.params import markdown_table, param, validate
from world_model_planner.core.sensor_check import SensorLimits

from world_model_planner.planner_node.budget import BudgetConfig
from world_model_planner.planner_node.caution import CautionConfig
from world_model_planner.planner_node.depth_scan import DepthScanConfig
from world_model_planner.planner_node.critics import CriticsConfig, critic_docs
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator_config import NavigatorConfig
from world_model_planner.planner_node.recovery import RecoveryConfig
from world_model_planner.planner_node.subgoal import SubgoalConfig
from world_model_planner.planner_node.tracking import TrackerConfig


@dataclass
class PlannerNodeConfig:
    planner: str = param("hierarchical", "Which planner: hierarchical, flat, classic (unicycle kinematics) or "
                         "classic_id (identified lag + delay velocity model, tracked moving obstacles).",
                         choices=("hierarchical", "flat", "classic", "classic_id"))
    model_path: str = param("", "World-model checkpoint; empty = the shipped models/<robot>_default.pt. "
                            "A named file that is missing or bad fails configure; only when the "
                            "shipped default is absent does the unicycle stand in (logged).")
    robot: str = param("husky", "The robot driven (a robot file's name; robot.launch.py and `wmp run` set it "
                       "from the robot file). The default checkpoint is models/<robot>_default.pt; a learned "
                       "planner refuses a checkpoint trained on another robot's data (configure fails, and a "
                       "hot-reload keeps the running model).")
    sysid_path: str = param("", "classic_id's velocity model (JSON written by `wmp sysid`); empty = the shipped "
                            "models/<robot>_sysid.json (the Husky's for a robot without one). A missing or bad "
                            "file fails configure.")
    device: str = param("auto", "Torch device: auto, cpu, cuda, cuda:N. auto: a learned planner times a few "
                        "rollouts at mppi.samples x mppi.horizon on each path (CPU fused, CPU fused with bf16 "
                        "matrix products where the CPU has bf16 units and its poses stay within 5 mm of "
                        "float32's, CPU step-by-step reference, CUDA where present) at configure and plans on the fastest (logged; the default "
                        "path, CUDA or else CPU fused, unless another is more than 10 % faster); other planners "
                        "take CUDA if present.")
    torch_threads: int = param(1, "torch.set_num_threads for planning; 0 = torch's default (all cores). "
                               "1 is fastest on a busy 2-core machine.", range=(0, 256))
    trigger: str = param("odom", "odom: plan once per /odom, stamp the command with its stamp (sim "
                         "lockstep); timer: plan at control_rate_hz.", choices=("odom", "timer"))
    control_rate_hz: float = param(20.0, "Planning rate with trigger=timer; watchdog rate always; its "
                                    "period is what the adaptive budget (budget.*) holds ticks to.", range=(1.0, 200.0))
    max_sensor_age_s: float = param(0.5, "/odom or /scan older than this → zero command until fresh data.", range=(0.01, 60.0))
    cmd_stamped: bool = param(True, "Publish geometry_msgs/TwistStamped (true) or Twist (false) on cmd_vel_nav.")
    use_goal_yaw: bool = param(False, "Honour the goal orientation (heading critic + yaw tolerance).")
    rollouts_rate_hz: float = param(2.0, "Rate of /planner/rollouts MarkerArrays (0 = off).", range=(0.0, 50.0))
    diagnostics_rate_hz: float = param(2.0, "Rate of /diagnostics (also sent on every state change).", range=(0.1, 50.0))
    base_frame: str = param("base_link", "Frame of the command and of the robot body.")
    autostart: bool = param(False, "Configure and activate at start (without a lifecycle manager).")
    min_goal_interval_s: float = param(0.5, "Goal changes closer together than this are deferred: the latest "
                                       "waits and is applied when the interval has passed (repeats of the "
                                       "goal in force are ignored; invalid goals are refused at once) (s).",
                                       range=(0.0, 60.0))
    checkpoint_dirs: str = param("", "Directories (separated by ':') that /world_model/checkpoint announcements "
                                 "may point into; others are refused and logged. '' = the package's models/ "
                                 "and world_model_node's default checkpoint_dir "
                                 "($ROS_HOME/world_model_planner/checkpoints).")
    localization_topic: str = param("", "geometry_msgs/PoseWithCovarianceStamped of the robot in the map frame "
                                    "(AMCL's /amcl_pose, slam_toolbox's /pose, the sim's localization_pose); "
                                    "paired with /odom by timestamp it gives map → odom for goals in that "
                                    "frame. '' = tf2 only (where tf2_ros is importable).")
    localization_pair_tolerance_s: float = param(0.2, "A localization pose is paired with the odometry of the "
                                                 "same stamp, interpolated; none within this many seconds → "
                                                 "the pose is skipped (logged) (s).", range=(0.001, 5.0))
    transform_timeout_s: float = param(2.0, "A goal in a frame other than odom waits this long for a transform "
                                       "to odom (wall s, robot stopped), then is refused with the reason.",
                                       range=(0.0, 600.0))
    prior_map: bool = param(False, "Seed the subgoal layer's grid from the nav_msgs/OccupancyGrid on map_topic "
                            "(map_server, slam_toolbox); the scans keep updating it.")
    map_topic: str = param("map", "Topic of the prior map (transient local, as map_server publishes it).")
    scan: str = param("lidar", "lidar: plan with the LaserScan on scan. none: camera only, no scan subscription; "
                      "configure fails unless model_path is a camera world model (a camera model always "
                      "plans from camera_topic, whatever this says).", choices=("lidar", "none"))
    camera_topic: str = param("camera/image_raw", "sensor_msgs/Image a camera world model plans from "
                              "(subscribed only with such a model; any size and rgb8/bgr8/rgba8/bgra8/mono8 "
                              "encoding, centre-cropped and averaged to the model's image size). Goal pictures "
                              "come on goal_image.")
    depth_topic: str = param("", "sensor_msgs/Image depth (32FC1 metres or 16UC1 mm) of the camera a camera "
                             "world model plans from (the sim's: camera/depth/image_raw): turned into a scan "
                             "(depth.*, planner_node/depth_scan.py) for the subgoal map, the clearance critics "
                             "and the recoveries, and then required like the frames. '' = RGB only: the "
                             "planner aims straight at the goal through the collision head.")

    def __post_init__(self):
        validate(self)


# (prefix, class) for every library config exposed as ROS parameters
SECTIONS = (("", NavigatorConfig), ("mppi.", MPPIConfig), ("critics.", CriticsConfig),
            ("subgoal.", SubgoalConfig), ("tracking.", TrackerConfig), ("recovery.", RecoveryConfig),
            ("sensors.", SensorLimits), ("budget.", BudgetConfig), ("caution.", CautionConfig),
            ("depth.", DepthScanConfig))

#: Read once at start-up (changing them at runtime is refused).
STARTUP_ONLY = ("autostart",)
#: Read by configure: refused while the node is configured, accepted (and used by the next
#: configure) while it is unconfigured. Every other parameter is applied at once.
CONFIGURE_ONLY = ("planner", "model_path", "robot", "sysid_path", "device", "torch_threads", "control_rate_hz", "cmd_stamped",
                  "subgoal.grid_size_m", "subgoal.grid_res_m", "localization_topic", "prior_map", "map_topic", "scan", "camera_topic",
                  "depth_topic")


def live_change_refusal(changed, configured: bool) -> str | None:
    """Why a runtime change of the parameters ``changed`` is refused, or None when it can apply."""
    fixed = [n for n in changed if n in STARTUP_ONLY]
    if fixed:
        return f"{', '.join(fixed)}: read at start-up only; restart the node to change it"
    later = [n for n in changed if n in CONFIGURE_ONLY]
    if later and configured:
        return (f"{', '.join(later)}: read by configure, cannot change while the node is configured "
                "(deactivate and clean up, set it, then configure)")
    return None


def checkpoint_roots(setting: str) -> list:
    """Resolved directories checkpoint announcements may point into (see checkpoint_dirs)."""
    from pathlib import Path

    if setting.strip():
        dirs = [Path(d).expanduser() for d in setting.split(":") if d.strip()]
    else:
        from world_model_planner.world_model_node.node_config import WorldModelNodeConfig, resolve_checkpoint_dir
        from world_model_planner.core.paths import models_dir

        dirs = [models_dir(), resolve_checkpoint_dir(WorldModelNodeConfig())]
    return [d.resolve() for d in dirs]


def checkpoint_allowed(path: str, roots) -> bool:
    """True when ``path`` (symlinks and '..' resolved) lies under one of ``roots``."""
    from pathlib import Path

    try:
        real = Path(path).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return any(real == r or r in real.parents for r in roots)


def parameter_tables() -> str:
    """README material: one Markdown table per section."""
    out = ["#### planner_node", markdown_table(PlannerNodeConfig)]
    for prefix, cls in SECTIONS:
        table = critic_docs(prefix) if cls is CriticsConfig else markdown_table(cls, prefix)
        out += ["", f"#### {cls.__name__} ({prefix or 'no prefix'})", table]
    return "\n".join(out)


def params_yaml() -> str:
    """config/planner.yaml content with every default (nested sections)."""
    import dataclasses

    def fmt(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        return repr(v)

    lines = ["# planner_node parameters (all defaults). Generated from the dataclasses in",
             "# planner_node/config.py: python -c 'import sys; from world_model_planner.planner_node.config import params_yaml; "
             "sys.stdout.write(params_yaml())' > config/planner.yaml",
             "/**/planner_node:", "  ros__parameters:"]
    for f in dataclasses.fields(PlannerNodeConfig):
        lines.append(f"    {f.name}: {fmt(getattr(PlannerNodeConfig(), f.name))}")
    for prefix, cls in SECTIONS:
        ind = "    "
        if prefix:
            lines.append(f"    {prefix.rstrip('.')}:")
            ind = "      "
        d = cls()
        for f in dataclasses.fields(cls):
            lines.append(f"{ind}{f.name}: {fmt(getattr(d, f.name))}")
    return "\n".join(lines) + "\n"
