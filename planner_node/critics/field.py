"""Geometry the body-aware critics share: the local distance field built from the latest scan,
and the robot footprint as a row of circles measured against it."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import distance_transform_edt


class DistanceField:
    """Distance (m) to the nearest obstacle point over a local square grid, bilinear lookup.

    Built from points (K, 2) in the odom frame around a centre; cells outside the grid read as
    ``far_m``. Construction: one EDT over (n, n) cells (≈1 ms for 100 x 100).
    """

    def __init__(self, points_xy: np.ndarray, center_xy, size_m: float = 10.0, res_m: float = 0.1,
                 device: torch.device | str = "cpu", far_m: float = 10.0):
        n = int(round(size_m / res_m))
        self.res, self.n, self.far = res_m, n, far_m
        self.origin = np.asarray(center_xy, dtype=np.float64) - size_m / 2.0
        occ = np.zeros((n, n), dtype=bool)                                  # [iy, ix]
        pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        if len(pts):
            ij = np.floor((pts - self.origin) / res_m).astype(np.int64)
            ok = (ij >= 0).all(1) & (ij < n).all(1)
            occ[ij[ok, 1], ij[ok, 0]] = True
        if occ.any():
            dist = distance_transform_edt(~occ) * res_m
        else:
            dist = np.full((n, n), far_m)
        self.grid = torch.as_tensor(np.minimum(dist, far_m), dtype=torch.float32, device=device)[None, None]
        self.device = torch.device(device)
        self._padded: np.ndarray | None = None

    def padded(self) -> np.ndarray:
        """The distances as a float32 (n + 1, n + 1) array, [iy, ix], with a row and a column of
        zeros after them (the compiled footprint check's layout; made once per field)."""
        if self._padded is None:
            g = np.zeros((self.n + 1, self.n + 1), np.float32)
            g[:self.n, :self.n] = self.grid[0, 0].cpu().numpy()
            self._padded = g
        return self._padded

    def lookup(self, xy: torch.Tensor) -> torch.Tensor:
        """xy (..., 2) metres → distance (...) metres."""
        shape = xy.shape[:-1]
        span = self.n * self.res
        o = torch.as_tensor(self.origin, dtype=xy.dtype, device=xy.device)
        g = (xy.reshape(1, -1, 1, 2) - o) / span * 2.0 - 1.0              # normalised [-1, 1]
        d = F.grid_sample(self.grid, g, mode="bilinear", padding_mode="border", align_corners=False)
        d = d.reshape(shape)
        outside = (g.reshape(*shape, 2).abs() > 1.0).any(-1)
        return torch.where(outside, torch.full_like(d, self.far), d)

    def lookup_body(self, poses: torch.Tensor, points: torch.Tensor, reach_m: float) -> torch.Tensor:
        """The distance at body-frame ``points`` (n, 2) of each of ``poses`` (..., 3) → (..., n):
        what ``lookup`` gives at those points in the odom frame, computed in the grid's
        normalised coordinates (one pass fewer over the (..., n, 2) points); the test for points
        outside the grid is skipped when every pose lies at least ``reach_m`` (the farthest
        point's distance from base_link) inside it."""
        a = 2.0 / (self.n * self.res)
        o = torch.as_tensor(self.origin, dtype=poses.dtype, device=poses.device)
        xy = (poses[..., :2] - o) * a - 1.0                                          # (..., 2)
        c, s = torch.cos(poses[..., 2:3]), torch.sin(poses[..., 2:3])                # (..., 1)
        qa = points * a                                                               # (n, 2)
        g = torch.stack([xy[..., 0:1] + qa[:, 0] * c - qa[:, 1] * s,
                         xy[..., 1:2] + qa[:, 0] * s + qa[:, 1] * c], -1)            # (..., n, 2)
        d = F.grid_sample(self.grid, g.reshape(1, -1, 1, 2), mode="bilinear", padding_mode="border",
                          align_corners=False).reshape(g.shape[:-1])
        # some point may be outside (a NaN pose leaves the bound NaN: then check, do not skip)
        if xy.numel() and not float(xy.abs().amax()) + a * reach_m < 1.0:
            d = torch.where(g.abs().amax(-1) > 1.0, torch.full_like(d, self.far), d)
        return d


class Footprint:
    """A length x width rectangle centred on base_link, measured against a DistanceField as a
    set of body-frame points q, each with an inset e(q): clearance = min over q of field(q) - e(q).

    - circles (default): ``circles`` equal circles along the body axis that cover the rectangle
      (1 = one circumscribed circle); q = the centres, e = the circles' radius. Safe but wider than
      the body, most at the ends: with 5 circles the Jackal's 0.508 m reads ~0.85 m long on its axis.
    - ``exact``: points along the rectangle's edge every ``EXACT_SPACING_M`` or closer (e = 0) and
      along its long axis (e = their distance to the edge). No point of an edge sample is outside
      the body, and the disc of radius e(q) around an axis point lies inside it, so every term is
      at least the true clearance; the edge samples overestimate it by at most half their spacing,
      and an obstacle inside the body reads negative.
    - ``round_base``: exactly the circle of diameter max(length, width) (a TurtleBot 4's base).

    ``padding_m`` is subtracted from every clearance (a safety margin around the body, as nav2's
    footprint_padding)."""

    EXACT_SPACING_M = 0.04

    def __init__(self, length_m: float, width_m: float, circles: int, round_base: bool = False,
                 exact: bool = False, padding_m: float = 0.0):
        self.padding = float(padding_m)
        self.kind = "round" if round_base else "exact" if exact else "circles"
        self.half = (float(length_m) / 2, float(width_m) / 2)       # (m) the rectangle's half length, half width
        if round_base:
            pts, inset = [(0.0, 0.0)], [float(max(length_m, width_m) / 2)]
        elif exact:
            hl, hw = length_m / 2, width_m / 2
            nx = max(2, int(np.ceil(length_m / self.EXACT_SPACING_M)) + 1)
            ny = max(2, int(np.ceil(width_m / self.EXACT_SPACING_M)) + 1)
            xs, ys = np.linspace(-hl, hl, nx), np.linspace(-hw, hw, ny)[1:-1]
            edge = [(x, y) for x in xs for y in (-hw, hw)] + [(x, y) for x in (-hl, hl) for y in ys]
            short = min(hl, hw)
            axis = np.linspace(-hl + short, hl - short, max(1, int(np.ceil((2 * (hl - short)) / short)) + 1)) \
                if hl >= hw else np.zeros(1)
            pts = edge + [(x, 0.0) for x in axis]
            inset = [0.0] * len(edge) + [short] * len(axis)
        else:
            a = length_m / (2 * circles)
            pts = [(-length_m / 2 + a + 2 * a * k, 0.0) for k in range(circles)]   # along x (m)
            inset = [float(np.hypot(a, width_m / 2))] * circles
        self.points = np.asarray(pts, dtype=np.float64)           # (n, 2) body frame (m)
        self.inset = np.asarray(inset, dtype=np.float64)          # (n,) m
        #: the distinct offsets of the points along the body axis (the moving-obstacle check's circle centres)
        self.offsets = sorted({float(x) for x in self.points[:, 0]})
        self.radius = float(self.inset.max())
        self.reach = float(np.linalg.norm(self.points, axis=1).max())   # farthest point from base_link (m)
        self._f32 = None                                           # float32 copies for the compiled loop

    @classmethod
    def of(cls, cfg) -> "Footprint":
        """The footprint a CriticsConfig describes (footprint_length_m, _width_m, _circles, _round,
        _exact, _padding_m)."""
        return cls(cfg.footprint_length_m, cfg.footprint_width_m, cfg.footprint_circles,
                   bool(getattr(cfg, "footprint_round", False)), bool(getattr(cfg, "footprint_exact", False)),
                   float(getattr(cfg, "footprint_padding_m", 0.0)))

    def distance(self, poses: torch.Tensor, field: DistanceField) -> torch.Tensor:
        """poses (..., 3) → (...) signed clearance (m) of the footprint (negative = overlap; NaN
        for a NaN pose or an infinite yaw, which a critic's cost then refuses). On the CPU in
        float32 one compiled pass per pose (``step_kernel.get_footprint_min``), the same lookups
        as PyTorch's below within float32 rounding; elsewhere, or without numba, PyTorch's."""
        d = self._compiled(poses, field)
        if d is None:
            q = torch.as_tensor(self.points, dtype=poses.dtype, device=poses.device)    # (n, 2)
            e = torch.as_tensor(self.inset, dtype=poses.dtype, device=poses.device)     # (n,)
            d = (field.lookup_body(poses, q, self.reach) - e).amin(-1)
            # a NaN pose (or an infinite yaw) has no place to measure: NaN, as the compiled loop
            # gives, never the border's value that grid_sample reads for it
            bad = torch.isnan(poses[..., :2]).any(-1) | ~torch.isfinite(poses[..., 2])
            d = d.masked_fill(bad, float("nan"))
        return d - self.padding

    #: False: always PyTorch's lookups (the tests compare the two)
    compiled = True

    def _compiled(self, poses: torch.Tensor, field: DistanceField) -> torch.Tensor | None:
        """min over the points of field - inset, from the compiled loop, or None where it does not
        apply (not the CPU, not float32, numba missing)."""
        if not self.compiled or poses.device.type != "cpu" or poses.dtype != torch.float32 \
                or field.grid.device.type != "cpu" or field.grid.dtype != torch.float32 or poses.shape[-1] != 3:
            return None
        from world_model_planner.world_model_node.step_kernel import get_footprint_min

        kernel = get_footprint_min()
        if kernel is None:
            return None
        consts = np.array([field.origin[0], field.origin[1], 2.0 / (field.n * field.res), field.far], dtype=np.float32)
        if self._f32 is None or self._f32[2] != consts[2]:    # the points in the grid's scale, as lookup_body
            pts = torch.as_tensor(self.points, dtype=torch.float32) * float(consts[2])
            self._f32 = (pts.numpy(), self.inset.astype(np.float32), consts[2])
        flat = poses.reshape(-1, 3).contiguous()
        out = torch.empty(flat.shape[0], dtype=torch.float32)
        kernel(flat.numpy(), self._f32[0], self._f32[1], field.padded(), consts, out.numpy())
        return out.reshape(poses.shape[:-1])

    def mover_distance(self, poses: torch.Tensor, at: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
        """poses (B, H, 3), discs at each step (H, M, 2) of radius (M,) → (B, H) signed clearance
        (m, negative = overlap) of the footprint to the nearest disc, less the padding.

        ``exact``: the disc against the rectangle itself (its centre in the body frame, the
        rectangle's signed distance, less the disc's radius). ``circles`` and ``round``: against
        the same covering circles the static check uses (their centres at ``offsets`` on the
        body axis, radius ``radius``), as wide as that check reads the body."""
        c, s = torch.cos(poses[..., 2:3]), torch.sin(poses[..., 2:3])                      # (B, H, 1)
        if self.kind == "exact":
            dx = at[None, ..., 0] - poses[..., 0:1]                                           # (B, H, M)
            dy = at[None, ..., 1] - poses[..., 1:2]
            qx = (c * dx + s * dy).abs() - self.half[0]
            qy = (c * dy - s * dx).abs() - self.half[1]
            sd = torch.hypot(qx.clamp_min(0.0), qy.clamp_min(0.0)) + torch.maximum(qx, qy).clamp_max(0.0)
            return (sd - radius).amin(-1) - self.padding
        off = torch.as_tensor(self.offsets, dtype=poses.dtype, device=poses.device)         # (n,) distinct
        centres = torch.stack([poses[..., 0:1] + off * c, poses[..., 1:2] + off * s], -1)   # (B, H, n, 2)
        gap = torch.linalg.norm(centres[:, :, :, None, :] - at[None, :, None], dim=-1)      # (B, H, n, M)
        return (gap - radius).amin(dim=(2, 3)) - self.radius - self.padding
