"""JEPA-style world model: encoder(obs) -> z, predictor(z, a) -> z', heads on z.

Latent layout (D = ``latent_dim``), the same for every batch shape ``(..., D)``::

    z[..., 0:3]   pose (x_m, y_m, yaw_rad) in the odom frame (yaw unwrapped along a rollout)
    z[..., 3:5]   body-frame velocity (v_mps, w_radps)
    z[..., 5:D]   h: learned egocentric code of (scan, velocity[, image])

Only ``h`` is learned from observations, and everything the predictor sees (h, velocity,
action) is body-frame, so the dynamics it learns do not depend on where the robot is or which
way it faces: the predictor outputs a body-frame pose increment that is composed onto the pose.
That is what lets a model trained on a few layouts steer anywhere in an unseen arena.

The predictor is a residual MLP around a mid-point unicycle step: it predicts the next
velocity (acceleration limits, stopping at walls) and a small correction to the kinematic pose
increment, plus the next ``h``. ``h`` is trained in latent space against a target encoder (see
``world_model_planner.world_model_node.losses``); pose, velocity and collision are supervised.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from world_model_planner.core.params import param, validate
from world_model_planner.core.safeio import clip
from world_model_planner.core.mathutil import wrap_angle

POSE_DIMS = 3
VEL_DIMS = 2
EXPLICIT_DIMS = POSE_DIMS + VEL_DIMS


@dataclass
class WorldModelConfig:
    """Architecture and observation layout of a world model (stored in every checkpoint)."""

    scan_beams: int = param(180, "Number of lidar beams the model expects (obs layout).", range=(2, 4096))
    range_max_m: float = param(8.0, "Lidar range_max; inf/nan/over-range readings become this.", range=(0.5, 100.0))
    scan_bins: int = param(60, "Scan is min-pooled to this many sectors before encoding.", range=(1, 720))
    scan_clip_m: float = param(3.0, "Clearances are clipped here and scaled to [0, 1] (near matters most).",
                               range=(0.2, 100.0))
    footprint_length_m: float = param(0.99, "Robot footprint along x; beam clearances are measured from "
                                            "its boundary (Husky 0.99).", range=(0.0, 10.0))
    footprint_width_m: float = param(0.67, "Robot footprint along y (Husky 0.67).", range=(0.0, 10.0))
    use_image: bool = param(False, "Encode a (3, image_size, image_size) RGB image with a small CNN.")
    image_size: int = param(64, "Side of the square RGB image, pixels.", range=(16, 256))
    latent_dim: int = param(64, "Latent size D: 3 pose + 2 velocity + (D-5) learned.", range=(8, 1024))
    enc_hidden: int = param(256, "Encoder MLP width.", range=(8, 4096))
    pred_hidden: int = param(128, "Predictor MLP width (the planner's hot path).", range=(8, 4096))
    pred_layers: int = param(2, "Hidden layers in the predictor MLP.", range=(1, 8))
    head_hidden: int = param(64, "Collision head MLP width.", range=(4, 1024))
    dt_s: float = param(0.1, "Duration of one model step, seconds.", range=(0.01, 1.0))
    v_scale_mps: float = param(1.0, "Linear velocity normalisation scale.", range=(0.01, 10.0))
    w_scale_radps: float = param(1.5, "Angular velocity normalisation scale.", range=(0.01, 20.0))

    def __post_init__(self):
        _check_types(self)
        validate(self)
        if self.latent_dim <= EXPLICIT_DIMS + 2:
            raise ValueError(f"WorldModelConfig.latent_dim: expected > {EXPLICIT_DIMS + 2}, got {self.latent_dim}")
        if self.scan_bins > self.scan_beams:
            raise ValueError(f"WorldModelConfig.scan_bins: expected <= scan_beams ({self.scan_beams}), "
                             f"got {self.scan_bins}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "WorldModelConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k)[:40] for k in set(d) - names)
        if unknown:
            raise ValueError(f"WorldModelConfig: unknown fields {unknown[:10]}")
        return cls(**d)


def _check_types(cfg) -> None:
    """Each field holds its default's type (an int field an int, never 64.5 or True; a float
    field an int or a float; a bool field a bool): a one-line ValueError naming the field."""
    for f in dataclasses.fields(cfg):
        value, kind = getattr(cfg, f.name), type(f.default)
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            shown = clip(value, 40) if isinstance(value, (bool, int, float)) else f"a {type(value).__name__}"
            raise ValueError(f"{type(cfg).__name__}.{f.name}: expected {kind.__name__}, got {shown}")
        lo_hi = f.metadata.get("range")
        if lo_hi is not None and isinstance(value, numbers.Integral) and abs(int(value)).bit_length() > 62:
            raise ValueError(f"{type(cfg).__name__}.{f.name}: expected a value in [{lo_hi[0]}, {lo_hi[1]}], "
                             f"got {clip(value, 40)}")


def clean_scan(scan: torch.Tensor, range_max_m: float) -> torch.Tensor:
    """(..., N) metres with inf/nan/negatives -> (..., N) in [0, range_max_m] (nan, inf -> max)."""
    scan = torch.nan_to_num(scan, nan=range_max_m, posinf=range_max_m, neginf=range_max_m)
    return scan.clamp(0.0, range_max_m)


def observation(pose, vel, scan, image=None, *, channels_last: bool = False) -> dict:
    """The observation :meth:`WorldModel.encode` takes, built in this one place.

    pose (B, 3) x, y, yaw; vel (B, 2) v, w; scan (B, N) ranges; image (B, 3, S, S) RGB, or
    (B, S, S, 3) with ``channels_last``. Arrays or tensors; encode moves them to the model's
    device as float32 (uint8 images stay uint8) and reads a missing batch axis as B = 1.
    """
    obs = {"pose": pose, "vel": vel, "scan": scan}
    if image is not None:
        obs["image"] = image.permute(0, 3, 1, 2) if channels_last and torch.is_tensor(image) else \
            (image.transpose(0, 3, 1, 2) if channels_last else image)
    return obs


def mlp(sizes: list[int], act=nn.SiLU) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def footprint_ranges(cfg: WorldModelConfig) -> torch.Tensor:
    """(N,) distance from the base centre to the footprint boundary along each beam.

    Beams follow the project's scan convention: angle_min = -pi, N beams over 360 degrees.
    """
    th = -math.pi + torch.arange(cfg.scan_beams, dtype=torch.float64) * (2 * math.pi / cfg.scan_beams)
    half_l, half_w = cfg.footprint_length_m / 2, cfg.footprint_width_m / 2
    along_x = half_l / th.cos().abs().clamp(min=1e-9)
    along_y = half_w / th.sin().abs().clamp(min=1e-9)
    return torch.minimum(along_x, along_y).float()


class ScanEncoder(nn.Module):
    """(B, N) metres -> (B, scan_bins + 1) features in [0, 1].

    Each beam's range becomes a clearance from the robot's footprint boundary (contact = 0
    whatever the beam's direction), min-pooled into sectors, clipped and scaled; the last
    feature is the smallest clearance of all beams.
    """

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.range_max_m = cfg.range_max_m
        self.bins = cfg.scan_bins
        self.clip_m = min(cfg.scan_clip_m, cfg.range_max_m)
        self.out_dim = cfg.scan_bins + 1
        self.register_buffer("footprint_m", footprint_ranges(cfg), persistent=False)

    def forward(self, scan: torch.Tensor) -> torch.Tensor:
        c = (clean_scan(scan, self.range_max_m) - self.footprint_m).clamp(0.0, self.clip_m) / self.clip_m
        pooled = c
        if c.shape[-1] != self.bins:  # min over each sector keeps the nearest obstacle
            pooled = -F.adaptive_max_pool1d(-c.unsqueeze(1), self.bins).squeeze(1)
        return torch.cat([pooled, c.min(dim=-1, keepdim=True).values], dim=-1)


class ImageEncoder(nn.Module):
    """(B, 3, S, S) RGB in [0, 1] (or uint8 0..255) -> (B, out_dim) with a small CNN."""

    def __init__(self, cfg: WorldModelConfig, out_dim: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 5, stride=2, padding=2), nn.SiLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.SiLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(32 * 16, out_dim),
        )
        self.out_dim = out_dim

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dtype == torch.uint8:
            image = image.float() / 255.0
        return self.net(image)


class ObsEncoder(nn.Module):
    """Learned part of the encoder: (scan, vel[, image]) -> h (B, D-5). Body frame only."""

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.cfg = cfg
        self.scan = ScanEncoder(cfg)
        self.image = ImageEncoder(cfg) if cfg.use_image else None
        in_dim = self.scan.out_dim + VEL_DIMS + (self.image.out_dim if self.image is not None else 0)
        self.net = mlp([in_dim, cfg.enc_hidden, cfg.enc_hidden, cfg.latent_dim - EXPLICIT_DIMS])

    def forward(self, vel: torch.Tensor, scan: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        vel_n = vel / vel.new_tensor([self.cfg.v_scale_mps, self.cfg.w_scale_radps])
        feats = [self.scan(scan), vel_n]
        if self.image is not None:
            if image is None:
                raise ValueError("this world model encodes images: obs['image'] (B, 3, S, S) is required")
            feats.append(self.image(image))
        return self.net(torch.cat(feats, dim=-1))


class Predictor(nn.Module):
    """(z (B, D), a (B, 2)) -> z' (B, D): residual MLP around a mid-point unicycle step."""

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.cfg = cfg
        dh = cfg.latent_dim - EXPLICIT_DIMS
        self.net = mlp([dh + 4] + [cfg.pred_hidden] * cfg.pred_layers + [dh + 2 + 3])
        with torch.no_grad():  # start close to "h constant, velocity constant, exact kinematics"
            self.net[-1].weight.mul_(0.1)
            self.net[-1].bias.zero_()
        self.register_buffer("vw_scale", torch.tensor([cfg.v_scale_mps, cfg.w_scale_radps]), persistent=False)

    def forward(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        dt = self.cfg.dt_s
        pose, vel, h = z[..., :POSE_DIMS], z[..., POSE_DIMS:EXPLICIT_DIMS], z[..., EXPLICIT_DIMS:]
        out = self.net(torch.cat([h, vel / self.vw_scale, a / self.vw_scale], dim=-1))
        dh_n = h.shape[-1]
        h_next = h + out[..., :dh_n]
        vel_next = vel + out[..., dh_n:dh_n + 2] * self.vw_scale
        corr = out[..., dh_n + 2:] * dt  # (B, 3) body-frame correction (dx, dy, dyaw)
        v_mid = 0.5 * (vel[..., 0] + vel_next[..., 0])
        w_mid = 0.5 * (vel[..., 1] + vel_next[..., 1])
        dyaw = w_mid * dt + corr[..., 2]
        half = 0.5 * dyaw
        dx = v_mid * dt * torch.cos(half) + corr[..., 0]
        dy = v_mid * dt * torch.sin(half) + corr[..., 1]
        c, s = torch.cos(pose[..., 2]), torch.sin(pose[..., 2])
        pose_next = torch.stack([pose[..., 0] + c * dx - s * dy,
                                 pose[..., 1] + s * dx + c * dy,
                                 pose[..., 2] + dyaw], dim=-1)
        return torch.cat([pose_next, vel_next, h_next], dim=-1)


class WorldModel(nn.Module):
    """encode / predict / rollout / pose / velocity / collision_logit. See module docstring."""

    def __init__(self, cfg: WorldModelConfig | None = None, encoder: ObsEncoder | None = None,
                 predictor: Predictor | None = None, collision_head: nn.Module | None = None):
        super().__init__()
        self.cfg = cfg or WorldModelConfig()
        self.encoder = encoder or ObsEncoder(self.cfg)
        self.predictor = predictor or Predictor(self.cfg)
        # collision head sees velocity + h (body frame), never the odom pose
        self.collision_head = collision_head or mlp(
            [self.cfg.latent_dim - POSE_DIMS, self.cfg.head_hidden, self.cfg.head_hidden, 1])

    # -- properties -------------------------------------------------------------------
    @property
    def dt_s(self) -> float:
        return self.cfg.dt_s

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    @property
    def obs_spec(self) -> dict:
        """Observation layout this model was built for (compared when loading)."""
        return {"scan_beams": self.cfg.scan_beams, "range_max_m": self.cfg.range_max_m,
                "image": self.cfg.use_image, "image_size": self.cfg.image_size if self.cfg.use_image else 0}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- roles ----------------------------------------------------------------------
    def _tensor(self, x, name: str, shape_tail: tuple) -> torch.Tensor:
        t = torch.as_tensor(x, device=self.device)
        if t.dtype != torch.uint8:
            t = t.to(torch.float32)
        if t.dim() == len(shape_tail):  # single observation -> batch of 1
            t = t.unsqueeze(0)
        if t.dim() != len(shape_tail) + 1 or tuple(t.shape[1:]) != shape_tail:
            raise ValueError(f"obs['{name}']: expected shape (B, {', '.join(map(str, shape_tail))}), "
                             f"got {tuple(t.shape)}")
        return t

    def encode(self, obs: dict) -> torch.Tensor:
        """obs {"pose": (B,3), "vel": (B,2), "scan": (B,N)[, "image": (B,3,S,S)]} -> z (B, D)."""
        for key in ("pose", "vel", "scan"):
            if key not in obs:
                raise ValueError(f"obs: missing '{key}' (expected keys pose, vel, scan[, image])")
        pose = self._tensor(obs["pose"], "pose", (3,))
        vel = self._tensor(obs["vel"], "vel", (2,))
        scan = self._tensor(obs["scan"], "scan", (self.cfg.scan_beams,))
        image = None
        if self.cfg.use_image:
            if "image" not in obs:
                raise ValueError("obs: missing 'image' (this model was trained with images)")
            s = self.cfg.image_size
            image = self._tensor(obs["image"], "image", (3, s, s))
        h = self.encoder(vel, scan, image)
        return torch.cat([pose, vel, h], dim=-1)

    def predict(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """z (B, D), a (B, 2) = (v_cmd, w_cmd) held for dt_s -> z' (B, D)."""
        return self.predictor(z, a)

    def rollout(self, z0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """z0 (B, D) or (1, D), actions (B, H, 2) -> z (B, H, D): z[:, k] after actions[:, k]."""
        if actions.dim() != 3 or actions.shape[-1] != 2:
            raise ValueError(f"actions: expected (B, H, 2), got {tuple(actions.shape)}")
        b, horizon = actions.shape[0], actions.shape[1]
        z = z0.expand(b, -1) if z0.shape[0] == 1 else z0
        if z.shape[0] != b:
            raise ValueError(f"z0: expected batch 1 or {b}, got {z0.shape[0]}")
        out = []
        for k in range(horizon):
            z = self.predictor(z, actions[:, k])
            out.append(z)
        return torch.stack(out, dim=1)

    # -- heads ------------------------------------------------------------------------
    def pose(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., 3) x_m, y_m, yaw_rad (wrapped) in the odom frame."""
        p = z[..., :POSE_DIMS]
        return torch.cat([p[..., :2], wrap_angle(p[..., 2:3])], dim=-1)

    def velocity(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., 2) v_mps, w_radps body frame."""
        return z[..., POSE_DIMS:EXPLICIT_DIMS]

    def collision_logit(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (...): sigmoid = P(contact during the step that produced z)."""
        vel_n = z[..., POSE_DIMS:EXPLICIT_DIMS] / self.predictor.vw_scale
        return self.collision_head(torch.cat([vel_n, z[..., EXPLICIT_DIMS:]], dim=-1)).squeeze(-1)

    def latent_h(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., D-5): the learned part of the latent."""
        return z[..., EXPLICIT_DIMS:]
