"""SimNodeConfig: every sim_node parameter, declared once (description + range).

The ROS layer (``rosutil.declare_config``) turns these fields into ROS parameters; the
README table comes from ``world_model_planner.core.params.markdown_table(SimNodeConfig)``.
At runtime (SetParameters) sim_node applies or refuses each change (sim/sim_node.py):
``scenario`` and ``robot`` (validated when set), ``seed`` and ``perturb`` take effect at the next ~/reset;
``payload_kg`` applies at once (a value between -1 and 0 is refused);
``gui``, ``start_paused``, ``lockstep``, ``cmd_vel_stamped``, ``camera_enabled`` and ``publish_tf`` are refused
(read at start-up only); every other parameter applies at once. An unknown key in a params
file stops the node with one line (exit 2). No rclpy here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from world_model_planner.core.params import CMD_TIMEOUT_S, ConfigError, param, validate

from world_model_planner.sim.robots import LidarSpec
from world_model_planner.sim.sensors import CameraConfig, LidarConfig


@dataclass
class SimNodeConfig:
    scenario: str = param("open", "built-in scenario name or path to a scenario YAML file "
                                  "(re-read on ~/reset)")
    robot: str = param("", "robot to simulate in place of the scenario's ``robot:`` (husky, jackal, "
                           "turtlebot4; '' = the scenario's; re-read on ~/reset)")
    seed: int = param(0, "seed for perturbation and sensor noise (re-read on ~/reset)",
                      range=(0, 2**31 - 1))
    payload_kg: float = param(-1.0, "mass carried on the base (kg), applied at once and kept over "
                                    "~/reset; -1 = the scenario's payload_kg", range=(-1.0, 500.0))
    perturb: bool = param(False, "seeded start-pose perturbation (±0.2 m, ±0.2 rad) and sensor noise")
    gui: bool = param(False, "open the PyBullet GUI window (needs a display)")
    start_paused: bool = param(False, "start paused: no time passes until ~/pause is called with false "
                                      "(the last observation is re-sent while paused)")
    lockstep: bool = param(False, "simulate each control period only once its command arrived "
                                  "(deterministic, as fast as the controller)")
    lockstep_timeout_s: float = param(2.0, "lockstep: wall seconds to wait for a command before "
                                           "stepping with zero (logged)", range=(0.01, 600.0))
    realtime_factor: float = param(1.0, "real-time mode: simulated seconds per wall second",
                                   range=(0.05, 100.0))
    control_period_s: float = param(0.05, "simulated seconds per control period (/odom, /clock rate)",
                                    range=(0.01, 1.0))
    cmd_timeout_s: float = param(CMD_TIMEOUT_S, "real-time mode: stop when the last /cmd_vel is older than this "
                                    "(simulated seconds)", range=(0.01, 60.0))
    cmd_vel_stamped: bool = param(True, "/cmd_vel type: geometry_msgs/TwistStamped (true) or Twist (false)")
    lidar_beams: int = param(0, "lidar beams; 0 = the robot's lidar (sim/robots.py: 180 for the Husky and "
                                "TurtleBot 4, 720 for the Jackal's Hokuyo UST-10)", range=(0, 2048))
    lidar_fov_deg: float = param(0.0, "lidar field of view (degrees); 0 = the robot's (360, the Jackal's 270)",
                                 range=(0.0, 360.0))
    lidar_range_max_m: float = param(0.0, "lidar maximum range (m); no return is +inf; 0 = the robot's (8, the "
                                          "Jackal's 30)", range=(0.0, 100.0))
    lidar_rate_hz: float = param(10.0, "lidar scan rate (Hz, simulated time)", range=(0.5, 100.0))
    camera_enabled: bool = param(False, "publish /camera/image_raw (RGB) and /camera/depth/image_raw (its "
                                                "depth, 32FC1 metres) from the robot's own forward camera "
                                                "(sim/robots.py CameraSpec; 64x64 on the Husky)")
    camera_width: int = param(64, "camera image width (pixels)", range=(8, 512))
    camera_height: int = param(0, "camera image height (pixels; 0: from the width and the robot camera's "
                                  "fields of view, square pixels: 64 x 64 on the Husky, 64 x 50 on the "
                                  "TurtleBot 4, 64 x 37 on the Jackal)", range=(0, 512))
    camera_rate_hz: float = param(10.0, "camera frame rate (Hz, simulated time)", range=(0.5, 60.0))
    diagnostics_rate_hz: float = param(2.0, "/diagnostics rate (Hz, simulated time)", range=(0.1, 50.0))
    publish_tf: bool = param(True, "publish odom→base_link on /tf (where tf2_msgs is importable)")
    odom_frame: str = param("odom", "odometry frame id (== scenario world frame)")
    base_frame: str = param("base_link", "robot base frame id")
    map_frame: str = param("map", "frame of /map and of the localization pose")
    map_offset: list = param([0.0, 0.0, 0.0], "pose (x m, y m, yaw rad) of the scenario's world origin in "
                                              "map_frame: the map → odom transform at the start")
    odom_drift: list = param([0.0, 0.0, 0.0], "drift of odometry against the world (x m/s, y m/s, yaw rad/s "
                                              "of simulated time), so map → odom changes and localization "
                                              "must correct it; zeros = none")
    localization_rate_hz: float = param(0.0, "rate of the localization pose (geometry_msgs/"
                                             "PoseWithCovarianceStamped in map_frame on localization_pose, "
                                             "as AMCL's /amcl_pose; simulated time); 0 = off", range=(0.0, 50.0))
    localization_noise_xy_m: float = param(0.0, "standard deviation of the localization pose's x and y (m)",
                                           range=(0.0, 1.0))
    localization_noise_yaw_rad: float = param(0.0, "standard deviation of the localization pose's yaw (rad)",
                                              range=(0.0, 0.5))
    movers_rate_hz: float = param(10.0, "rate of sim/movers, the movers' ground-truth footprints "
                                        "(visualization_msgs/MarkerArray in odom_frame: a cylinder per person, "
                                        "a cube per cart; simulated time), sent only when the scenario has "
                                        "movers; 0 = off", range=(0.0, 50.0))
    publish_map: bool = param(True, "publish the scenario (walls and obstacles) as nav_msgs/OccupancyGrid on "
                                    "map, transient local as map_server does, at start and on each change")
    map_resolution_m: float = param(0.1, "resolution of /map (m; coarser for arenas over 250,000 cells)",
                                    range=(0.02, 1.0))

    def __post_init__(self):
        validate(self)
        if -1.0 < self.payload_kg < 0.0:
            raise ConfigError(f"SimNodeConfig.payload_kg: expected -1 (the scenario's payload) or kg in "
                              f"[0, 500], got {self.payload_kg!r}")
        if 0 < self.lidar_beams < 4 or 0.0 < self.lidar_fov_deg < 1.0 or 0.0 < self.lidar_range_max_m < 0.5:
            raise ConfigError(f"SimNodeConfig.lidar_*: expected lidar_beams 0 or >= 4, lidar_fov_deg 0 or >= 1, "
                              f"lidar_range_max_m 0 or >= 0.5, got {self.lidar_beams}, {self.lidar_fov_deg}, "
                              f"{self.lidar_range_max_m}")
        if 0 < self.camera_height < 8:
            raise ConfigError(f"SimNodeConfig.camera_height: expected 0 (from the robot camera's fields of view) "
                              f"or 8..512, got {self.camera_height}")
        if not self.scenario:
            raise ConfigError("SimNodeConfig.scenario: expected a scenario name or file, got ''")
        for name in ("map_offset", "odom_drift"):
            v = getattr(self, name)
            if len(v) != 3 or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                      and math.isfinite(x) and abs(x) <= 1e4 for x in v):
                raise ConfigError(f"SimNodeConfig.{name}: expected three finite numbers [x, y, yaw] "
                                  f"(|value| <= 1e4), got {v!r}")

    def map_frame_model(self):
        """The map frame, drift and localization noise as a sim.localization.MapFrame."""
        from world_model_planner.sim.localization import MapFrame

        return MapFrame(tuple(float(x) for x in self.map_offset), tuple(float(x) for x in self.odom_drift),
                        self.localization_noise_xy_m, self.localization_noise_yaw_rad)

    def lidar(self, robot: LidarSpec | None = None) -> LidarConfig:
        """The robot's lidar (``RobotSpec.lidar``; the generic one without), with the lidar_*
        parameters that are not 0 in place of its own values."""
        own = {k: v for k, v in (("beams", self.lidar_beams), ("fov_deg", self.lidar_fov_deg),
                                 ("range_max_m", self.lidar_range_max_m)) if v}
        return LidarConfig.of(robot or LidarSpec(), rate_hz=self.lidar_rate_hz, **own)

    def camera(self) -> CameraConfig | None:
        """The camera's size and rate (where it sits comes from the robot: RobotSpec.camera)."""
        if not self.camera_enabled:
            return None
        return CameraConfig(width=self.camera_width, height=self.camera_height, rate_hz=self.camera_rate_hz)
