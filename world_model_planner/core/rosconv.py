"""ROS message <-> plain value conversions shared by every node: stamps, yaw/quaternion,
twists, odometry and laser scans.

Message classes only (imported where needed), never rclpy. The angle math itself lives in
:mod:`world_model_planner.core.mathutil`.
"""
from __future__ import annotations

import numpy as np

from world_model_planner.core.mathutil import quaternion_from_yaw, yaw_from_quaternion


# -- stamps ----------------------------------------------------------------------------------
def stamp_to_sec(stamp) -> float:
    """builtin_interfaces/Time → seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(t: float):
    """Seconds → builtin_interfaces/Time (nanoseconds rounded, carried into seconds)."""
    from builtin_interfaces.msg import Time

    sec = int(t // 1)
    nsec = int(round((t - sec) * 1e9))
    if nsec >= 1_000_000_000:
        sec, nsec = sec + 1, nsec - 1_000_000_000
    return Time(sec=sec, nanosec=nsec)


# -- orientation -----------------------------------------------------------------------------
def yaw_of(q) -> float:
    """geometry_msgs/Quaternion → yaw about z (rad)."""
    return yaw_from_quaternion(q.x, q.y, q.z, q.w)


def set_yaw(q, yaw: float):
    """Write a rotation by ``yaw`` about z into geometry_msgs/Quaternion ``q``; returns ``q``."""
    q.x, q.y, q.z, q.w = quaternion_from_yaw(float(yaw))
    return q


# -- twists ----------------------------------------------------------------------------------
def twist_msg(v: float, w: float, stamped: bool, stamp=None, frame: str = "base_link"):
    """(v m/s, w rad/s) → geometry_msgs/Twist, or TwistStamped with ``stamp`` and ``frame``."""
    from geometry_msgs.msg import Twist, TwistStamped

    if not stamped:
        m = Twist()
        m.linear.x, m.angular.z = float(v), float(w)
        return m
    m = TwistStamped()
    m.header.stamp = stamp
    m.header.frame_id = frame
    m.twist.linear.x, m.twist.angular.z = float(v), float(w)
    return m


def twist_values(msg, stamped: bool) -> tuple[float | None, float, float]:
    """TwistStamped / Twist → (stamp seconds or None when absent/zero, v, w)."""
    if stamped:
        t = stamp_to_sec(msg.header.stamp)
        tw = msg.twist
        return (t if t > 0.0 else None), tw.linear.x, tw.angular.z
    return None, msg.linear.x, msg.angular.z


# -- odometry and scans ----------------------------------------------------------------------
def odom_arrays(msg) -> tuple[float, np.ndarray, np.ndarray]:
    """nav_msgs/Odometry → (t_s, pose (3,) x, y, yaw; vel (2,) v, w body frame). Values may be nan."""
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    pose = np.array([p.x, p.y, yaw_of(q)], dtype=np.float64)
    vel = np.array([msg.twist.twist.linear.x, msg.twist.twist.angular.z], dtype=np.float64)
    return stamp_to_sec(msg.header.stamp), pose, vel


def scan_fields(msg) -> tuple:
    """sensor_msgs/LaserScan → (angle_min, angle_max, angle_increment, range_min, range_max,
    ranges), the arguments :func:`world_model_planner.core.sensor_check.check_scan` takes."""
    return (msg.angle_min, msg.angle_max, msg.angle_increment, msg.range_min, msg.range_max,
            msg.ranges)
