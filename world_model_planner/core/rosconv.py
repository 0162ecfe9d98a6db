"""ROS message <-> plain value conversions shared by every node: stamps, yaw/quaternion,
twists, odometry, laser scans and camera images.

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


# -- camera images ---------------------------------------------------------------------------
#: sensor_msgs/Image encodings read as camera frames: (channels, the channel of R, G, B).
IMAGE_ENCODINGS = {"rgb8": (3, (0, 1, 2)), "bgr8": (3, (2, 1, 0)), "rgba8": (4, (0, 1, 2)),
                   "bgra8": (4, (2, 1, 0)), "mono8": (1, (0, 0, 0))}
#: Largest frame side read (pixels); a larger header is a damaged message.
MAX_IMAGE_SIDE = 16384


def image_rgb(msg, size: int) -> np.ndarray:
    """sensor_msgs/Image (an encoding of IMAGE_ENCODINGS) → (size, size, 3) uint8 RGB, the frame
    format of camera data (world_model_node.data ``image``): the centred square of the frame,
    area-averaged (box filter) to size x size. Raises ValueError naming the encoding or the
    inconsistent geometry (height, width, step against the data length)."""
    enc = str(msg.encoding)
    if enc not in IMAGE_ENCODINGS:
        raise ValueError(f"image encoding {enc[:40]!r}: expected one of {', '.join(IMAGE_ENCODINGS)}")
    ch, rgb = IMAGE_ENCODINGS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    buf = np.frombuffer(msg.data, np.uint8) if not isinstance(msg.data, np.ndarray) else msg.data.reshape(-1)
    if not (0 < h <= MAX_IMAGE_SIDE and 0 < w <= MAX_IMAGE_SIDE) or step < w * ch or buf.size < step * h:
        raise ValueError(f"image {w}x{h} {enc} with step {step}: expected step >= {w * ch} and "
                         f"{step * h} data bytes, got {buf.size}")
    img = buf[:step * h].reshape(h, step)[:, :w * ch].reshape(h, w, ch)
    return square_frame(img, size)[:, :, list(rgb)]


def square_frame(img: np.ndarray, size: int) -> np.ndarray:
    """(H, W, C) uint8 → (size, size, C) uint8: the centred square of the frame, area-averaged
    (box filter) to size x size (each source pixel repeated when enlarging)."""
    h, w = img.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    crop = img[y0:y0 + side, x0:x0 + side].astype(np.uint32)
    edges = (np.arange(size) * side) // size                     # (size,) first source pixel per bin
    count = np.maximum(np.diff(np.append(edges, side)), 1)       # pixels per bin (1 when enlarging)
    sums = np.add.reduceat(np.add.reduceat(crop, edges, axis=0), edges, axis=1)
    return np.rint(sums / (count[:, None, None] * count[None, :, None])).astype(np.uint8)


def image_msg(t_s: float, rgb: np.ndarray, frame: str):
    """(H, W, 3) uint8 RGB → sensor_msgs/Image rgb8 stamped ``t_s`` in ``frame`` (the inverse of
    :func:`image_rgb` for a square frame)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    return _image_msg(t_s, frame, "rgb8", rgb.shape[0], rgb.shape[1], 3, rgb.tobytes())


def _image_msg(t_s: float, frame: str, encoding: str, height: int, width: int, pixel_bytes: int, data: bytes):
    """A little-endian, unpadded sensor_msgs/Image stamped ``t_s`` in ``frame``."""
    from sensor_msgs.msg import Image

    m = Image()
    m.header.stamp = sec_to_stamp(t_s)
    m.header.frame_id = frame
    m.height, m.width = int(height), int(width)
    m.encoding, m.is_bigendian, m.step = encoding, 0, int(width) * pixel_bytes
    m.data = data
    return m


#: depth encodings read (REP 118): 32FC1 in metres, 16UC1 in millimetres (0 = no reading)
DEPTH_ENCODINGS = {"32FC1": ("f4", 1.0), "16UC1": ("u2", 1e-3)}


def depth_m(msg, max_width: int = 160) -> np.ndarray:
    """sensor_msgs/Image depth (32FC1 metres or 16UC1 millimetres, either byte order) → (h, w)
    float32 metres, NaN where there is no reading; a frame wider than ``max_width`` is taken
    every k-th row and column (k = ceil(width / max_width)), which keeps the field of view.
    Raises ValueError naming the encoding or the inconsistent geometry (height, width, step
    against the data length)."""
    enc = str(msg.encoding)
    if enc not in DEPTH_ENCODINGS:
        raise ValueError(f"depth encoding {enc[:40]!r}: expected one of {', '.join(DEPTH_ENCODINGS)}")
    kind, scale = DEPTH_ENCODINGS[enc]
    size = int(kind[1])
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    buf = np.frombuffer(msg.data, np.uint8) if not isinstance(msg.data, np.ndarray) else msg.data.reshape(-1)
    if not (0 < h <= MAX_IMAGE_SIDE and 0 < w <= MAX_IMAGE_SIDE) or step < w * size or buf.size < step * h:
        raise ValueError(f"depth image {w}x{h} {enc} with step {step}: expected step >= {w * size} and "
                         f"{step * h} data bytes, got {buf.size}")
    k = max(1, -(-w // max(1, int(max_width))))
    rows = buf[:step * h].reshape(h, step)[::k, :w * size]
    dt = np.dtype(kind).newbyteorder(">" if int(msg.is_bigendian) else "<")
    raw = np.ascontiguousarray(rows).view(dt)[:, ::k]
    out = raw.astype(np.float32) * np.float32(scale)
    if kind[0] == "u":
        out[raw == 0] = np.nan
    return out


def depth_msg(t_s: float, depth: np.ndarray, frame: str):
    """(H, W) float metres → sensor_msgs/Image 32FC1 stamped ``t_s`` in ``frame`` (the inverse
    of :func:`depth_m` for a frame no wider than its ``max_width``)."""
    d = np.ascontiguousarray(depth, dtype="<f4")
    return _image_msg(t_s, frame, "32FC1", d.shape[0], d.shape[1], 4, d.tobytes())
