"""Navigator: goal checks, stop on bad input, reached → zero, all kinds share one path,
and the learned model behind the planner interface."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.planner_node.dynamics import LearnedModel, SysIdModel, UnicycleModel
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import KINDS, Navigator, PlannerConfig, make_navigator

SCAN = np.full(180, np.inf)


def small() -> PlannerConfig:
    return PlannerConfig(mppi=MPPIConfig(samples=64, horizon=10))


@pytest.mark.parametrize("goal, words", [
    ((math.nan, 0.0), "non-finite"), ((0.0, math.inf), "non-finite"),
    ((100.0, 0.0), "outside the known area"), ((12.0, 12.0), "max_goal_distance_m"),
])
def test_bad_goals_refused_with_reason(goal, words):
    cfg = small()
    cfg.nav.max_goal_distance_m = 10.0
    nav = Navigator("classic", UnicycleModel(), cfg)
    nav.step([0, 0, 0], [0, 0], SCAN, 0.0)                   # robot pose known → range check
    ok, reason = nav.set_goal(*goal)
    assert not ok and words in reason
    cmd = nav.step([0, 0, 0], [0, 0], SCAN, 0.05)
    assert (cmd.v, cmd.w, cmd.state) == (0.0, 0.0, "refused")


def test_nan_input_stops_then_recovers():
    nav = Navigator("classic", UnicycleModel(), small())
    assert nav.set_goal(2.0, 0.0) == (True, "")
    cmd = nav.step([math.nan, 0, 0], [0, 0], SCAN, 0.0)
    assert (cmd.v, cmd.w, cmd.state) == (0.0, 0.0, "stopped") and "non-finite" in cmd.reason
    cmd = nav.step([0, 0, 0], [0, 0], np.full(180, np.nan), 0.05)
    assert cmd.state == "stopped"
    cmd = nav.step([0, 0, 0], [0, 0], SCAN, 0.1)
    assert cmd.state == "planning" and cmd.v > 0


def test_goal_reached_gives_zero_and_stays():
    nav = Navigator("classic", UnicycleModel(), small())
    nav.set_goal(1.0, 0.0, tolerance=0.3)
    assert nav.step([0.8, 0.1, 0.0], [0.5, 0.0], SCAN, 0.0).state == "reached"
    cmd = nav.step([0.5, 0.0, 0.0], [0.0, 0.0], SCAN, 0.05)      # drifted: still reached
    assert (cmd.v, cmd.w, cmd.state) == (0.0, 0.0, "reached")
    nav.set_goal(1.0, 0.0, yaw=math.pi / 2, tolerance=0.3)
    assert nav.step([0.9, 0.0, 0.0], [0.0, 0.0], SCAN, 0.1).state == "planning"   # yaw not yet


def test_idle_without_goal():
    cmd = Navigator("flat", UnicycleModel(), small()).step([0, 0, 0], [0, 0], SCAN, 0.0)
    assert (cmd.v, cmd.w, cmd.state) == (0.0, 0.0, "idle")


@pytest.fixture
def random_checkpoint(tmp_path):
    from world_model_planner.world_model_node.checkpoint import save_checkpoint
    from world_model_planner.world_model_node.model import WorldModel

    torch.manual_seed(0)
    path = tmp_path / "wm.pt"
    save_checkpoint(str(path), WorldModel())
    return str(path)


@pytest.mark.parametrize("kind", KINDS)
def test_all_kinds_plan_through_one_path(kind, random_checkpoint):
    nav = make_navigator(kind, model_path=random_checkpoint, cfg=small(), device="cpu", missing_ok=False)
    expected = {"classic": UnicycleModel, "classic_id": SysIdModel}.get(kind, LearnedModel)
    assert isinstance(nav.model, expected)
    assert (nav.subgoals is None) == (kind == "flat")
    nav.set_goal(3.0, 0.0)
    scan = SCAN.copy()
    scan[85:95] = 1.5                                                  # something ahead
    cmd = nav.step([0, 0, 0], [0, 0], scan, 0.0)
    assert cmd.state == "planning" and math.isfinite(cmd.v) and math.isfinite(cmd.best_cost)
    assert cmd.best_traj.shape == (10, 3) and cmd.sample_trajs.shape[1:] == (10, 3)
    assert np.allclose(cmd.subgoals[-1], [3.0, 0.0])
    if kind != "flat":
        assert len(cmd.path) >= 2


def test_learned_model_rollout_shapes_and_collision_head(random_checkpoint):
    m = LearnedModel.from_checkpoint(random_checkpoint, device="cpu")
    state = m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN)
    out = m.rollout(state, torch.zeros(4, 7, 2))
    assert out.poses.shape == (4, 7, 3) and out.collision_prob.shape == (4, 7)
    assert ((out.collision_prob >= 0) & (out.collision_prob <= 1)).all()
    with pytest.raises(ValueError, match="beams"):
        m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], np.ones(90))


def test_missing_checkpoint_is_an_error_unless_allowed(tmp_path):
    with pytest.raises(FileNotFoundError):
        make_navigator("hierarchical", model_path=str(tmp_path / "none.pt"), device="cpu", missing_ok=False)
    nav = make_navigator("hierarchical", model_path=str(tmp_path / "none.pt"), device="cpu")
    assert isinstance(nav.model, UnicycleModel) and "no world-model checkpoint" in nav.model_desc


def test_shipped_planner_yaml_holds_every_default():
    import yaml

    from world_model_planner.planner_node.config import SECTIONS, PlannerNodeConfig, params_yaml
    from world_model_planner.core.paths import config_dir

    text = (config_dir() / "planner.yaml").read_text()
    assert text == params_yaml(), "config/planner.yaml is stale: regenerate it (command in its header)"
    params = yaml.safe_load(text)["/**/planner_node"]["ros__parameters"]
    PlannerNodeConfig(**{k: v for k, v in params.items() if k in PlannerNodeConfig.__dataclass_fields__})
    for prefix, cls in SECTIONS:
        section = params[prefix.rstrip(".")] if prefix else params
        cls(**{k: v for k, v in section.items() if not isinstance(v, dict) and k in cls.__dataclass_fields__})


def test_goal_range_checked_against_odometry_before_the_first_tick():
    cfg = small()
    cfg.nav.max_goal_distance_m = 10.0
    nav = Navigator("classic", UnicycleModel(), cfg)
    nav.note_pose([math.nan, 0.0, 0.0])                       # ignored
    nav.note_pose([0.0, 0.0, 0.0])                            # odometry only, no control tick yet
    ok, reason = nav.set_goal(12.0, 0.0)
    assert not ok and "max_goal_distance_m" in reason
    assert nav.set_goal(5.0, 0.0) == (True, "")
