"""Message ↔ array conversions for planner_node (message packages only, no rclpy).

The node's inputs go through :func:`scan_in` and :func:`odom_in`, its plan out through
:func:`plan_msg`; ``wmp bench-model --profile`` times these same functions as a tick's message
conversion (:mod:`world_model_planner.planner_node.tick_profile`)."""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point, PoseStamped
from nav_msgs.msg import Path
from visualization_msgs.msg import Marker, MarkerArray

from world_model_planner.core.rosconv import odom_arrays, scan_fields, set_yaw, stamp_to_sec
from world_model_planner.core.sensor_check import SensorLimits, check_odom, check_scan


def scan_in(msg, limits: SensorLimits) -> tuple:
    """sensor_msgs/LaserScan → (t_s, geometry or None, ranges or None, reason ('' when usable)).
    The header is checked before any array is built from it (beam count, range_max, angles)."""
    geom, ranges, why = check_scan(*scan_fields(msg), limits)
    return stamp_to_sec(msg.header.stamp), geom, ranges, why


def odom_in(msg, limits: SensorLimits) -> tuple:
    """nav_msgs/Odometry → (t_s, pose (3,), vel (2,), fault ('' when usable)); the orientation
    quaternion is checked before the yaw taken from it counts."""
    t, pose, vel = odom_arrays(msg)
    q = msg.pose.pose.orientation
    return t, pose, vel, check_odom(pose, vel, limits, quat=(q.x, q.y, q.z, q.w))


def plan_msg(best_traj: np.ndarray, subgoals: np.ndarray, frame: str, stamp) -> Path:
    """/plan: the chosen trajectory (H, 3) and then the subgoals (K, 2) as one nav_msgs/Path."""
    subgoals = np.asarray(subgoals, dtype=np.float64).reshape(-1, 2)
    pts = np.concatenate([np.asarray(best_traj, dtype=np.float64).reshape(-1, 3),
                          np.c_[subgoals, np.zeros(len(subgoals))]])
    return path_msg(pts, frame, stamp)


def _pose(x, y, yaw, frame, stamp) -> PoseStamped:
    ps = PoseStamped()
    ps.header.frame_id, ps.header.stamp = frame, stamp
    ps.pose.position.x, ps.pose.position.y = float(x), float(y)
    set_yaw(ps.pose.orientation, yaw)
    return ps


def path_msg(points: np.ndarray, frame: str, stamp) -> Path:
    """(P, 2) or (P, 3) → nav_msgs/Path (yaw 0 where not given)."""
    m = Path()
    m.header.frame_id, m.header.stamp = frame, stamp
    for p in np.asarray(points).reshape(-1, np.asarray(points).shape[-1] if len(points) else 2):
        m.poses.append(_pose(p[0], p[1], p[2] if len(p) > 2 else 0.0, frame, stamp))
    return m


def rollouts_msg(samples: np.ndarray, best: np.ndarray, subgoals: np.ndarray, frame: str, stamp) -> MarkerArray:
    """Sampled trajectories (M, H, 3) grey, the chosen one (H, 3) green, subgoals (K, 2) spheres."""
    arr = MarkerArray()

    def line(ns, i, pts, rgba, width):
        mk = Marker()
        mk.header.frame_id, mk.header.stamp = frame, stamp
        mk.ns, mk.id, mk.type, mk.action = ns, i, Marker.LINE_STRIP, Marker.ADD
        mk.scale.x = width
        mk.color.r, mk.color.g, mk.color.b, mk.color.a = rgba
        mk.pose.orientation.w = 1.0
        mk.points = [Point(x=float(p[0]), y=float(p[1]), z=0.05) for p in pts]
        return mk

    for i, tr in enumerate(samples):
        arr.markers.append(line("samples", i, tr, (0.6, 0.6, 0.6, 0.4), 0.01))
    if len(best):
        arr.markers.append(line("best", 0, best, (0.1, 0.9, 0.2, 1.0), 0.04))
    for i, sg in enumerate(subgoals):
        mk = Marker()
        mk.header.frame_id, mk.header.stamp = frame, stamp
        mk.ns, mk.id, mk.type, mk.action = "subgoals", i, Marker.SPHERE, Marker.ADD
        mk.pose.position.x, mk.pose.position.y = float(sg[0]), float(sg[1])
        mk.pose.orientation.w = 1.0
        mk.scale.x = mk.scale.y = mk.scale.z = 0.2
        mk.color.r, mk.color.b, mk.color.a = 1.0, 1.0, 1.0
        arr.markers.append(mk)
    return arr
