"""Online fine-tuning: a replay buffer of live transitions and a background trainer. No rclpy.

world_model_node appends the monitor's frame pairs to :class:`ReplayBuffer`; every
``finetune_period_s`` it asks :class:`OnlineFinetuner` to run a few gradient steps in a
background thread on a copy of the live model, using the world-model area's objective
(``losses.window_loss``, ``sampler.WindowSampler``, EMA target encoder). The copy is kept only if
it predicts the newest, held-out part of the buffer better than the live model did; it is
then written as a new checkpoint file, which the node announces on /world_model/checkpoint.

A live robot has no contact sensor, so online rows carry collision = 0 and the collision term
is switched off (its weight is 0): fine-tuning adapts dynamics and latent, never the learned
collision head.
"""
from __future__ import annotations

import copy
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from world_model_planner.world_model_node.checkpoint import save_checkpoint
from world_model_planner.world_model_node.data import Transitions
from world_model_planner.world_model_node.losses import LossWeights, window_loss
from world_model_planner.world_model_node.sampler import WindowSampler
from world_model_planner.world_model_node.train import validate_model


class ReplayBuffer:
    """The most recent ``capacity`` model-step rows, in the on-disk row layout (data.py).

    Rows of one unbroken chain of frames share an episode id; a gap starts a new one.
    """

    def __init__(self, capacity: int = 6000):
        self.capacity = capacity
        self._rows: deque = deque(maxlen=capacity)   # (pose, vel, scan, cmd, dt, episode, t_s)
        self._last_frame = None
        self._episode = 0

    def __len__(self) -> int:
        return len(self._rows)

    def add_pair(self, prev, frame) -> None:
        """A monitor frame pair (prev → frame); ``prev.action`` is the command between them."""
        if self._last_frame is not prev:
            self._episode += 1
            self._rows.append(self._row(prev, (0.0, 0.0), 0.0))
        pose, vel, scan, _, _, ep, t = self._rows[-1]
        self._rows[-1] = (pose, vel, scan, np.asarray(prev.action, np.float32),
                          np.float32(frame.t_s - prev.t_s), ep, t)
        self._rows.append(self._row(frame, (0.0, 0.0), 0.0))
        self._last_frame = frame

    def _row(self, f, cmd, dt):
        return (f.pose, f.vel, f.scan, np.asarray(cmd, np.float32), np.float32(dt), self._episode,
                np.float32(f.t_s))

    def transitions(self) -> Transitions:
        """A snapshot as :class:`Transitions` (collision all 0; see module docstring)."""
        rows = list(self._rows)
        cols = list(zip(*rows)) if rows else [[]] * 7
        n = len(rows)
        return Transitions(
            pose=np.asarray(cols[0], np.float32).reshape(n, 3),
            vel=np.asarray(cols[1], np.float32).reshape(n, 2),
            scan=np.asarray(cols[2], np.float32).reshape(n, -1) if n else np.zeros((0, 0), np.float32),
            cmd=np.asarray(cols[3], np.float32).reshape(n, 2),
            dt=np.asarray(cols[4], np.float32), collision=np.zeros(n, np.uint8),
            episode=np.asarray(cols[5], np.int32), t_s=np.asarray(cols[6], np.float32),
            meta={"source": "world_model_node online replay"})


@dataclass
class FinetuneResult:
    """Outcome of one background fine-tuning round."""

    accepted: bool
    steps: int
    val_before: float            # held-out pose_err_final_m of the live model, metres
    val_after: float             # the same for the fine-tuned copy
    took_s: float
    path: str = ""               # checkpoint written (accepted only)
    error: str = ""
    model: object = field(default=None, repr=False)


class OnlineFinetuner:
    """Runs one fine-tuning round at a time in a daemon thread; poll :meth:`result`."""

    def __init__(self, out_dir, steps: int = 20, batch_size: int = 32, horizon: int = 5,
                 lr: float = 1e-4, ema_tau: float = 0.99, val_fraction: float = 0.2, seed: int = 0):
        self.out_dir = Path(out_dir)
        self.steps, self.batch_size, self.horizon = steps, batch_size, horizon
        self.lr, self.ema_tau, self.val_fraction, self.seed = lr, ema_tau, val_fraction, seed
        self.weights = LossWeights(collision=0.0)
        self.rounds = 0
        self._thread: threading.Thread | None = None
        self._result: FinetuneResult | None = None
        self._lock = threading.Lock()

    @property
    def min_rows(self) -> int:
        """Rows needed for at least one training and one held-out window."""
        share = min(self.val_fraction, 1.0 - self.val_fraction)
        return int(np.ceil((self.horizon + 2) / share)) + 1

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, model, data: Transitions, stem: str = "world_model_ft") -> bool:
        """Start a round on a copy of ``model`` (left untouched). False if one is running or
        there are not enough rows for a training and a validation window."""
        if self.busy or len(data) < self.min_rows:
            return False
        train_rows, val_rows = self._split(data)
        if not (len(train_rows.window_starts(self.horizon)) and len(val_rows.window_starts(self.horizon))):
            return False   # gaps cut the episodes shorter than a window: wait for more data
        self.rounds += 1
        path = self.out_dir / f"{stem}_{self.rounds:04d}.pt"
        src = copy.deepcopy(model).cpu()
        self._thread = threading.Thread(target=self._run, args=(src, data, path), daemon=True,
                                        name="wm-finetune")
        self._thread.start()
        return True

    def result(self) -> FinetuneResult | None:
        """The finished round's result once (then None until the next round finishes)."""
        with self._lock:
            out, self._result = self._result, None
        return out

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, model, data: Transitions, path: Path) -> None:
        t0 = time.monotonic()
        try:
            res = self.finetune(model, data, path)
        except Exception as exc:  # noqa: BLE001 - reported through result()
            res = FinetuneResult(False, 0, float("nan"), float("nan"), time.monotonic() - t0,
                                 error=f"{type(exc).__name__}: {exc}")
        res.took_s = time.monotonic() - t0
        with self._lock:
            self._result = res

    def _split(self, data: Transitions) -> tuple[Transitions, Transitions]:
        """(older rows for training, newest ``val_fraction`` held out)."""
        split = int(len(data) * (1.0 - self.val_fraction))
        idx = np.arange(len(data))
        return _subset(data, idx < split), _subset(data, idx >= split)

    def finetune(self, model, data: Transitions, path: Path) -> FinetuneResult:
        """Synchronous round: split rows in time (newest ``val_fraction`` held out), train,
        compare, save if better. ``model`` is modified in place (pass a copy)."""
        train_rows, val_rows = self._split(data)
        device = torch.device("cpu")
        tr = WindowSampler.for_model(train_rows, self.horizon, device, model.cfg)
        va = WindowSampler.for_model(val_rows, self.horizon, device, model.cfg)
        target = copy.deepcopy(model.encoder).requires_grad_(False)
        before = validate_model(model, target, va, self.weights, 1.0)["pose_err_final_m"]
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr)
        gen = torch.Generator().manual_seed(self.seed + self.rounds)
        for _ in range(self.steps):
            loss, _ = window_loss(model, target, tr.sample(self.batch_size, gen), self.weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            with torch.no_grad():
                for pt, po in zip(target.parameters(), model.encoder.parameters()):
                    pt.mul_(self.ema_tau).add_(po.detach(), alpha=1.0 - self.ema_tau)
        after = validate_model(model, target, va, self.weights, 1.0)["pose_err_final_m"]
        model.eval()
        res = FinetuneResult(after < before, self.steps, float(before), float(after), 0.0)
        if res.accepted:
            metrics = dict(getattr(model, "metrics", {}) or {})
            metrics["online_finetune"] = {"round": self.rounds, "steps": self.steps, "rows": len(data),
                                          "val_pose_err_before_m": res.val_before,
                                          "val_pose_err_after_m": res.val_after,
                                          "from": getattr(model, "checkpoint_path", "")}
            save_checkpoint(path, model, data_stats=getattr(model, "data_stats", {}), metrics=metrics,
                            train={"online": True, "lr": self.lr, "batch_size": self.batch_size,
                                   "horizon": self.horizon})
            model.checkpoint_path = str(path)
            res.path, res.model = str(path), model
        return res


def _subset(data: Transitions, mask: np.ndarray) -> Transitions:
    keys = ("pose", "vel", "scan", "cmd", "dt", "collision", "episode", "t_s")
    return Transitions(**{k: getattr(data, k)[mask] for k in keys},
                       image=None if data.image is None else data.image[mask], meta=data.meta)
