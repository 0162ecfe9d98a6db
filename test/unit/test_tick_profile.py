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


def test_the_profiled_tick_takes_its_inputs_from_messages_and_builds_what_the_node_publishes():
    """The node's message conversion is part of the profiled tick: "messages in" (the /odom and
    /scan wire bytes deserialised and checked, once a tick) and "messages out" (the command, /plan
    and the rest at the node's rates); --no-messages hands the navigator arrays, as before."""
    torch.manual_seed(0)
    model = LearnedModel(WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8)).eval())
    with_msgs = profile_ticks(Navigator("hierarchical", model, _cfg()), ticks=20, warmup=1)
    calls = {n: c for n, c, _ms in with_msgs["sections"]}
    assert calls["messages in"] == 1.0 and calls["messages out"] == 1.0
    assert sum(ms for _n, _c, ms in with_msgs["sections"]) == pytest.approx(with_msgs["tick_cpu_mean_ms"], rel=1e-6)
    without = profile_ticks(Navigator("hierarchical", model, _cfg()), ticks=4, warmup=1, messages=False)
    assert not {"messages in", "messages out"} & {n for n, _c, _ms in without["sections"]}


def test_message_round_hands_the_navigator_what_the_messages_carry():
    from world_model_planner.planner_node.tick_profile import MessageRound

    rnd = MessageRound()
    pose, vel = np.array([-2.0, 0.3, 0.2]), np.array([0.4, -0.1])
    ranges = room_scan(pose, 180)
    p, v, r, geom = rnd.inputs(rnd.wire(pose, vel, ranges, 1.25, new_scan=True))
    assert p == pytest.approx(pose, abs=1e-9) and v == pytest.approx(vel)
    assert geom.n == 180 and geom.covers_full_circle
    finite = np.isfinite(ranges)
    assert np.isinf(ranges).any() and np.array_equal(np.isinf(r), ~finite)     # no return stays +inf
    assert r[finite] == pytest.approx(ranges[finite].astype(np.float32), abs=0)
    p2, _v, r2, geom2 = rnd.inputs(rnd.wire(pose + [0.1, 0.0, 0.0], vel, ranges, 1.3, new_scan=False))
    assert p2[0] == pytest.approx(-1.9) and r2 is r and geom2 is geom       # the last scan is kept
    bad = np.full(180, np.nan)                                              # a scan the node refuses
    with pytest.raises(RuntimeError, match="scan was refused: only 0% of 180 beams are valid"):
        rnd.inputs(rnd.wire(pose, vel, bad, 1.35, new_scan=True))
    with pytest.raises(RuntimeError, match="odometry was refused"):
        rnd.inputs(rnd.wire([1e9, 0.0, 0.0], vel, ranges, 1.4, new_scan=False))


def test_message_round_publishes_at_the_node_s_default_rates():
    """At 20 ticks a second: the command and /plan every tick, the rollout markers and
    /diagnostics at 2 Hz (the node's defaults), the subgoal path when it was planned anew."""
    from world_model_planner.planner_node.config import PlannerNodeConfig
    from world_model_planner.planner_node.tick_profile import MessageRound

    torch.manual_seed(0)
    nav = Navigator("classic", UnicycleModel(0.1), _cfg())
    nav.set_goal(3.5, 0.0)
    rnd = MessageRound(control_hz=20.0)
    pose, vel = np.array([-2.0, 0.3, 0.2]), np.zeros(2)
    scan = room_scan(pose)
    for k in range(40):
        p, v, r, geom = rnd.inputs(rnd.wire(pose, vel, scan, 0.05 * k, new_scan=k % 2 == 0))
        cmd = nav.step(p, v, r, 0.05 * k, new_scan=k % 2 == 0, geom=geom)
        assert cmd.state == "planning"
        rnd.outputs(nav, cmd, 0.05 * k)
    d = PlannerNodeConfig()
    stamped = "TwistStamped" if d.cmd_stamped else "Twist"
    assert rnd.sent[stamped] == 40
    assert rnd.sent["MarkerArray"] == 40 * d.rollouts_rate_hz / 20.0
    assert rnd.sent["DiagnosticArray"] == 40 * d.diagnostics_rate_hz / 20.0
    assert rnd.sent["Path"] == 40 + nav.subgoals.plan_count              # /plan, and each new subgoal path


def test_the_profile_plans_as_the_robot_it_is_given(capsys):
    """`wmp bench-model --profile --robot jackal` profiles the Jackal's own model, fit, footprint
    and limits (its header names the robot and the model); an unknown robot is refused."""
    from world_model_planner.app import cli

    base = ["bench-model", "--profile", "--batch", "16", "--horizon", "4", "--ticks", "2", "--no-progress",
            "--threads", "1"]
    threads = torch.get_num_threads()
    try:
        assert cli.main(base + ["--planners", "hierarchical,classic_id", "--robot", "jackal"]) == 0
        out = capsys.readouterr().out
        assert "jackal: hierarchical (world model" in out and "jackal_default.pt" in out
        assert "jackal: classic_id (" in out and "jackal_sysid.json" in out
        assert "critic clearance_speed" in out                 # the Jackal's file turns this critic on
        assert cli.main(base + ["--robot", "segway"]) == 2
        assert "--robot 'segway': expected one of husky, jackal, turtlebot4" in capsys.readouterr().err
    finally:
        torch.set_num_threads(threads)
