"""The recent past the world model reads to adapt: commands, measured velocity and scans of the
last K steps of ``dt_s``, oldest first.

Row ``k`` of a history ending at time t describes the step that started at ``t - (K - k) * dt_s``:
``vel[k]`` and ``scan[k]`` were observed at its start and ``cmd[k]`` was the command in force
during it, so ``cmd[-1]`` is the command whose response is the current velocity. The gap between
what was commanded and what was measured over about a second reveals the ground under the robot,
its payload and the command latency; successive scans reveal how obstacles move.

The same layout comes from two places:

* offline, from recorded rows on a ``dt_s`` grid: :func:`history_from_rows`;
* online, from a stream of odometry, scans and sent commands at any rate:
  :class:`HistoryBuffer` resamples it onto the ``dt_s`` grid (latest sample at or before each
  grid time).

Rows before the data starts are padded with the first available row and marked invalid
(``valid[k] = False``; their command is zero). No torch and no rclpy here.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass
class History:
    """cmd (K, 2), vel (K, 2), valid (K,) bool, scan (K, N) float32 or None; oldest first."""

    cmd: np.ndarray
    vel: np.ndarray
    valid: np.ndarray
    scan: np.ndarray | None = None

    @property
    def steps(self) -> int:
        return int(self.cmd.shape[0])

    @classmethod
    def empty(cls, steps: int, scan_beams: int | None = None) -> "History":
        """K invalid rows (nothing observed yet)."""
        return cls(np.zeros((steps, 2), np.float32), np.zeros((steps, 2), np.float32),
                   np.zeros(steps, bool),
                   None if scan_beams is None else np.full((steps, scan_beams), np.inf, np.float32))


def history_from_rows(cmd: np.ndarray, vel: np.ndarray, episode: np.ndarray, rows: np.ndarray,
                      steps: int, scan: np.ndarray | None = None) -> History:
    """Batched histories for ``rows`` (B,) of recorded transitions on one dt grid.

    cmd (N, 2), vel (N, 2), episode (N,), scan (N, beams) or None: the arrays of
    ``world_model_node.data.Transitions``. Returns a History whose arrays have a leading batch
    axis: cmd (B, K, 2), vel (B, K, 2), valid (B, K), scan (B, K, beams). Rows of another
    episode or before the first row count as invalid and repeat the episode's first row.
    """
    rows = np.asarray(rows, dtype=np.int64)
    k = np.arange(-steps, 0)
    idx = rows[:, None] + k[None, :]                                  # (B, K)
    ep = episode[rows][:, None]
    valid = (idx >= 0) & (episode[np.clip(idx, 0, None)] == ep)
    # pad: walk forward from the first invalid index to the first row of this episode
    first = np.where(valid, idx, np.iinfo(np.int64).max).min(axis=1)   # first valid index or max
    first = np.where(first == np.iinfo(np.int64).max, rows, first)
    src = np.where(valid, idx, first[:, None])
    h_cmd = np.where(valid[..., None], cmd[src], 0.0).astype(np.float32)
    h_vel = vel[src].astype(np.float32)
    h_scan = None if scan is None else scan[src].astype(np.float32)
    return History(h_cmd, h_vel, valid, h_scan)


class HistoryBuffer:
    """Online history: ``observe`` odometry/scans and ``commanded`` commands as they happen (any
    rate, times in seconds on one clock), then ``history(t_now)`` gives the last ``steps`` grid
    steps before ``t_now``. Memory is bounded (``max_age_s``). A time that goes backwards by
    more than ``reorder_s`` (a sim reset, a bag loop) clears the buffer; a smaller step back
    (odometry and command stamps interleaving slightly out of order) is read as the latest time."""

    def __init__(self, steps: int, dt_s: float, max_age_s: float | None = None, reorder_s: float = 0.0):
        if steps < 0 or dt_s <= 0:
            raise ValueError(f"HistoryBuffer: steps >= 0 and dt_s > 0 expected, got {steps}, {dt_s}")
        self.steps, self.dt_s = int(steps), float(dt_s)
        self.max_age_s = float(max_age_s) if max_age_s is not None else (steps + 2) * dt_s
        self.reorder_s = max(0.0, float(reorder_s))
        self._obs: deque = deque()    # (t, vel (2,), scan or None)
        self._cmd: deque = deque()    # (t, cmd (2,))
        self._last_t = -np.inf

    @property
    def latest_t(self) -> float:
        """The newest time stored (-inf when empty)."""
        return self._last_t

    def clear(self) -> None:
        self._obs.clear()
        self._cmd.clear()
        self._last_t = -np.inf

    def _check_time(self, t: float) -> float | None:
        """The time to store a sample at, or None for a non-finite one (see the class docstring)."""
        if not np.isfinite(t):
            return None
        if t < self._last_t - self.reorder_s - 1e-9:
            self.clear()
        self._last_t = max(self._last_t, t)
        return self._last_t

    def _trim(self, q: deque, t: float) -> None:
        # keep one sample older than the window: it is the value in force at the window's start
        while len(q) > 1 and q[1][0] <= t - self.max_age_s:
            q.popleft()

    def observe(self, t_s: float, vel, scan=None) -> None:
        """Measured body velocity (v, w) and, optionally, the scan at time t_s."""
        t_s = self._check_time(t_s)
        if t_s is None:
            return
        self._obs.append((float(t_s), np.asarray(vel, np.float32).reshape(2).copy(),
                          None if scan is None else np.asarray(scan, np.float32).copy()))
        self._trim(self._obs, t_s)

    def commanded(self, t_s: float, cmd) -> None:
        """A command (v, w) sent at time t_s; it is in force until the next one."""
        t_s = self._check_time(t_s)
        if t_s is None:
            return
        self._cmd.append((float(t_s), np.asarray(cmd, np.float32).reshape(2).copy()))
        self._trim(self._cmd, t_s)

    @staticmethod
    def _at(q: deque, t: float, with_scan: bool = False):
        """Latest entry at or before t (with_scan: the latest that carries a scan), or None."""
        best = None
        for e in q:
            if e[0] <= t + 1e-6:
                if not with_scan or e[2] is not None:
                    best = e
            else:
                break
        return best

    def history(self, t_now: float, scan_beams: int | None = None) -> History:
        """The last ``steps`` steps before t_now (see the module docstring for the layout)."""
        h = History.empty(self.steps, scan_beams)
        for k in range(self.steps):
            t = t_now - (self.steps - k) * self.dt_s
            o = self._at(self._obs, t)
            if o is None:
                continue
            c = self._at(self._cmd, t)
            h.vel[k] = o[1]
            h.cmd[k] = c[1] if c is not None else 0.0
            # odometry usually comes faster than scans: the scan in force is the latest one
            s = o if o[2] is not None or h.scan is None else self._at(self._obs, t, with_scan=True)
            if h.scan is not None and s is not None and s[2].shape[0] == scan_beams:
                h.scan[k] = s[2]
            h.valid[k] = True
        # pad invalid rows before the first valid one with that row's observation
        if h.valid.any():
            j = int(np.argmax(h.valid))
            h.vel[:j] = h.vel[j]
            if h.scan is not None:
                h.scan[:j] = h.scan[j]
        return h
