"""cmd_mux library: priorities, per-input timeouts, e-stop lock, NaN rejection, interventions."""
import math

import pytest

from world_model_planner.teleop.mux import ZERO, CommandMux, MuxConfig
from world_model_planner.core.params import ConfigError

NAV = (0.5, 0.0, 0.0, 0.0, 0.0, 0.1)
TELE = (0.2, 0.0, 0.0, 0.0, 0.0, -0.3)


def test_higher_priority_wins_and_lower_is_dropped():
    mux = CommandMux(MuxConfig())
    out = mux.on_command("nav", NAV, 1.0, now_s=0.0)
    assert out.cmd == NAV and out.stamp_s == 1.0 and out.source == "nav"
    out = mux.on_command("teleop", TELE, 1.05, now_s=0.1)
    assert out.cmd == TELE and out.source == "teleop"
    assert mux.on_command("nav", NAV, 1.1, now_s=0.2) is None  # teleop holds control
    assert mux.selected == "teleop"


def test_timeout_hands_back_and_stops_when_nobody_speaks():
    mux = CommandMux(MuxConfig(input_timeouts_s=[0.5, 0.3]))
    mux.on_command("teleop", TELE, None, now_s=0.0)
    assert mux.on_command("nav", NAV, None, now_s=0.4) is None
    assert mux.tick(0.45) is None
    out = mux.on_command("nav", NAV, None, now_s=0.6)  # teleop silent for 0.6 s > 0.5 s
    assert out is not None and out.cmd == NAV
    # nav goes silent: one zero command when its 0.3 s timeout passes, then nothing
    assert mux.tick(0.85) is None
    out = mux.tick(0.95)
    assert out.cmd == ZERO and out.source == "timeout" and out.stamp_s is None
    assert mux.tick(1.0) is None and mux.selected is None


def test_estop_locks_to_zero_keeping_stamps_and_unlocks():
    mux = CommandMux(MuxConfig())
    assert mux.on_estop(True, 0.0).cmd == ZERO
    assert mux.on_estop(True, 0.01) is None  # already locked: no repeat
    out = mux.on_command("nav", NAV, 3.0, now_s=0.1)
    assert out.cmd == ZERO and out.stamp_s == 3.0 and out.source == "estop"
    mux.on_estop(False, 0.2)
    assert mux.on_command("nav", NAV, 3.1, now_s=0.3).cmd == NAV


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_commands_are_rejected(bad):
    mux = CommandMux(MuxConfig())
    mux.on_command("nav", NAV, None, now_s=0.0)
    assert mux.on_command("teleop", (bad, 0, 0, 0, 0, 0), None, now_s=0.1) is None
    assert mux.selected == "nav" and mux.rejected_total() == 1  # a bad message never takes over


def test_intervention_counted_only_when_person_takes_over_from_active_planner():
    mux = CommandMux(MuxConfig())
    mux.on_command("teleop", TELE, None, now_s=0.0)  # person drives alone: not an intervention
    assert mux.interventions == 0
    mux.tick(1.0)
    mux.on_command("nav", NAV, None, now_s=1.0)
    mux.on_command("teleop", TELE, None, now_s=1.1)  # take-over while nav active
    assert mux.interventions == 1 and mux.intervention_active
    mux.on_command("teleop", TELE, None, now_s=1.3)  # continuing is the same intervention
    assert mux.interventions == 1
    mux.on_command("nav", NAV, None, now_s=2.0)      # teleop timed out: back to the planner
    assert not mux.intervention_active
    mux.on_command("teleop", TELE, None, now_s=2.1)
    assert mux.interventions == 2


def test_bad_config_is_refused_with_the_field():
    with pytest.raises(ConfigError, match="input_topics: expected 2 entries"):
        MuxConfig(input_topics=["/a"])
    with pytest.raises(ConfigError, match="person_inputs"):
        MuxConfig(person_inputs=["joystick"])
    with pytest.raises(ConfigError, match="input_timeouts_s"):
        MuxConfig(input_timeouts_s=[0.5, -1.0])
