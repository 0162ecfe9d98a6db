"""A depth camera as a planar range sensor: the obstacles a depth image shows, as a LaserScan.

Camera-only robots usually carry a depth camera (TurtleBot 4's OAK-D, RealSense bases), and the
usual ROS answer is to turn its depth image into a scan (depthimage_to_laserscan) for the
costmap. This does the same for the planner: every pixel's depth becomes a point in the robot
frame through the pinhole intrinsics and the camera's mounting; points between ``z_min_m`` and
``z_max_m`` above the ground (not the floor, not overhead) are obstacles, and each beam of the
scan reads the nearest one. The scan is taken at the camera's own place on the ground
(:meth:`DepthScan.sensor_pose`: ``mount_x_m`` ahead of the base centre), its beams evenly over
the camera's horizontal field of view, so every beam is one the camera looks along at every
range (from the base centre the edge of the view would narrow with distance, and an edge beam
would read free space it never saw). A beam that sees only floor or nothing reads no return
(inf), as a lidar does. Points over the robot's own footprint (its top plate or bumper in the
bottom of the view, a sensor plate at the top: given ``footprint``) are dropped, with a margin
of ``self_filter_margin_m``.

Conventions: ``depth`` (H, W) float, metres along the optical axis (REP 118: 32FC1 in metres;
16UC1 images are millimetres and are converted by the caller); row 0 at the top; NaN, inf and
values ≤ 0 are invalid. The camera looks along the robot's heading, tilted down by
``pitch_deg``, at ``mount_x_m`` ahead of the base centre and ``mount_z_m`` above the ground.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from world_model_planner.core.params import param, validate
from world_model_planner.core.sensor_check import ScanGeometry


@dataclass(frozen=True)
class DepthScanConfig:
    """How a depth image becomes a scan (the camera's intrinsics, mounting and the obstacle band)."""
    hfov_deg: float = param(90.0, "the depth camera's horizontal field of view (degrees; the pinhole's "
                                  "fx = width / 2 / tan(hfov / 2), fy = fx, principal point at the centre)",
                            range=(10.0, 170.0))
    mount_x_m: float = param(0.45, "the camera's position ahead of the base centre (m)", range=(-2.0, 2.0))
    mount_z_m: float = param(0.6, "the camera's height above the ground (m)", range=(0.02, 3.0))
    pitch_deg: float = param(8.53, "the camera's downward tilt (degrees; 0 = level)", range=(-45.0, 80.0))
    z_min_m: float = param(0.08, "points lower than this are floor, not obstacles (m)", range=(0.0, 2.0))
    z_max_m: float = param(1.2, "points higher than this pass over the robot (m)", range=(0.05, 5.0))
    range_max_m: float = param(6.0, "depth beyond this is not trusted: no return (m)", range=(0.5, 50.0))
    self_filter_margin_m: float = param(0.03, "points within this of the robot's footprint are the robot "
                                              "itself and are dropped (m; the footprint is the planner's, "
                                              "critics.footprint_*)", range=(0.0, 0.5))

    def __post_init__(self):
        validate(self)
        if self.z_min_m >= self.z_max_m:
            raise ValueError(f"DepthScanConfig.z_min_m: expected less than z_max_m ({self.z_max_m}), "
                             f"got {self.z_min_m}")


def footprint_of(critics) -> tuple[float, float, bool]:
    """(length_m, width_m, round) of the robot a CriticsConfig describes (critics.footprint_*):
    the body :class:`DepthScan` drops from what the camera sees."""
    return (float(critics.footprint_length_m), float(critics.footprint_width_m),
            bool(getattr(critics, "footprint_round", False)))


class DepthScan:
    """Depth images of one size → scans of ``width`` beams (the rays are computed once)."""

    def __init__(self, cfg: DepthScanConfig, width: int, height: int,
                 footprint: tuple[float, float, bool] | None = None):
        """``footprint``: (length_m, width_m, round) of the robot about its base centre, whose
        points are dropped (None: none)."""
        if width < 2 or height < 1:
            raise ValueError(f"depth image: expected at least 2 x 1 pixels, got {width} x {height}")
        self.cfg, self.width, self.height = cfg, int(width), int(height)
        self.footprint = None if footprint is None else (float(footprint[0]), float(footprint[1]), bool(footprint[2]))
        f = (width / 2.0) / math.tan(math.radians(cfg.hfov_deg) / 2.0)
        xn = (np.arange(width) + 0.5 - width / 2.0) / f          # right, per unit of depth
        yn = (np.arange(height) + 0.5 - height / 2.0) / f        # down, per unit of depth
        th = math.radians(cfg.pitch_deg)
        # from the camera's foot (x ahead, y left, z up) per unit of depth: X = z * fx_, Y = z * fy_, Z = mz + z * fz_
        self._fx = np.broadcast_to((math.cos(th) - yn * math.sin(th))[:, None], (height, width))
        self._fy = np.broadcast_to(-xn[None, :], (height, width))
        self._fz = np.broadcast_to((-math.sin(th) - yn * math.cos(th))[:, None], (height, width))
        half = math.atan((width / 2.0) / f)
        self.geom = g = ScanGeometry(angle_min=-half, angle_increment=2.0 * half / (width - 1),
                                     range_min=0.0, range_max=cfg.range_max_m, n=width)
        # each pixel feeds every beam whose bearing lies between its left and right edges (the
        # bearing of a pixel's ray does not depend on its depth); pixels are even in the tangent,
        # beams in the angle, so a central pixel can span no beam centre: then its nearest beam
        fwd = (math.cos(th) - yn * math.sin(th))[:, None]
        edge = np.arctan2(-((np.arange(width + 1) - width / 2.0) / f)[None, :], fwd)   # (H, W + 1)
        lo, hi = np.minimum(edge[:, 1:], edge[:, :-1]), np.maximum(edge[:, 1:], edge[:, :-1])
        k0 = np.ceil((lo - g.angle_min) / g.angle_increment - 1e-9).astype(np.int64)
        k1 = np.floor((hi - g.angle_min) / g.angle_increment + 1e-9).astype(np.int64)
        centre = np.arctan2(-xn[None, :], fwd)
        near = np.rint((centre - g.angle_min) / g.angle_increment).astype(np.int64)
        k0, k1 = np.where(k1 < k0, near, k0).ravel(), np.where(k1 < k0, near, k1).ravel()
        k0, k1 = np.clip(k0, 0, g.n - 1), np.clip(k1, 0, g.n - 1)
        self._feeds = []                                        # [(pixel indices, beam indices)]
        for j in range(int((k1 - k0).max()) + 1):
            pix = np.flatnonzero(k0 + j <= k1)
            self._feeds.append((pix, k0[pix] + j))

    def sensor_pose(self, pose) -> np.ndarray:
        """The base pose (x, y, yaw) → where the scan is taken: the camera's foot, ``mount_x_m``
        ahead along the heading."""
        x, y, yaw = (float(v) for v in np.asarray(pose, dtype=np.float64).reshape(-1)[:3])
        m = self.cfg.mount_x_m
        return np.array([x + m * math.cos(yaw), y + m * math.sin(yaw), yaw])

    def scan(self, depth) -> np.ndarray:
        """depth (H, W) metres → (W,) float64 ranges on ``geom`` from :meth:`sensor_pose` (inf =
        no obstacle seen there). Raises ValueError for an image of another size."""
        d = np.asarray(depth, dtype=np.float64)
        if d.shape != (self.height, self.width):
            raise ValueError(f"depth image: expected {self.height} x {self.width} pixels, got "
                             f"{' x '.join(str(s) for s in d.shape)}")
        c = self.cfg
        ok = np.isfinite(d) & (d > 0.0)
        z = np.where(ok, d, 0.0)
        x = z * self._fx
        y = z * self._fy
        h = c.mount_z_m + z * self._fz
        r = np.hypot(x, y)
        ok &= (h >= c.z_min_m) & (h <= c.z_max_m) & (r <= c.range_max_m) & (x > 0.0)
        if self.footprint is not None:                          # the robot's own body is no obstacle
            length, width, round_base = self.footprint
            m, xb = c.self_filter_margin_m, x + c.mount_x_m
            if round_base:
                ok &= np.hypot(xb, y) > max(length, width) / 2.0 + m
            else:
                ok &= (np.abs(xb) > length / 2.0 + m) | (np.abs(y) > width / 2.0 + m)
        out = np.full(self.width, np.inf)
        if not ok.any():
            return out
        ok, r = ok.ravel(), r.ravel()
        for pix, beam in self._feeds:
            sel = ok[pix]
            np.minimum.at(out, beam[sel], r[pix[sel]])
        return out
