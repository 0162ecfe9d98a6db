"""Critics: each one alone, on hand-made rollouts whose right answer is obvious."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.planner_node.critics import (CRITIC_NAMES, REGISTRY, CostContext, CriticData, Critics,
                                                      CriticsConfig, DistanceField)
from world_model_planner.planner_node.dynamics import Rollout


def only(name: str, **kw) -> Critics:
    """Critics with just ``name`` in the critics list (weight 1, power 1 unless given)."""
    flags = {"critics": [name], f"{name}_weight": 1.0, f"{name}_power": 1.0}
    flags.update(kw)
    return Critics(CriticsConfig(**flags))


def straight(ys, x_end=1.0, H=5, yaw=0.0):
    """(B, H, 3) straight runs from x=0 to x_end at each y in ys."""
    x = torch.linspace(x_end / H, x_end, H)
    return torch.stack([torch.stack([x, torch.full_like(x, y), torch.full_like(x, yaw)], -1) for y in ys])


def ctx(target=(1.0, 0.0), **kw):
    base = dict(target=torch.tensor(target), start=torch.zeros(3), a0=torch.zeros(2))
    base.update(kw)
    return CostContext(**base)


def test_goal_critic_is_terminal_distance():
    poses = straight([0.0, 3.0, -4.0], x_end=1.0)
    c = only("goal")(torch.zeros(3, 5, 2), Rollout(poses), ctx())
    assert torch.allclose(c, torch.tensor([0.0, 3.0, 4.0]), atol=1e-5)


def test_power_and_weight_apply():
    poses = straight([0.0, 3.0])
    c = only("goal", goal_weight=2.0, goal_power=2.0)(torch.zeros(2, 5, 2), Rollout(poses), ctx())
    assert torch.allclose(c, torch.tensor([0.0, 18.0]), atol=1e-4)


def test_disabled_critic_contributes_nothing():
    poses = straight([3.0])
    cfg = CriticsConfig(**{f"{n}_enabled": False for n in CRITIC_NAMES})
    assert Critics(cfg)(torch.ones(1, 5, 2), Rollout(poses), ctx()).item() == 0.0


def test_heading_only_near_final_goal_with_yaw():
    near = straight([0.0], yaw=0.5)
    far = straight([5.0], yaw=0.5)
    crit = only("heading")
    roll = Rollout(torch.cat([near, far]))
    c = crit(torch.zeros(2, 5, 2), roll, ctx(goal_yaw=0.0))
    assert c[0].item() == pytest.approx(0.5, abs=1e-5) and c[1].item() == 0.0
    assert crit(torch.zeros(2, 5, 2), roll, ctx(goal_yaw=None)).abs().sum() == 0
    assert crit(torch.zeros(2, 5, 2), roll, ctx(goal_yaw=0.0, final=False)).abs().sum() == 0


def test_heading_wraps_angles():
    roll = Rollout(straight([0.0], yaw=math.pi - 0.1))
    c = only("heading")(torch.zeros(1, 5, 2), roll, ctx(goal_yaw=-math.pi + 0.1))
    assert c.item() == pytest.approx(0.2, abs=1e-4)


def test_collision_is_probability_of_any_contact():
    poses = straight([0.0, 0.0])
    p = torch.tensor([[0.0] * 5, [0.5, 0.5, 0.0, 0.0, 0.0]])
    c = only("collision")(torch.zeros(2, 5, 2), Rollout(poses, p), ctx())
    assert torch.allclose(c, torch.tensor([0.0, 0.75]))
    assert only("collision")(torch.zeros(2, 5, 2), Rollout(poses, None), ctx()).abs().sum() == 0


def test_distance_field_matches_exact_distance():
    pts = np.array([[1.0, 0.0], [0.0, 2.0]])
    f = DistanceField(pts, (0.0, 0.0), size_m=6.0, res_m=0.05)
    q = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 0.0], [0.0, 2.0]])
    exact = torch.cdist(q.double(), torch.tensor(pts)).min(1).values.float()
    assert torch.allclose(f.lookup(q), exact, atol=0.06)
    assert f.lookup(torch.tensor([[50.0, 50.0]])).item() == pytest.approx(f.far)


def test_clearance_lethal_and_margin():
    wall = np.stack([np.full(61, 2.0), np.linspace(-3, 3, 61)], -1)      # wall at x = 2
    field = DistanceField(wall, (0.0, 0.0), 8.0, 0.05)
    crit = only("clearance", clearance_lethal_cost=1000.0, clearance_margin_m=0.3)
    far = straight([0.0], x_end=0.5)          # front at 0.995 → clearance ~1 m: free
    close = straight([0.0], x_end=1.1)        # front circle ~0.2 m from the wall: within margin
    hit = straight([0.0], x_end=1.8)          # overlaps the wall
    roll = Rollout(torch.cat([far, close, hit]))
    c = crit(torch.zeros(3, 5, 2), roll, ctx(field=field))
    assert c[0].item() == 0.0
    assert 0.0 < c[1].item() < 1.0
    assert c[2].item() >= 1000.0


def test_footprint_is_oriented():
    """A robot 0.99 x 0.67 beside a wall: sideways it fits where lengthways it does not."""
    wall = np.stack([np.full(61, 0.6), np.linspace(-3, 3, 61)], -1)      # wall at x = 0.6
    field = DistanceField(wall, (0.0, 0.0), 8.0, 0.05)
    crit = only("clearance")
    along = torch.tensor([[[0.0, 0.0, 0.0]]])          # long axis towards the wall: 0.495 + circle
    across = torch.tensor([[[0.0, 0.0, math.pi / 2]]])  # half width 0.335 towards the wall
    d_along = crit.footprint_distance(along, field).item()
    d_across = crit.footprint_distance(across, field).item()
    assert d_along < 0.0 < d_across


def test_a_footprint_in_the_context_replaces_the_configured_one():
    """ctx.footprint (the goal approach's exact rectangle) is what the clearance critic measures:
    the covering circles reach 0.25 m past the body's ends, so a body 0.1 m short of a wall reads
    as contact with them and as 0.1 m clear with the rectangle."""
    from world_model_planner.planner_node.critics import Footprint

    wall = np.stack([np.full(61, 0.6), np.linspace(-3, 3, 61)], -1)      # 0.105 m past the front end
    field = DistanceField(wall, (0.0, 0.0), 8.0, 0.05)
    crit = only("clearance")
    still = torch.zeros(1, 5, 3)                                          # standing at the origin, yaw 0
    acts = torch.zeros(1, 5, 2)
    circles = crit(acts, Rollout(still), ctx(field=field))
    exact = crit(acts, Rollout(still), ctx(field=field, footprint=Footprint(0.99, 0.67, 5, exact=True)))
    assert circles.item() >= 1000.0                                       # lethal
    assert 0.0 < exact.item() < 10.0                                      # inside the soft margin only


@pytest.mark.parametrize("target, final, known, soft", [((0.3, 0.0), True, True, False),
                                                         ((1.0, 0.0), True, True, True),
                                                         ((0.3, 0.0), False, True, True),
                                                         ((0.0, 0.0), True, False, True)])
def test_near_the_final_goal_only_contact_counts(target, final, known, soft):
    """clearance_near_goal_m (0.5): with the robot that near the final goal the soft margin costs
    nothing, so a goal 0.1 m from a wall stays within reach; contact still counts. A target that
    stands in for a goal with no position (a goal picture: the robot's own) is not a goal."""
    from world_model_planner.planner_node.critics import Footprint

    wall = np.stack([np.full(61, 0.6), np.linspace(-3, 3, 61)], -1)      # 0.105 m past the front end
    field = DistanceField(wall, (0.0, 0.0), 8.0, 0.05)
    crit = only("clearance")
    still, acts = torch.zeros(1, 5, 3), torch.zeros(1, 5, 2)
    exact = Footprint(0.99, 0.67, 5, exact=True)
    cost = crit(acts, Rollout(still), ctx(target, field=field, footprint=exact, final=final, goal_known=known)).item()
    assert (cost > 0.0) == soft and cost < 10.0
    assert crit(acts, Rollout(still), ctx(target, field=field, final=final, goal_known=known)).item() >= 1000.0


def test_effort_smoothness_progress():
    acts = torch.zeros(2, 5, 2)
    acts[1, :, 0] = 1.0
    e = only("effort", reverse_weight=0.0)(acts, Rollout(straight([0, 0])), ctx(a_max=(1.0, 1.5)))
    assert torch.allclose(e, torch.tensor([0.0, 1.0]))
    jerky = torch.zeros(2, 4, 2)
    jerky[1, ::2, 0] = 0.15
    s = only("smoothness")(jerky, Rollout(straight([0, 0], H=4)), ctx(d_max=(0.15, 0.3)))
    assert s[0].item() == 0.0 and s[1].item() == pytest.approx(1.0)
    rev = torch.zeros(1, 5, 2)
    rev[..., 0] = -0.5
    fwd = -rev
    crit = only("effort", effort_weight=1.0, reverse_weight=2.0)
    assert crit(rev, Rollout(straight([0])), ctx()).item() > crit(fwd, Rollout(straight([0])), ctx()).item()
    towards = straight([0.0], x_end=1.0)
    away = straight([0.0], x_end=-1.0)
    p = only("progress")(torch.zeros(2, 5, 2), Rollout(torch.cat([towards, away])), ctx(target=(2.0, 0.0)))
    assert p[0] < 0 < p[1]


def test_path_critic_prefers_the_path():
    path = torch.stack([torch.linspace(0, 3, 31), torch.full((31,), 1.0)], -1)
    roll = Rollout(straight([1.0, 0.0]))
    c = only("path")(torch.zeros(2, 5, 2), roll, ctx(path=path))
    assert c[0].item() == pytest.approx(0.0, abs=1e-5) and c[1].item() == pytest.approx(1.0, abs=1e-5)


def test_breakdown_sums_to_total():
    crit = Critics(CriticsConfig(clearance_speed_enabled=True))          # every critic, the off-by-default one too
    poses = straight([0.0, 0.5])
    acts = torch.rand(2, 5, 2)
    roll = Rollout(poses, torch.rand(2, 5))
    c = ctx(goal_yaw=0.3)
    parts = crit.breakdown(acts, roll, c)
    assert set(parts) == set(CRITIC_NAMES)
    assert torch.allclose(sum(parts.values()), crit(acts, roll, c), atol=1e-5)


def test_each_critic_class_scores_alone_what_the_manager_reports():
    torch.manual_seed(0)
    cfg = CriticsConfig(clearance_speed_enabled=True)
    wall = np.stack([np.full(61, 1.0), np.linspace(-3, 3, 61)], -1)
    c = ctx(goal_yaw=0.3, field=DistanceField(wall, (0.0, 0.0), 8.0, 0.05),
            path=torch.stack([torch.linspace(0, 3, 31), torch.full((31,), 0.2)], -1))
    acts, roll = torch.rand(3, 5, 2) - 0.3, Rollout(straight([0.0, 0.5, -1.0]), torch.rand(3, 5))
    parts = Critics(cfg).breakdown(acts, roll, c)
    clearance = REGISTRY["clearance"]()
    clearance.initialize(cfg)
    for name in CRITIC_NAMES:
        critic = REGISTRY[name]()
        critic.initialize(cfg)
        data = CriticData.build(acts, roll, c)
        if name != "clearance" and cfg.critics.index(name) > cfg.critics.index("clearance"):
            clearance.score(data)            # what it fills (in_collision) is read by the critics after it
        torch.testing.assert_close(critic.score(data), parts[name])


def test_clearance_scores_the_predicted_clearance_when_the_rollout_has_one():
    """A rollout the model predicts to hit (clearance 0 at some step) is lethal although the
    last scan's field is empty; one predicted clear scores no margin although the field holds a
    wall it overlaps; without a prediction the field decides as before."""
    wall = np.stack([np.full(61, 0.3), np.linspace(-3, 3, 61)], -1)     # wall through the body
    field = DistanceField(wall, (0.0, 0.0), 8.0, 0.05)
    empty = DistanceField(np.zeros((0, 2)), (0.0, 0.0), 8.0, 0.05)
    crit = only("clearance", clearance_lethal_cost=1000.0, clearance_margin_m=0.3)
    poses = straight([0.0, 0.0, 0.0], x_end=0.5)
    predicted = torch.tensor([[1.0, 1.0, 0.5, 0.0, 0.2],                # touches at step 4
                              [1.0, 1.0, 1.0, 1.0, 1.0],                # clear
                              [0.15, 0.15, 0.15, 0.15, 0.15]])          # within the margin
    c = crit(torch.zeros(3, 5, 2), Rollout(poses, None, predicted), ctx(field=empty))
    assert c[0].item() >= 400.0                                          # first contact at step 4 of 5: 2/5 lethal
    flat = only("clearance", clearance_lethal_cost=1000.0, clearance_margin_m=0.3, clearance_lethal_by_time=False)
    assert flat(torch.zeros(3, 5, 2), Rollout(poses, None, predicted), ctx(field=empty))[0].item() >= 1000.0
    sooner = predicted[:1].clone()
    sooner[0, 1] = 0.0                                                   # the same sequence, touching at step 2
    assert crit(torch.zeros(1, 5, 2), Rollout(poses[:1], None, sooner), ctx(field=empty))[0].item() >= 800.0
    assert c[1].item() == 0.0
    assert c[2].item() == pytest.approx(0.5, abs=1e-5)                  # mean((0.3 - 0.15) / 0.3), weight 1, power 1
    data = CriticData.build(torch.zeros(3, 5, 2), Rollout(poses, None, predicted), ctx(field=field))
    crit.critics[0].score(data)
    assert torch.equal(data.clearance_m, predicted) and data.in_collision.tolist() == [True, False, False]
    # no prediction: the wall in the field makes every one lethal
    c = crit(torch.zeros(3, 5, 2), Rollout(poses), ctx(field=field))
    assert (c >= 1000.0).all()


def test_in_contact_the_way_out_costs_less_than_the_push_on():
    """Every sequence starts touching a wall (the robot is against it): the one that leaves
    contact after one step costs less than the one that stays in contact, by the contact-time
    term; with the term off they cost the same lethal amount."""
    wall = np.stack([np.full(61, 0.62), np.linspace(-3, 3, 61)], -1)      # the front circle reaches past x = 0.62
    field = DistanceField(wall, (0.0, 0.0), 8.0, 0.05)
    away = torch.tensor([[-0.05 * k, 0.0, 0.0] for k in range(1, 11)])[None]     # backs off 5 cm a step
    push = torch.tensor([[0.02 * k, 0.0, 0.0] for k in range(1, 11)])[None]      # creeps on
    poses = torch.cat([away, push])
    crit = only("clearance", clearance_lethal_cost=1000.0, clearance_margin_m=0.3, clearance_contact_time_cost=500.0)
    c = crit(torch.zeros(2, 10, 2), Rollout(poses), ctx(field=field))
    assert (c >= 1000.0).all()                                           # both touch: both lethal
    assert c[1].item() - c[0].item() >= 0.5 * 500.0                      # in contact 10/10 steps against <= 3/10
    late = torch.tensor([[-0.3 + 0.1 * k, 0.0, 0.0] for k in range(1, 11)])[None]  # free, then touching from step 3
    c_late = crit(torch.zeros(1, 10, 2), Rollout(late), ctx(field=field))
    assert 1000.0 <= c_late[0].item() < 1002.0                          # not in contact now: no contact-time term
    off = only("clearance", clearance_lethal_cost=1000.0, clearance_margin_m=0.3, clearance_contact_time_cost=0.0)
    c0 = off(torch.zeros(2, 10, 2), Rollout(poses), ctx(field=field))
    assert abs(c0[1].item() - c0[0].item()) < 2.0                        # only the soft margin differs
