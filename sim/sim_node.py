"""sim_node: the PyBullet world as a ROS 2 robot (thin: parameters and messages → SimWorld).

Publishes /clock, /odom, /scan, /camera/image_raw and /camera/depth/image_raw (32FC1 metres, from
the same render; both when the camera is enabled), /tf (where tf2_msgs exists), /diagnostics, map
(the scenario as an OccupancyGrid in ``map_frame``, transient local) and localization_pose
(PoseWithCovarianceStamped in ``map_frame``, with ``localization_rate_hz``;
map → odom is ``map_offset`` and the odometry drift, see sim/localization.py), and, when the
scenario has movers, sim/movers (their ground-truth footprints, MarkerArray in ``odom_frame``,
with ``movers_rate_hz``). Subscribes /cmd_vel (TwistStamped, or Twist with
``cmd_vel_stamped: false``) and /estop (std_msgs/Bool, latched until false).
Services ~/reset (std_srvs/Trigger, re-reads ``scenario``, ``seed`` and ``perturb``),
~/pause (SetBool). With ``start_paused`` no time passes until ~/pause false; while paused the
last observation is re-sent every REPUBLISH_S wall seconds (same stamps), so late joiners see it.

``payload_kg`` changes the mass on the base mid-episode (set_parameters); -1 is the scenario's.

Parameters (SimNodeConfig) are validated at start-up (a bad value or an unknown key in a params
file: one line, exit 2). At runtime a SetParameters request is applied or refused, never
acknowledged and ignored: ``scenario`` (validated when set), ``seed`` and ``perturb`` apply at
the next ~/reset; ``payload_kg``, rates, timeouts, frames and the lidar/camera geometry apply at once; the
parameters in STARTUP_ONLY are refused with the reason. A ~/reset whose scenario file is bad
(malformed, too large, an alias bomb, out of range) is refused with the reason and the running
episode goes on.

Topic names are relative (odom, scan, camera/image_raw, cmd_vel, estop), so a namespace
moves them; /clock, /tf and /diagnostics stay global.

Each tick publishes /clock, /scan and /camera (when due), then /odom last, so a controller
triggered by /odom already has that tick's scan. In lockstep mode the next control period
is simulated only once a command stamped for the last /odom arrived (or after
``lockstep_timeout_s`` wall seconds, with a zero command and a warning).
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseWithCovarianceStamped, Twist, TwistStamped
from nav_msgs.msg import OccupancyGrid, Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, LaserScan
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger
from visualization_msgs.msg import MarkerArray

from world_model_planner.core import diagnostics as diag
from world_model_planner.core.rosconv import depth_msg, image_msg, sec_to_stamp, stamp_to_sec
from world_model_planner.core.rosutil import READ_AT_STARTUP, LiveConfig, check_unknown_parameters, spin_main
from world_model_planner.core.safeio import InputError, clip

from world_model_planner.sim import sim_msgs
from world_model_planner.sim.localization import scenario_map
from world_model_planner.sim.node_config import SimNodeConfig
from world_model_planner.sim.robots import ROBOTS
from world_model_planner.sim.scenario import load_scenario
from world_model_planner.sim.world import SimWorld


#: Lockstep: re-send the waiting observation this often (wall s) until a command arrives.
REPUBLISH_S = 0.25
#: Parameters that shape publishers, subscriptions, the main loop or the GUI window.
STARTUP_ONLY = ("gui", "start_paused", "lockstep", "cmd_vel_stamped", "camera_enabled", "publish_tf",
                "publish_map")
#: Parameters whose change rebuilds the sensors (at once).
SENSOR_PARAMS = ("lidar_beams", "lidar_fov_deg", "lidar_range_max_m", "camera_width", "camera_height",
                 "camera_rate_hz", "lidar_rate_hz")


class SimNode(Node):
    def __init__(self):
        super().__init__("sim_node")
        self.live = LiveConfig(self, {"": SimNodeConfig}, apply=self._apply_params)
        check_unknown_parameters(self)
        c = self.cfg
        sc = load_scenario(c.scenario, robot=c.robot or None)
        self.world = SimWorld(sc, seed=c.seed, lidar=c.lidar(ROBOTS[sc.robot].lidar),
                              camera=c.camera(), gui=c.gui, perturb=c.perturb)
        self.pub_clock = self.create_publisher(Clock, "/clock", 10)
        self.pub_odom = self.create_publisher(Odometry, "odom", 10)
        self.pub_scan = self.create_publisher(LaserScan, "scan", 10)
        self.pub_image = self.create_publisher(Image, "camera/image_raw", 10) if c.camera_enabled else None
        self.pub_depth = self.create_publisher(Image, "camera/depth/image_raw", 10) if c.camera_enabled else None
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub_map = self.create_publisher(OccupancyGrid, "map", latched) if c.publish_map else None
        self.pub_loc = self.create_publisher(PoseWithCovarianceStamped, "localization_pose", 10)
        self.pub_movers = self.create_publisher(MarkerArray, "sim/movers", 10)
        self._map_due = True
        self.pub_tf = None
        if c.publish_tf:
            try:
                from tf2_msgs.msg import TFMessage

                self.pub_tf = self.create_publisher(TFMessage, "/tf", 10)
            except ImportError:
                self.get_logger().info("tf2_msgs is not importable: /tf is not published "
                                       "(odom→base_link is still on /odom)")
        self.create_subscription(TwistStamped if c.cmd_vel_stamped else Twist, "cmd_vel", self._on_cmd, 10)
        self.create_subscription(Bool, "estop", self._on_estop, 10)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(SetBool, "~/pause", self._on_pause)
        self.estop = False
        self.paused = bool(c.start_paused)
        self.lockstep_timeouts = 0
        self._last_obs: list = []
        self._movers_shown = False
        self._warned: dict[str, float] = {}
        self._rtf_window: list[tuple[float, float]] = []
        self._start_episode()
        self.get_logger().info(
            f"scenario {self.world.scenario.name} ({self.world.scenario.source}), seed {c.seed}, "
            f"mode {'lockstep' if c.lockstep else f'real time x{c.realtime_factor:g}'}, "
            f"control period {c.control_period_s:g} s, cmd_vel "
            f"{'TwistStamped' if c.cmd_vel_stamped else 'Twist'}")

    @property
    def cfg(self) -> SimNodeConfig:
        """The parameters in force (LiveConfig keeps them in step with SetParameters)."""
        return self.live[""]

    def _apply_params(self, new: dict, changed: list[str]) -> str | None:
        """LiveConfig's apply: None = applied (or scheduled for ~/reset), a string = refused."""
        cfg = new[""]
        fixed = [n for n in changed if n in STARTUP_ONLY]
        if fixed:
            return f"{', '.join(fixed)}: {READ_AT_STARTUP}"
        if "scenario" in changed or "robot" in changed:
            try:
                load_scenario(cfg.scenario, robot=cfg.robot or None)  # refuse now; ~/reset reads it again
            except InputError as exc:
                return str(exc)
        if any(n in SENSOR_PARAMS for n in changed):
            self.world.set_sensors(cfg.lidar(self.world.spec.lidar), cfg.camera())
        if "payload_kg" in changed:
            self._apply_payload(cfg.payload_kg)
        if any(n in ("map_frame", "map_offset", "map_resolution_m") for n in changed):
            self._map_due = True                 # /map again with the next observation
        return None

    def _apply_payload(self, kg: float) -> None:
        """The payload parameter on the running world (-1: the scenario's payload_kg)."""
        kg = self.world.scenario.payload_kg if kg < 0 else kg
        if kg != self.world.payload_kg:
            self.world.set_payload(kg)
            self.get_logger().info(f"payload {kg:g} kg")

    # ------------------------------------------------------------------ episode state
    def _start_episode(self) -> None:
        self._apply_payload(self.cfg.payload_kg)
        self.cmd = (0.0, 0.0)
        self.cmd_sim_time = -math.inf       # sim time the last command arrived
        self.cmd_fresh = False              # lockstep: a command for the current tick arrived
        self.next_scan_s = 0.0
        self.next_image_s = 0.0
        self.next_diag_s = 0.0
        self.next_loc_s = 0.0
        self.next_movers_s = 0.0
        self._loc_rng = np.random.default_rng(self.world.seed + 7919)   # apart from the world's draws
        self._map_due = True
        self._rtf_window.clear()
        self.publish_observation()

    # ------------------------------------------------------------------ callbacks
    def _on_cmd(self, msg) -> None:
        tw = msg.twist if self.cfg.cmd_vel_stamped else msg
        v, w = tw.linear.x, tw.angular.z
        t = self.world.sim_time_s
        if self.cfg.lockstep and self.cfg.cmd_vel_stamped and stamp_to_sec(msg.header.stamp) < t - 1e-6:
            return  # a command for an earlier tick
        if not (math.isfinite(v) and math.isfinite(w)):
            self._warn_every(1.0, "nan", f"rejected non-finite /cmd_vel (v={v}, w={w}): stopping")
            v, w = 0.0, 0.0
        self.cmd = (v, w)
        self.cmd_sim_time = t
        self.cmd_fresh = True

    def _warn_every(self, period_s: float, key: str, text: str) -> None:
        """A throttled warning (rclpy's own throttle misbehaves on some versions)."""
        now = time.monotonic()
        if now - self._warned.get(key, -math.inf) >= period_s:
            self._warned[key] = now
            self.get_logger().warn(text)

    def _on_estop(self, msg: Bool) -> None:
        if bool(msg.data) != self.estop:
            self.get_logger().warn("E-STOP engaged: robot stopped" if msg.data else "e-stop released")
        self.estop = bool(msg.data)

    def _on_reset(self, request, response):
        """Re-read the scenario file (its current content), ``seed`` and ``perturb``; restart.

        Whatever the file holds, a failure refuses the reset with the reason and leaves the
        running episode as it was; the node never dies here."""
        c = self.cfg
        try:
            sc = load_scenario(c.scenario, robot=c.robot or None)
            if sc == self.world.scenario:
                self.world.perturb = c.perturb
                self.world.reset(c.seed)
            else:
                self._replace_world(sc)
        except InputError as exc:
            return self._refuse_reset(response, str(exc))
        except Exception as exc:  # noqa: BLE001 - PyBullet failing to build a world must not kill the node
            return self._refuse_reset(response, f"{type(exc).__name__}: {clip(str(exc), 200)}")
        self._start_episode()
        response.success = True
        response.message = f"reset {self.world.scenario.name} with seed {self.world.seed}"
        self.get_logger().info(response.message)
        return response

    def _refuse_reset(self, response, reason: str):
        response.success, response.message = False, f"reset refused: {reason}"
        self.get_logger().warning(f"{response.message} (the running episode goes on)")
        return response

    def _replace_world(self, sc) -> None:
        """Build the new scenario's world, then drop the old one (kept if building fails)."""
        c = self.cfg
        old = self.world
        if c.gui:          # PyBullet allows one GUI client: close first, rebuild the old on failure
            old_scenario = old.scenario
            old.close()
            try:
                self.world = SimWorld(sc, seed=c.seed, lidar=c.lidar(ROBOTS[sc.robot].lidar), camera=c.camera(),
                                      gui=True, perturb=c.perturb)
            except Exception:
                self.world = SimWorld(old_scenario, seed=old.seed, lidar=old.lidar_cfg,
                                      camera=old.camera_cfg, gui=True, perturb=old.perturb)
                raise
            return
        self.world = SimWorld(sc, seed=c.seed, lidar=c.lidar(ROBOTS[sc.robot].lidar), camera=c.camera(),
                              gui=False, perturb=c.perturb)
        old.close()

    def _on_pause(self, request, response):
        self.paused = bool(request.data)
        response.success, response.message = True, "paused" if self.paused else "running"
        return response

    # ------------------------------------------------------------------ stepping
    def command_now(self) -> tuple[float, float]:
        """The command to simulate next: zero under e-stop or when the command is stale."""
        if self.estop:
            return 0.0, 0.0
        if self.cfg.lockstep:
            return self.cmd if self.cmd_fresh else (0.0, 0.0)
        if self.world.sim_time_s - self.cmd_sim_time > self.cfg.cmd_timeout_s:
            return 0.0, 0.0
        return self.cmd

    def tick(self) -> None:
        """Simulate one control period with the current command and publish what is due."""
        v, w = self.command_now()
        self.world.step(v, w, self.cfg.control_period_s)
        self.cmd_fresh = False
        if self.cfg.gui:
            self.world.follow_camera()
        self._rtf_window.append((time.monotonic(), self.world.sim_time_s))
        if len(self._rtf_window) > 40:
            self._rtf_window.pop(0)
        self.publish_observation()

    def publish_observation(self) -> None:
        """Publish what is due at the current sim time; /odom last."""
        w, c, t = self.world, self.cfg, self.world.sim_time_s
        out = [(self.pub_clock, sim_msgs.clock_msg(t))]
        if t >= self.next_scan_s - 1e-9:
            out.append((self.pub_scan, sim_msgs.scan_msg(t, w.scan(), w.lidar_cfg, c.base_frame)))
            self.next_scan_s += 1.0 / c.lidar_rate_hz
        if self.pub_image is not None and t >= self.next_image_s - 1e-9:
            rgb, depth = w.rgbd()                          # one render: the RGB-D camera's pair
            out.append((self.pub_image, image_msg(t, rgb, "camera")))
            out.append((self.pub_depth, depth_msg(t, depth, "camera")))
            self.next_image_s += 1.0 / c.camera_rate_hz
        mf = c.map_frame_model()
        if self.pub_map is not None and self._map_due:
            data, res, origin = scenario_map(w.scenario, mf.offset, c.map_resolution_m)
            out.append((self.pub_map, sim_msgs.map_msg(t, data, res, origin, c.map_frame)))
            self._map_due = False
        if c.localization_rate_hz > 0 and t >= self.next_loc_s - 1e-9:
            out.append((self.pub_loc, sim_msgs.localization_msg(
                t, mf.map_pose(w.true_pose(), self._loc_rng), c.map_frame, mf.noise_xy_m, mf.noise_yaw_rad)))
            self.next_loc_s = max(self.next_loc_s + 1.0 / c.localization_rate_hz, t)
        if c.movers_rate_hz > 0 and (w.movers.specs or self._movers_shown) and t >= self.next_movers_s - 1e-9:
            poses = [mf.odom_pose(q, t) for q in w.movers.poses()]   # the frame /odom is in
            out.append((self.pub_movers, sim_msgs.movers_msg(t, w.movers.specs, poses, c.odom_frame)))
            self.next_movers_s = max(self.next_movers_s + 1.0 / c.movers_rate_hz, t)
            self._movers_shown = bool(w.movers.specs)   # a reset to none sends one DELETEALL
        pose = mf.odom_pose(w.pose(), t)
        if self.pub_tf is not None:
            tf = sim_msgs.tf_msg(t, pose, c.odom_frame, c.base_frame)
            if c.localization_rate_hz > 0:
                tf.transforms.append(sim_msgs.map_tf(t, mf.map_to_odom(t), c.map_frame, c.odom_frame))
            out.append((self.pub_tf, tf))
        if t >= self.next_diag_s - 1e-9:
            out.append((self.pub_diag, diag.build(
                diag.SIM, self.diagnostics(), sec_to_stamp(t), diag.WARN if w.in_contact else diag.OK,
                "in contact" if w.in_contact else "ok", hardware_id="pybullet")))
            self.next_diag_s += 1.0 / c.diagnostics_rate_hz
        out.append((self.pub_odom, sim_msgs.odom_msg(t, pose, w.velocity(), c.odom_frame, c.base_frame)))
        for pub, msg in out:
            pub.publish(msg)
        self._last_obs = out

    def republish_observation(self) -> None:
        """Lockstep: send the current observation again (a controller may have joined late)."""
        for pub, msg in self._last_obs:
            pub.publish(msg)

    def measured_rtf(self) -> float:
        if len(self._rtf_window) < 2:
            return 0.0
        (w0, s0), (w1, s1) = self._rtf_window[0], self._rtf_window[-1]
        return (s1 - s0) / (w1 - w0) if w1 > w0 else 0.0

    def diagnostics(self) -> dict:
        w = self.world
        k = diag.SIM
        return {k.collisions: w.collision_count, k.in_contact: w.in_contact,
                k.clearance_m: w.clearance_m(), k.realtime_factor: self.measured_rtf(),
                k.sim_time_s: w.sim_time_s, k.goal_reached: w.goal_reached(),
                k.scenario: w.scenario.name, k.estop: self.estop, k.paused: self.paused,
                k.seed: w.seed, k.lockstep_timeouts: self.lockstep_timeouts}

    # ------------------------------------------------------------------ main loops
    def run(self, executor) -> None:
        """Run until shutdown, in lockstep or real-time mode."""
        if self.cfg.lockstep:
            self._run_lockstep(executor)
        else:
            self._run_realtime(executor)

    def _run_lockstep(self, executor) -> None:
        while rclpy.ok(context=self.context):
            if self.paused:
                executor.spin_once(timeout_sec=0.1)
                continue
            start = time.monotonic()
            deadline = start + self.cfg.lockstep_timeout_s
            next_repeat = start + REPUBLISH_S
            while not self.cmd_fresh and not self.paused and rclpy.ok(context=self.context):
                now = time.monotonic()
                if now >= deadline:
                    self.lockstep_timeouts += 1
                    self._warn_every(5.0, "lockstep",
                                     f"lockstep: no /cmd_vel for t={self.world.sim_time_s:.2f} s within "
                                     f"{self.cfg.lockstep_timeout_s:g} s: stepping with zero "
                                     f"({self.lockstep_timeouts} so far)")
                    break
                if now >= next_repeat:
                    self.republish_observation()
                    next_repeat = now + REPUBLISH_S
                executor.spin_once(timeout_sec=min(deadline, next_repeat) - now)
            if not self.paused and rclpy.ok(context=self.context):
                self.tick()

    def _run_realtime(self, executor) -> None:
        period = self.cfg.control_period_s / self.cfg.realtime_factor
        next_wall = time.monotonic() + period
        self._last_repeat = -math.inf
        while rclpy.ok(context=self.context):
            period = self.cfg.control_period_s / self.cfg.realtime_factor   # both live parameters
            now = time.monotonic()
            if now < next_wall:
                executor.spin_once(timeout_sec=next_wall - now)
                continue
            if not self.paused:
                self.tick()
            elif now - self._last_repeat >= REPUBLISH_S:
                self.republish_observation()
                self._last_repeat = now
            next_wall += period
            if time.monotonic() - next_wall > 5 * period:  # too slow: do not try to catch up
                next_wall = time.monotonic() + period

    def destroy_node(self):
        world = getattr(self, "world", None)       # absent when __init__ failed
        if world is not None:
            world.close()
        return super().destroy_node()


def main(args=None) -> int:
    def run(node: SimNode) -> None:
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        node.run(executor)

    # a bad parameter, unknown key or bad scenario: one line, exit 2
    return spin_main(SimNode, args, run=run, errors=(InputError,), label="sim_node: ")


if __name__ == "__main__":
    sys.exit(main())
