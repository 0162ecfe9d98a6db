"""A prior map (nav_msgs/OccupancyGrid as arrays) seeds the subgoal layer's scan grid. No rclpy.

Each cell of the planner's grid (odom frame) looks up the map cell under its centre (map frame,
through the map → odom transform): occupied map cells (value >= ``occupied_threshold``) start
at ``occupied_logodds``, free ones (0 <= value < ``free_threshold``) at ``free_logodds``,
unknown ones (-1) and cells outside the map stay as they are. The scans keep updating the grid
afterwards: an obstacle the map lacks is hit by the beams and becomes occupied within a couple
of scans; one that is gone is crossed by free beams and cleared.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from world_model_planner.planner_node.localization import apply_points, inverse

#: Most cells of a prior map taken (a 50 x 50 m map at 0.05 m: 1000 x 1000 cells).
MAX_MAP_CELLS = 4_000_000


@dataclass
class MapArrays:
    """A nav_msgs/OccupancyGrid as arrays: ``data`` (height, width) int8, row-major from the
    origin cell; ``resolution_m``; ``origin`` (3,) the pose of cell (0, 0)'s corner in
    ``frame``."""

    frame: str
    data: np.ndarray
    resolution_m: float
    origin: np.ndarray

    @classmethod
    def from_fields(cls, frame: str, width: int, height: int, resolution_m: float, origin, data) -> "MapArrays":
        """Checked construction; raises ValueError naming the field and what was expected."""
        if not (0 < width and 0 < height and width * height <= MAX_MAP_CELLS):
            raise ValueError(f"map info.width x info.height: expected 1..{MAX_MAP_CELLS} cells, got {width} x {height}")
        if not (math.isfinite(resolution_m) and 1e-3 <= resolution_m <= 10.0):
            raise ValueError(f"map info.resolution: expected 0.001..10 m, got {resolution_m}")
        origin = np.asarray(origin, dtype=np.float64).reshape(-1)
        if origin.shape != (3,) or not np.isfinite(origin).all():
            raise ValueError(f"map info.origin: expected finite x, y, yaw, got {origin.tolist()}")
        if len(data) != width * height:
            raise ValueError(f"map data: expected width x height = {width * height} cells, got {len(data)}")
        arr = np.frombuffer(bytes(np.asarray(data, dtype=np.int8).tobytes()), dtype=np.int8)
        return cls(frame, arr.reshape(height, width), float(resolution_m), origin)


def seed_grid(grid, prior: MapArrays, map_to_odom, occupied_logodds: float = 2.0,
              free_logodds: float = -1.0, occupied_threshold: int = 65, free_threshold: int = 25) -> int:
    """Write the prior map into ``grid`` (planner_node.grid.OccupancyGrid, odom frame), given
    the pose of odom in the map's frame (``map_to_odom``). Returns the number of cells seeded."""
    n = grid.n
    ij = np.stack(np.meshgrid(np.arange(n), np.arange(n)), -1).reshape(-1, 2)   # (n*n, 2) (ix, iy)
    centres = grid.to_world(ij)                                                  # odom
    in_map = apply_points(map_to_odom, centres)                                  # map frame
    local = apply_points(inverse(prior.origin), in_map) / prior.resolution_m     # map cells
    h, w = prior.data.shape
    col, row = np.floor(local[:, 0]).astype(np.int64), np.floor(local[:, 1]).astype(np.int64)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    vals = np.full(len(ij), -1, dtype=np.int16)
    vals[inside] = prior.data[row[inside], col[inside]]
    occ = vals >= occupied_threshold
    free = (vals >= 0) & (vals < free_threshold)
    flat = grid.logodds.reshape(-1)
    flat[occ] = occupied_logodds
    flat[free] = free_logodds
    seeded = occ | free
    if seeded.any():
        s = ij[seeded]
        grid.known_lo = np.minimum(grid.known_lo, s.min(0))
        grid.known_hi = np.maximum(grid.known_hi, s.max(0))
    np.clip(grid.logodds, grid.l_min, grid.l_max, out=grid.logodds)
    return int(seeded.sum())

