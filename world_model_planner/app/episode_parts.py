"""The parts an episode runner is built from, each on one shared in-process rclpy node:
the node and its spin thread, /odom samples, /diagnostics read by typed keys, the goal sender,
and a stack-aware wait. :mod:`world_model_planner.app.episode` and
:mod:`world_model_planner.app.session` put them together."""
from __future__ import annotations

import threading
import time
from typing import Callable

from world_model_planner.app.launcher import Stack, StackError
from world_model_planner.core import diagnostics as diag
from world_model_planner.core import metrics
from world_model_planner.core.rosconv import image_msg, odom_arrays


class EpisodeNode:
    """An in-process rclpy node in its own context on ``domain_id``, spun by a background
    thread. The parts below hang their subscriptions and clients on ``node``."""

    def __init__(self, domain_id: int):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self._stop = False
        self._thread = threading.Thread(target=self._spin, daemon=True)
        try:
            self.node = rclpy.create_node(f"wmp_episode_monitor_{domain_id}", context=self.context)
            self.executor = SingleThreadedExecutor(context=self.context)
            self.executor.add_node(self.node)
            self._thread.start()
        except BaseException:   # Ctrl-C while coming up: no spinning thread or live context is left
            self._stop = True   # behind (at exit they abort the interpreter: "terminate called")
            if self._thread.is_alive():
                self._thread.join(2.0)
            rclpy.try_shutdown(context=self.context)
            raise

    def _spin(self):
        while not self._stop and self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: BLE001 - context shut down under us
                if self._stop:
                    return
                raise

    def close(self) -> None:
        import rclpy

        self._stop = True
        self._thread.join(2.0)
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _best_effort():
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    return QoSProfile(depth=200, reliability=ReliabilityPolicy.BEST_EFFORT)


class OdomTrack:
    """/odom as (t_s, x, y, yaw) samples: only the latest until ``recording``, then all."""

    def __init__(self, node):
        from nav_msgs.msg import Odometry

        self._lock = threading.Lock()
        self.samples: list[tuple[float, float, float, float]] = []
        self.wall = 0.0          # time.monotonic() of the last sample
        self.recording = False
        node.create_subscription(Odometry, "/odom", self._on_odom, _best_effort())

    def _on_odom(self, msg) -> None:
        t, pose, _ = odom_arrays(msg)
        sample = (t, float(pose[0]), float(pose[1]), float(pose[2]))
        with self._lock:
            if self.recording or not self.samples:
                self.samples.append(sample)
            else:
                self.samples[-1] = sample
            self.wall = time.monotonic()

    def start_recording(self) -> float:
        """Keep every sample from now on, starting with the latest; returns its time."""
        with self._lock:
            self.recording = True
            self.samples = self.samples[-1:]
            return self.samples[0][0]

    def last(self) -> tuple[float, float, float, float] | None:
        with self._lock:
            return self.samples[-1] if self.samples else None

    def trajectory(self, t0: float) -> list[tuple[float, float, float, float]]:
        with self._lock:
            return [(round(t - t0, 3), round(x, 4), round(y, 4), round(th, 4))
                    for t, x, y, th in self.samples]


class DiagnosticsReader:
    """/diagnostics of the sim and the planner, read with the typed keys of
    :mod:`world_model_planner.core.diagnostics`. While ``recording`` it also collects the sim's
    clearances and the planner's rate while planning."""

    def __init__(self, node):
        from diagnostic_msgs.msg import DiagnosticArray

        self._lock = threading.Lock()
        self.sim: dict[str, str] = {}
        self.planner: dict[str, str] = {}
        self.clearances: list[float] = []
        self.plan_hz: list[float] = []
        self.recording = False
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, _best_effort())

    def _on_diag(self, msg) -> None:
        for role, values in diag.statuses(msg):
            with self._lock:
                if role in diag.SIM.aliases:
                    self.sim = values
                    c = diag.SIM.clearance_m.read(values)
                    if self.recording and c is not None:
                        self.clearances.append(c)
                elif role in diag.PLANNER.aliases:
                    self.planner = values
                    hz = diag.PLANNER.plan_hz.read(values)
                    if self.recording and hz is not None and hz > 0 and \
                            diag.PLANNER.state.read(values) == "planning":
                        self.plan_hz.append(hz)

    def planner_state(self) -> str:
        with self._lock:
            return diag.PLANNER.state.read(self.planner) or ""

    def collisions(self) -> int:
        with self._lock:
            return diag.SIM.collisions.read(self.sim) or 0

    def recoveries(self) -> list[dict]:
        """[{t, kind, outcome}] from the planner's latest recovery log (t in the planner's clock)."""
        from world_model_planner.planner_node.recovery import parse_log

        with self._lock:
            return parse_log(diag.PLANNER.recovery_log.read(self.planner) or "")

    def min_clearance_m(self) -> float | None:
        with self._lock:
            return min(self.clearances) if self.clearances else diag.SIM.clearance_m.read(self.sim)

    def plan_hz_median(self) -> float | None:
        with self._lock:
            hz = metrics.median_or_none(self.plan_hz)
            return diag.PLANNER.plan_hz.read(self.planner) if hz is None else hz


class GoalSender:
    """/goal_pose (frame odom, stamped with the sim time of the latest /odom)."""

    def __init__(self, node):
        from geometry_msgs.msg import PoseStamped

        self._msg = PoseStamped
        self.pub = node.create_publisher(PoseStamped, "/goal_pose", 10)

    def subscribers(self) -> int:
        return self.pub.get_subscription_count()

    def send(self, x: float, y: float, t_s: float, frame: str = "odom") -> None:
        msg = self._msg()
        msg.header.frame_id = frame
        msg.header.stamp.sec = int(t_s)
        msg.header.stamp.nanosec = int(round((t_s - int(t_s)) * 1e9)) % 1_000_000_000
        msg.pose.position.x, msg.pose.position.y = float(x), float(y)
        msg.pose.orientation.w = 1.0
        self.pub.publish(msg)


class GoalImageSender:
    """/goal_image: a goal picture (H, W, 3) uint8 RGB as sensor_msgs/Image rgb8, stamped with
    the sim time of the latest /odom. The scenario's goal pose stays the success test."""

    def __init__(self, node, rgb):
        from sensor_msgs.msg import Image

        self.pub = node.create_publisher(Image, "/goal_image", 1)
        self.rgb = rgb

    def subscribers(self) -> int:
        return self.pub.get_subscription_count()

    def send(self, t_s: float) -> None:
        self.pub.publish(image_msg(t_s, self.rgb, "camera"))


def wait_for(stack: Stack, cond: Callable[[], bool], deadline: float, what: str,
             poll_s: float = 0.02) -> None:
    """Poll ``cond`` until true; raise StackError when a process died or ``deadline`` passed."""
    while not cond():
        stack.check()
        if time.monotonic() > deadline:
            raise StackError(f"timed out waiting for {what}; node logs in {stack.log_dir}")
        time.sleep(poll_s)
