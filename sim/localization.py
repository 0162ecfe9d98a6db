"""The sim's map frame: a fixed offset between map and the world, an optional slow drift of
odometry against the world, a noisy localization pose in map, and the scenario as an occupancy
map. No rclpy.

The scenario's coordinates are the world. ``map_offset`` (x, y, yaw) is the pose of the world
origin in map, so a point p of the scenario lies at ``offset ∘ p`` in map. Odometry starts at
the world origin and, with a drift (vx, vy m/s, wz rad/s in simulated time), slides away from
it: the odometry pose is ``D(t) ∘ world pose`` with D(t) = (vx t, vy t, wz t). So the true
map → odom transform is ``offset ∘ D(t)⁻¹``, which a localizer must track.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from world_model_planner.core import metrics
from world_model_planner.core.mathutil import wrap_angle


def _compose(a, b) -> np.ndarray:
    c, s = math.cos(a[2]), math.sin(a[2])
    return np.array([a[0] + c * b[0] - s * b[1], a[1] + s * b[0] + c * b[1], wrap_angle(a[2] + b[2])])


def _inverse(a) -> np.ndarray:
    c, s = math.cos(a[2]), math.sin(a[2])
    return np.array([-c * a[0] - s * a[1], s * a[0] - c * a[1], wrap_angle(-a[2])])


@dataclass
class MapFrame:
    """offset (3,) pose of the world in map; drift (3,) odometry drift rates; noise_xy_m,
    noise_yaw_rad: standard deviations of the localization pose."""

    offset: tuple = (0.0, 0.0, 0.0)
    drift: tuple = (0.0, 0.0, 0.0)
    noise_xy_m: float = 0.0
    noise_yaw_rad: float = 0.0

    def drift_at(self, t_s: float) -> np.ndarray:
        return np.array([self.drift[0] * t_s, self.drift[1] * t_s, self.drift[2] * t_s])

    def odom_pose(self, world_pose, t_s: float) -> np.ndarray:
        """The odometry pose (drifted) of a world pose at sim time t_s."""
        if not any(self.drift):
            return np.asarray(world_pose, dtype=np.float64)
        return _compose(self.drift_at(t_s), world_pose)

    def map_pose(self, world_pose, rng: np.random.Generator | None = None) -> np.ndarray:
        """The localization pose in map of a world pose (with noise when rng is given)."""
        p = _compose(np.asarray(self.offset, dtype=np.float64), world_pose)
        if rng is not None and (self.noise_xy_m > 0 or self.noise_yaw_rad > 0):
            p = p + rng.normal(0.0, [self.noise_xy_m, self.noise_xy_m, self.noise_yaw_rad])
            p[2] = wrap_angle(p[2])
        return p

    def map_to_odom(self, t_s: float) -> np.ndarray:
        """The true pose of odom in map at t_s."""
        return _compose(np.asarray(self.offset, dtype=np.float64), _inverse(self.drift_at(t_s)))

    def to_map(self, xy) -> tuple[float, float]:
        """A scenario point (x, y) in map coordinates."""
        p = _compose(np.asarray(self.offset, dtype=np.float64), (float(xy[0]), float(xy[1]), 0.0))
        return float(p[0]), float(p[1])


def scenario_map(scenario, offset=(0.0, 0.0, 0.0), resolution_m: float = 0.1):
    """The scenario (walls and obstacles, not movers) as occupancy data in map coordinates:
    (data (ny, nx) int8 0 free / 100 occupied, resolution_m, origin (3,) pose of cell (0, 0)'s
    corner in map). A large arena is gridded more coarsely (metrics.grid_resolution_m)."""
    res = metrics.grid_resolution_m(scenario.arena, resolution_m)
    # cells whose centre lies within 0.6 cell of an obstacle (the walls: the outer ring)
    blocked, origin_xy = metrics.occupancy_grid(scenario, res, inflate_m=0.6 * res)
    data = np.where(blocked, 100, 0).astype(np.int8)
    origin = _compose(np.asarray(offset, dtype=np.float64), (origin_xy[0], origin_xy[1], 0.0))
    return data, res, origin
