"""The planning cost: a sum of small named critics, each with ``enabled``, ``weight`` and
``power``, each measurable alone (``Critics.breakdown``).

Every critic maps (actions (B, H, 2), rollout, context) → (B,) cost. Poses always come from the
model's prediction (rollout.poses), never from a kinematic guess, so the same critics score
the learned model and the ideal unicycle alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import distance_transform_edt

from world_model_planner.core.params import param, validate

CRITIC_NAMES = ("goal", "heading", "collision", "clearance", "effort", "smoothness", "progress", "path")


@dataclass
class CriticsConfig:
    goal_enabled: bool = param(True, "Use the goal critic (distance from the last predicted pose to the target).")
    goal_weight: float = param(5.0, "Weight of the goal critic (per metre).", range=(0.0, 1e6))
    goal_power: float = param(1.0, "Exponent of the goal critic.", range=(0.5, 4.0))
    heading_enabled: bool = param(True, "Use the heading critic (yaw error at the final goal, when a goal yaw is given).")
    heading_weight: float = param(2.0, "Weight of the heading critic (per rad).", range=(0.0, 1e6))
    heading_power: float = param(1.0, "Exponent of the heading critic.", range=(0.5, 4.0))
    heading_radius_m: float = param(1.0, "Heading critic acts when the predicted end is this close to the goal.", range=(0.0, 10.0))
    collision_enabled: bool = param(True, "Use the collision critic (P(any contact) from the model's collision head).")
    collision_weight: float = param(100.0, "Weight of the collision critic.", range=(0.0, 1e6))
    collision_power: float = param(1.0, "Exponent of the collision critic.", range=(0.5, 4.0))
    clearance_enabled: bool = param(True, "Use the clearance critic (latest scan vs the predicted footprint).")
    clearance_weight: float = param(3.0, "Weight of the clearance critic (soft margin part).", range=(0.0, 1e6))
    clearance_power: float = param(2.0, "Exponent of the clearance critic's margin violation.", range=(0.5, 4.0))
    clearance_margin_m: float = param(0.3, "Soft margin beyond the footprint that still costs (m).", range=(0.0, 3.0))
    clearance_lethal_cost: float = param(1000.0, "Cost of a sequence whose predicted footprint touches a scan point.", range=(0.0, 1e9))
    effort_enabled: bool = param(True, "Use the effort critic (mean squared normalised command).")
    effort_weight: float = param(0.1, "Weight of the effort critic.", range=(0.0, 1e6))
    effort_power: float = param(1.0, "Exponent of the effort critic.", range=(0.5, 4.0))
    reverse_weight: float = param(2.0, "Extra effort cost per m/s of backwards motion.", range=(0.0, 1e6))
    smoothness_enabled: bool = param(True, "Use the smoothness critic (mean squared change between steps).")
    smoothness_weight: float = param(0.3, "Weight of the smoothness critic.", range=(0.0, 1e6))
    smoothness_power: float = param(1.0, "Exponent of the smoothness critic.", range=(0.5, 4.0))
    progress_enabled: bool = param(True, "Use the progress critic (mean distance to target over the horizon, minus the current one).")
    progress_weight: float = param(2.0, "Weight of the progress critic (per metre).", range=(0.0, 1e6))
    progress_power: float = param(1.0, "Exponent of the progress critic (applied to |value|, sign kept).", range=(0.5, 4.0))
    path_enabled: bool = param(True, "Use the path critic (mean distance of the predicted poses to the global path, when there is one).")
    path_weight: float = param(2.0, "Weight of the path critic (per metre).", range=(0.0, 1e6))
    path_power: float = param(1.0, "Exponent of the path critic.", range=(0.5, 4.0))
    footprint_length_m: float = param(0.99, "Robot footprint along x (m), centred on base_link.", range=(0.05, 10.0))
    footprint_width_m: float = param(0.67, "Robot footprint along y (m), centred on base_link.", range=(0.05, 10.0))
    footprint_circles: int = param(5, "Circles along the body axis that cover the footprint (1 = one circumscribed circle).", range=(1, 8))

    def __post_init__(self):
        validate(self)


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


@dataclass
class CostContext:
    """What the critics need besides the rollout.

    target: (2,) point the low level steers to (subgoal or goal); final: target is the goal;
    path: (P, 2) densely sampled global path ahead of the robot, or None;
    goal_yaw: rad or None; start: (3,) current pose; a0: (2,) current command;
    field: DistanceField of the latest scan or None; accel: (2,) limits; dt_s: model step.
    """

    target: torch.Tensor
    start: torch.Tensor
    a0: torch.Tensor
    final: bool = True
    goal_yaw: float | None = None
    field: DistanceField | None = None
    path: torch.Tensor | None = None        # (P, 2) global path points near the robot
    a_max: tuple = (1.0, 1.5)
    d_max: tuple = (0.15, 0.3)


class Critics:
    """Sum of enabled, weighted critics. ``__call__`` → (B,); ``breakdown`` → {name: (B,)}."""

    def __init__(self, cfg: CriticsConfig):
        self.cfg = cfg
        self._hit = None

    def raw(self, name: str, actions: torch.Tensor, roll, ctx: CostContext) -> torch.Tensor:
        """Unweighted cost of one critic, (B,)."""
        c = self.cfg
        poses = roll.poses                                                      # (B, H, 3)
        if name == "goal":
            return torch.linalg.norm(poses[:, -1, :2] - ctx.target, dim=-1)
        if name == "heading":
            if ctx.goal_yaw is None or not ctx.final:
                return poses.new_zeros(poses.shape[0])
            err = torch.remainder(poses[:, -1, 2] - ctx.goal_yaw + torch.pi, 2 * torch.pi) - torch.pi
            near = torch.linalg.norm(poses[:, -1, :2] - ctx.target, dim=-1) < c.heading_radius_m
            return torch.where(near, err.abs(), torch.zeros_like(err))
        if name == "collision":
            if roll.collision_prob is None:
                return poses.new_zeros(poses.shape[0])
            p = roll.collision_prob.clamp(0.0, 1.0)
            return 1.0 - torch.prod(1.0 - p, dim=1)                             # P(any contact)
        if name == "clearance":
            if ctx.field is None:
                return poses.new_zeros(poses.shape[0])
            d = self.footprint_distance(poses, ctx.field)                     # (B, H)
            self._hit = (d < 0).any(1).float()                                  # for the lethal term
            return (torch.relu(c.clearance_margin_m - d) / max(c.clearance_margin_m, 1e-6)).mean(1)
        if name == "effort":
            a_max = torch.as_tensor(ctx.a_max, dtype=actions.dtype, device=actions.device)
            e = ((actions / a_max) ** 2).sum(-1).mean(1)
            return e + c.reverse_weight / max(c.effort_weight, 1e-9) * torch.relu(-actions[..., 0]).mean(1)
        if name == "smoothness":
            d_max = torch.as_tensor(ctx.d_max, dtype=actions.dtype, device=actions.device)
            prev = torch.cat([ctx.a0.expand(actions.shape[0], 1, 2), actions[:, :-1]], dim=1)
            return (((actions - prev) / d_max) ** 2).sum(-1).mean(1)
        if name == "progress":
            d = torch.linalg.norm(poses[..., :2] - ctx.target, dim=-1).mean(1)
            return d - torch.linalg.norm(ctx.start[:2] - ctx.target)
        if name == "path":
            if ctx.path is None or len(ctx.path) == 0:
                return poses.new_zeros(poses.shape[0])
            d = torch.cdist(poses[..., :2].reshape(-1, 2), ctx.path).min(-1).values    # (B*H,)
            return d.reshape(poses.shape[:2]).mean(1)
        raise KeyError(f"unknown critic '{name}', expected one of {CRITIC_NAMES}")

    def footprint_circles(self) -> tuple[list[float], float]:
        """Offsets along the body axis and the common radius of circles covering the footprint."""
        c = self.cfg
        n = c.footprint_circles
        a = c.footprint_length_m / (2 * n)
        offsets = [-c.footprint_length_m / 2 + a + 2 * a * k for k in range(n)]
        return offsets, float(np.hypot(a, c.footprint_width_m / 2))

    def footprint_distance(self, poses: torch.Tensor, field: DistanceField) -> torch.Tensor:
        """poses (..., 3) → (...) signed clearance (m) of the footprint (negative = overlap)."""
        offsets, r = self.footprint_circles()
        off = torch.as_tensor(offsets, dtype=poses.dtype, device=poses.device)          # (n,)
        c, s = torch.cos(poses[..., 2:3]), torch.sin(poses[..., 2:3])
        centres = torch.stack([poses[..., 0:1] + off * c, poses[..., 1:2] + off * s], -1)  # (..., n, 2)
        return field.lookup(centres).min(-1).values - r

    def enabled(self) -> list[str]:
        return [n for n in CRITIC_NAMES if getattr(self.cfg, f"{n}_enabled")]

    def breakdown(self, actions, roll, ctx) -> dict[str, torch.Tensor]:
        out = {}
        for n in self.enabled():
            raw = self.raw(n, actions, roll, ctx)
            p = getattr(self.cfg, f"{n}_power")
            if p != 1.0:
                raw = raw.sign() * raw.abs().pow(p)
            out[n] = getattr(self.cfg, f"{n}_weight") * raw
            if n == "clearance" and ctx.field is not None:
                # touching a scan point is lethal whatever the soft weight and power
                out[n] = out[n] + self.cfg.clearance_lethal_cost * self._hit
        return out

    def __call__(self, actions, roll, ctx) -> torch.Tensor:
        parts = self.breakdown(actions, roll, ctx)
        total = torch.zeros(actions.shape[0], device=actions.device)
        for v in parts.values():
            total = total + v
        return total


