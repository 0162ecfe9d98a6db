"""spin_main's Ctrl-C and SIGTERM (rosutil.QuietStop), in real processes with real rclpy.

Once the node is built, the first signal must not raise KeyboardInterrupt in the main thread
(it can land inside a finaliser, and Python prints that as "Exception ignored" with a
traceback); rclpy's shut-down context ends the node. Before the node is built, and for a
second signal, KeyboardInterrupt still stops the process."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("rclpy")

SCRIPT = r'''
import sys, time
import rclpy
from world_model_planner.core.rosutil import spin_main

mode = sys.argv[1]

def make_node():
    if mode == "slow_build":       # Python work: the handler runs between steps, whichever thread got the signal
        print("building", flush=True)
        for _ in range(600):
            time.sleep(0.1)
    node = rclpy.create_node("quiet_stop_probe")
    if mode == "spin":
        node.create_timer(0.1, lambda: print("spinning", flush=True))
    return node

def run(node):
    print("RUN LOOP STARTED", flush=True)
    try:
        if mode == "stuck":
            while True:             # a callback that never returns: ignores the shut-down context
                time.sleep(0.01)
        while rclpy.ok():
            time.sleep(0.01)
        print("ended by the shut-down context", flush=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt in the loop", flush=True)
        raise
    return 0

status = spin_main(make_node, [], run=None if mode == "spin" else run)
print(f"status {status}", flush=True)
'''


def _start(mode: str, tmp_path, env):
    script = tmp_path / "probe.py"
    script.write_text(SCRIPT)
    return subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def _wait_line(proc, text: str, timeout: float = 60.0) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if text in line:
            return lines
    proc.kill()
    raise AssertionError(f"no {text!r} within {timeout} s: {lines}")


def _finish(proc, timeout: float = 30.0) -> str:
    out, _ = proc.communicate(timeout=timeout)
    return out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_ends_a_run_loop_through_the_context_without_keyboard_interrupt(tmp_path, node_env, sig):
    proc = _start("loop", tmp_path, node_env)
    _wait_line(proc, "RUN LOOP STARTED")
    proc.send_signal(sig)
    out = _finish(proc)
    assert proc.returncode == 0, out
    assert "ended by the shut-down context" in out and "KeyboardInterrupt" not in out, out
    assert "status 0" in out and "Traceback" not in out, out


def test_first_sigint_ends_rclpy_spin_quietly(tmp_path, node_env):
    proc = _start("spin", tmp_path, node_env)
    _wait_line(proc, "spinning")
    proc.send_signal(signal.SIGINT)
    out = _finish(proc)
    assert proc.returncode == 0 and "status 0" in out, out
    assert "Traceback" not in out and "Exception ignored" not in out, out


def test_a_second_signal_stops_a_stuck_node(tmp_path, node_env):
    proc = _start("stuck", tmp_path, node_env)
    _wait_line(proc, "RUN LOOP STARTED")
    proc.send_signal(signal.SIGINT)
    time.sleep(1.0)
    assert proc.poll() is None, "the first signal must not raise into the loop"
    proc.send_signal(signal.SIGINT)
    out = _finish(proc)
    assert "KeyboardInterrupt in the loop" in out and "status 0" in out, out


def test_a_signal_while_the_node_is_being_built_stops_at_once(tmp_path, node_env):
    proc = _start("slow_build", tmp_path, node_env)
    _wait_line(proc, "building")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out = _finish(proc)
    assert time.monotonic() - t0 < 10.0, out          # not the 60 s of the build
    assert "RUN LOOP STARTED" not in out and "status 0" in out, out


def test_handlers_are_restored_when_spin_main_returns():
    import rclpy

    from world_model_planner.core.rosutil import spin_main

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def run(node):
        assert signal.getsignal(signal.SIGINT) is not before[signal.SIGINT]   # installed while running
        return 0

    assert spin_main(lambda: rclpy.create_node("quiet_stop_restore"), [], run=run) == 0
    assert {s: signal.getsignal(s) for s in before} == before
