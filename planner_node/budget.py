"""Adaptive planning budget: the planner never falls behind its control period silently.

``AdaptiveBudget`` is fed the wall time of each planning tick (``observe(tick_s)``) and
compares the median of the last ``window`` ticks with the control period:

- median above ``overrun_ratio`` x period: the MPPI samples shrink (by ``step``, or by more when
  the overrun is larger, at most halved per change) down to ``min_samples``; once samples are at
  their floor, the horizon shrinks the same way down to ``min_horizon``;
- median below ``headroom_ratio`` x period, and the grown budget predicted (tick time scaled by
  the growth of samples x horizon) to stay below the middle of the headroom and overrun lines:
  the budget grows back by one ``step``, horizon first (the last thing taken), then samples,
  never above the configured values.

After every change the window starts afresh, so a decision always rests on ``window`` ticks
measured at the budget in force (the hysteresis: between headroom and overrun nothing moves).
A reduction that does not pay (the next window's median falls by less than a quarter of what
the smaller samples x horizon predicted) is undone: after fewer samples, the horizon is shrunk
instead (at small batches the per-step cost dominates); after a shorter horizon, the time goes
elsewhere, and the budget shrinks no further for ``RETRY_WINDOWS`` windows or until there is
headroom. ``behind`` says the ticks overrun with nothing left to take.
Each change comes back as a :class:`BudgetChange` whose ``line()`` is the one log line.
No rclpy, no torch: the node measures, the navigator applies (``Navigator.set_budget``).
"""
from __future__ import annotations

import collections
import math
import statistics
from dataclasses import dataclass

from world_model_planner.core.params import ConfigError, param, validate


@dataclass
class BudgetConfig:
    adaptive: bool = param(True, "Adapt the MPPI samples (then the horizon) to the measured tick time: shrink "
                           "them when planning ticks overrun the control period (1/control_rate_hz), grow them "
                           "back towards mppi.samples / mppi.horizon when there is headroom. Off: always the "
                           "configured values (the stack in lockstep sets it off: the sim waits for each command).")
    min_samples: int = param(128, "Fewest MPPI samples the budget may shrink to (the configured mppi.samples "
                             "when that is smaller).", range=(8, 65536))
    min_horizon: int = param(12, "Shortest horizon (steps) the budget may shrink to, once samples are at "
                             "their floor (the configured mppi.horizon when that is shorter).", range=(2, 200))
    overrun_ratio: float = param(1.0, "Shrink when the median tick time of the window exceeds this fraction "
                                 "of the control period.", range=(0.1, 10.0))
    headroom_ratio: float = param(0.6, "Grow back when the median tick time of the window is below this "
                                  "fraction of the control period and, scaled by the growth, stays below "
                                  "the middle of headroom_ratio and overrun_ratio (below overrun_ratio: "
                                  "the band between them is the hysteresis).", range=(0.05, 10.0))
    window: int = param(10, "Planning ticks whose median is compared with the period; the window "
                        "restarts after each change.", range=(3, 1000))
    step: float = param(0.75, "Factor applied per change (samples x step when shrinking, / step when "
                        "growing); a larger overrun shrinks by more, at most by half.", range=(0.3, 0.95))

    def __post_init__(self):
        validate(self)
        if self.headroom_ratio >= self.overrun_ratio:
            raise ConfigError(f"BudgetConfig.headroom_ratio: expected less than overrun_ratio "
                              f"({self.overrun_ratio:g}), got {self.headroom_ratio:g}")


#: Windows a budget waits, after a reduction that did not pay, before it tries to shrink again.
RETRY_WINDOWS = 30


@dataclass(frozen=True)
class BudgetChange:
    """One change of the budget: from (samples, horizon) to (samples, horizon), with the
    median tick time (s) that caused it and the control period (s); ``undone_from``: the
    median (s) before a reduction that this change undoes because it did not pay."""

    old: tuple[int, int]
    new: tuple[int, int]
    tick_s: float
    period_s: float
    undone_from: float | None = None

    @property
    def reduced(self) -> bool:
        return self.new[0] * self.new[1] < self.old[0] * self.old[1]

    def line(self) -> str:
        what = "reduced" if self.reduced else "restored" if self.undone_from is not None else "grown"
        why = (f"median tick {self.tick_s * 1e3:.1f} ms" if self.undone_from is None else
               f"the reduction did not pay: median tick {self.undone_from * 1e3:.1f} -> {self.tick_s * 1e3:.1f} ms")
        return (f"planning budget {what}: {self.old[0]} x {self.old[1]} -> {self.new[0]} x {self.new[1]} "
                f"samples x steps ({why}, period {self.period_s * 1e3:.1f} ms)")


class AdaptiveBudget:
    """The current (samples, horizon) within [floor, configured]; see the module docstring."""

    def __init__(self, cfg: BudgetConfig, samples: int, horizon: int, period_s: float, min_samples: int = 0):
        self.cfg = cfg
        self.period_s = float(period_s)
        self._ticks: collections.deque = collections.deque(maxlen=cfg.window)
        self.last_tick_s = float("nan")
        self._last_median_s = float("nan")
        self.behind = False      # the last full window overran with nothing left to take
        self._pending = None     # (sizes before, median before) of the last reduction, until judged
        self._hold = 0           # ticks left without shrinking (after a reduction that did not pay)
        self._samples_spent = False   # fewer samples did not pay: shrink the horizon instead
        self.configure(cfg, samples, horizon, min_samples)

    def configure(self, cfg: BudgetConfig, samples: int, horizon: int, min_samples: int = 0,
                  period_s: float | None = None) -> None:
        """New settings: the current budget is kept, clipped into the new bounds. New
        configured sizes (``samples``, ``horizon``) are taken as they are, and so is all of the
        configured budget when ``cfg.adaptive`` is off. ``min_samples``: a floor the sampler
        itself needs (CEM: more samples than elites)."""
        sizes = (int(samples), int(horizon))
        if period_s is not None and float(period_s) != self.period_s:
            self.period_s = float(period_s)
            self._ticks.clear()
        if cfg.window != self.cfg.window:
            self._ticks = collections.deque(maxlen=cfg.window)
        cur_s, cur_h = getattr(self, "samples", sizes[0]), getattr(self, "horizon", sizes[1])
        if sizes != (getattr(self, "max_samples", None), getattr(self, "max_horizon", None)):
            cur_s, cur_h = sizes
            self._ticks.clear()
        self._pending, self._hold, self._samples_spent = None, 0, False
        self.cfg = cfg
        self.max_samples, self.max_horizon = sizes
        self.min_samples = min(max(cfg.min_samples, int(min_samples)), self.max_samples)
        self.min_horizon = min(cfg.min_horizon, self.max_horizon)
        if not cfg.adaptive:
            cur_s, cur_h = self.max_samples, self.max_horizon
            self.behind = False
        self.samples = min(max(cur_s, self.min_samples), self.max_samples)
        self.horizon = min(max(cur_h, self.min_horizon), self.max_horizon)

    @property
    def current(self) -> tuple[int, int]:
        return self.samples, self.horizon

    @property
    def reduced(self) -> bool:
        """True while samples or horizon are below the configured values."""
        return self.samples < self.max_samples or self.horizon < self.max_horizon

    @property
    def tick_s(self) -> float:
        """Median tick time of the current window (s); right after a change (an empty window),
        the median that caused it; nan before any tick."""
        return statistics.median(self._ticks) if self._ticks else self._last_median_s

    def observe(self, tick_s: float) -> BudgetChange | None:
        """One planning tick's wall time (s). Returns the change it caused, or None."""
        tick_s = float(tick_s)
        if not math.isfinite(tick_s) or tick_s < 0:
            return None
        self.last_tick_s = tick_s
        self._ticks.append(tick_s)
        if not self.cfg.adaptive or len(self._ticks) < self.cfg.window:
            return None
        med = self._last_median_s = statistics.median(self._ticks)
        old = self.current
        over = med > self.cfg.overrun_ratio * self.period_s
        pending, self._pending = self._pending, None
        if pending is not None and not _paid(pending, old, med):
            if pending[0][0] != old[0]:
                self._samples_spent = True                      # next: the horizon
            else:
                self._hold = RETRY_WINDOWS * self.cfg.window    # in ticks: the window slides
            self.samples, self.horizon = pending[0]
            self.behind = over and not self._can_shrink()
            self._ticks.clear()
            return BudgetChange(old, self.current, med, self.period_s, undone_from=pending[1])
        if self._hold:
            self._hold -= 1
        if med < self.cfg.headroom_ratio * self.period_s:
            self._hold, self._samples_spent = 0, False
            self._grow(med)
        elif over and self._can_shrink():
            self._shrink(med)
        self.behind = over and self.current == old
        if self.current == old:
            return None
        self._ticks.clear()
        change = BudgetChange(old, self.current, med, self.period_s)
        if change.reduced:
            self._pending = (old, med)
        return change

    def _can_shrink(self) -> bool:
        return not self._hold and ((self.samples > self.min_samples and not self._samples_spent)
                                   or self.horizon > self.min_horizon)

    def _shrink(self, med: float) -> None:
        # by `step`, or by what the overrun asks for (cost ~ samples x horizon), at most by half
        factor = min(self.cfg.step, max(0.5, self.cfg.overrun_ratio * self.period_s / med))
        if self.samples > self.min_samples and not self._samples_spent:
            self.samples = max(self.min_samples, min(self.samples - 1, int(self.samples * factor)))
        elif self.horizon > self.min_horizon:
            self.horizon = max(self.min_horizon, min(self.horizon - 1, int(self.horizon * factor)))

    def _grow(self, med: float) -> None:
        s, h = self.samples, self.horizon
        if h < self.max_horizon:
            h = min(self.max_horizon, max(h + 1, math.ceil(h / self.cfg.step)))
        elif s < self.max_samples:
            s = min(self.max_samples, max(s + 1, math.ceil(s / self.cfg.step)))
        else:
            return
        predicted = med * (s * h) / (self.samples * self.horizon)
        if predicted < 0.5 * (self.cfg.headroom_ratio + self.cfg.overrun_ratio) * self.period_s:
            self.samples, self.horizon = s, h


def _paid(pending: tuple, now: tuple[int, int], med: float) -> bool:
    """Whether the reduction from ``pending`` = (sizes, median before) to ``now`` paid: the
    median fell by at least a quarter of what the smaller samples x horizon predicted."""
    (s0, h0), before = pending
    expected = before * (1.0 - (now[0] * now[1]) / (s0 * h0))
    return before - med >= 0.25 * expected
