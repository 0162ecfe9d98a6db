"""Small, well-formed session recordings made in the test (recording, report and fault tests)."""
from __future__ import annotations

import math
from pathlib import Path

from world_model_planner.teleop.recorder import SessionInfo, SessionWriter


def stamp_header(h, t):
    """Set a message header's stamp to ``t`` seconds."""
    h.stamp.sec, h.stamp.nanosec = int(t), int(round((t - int(t)) * 1e9)) % 1_000_000_000


def record(path, n=200, operator="ann", scenario="open", chunk_every=10):
    """A recording of ``n`` odom (x = i / 10 m) and n/2 scans, a chunk closed every
    ``chunk_every`` odom messages (a fake clock drives the writer's 1 s flush)."""
    from geometry_msgs.msg import PoseStamped
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import LaserScan

    clock = [0.0]
    with SessionWriter(path, SessionInfo(scenario=scenario, operator=operator, mode="teleop"),
                       flush_period_s=1.0, clock=lambda: clock[0]) as w:
        g = PoseStamped()
        stamp_header(g.header, 10.0)
        g.pose.position.x = 3.5
        w.write("/goal_pose", "geometry_msgs/msg/PoseStamped", g, log_time_ns=10 * 10**9)
        for i in range(n):
            t = 10.0 + 0.05 * i
            o = Odometry()
            stamp_header(o.header, t)
            o.pose.pose.position.x = -3.5 + i / 10
            o.pose.pose.orientation.w = 1.0
            o.twist.twist.linear.x = 0.5
            w.write("/odom", "nav_msgs/msg/Odometry", o, log_time_ns=int(t * 1e9))
            if i % 2 == 0:
                s = LaserScan(range_max=8.0, angle_min=-math.pi, angle_max=math.pi - 2 * math.pi / 36,
                              angle_increment=2 * math.pi / 36, range_min=0.1)
                stamp_header(s.header, t)
                s.ranges = [float("inf")] * 36
                w.write("/scan", "sensor_msgs/msg/LaserScan", s, log_time_ns=int(t * 1e9))
            clock[0] += 1.0 / chunk_every
    return Path(path)


