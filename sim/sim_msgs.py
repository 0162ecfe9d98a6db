"""SimWorld observations → ROS messages (message packages only, no rclpy)."""
from __future__ import annotations

import array

import numpy as np
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import LaserScan

from world_model_planner.core.rosconv import sec_to_stamp, set_yaw

from world_model_planner.sim import movers
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
    m.range_min = float(cfg.range_min_m)
    m.range_max = float(cfg.range_max_m)
    arr = array.array("f")
    arr.frombytes(np.ascontiguousarray(ranges, dtype=np.float32).tobytes())
    m.ranges = arr
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


def localization_msg(t_s: float, pose: np.ndarray, frame: str, std_xy_m: float, std_yaw_rad: float):
    """A localization pose (3,) in ``frame`` as geometry_msgs/PoseWithCovarianceStamped (as AMCL's
    /amcl_pose), its covariance from the noise standard deviations."""
    from geometry_msgs.msg import PoseWithCovarianceStamped

    m = PoseWithCovarianceStamped()
    m.header.stamp = sec_to_stamp(t_s)
    m.header.frame_id = frame
    m.pose.pose.position.x, m.pose.pose.position.y = float(pose[0]), float(pose[1])
    set_yaw(m.pose.pose.orientation, float(pose[2]))
    cov = [0.0] * 36
    cov[0] = cov[7] = max(std_xy_m, 1e-3) ** 2
    cov[35] = max(std_yaw_rad, 1e-3) ** 2
    m.pose.covariance = cov
    return m


def map_msg(t_s: float, data: np.ndarray, resolution_m: float, origin: np.ndarray, frame: str):
    """Occupancy data (ny, nx) int8 (0 free, 100 occupied, -1 unknown) as nav_msgs/OccupancyGrid;
    ``origin`` (3,) is the pose of cell (0, 0)'s corner in ``frame``."""
    from nav_msgs.msg import OccupancyGrid

    m = OccupancyGrid()
    m.header.stamp = sec_to_stamp(t_s)
    m.header.frame_id = frame
    m.info.map_load_time = sec_to_stamp(t_s)
    m.info.resolution = float(resolution_m)
    m.info.height, m.info.width = int(data.shape[0]), int(data.shape[1])
    m.info.origin.position.x, m.info.origin.position.y = float(origin[0]), float(origin[1])
    set_yaw(m.info.origin.orientation, float(origin[2]))
    arr = array.array("b")
    arr.frombytes(np.ascontiguousarray(data, dtype=np.int8).tobytes())
    m.data = arr
    return m


def map_tf(t_s: float, map_to_odom: np.ndarray, map_frame: str, odom_frame: str):
    """map→odom as a geometry_msgs/TransformStamped (for a TFMessage)."""
    from geometry_msgs.msg import TransformStamped

    tr = TransformStamped()
    tr.header.stamp = sec_to_stamp(t_s)
    tr.header.frame_id, tr.child_frame_id = map_frame, odom_frame
    tr.transform.translation.x, tr.transform.translation.y = float(map_to_odom[0]), float(map_to_odom[1])
    set_yaw(tr.transform.rotation, float(map_to_odom[2]))
    return tr


#: Colour (r, g, b, a) and height (m) of a mover marker by kind, as the sim draws them.
MOVER_LOOK = {"person": (tuple(movers._COLOURS["person"]), movers.PERSON_HEIGHT_M),
              "cart": (tuple(movers._COLOURS["cart"]), movers.CART_HEIGHT_M)}


def movers_msg(t_s: float, specs, poses: np.ndarray, frame: str):
    """The movers' footprints as visualization_msgs/MarkerArray in ``frame``: a DELETEALL first
    (a scenario with fewer movers after ~/reset leaves none behind), then per mover (index i =
    marker id, namespace ``movers``) a CYLINDER of the person's radius or a CUBE of the cart's
    size, at its pose (M, 3) x, y, yaw."""
    from visualization_msgs.msg import Marker, MarkerArray

    stamp = sec_to_stamp(t_s)
    clear = Marker(action=Marker.DELETEALL)
    clear.header.stamp, clear.header.frame_id, clear.ns = stamp, frame, "movers"
    out = [clear]
    for i, (spec, pose) in enumerate(zip(specs, poses)):
        rgba, h = MOVER_LOOK.get(spec.kind, MOVER_LOOK["cart"])
        m = Marker(ns="movers", id=i, action=Marker.ADD)
        m.header.stamp, m.header.frame_id = stamp, frame
        if spec.kind == "person":
            m.type = Marker.CYLINDER
            m.scale.x = m.scale.y = 2.0 * float(spec.radius)
        else:
            m.type = Marker.CUBE
            m.scale.x, m.scale.y = float(spec.size[0]), float(spec.size[1])
        m.scale.z = h
        m.pose.position.x, m.pose.position.y, m.pose.position.z = float(pose[0]), float(pose[1]), h / 2.0
        set_yaw(m.pose.orientation, float(pose[2]))
        m.color.r, m.color.g, m.color.b, m.color.a = rgba
        out.append(m)
    return MarkerArray(markers=out)
