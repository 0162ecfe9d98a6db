"""nav.collision_mover_gate_m: a learned planner counts its collision head only at predicted
poses near a tracked moving obstacle (extrapolated to each step); elsewhere the footprint
against the scan decides, exact for walls and doorways."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from world_model_planner.planner_node.critics import Footprint
from world_model_planner.planner_node.dynamics import LearnedModel
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import Navigator, PlannerConfig

SCAN = np.full(180, np.inf)


class _ContactModel(torch.nn.Module):
    """Latent = (x, y, yaw); drives along x at the commanded speed; its collision head reads
    contact everywhere (P = 1 - 5e-5)."""

    dt_s = 0.1
    obs_spec = {"scan_beams": 180, "scan_range_max": 8.0}

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def encode(self, obs):
        return torch.as_tensor(obs["pose"]).reshape(1, 3)

    def rollout(self, z, actions):
        z = z.expand(*actions.shape[:2], 3).clone()
        z[..., 0] = z[..., 0] + torch.cumsum(actions[..., 0] * self.dt_s, 1)
        return z

    def pose(self, z):
        return z[..., :3]

    def collision_logit(self, z):
        return torch.full(z.shape[:-1], 10.0)


def _model(gate_m: float, mover_xy, vel=(0.0, 0.0), field=True) -> tuple[LearnedModel, dict]:
    from world_model_planner.planner_node.critics import DistanceField

    m = LearnedModel(_ContactModel(), device="cpu")
    m.set_geometry(Footprint(0.99, 0.67, 5), 8.0, 0.05)
    m.collision_gate_m = gate_m
    state = m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN)
    state["field"] = DistanceField(np.zeros((0, 2)), (0.0, 0.0), 8.0, 0.05) if field else None   # a scan, empty
    state["movers"] = None if mover_xy is None else (torch.tensor([mover_xy], dtype=torch.float32),
                                                      torch.tensor([vel], dtype=torch.float32),
                                                      torch.tensor([0.25]))
    return m, state


def test_the_head_counts_only_near_a_mover():
    ahead = torch.zeros(1, 20, 2)
    ahead[0, :, 0] = 1.0                                             # 1 m/s along x for 2 s
    m, st = _model(0.0, (6.0, 3.0))                                  # 0: the head wherever it is scored
    assert torch.all(m.rollout(st, ahead).collision_prob > 0.99)
    m, st = _model(1.0, (6.0, 3.0))                                  # a person 3 m off the line
    assert torch.all(m.rollout(st, ahead).collision_prob == 0.0)
    m, st = _model(1.0, None)                                        # nothing moves
    assert torch.all(m.rollout(st, ahead).collision_prob == 0.0)
    m, st = _model(1.0, None, field=False)                           # no scan to check against: the head
    assert torch.all(m.rollout(st, ahead).collision_prob > 0.99)
    m, st = _model(1.0, (2.0, 1.0))                                  # a person beside x = 2
    p = m.rollout(st, ahead).collision_prob[0]
    # the Husky's covering circles (front centre ~0.33 m ahead, radius 0.335) come within 1 m of
    # the person's disc (0.25 m) from x ~ 0.44 on, to the end of the horizon (x = 2)
    near = [i for i in range(20) if p[i] > 0.99]
    assert near == list(range(near[0], 20)) and all(p[i] == 0.0 for i in range(near[0]))
    assert 0.1 * (near[0] + 1) == pytest.approx(0.44, abs=0.1)
    # the mover is extrapolated: walking towards the robot's path, it gates later steps on
    m, st = _model(1.0, (2.0, 4.0), vel=(0.0, -2.0))
    p = m.rollout(st, ahead).collision_prob[0]
    assert p[0] == 0.0 and p[14] > 0.99


def test_the_gate_reaches_the_model_through_the_navigator():
    m = LearnedModel(_ContactModel(), device="cpu")
    nav = Navigator("flat", m, PlannerConfig(mppi=MPPIConfig(samples=32, horizon=10)))
    assert m.collision_gate_m == nav.cfg.nav.collision_mover_gate_m
    nav.cfg.nav.collision_mover_gate_m = 1.5
    nav.reconfigure(nav.cfg)                                         # applied, not just acknowledged
    assert m.collision_gate_m == 1.5
