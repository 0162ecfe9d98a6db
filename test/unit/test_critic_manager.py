"""The critic manager: the critics list selects and orders the critics, unknown names are
refused, and with the defaults the total equals the if-chain it replaced (frozen below)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from world_model_planner.core.params import ConfigError
from world_model_planner.planner_node.critics import (CRITIC_NAMES, CostContext, Critic, CriticData, Critics,
                                                      CriticsConfig, DistanceField)
from world_model_planner.planner_node.dynamics import Rollout


#: The critics the if-chain knew; later ones (prefer_forward, path_angle) are tested on their own.
OLD_CRITICS = ["goal", "heading", "collision", "clearance", "effort", "smoothness", "progress", "path"]


def frozen_if_chain(cfg, actions, roll, ctx):
    """The cost as planner_node/critics.py computed it before the critics became classes (plus
    the contact-time term added since: clearance_contact_time_cost x the share of steps in contact,
    for sequences in contact from the first step)."""
    poses, out = roll.poses, []
    zeros = poses.new_zeros(poses.shape[0])
    end = torch.linalg.norm(poses[:, -1, :2] - ctx.target, dim=-1)
    hit = None
    for n in ("goal", "heading", "collision", "clearance", "effort", "smoothness", "progress", "path"):
        if not getattr(cfg, f"{n}_enabled"):
            continue
        if n == "goal":
            raw = end
        elif n == "heading":
            err = torch.remainder(poses[:, -1, 2] - ctx.goal_yaw + torch.pi, 2 * torch.pi) - torch.pi
            raw = torch.where(end < cfg.heading_radius_m, err.abs(), torch.zeros_like(err)) \
                if ctx.goal_yaw is not None and ctx.final else zeros
        elif n == "collision":
            raw = 1.0 - torch.prod(1.0 - roll.collision_prob.clamp(0.0, 1.0), dim=1)
        elif n == "clearance":
            d = Critics(cfg).footprint_distance(poses, ctx.field)
            hit = (d < 0).any(1).float()
            share = (d < 0).float().mean(1) * (d[:, 0] < 0).float()
            raw = (torch.relu(cfg.clearance_margin_m - d) / max(cfg.clearance_margin_m, 1e-6)).mean(1)
        elif n == "effort":
            e = ((actions / torch.tensor(ctx.a_max)) ** 2).sum(-1).mean(1)
            raw = e + cfg.reverse_weight / max(cfg.effort_weight, 1e-9) * torch.relu(-actions[..., 0]).mean(1)
        elif n == "smoothness":
            prev = torch.cat([ctx.a0.expand(actions.shape[0], 1, 2), actions[:, :-1]], dim=1)
            raw = (((actions - prev) / torch.tensor(ctx.d_max)) ** 2).sum(-1).mean(1)
        elif n == "progress":
            raw = (torch.linalg.norm(poses[..., :2] - ctx.target, dim=-1).mean(1)
                   - torch.linalg.norm(ctx.start[:2] - ctx.target))
        else:
            raw = torch.cdist(poses[..., :2].reshape(-1, 2), ctx.path).min(-1).values.reshape(poses.shape[:2]).mean(1)
        p = getattr(cfg, f"{n}_power")
        if p != 1.0:
            raw = raw.sign() * raw.abs().pow(p)
        cost = getattr(cfg, f"{n}_weight") * raw
        out.append(cost + cfg.clearance_lethal_cost * hit + cfg.clearance_contact_time_cost * share
                   if n == "clearance" else cost)
    return sum(out)


def random_case(seed: int, B: int = 256, H: int = 20):
    """Random rollouts near a wall, random actions (reverse included), a path and a goal yaw."""
    g = torch.Generator().manual_seed(seed)
    steps = torch.rand(B, H, 3, generator=g) * torch.tensor([0.12, 0.12, 0.3]) - torch.tensor([0.03, 0.06, 0.15])
    poses = steps.cumsum(1)                                                     # (B, H, 3)
    actions = torch.rand(B, H, 2, generator=g) * torch.tensor([1.5, 3.0]) - torch.tensor([0.5, 1.5])
    wall = np.stack([np.full(61, 1.2), np.linspace(-3, 3, 61)], -1)
    path = torch.stack([torch.linspace(0, 3, 31), torch.full((31,), 0.2)], -1)
    ctx = CostContext(target=torch.tensor([1.5, 0.3]), start=torch.tensor([0.0, 0.0, 0.1]),
                      a0=torch.tensor([0.3, -0.2]), final=True, goal_yaw=0.4,
                      field=DistanceField(wall, (0.0, 0.0), 8.0, 0.05), path=path)
    return actions, Rollout(poses, torch.rand(B, H, generator=g) * 0.2), ctx


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_total_equals_the_old_if_chain(seed):
    actions, roll, ctx = random_case(seed)
    cfg = CriticsConfig(critics=OLD_CRITICS)
    new = Critics(cfg)(actions, roll, ctx)
    assert (new >= 1000.0).any() and (new < 1000.0).any()      # some rollouts hit the wall, some do not
    torch.testing.assert_close(new, frozen_if_chain(cfg, actions, roll, ctx), rtol=1e-5, atol=1e-4)


def test_every_weight_and_power_but_effort_power_matches_the_old_if_chain():
    """With effort_power = 1 the reverse term is the same as before, whatever the other settings."""
    actions, roll, ctx = random_case(3)
    cfg = CriticsConfig(critics=OLD_CRITICS, **{f"{n}_weight": 0.5 + i for i, n in enumerate(CRITIC_NAMES)},
                        **{f"{n}_power": 1.5 for n in CRITIC_NAMES if n != "effort"}, heading_enabled=False)
    torch.testing.assert_close(Critics(cfg)(actions, roll, ctx), frozen_if_chain(cfg, actions, roll, ctx),
                               rtol=1e-5, atol=1e-4)


def test_reverse_cost_is_not_scaled_by_effort_weight_or_power():
    """Before, reverse_weight was divided by effort_weight and then raised to effort_power."""
    actions, roll, ctx = random_case(6, B=32)
    cfg = CriticsConfig(critics=["effort"], effort_weight=0.5, effort_power=2.0, reverse_weight=3.0)
    e = ((actions / torch.tensor(ctx.a_max)) ** 2).sum(-1).mean(1)
    expected = 0.5 * e ** 2 + 3.0 * torch.relu(-actions[..., 0]).mean(1)
    torch.testing.assert_close(Critics(cfg)(actions, roll, ctx), expected)


def test_the_list_selects_and_orders_the_critics():
    actions, roll, ctx = random_case(4, B=8)
    crit = Critics(CriticsConfig(critics=["path", "goal"]))
    parts = crit.breakdown(actions, roll, ctx)
    assert list(parts) == ["path", "goal"] == crit.enabled()
    alone = Critics(CriticsConfig(critics=["goal"]))(actions, roll, ctx)
    torch.testing.assert_close(alone, CriticsConfig().goal_weight * torch.linalg.norm(
        roll.poses[:, -1, :2] - ctx.target, dim=-1))
    # listed but disabled: evaluated never, costs nothing
    assert Critics(CriticsConfig(critics=["goal"], goal_enabled=False))(actions, roll, ctx).abs().sum() == 0


@pytest.mark.parametrize("names, needle", [(["goal", "obstacle"], "'obstacle'"), (["goal", "goal"], "each named once"),
                                           ([], "at least one")])
def test_a_bad_critics_list_is_a_config_error_naming_it(names, needle):
    with pytest.raises(ConfigError, match="critics") as exc:
        CriticsConfig(critics=names)
    assert needle in str(exc.value)


def test_clearance_fills_in_collision_for_the_critics_after_it():
    seen = {}

    class Spy(Critic):
        name = "spy"

        def raw(self, data: CriticData):
            seen["hit"] = data.in_collision.clone()
            return data.zeros()

    actions, roll, ctx = random_case(5, B=64)
    crit = Critics(CriticsConfig(critics=["clearance"]))
    spy = Spy()
    spy.enabled, spy.weight, spy.power = True, 1.0, 1.0
    crit.critics.append(spy)
    cost = crit(actions, roll, ctx)
    assert seen["hit"].any() and not seen["hit"].all()
    assert torch.equal(seen["hit"], cost >= CriticsConfig().clearance_lethal_cost)


def test_navigator_reconfigure_applies_new_weights_and_list():
    from world_model_planner.planner_node.dynamics import UnicycleModel
    from world_model_planner.planner_node.navigator import Navigator, PlannerConfig

    nav = Navigator("flat", UnicycleModel(0.1), PlannerConfig())
    cfg = nav.cfg
    nav.reconfigure(dataclasses.replace(cfg, critics=dataclasses.replace(cfg.critics, goal_weight=7.0,
                                                                           critics=["goal", "effort"])))
    assert [c.name for c in nav.critics.critics] == ["goal", "effort"]
    assert nav.critics.critics[0].weight == 7.0


def test_the_parameter_doc_describes_every_critic_from_its_class():
    from pathlib import Path

    from world_model_planner.planner_node.critics import CRITIC_CLASSES

    text = (Path(__file__).resolve().parents[2] / "docs" / "parameters.md").read_text()
    for c in CRITIC_CLASSES:
        assert f"**{c.name}** (`{c.__module__.rsplit('.', 1)[-1]}.{c.__name__}`): {c.scores}" in text
        assert all(f"`critics.{n}`" in text for n, _t, _f in c.fields())


def test_collision_combine_max_scores_the_likeliest_step_not_their_compounding():
    """'any' compounds the per-step probabilities (a steady 0.22 over 20 steps reads as 0.99, all
    but certain contact for every sample); 'max' keeps the likeliest step, so a pass with a steady
    0.22 costs less than one sample that is sure to hit at one step, which 'any' ranks the other way."""
    poses = torch.zeros(2, 20, 3)
    prob = torch.stack([torch.full((20,), 0.22), torch.cat([torch.full((19,), 0.0), torch.ones(1) * 0.9])])
    actions, _, ctx = random_case(7, B=2)
    roll = Rollout(poses, prob)
    cost = {c: Critics(CriticsConfig(critics=["collision"], collision_weight=100.0,
                                     collision_combine=c))(actions, roll, ctx) for c in ("any", "max")}
    torch.testing.assert_close(cost["max"], torch.tensor([22.0, 90.0]))
    torch.testing.assert_close(cost["any"], 100.0 * (1.0 - (1.0 - prob).prod(1)))
    assert cost["any"][0] > cost["any"][1] and cost["max"][0] < cost["max"][1]
    with pytest.raises(ConfigError, match="collision_combine"):
        CriticsConfig(collision_combine="mean")
