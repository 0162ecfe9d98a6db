"""planner_node/robot_tuning.py: a robot file's planner settings as a PlannerConfig, for planners
run in process (wmp bench-model --robot, scripts/barn_episodes.py, scripts/inprocess_episodes.py)."""
from __future__ import annotations

import pytest

from world_model_planner.core.robot_config import load_robot, planner_params
from world_model_planner.planner_node.navigator_config import PlannerConfig
from world_model_planner.planner_node.robot_tuning import apply_overrides, part_of, robot_planner_config


@pytest.mark.parametrize("robot", ["husky", "jackal", "turtlebot4"])
def test_the_config_holds_every_value_the_robot_s_planner_node_gets(robot):
    skipped: list[str] = []
    cfg = robot_planner_config(robot, samples=128, horizon=12, not_applied=skipped)
    assert (cfg.mppi.samples, cfg.mppi.horizon) == (128, 12)
    for key, value in planner_params(load_robot(robot)).items():
        part, name = part_of(cfg, key)
        if key == "robot" or part is None:
            continue
        assert getattr(part, name) == value, key
    # what a Navigator cannot take is named, not dropped silently: the depth camera's mounting
    assert all(part_of(cfg, k)[0] is None for k in skipped)
    assert set(skipped) == {k for k in planner_params(load_robot(robot)) if k != "robot" and part_of(cfg, k)[0] is None}


def test_the_jackal_plans_with_its_own_footprint_and_limits_and_the_husky_with_the_defaults():
    jackal = robot_planner_config("jackal")
    assert jackal.critics.footprint_exact and jackal.critics.footprint_length_m == pytest.approx(0.508)
    assert jackal.mppi.v_max_mps == pytest.approx(2.0)
    assert robot_planner_config("husky") == PlannerConfig()       # the Husky's file is the defaults


def test_overrides_are_typed_checked_and_named_when_refused():
    cfg = apply_overrides(PlannerConfig(), ["mppi.v_max_mps=0.7", "model_scene=false", "critics.footprint_exact=1"])
    assert cfg.mppi.v_max_mps == pytest.approx(0.7) and cfg.nav.model_scene is False and cfg.critics.footprint_exact
    with pytest.raises(ValueError, match="no planner parameter 'mppi.nope'"):
        apply_overrides(PlannerConfig(), ["mppi.nope=1"])
    with pytest.raises(ValueError, match="expected a float"):
        apply_overrides(PlannerConfig(), ["mppi.v_max_mps=fast"])
    with pytest.raises(ValueError, match="expected true/false"):
        apply_overrides(PlannerConfig(), ["model_scene=maybe"])
    with pytest.raises(ValueError, match=r"expected \[section.\]name=value"):
        apply_overrides(PlannerConfig(), ["mppi.v_max_mps"])
    cfg = PlannerConfig()
    with pytest.raises(ValueError, match="mppi.samples=0"):                 # out of the field's range
        apply_overrides(cfg, ["mppi.samples=0"])
    assert cfg.mppi.samples == PlannerConfig().mppi.samples                  # and left as it was
