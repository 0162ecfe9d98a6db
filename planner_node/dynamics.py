"""Motion models the planner rolls action sequences through.

Both models share one interface, so MPPI and the critics never know which one they drive:

    state = model.reset_state(pose (3,), vel (2,), scan (N,))
    out = model.rollout(state, actions)      # actions (B, H, 2) = (v m/s, w rad/s) per step
    out.poses (B, H, 3)  x, y, yaw after each step, odom frame
    out.collision_prob (B, H) or None        # P(contact during step), learned model only

``UnicycleModel`` is ideal kinematics (the ``classic`` planner, and the stand-in for tests).
``LearnedModel`` wraps a world_model_node ``WorldModel``: encode once per tick, roll the latent
forward, read poses and the collision head.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from world_model_planner.core.mathutil import wrap_angle
from world_model_planner.world_model_node.model import observation


@dataclass
class Rollout:
    """poses: (B, H, 3) x, y, yaw per step; collision_prob: (B, H) in [0, 1] or None."""

    poses: torch.Tensor
    collision_prob: torch.Tensor | None = None


def clean_scan(scan, range_max_m: float) -> np.ndarray:
    """(N,) ranges: inf → range_max (no return), nan/negative → range_max (invalid, ignored)."""
    s = np.asarray(scan, dtype=np.float32).copy()
    bad = ~np.isfinite(s) | (s < 0)
    s[bad] = range_max_m
    return np.minimum(s, range_max_m)


class UnicycleModel:
    """Ideal unicycle kinematics: the commanded (v, w) is the velocity over each step.

    Integration is exact for constant (v, w) over a step and fully vectorised over the horizon
    (cumulative sums, no Python loop).
    """

    def __init__(self, dt_s: float = 0.1, device: torch.device | str = "cpu"):
        self.dt_s = float(dt_s)
        self.device = torch.device(device)

    def observe_scan(self, scan, geom=None, unseen_range_m: float = 1.0):
        """The scan as this model reads it: the unicycle does not read it."""
        return scan

    def reset_state(self, pose, vel, scan=None) -> dict:
        return {"pose": torch.as_tensor(np.asarray(pose, dtype=np.float32), device=self.device)}

    @torch.inference_mode()
    def rollout(self, state: dict, actions: torch.Tensor) -> Rollout:
        """actions (B, H, 2) → Rollout(poses (B, H, 3), None)."""
        pose0 = state["pose"]
        v, w = actions[..., 0], actions[..., 1]                       # (B, H)
        dth = w * self.dt_s
        yaw_end = pose0[2] + torch.cumsum(dth, dim=1)                  # (B, H)
        yaw_start = yaw_end - dth
        # exact arc: ds * sinc(dth/2) along the mid-step heading
        half = 0.5 * dth
        small = half.abs() < 1e-4
        sinc = torch.where(small, 1.0 - half * half / 6.0, torch.sin(half) / torch.where(small, torch.ones_like(half), half))
        ds = v * self.dt_s * sinc
        mid = yaw_start + half
        x = pose0[0] + torch.cumsum(ds * torch.cos(mid), dim=1)
        y = pose0[1] + torch.cumsum(ds * torch.sin(mid), dim=1)
        yaw = wrap_angle(yaw_end)
        return Rollout(torch.stack([x, y, yaw], dim=-1), None)


class LearnedModel:
    """The learned world model behind the planner interface.

    ``model`` is a world_model_node ``WorldModel`` (encode / rollout / pose / collision_logit).
    The observation is built from the model's ``obs_spec`` (scan beams, range max); a model that
    needs a camera image cannot be used by the planner (it is refused at construction).
    """

    def __init__(self, model, device: torch.device | str | None = None):
        self.model = model
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.dt_s = float(model.dt_s)
        spec = getattr(model, "obs_spec", None)
        self.beams = _spec_get(spec, ("scan_beams", "beams", "n_beams"), None)
        self.range_max_m = float(_spec_get(spec, ("scan_range_max", "range_max", "range_max_m"), 8.0))
        if _spec_get(spec, ("image", "use_image", "image_on"), False):
            raise ValueError("the planner feeds pose, velocity and scan only; this checkpoint "
                             "expects a camera image (obs_spec.image is on)")

    @classmethod
    def from_checkpoint(cls, path: str, device=None) -> "LearnedModel":
        from world_model_planner.world_model_node.checkpoint import load_checkpoint

        return cls(load_checkpoint(path, device=device), device=device)

    def observe_scan(self, scan, geom=None, unseen_range_m: float = 1.0) -> np.ndarray:
        """(beams,) the scan on this model's beam layout (``beams`` over 360° from -π).

        A scan of another layout (other beam count, another angle_min or increment, less than
        360°) is projected with ``sensor_check.resample_scan`` (nearest beam). Beams of the
        layout that the lidar does not cover read as a return at ``unseen_range_m``: unseen
        space is treated as an obstacle nearby, never as free. Invalid beams (NaN) inside the
        covered arc stay NaN (``clean_scan`` reads them as no return, as before)."""
        scan = np.asarray(scan, dtype=np.float64).reshape(-1)
        if geom is None or self.beams is None:
            return scan
        n = int(self.beams)
        if geom.n == n and abs(geom.angle_min + math.pi) < 1e-4 and abs(geom.angle_increment - 2 * math.pi / n) < 1e-6:
            return scan
        from world_model_planner.core.sensor_check import resample_scan

        out = resample_scan(scan, geom, n, -math.pi)
        covered = ~np.isnan(resample_scan(np.zeros(geom.n), geom, n, -math.pi))
        out[~covered] = unseen_range_m
        return out

    @torch.inference_mode()
    def reset_state(self, pose, vel, scan) -> dict:
        scan = clean_scan(scan, self.range_max_m)
        if self.beams is not None and scan.shape[0] != int(self.beams):
            raise ValueError(f"scan has {scan.shape[0]} beams, the world model expects {self.beams}")
        dev = self.device
        obs = observation(torch.as_tensor(np.asarray(pose, np.float32), device=dev)[None],
                          torch.as_tensor(np.asarray(vel, np.float32), device=dev)[None],
                          torch.as_tensor(scan, device=dev)[None])
        return {"z": self.model.encode(obs)}                               # (1, D)

    @torch.inference_mode()
    def rollout(self, state: dict, actions: torch.Tensor) -> Rollout:
        z = self.model.rollout(state["z"], actions)                          # (B, H, D)
        poses = self.model.pose(z)                                           # (B, H, 3)
        coll = torch.sigmoid(self.model.collision_logit(z))                 # (B, H)
        return Rollout(poses, coll)


def _spec_get(spec, names, default):
    if spec is None:
        return default
    for n in names:
        if isinstance(spec, dict) and n in spec:
            return spec[n]
        if hasattr(spec, n):
            return getattr(spec, n)
    return default


