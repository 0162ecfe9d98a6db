"""planner_node as a real process with planner:=classic_id: it loads the shipped sysid fit,
plans and commands over real DDS (the model named in /diagnostics); a bad sysid_path fails
configure with a log line naming the file and the field."""
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
from nav_msgs.msg import Odometry  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402

FAST = ["-p", "mppi.samples:=128", "-p", "torch_threads:=1", "-p", "device:=cpu", "-p", "planner:=classic_id",
        "-p", "diagnostics_rate_hz:=20.0"]


def _feed(probe, stop: threading.Event):
    """/odom at 20 Hz and /scan at 10 Hz (a post 2 m ahead, left of the path) until ``stop``."""
    odom = probe.node.create_publisher(Odometry, "/odom", 20)
    scan = probe.node.create_publisher(LaserScan, "/scan", 10)
    k = 0
    while not stop.is_set():
        st = stamp(probe.node.get_clock().now().nanoseconds * 1e-9)
        o = Odometry()
        o.header.stamp, o.header.frame_id, o.child_frame_id = st, "odom", "base_link"
        o.pose.pose.orientation.w = 1.0
        odom.publish(o)
        if k % 2 == 0:
            s = LaserScan()
            s.header.stamp, s.header.frame_id = st, "base_link"
            s.angle_min, s.angle_increment, s.range_max = -math.pi, 2 * math.pi / 180, 8.0
            ranges = [float("inf")] * 180
            for i in range(92, 96):
                ranges[i] = 2.0
            s.ranges = ranges
            scan.publish(s)
        k += 1
        time.sleep(0.05)


def _change(probe, tid) -> bool:
    return transition(probe, "planner_node", tid)


@pytest.mark.slow
def test_classic_id_plans_with_the_shipped_fit(node_env, probe, tmp_path):
    proc = NodeProcess.executable("planner_node", FAST, node_env, tmp_path)
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(probe, stop), daemon=True)
    try:
        probe.subscribe("/cmd_vel_nav", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray)
        for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            assert _change(probe, tid), proc.log()
        feeder.start()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub)
        publish_goal(probe, goal_pub, 3.0, 0.0)
        probe.wait_for("/cmd_vel_nav", lambda ms: any(m.twist.linear.x > 0.1 for m in ms), timeout=30.0, proc=proc)
        assert "identified lag + delay" in proc.log(), proc.log()
        assert "Traceback" not in proc.log(), proc.log()
    finally:
        stop.set()
        if feeder.is_alive():
            feeder.join(2.0)
        proc.stop()


@pytest.mark.slow
def test_bad_sysid_file_fails_configure_naming_it(node_env, probe, tmp_path):
    bad = tmp_path / "broken_fit.json"
    bad.write_text('{"format": "world_model_planner.sysid", "version": 1, "dt_s": -1}')
    proc = NodeProcess.executable("planner_node", [*FAST, "-p", f"sysid_path:={bad}"], node_env, tmp_path)
    try:
        assert not _change(probe, Transition.TRANSITION_CONFIGURE)
        probe_log = proc.log()
        assert "broken_fit.json" in probe_log and "dt_s" in probe_log, probe_log
        assert proc.alive() and "Traceback" not in probe_log, probe_log
    finally:
        proc.stop()
