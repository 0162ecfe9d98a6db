"""Hostile input on planner_node's localization, prior map and waypoint topics: each is refused
with a line naming the topic and the field, the robot stops where a goal depends on it, and
the node stays up."""
from __future__ import annotations

import math
import time

import pytest

from world_model_planner.testing.processes import NodeProcess
from world_model_planner.testing.sensors import SensorFeed, stamp, status_values, wait_log

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped, TwistStamped  # noqa: E402
from nav_msgs.msg import OccupancyGrid, Path  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402


@pytest.mark.slow
def test_bad_localization_map_and_waypoints_are_refused(node_env, probe, tmp_path):
    proc = NodeProcess.executable("planner_node", [
        "-p", "planner:=classic", "-p", "mppi.samples:=64", "-p", "torch_threads:=1", "-p", "device:=cpu",
        "-p", "autostart:=true", "-p", "diagnostics_rate_hz:=20.0", "-p", "localization_topic:=/amcl_pose",
        "-p", "prior_map:=true", "-p", "transform_timeout_s:=30.0"], node_env, tmp_path)
    feed = SensorFeed(probe)
    try:
        probe.subscribe("/cmd_vel_nav", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray, 200)
        feed.start()
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        map_pub = probe.node.create_publisher(OccupancyGrid, "/map", latched)
        loc_pub = probe.node.create_publisher(PoseWithCovarianceStamped, "/amcl_pose", 10)
        wp_pub = probe.node.create_publisher(Path, "/waypoints", 10)
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=90.0)
        probe.wait_for_subscribers(loc_pub, timeout=90.0)

        # a map that claims 5000 x 5000 cells and carries 10 bytes
        m = OccupancyGrid()
        m.header.frame_id = "map"
        m.info.width = m.info.height = 5000
        m.info.resolution = 0.05
        m.info.origin.orientation.w = 1.0
        m.data = [0] * 10
        map_pub.publish(m)
        log = wait_log(proc, "map: prior map refused")
        assert "width" in log.split("prior map refused", 1)[1].splitlines()[0]

        # localization: non-finite, then stamped 100 s ahead of odometry (the warning is
        # throttled, so each is sent until its line appears)
        for x, ahead_s, text in ((math.nan, 0.0, "non-finite"), (1.0, 100.0, "newer than the latest odometry")):
            deadline = time.monotonic() + 20.0
            while text not in proc.log() and time.monotonic() < deadline:
                p = PoseWithCovarianceStamped()
                p.header.frame_id = "map"
                p.header.stamp = stamp(probe.node.get_clock().now().nanoseconds * 1e-9 + ahead_s)
                p.pose.pose.position.x = x
                p.pose.pose.orientation.w = 1.0
                loc_pub.publish(p)
                time.sleep(0.5)
        log = wait_log(proc, "newer than the latest odometry", timeout=1.0)
        assert "/amcl_pose: pose skipped" in log and "non-finite" in log

        # no transform was stored: a map goal waits with zero commands
        g = PoseStamped()
        g.header.frame_id = "map"
        g.pose.position.x, g.pose.orientation.w = 2.0, 1.0
        goal_pub.publish(g)
        probe.wait_for("/diagnostics", lambda ms: status_values(ms, "planner").get("state") == "waiting", proc=proc)
        probe.clear("/cmd_vel_nav")
        cmds = probe.wait_for("/cmd_vel_nav", lambda ms: len(ms) >= 5, proc=proc)
        assert all(c.twist.linear.x == 0.0 and c.twist.angular.z == 0.0 for c in cmds)

        # waypoints with a non-finite pose: refused, named, robot stopped
        path = Path()
        path.header.frame_id = "odom"
        for x in (1.0, math.inf):
            ps = PoseStamped()
            ps.pose.position.x, ps.pose.orientation.w = x, 1.0
            path.poses.append(ps)
        wp_pub.publish(path)
        msgs = probe.wait_for("/diagnostics", lambda ms: status_values(ms, "planner").get("state") == "refused",
                              proc=proc)
        assert "/waypoints pose 1: non-finite" in status_values(msgs, "planner")["reason"]
        assert proc.alive()
    finally:
        feed.stop()
        proc.stop()
