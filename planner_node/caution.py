"""Drive slower while the model is wrong: a speed limit from the model's own recent prediction error.

A planner is only as good as the model it plans through. On new ground (ice under a turn, mud)
the model's predictions miss until it has adapted, and the planner should not drive at full
speed on predictions that miss. :class:`ModelCheck` measures that error online, with nothing
but what the navigator already has:

- at every model step (``dt_s``) it keeps the model state the tick planned from, and the pose;
- ``check_steps`` model steps later it rolls that state out through the commands that were
  actually sent since (time-weighted over each step, the rollout the model would have made had
  it known them) and compares the predicted pose with odometry at the same time;
- only misses that put the robot where it did not plan to be count: the miss is the distance
  from odometry to the predicted path up to the predicted position, so off to the side of it or
  beyond its end, forward or reverse (sliding wide, braking late, running away downhill); a robot
  that falls short along the path (mud, a heavy load pulling away, a robot held back) only makes
  the plan's clearances conservative, and is not counted;
- the largest error over the last ``window_s`` sets a speed limit: full speed up to
  ``error_free_m``, falling linearly to ``min_speed_ratio`` of ``mppi.v_max_mps`` at
  ``error_full_m``; once the error is back under ``error_free_m`` the limit returns to full
  speed over ``recover_s``;
- a miss of ``jump_m`` or more is the odometry jumping (reset, relocalised, the robot carried),
  not the model: the pending checks restart and it is not counted.

This is not a rule about ice: it reacts to any prediction error (slip, a payload, latency, a
wrong model), and a model that predicts well keeps its speed. Errors are position errors in
metres, measured the same way for every planner (the learned model, the identified one and
the unicycle); a model that is often wrong is slowed more often, which is the honest outcome.

Falling short along the path is the other kind of error, and :class:`HeldBack` answers it: when
the base has made at most ``held_ratio`` of the forward progress its commands asked for over the
last ``held_s``, and still has half a window later (a base bogged down in mud, a wheel against a
kerb the lidar does not see; not a base still catching up with a command from rest), the
sampler's yaw rate is limited to ``held_w_max_radps`` until the progress is back to twice that
share. A skid-steer base turns by dragging its wheels sideways, which takes more traction than
driving straight: in the ``mud_field`` scenario a Husky asked for 0.3 rad/s or more stays stuck
where it is, and asked for 0.15 rad/s gets going again. No model here predicts that (each
predicts a turn to move it further than a straight command), so it is a rule, the same for
every planner. Odometry must see the stall: wheel odometry alone counts spinning wheels as
progress.

No rclpy.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from world_model_planner.core.params import ConfigError, param, validate


@dataclass
class CautionConfig:
    enabled: bool = param(True, "Limit the speed while the model's recent predictions miss (see "
                          "planner_node/caution.py): each planned-from state is rolled out through the "
                          "commands actually sent and compared with odometry check_steps model steps later.")
    check_steps: int = param(5, "Model steps (dt_s each) between a prediction and its check against "
                             "odometry.", range=(1, 50))
    window_s: float = param(0.6, "The largest error of this last stretch of checks sets the limit (s).",
                            range=(0.05, 10.0))
    error_free_m: float = param(0.04, "Prediction error up to which speed is not limited (m).", range=(0.0, 5.0))
    error_full_m: float = param(0.12, "Prediction error at which the limit reaches min_speed_ratio (m).",
                                range=(0.001, 10.0))
    min_speed_ratio: float = param(0.35, "Lowest speed limit, as a share of mppi.v_max_mps.", range=(0.05, 1.0))
    recover_s: float = param(3.0, "Once errors are back under error_free_m, the limit returns to full "
                             "speed over this long (s).", range=(0.0, 60.0))
    jump_m: float = param(0.5, "A miss this large is a jump of the odometry (a reset, a relocalisation, a "
                          "robot carried), not the model: the checks pending restart and it is not "
                          "counted (m).", range=(0.01, 100.0))
    held_enabled: bool = param(True, "Limit the yaw rate while the base is held back: its forward progress "
                               "over held_s at most held_ratio of what the commands asked (mud, a kerb).")
    held_s: float = param(1.0, "How long the progress must fall short before the base counts as held back (s).",
                          range=(0.2, 10.0))
    held_ratio: float = param(0.25, "Forward progress (odometry, along the heading) at most this share of the "
                              "commanded forward distance over held_s: held back. It counts as free again "
                              "at twice this share.", range=(0.01, 0.5))
    held_min_speed_ratio: float = param(0.3, "Commands asking less forward speed on average over held_s than "
                                        "this share of mppi.v_max_mps do not count (the robot turning in "
                                        "place, creeping, stopped).", range=(0.0, 1.0))
    held_w_max_radps: float = param(0.15, "The sampler's yaw-rate limit while held back (rad/s).",
                                    range=(0.0, 10.0))

    def __post_init__(self):
        validate(self)
        if self.jump_m <= self.error_full_m:
            raise ConfigError(f"CautionConfig.jump_m: expected more than error_full_m ({self.error_full_m}), "
                              f"got {self.jump_m}")
        if self.error_full_m <= self.error_free_m:
            raise ConfigError(f"CautionConfig.error_full_m: expected more than error_free_m "
                              f"({self.error_free_m}), got {self.error_full_m}")


class ModelCheck:
    """Online prediction error of the planning model and the speed limit it implies (see module)."""

    def __init__(self, cfg: CautionConfig, dt_s: float, warmup_s: float = 0.0):
        self.cfg, self.dt_s = cfg, float(dt_s)
        self.warmup_s = warmup_s      # states planned this soon after a (re)start are not checked:
        self.reset()                  # a model that reads history has too little of it yet

    def reset(self) -> None:
        self._frames: deque = deque()            # (t_s, pose (3,), model state)
        self._cmds: deque = deque()              # (t_s, v, w), held until the next
        self._errors: deque = deque()            # (t_s, error_m)
        self.error_m = 0.0                       # the largest error in the window
        self.ratio = 1.0                         # speed limit / v_max in force
        self._t: float | None = None
        self._t_start: float | None = None        # first command after a reset

    def observe(self, t_s: float, pose, model) -> None:
        """Before planning at ``t_s`` with odometry ``pose``: score the predictions now due
        (rolled out through ``model``), then update the limit."""
        if self._t is not None and t_s < self._t:     # time went backwards: start again
            self.reset()
        if not self.cfg.enabled:
            self._frames.clear()
            self.error_m, self.ratio = 0.0, 1.0
            return
        last = self._t
        self._t = t_s
        pose = np.asarray(pose, dtype=np.float64)
        span = self.cfg.check_steps * self.dt_s
        while self._frames and t_s - self._frames[0][0] >= span - 1e-6:
            t0, pose0, state = self._frames.popleft()
            if t_s - t0 <= span + 2 * self.dt_s:       # a tick gap longer than that: not scored
                err = self._error(model, t0, pose0, state, t_s, pose)
                if err is not None and err >= self.cfg.jump_m:
                    self._frames.clear()               # the odometry jumped: start the checks again
                    break
                if err is not None:
                    self._errors.append((t_s, err))
        while self._errors and t_s - self._errors[0][0] > self.cfg.window_s:
            self._errors.popleft()
        self.error_m = max((e for _, e in self._errors), default=0.0)
        c = self.cfg
        target = 1.0 - (1.0 - c.min_speed_ratio) * (self.error_m - c.error_free_m) / (c.error_full_m - c.error_free_m)
        target = min(1.0, max(c.min_speed_ratio, target))
        if target < self.ratio:
            self.ratio = target                      # slow down at once
        elif last is not None:                       # speed up again gradually
            step = (t_s - last) * (1.0 - c.min_speed_ratio) / c.recover_s if c.recover_s > 0 else 1.0
            self.ratio = min(target, self.ratio + step)

    def planned(self, t_s: float, pose, state) -> None:
        """After planning at ``t_s`` from ``pose``: the model state planned from (kept once per
        model step) to be checked ``check_steps`` later."""
        if not self.cfg.enabled:
            return
        if self._t_start is None or t_s - self._t_start < self.warmup_s - 1e-6:
            return
        if not self._frames or t_s - self._frames[-1][0] >= self.dt_s - 1e-6:
            self._frames.append((t_s, np.asarray(pose, dtype=np.float64).copy(), state))

    def sent(self, t_s: float, v: float, w: float) -> None:
        """Every command sent (zero and recovery ones too), held until the next."""
        if self._cmds and t_s < self._cmds[-1][0]:
            self.reset()
        if self._t_start is None:
            self._t_start = t_s
        self._cmds.append((t_s, float(v), float(w)))
        while len(self._cmds) > 1 and (not self._frames or self._cmds[1][0] <= self._frames[0][0]):
            self._cmds.popleft()                     # only what the oldest check still needs

    def limit_mps(self, v_max_mps: float) -> float:
        return self.ratio * v_max_mps if self.cfg.enabled else v_max_mps

    def _actions(self, t0: float, steps: int) -> np.ndarray:
        """(steps, 2) time-weighted mean of the piecewise-constant commands over each model step."""
        cmds = [(tc, np.array([v, w])) for tc, v, w in self._cmds]
        out = np.zeros((steps, 2))
        for i in range(steps):
            acc, tot = _held_integral(cmds, t0 + i * self.dt_s, t0 + (i + 1) * self.dt_s)
            out[i] = acc / tot if tot > 0 else (out[i - 1] if i else 0.0)
        return out

    def _error(self, model, t0: float, pose0: np.ndarray, state, t_s: float, pose: np.ndarray) -> float | None:
        """The miss at ``t_s`` (m) of the rollout from ``state`` (planned at ``t0`` from ``pose0``)
        through the commands sent since: the distance from odometry to the predicted path up to
        the predicted position at ``t_s`` (falling short along it is no miss); None when the model
        cannot roll it out."""
        frac = (t_s - t0) / self.dt_s
        steps = max(1, math.ceil(frac - 1e-6))
        acts = torch.as_tensor(self._actions(t0, steps), dtype=torch.float32)
        dev = next((v.device for v in state.values() if isinstance(v, torch.Tensor)), None) \
            if isinstance(state, dict) else None
        try:
            with torch.inference_mode():
                poses = model.rollout(state, (acts if dev is None else acts.to(dev))[None], collision=False).poses[0]
        except (RuntimeError, ValueError, TypeError, KeyError, IndexError):
            return None                              # a model swapped in since: skip this check
        xy = np.vstack([pose0[:2], poses[:, :2].detach().cpu().numpy().astype(np.float64)])
        i = min(int(math.floor(frac)), steps)        # xy[i]: the predicted position after i steps
        pred = xy[i] if i >= steps else xy[i] + (xy[i + 1] - xy[i]) * (frac - i)
        path = np.vstack([xy[:i + 1], pred[None]])   # the predicted path up to t_s
        err = _distance_to_path(pose[:2], path)
        return err if math.isfinite(err) else None


def _held_integral(cmds, a: float, b: float):
    """(integral over [a, b], seconds of it covered) of piecewise-constant commands ``cmds``
    [(t_s, value), ...], each held until the next (the last one on)."""
    acc, tot = 0.0, 0.0
    for j, (tc, val) in enumerate(cmds):
        end = cmds[j + 1][0] if j + 1 < len(cmds) else math.inf
        lo, hi = max(a, tc), min(b, end)
        if hi > lo:
            acc = acc + (hi - lo) * val
            tot += hi - lo
    return acc, tot


def _distance_to_path(p: np.ndarray, path: np.ndarray) -> float:
    """Distance (m) from ``p`` (2,) to the polyline ``path`` (K, 2): 0 anywhere along it (a robot
    that fell short of its prediction), the distance to the nearest point otherwise (off to the
    side, or beyond the end)."""
    a, b = path[:-1], path[1:]
    ab = b - a
    n2 = (ab * ab).sum(1)
    t = np.clip(((p - a) * ab).sum(1) / np.where(n2 > 0, n2, 1.0), 0.0, 1.0)
    near = a + ab * t[:, None]
    return float(np.sqrt(((near - p) ** 2).sum(1)).min())


class HeldBack:
    """Whether the base is held back (see the module docstring): what the forward commands asked
    against what odometry shows over the last ``held_s``."""

    def __init__(self, cfg: CautionConfig):
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self._cmds: deque = deque()              # (t_s, forward v asked: 0 for reverse), each held until the next
        self._poses: deque = deque()             # (t_s, pose (3,))
        self.active = False
        self._since: float | None = None         # since when the progress has been short
        self.asked_m = self.made_m = 0.0         # over the last window, for diagnostics

    def sent(self, t_s: float, v: float) -> None:
        """Every command sent (zero and recovery ones too)."""
        if self._cmds and t_s < self._cmds[-1][0]:
            self.reset()
        v = float(v)
        self._cmds.append((t_s, max(v, 0.0) if math.isfinite(v) else 0.0))
        while len(self._cmds) > 1 and t_s - self._cmds[1][0] > 2.0 * self.cfg.held_s:
            self._cmds.popleft()                 # bounded while nothing observes (no goal)

    def observe(self, t_s: float, pose, v_max_mps: float) -> bool:
        """Before planning at ``t_s`` with odometry ``pose`` (``v_max_mps``: the planner's top
        speed): update and return ``active``."""
        c = self.cfg
        pose = np.asarray(pose, dtype=np.float64)
        if self._poses and t_s < self._poses[-1][0]:
            self.reset()
        if not c.enabled or not c.held_enabled or not np.isfinite(pose).all():
            self.reset()
            return False
        self._poses.append((t_s, pose.copy()))
        while len(self._poses) > 1 and t_s - self._poses[1][0] >= c.held_s - 1e-6:
            self._poses.popleft()                # keep the newest pose at least held_s old
        t0 = self._poses[0][0]
        span = t_s - t0
        if span < c.held_s - 1e-6 or span > 2.0 * c.held_s:     # too short, or a gap in the ticks
            self.active, self._since = False, None
            return False
        while len(self._cmds) > 1 and self._cmds[1][0] <= t0:
            self._cmds.popleft()
        self.asked_m = float(_held_integral(list(self._cmds), t0, t_s)[0])
        self.made_m = self._made()
        asking = self.asked_m >= c.held_min_speed_ratio * v_max_mps * span
        short = asking and self.made_m <= c.held_ratio * self.asked_m
        self._since = (self._since if self._since is not None else t_s) if short else None
        if not asking or self.made_m >= 2.0 * c.held_ratio * self.asked_m:
            self.active = False
        elif short and t_s - self._since >= 0.5 * c.held_s - 1e-6:
            self.active = True                   # short for half a window more: not a start's lag
        return self.active

    def w_limit(self, w_max_radps: float) -> float:
        return min(w_max_radps, self.cfg.held_w_max_radps) if self.active else w_max_radps

    def _made(self) -> float:
        """Forward distance odometry shows over the window: each step between two poses
        along the heading at its start, so that turning on the way still counts."""
        poses = [p for _, p in self._poses]
        return float(sum(np.dot(b[:2] - a[:2], (math.cos(a[2]), math.sin(a[2]))) for a, b in zip(poses, poses[1:])))
