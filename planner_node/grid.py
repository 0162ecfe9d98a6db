"""A log-odds occupancy grid built from laser scans only (no prior map).

Cells start unknown (log-odds 0). Each scan lowers the log-odds of the cells a beam crosses and
raises it at the beam's end point (when there is a return). The cells a beam crosses are marked
by a compiled loop (numba, ``world_model_node/_kernels_numba.ray_free``; `wmp bench-model
--profile`'s "grid update" shows its cost) and, where numba is missing, by the same arithmetic
vectorised in numpy, several times slower, which marks the same cells.

Edges are kept (``keep_edges``): a cell that already holds obstacle evidence (log-odds above 0)
and touches a cell with a return in the same scan (8-neighbourhood) is not lowered by that scan.
An obstacle that fills only part of a cell, such as a thin post, is hit in that cell from one side,
and beams from another side graze the empty part of the cell; without the rule the cell flickers
between occupied and free as the robot moves, and a narrow gap opens and closes with it (seen on
BARN worlds: the global route flipped back and forth between a gap and a detour). A moving
obstacle still clears behind it as soon as its returns are more than a cell away.
"""
from __future__ import annotations

import math

import numpy as np


def in_sector(bearing_rad, lo_rad: float, hi_rad: float) -> np.ndarray:
    """True where ``bearing_rad`` (any shape, any turn) lies in the sector from ``lo_rad`` to
    ``hi_rad`` (counter-clockwise; a sector of 2 pi or more holds every bearing)."""
    span = hi_rad - lo_rad
    if span >= 2 * math.pi:
        return np.ones(np.shape(bearing_rad), dtype=bool)
    return np.remainder(np.asarray(bearing_rad) - lo_rad, 2 * math.pi) <= span


def seen_sector(angle_min: float, angle_increment: float, beams: int) -> tuple[float, float] | None:
    """(lo, hi) bearings (rad, from the sensor's heading, lo < hi) a lidar of less than 360
    degrees covers, whichever way it sweeps; None for a full circle."""
    span = angle_increment * (beams - 1)
    if abs(span) >= 2 * math.pi - 2 * abs(angle_increment):
        return None
    return (angle_min, angle_min + span) if span >= 0 else (angle_min + span, angle_min)


class OccupancyGrid:
    """Square grid centred on ``center_xy``; ``logodds`` is (n, n) indexed [iy, ix]."""

    def __init__(self, size_m: float = 30.0, res_m: float = 0.1, center_xy=(0.0, 0.0),
                 l_hit: float = 0.9, l_miss: float = -0.4, l_min: float = -2.0, l_max: float = 3.5,
                 keep_edges: bool = True):
        self.res = float(res_m)
        self.n = int(round(size_m / res_m))
        self.size_m = self.n * self.res
        self.origin = np.asarray(center_xy, dtype=np.float64) - self.size_m / 2.0
        self.logodds = np.zeros((self.n, self.n), dtype=np.float32)
        self.l_hit, self.l_miss, self.l_min, self.l_max = l_hit, l_miss, l_min, l_max
        self.keep_edges = bool(keep_edges)
        # (ix, iy) bounds of every cell any scan could have touched so far
        self.known_lo = np.array([self.n, self.n])
        self.known_hi = np.array([-1, -1])

    # --- coordinates -------------------------------------------------------------------------
    def contains(self, x: float, y: float) -> bool:
        lo, hi = self.origin, self.origin + self.size_m
        return bool(lo[0] <= x < hi[0] and lo[1] <= y < hi[1])

    def to_cell(self, xy) -> np.ndarray:
        """(..., 2) metres → (..., 2) int cell indices (ix, iy), clipped into the grid."""
        ij = np.floor((np.asarray(xy, dtype=np.float64) - self.origin) / self.res).astype(np.int64)
        return np.clip(ij, 0, self.n - 1)

    def to_world(self, ij) -> np.ndarray:
        """(..., 2) cell indices (ix, iy) → (..., 2) cell centres in metres."""
        return self.origin + (np.asarray(ij, dtype=np.float64) + 0.5) * self.res

    # --- state -------------------------------------------------------------------------------
    def occupied(self, threshold: float = 0.5) -> np.ndarray:
        return self.logodds > threshold

    def unknown(self, band: float = 0.2) -> np.ndarray:
        return np.abs(self.logodds) <= band

    def clear_disc(self, center_xy, radius_m: float, heading_rad: float | None = None,
                   sector_rad: tuple[float, float] | None = None) -> None:
        """Forget (set unknown) every cell within ``radius_m`` of ``center_xy``. With
        ``heading_rad`` and ``sector_rad`` (lo, hi, relative to the heading): only the cells whose
        centre's bearing from ``center_xy`` lies in that sector, the part a sensor there looks at
        and senses again at once; the rest (behind a lidar of less than 360 degrees) is kept."""
        c = np.asarray(center_xy, dtype=np.float64)
        lo = self.to_cell(c - radius_m)
        hi = self.to_cell(c + radius_m) + 1
        xs = self.origin[0] + (np.arange(lo[0], hi[0]) + 0.5) * self.res
        ys = self.origin[1] + (np.arange(lo[1], hi[1]) + 0.5) * self.res
        near = np.hypot(xs[None, :] - c[0], ys[:, None] - c[1]) <= radius_m
        if heading_rad is not None and sector_rad is not None:
            bearing = np.arctan2(ys[:, None] - c[1], xs[None, :] - c[0]) - heading_rad
            near &= in_sector(bearing, *sector_rad)
        self.logodds[lo[1]:hi[1], lo[0]:hi[0]][near] = 0.0

    # --- update ------------------------------------------------------------------------------
    def integrate(self, pose, scan, angle_min: float = -math.pi, angle_increment: float | None = None,
                  range_max_m: float = 8.0, chunk: int = 256) -> None:
        """Ray-cast one scan taken at ``pose`` (x, y, yaw). scan (N,): inf = no return,
        nan = invalid (skipped). Beam i points at ``angle_min + i * angle_increment`` (default
        increment: N beams over 360°), so lidars of less than 360° are projected correctly.
        Rays are cast at most ``range_max_m`` (and never beyond the grid's diagonal), ``chunk``
        beams at a time, so the work is bounded whatever the scan claims."""
        r = np.asarray(scan, dtype=np.float64).reshape(-1)
        N = r.shape[0]
        if N == 0:
            return
        if angle_increment is None:
            angle_increment = 2 * math.pi / N
        reach = float(min(range_max_m, math.sqrt(2.0) * self.size_m))
        ang = pose[2] + angle_min + angle_increment * np.arange(N)
        valid = ~np.isnan(r)
        hit = valid & np.isfinite(r) & (r < reach)
        step = 0.5 * self.res
        t = np.arange(0.0, reach, step)                                          # (M,)
        miss = np.zeros(self.n * self.n, dtype=bool)    # each cell updated once per scan
        box = self._free_compiled(pose, ang[valid], np.where(hit, r, reach)[valid], t, step, miss)
        if box is None:                                 # numpy, ``chunk`` beams at a time
            free_parts = []
            for s in range(0, N, chunk):
                sl = slice(s, min(N, s + chunk))
                v, h = valid[sl], hit[sl]
                length = np.where(h, r[sl], reach)[v]                            # (V,)
                dirs = np.stack([np.cos(ang[sl][v]), np.sin(ang[sl][v])], axis=-1)   # (V, 2)
                keep = t[None, :] < (length[:, None] - step)                    # (V, M)
                pts = pose[None, None, :2] + t[None, :, None] * dirs[:, None, :]     # (V, M, 2)
                free_parts.append(self._flat(pts[keep]))
            free = np.concatenate(free_parts)
            miss[free] = True
            iy, ix = np.divmod(free, self.n)
            box = (np.array([ix.min(), iy.min(), ix.max(), iy.max()]) if len(free)
                   else np.array([self.n, self.n, -1, -1]))
        hd = np.stack([np.cos(ang[hit]), np.sin(ang[hit])], -1)                  # (K, 2)
        hits = self._flat(pose[None, :2] + r[hit][:, None] * hd)
        flat = self.logodds.reshape(-1)
        miss[hits] = False
        if self.keep_edges and len(hits):
            near = self._touching(hits)
            miss[near] &= ~(flat[near] > 0.0)
        flat[miss] += self.l_miss
        hit_mask = np.zeros(flat.shape[0], dtype=bool)
        hit_mask[hits] = True
        flat[hit_mask] += self.l_hit
        if len(hits):
            iy, ix = np.divmod(hits, self.n)
            box = np.array([min(box[0], ix.min()), min(box[1], iy.min()), max(box[2], ix.max()), max(box[3], iy.max())])
        if box[2] >= 0:                                 # some cell was touched
            self.known_lo = np.minimum(self.known_lo, box[:2])
            self.known_hi = np.maximum(self.known_hi, box[2:])
        np.clip(self.logodds, self.l_min, self.l_max, out=self.logodds)

    #: False: always numpy's ray casting (the tests compare the two)
    compiled = True

    def _free_compiled(self, pose, ang, length, t, step, miss):
        """Mark the cells the beams at bearings ``ang`` cross, up to ``length`` (compiled loop,
        the numpy path's cells exactly) -> the marked cells' (ix_lo, iy_lo, ix_hi, iy_hi), or None
        where numba is missing (the caller casts with numpy)."""
        if not self.compiled:
            return None
        from world_model_planner.world_model_node.step_kernel import get_ray_free

        kernel = get_ray_free()
        if kernel is None:
            return None
        dirs = np.ascontiguousarray(np.stack([np.cos(ang), np.sin(ang)], axis=-1), dtype=np.float64)
        return kernel(float(pose[0]), float(pose[1]), dirs, np.ascontiguousarray(length, dtype=np.float64), t,
                      float(step), float(self.origin[0]), float(self.origin[1]), float(self.res), int(self.n), miss)

    def _touching(self, cells: np.ndarray) -> np.ndarray:
        """Flat indices of ``cells`` (flat) and their 8 neighbours inside the grid (unique)."""
        iy, ix = np.divmod(np.unique(cells), self.n)
        out = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                y, x = iy + dy, ix + dx
                ok = (y >= 0) & (y < self.n) & (x >= 0) & (x < self.n)
                out.append(y[ok] * self.n + x[ok])
        return np.unique(np.concatenate(out))

    def _flat(self, xy: np.ndarray) -> np.ndarray:
        ij = np.floor((xy - self.origin) / self.res).astype(np.int64)
        ok = (ij >= 0).all(-1) & (ij < self.n).all(-1)
        ij = ij[ok]
        return ij[:, 1] * self.n + ij[:, 0]
