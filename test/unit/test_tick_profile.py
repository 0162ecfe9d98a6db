"""planner_node/tick_profile.py: a control tick split into sections (wmp bench-model --profile)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.planner_node.dynamics import LearnedModel, UnicycleModel
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import Navigator, PlannerConfig
from world_model_planner.planner_node.recovery import RecoveryConfig
from world_model_planner.planner_node.tick_profile import format_profile, profile_ticks, room_scan
from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig


def _cfg():
    return PlannerConfig(mppi=MPPIConfig(samples=32, horizon=8), recovery=RecoveryConfig(enabled=False))


def test_room_scan_sees_the_walls_and_the_box():
    scan = room_scan([-2.0, 0.0, 0.0], 360)
    ahead, behind, left = scan[180], scan[0], scan[270]               # beams from -pi, 1 degree apart
    assert ahead == pytest.approx(2.5) and behind == pytest.approx(3.0) and left == pytest.approx(5.0)
    turned = room_scan([-2.0, 0.0, math.pi / 2], 360)                 # the robot's frame turns with it
    assert turned[180] == pytest.approx(5.0) and turned[90] == pytest.approx(2.5)
    assert np.isinf(room_scan([0.0, 0.0, 0.0], 8, half_m=20.0, box=((50, 50), (51, 51))))[4]


def test_in_a_room_where_nothing_moves_the_tick_skips_the_collision_head():
    """With the default nav.collision_near_movers_m the profiled room (nothing moves) is planned
    without the collision head: no "heads" section."""
    torch.manual_seed(0)
    model = LearnedModel(WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8)).eval())
    nav = Navigator("hierarchical", model, _cfg())
    names = [n for n, _c, _ms in profile_ticks(nav, ticks=4, warmup=1)["sections"]]
    assert "rollout" in names and "heads" not in names


@pytest.mark.parametrize("kind", ["classic", "hierarchical"])
def test_profile_splits_the_tick_into_its_sections(kind):
    torch.manual_seed(0)
    if kind == "classic":
        model = UnicycleModel(0.1)
    else:
        model = LearnedModel(WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8)).eval())
    cfg = _cfg()
    cfg.nav.collision_near_movers_m = 0.0          # the collision head at every tick, as a section
    nav = Navigator(kind, model, cfg)
    result = profile_ticks(nav, ticks=4, warmup=1)
    names = [n for n, _c, _ms in result["sections"]]
    want = {"grid update", "rollout", "sampling", "other"} | {f"critic {c}" for c in nav.critics.enabled()}
    if kind == "hierarchical":
        want |= {"encode", "heads", "scene update", "tracked clearance"}
    assert want <= set(names) and names[-1] == "other"
    calls = {n: c for n, c, _ms in result["sections"]}
    assert calls["rollout"] == 2.0                                    # the samples, then the chosen plan
    total = sum(ms for _n, _c, ms in result["sections"])
    assert total == pytest.approx(result["tick_cpu_mean_ms"], rel=1e-6)   # sections + other = the tick
    assert all(ms >= 0.0 for n, _c, ms in result["sections"] if n != "other")
    table = format_profile(result, kind)
    assert "| rollout | 2.00 |" in table and "**tick**" in table


def test_the_profile_runs_the_matmul_dtype_it_is_given(capsys):
    """`wmp bench-model --profile --matmul-dtype bfloat16` profiles the bf16 path (its header says
    so), and a planner without a world model refuses the flag rather than ignoring it."""
    from world_model_planner.app import cli

    base = ["bench-model", "--profile", "--batch", "16", "--horizon", "4", "--ticks", "2", "--no-progress",
            "--threads", "1", "--matmul-dtype", "bfloat16"]
    threads = torch.get_num_threads()
    try:
        assert cli.main(base + ["--planners", "hierarchical"]) == 0
        assert "bfloat16 products), 16 samples x 4 steps" in capsys.readouterr().out
        assert cli.main(base + ["--planners", "classic"]) == 2
        assert "the classic planner has no world model" in capsys.readouterr().err
    finally:
        torch.set_num_threads(threads)                      # --threads sets the process's count
