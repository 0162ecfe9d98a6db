"""The model check (planner_node/caution.py): a model that predicts the motion keeps full speed; one
that misses where it matters (a base that slides sideways, one that runs 1.5 times faster than
commanded) is slowed within the configured bounds at once, and the limit returns gradually once
predictions hold; falling short of the prediction (mud) does not slow it. The held-back rule: a
base whose progress falls far short of its forward commands for a second gets its yaw rate
limited until it moves again."""
from __future__ import annotations

import math

import numpy as np
import pytest

from world_model_planner.core.params import ConfigError
from world_model_planner.planner_node.caution import CautionConfig, HeldBack, ModelCheck
from world_model_planner.planner_node.dynamics import UnicycleModel

DT = 0.1


def drive(check: ModelCheck, model, seconds: float, t0: float, pose, cmd=(0.8, 0.3), speed_scale=1.0,
          slide_mps=0.0, tick_s=0.05):
    """A 20 Hz loop: observe, plan (state from the odometry pose), send ``cmd``; the true base
    moves at ``speed_scale`` times the commanded speed and slides ``slide_mps`` sideways."""
    t, pose = t0, np.asarray(pose, dtype=float)
    ratios = []
    for _ in range(round(seconds / tick_s)):
        check.observe(t, pose, model)
        ratios.append(check.ratio)
        check.planned(t, pose, model.reset_state(pose, np.zeros(2)))
        check.sent(t, *cmd)
        v, w = cmd[0] * speed_scale, cmd[1]
        th = pose[2] + w * tick_s / 2
        pose = pose + [v * tick_s * math.cos(th) - slide_mps * tick_s * math.sin(th),
                       v * tick_s * math.sin(th) + slide_mps * tick_s * math.cos(th), w * tick_s]
        t += tick_s
    return t, pose, ratios


def test_a_model_that_predicts_the_motion_keeps_full_speed():
    check = ModelCheck(CautionConfig(), DT)
    _, _, ratios = drive(check, UnicycleModel(DT), 4.0, 0.0, [0.0, 0.0, 0.0])
    assert check.error_m < 1e-3
    assert min(ratios) == 1.0
    assert check.limit_mps(1.0) == 1.0


@pytest.mark.parametrize("miss", [{"slide_mps": 0.3}, {"speed_scale": 1.5}])
def test_a_model_that_misses_is_slowed_within_bounds_then_recovers_gradually(miss):
    cfg = CautionConfig(min_speed_ratio=0.4, recover_s=2.0)
    check, model = ModelCheck(cfg, DT), UnicycleModel(DT)
    t, pose, ratios = drive(check, model, 3.0, 0.0, [0.0, 0.0, 0.0], **miss)
    # 0.5 s ahead the unicycle misses by 0.15 m (slide) or 0.2 m (overspeed): the floor
    assert check.error_m > cfg.error_full_m
    assert check.ratio == pytest.approx(0.4)
    assert check.limit_mps(1.2) == pytest.approx(0.48)
    assert min(ratios) >= 0.4
    # the base behaves again: the limit rises, no faster than (1 - 0.4) per recover_s
    t, pose, ratios = drive(check, model, 3.0, t, pose)
    steps = np.diff(ratios)
    assert steps.max() <= (1 - 0.4) * 0.05 / 2.0 + 1e-9
    assert ratios[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("cmd", [(0.8, 0.3), (-0.5, 0.2)])
def test_falling_short_of_the_prediction_does_not_slow_overshooting_does(cmd):
    """In either gear: mud (0.4 of the commanded speed) is not a danger, a runaway (1.5) is."""
    check = ModelCheck(CautionConfig(), DT)
    drive(check, UnicycleModel(DT), 3.0, 0.0, [0.0, 0.0, 0.0], cmd=cmd, speed_scale=0.4)
    assert check.error_m < CautionConfig().error_free_m and check.ratio == 1.0   # only the arc's chord
    check = ModelCheck(CautionConfig(), DT)
    drive(check, UnicycleModel(DT), 3.0, 0.0, [0.0, 0.0, 0.0], cmd=cmd, speed_scale=1.5)
    assert check.error_m > 0.1 and check.ratio < 0.6


def test_a_small_miss_slows_in_proportion():
    cfg = CautionConfig(error_free_m=0.02, error_full_m=0.2, min_speed_ratio=0.2)
    check = ModelCheck(cfg, DT)
    drive(check, UnicycleModel(DT), 3.0, 0.0, [0.0, 0.0, 0.0], slide_mps=0.16)     # 0.08 m at 0.5 s
    expected = 1 - 0.8 * (check.error_m - 0.02) / 0.18
    assert 0.2 < check.ratio < 1.0
    assert check.ratio == pytest.approx(expected, abs=1e-6)


def test_off_warmup_and_time_going_back():
    model = UnicycleModel(DT)
    off = ModelCheck(CautionConfig(enabled=False), DT)
    drive(off, model, 2.0, 0.0, [0.0, 0.0, 0.0], slide_mps=0.5)
    assert off.ratio == 1.0 and off.limit_mps(1.0) == 1.0
    warm = ModelCheck(CautionConfig(), DT, warmup_s=10.0)           # nothing planned yet is checked
    drive(warm, model, 2.0, 0.0, [0.0, 0.0, 0.0], slide_mps=0.5)
    assert warm.error_m == 0.0 and warm.ratio == 1.0
    check = ModelCheck(CautionConfig(), DT)
    t, _, _ = drive(check, model, 2.0, 100.0, [0.0, 0.0, 0.0], slide_mps=0.5)
    assert check.ratio < 1.0
    check.observe(5.0, np.zeros(3), model)                           # a restarted clock
    assert check.ratio == 1.0 and check.error_m == 0.0


def test_an_odometry_jump_restarts_the_checks_and_is_not_counted():
    check, model = ModelCheck(CautionConfig(), DT), UnicycleModel(DT)
    t, pose, _ = drive(check, model, 2.0, 0.0, [0.0, 0.0, 0.0])
    t, pose, ratios = drive(check, model, 2.0, t, pose + [3.0, -2.0, 1.0])   # relocalised
    assert min(ratios) == 1.0 and check.error_m < 1e-3


def test_config_refuses_an_inverted_band():
    with pytest.raises(ConfigError, match="error_full_m"):
        CautionConfig(error_free_m=0.2, error_full_m=0.1)
    with pytest.raises(ConfigError, match="jump_m"):
        CautionConfig(error_full_m=0.3, jump_m=0.2)
    with pytest.raises(ConfigError, match="min_speed_ratio"):
        CautionConfig(min_speed_ratio=0.0)


def test_the_navigator_plans_under_the_limit():
    """A classic navigator on a base that slides: the sampler's speed bound follows the limit and
    every command stays under it."""
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import PlannerConfig, make_navigator

    nav = make_navigator("classic", None, PlannerConfig(mppi=MPPIConfig(samples=64, horizon=10)), "cpu")
    nav.set_goal(8.0, 0.0)
    scan = np.full(360, 10.0)
    pose, t, cmds = np.zeros(3), 0.0, []
    for _ in range(40):
        cmd = nav.step(pose, np.array([cmds[-1][0] if cmds else 0.0, 0.0]), scan, t)
        cmds.append((cmd.v, nav.check.limit_mps(nav.cfg.mppi.v_max_mps)))
        pose = pose + [cmd.v * 0.05, 0.4 * 0.05, cmd.w * 0.05]          # slides left at 0.4 m/s
        t += 0.05
    assert nav.check.ratio < 0.6
    assert float(nav.mppi.hi[0]) == pytest.approx(nav.check.limit_mps(nav.cfg.mppi.v_max_mps))
    assert all(v <= lim + 1e-6 for v, lim in cmds)


def held_drive(held: HeldBack, seconds: float, t0: float, pose, cmd=(0.8, 0.0), progress=1.0, tick_s=0.05,
               v_max=1.0):
    """A 20 Hz loop: observe, send ``cmd``; the base moves forward ``progress`` times the commanded
    speed. Returns (t, pose, [active after each observe])."""
    t, pose, out = t0, np.asarray(pose, dtype=float), []
    for _ in range(round(seconds / tick_s)):
        out.append(held.observe(t, pose, v_max))
        held.sent(t, cmd[0])
        v = cmd[0] * progress
        pose = pose + [v * tick_s * math.cos(pose[2]), v * tick_s * math.sin(pose[2]), cmd[1] * tick_s]
        t += tick_s
    return t, pose, out


def test_a_base_that_moves_as_commanded_is_never_held_back():
    held = HeldBack(CautionConfig())
    _, _, active = held_drive(held, 5.0, 0.0, [1.0, 2.0, 0.7], progress=0.9)
    assert not any(active) and held.w_limit(1.5) == 1.5
    # a tight circle at full speed: its heading turns by 3 rad a second, and the progress along
    # the circle counts, not the displacement along the heading the second began with
    _, _, circling = held_drive(HeldBack(CautionConfig()), 5.0, 0.0, [0.0, 0.0, 0.0], cmd=(0.8, 3.0))
    assert not any(circling)


def test_a_bogged_down_base_is_held_back_after_held_s_and_free_again_once_it_moves():
    cfg = CautionConfig()
    held = HeldBack(cfg)
    t, pose, before = held_drive(held, 2.0, 0.0, [0.0, 0.0, 0.3], progress=0.9)
    t, pose, bogged = held_drive(held, 2.0, t, pose, progress=0.05)
    assert not any(before)
    first = bogged.index(True)
    assert 0.5 * cfg.held_s <= first * 0.05 <= 1.5 * cfg.held_s + 0.15   # the window short, half a window more
    assert all(bogged[first:])
    assert held.w_limit(1.5) == pytest.approx(cfg.held_w_max_radps)
    # 0.4 of the commanded speed: above held_ratio, under twice it: still held (no flicker)
    t, pose, slow = held_drive(held, 1.5, t, pose, progress=0.4)
    assert all(slow)
    t, pose, moving = held_drive(held, 1.5, t, pose, progress=0.6)       # over 2 x 0.25: free
    assert moving[0] and not moving[-1] and held.w_limit(1.5) == 1.5


def test_a_base_catching_up_from_rest_is_not_held_back():
    """From rest the commands run ahead of a slow base for a moment (here the command ramps to
    0.8 m/s in 0.8 s; the base follows 0.3 s late through a 0.4 s lag): over the first second its
    progress is short of a quarter of what was asked, but not for half a second more."""
    held, t, pose, v, sent, short, active = HeldBack(CautionConfig()), 0.0, np.zeros(3), 0.0, [], [], []
    for _ in range(80):
        active.append(held.observe(t, pose, 1.0))
        short.append(held._since is not None)
        cmd = min(0.8, max(0.0, t - 0.5))                     # from rest at t = 0.5 s, 1 m/s²
        held.sent(t, cmd)
        sent.append(cmd)
        late = sent[-7] if len(sent) >= 7 else 0.0          # 0.3 s late
        v += (late - v) * 0.05 / 0.4
        pose = pose + [v * 0.05, 0.0, 0.0]
        t += 0.05
    assert any(short)                                          # the window alone would have said so
    assert not any(active)


def test_the_command_memory_stays_bounded_while_nothing_observes():
    """Commands go on being sent while no goal is planned for (no observe): an hour of 20 Hz
    keeps at most the last two windows of them."""
    held = HeldBack(CautionConfig())
    for i in range(72000):
        held.sent(i * 0.05, 0.0)
    assert len(held._cmds) <= 2 * 20 * CautionConfig().held_s + 2


def test_what_counts_as_asking_scales_with_the_top_speed():
    """0.25 m/s asked of a base that does not move: a slow robot's (a TurtleBot 4, 0.31 m/s top
    speed) cruise, held back; for a 1 m/s robot a crawl, which does not count."""
    _, _, slow = held_drive(HeldBack(CautionConfig()), 3.0, 0.0, [0.0, 0.0, 0.0], cmd=(0.25, 0.0),
                            progress=0.0, v_max=0.31)
    _, _, fast = held_drive(HeldBack(CautionConfig()), 3.0, 0.0, [0.0, 0.0, 0.0], cmd=(0.25, 0.0),
                            progress=0.0, v_max=1.0)
    assert slow[-1] and not any(fast)


def test_turning_in_place_stopping_or_reversing_is_not_held_back():
    held = HeldBack(CautionConfig())
    _, _, turning = held_drive(held, 3.0, 0.0, [0.0, 0.0, 0.0], cmd=(0.05, 1.0), progress=0.0)
    _, _, stopped = held_drive(HeldBack(CautionConfig()), 3.0, 0.0, [0.0, 0.0, 0.0], cmd=(0.0, 0.0))
    _, _, back = held_drive(HeldBack(CautionConfig()), 3.0, 0.0, [0.0, 0.0, 0.0], cmd=(-0.5, 0.0), progress=0.1)
    assert not any(turning) and not any(stopped) and not any(back)


def test_held_back_is_off_when_disabled_and_restarts_when_time_goes_back():
    held = HeldBack(CautionConfig(held_enabled=False))
    _, _, active = held_drive(held, 3.0, 0.0, [0.0, 0.0, 0.0], progress=0.0)
    assert not any(active)
    held = HeldBack(CautionConfig())
    t, pose, active = held_drive(held, 2.0, 10.0, [0.0, 0.0, 0.0], progress=0.0)
    assert active[-1]
    assert held.observe(5.0, pose, 1.0) is False                               # time went backwards


def test_the_navigator_limits_the_yaw_rate_while_held_back():
    """A classic navigator whose base does not move (a stall the lidar cannot see): after held_s
    the sampler's yaw bound is held_w_max_radps and every command keeps to it; once the base moves
    again the full yaw rate is back."""
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import PlannerConfig, make_navigator

    nav = make_navigator("classic", None, PlannerConfig(mppi=MPPIConfig(samples=64, horizon=10)), "cpu")
    nav.set_goal(4.0, 3.0)                                                # to the left: the plan turns
    scan = np.full(360, 10.0)
    cap = nav.cfg.caution.held_w_max_radps
    pose, t, ws, held = np.zeros(3), 0.0, [], []
    for _ in range(60):                                                   # 3 s stuck where it is
        cmd = nav.step(pose, np.zeros(2), scan, t)
        ws.append(cmd.w)
        held.append(nav.held.active)
        t += 0.05
    assert max(abs(w) for w in ws[:10]) > 2 * cap                         # turning at first
    first = held.index(True)
    assert all(abs(w) <= cap + 1e-6 for w in ws[first + 1:])
    assert float(nav.mppi.hi[1]) == pytest.approx(cap) and float(nav.mppi.lo[1]) == pytest.approx(-cap)
    for _ in range(40):                                                   # moving as commanded again
        cmd = nav.step(pose, np.array([cmd.v, cmd.w]), scan, t)
        pose = pose + [cmd.v * 0.05 * math.cos(pose[2]), cmd.v * 0.05 * math.sin(pose[2]), cmd.w * 0.05]
        t += 0.05
    assert not nav.held.active and float(nav.mppi.hi[1]) == pytest.approx(nav.cfg.mppi.w_max_radps)
