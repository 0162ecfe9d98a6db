"""planner_node as a real process over real DDS: lifecycle, goal → commands, stale data → zero,
bad goals refused, checkpoint hot reload."""
from __future__ import annotations

import math
import threading
import time

import pytest
from world_model_planner.testing.processes import NodeProcess
from world_model_planner.testing.sensors import publish_goal, stamp, transition

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped, TwistStamped  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from nav_msgs.msg import Odometry, Path  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402
from std_msgs.msg import String  # noqa: E402

FAST = ["-p", "mppi.samples:=128", "-p", "torch_threads:=1", "-p", "device:=cpu",
        "-p", "diagnostics_rate_hz:=20.0"]


class FakeRobot:
    """Publishes /odom (20 Hz) and /scan (10 Hz) from the probe; ``age_s`` backdates stamps."""

    def __init__(self, probe):
        self.node = probe.node
        self.odom = self.node.create_publisher(Odometry, "/odom", 20)
        self.scan = self.node.create_publisher(LaserScan, "/scan", 10)
        self.age_s = 0.0
        self.stamps: list = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        k = 0
        while not self._stop:
            now = self.node.get_clock().now().nanoseconds * 1e-9 - self.age_s
            st = stamp(now)
            o = Odometry()
            o.header.stamp, o.header.frame_id, o.child_frame_id = st, "odom", "base_link"
            o.pose.pose.orientation.w = 1.0
            self.stamps.append((st.sec, st.nanosec))
            self.odom.publish(o)
            if k % 2 == 0:
                s = LaserScan()
                s.header.stamp, s.header.frame_id = st, "base_link"
                s.angle_min, s.angle_increment, s.range_max = -math.pi, 2 * math.pi / 180, 8.0
                s.ranges = [float("inf")] * 180
                self.scan.publish(s)
            k += 1
            time.sleep(0.05)

    def stop(self):
        self._stop = True
        if self._thread.is_alive():
            self._thread.join(2.0)


def _planner_state(msgs):
    for arr in reversed(msgs):
        for st in arr.status:
            if st.name == "planner":
                return {kv.key: kv.value for kv in st.values}
    return {}


def _start(node_env, tmp_path, extra=()):
    return NodeProcess.executable("planner_node", [*FAST, *extra], node_env, tmp_path)


def test_lifecycle_goal_in_commands_out_stamped_with_odom(node_env, probe, tmp_path):
    proc = _start(node_env, tmp_path)
    robot = FakeRobot(probe)
    try:
        probe.subscribe("/cmd_vel_nav", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray)
        probe.subscribe("/plan", Path)
        for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            assert transition(probe, "planner_node", tid), proc.log()
        robot.start()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub)
        publish_goal(probe, goal_pub, 3.0, 0.0)
        msgs = probe.wait_for("/cmd_vel_nav", lambda ms: any(m.twist.linear.x > 0.1 for m in ms),
                              timeout=30.0, proc=proc)
        stamps = set(robot.stamps)
        moving = [m for m in msgs if m.twist.linear.x > 0.1]
        assert all((m.header.stamp.sec, m.header.stamp.nanosec) in stamps for m in moving)
        assert all(m.header.frame_id == "base_link" for m in moving)
        probe.wait_for("/diagnostics", lambda ms: _planner_state(ms).get("state") == "planning", proc=proc)
        d = _planner_state(probe.received("/diagnostics"))
        assert float(d["plan_hz"]) > 0 and math.isfinite(float(d["best_cost"]))
        probe.wait_for("/plan", lambda ms: len(ms) > 0 and len(ms[-1].poses) > 2, proc=proc)
    finally:
        robot.stop()
        proc.stop()


def test_stale_odom_gives_zero_command_until_fresh(node_env, probe, tmp_path):
    proc = _start(node_env, tmp_path, ["-p", "autostart:=true", "-p", "max_sensor_age_s:=0.5"])
    robot = FakeRobot(probe)
    try:
        probe.subscribe("/cmd_vel_nav", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray)
        robot.start()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=30.0)
        publish_goal(probe, goal_pub, 3.0, 0.0)
        probe.wait_for("/cmd_vel_nav", lambda ms: any(m.twist.linear.x > 0.1 for m in ms), timeout=30.0, proc=proc)
        robot.age_s = 5.0                      # data arrives, but 5 s old
        probe.clear("/cmd_vel_nav")
        probe.wait_for("/diagnostics", lambda ms: _planner_state(ms).get("state") == "stopped", proc=proc)
        probe.clear("/cmd_vel_nav")
        zeros = probe.wait_for("/cmd_vel_nav", lambda ms: len(ms) >= 5, proc=proc)
        assert all(m.twist.linear.x == 0.0 and m.twist.angular.z == 0.0 for m in zeros)
        robot.age_s = 0.0
        probe.wait_for("/cmd_vel_nav", lambda ms: any(m.twist.linear.x > 0.05 for m in ms), proc=proc)
        robot.stop()
        probe.clear("/cmd_vel_nav")            # /odom stops altogether: the watchdog stops the robot
        last = probe.wait_for("/cmd_vel_nav", lambda ms: len(ms) > 0 and ms[-1].twist.linear.x == 0.0, proc=proc)
        assert last[-1].twist.angular.z == 0.0
    finally:
        robot.stop()
        proc.stop()


def test_bad_goals_refused_with_log_line(node_env, probe, tmp_path):
    proc = _start(node_env, tmp_path, ["-p", "autostart:=true", "-p", "max_goal_distance_m:=10.0"])
    robot = FakeRobot(probe)
    try:
        probe.subscribe("/diagnostics", DiagnosticArray)
        robot.start()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=30.0)
        for bad, words in (((float("nan"), 0.0), "non-finite"), ((500.0, 0.0), "outside the known area"),
                           ((12.0, 0.0), "max_goal_distance_m")):
            publish_goal(probe, goal_pub, 1.0, 0.0)
            probe.wait_for("/diagnostics", lambda ms: _planner_state(ms).get("state") == "planning", proc=proc)
            publish_goal(probe, goal_pub, *bad)
            probe.wait_for("/diagnostics", lambda ms: _planner_state(ms).get("state") == "refused", proc=proc)
            assert words in _planner_state(probe.received("/diagnostics"))["reason"]
        deadline = time.monotonic() + 5.0
        while "goal refused" not in proc.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = proc.log()
        assert "goal refused" in log and "non-finite" in log and "outside the known area" in log
    finally:
        robot.stop()
        proc.stop()


def test_checkpoint_hot_reload_keeps_control(node_env, probe, tmp_path):
    torch = pytest.importorskip("torch")
    from world_model_planner.world_model_node.checkpoint import save_checkpoint
    from world_model_planner.world_model_node.model import WorldModel

    torch.manual_seed(0)
    allowed = tmp_path / "ckpts"
    allowed.mkdir()
    ckpt = allowed / "fresh.pt"
    save_checkpoint(str(ckpt), WorldModel())
    outside = tmp_path / "outside.pt"
    save_checkpoint(str(outside), WorldModel())
    proc = _start(node_env, tmp_path, ["-p", "autostart:=true", "-p", "planner:=flat",
                                       "-p", f"checkpoint_dirs:={allowed}"])
    robot = FakeRobot(probe)
    try:
        probe.subscribe("/cmd_vel_nav", TwistStamped)
        robot.start()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=30.0)
        publish_goal(probe, goal_pub, 3.0, 0.0)
        probe.wait_for("/cmd_vel_nav", lambda ms: len(ms) > 3, timeout=30.0, proc=proc)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        ann = probe.node.create_publisher(String, "/world_model/checkpoint", latched)
        # outside the allowed directory, directly, through '..' and through a symlink: refused,
        # logged with the path and the sender, nothing loaded
        (allowed / "link.pt").symlink_to(outside)
        for bad in (outside, f"{allowed}/../outside.pt", allowed / "link.pt"):
            time.sleep(1.1)                               # the refusal log is throttled to 1/s
            ann.publish(String(data=str(bad)))
            deadline = time.monotonic() + 20.0
            while f"refused: '{bad}'" not in proc.log():
                assert time.monotonic() < deadline, proc.log()
                time.sleep(0.05)
        # the sender comes from the message's publisher GID; where this rclpy gives none (the Jazzy
        # wheels), the log says so instead of naming a node
        assert ("by node /test_probe" in proc.log()
                or "by an unknown sender (this rclpy gives no publisher GID)" in proc.log()), proc.log()
        assert "hot-reloaded" not in proc.log()
        ann.publish(String(data=str(ckpt)))
        deadline = time.monotonic() + 30.0
        while "hot-reloaded" not in proc.log():
            assert time.monotonic() < deadline, proc.log()
            assert proc.alive(), proc.log()
            time.sleep(0.05)
        probe.clear("/cmd_vel_nav")
        probe.wait_for("/cmd_vel_nav", lambda ms: len(ms) > 5, proc=proc)   # still commanding
        ann.publish(String(data=str(allowed / "missing.pt")))
        deadline = time.monotonic() + 30.0
        while "not loaded, keeping the current model" not in proc.log():
            assert time.monotonic() < deadline, proc.log()
            time.sleep(0.05)
        probe.clear("/cmd_vel_nav")
        probe.wait_for("/cmd_vel_nav", lambda ms: len(ms) > 5, proc=proc)
    finally:
        robot.stop()
        proc.stop()
