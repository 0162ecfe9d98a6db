"""Training windows: the (B, K+1) windows a world model trains on, cut from Transitions held as
tensors on the training device (``WindowSampler``; used by ``train`` and ``online``)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from world_model_planner.world_model_node.augment import ImageAugment, augment_cells, augment_windows
from world_model_planner.world_model_node.data import Transitions
from world_model_planner.world_model_node.history import history_from_rows


class WindowSampler:
    """Holds the data as tensors on the device and cuts (B, K+1) windows out of it.

    For a model with history (``history_steps`` Kh > 0) every row's history (the Kh rows before
    it, :func:`world_model_node.history.history_from_rows`) is laid out once, and each window
    carries the history of each of its rows (``batch["hist"]``, see ``losses.window_loss``);
    the past scans are gathered only at ``scan_rows``. For a pooled image encoder (``image_pool``
    N > 0) every frame is averaged to its (3, N, N) cells once here, floats in [0, 1]: windows
    carry the cells, the encoder's own pooling leaves them as they are, and ``sample`` augments
    them with ``augment.augment_cells``.
    """

    def __init__(self, data: Transitions, horizon: int, device: torch.device, use_image: bool,
                 history_steps: int = 0, scan_rows: tuple[int, ...] = (), image_pool: int = 0):
        self.k = horizon
        self.starts = torch.as_tensor(data.window_starts(horizon), device=device)
        if len(self.starts) == 0:
            raise ValueError(f"no episode is longer than the training horizon ({horizon} steps)")
        f32 = dict(device=device, dtype=torch.float32)
        self.pose = torch.as_tensor(data.pose, **f32)
        self.vel = torch.as_tensor(data.vel, **f32)
        self.scan = torch.as_tensor(data.scan, **f32)
        self.cmd = torch.as_tensor(data.cmd, **f32)
        self.coll = torch.as_tensor(data.collision, **f32)
        self.image = None
        if use_image:
            if data.image is None:
                raise ValueError("model config use_image=True but the data has no 'image' array")
            self.image = torch.as_tensor(data.image, device=device).permute(0, 3, 1, 2).contiguous()
            if image_pool:   # a pooled encoder's cells, once: the encoder's pooling is then the identity
                self.image = torch.cat([F.adaptive_avg_pool2d(chunk.float() / 255.0, image_pool)
                                        for chunk in self.image.split(4096)])
        self.image_pooled = bool(use_image and image_pool)
        self.offsets = torch.arange(horizon + 1, device=device)
        # each start's episode, and the starts of every episode together (for grouped batches)
        ep = np.asarray(data.episode)[self.starts.cpu().numpy()]
        self.start_episode = torch.as_tensor(ep, device=device)
        order = np.argsort(ep, kind="stable")
        _, first, count = np.unique(ep[order], return_index=True, return_counts=True)
        back = np.argsort(order)                   # each start's place in the episode-sorted order
        self._by_episode = torch.as_tensor(order)
        self._ep_first = torch.as_tensor(np.repeat(first, count)[back])    # its episode's first place
        self._ep_count = torch.as_tensor(np.repeat(count, count)[back])    # and how many starts it has
        self.history_steps, self.scan_rows = int(history_steps), list(scan_rows)
        if self.history_steps:
            rows = np.arange(len(data))
            h = history_from_rows(data.cmd, data.vel, data.episode, rows, self.history_steps)
            self.h_cmd = torch.as_tensor(h.cmd, **f32)                      # (N, Kh, 2)
            self.h_vel = torch.as_tensor(h.vel, **f32)                      # (N, Kh, 2)
            self.h_valid = torch.as_tensor(h.valid, device=device)          # (N, Kh) bool
            if self.scan_rows:   # row of each selected past scan; invalid ones point at the row itself
                back = np.array([self.history_steps - r for r in self.scan_rows])
                src = np.where(h.valid[:, self.scan_rows], rows[:, None] - back[None, :], rows[:, None])
                self.h_scan_src = torch.as_tensor(src, device=device)       # (N, M)

    @classmethod
    def for_model(cls, data: Transitions, horizon: int, device: torch.device, cfg) -> "WindowSampler":
        """A sampler cutting what a model of WorldModelConfig ``cfg`` reads."""
        return cls(data, horizon, device, cfg.use_image, cfg.history_steps,
                   cfg.scan_history_rows if cfg.history_steps else (), cfg.image_pool)

    def _history(self, rows: torch.Tensor, dropout: float, gen: torch.Generator | None) -> dict:
        """rows (B, K+1) -> per-row history dict; with ``dropout``, the first row's history of
        that fraction of windows keeps only its newest 0..Kh-1 rows."""
        valid = self.h_valid[rows]                                          # (B, K+1, Kh)
        if dropout > 0 and gen is not None:
            b, kh = rows.shape[0], self.history_steps
            drop = torch.rand(b, generator=gen) < dropout
            keep = torch.randint(0, kh, (b,), generator=gen)                # newest rows kept
            cut = torch.arange(kh).unsqueeze(0) >= (kh - keep).unsqueeze(1)  # (B, Kh)
            first = torch.where(drop.unsqueeze(1), cut, torch.ones_like(cut)).to(valid.device)
            valid = valid.clone()
            valid[:, 0] &= first
        hist = {"cmd": self.h_cmd[rows] * valid.unsqueeze(-1), "vel": self.h_vel[rows], "valid": valid,
                "scans": None, "scan_valid": None}
        if self.scan_rows:
            hist["scans"] = self.scan[self.h_scan_src[rows]]                # (B, K+1, M, N)
            hist["scan_valid"] = valid[..., self.scan_rows]
        return hist

    def batch(self, idx: torch.Tensor, history_dropout: float = 0.0, gen: torch.Generator | None = None) -> dict:
        rows = self.starts[idx].unsqueeze(1) + self.offsets  # (B, K+1)
        b = {"pose": self.pose[rows], "vel": self.vel[rows], "scan": self.scan[rows],
             "cmd": self.cmd[rows[:, :-1]], "collision": self.coll[rows[:, :-1]],
             "episode": self.start_episode[idx]}
        if self.image is not None:
            b["image"] = self.image[rows]
        if self.history_steps:
            b["hist"] = self._history(rows, history_dropout, gen)
        return b

    def sample(self, n: int, gen: torch.Generator, history_dropout: float = 0.0,
               augment: ImageAugment | None = None, group: int = 1) -> dict:
        """n random windows; with ``augment`` their images are augmented, one draw per window.
        ``group`` G > 1: n / G windows at random, each followed by G - 1 more of its episode."""
        if group > 1:
            lead = torch.randint(len(self.starts), (n // group,), generator=gen)
            pick = torch.rand(n // group, group - 1, generator=gen)
            more = self._by_episode[self._ep_first[lead].unsqueeze(1)
                                    + (pick * self._ep_count[lead].unsqueeze(1)).long()]
            idx = torch.cat([lead.unsqueeze(1), more], dim=1).reshape(-1).to(self.starts.device)
        else:
            idx = torch.randint(len(self.starts), (n,), generator=gen, device="cpu").to(self.starts.device)
        b = self.batch(idx, history_dropout, gen)
        if augment is not None and "image" in b:
            b["image"] = (augment_cells if self.image_pooled else augment_windows)(b["image"], augment, gen)
        return b
