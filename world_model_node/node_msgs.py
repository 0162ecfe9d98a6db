"""Message ↔ array translation for world_model_node (message classes only, no node)."""
from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from world_model_planner.core.rosutil import stamp_to_sec

from world_model_planner.world_model_node.monitor import Prediction, yaw_from_quaternion


def odom_arrays(msg) -> tuple[float, np.ndarray, np.ndarray]:
    """nav_msgs/Odometry → (t_s, pose (3,) x, y, yaw; vel (2,) v, w). Values may be nan."""
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    pose = np.array([p.x, p.y, yaw_from_quaternion(q.x, q.y, q.z, q.w)], dtype=np.float64)
    vel = np.array([msg.twist.twist.linear.x, msg.twist.twist.angular.z], dtype=np.float64)
    return stamp_to_sec(msg.header.stamp), pose, vel


def twist_command(msg, stamped: bool) -> tuple[float | None, float, float]:
    """TwistStamped / Twist → (stamp seconds or None when absent/zero, v, w)."""
    if stamped:
        t = stamp_to_sec(msg.header.stamp)
        tw = msg.twist
        return (t if t > 0.0 else None), tw.linear.x, tw.angular.z
    return None, msg.linear.x, msg.angular.z


def prediction_markers(pred: Prediction, frame_id: str, stamp, lifetime_s: float = 1.0) -> MarkerArray:
    """The predicted trajectory as a LINE_STRIP (ns 'trajectory') and one sphere per model step
    coloured green → red by P(collision) (ns 'collision')."""
    life = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1.0) * 1e9))
    line = Marker(ns="trajectory", id=0, type=Marker.LINE_STRIP, action=Marker.ADD, lifetime=life)
    line.header.frame_id, line.header.stamp = frame_id, stamp
    line.pose.orientation.w = 1.0
    line.scale.x = 0.04
    line.color = ColorRGBA(r=0.2, g=0.6, b=1.0, a=0.9)
    line.points = [Point(x=float(x), y=float(y), z=0.05) for x, y, _ in pred.poses]
    dots = Marker(ns="collision", id=1, type=Marker.SPHERE_LIST, action=Marker.ADD, lifetime=life)
    dots.header.frame_id, dots.header.stamp = frame_id, stamp
    dots.pose.orientation.w = 1.0
    dots.scale.x = dots.scale.y = dots.scale.z = 0.08
    dots.points = [Point(x=float(x), y=float(y), z=0.05) for x, y, _ in pred.poses[1:]]
    dots.colors = [ColorRGBA(r=float(p), g=float(1.0 - p), b=0.0, a=0.9) for p in pred.collision_prob]
    return MarkerArray(markers=[line, dots])


def diagnostics(name: str, level: int, message: str, values: dict, stamp, hardware_id: str = "") -> DiagnosticArray:
    """One DiagnosticStatus in an array; floats are written with 4 decimals ('nan' when unknown)."""
    kvs = [KeyValue(key=k, value=_fmt(v)) for k, v in values.items()]
    status = DiagnosticStatus(level=bytes([level]), name=name, message=message, hardware_id=hardware_id,
                              values=kvs)
    arr = DiagnosticArray(status=[status])
    arr.header.stamp = stamp
    return arr


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return str(v)
