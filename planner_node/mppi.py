"""Sampling MPC over a plain rollout callable: MPPI (default) or CEM.

The sampler knows nothing about robots or models: it is handed

    rollout_fn(actions (B, H, 2)) -> Rollout(poses (B, H, 3), collision_prob (B, H) | None)
    cost_fn(actions (B, H, 2), rollout) -> costs (B,)

and returns the updated mean action sequence. A test can pass an analytic model and check the
known optimum. Samples are time-correlated (AR(1) "colored" noise, the control smoothing),
clipped to velocity limits and then to acceleration limits step by step, so every evaluated
sequence is one the robot can execute. Besides the noisy samples, each iteration scores the plan
itself, a brake to a stop and ``forward_probes`` fixed forward arcs (so forward options are seen
even while the plan reverses). Warm start: the previous mean, shifted by the time
elapsed since the last tick (fractional shifts interpolate). ``resize(samples, horizon)`` changes
the budget between ticks (the adaptive budget, planner_node.budget): a shorter horizon keeps the
head of the warm start, a longer one extends it with its last action.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from world_model_planner.core.params import param, validate


@dataclass
class MPPIConfig:
    method: str = param("mppi", "Sampler: mppi (softmax-weighted mean) or cem (elite refit).",
                        choices=("mppi", "cem"))
    samples: int = param(512, "Action sequences sampled per iteration (the adaptive budget, budget.*, "
                         "may take fewer while ticks overrun).", range=(8, 65536))
    horizon: int = param(20, "Steps per sequence (one step = the model's dt_s, 0.1 s; the adaptive budget "
                         "may take fewer).", range=(2, 200))
    iterations: int = param(1, "Sampling iterations per control tick.", range=(1, 20))
    temperature: float = param(1.0, "MPPI temperature in cost units (smaller = greedier).",
                               range=(1e-4, 1e4))
    sigma_v: float = param(0.35, "Std of the linear-velocity noise (m/s).", range=(0.0, 5.0))
    sigma_w: float = param(0.8, "Std of the angular-velocity noise (rad/s).", range=(0.0, 10.0))
    noise_smoothing: float = param(0.6, "AR(1) coefficient of the time-correlated noise "
                                   "(0 = white, towards 1 = smoother).", range=(0.0, 0.99))
    mean_smoothing: float = param(0.0, "Blend of the previous mean kept after an update "
                                  "(0 = take the new weighted mean).", range=(0.0, 0.95))
    v_min_mps: float = param(-0.5, "Lowest linear velocity command (m/s).", range=(-5.0, 0.0))
    v_max_mps: float = param(1.0, "Highest linear velocity command (m/s).", range=(0.0, 5.0))
    w_max_radps: float = param(1.5, "Largest |angular velocity| command (rad/s).", range=(0.0, 10.0))
    accel_v_mps2: float = param(1.5, "Linear acceleration limit (m/s^2).", range=(0.01, 50.0))
    accel_w_radps2: float = param(3.0, "Angular acceleration limit (rad/s^2).", range=(0.01, 100.0))
    cem_elites: int = param(32, "CEM: elites refitted per iteration.", range=(2, 4096))
    cem_min_std: float = param(0.05, "CEM: floor on the refitted std, as a fraction of sigma.",
                               range=(0.0, 1.0))
    forward_probes: int = param(5, "Fixed forward candidates in every iteration's samples: probe_speed_mps "
                                "on arcs spread over +-half the yaw-rate limit, from the command being "
                                "executed. They keep forward options scored while the plan reverses, so "
                                "that the dead-end test of critics.prefer_forward (no collision-free "
                                "sequence gains ground forward) does not only see samples around a "
                                "reversing plan (0: none).", range=(0, 64))
    probe_speed_mps: float = param(0.3, "Linear speed of the forward probes (m/s; at most v_max_mps).",
                                   range=(0.0, 5.0))
    seed: int = param(0, "Seed of the sampler's random generator.", range=(0, 2**31 - 1))

    def __post_init__(self):
        validate(self)
        if self.method == "cem" and self.cem_elites >= self.samples:
            from world_model_planner.core.params import ConfigError

            raise ConfigError(f"MPPIConfig.cem_elites: expected fewer than samples ({self.samples}), "
                              f"got {self.cem_elites}")


@dataclass
class PlanResult:
    """action: (2,) first command; mean: (H, 2) plan; best_cost: cost of the plan;
    poses: (H, 3) predicted poses of the plan; sample_poses: (B, H, 3) of the last iteration;
    costs: (B,) of the last iteration."""

    action: torch.Tensor
    mean: torch.Tensor
    best_cost: float
    poses: torch.Tensor
    sample_poses: torch.Tensor
    costs: torch.Tensor


class MPPI:
    """MPPI / CEM sampler with warm start, colored noise and velocity/acceleration limits."""

    def __init__(self, cfg: MPPIConfig, dt_s: float, device: torch.device | str = "cpu"):
        self.cfg = cfg
        self.dt_s = float(dt_s)
        self.device = torch.device(device)
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(cfg.seed)
        self.samples, self.horizon = cfg.samples, cfg.horizon     # the budget in force (resize)
        H = cfg.horizon
        self.lo = torch.tensor([cfg.v_min_mps, -cfg.w_max_radps], device=self.device)
        self.hi = torch.tensor([cfg.v_max_mps, cfg.w_max_radps], device=self.device)
        self.dmax = torch.tensor([cfg.accel_v_mps2, cfg.accel_w_radps2], device=self.device) * self.dt_s
        self.sigma = torch.tensor([cfg.sigma_v, cfg.sigma_w], device=self.device)
        self.mean = torch.zeros(H, 2, device=self.device)                # (H, 2)

    def reset(self) -> None:
        self.mean = torch.zeros_like(self.mean)

    def resize(self, samples: int, horizon: int) -> None:
        """Sample ``samples`` sequences of ``horizon`` steps from the next tick on. The warm
        start (H, 2) is cut to its first ``horizon`` steps, or extended by repeating its last
        action. CEM keeps more samples than elites."""
        samples, horizon = int(samples), int(horizon)
        if horizon < 2 or samples < 2 or (self.cfg.method == "cem" and samples <= self.cfg.cem_elites):
            raise ValueError(f"MPPI.resize: expected horizon >= 2 and samples >= 2 (more than cem_elites="
                             f"{self.cfg.cem_elites} for cem), got {samples} samples x {horizon} steps")
        H = self.mean.shape[0]
        if horizon < H:
            self.mean = self.mean[:horizon].clone()
        elif horizon > H:
            self.mean = torch.cat([self.mean, self.mean[-1:].expand(horizon - H, 2)])
        self.samples, self.horizon = samples, horizon

    def shift(self, steps: float) -> None:
        """Warm start: advance the mean by ``steps`` model steps (fractional → interpolated);
        the tail repeats the last action."""
        if steps <= 0:
            return
        H = self.mean.shape[0]
        t = torch.arange(H, device=self.device, dtype=torch.float32) + float(steps)
        t = t.clamp(max=H - 1)
        i0 = t.floor().long()
        i1 = (i0 + 1).clamp(max=H - 1)
        frac = (t - i0.float())[:, None]
        self.mean = (1 - frac) * self.mean[i0] + frac * self.mean[i1]

    def _noise(self, B: int, std: torch.Tensor) -> torch.Tensor:
        """(B, H, 2) time-correlated Gaussian noise with per-step std ``std`` ((2,) or (H, 2))."""
        H, rho = self.horizon, self.cfg.noise_smoothing
        white = torch.randn(B, H, 2, generator=self.gen, device=self.device)
        if rho > 0:
            out = torch.empty_like(white)
            out[:, 0] = white[:, 0]
            k = (1 - rho * rho) ** 0.5
            for t in range(1, H):
                out[:, t] = rho * out[:, t - 1] + k * white[:, t]
            white = out
        return white * std

    def probes(self, B: int) -> torch.Tensor:
        """(P, H, 2) the forward probes (cfg.forward_probes, fewer when B leaves no room): a
        constant forward speed on arcs from -w_max/2 to +w_max/2."""
        P = min(self.cfg.forward_probes, B - 2)
        v = min(self.cfg.probe_speed_mps, self.cfg.v_max_mps)
        if P <= 0 or v <= 0:
            return torch.zeros(0, self.horizon, 2, device=self.device)
        w = torch.linspace(-0.5, 0.5, P, device=self.device) * self.cfg.w_max_radps if P > 1 \
            else torch.zeros(1, device=self.device)
        out = torch.empty(P, self.horizon, 2, device=self.device)
        out[..., 0] = v
        out[..., 1] = w[:, None]
        return out

    def limit(self, actions: torch.Tensor, a0: torch.Tensor) -> torch.Tensor:
        """Clip (B, H, 2) to velocity limits, then to acceleration limits from ``a0`` (2,). On the
        CPU as one compiled loop where numba is installed (world_model_node/step_kernel.py; the
        same numbers), else a PyTorch loop over the horizon."""
        if actions.device.type == "cpu" and actions.dtype == torch.float32 and a0.dtype == torch.float32:
            from world_model_planner.world_model_node.step_kernel import get_rate_limit

            kernel = get_rate_limit()
            if kernel is not None:
                out = torch.empty(actions.shape, dtype=torch.float32)
                kernel(actions.contiguous().numpy(), a0.contiguous().numpy(), self.lo.numpy(), self.hi.numpy(),
                       self.dmax.numpy(), out.numpy())
                return out
        a = torch.maximum(torch.minimum(actions, self.hi), self.lo)
        out = torch.empty_like(a)
        prev = a0.expand(a.shape[0], 2)
        for t in range(a.shape[1]):
            prev = prev + torch.maximum(torch.minimum(a[:, t] - prev, self.dmax), -self.dmax)
            out[:, t] = prev
        return out

    @torch.inference_mode()
    def plan(self, rollout_fn: Callable, cost_fn: Callable, a0, shift_steps: float = 0.0) -> PlanResult:
        """One control tick. a0: (2,) the command being executed now (acceleration reference)."""
        cfg = self.cfg
        a0 = torch.as_tensor(a0, dtype=torch.float32, device=self.device).reshape(2)
        a0 = torch.maximum(torch.minimum(a0, self.hi), self.lo)
        self.shift(shift_steps)
        std = self.sigma.expand(self.horizon, 2).clone()
        B = self.samples
        for _ in range(cfg.iterations):
            acts = self.mean[None] + self._noise(B, std)                          # (B, H, 2)
            acts[0] = self.mean                                                   # keep the plan
            acts[1] = 0.0                                                         # brake to a stop
            probes = self.probes(B)
            acts[2:2 + probes.shape[0]] = probes                                  # forward options
            acts = self.limit(acts, a0)
            roll = rollout_fn(acts)
            costs = cost_fn(acts, roll)                                           # (B,)
            costs = torch.nan_to_num(costs, nan=1e9, posinf=1e9)
            if cfg.method == "mppi":
                w = torch.softmax(-(costs - costs.min()) / cfg.temperature, dim=0)
                new_mean = torch.einsum("b,bhc->hc", w, acts)
            else:
                elite = torch.topk(-costs, cfg.cem_elites).indices
                ea = acts[elite]                                                  # (E, H, 2)
                new_mean = ea.mean(0)
                std = torch.maximum(ea.std(0), self.sigma * cfg.cem_min_std)
            self.mean = cfg.mean_smoothing * self.mean + (1 - cfg.mean_smoothing) * new_mean
        self.mean = self.limit(self.mean[None], a0)[0]
        final = rollout_fn(self.mean[None])
        best = float(cost_fn(self.mean[None], final)[0])
        return PlanResult(self.mean[0].clone(), self.mean.clone(), best, final.poses[0],
                          roll.poses, costs)
