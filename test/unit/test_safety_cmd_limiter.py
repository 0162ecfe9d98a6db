"""Velocity limiter (teleop/limiter.py) and the mux's freshness rule, as pure libraries:
velocity and acceleration limits, non-finite refusal, its own timeout, clock jumps."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from world_model_planner.teleop.limiter import ZERO6, LimiterConfig, VelocityLimiter, limiter_params
from world_model_planner.teleop.mux import ZERO, CommandMux, MuxConfig
from world_model_planner.core.params import ConfigError
from world_model_planner.core.robot_config import load_robot

CFG = LimiterConfig()  # Husky: v in [-0.5, 1.0], |w| <= 1.5, accel 1.5 / 3.0


def cmd(v, w=0.0):
    return (v, 0.0, 0.0, 0.0, 0.0, w)


def test_absurd_finite_command_is_clamped_to_the_limits_and_ramped():
    lim = VelocityLimiter(CFG)
    out = lim.command(cmd(1e9, -1e9), 0.0)
    assert out.cmd[0] == pytest.approx(1.5 * CFG.max_dt_s) and out.cmd[5] == pytest.approx(-3.0 * CFG.max_dt_s)
    assert "clamped to the velocity limits" in out.reason
    t, v = 0.0, []
    for _ in range(40):                      # 2 s at 20 Hz: reaches exactly the limits
        t += 0.05
        v.append(lim.command(cmd(1e9, -1e9), t).cmd)
    assert v[-1][0] == CFG.v_max_mps and v[-1][5] == -CFG.w_max_radps
    assert max(abs(b[0] - a[0]) for a, b in zip(v, v[1:])) <= 1.5 * 0.05 + 1e-9


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_command_is_refused_with_zero_at_once(bad):
    lim = VelocityLimiter(CFG)
    for i in range(20):
        lim.command(cmd(0.8, 0.5), 0.05 * i)
    out = lim.command(cmd(0.5, bad), 1.0)
    assert out.cmd == ZERO6 and "non-finite" in out.reason and lim.refused == 1


def test_braking_is_immediate_by_default_and_limited_when_configured():
    lim = VelocityLimiter(CFG)
    for i in range(30):
        lim.command(cmd(1.0), 0.05 * i)
    assert lim.command(cmd(0.0), 1.5).cmd == ZERO6        # never delays a stop
    slow = VelocityLimiter(LimiterConfig(decel_v_mps2=2.0))
    for i in range(30):
        slow.command(cmd(1.0), 0.05 * i)
    assert slow.command(cmd(0.0), 1.5).cmd[0] == pytest.approx(0.9)
    assert slow.stop(1.55).cmd == ZERO6                    # an e-stop ignores decel limits


def test_own_timeout_stops_once_then_stays_silent():
    lim = VelocityLimiter(CFG)
    for i in range(10):
        lim.command(cmd(0.4), 0.05 * i)
    assert lim.tick(0.45 + CFG.timeout_s - 0.01) is None
    out = lim.tick(0.45 + CFG.timeout_s + 0.01)
    assert out.cmd == ZERO6 and "no command" in out.reason
    assert lim.tick(2.0) is None
    slow = VelocityLimiter(LimiterConfig(decel_v_mps2=1.0, timeout_s=0.2))
    for i in range(20):
        slow.command(cmd(0.5), 0.05 * i)
    steps = [slow.tick(0.95 + 0.25 + 0.05 * k) for k in range(12)]  # first: dt capped at 0.1 s
    vs = [s.cmd[0] for s in steps if s is not None]
    assert vs[0] == pytest.approx(0.4) and vs[-1] == 0.0 and vs == sorted(vs, reverse=True)


def test_clock_jump_back_stops_and_restarts_from_rest():
    lim = VelocityLimiter(CFG)
    for i in range(20):
        lim.command(cmd(0.9), 100.0 + 0.05 * i)
    out = lim.tick(3.0)                                     # sim reset: the clock went back 97 s
    assert out is not None and out.cmd == ZERO6 and "future" in out.reason
    first = lim.command(cmd(0.9), 3.05)                     # from rest again, not from 0.9
    assert first.cmd[0] == pytest.approx(1.5 * 0.05)
    lim2 = VelocityLimiter(CFG)
    for i in range(20):
        lim2.command(cmd(0.9), 100.0 + 0.05 * i)
    assert lim2.command(cmd(0.9), 3.0).cmd[0] == pytest.approx(1.5 * CFG.max_dt_s)  # no tick between


def test_robot_file_limits_map_onto_the_limiter():
    tb = load_robot("turtlebot4")
    cfg = LimiterConfig(**{k.split(".", 1)[1]: v for k, v in limiter_params(tb).items()})
    lim = VelocityLimiter(cfg)
    for i in range(40):
        out = lim.command(cmd(5.0, 5.0), 0.05 * i)
    assert out.cmd[0] == pytest.approx(0.31) and out.cmd[5] == pytest.approx(1.9)
    with pytest.raises(ConfigError, match="accel_v_mps2"):
        LimiterConfig(accel_v_mps2=0.0)


values = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.floats(min_value=-3.0, max_value=3.0), st.just(0.0))


@settings(max_examples=60, deadline=None)
@given(seq=st.lists(st.tuples(values, values, st.floats(min_value=0.0, max_value=0.3),
                              st.booleans()), min_size=1, max_size=60),
       decel=st.sampled_from([0.0, 2.0]))
def test_any_input_sequence_gives_finite_bounded_accel_limited_output(seq, decel):
    cfg = LimiterConfig(decel_v_mps2=decel, decel_w_radps2=2 * decel)
    lim = VelocityLimiter(cfg)
    t, prev, last_t = 0.0, (0.0, 0.0), None
    for v, w, dt, tick in seq:
        t += dt
        res = lim.tick(t) if tick else lim.command(cmd(v, w), t)
        if res is None:
            continue
        out = res.cmd
        assert all(math.isfinite(x) for x in out) and out[1:5] == (0.0,) * 4
        assert cfg.v_min_mps <= out[0] <= cfg.v_max_mps and abs(out[5]) <= cfg.w_max_radps
        if not (math.isfinite(v) and math.isfinite(w)) and not tick:
            assert out == ZERO6
        # speeding up (|x| growing, or growing after a reversal) never beats accel * dt
        credit = cfg.max_dt_s if last_t is None else min(t - last_t, cfg.max_dt_s)
        for k, i, a in ((0, 0, cfg.accel_v_mps2), (1, 5, cfg.accel_w_radps2)):
            base = abs(prev[k]) if prev[k] * out[i] > 0 else 0.0
            assert abs(out[i]) - base <= a * credit + 1e-9
        prev, last_t = (out[0], out[5]), t


def test_mux_freshness_is_absolute_age_after_a_clock_jump_back():
    """Before: teleop received at t=112 stayed 'active' at t=100..112.5 (negative age) and
    every planner command was dropped. Now it is stale at once and nav flows."""
    mux = CommandMux(MuxConfig())
    mux.on_command("teleop", cmd(0.3), 112.0, now_s=112.0)
    assert mux.selected == "teleop"
    out = mux.tick(100.0)                                  # clock jumped back 12 s
    assert out is not None and out.cmd == ZERO and mux.selected is None
    out = mux.on_command("nav", cmd(0.5), 100.05, now_s=100.05)
    assert out is not None and out.cmd == cmd(0.5) and out.source == "nav"


def test_mux_nan_from_the_input_in_control_commands_zero():
    mux = CommandMux(MuxConfig())
    mux.on_command("nav", cmd(0.5), 1.0, now_s=1.0)
    out = mux.on_command("nav", cmd(math.nan), 1.05, now_s=1.05)
    assert out.cmd == ZERO and out.source == "rejected" and out.stamp_s == 1.05
    assert mux.selected == "nav" and mux.rejected_total() == 1


def test_mux_reconfigure_applies_priorities_and_timeouts():
    mux = CommandMux(MuxConfig())
    mux.on_command("nav", cmd(0.5), None, now_s=0.0)
    mux.reconfigure(MuxConfig(input_priorities=[1, 10], input_timeouts_s=[0.5, 2.0]))
    assert mux.on_command("teleop", cmd(0.2), None, now_s=1.0) is None  # nav now outranks teleop
    assert mux.winner(1.9) == "nav"
    with pytest.raises(ConfigError):
        mux.reconfigure(MuxConfig(input_names=["a", "b"]))


def test_robot_stack_hands_the_robot_limits_to_the_mux_limiter():
    from world_model_planner.app.stack import MUX, has_mux, robot_stack

    assert has_mux()
    specs = {s.executable: s for s in robot_stack(robot_yaml=str(load_robot("turtlebot4").source))}
    values = specs[MUX].param_values()
    assert values["limiter.v_max_mps"] == 0.31 and values["limiter.w_max_radps"] == 1.9
    assert values["limiter.v_min_mps"] == -0.2 and values["limiter.accel_v_mps2"] == 2.5
