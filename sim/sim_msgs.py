"""SimWorld observations → ROS messages (message packages only, no rclpy)."""
from __future__ import annotations

import array

import numpy as np
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, LaserScan

from world_model_planner.core.rosconv import sec_to_stamp, set_yaw

from world_model_planner.sim.sensors import LidarConfig


def clock_msg(t_s: float) -> Clock:
    return Clock(clock=sec_to_stamp(t_s))


def odom_msg(t_s: float, pose: np.ndarray, vel: np.ndarray, frame: str, child: str) -> Odometry:
    """pose (3,) x, y, yaw in ``frame``; vel (2,) v, w in the body frame."""
    m = Odometry()
    m.header.stamp = sec_to_stamp(t_s)
    m.header.frame_id, m.child_frame_id = frame, child
    m.pose.pose.position.x, m.pose.pose.position.y = float(pose[0]), float(pose[1])
    set_yaw(m.pose.pose.orientation, float(pose[2]))
    m.twist.twist.linear.x = float(vel[0])
    m.twist.twist.angular.z = float(vel[1])
    cov = [0.0] * 36
    for i, c in zip((0, 7, 14, 21, 28, 35), (1e-4, 1e-4, 1e-6, 1e-6, 1e-6, 1e-4)):
        cov[i] = c
    m.pose.covariance = cov
    m.twist.covariance = list(cov)
    return m


def scan_msg(t_s: float, ranges: np.ndarray, cfg: LidarConfig, frame: str) -> LaserScan:
    """ranges (beams,) metres, +inf = no return (REP-117)."""
    m = LaserScan()
    m.header.stamp = sec_to_stamp(t_s)
    m.header.frame_id = frame
    m.angle_min = float(cfg.angle_min)
    m.angle_increment = float(cfg.angle_increment)
    m.angle_max = float(cfg.angle_min + cfg.angle_increment * (cfg.beams - 1))
    m.time_increment = 0.0
    m.scan_time = float(1.0 / cfg.rate_hz)
    m.range_min = 0.05
    m.range_max = float(cfg.range_max_m)
    arr = array.array("f")
    arr.frombytes(np.ascontiguousarray(ranges, dtype=np.float32).tobytes())
    m.ranges = arr
    return m


def image_msg(t_s: float, rgb: np.ndarray, frame: str) -> Image:
    """rgb (H, W, 3) uint8."""
    m = Image()
    m.header.stamp = sec_to_stamp(t_s)
    m.header.frame_id = frame
    m.height, m.width = int(rgb.shape[0]), int(rgb.shape[1])
    m.encoding, m.is_bigendian, m.step = "rgb8", 0, int(rgb.shape[1] * 3)
    m.data = rgb.tobytes()
    return m


def tf_msg(t_s: float, pose: np.ndarray, frame: str, child: str):
    """odom→base_link as a tf2_msgs/TFMessage; raises ImportError without tf2_msgs."""
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage

    tr = TransformStamped()
    tr.header.stamp = sec_to_stamp(t_s)
    tr.header.frame_id, tr.child_frame_id = frame, child
    tr.transform.translation.x, tr.transform.translation.y = float(pose[0]), float(pose[1])
    set_yaw(tr.transform.rotation, float(pose[2]))
    return TFMessage(transforms=[tr])
