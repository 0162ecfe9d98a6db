"""MPPI / CEM on analytic problems with known answers."""
from __future__ import annotations

import math

import pytest
import torch

from world_model_planner.planner_node.critics import CostContext, Critics, CriticsConfig
from world_model_planner.planner_node.dynamics import Rollout, UnicycleModel
from world_model_planner.planner_node.mppi import MPPI, MPPIConfig
from world_model_planner.core.params import ConfigError

H = 10


def _target():
    t = torch.arange(H, dtype=torch.float32)
    return torch.stack([0.5 + 0.2 * torch.sin(t / 3), 0.4 * torch.cos(t / 4)], -1)   # (H, 2)


def _quadratic_problem():
    """rollout = identity poses; cost = squared distance of the sequence to a known target."""
    target = _target()

    def rollout_fn(a):
        return Rollout(torch.cat([a, torch.zeros_like(a[..., :1])], -1), None)

    def cost_fn(a, roll):
        return ((a - target) ** 2).sum((1, 2))

    return target, rollout_fn, cost_fn


@pytest.mark.parametrize("method", ["mppi", "cem"])
def test_sampler_finds_known_optimum(method):
    torch.manual_seed(0)
    cfg = MPPIConfig(method=method, samples=256, horizon=H, iterations=10, temperature=0.05,
                     sigma_v=0.15, sigma_w=0.15, noise_smoothing=0.0, accel_v_mps2=50.0,
                     accel_w_radps2=100.0)
    mppi = MPPI(cfg, dt_s=0.1)
    target, rollout_fn, cost_fn = _quadratic_problem()
    for _ in range(3):
        res = mppi.plan(rollout_fn, cost_fn, a0=target[0], shift_steps=0.0)
    err = (res.mean - target).abs().max().item()
    assert err < 0.06, f"{method}: max error {err:.3f} from the known optimum"
    assert res.best_cost < 0.02


def test_limits_hold_on_every_sample():
    cfg = MPPIConfig(samples=64, horizon=H, sigma_v=3.0, sigma_w=5.0)
    mppi = MPPI(cfg, dt_s=0.1)
    a0 = torch.tensor([0.2, -0.1])
    acts = mppi.limit(mppi.mean[None] + mppi._noise(64, mppi.sigma), a0)
    assert acts[..., 0].min() >= cfg.v_min_mps - 1e-6 and acts[..., 0].max() <= cfg.v_max_mps + 1e-6
    assert acts[..., 1].abs().max() <= cfg.w_max_radps + 1e-6
    steps = torch.diff(torch.cat([a0.expand(64, 1, 2), acts], 1), dim=1).abs()
    assert steps[..., 0].max() <= cfg.accel_v_mps2 * 0.1 + 1e-5
    assert steps[..., 1].max() <= cfg.accel_w_radps2 * 0.1 + 1e-5


def test_the_compiled_limit_gives_the_pytorch_loops_numbers(monkeypatch):
    """MPPI.limit runs as one compiled loop where numba is installed: the same numbers as the
    PyTorch loop over the horizon, a NaN kept where it was (and only in its own sample)."""
    from world_model_planner.world_model_node import step_kernel

    if step_kernel.get_rate_limit() is None:
        pytest.skip(f"numba step kernel unavailable: {step_kernel.error()}")
    cfg = MPPIConfig(samples=64, horizon=H, sigma_v=3.0, sigma_w=5.0)
    mppi = MPPI(cfg, dt_s=0.1)
    a0 = torch.tensor([0.2, -0.1])
    raw = mppi.mean[None] + mppi._noise(64, mppi.sigma)
    raw[5, 3, 1] = float("nan")
    got = mppi.limit(raw, a0)
    monkeypatch.setattr(step_kernel, "get_rate_limit", lambda: None)
    want = mppi.limit(raw, a0)
    assert torch.equal(torch.isnan(got), torch.isnan(want)) and torch.isnan(got[5, 3:, 1]).all()
    assert not torch.isnan(got[4]).any()
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6, equal_nan=True)


def test_forward_probes_are_scored_while_the_plan_reverses():
    """Every iteration carries forward_probes fixed forward arcs (probe_speed_mps, yaw rates over
    +-w_max/2), accel-limited from a0 like every sample: scored even when the plan reverses."""
    cfg = MPPIConfig(samples=16, horizon=20, forward_probes=5, probe_speed_mps=0.3, v_min_mps=-1.0,
                     accel_v_mps2=2.0, w_max_radps=2.0)
    mppi = MPPI(cfg, dt_s=0.1)
    mppi.mean = torch.tensor([-0.9, 0.0]).expand(20, 2).clone()
    seen = {}

    def rollout_fn(a):
        return Rollout(torch.zeros(a.shape[0], 20, 3), None)

    def cost_fn(a, roll):
        seen.setdefault("acts", a.clone())
        return torch.zeros(a.shape[0])

    mppi.plan(rollout_fn, cost_fn, a0=torch.tensor([-0.9, 0.0]))
    probes = seen["acts"][2:7]
    assert torch.allclose(probes[:, -1, 0], torch.full((5,), 0.3))          # up to the probe speed
    assert torch.allclose(probes[:, -1, 1], torch.linspace(-1.0, 1.0, 5))   # arcs over +-w_max/2
    assert (probes[..., 0].sum(1) * 0.1 > 0.05).all()                       # each gains ground forward
    assert (seen["acts"][7:, :, 0].sum(1) * 0.1 < 0.05).all()               # no random sample does
    assert MPPI(MPPIConfig(samples=8, horizon=H), 0.1).probes(4).shape == (2, H, 2)   # 4 samples: room for 2
    assert MPPI(MPPIConfig(samples=16, horizon=H, forward_probes=0), 0.1).probes(16).shape[0] == 0


def test_warm_start_shift_interpolates():
    mppi = MPPI(MPPIConfig(samples=8, horizon=4), dt_s=0.1)
    mppi.mean = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    mppi.shift(0.5)
    assert torch.allclose(mppi.mean[:, 0], torch.tensor([0.5, 1.5, 2.5, 3.0]))
    mppi.shift(1.0)
    assert torch.allclose(mppi.mean[:, 0], torch.tensor([1.5, 2.5, 3.0, 3.0]))


def test_colored_noise_is_smoother_than_white():
    white = MPPI(MPPIConfig(samples=2000, horizon=20, noise_smoothing=0.0), 0.1)._noise(2000, torch.ones(2))
    red = MPPI(MPPIConfig(samples=2000, horizon=20, noise_smoothing=0.8), 0.1)._noise(2000, torch.ones(2))
    assert abs(red.std().item() - 1.0) < 0.1                      # same marginal spread
    assert torch.diff(red, dim=1).abs().mean() < 0.6 * torch.diff(white, dim=1).abs().mean()


def test_unicycle_reaches_point_through_critics():
    """Closed loop on the analytic unicycle: the plan's end converges onto the target."""
    model = UnicycleModel(0.1)
    cfg = MPPIConfig(samples=256, horizon=20, seed=1)
    mppi, critics = MPPI(cfg, 0.1), Critics(CriticsConfig())
    pose, a = torch.zeros(3), torch.zeros(2)
    target = torch.tensor([1.5, 1.0])
    for _ in range(60):
        state = {"pose": pose}
        ctx = CostContext(target=target, start=pose, a0=a)
        res = mppi.plan(lambda x: model.rollout(state, x), lambda x, r: critics(x, r, ctx), a, shift_steps=1.0)
        a = res.action
        pose = model.rollout(state, a.view(1, 1, 2)).poses[0, 0]           # execute for one step
    assert torch.linalg.norm(pose[:2] - target) < 0.25


def test_unicycle_matches_closed_form_arc():
    model = UnicycleModel(0.1)
    acts = torch.tensor([[[1.0, 1.0]] * 10])                        # 1 s on a unit circle
    p = model.rollout({"pose": torch.zeros(3)}, acts).poses[0, -1]
    assert torch.allclose(p, torch.tensor([math.sin(1.0), 1 - math.cos(1.0), 1.0]), atol=1e-5)


def test_config_refuses_bad_values():
    with pytest.raises(ConfigError, match="samples"):
        MPPIConfig(samples=0)
    with pytest.raises(ConfigError, match="method"):
        MPPIConfig(method="gd")
    with pytest.raises(ConfigError, match="cem_elites"):
        MPPIConfig(method="cem", samples=16, cem_elites=32)
