"""When and where a learned planner counts its collision head: only with a tracked obstacle near
(nav.collision_near_movers_m, held for nav.collision_hold_s), by the goal's own rule within
nav.goal_approach_m, and only at predicted poses near a tracked mover (nav.collision_mover_gate_m);
elsewhere the footprint against the scan decides, exact for walls and doorways."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from world_model_planner.planner_node.critics import Footprint
from world_model_planner.planner_node.dynamics import LearnedModel
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import Navigator, PlannerConfig
from world_model_planner.testing.standins import ContactEverywhereModel

SCAN = np.full(180, np.inf)


def small(samples: int = 64) -> PlannerConfig:
    return PlannerConfig(mppi=MPPIConfig(samples=samples, horizon=10))


def _spy_rollouts(m, footprint: bool = False, batch_only: bool = False) -> list:
    """Wrap m.rollout; the returned list gets each call's ``collision`` flag (with
    ``footprint``: and the kind of state["footprint"], None where absent). ``batch_only``: only
    the sampler's batches, not the caution check's one-sequence replays."""
    seen, rollout = [], m.rollout

    def spy(state, actions, collision=True):
        if not batch_only or actions.shape[0] > 1:
            seen.append((collision, getattr(state.get("footprint"), "kind", None)) if footprint else collision)
        return rollout(state, actions, collision=collision)

    m.rollout = spy
    return seen


def _empty_field():
    from world_model_planner.planner_node.critics import DistanceField

    return DistanceField(np.zeros((0, 2)), (0.0, 0.0), 8.0, 0.05)


_EMPTY_FIELD = _empty_field()      # a scan that shows nothing near: the static check is there


@pytest.mark.parametrize("near_m, person_m, head", [
    (0.0, None, True),          # 0: the head always, as before
    (3.0, None, False),         # nothing tracked: the scan alone
    (3.0, 6.0, False),          # a person 6 m off (5.8 m to their edge)
    (3.0, 2.0, True),           # a person 2 m off: the head again
])
def test_collision_near_movers_takes_the_collision_head_only_with_a_mover_near(near_m, person_m, head):
    """nav.collision_near_movers_m > 0: the rollout evaluates the collision head, and the collision
    critic scores it, only while the tracker follows an obstacle that near; a runtime change is
    applied at the next tick."""
    m = LearnedModel(ContactEverywhereModel(), device="cpu")
    cfg = small()
    cfg.nav.model_scene = False                  # the stand-in's scene head would add its own contact
    cfg.nav.collision_mover_gate_m = 0.0         # the head at every pose it runs for (the gate: below)
    nav = Navigator("flat", m, cfg)
    movers = None if person_m is None else (torch.tensor([[person_m, 0.0]]), torch.tensor([[0.0, 1.0]]),
                                            torch.tensor([0.2]))
    m.scene_state = lambda: {"field": _EMPTY_FIELD, "movers": movers}
    seen = _spy_rollouts(m)
    nav.set_goal(2.0, 0.0)
    nav.cfg.nav.collision_near_movers_m = near_m
    nav.reconfigure(nav.cfg)
    cmd = nav.step([0.0, 0.0, 0.0], [0.0, 0.0], SCAN, 0.0)
    assert cmd.state == "planning" and seen and set(seen) == {head}
    # the collision critic's weight (100) times P(any contact) ~ 1 is in the plan's cost, or not
    assert (cmd.best_cost >= 99.0) == head
    # without a static field (no scan yet, a camera without depth) nothing else sees contact: the head stays
    m.scene_state = lambda: {"field": None, "movers": movers}
    seen.clear()
    nav.step([0.0, 0.0, 0.0], [0.0, 0.0], SCAN, 0.1)
    assert set(seen) == {True}


def test_the_collision_head_is_held_a_while_after_a_mover_was_near():
    """nav.collision_hold_s: after the last tick with a tracked obstacle near, the head stays on
    that long (a cart that stops for the robot turns static in the tracker), then goes off."""
    m = LearnedModel(ContactEverywhereModel(), device="cpu")
    cfg = small()
    cfg.nav.model_scene = False
    cfg.nav.collision_near_movers_m = 3.0
    cfg.nav.collision_hold_s = 2.0
    nav = Navigator("flat", m, cfg)
    person = (torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([0.2]))
    scene = {"movers": person}
    m.scene_state = lambda: {"field": _EMPTY_FIELD, "movers": scene["movers"]}
    seen = _spy_rollouts(m, batch_only=True)
    nav.set_goal(5.0, 0.0)
    heads = []
    for t, movers in ((0.0, person), (1.5, None), (2.0, None), (2.1, None), (4.5, person), (6.6, None)):
        scene["movers"] = movers
        seen.clear()
        nav.step([0.0, 0.0, 0.0], [0.0, 0.0], SCAN, t)
        heads.append(set(seen))
    assert heads == [{True}, {True}, {True}, {False}, {True}, {False}]


@pytest.mark.parametrize("approach_m, goal_x, person_m, head, exact", [
    (0.0, 0.6, None, True, False),      # off: the circles and the head, as before
    (1.0, 0.6, None, False, True),      # 0.6 m from the goal: the rectangle, no head
    (1.0, 0.6, 0.9, True, True),        # a person 0.7 m off (to their edge): the head again
    (1.0, 2.0, None, True, False),      # 2 m from the goal: not the approach yet
])
def test_goal_approach_measures_the_body_and_keeps_the_head_for_movers(approach_m, goal_x, person_m, head, exact):
    """nav.goal_approach_m: within it of the final goal the tracked scene measures the exact
    rectangle in place of the covering circles, and the collision head is scored only with a
    tracked obstacle that near."""
    m = LearnedModel(ContactEverywhereModel(), device="cpu")
    cfg = small()
    cfg.nav.model_scene = False
    cfg.nav.collision_near_movers_m = 0.0       # the head everywhere else: the approach's own rule alone
    cfg.nav.collision_mover_gate_m = 0.0        # and at every pose (the gate: below)
    cfg.nav.goal_approach_m = approach_m
    nav = Navigator("flat", m, cfg)
    movers = None if person_m is None else (torch.tensor([[person_m, 0.0]]), torch.tensor([[0.0, 1.0]]),
                                            torch.tensor([0.2]))
    m.scene_state = lambda: {"field": _EMPTY_FIELD, "movers": movers}
    seen = _spy_rollouts(m, footprint=True)
    nav.set_goal(goal_x, 0.0)
    cmd = nav.step([0.0, 0.0, 0.0], [0.0, 0.0], SCAN, 0.0)
    assert cmd.state == "planning" and seen
    assert set(seen) == {(head, "exact" if exact else None)}
    assert (cmd.best_cost >= 99.0) == head


def test_the_goal_approach_measures_the_body_where_the_head_is_off_anyway():
    """With the defaults, where nothing moves the collision head is off before the goal approach
    is reached; the approach still swaps the circles for the rectangle."""
    m = LearnedModel(ContactEverywhereModel(), device="cpu")
    cfg = small()
    cfg.nav.model_scene = False
    nav = Navigator("flat", m, cfg)
    m.scene_state = lambda: {"field": _EMPTY_FIELD, "movers": None}
    seen = _spy_rollouts(m, footprint=True, batch_only=True)
    nav.set_goal(0.6, 0.0)
    assert nav.step([0.0, 0.0, 0.0], [0.0, 0.0], SCAN, 0.0).state == "planning"
    assert set(seen) == {(False, "exact")}


def _model(gate_m: float, mover_xy, vel=(0.0, 0.0), field=True) -> tuple[LearnedModel, dict]:
    from world_model_planner.planner_node.critics import DistanceField

    m = LearnedModel(ContactEverywhereModel(), device="cpu")
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
    m = LearnedModel(ContactEverywhereModel(), device="cpu")
    nav = Navigator("flat", m, small(32))
    assert m.collision_gate_m == nav.cfg.nav.collision_mover_gate_m
    nav.cfg.nav.collision_mover_gate_m = 1.5
    nav.reconfigure(nav.cfg)                                         # applied, not just acknowledged
    assert m.collision_gate_m == 1.5
