"""The planner node places each scan at the odometry pose of its own time, also when the scan
arrives before that odometry (the sim publishes /scan, then /odom, with the same stamp): a real
in-process PlannerNode fed real messages through its subscription callbacks."""
from __future__ import annotations

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy (ros-rclpy wheels) is not installed")

from world_model_planner.sim.sensors import LidarConfig  # noqa: E402
from world_model_planner.sim.sim_msgs import odom_msg, scan_msg  # noqa: E402


def test_scan_before_its_odometry_takes_the_pose_of_its_own_time(ros_domain):
    from world_model_planner.planner_node.node import PlannerNode

    rclpy.init(domain_id=ros_domain)
    node = None
    try:
        node = PlannerNode()
        lidar = LidarConfig(beams=36)
        ranges = np.full(36, 3.0)
        vel = np.array([1.0, 1.5])
        poses = {0.0: np.array([0.0, 0.0, 0.0]), 0.05: np.array([0.05, 0.0, 0.075]),
                 0.10: np.array([0.10, 0.004, 0.15])}
        node._on_odom(odom_msg(0.0, poses[0.0], vel, "odom", "base_link"))
        node._on_odom(odom_msg(0.05, poses[0.05], vel, "odom", "base_link"))
        # the scan of t = 0.10 comes first: the nearest pose so far is the tick before's
        node._on_scan(scan_msg(0.10, ranges, lidar, "base_link"))
        assert node._scan[2] == pytest.approx(poses[0.05])
        node._on_odom(odom_msg(0.10, poses[0.10], vel, "odom", "base_link"))
        assert node._scan[2] == pytest.approx(poses[0.10])          # its own time's pose now
        # a later odometry is farther from the scan's stamp: the pose stays
        node._on_odom(odom_msg(0.15, np.array([0.15, 0.01, 0.22]), vel, "odom", "base_link"))
        assert node._scan[2] == pytest.approx(poses[0.10])
        # once planned on, a scan is not moved any more
        node._on_scan(scan_msg(0.20, ranges, lidar, "base_link"))
        node._new_scan = False
        node._on_odom(odom_msg(0.20, np.array([0.2, 0.02, 0.3]), vel, "odom", "base_link"))
        assert node._scan[2] == pytest.approx([0.15, 0.01, 0.22])
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
