"""The adaptive planning budget (planner_node.budget) and the sampler and navigator under a
budget that changes between ticks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.core.params import ConfigError
from world_model_planner.planner_node.budget import AdaptiveBudget, BudgetConfig
from world_model_planner.planner_node.dynamics import Rollout
from world_model_planner.planner_node.mppi import MPPI, MPPIConfig

PERIOD = 0.05


def _feed(b: AdaptiveBudget, tick_s: float, n: int) -> list:
    return [c for c in (b.observe(tick_s) for _ in range(n)) if c is not None]


def _run(b: AdaptiveBudget, fixed_s: float, per_unit_s: float, n: int) -> list:
    """n ticks whose time is fixed_s + per_unit_s x samples x horizon at the budget in force."""
    out = []
    for _ in range(n):
        c = b.observe(fixed_s + per_unit_s * b.samples * b.horizon)
        if c is not None:
            out.append(c)
    return out


FULL = 2048 * 30


def test_overrun_reduces_samples_then_horizon_never_below_the_floor():
    b = AdaptiveBudget(BudgetConfig(min_samples=128, min_horizon=12, window=5), 2048, 30, PERIOD)
    assert _feed(b, 0.9 * PERIOD, 20) == [] and b.current == (2048, 30) and not b.reduced
    unit = 60 * PERIOD / FULL                                # the cost follows samples x horizon
    assert _run(b, 0.0, unit, 2) == []                       # two overruns in a window of 5: the median holds
    changes = _run(b, 0.0, unit, 1)                          # the third makes the median an overrun
    assert len(changes) == 1
    c = changes[0]
    assert c.old == (2048, 30) and c.new == (1024, 30) and c.reduced   # 60x over: at most halved
    assert "2048 x 30 -> 1024 x 30" in c.line() and "3000.0 ms" in c.line() and "50.0 ms" in c.line()
    assert _run(b, 0.0, unit, 4) == []                       # a new window starts after a change
    changes = _run(b, 0.0, unit, 200)
    sizes = [c.new for c in changes]
    assert all(c.reduced for c in changes) and all(s >= 128 and h >= 12 for s, h in sizes)
    first_h = next(i for i, (s, h) in enumerate(sizes) if h < 30)
    assert all(s == 128 for s, _ in sizes[first_h:])         # the horizon shrinks once samples are at floor
    assert b.current == (128, 12) and b.reduced and b.behind
    assert _run(b, 0.0, unit, 50) == []                      # at the floor: no more changes, still behind


def test_a_reduction_that_does_not_pay_is_undone_then_the_horizon_then_a_hold():
    b = AdaptiveBudget(BudgetConfig(window=3), 512, 20, PERIOD)
    unit = 0.2 * PERIOD / (512 * 20)                           # the time goes elsewhere (2 periods fixed)
    assert [c.new for c in _run(b, 2 * PERIOD, unit, 3)] == [(256, 20)]
    changes = _run(b, 2 * PERIOD, unit, 3)
    assert len(changes) == 1 and changes[0].new == (512, 20) and not changes[0].reduced
    assert "restored" in changes[0].line() and "did not pay" in changes[0].line()
    assert not b.behind                                       # the horizon is left to try
    assert [c.new for c in _run(b, 2 * PERIOD, unit, 3)] == [(512, 12)]
    assert [c.new for c in _run(b, 2 * PERIOD, unit, 3)] == [(512, 20)]   # did not pay either
    assert b.behind and not b.reduced
    assert _run(b, 2 * PERIOD, unit, 60) == [] and b.behind  # holds, still behind
    assert _feed(b, 0.1 * PERIOD, 3) == [] and not b.behind  # headroom ends the hold
    assert _feed(b, 3 * PERIOD, 3)[0].new == (256, 20)       # and the budget may shrink again


def test_when_the_per_step_cost_dominates_the_horizon_is_shrunk():
    b = AdaptiveBudget(BudgetConfig(window=3, min_horizon=8), 512, 20, PERIOD)
    changes = []
    for _ in range(60):                                       # 0.2 period per step, whatever the samples
        c = b.observe(0.2 * PERIOD * b.horizon)
        if c is not None:
            changes.append(c.new)
    assert changes[:2] == [(256, 20), (512, 20)]             # fewer samples did not pay: undone
    assert changes[2:] == [(512, 10), (512, 8)] and b.behind  # the horizon did, down to its floor


def test_hysteresis_between_headroom_and_overrun_nothing_moves():
    b = AdaptiveBudget(BudgetConfig(window=4, headroom_ratio=0.6, overrun_ratio=1.0), 1024, 20, PERIOD)
    _feed(b, 1.5 * PERIOD, 4)
    reduced = b.current
    assert reduced[0] < 1024
    for tick in (0.65, 0.95, 0.8, 0.99, 0.61) * 20:          # inside the band, for 100 ticks
        assert b.observe(tick * PERIOD) is None
    assert b.current == reduced and not b.behind


def test_headroom_grows_back_to_the_configured_budget_horizon_first():
    b = AdaptiveBudget(BudgetConfig(min_samples=64, min_horizon=8, window=3), 512, 20, PERIOD)
    _run(b, 0.0, 30 * PERIOD / (512 * 20), 300)
    assert b.current == (64, 8)
    changes = _feed(b, 0.05 * PERIOD, 300)                  # plenty of headroom
    assert all(not c.reduced for c in changes) and b.current == (512, 20) and not b.reduced
    grown = [c.new for c in changes]
    assert all(s == 64 for s, h in grown if h < 20)         # horizon back first, then samples
    assert "grown" in changes[-1].line()


def test_growth_refused_when_the_grown_budget_would_overrun():
    b = AdaptiveBudget(BudgetConfig(window=3, step=0.5, headroom_ratio=0.6, overrun_ratio=1.0), 512, 20, PERIOD)
    _feed(b, 2 * PERIOD, 3)
    assert b.current == (256, 20)
    # 0.55 of the period is headroom, but doubling the samples would take it to 1.1: no growth
    assert _feed(b, 0.55 * PERIOD, 30) == [] and b.current == (256, 20)
    assert _feed(b, 0.3 * PERIOD, 3)[0].new == (512, 20)


def test_off_settings_and_reconfiguration():
    b = AdaptiveBudget(BudgetConfig(window=3), 512, 20, PERIOD, min_samples=33)
    _run(b, 0.0, 50 * PERIOD / (512 * 20), 60)
    assert b.current == (128, 12)                            # the floors: min_samples, min_horizon
    b.configure(BudgetConfig(window=3, min_samples=8), 512, 20, min_samples=33)
    _run(b, 0.0, 50 * PERIOD / (512 * 20), 60)
    assert b.current == (33, 12)                             # the sampler's own floor (CEM elites + 1)
    b.configure(BudgetConfig(adaptive=False), 512, 20)
    assert b.current == (512, 20) and not b.reduced and not b.behind
    assert _feed(b, 5 * PERIOD, 30) == [] and b.tick_s == pytest.approx(5 * PERIOD)
    b.configure(BudgetConfig(window=3), 256, 16)             # new configured sizes are taken as they are
    assert b.current == (256, 16)
    assert b.observe(math.nan) is None and b.observe(-1.0) is None
    with pytest.raises(ConfigError, match="headroom_ratio"):
        BudgetConfig(headroom_ratio=1.2, overrun_ratio=1.0)


def _line_problem(goal_v: float = 0.4):
    """Identity 'poses' (v, w, 0); cost: distance of v to goal_v and of w to 0 over the horizon."""
    def rollout_fn(a):
        return Rollout(torch.cat([a, torch.zeros_like(a[..., :1])], -1), None)

    def cost_fn(a, roll):
        return ((a[..., 0] - goal_v) ** 2 + a[..., 1] ** 2).sum(1)

    return rollout_fn, cost_fn


@pytest.mark.parametrize("method", ["mppi", "cem"])
def test_sampler_takes_new_samples_and_horizon_between_ticks(method):
    cfg = MPPIConfig(method=method, samples=256, horizon=20, cem_elites=16, seed=3)
    mppi = MPPI(cfg, 0.1)
    rollout_fn, cost_fn = _line_problem()
    a0 = torch.zeros(2)
    for samples, horizon in ((256, 20), (64, 12), (200, 25), (17, 2), (256, 20)):
        before = mppi.mean.clone()
        mppi.resize(samples, horizon)
        keep = min(before.shape[0], horizon)
        assert mppi.mean.shape == (horizon, 2)
        assert torch.equal(mppi.mean[:keep], before[:keep])                 # the warm start's head is kept
        assert (mppi.mean[keep:] == before[-1]).all()                        # extended with its last action
        for _ in range(3):
            res = mppi.plan(rollout_fn, cost_fn, a0, shift_steps=0.5)
            assert res.mean.shape == (horizon, 2) and res.costs.shape == (samples,)
            assert res.sample_poses.shape == (samples, horizon, 3) and torch.isfinite(res.action).all()
            assert (res.action >= mppi.lo).all() and (res.action <= mppi.hi).all()
            a0 = res.action
    assert a0[0] > 0.1                                                       # still heading for goal_v
    with pytest.raises(ValueError, match="resize"):
        mppi.resize(16 if method == "cem" else 1, 10)


@pytest.fixture
def one_thread():
    """One torch thread, as the planner node runs (two threads crawl on a shared 2-core machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("kind", ["hierarchical", "classic_id"])
def test_navigator_plans_through_budget_changes(kind, one_thread):
    from world_model_planner.planner_node.dynamics import LearnedModel, SysIdModel
    from world_model_planner.planner_node.navigator import Navigator, PlannerConfig
    from world_model_planner.planner_node.sysid import default_sysid_path
    from world_model_planner.world_model_node.model import WorldModel

    torch.manual_seed(0)
    if kind == "hierarchical":                                   # tracked scene on: the scan's clearance too
        model = LearnedModel(WorldModel().eval(), device="cpu")
    else:                                                        # delay buffers, tracked movers
        model = SysIdModel.from_file(default_sysid_path(), "cpu")
    nav = Navigator(kind, model, PlannerConfig(mppi=MPPIConfig(samples=96, horizon=16)))
    nav.set_goal(3.0, 0.0)
    scan = np.full(180, np.inf)
    scan[85:95] = 1.5
    t = 0.0
    for samples, horizon in ((96, 16), (40, 8), (96, 24), (96, 16)):
        nav.set_budget(samples, horizon)
        for _ in range(2):
            cmd = nav.step([0, 0, 0], [0.2, 0], scan, t, new_scan=True)
            t += 0.05
            assert cmd.state == "planning" and math.isfinite(cmd.v) and math.isfinite(cmd.w)
            assert cmd.best_traj.shape == (horizon, 3) and cmd.sample_trajs.shape[1:] == (horizon, 3)
            assert math.isfinite(cmd.best_cost)
    nav.reconfigure(nav.cfg, budget=(48, 10))                   # a parameter change keeps the budget
    assert (nav.mppi.samples, nav.mppi.horizon) == (48, 10)
    assert nav.step([0, 0, 0], [0.2, 0], scan, t).best_traj.shape == (10, 3)
