"""The world model's encoders: lidar scan -> sector clearances, RGB image -> features, and the
learned observation encoder (scan, velocity[, image][, history]) -> h. Body frame only.

The scan convention is the project's: angle_min = -pi, N beams over 360 degrees. Clearances
are measured from the robot's footprint boundary (contact = 0 whatever the beam's direction).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn
import torch.nn.functional as F

if TYPE_CHECKING:
    from world_model_planner.world_model_node.model import WorldModelConfig

#: The latent's explicit part: pose (x, y, yaw), then body velocity (v, w).
POSE_DIMS, VEL_DIMS = 3, 2
EXPLICIT_DIMS = POSE_DIMS + VEL_DIMS


def clean_scan(scan: torch.Tensor, range_max_m: float) -> torch.Tensor:
    """(..., N) metres with inf/nan/negatives -> (..., N) in [0, range_max_m] (nan, inf -> max)."""
    scan = torch.nan_to_num(scan, nan=range_max_m, posinf=range_max_m, neginf=range_max_m)
    return scan.clamp(0.0, range_max_m)


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

    def clearance(self, scan: torch.Tensor) -> torch.Tensor:
        """(..., N) ranges -> (..., N) footprint clearance per beam in [0, 1] (metres / clip_m)."""
        return (clean_scan(scan, self.range_max_m) - self.footprint_m).clamp(0.0, self.clip_m) / self.clip_m

    def forward(self, scan: torch.Tensor) -> torch.Tensor:
        c = self.clearance(scan)
        return torch.cat([_min_pool(c, self.bins), c.min(dim=-1, keepdim=True).values], dim=-1)

    def sectors_m(self, scan: torch.Tensor, sectors: int) -> torch.Tensor:
        """(..., N) ranges -> (..., sectors) smallest footprint clearance per sector, metres in
        [0, clip_m]. Sector 0 starts behind the robot (angle -pi) and they go counter-clockwise."""
        return _min_pool(self.clearance(scan), sectors) * self.clip_m


def _min_pool(c: torch.Tensor, bins: int) -> torch.Tensor:
    """(..., N) -> (..., bins): minimum over each sector (the nearest obstacle is what counts)."""
    if c.shape[-1] == bins:
        return c
    lead = c.shape[:-1]
    pooled = -F.adaptive_max_pool1d(-c.reshape(-1, 1, c.shape[-1]), bins)
    return pooled.reshape(*lead, bins)


class ImageEncoder(nn.Module):
    """(B, 3, S, S) RGB in [0, 1] (or uint8 0..255) -> (B, out_dim) with a small CNN, or with
    ``cfg.image_pool`` N > 0 the mean colour of each of N x N cells and one linear layer (no
    convolution: about 1/100 of the CNN's work, so a lidar model can also read the ground's
    colour ahead and still train on a CPU)."""

    def __init__(self, cfg: WorldModelConfig, out_dim: int = 64):
        super().__init__()
        pool = cfg.image_pool
        if pool:
            self.net = nn.Sequential(nn.AdaptiveAvgPool2d(pool), nn.Flatten(), nn.Linear(3 * pool * pool, out_dim))
        else:
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
    """Learned part of the encoder: (scan, vel[, image][, history]) -> h (B, dh). Body frame only.

    A camera model (``cfg.use_scan`` False) reads no scan: (vel, image[, history]) -> h; its
    ``scan`` argument may be None and is ignored. With ``cfg.h_reads_motion`` False, h reads the
    scan or the image alone (vel and hist are ignored): what the robot sees, not how it moves.

    hist (built by :meth:`WorldModel.history_inputs`): cmd (B, K, 2) and vel (B, K, 2) in
    m/s, rad/s; valid (B, K) bool; scans (B, M, N) the past scans at ``cfg.scan_history_rows``
    or None; scan_valid (B, M) bool. None = nothing known (start-up): all rows invalid. Invalid
    rows contribute zeros, and the valid flags are inputs too.
    """

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.cfg = cfg
        self.scan = ScanEncoder(cfg)     # no weights; a camera model keeps it for the scan layout only
        self.use_scan = cfg.use_scan
        self.image = ImageEncoder(cfg) if cfg.use_image else None
        self.steps, self.n_scans = cfg.history_steps, cfg.scan_history if cfg.history_steps else 0
        self.hist_dim = 0
        if self.steps:   # per row: cmd, vel, cmd - vel (normalised) and valid; per past scan: change + valid
            self.hist_dim = 7 * self.steps + self.n_scans * (self.scan.out_dim + 1)
        self.motion = cfg.h_reads_motion
        in_dim = (self.scan.out_dim if self.use_scan else 0) + (self.image.out_dim if self.image is not None else 0) \
            + ((VEL_DIMS + self.hist_dim) if self.motion else 0)
        self.net = mlp([in_dim, cfg.enc_hidden, cfg.enc_hidden, cfg.h_dims])
        self.register_buffer("vw_scale", torch.tensor([cfg.v_scale_mps, cfg.w_scale_radps]), persistent=False)

    def history_features(self, scan_feat: torch.Tensor, hist: dict | None) -> torch.Tensor:
        """scan_feat (B, bins+1) of the current scan, hist as above -> (B, hist_dim)."""
        b = scan_feat.shape[0]
        if hist is None:   # all rows invalid: every feature is zero
            return scan_feat.new_zeros(b, self.hist_dim)
        valid = hist["valid"].to(scan_feat.dtype).unsqueeze(-1)                 # (B, K, 1)
        cmd_n, vel_n = hist["cmd"] / self.vw_scale, hist["vel"] / self.vw_scale
        seq = torch.cat([cmd_n, vel_n, cmd_n - vel_n], dim=-1) * valid          # (B, K, 6)
        feats = [seq.flatten(1), valid.flatten(1)]
        if self.n_scans:
            if hist.get("scans") is None:
                feats.append(scan_feat.new_zeros(b, self.n_scans * (self.scan.out_dim + 1)))
            else:
                sv = hist["scan_valid"].to(scan_feat.dtype).unsqueeze(-1)       # (B, M, 1)
                past = self.scan(hist["scans"].flatten(0, 1)).view(b, self.n_scans, -1)
                feats += [((scan_feat.unsqueeze(1) - past) * sv).flatten(1), sv.flatten(1)]
        return torch.cat(feats, dim=-1)

    def forward(self, vel: torch.Tensor, scan: torch.Tensor | None, image: torch.Tensor | None = None,
                hist: dict | None = None) -> torch.Tensor:
        vel_n = vel / self.vw_scale
        scan_feat = self.scan(scan) if self.use_scan else None
        feats = ([] if scan_feat is None else [scan_feat]) + ([vel_n] if self.motion else [])
        if self.image is not None:
            if image is None:
                raise ValueError("this world model encodes images: obs['image'] (B, 3, S, S) is required")
            feats.append(self.image(image))
        if self.steps and self.motion:   # (no scan history for a camera: vel gives the batch size and dtype)
            feats.append(self.history_features(vel_n if scan_feat is None else scan_feat, hist))
        return self.net(torch.cat(feats, dim=-1))
