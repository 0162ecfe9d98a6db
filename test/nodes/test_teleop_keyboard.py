"""Keyboard teleop: key decoding and state (pure), and the real executable driven through a pty."""
import os
import sys
import time
from pathlib import Path

import pytest

from world_model_planner.teleop.keymap import KeyboardConfig, KeyDecoder, KeyTeleop, PublishGate
from world_model_planner.core.params import ConfigError
from world_model_planner.testing.processes import PtyProc


def test_decoder_handles_arrows_split_reads_and_unknown_sequences():
    d = KeyDecoder()
    assert d.feed(b"w\x1b[A\x1bOD") == ["up", "up", "left"]
    assert d.feed(b"\x1b[") == []              # incomplete: wait for the rest
    assert d.feed(b"C ") == ["right", "stop"]
    assert d.feed(b"\x1b[1;5A+3q") == ["unknown", "faster", "step3", "quit"]  # Ctrl-Up ignored


def test_latched_keys_speed_steps_and_stop():
    t = KeyTeleop(KeyboardConfig(max_linear_mps=1.0, max_angular_radps=1.5, speed_steps=10, initial_step=3))
    t.press("up")
    assert t.command() == pytest.approx((0.3, 0.0))
    t.press("up")                              # already forward: stays forward
    t.press("left")
    assert t.command() == pytest.approx((0.3, 0.45))
    t.press("faster")
    assert t.command() == pytest.approx((0.4, 0.6))
    t.press("right")                           # left -> straight
    t.press("down")                            # forward -> stopped
    assert t.command() == pytest.approx((0.0, 0.0))
    t.press("step9")
    t.press("down")
    assert t.command() == pytest.approx((-0.9, 0.0))
    t.press("stop")
    assert t.command() == (0.0, 0.0)
    for _ in range(20):
        t.press("slower")
    assert t.step == 1


def test_publish_gate_repeats_zero_then_goes_silent():
    g = PublishGate(stop_repeat_s=0.5)
    assert not g.should_publish((0.0, 0.0), 10.0)  # silent before any command
    assert g.should_publish((0.3, 0.0), 10.1)
    assert g.should_publish((0.0, 0.0), 10.2) and g.should_publish((0.0, 0.0), 10.7)
    assert not g.should_publish((0.0, 0.0), 10.71)


def test_config_validation():
    with pytest.raises(ConfigError, match="initial_step"):
        KeyboardConfig(speed_steps=5, initial_step=6)


def test_keyboard_executable_through_a_pty(probe, node_env):
    from geometry_msgs.msg import TwistStamped

    probe.subscribe("/cmd_vel_teleop", TwistStamped)
    exe = str(Path(sys.executable).parent / "teleop_keyboard")
    p = PtyProc([exe, "--ros-args", "-p", "initial_step:=3", "-p", "max_angular_radps:=1.5"], node_env)
    try:
        p.wait_output("ready")
        probe.wait_until("teleop_keyboard's publisher", lambda: probe.node.count_publishers("/cmd_vel_teleop") >= 1)

        def last(v, w):
            return lambda msgs: bool(msgs) and abs(msgs[-1].twist.linear.x - v) < 1e-6 \
                and abs(msgs[-1].twist.angular.z - w) < 1e-6

        p.type(b"w")
        probe.wait_for("/cmd_vel_teleop", last(0.3, 0.0), timeout=10)
        p.type(b"\x1b[D")                   # left arrow
        probe.wait_for("/cmd_vel_teleop", last(0.3, 0.45), timeout=10)
        p.type(b"+")
        probe.wait_for("/cmd_vel_teleop", last(0.4, 0.6), timeout=10)
        n = len(probe.received("/cmd_vel_teleop"))
        probe.wait_for("/cmd_vel_teleop", lambda m: len(m) >= n + 5, timeout=5)  # held: repeated at rate_hz
        msgs = probe.received("/cmd_vel_teleop")
        assert msgs[-1].header.frame_id == "base_link" and msgs[-1].header.stamp.sec > 0
        p.type(b" ")
        probe.wait_for("/cmd_vel_teleop", last(0.0, 0.0), timeout=10)
        # zero is repeated for stop_repeat_s (0.5 s) and then publishing pauses
        time.sleep(1.0)
        n = len(probe.received("/cmd_vel_teleop"))
        time.sleep(0.5)
        assert len(probe.received("/cmd_vel_teleop")) == n, "still publishing after a stop"
        p.type(b"ss")
        probe.wait_for("/cmd_vel_teleop", last(-0.4, 0.0), timeout=10)
        p.type(b"q")
        assert p.proc.wait(10) == 0
        probe.wait_for("/cmd_vel_teleop", last(0.0, 0.0), timeout=5)
        assert b"quit: published zero" in p.output
    finally:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(5)
        os.close(p.master)
