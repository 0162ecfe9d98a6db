"""sim_node: the PyBullet world as a ROS 2 robot (thin: parameters and messages → SimWorld).

Publishes /clock, /odom, /scan, /camera/image_raw (when enabled), /tf (where tf2_msgs
exists), /diagnostics. Subscribes /cmd_vel (TwistStamped, or Twist with
``cmd_vel_stamped: false``) and /estop (std_msgs/Bool, latched until false).
Services ~/reset (std_srvs/Trigger, re-reads ``scenario`` and ``seed``), ~/pause (SetBool).

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

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, LaserScan
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger

from world_model_planner.params import ConfigError
from world_model_planner.rosutil import declare_config, stamp_to_sec

from . import sim_msgs
from .node_config import SimNodeConfig
from .scenario import ScenarioError, load_scenario
from .world import SimWorld


#: Lockstep: re-send the waiting observation this often (wall s) until a command arrives.
REPUBLISH_S = 0.25


class SimNode(Node):
    def __init__(self):
        super().__init__("sim_node")
        self.cfg = declare_config(self, SimNodeConfig)
        self.world = SimWorld(load_scenario(self.cfg.scenario), seed=self.cfg.seed,
                              lidar=self.cfg.lidar(), camera=self.cfg.camera(), gui=self.cfg.gui,
                              perturb=self.cfg.perturb)
        c = self.cfg
        self.pub_clock = self.create_publisher(Clock, "/clock", 10)
        self.pub_odom = self.create_publisher(Odometry, "odom", 10)
        self.pub_scan = self.create_publisher(LaserScan, "scan", 10)
        self.pub_image = self.create_publisher(Image, "camera/image_raw", 10) if c.camera_enabled else None
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
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
        self.paused = False
        self.lockstep_timeouts = 0
        self._last_obs: list = []
        self._warned: dict[str, float] = {}
        self._rtf_window: list[tuple[float, float]] = []
        self._start_episode()
        self.get_logger().info(
            f"scenario {self.world.scenario.name} ({self.world.scenario.source}), seed {c.seed}, "
            f"mode {'lockstep' if c.lockstep else f'real time x{c.realtime_factor:g}'}, "
            f"control period {c.control_period_s:g} s, cmd_vel "
            f"{'TwistStamped' if c.cmd_vel_stamped else 'Twist'}")

    # ------------------------------------------------------------------ episode state
    def _start_episode(self) -> None:
        self.cmd = (0.0, 0.0)
        self.cmd_sim_time = -math.inf       # sim time the last command arrived
        self.cmd_fresh = False              # lockstep: a command for the current tick arrived
        self.next_scan_s = 0.0
        self.next_image_s = 0.0
        self.next_diag_s = 0.0
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
        try:
            scenario = self.get_parameter("scenario").value
            seed = int(self.get_parameter("seed").value)
            if scenario != self.cfg.scenario:
                sc = load_scenario(scenario)
                self.world.close()
                self.world = SimWorld(sc, seed=seed, lidar=self.cfg.lidar(), camera=self.cfg.camera(),
                                      gui=self.cfg.gui, perturb=self.cfg.perturb)
                self.cfg.scenario = scenario
            else:
                self.world.reset(seed)
        except (ScenarioError, ValueError) as exc:
            response.success, response.message = False, f"reset refused: {exc}"
            return response
        self.cfg.seed = seed
        self._start_episode()
        response.success = True
        response.message = f"reset {self.world.scenario.name} with seed {seed}"
        self.get_logger().info(response.message)
        return response

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
        if self.world.sim_time_s - self.cmd_sim_time > self.cfg.cmd_timeout:
            return 0.0, 0.0
        return self.cmd

    def tick(self) -> None:
        """Simulate one control period with the current command and publish what is due."""
        v, w = self.command_now()
        self.world.step(v, w, self.cfg.control_period_s)
        self.cmd_fresh = False
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
            out.append((self.pub_image, sim_msgs.image_msg(t, w.image(), "camera")))
            self.next_image_s += 1.0 / c.camera_rate_hz
        pose = w.pose()
        if self.pub_tf is not None:
            out.append((self.pub_tf, sim_msgs.tf_msg(t, pose, c.odom_frame, c.base_frame)))
        if t >= self.next_diag_s - 1e-9:
            out.append((self.pub_diag, sim_msgs.diagnostics_msg(t, self.diagnostics(), w.in_contact)))
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
        return {"collisions": w.collision_count, "in_contact": w.in_contact,
                "clearance_m": w.clearance_m(), "realtime_factor": self.measured_rtf(),
                "sim_time_s": w.sim_time_s, "goal_reached": w.goal_reached(),
                "scenario": w.scenario.name, "estop": self.estop, "paused": self.paused,
                "seed": self.cfg.seed, "lockstep_timeouts": self.lockstep_timeouts}

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
        while rclpy.ok(context=self.context):
            now = time.monotonic()
            if now < next_wall:
                executor.spin_once(timeout_sec=next_wall - now)
                continue
            if not self.paused:
                self.tick()
            next_wall += period
            if time.monotonic() - next_wall > 5 * period:  # too slow: do not try to catch up
                next_wall = time.monotonic() + period

    def destroy_node(self):
        self.world.close()
        return super().destroy_node()


def main(args=None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    node, status = None, 0
    try:
        node = SimNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        node.run(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ConfigError, ScenarioError) as exc:
        print(f"[error] sim_node: {exc}", file=sys.stderr)
        status = 2
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
