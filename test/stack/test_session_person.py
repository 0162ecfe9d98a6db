"""A person at the keyboard: `wmp session --operator NAME` driven through a pseudo-terminal
(80x24), keys typed as a person would. The map is read from the plain-text copy of the screen
the session keeps beside the recording (DIR/<recording>.screen.txt); the terminal output is
checked for the summary; stderr and every node's log for tracebacks."""
import glob
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from world_model_planner.teleop.tui import ARROWS, CART, HEADER_ROWS
from world_model_planner.testing.processes import PtyProc, child_pids, pid_running

WMP = str(Path(sys.executable).parent / "wmp")
pytestmark = pytest.mark.slow


class Person:
    """`wmp session` on a pty; ``screen()`` is the session's current screen as text."""

    def __init__(self, tmp_path, node_env, *extra, scenario="open"):
        self.out = tmp_path / "sessions"
        self.err_path = tmp_path / "stderr.txt"
        self._err = open(self.err_path, "wb")
        env = dict(node_env, TERM="xterm-256color")
        self.p = PtyProc([WMP, "session", "--scenario", scenario, "--operator", "alice", "--out", str(self.out),
                          "--countdown", "1", *extra], env, size=(24, 80), stderr=self._err)

    def screen(self) -> str:
        files = glob.glob(str(self.out / "*.screen.txt"))
        return Path(files[0]).read_text() if files else ""

    def wait_screen(self, text, timeout=180.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in (s := self.screen()):
            assert self.p.proc.poll() is None, f"session ended:\n{self.output()}\n{self.stderr()}"
            assert time.monotonic() < deadline, f"no {text!r} on screen:\n{s}\n{self.stderr()}"
            time.sleep(0.1)
        return s

    def output(self) -> str:
        return self.p.output.decode(errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def end(self, timeout=60) -> int:
        rc = self.p.proc.wait(timeout)
        self.p.drain()
        return rc

    def close(self):
        if self.p.proc.poll() is None:
            self.p.proc.kill()
            self.p.proc.wait(10)
        os.close(self.p.master)
        self._err.close()

    def assert_clean(self):
        """No traceback on stderr, in the terminal output, or in any node's log."""
        assert "Traceback" not in self.stderr() and "Traceback" not in self.output(), self.stderr()
        for log in glob.glob(str(self.out / "logs" / "**" / "*.log"), recursive=True):
            text = RCLPY_TASK_DEL.sub("", Path(log).read_text(errors="replace"))
            assert "Traceback" not in text and "RCLError" not in text, f"{log}:\n{text[-3000:]}"


# Jazzy's rclpy (rclpy/task.py, Future.__del__) can print this when the garbage collector meets a
# Task whose construction was cut short as a node shuts down: rclpy's own, ignored by Python, and
# not a fault of the node; any other traceback still fails
RCLPY_TASK_DEL = re.compile(r"Exception ignored in: <function Future\.__del__ at 0x[0-9a-f]+>\n"
                            r"Traceback \(most recent call last\):\n(?:  .*\n)*?"
                            r"AttributeError: 'Task' object has no attribute '_exception'\n?")


def sim_time(screen: str) -> float:
    return float(re.search(r"sim\s+([-\d.]+) s", screen).group(1))


def speed(screen: str) -> float:
    m = re.search(r"speed ([-+\d.]+)m/s", screen)
    return float(m.group(1)) if m else 0.0


def robot_column(screen: str) -> int:
    """The leftmost column of the robot's heading arrows on the map."""
    lines = screen.splitlines()[HEADER_ROWS:-2]
    cols = [c for line in lines for c, ch in enumerate(line) if ch in ARROWS]
    assert cols, screen
    return min(cols)


def _pass_gate(person):
    person.wait_screen("press any key to start")
    person.p.type(b"x")
    person.wait_screen("time left 59.", timeout=30)  # the clock runs (3 x the scenario's 20 s)


def test_person_waits_at_the_gate_then_holds_w_to_the_goal(tmp_path, node_env, ckpt):
    """The gate, w held to the goal, the summary (with the time ratio), then
    --compare-with-planner --planner classic: the planner's run, its time ratio line and the
    HTML report (with the tiny checkpoint as the report's model: the classic planner uses none).
    The final map screen is kept as an artefact: DIR/session_person_goal_screen.txt, DIR being
    $WMP_TEST_ARTIFACTS when set, else the test's tmp dir."""
    person = Person(tmp_path, node_env, "--compare-with-planner", "--planner", "classic", "--model", str(ckpt))
    try:
        first = person.wait_screen("press any key to start")
        time.sleep(1.5)
        later = person.screen()
        # at the gate the sim is paused: the clock does not move, the time left is the whole limit
        assert sim_time(first) == sim_time(later), (first, later)
        assert "time left 60.0s" in later and "press any key to start" in later
        start_col = robot_column(later)
        person.p.type(b"x")                    # any key: 1 s countdown, then go
        person.wait_screen("time left 59.", timeout=30)
        person.p.type(b"++")                   # two speed steps up: 0.5 m/s
        seen = []
        deadline = time.monotonic() + 120
        while person.p.proc.poll() is None and time.monotonic() < deadline:
            person.p.type(b"w")                # holding w: the terminal repeats it
            time.sleep(0.2)
            s = person.screen()
            if "goal reached" in s:
                break                          # then the planner's session runs
            if "press any key" not in s:
                seen.append((sim_time(s), robot_column(s)))
        assert person.end(timeout=240) == 0, person.output() + person.stderr()
        final = person.screen()
        art = Path(os.environ.get("WMP_TEST_ARTIFACTS") or tmp_path)
        art.mkdir(parents=True, exist_ok=True)
        (art / "session_person_goal_screen.txt").write_text(final)
        print(f"\n--- the map at the end ({art / 'session_person_goal_screen.txt'}) ---\n{final}")
        # the map showed the robot moving right (the goal of `open` is straight ahead, +x)
        moving = [c for t, c in seen if t > sim_time(later)]
        assert moving and max(moving) - start_col >= 10, seen
        assert "goal reached" in final
        out = person.output()
        assert "session reached: reached the goal" in out and "SPL" in out and "recording:" in out
        summary = json.loads(Path(glob.glob(str(person.out / "*teleop_alice*.json"))[0]).read_text())
        m = summary["metrics"]
        assert m["success"] and summary["time_limit_s"] == pytest.approx(60.0)
        # time against the time-optimal one: > 1 (acceleration limits), and printed as such
        assert m["time_ratio"] > 1.0, m
        assert f"time ratio {m['time_ratio']:.2f} (this time / the shortest path" in out, out[-2000:]
        # --compare-with-planner: the planner's session, the time ratio of the two, the report
        assert "running the planner (classic) on open" in out, out[-2000:]
        assert re.search(r"time ratio \(this session / planner\): \d+\.\d\d +planner: [\d.]+ s", out), out[-2000:]
        report = Path(summary["recording"].removesuffix(".mcap") + "_vs_planner.html")
        assert report.is_file() and f"report: {report}" in out
        # the episode clock starts at go: the person waited at the gate, the episode starts at ~0 s
        assert summary["metrics"]["t_start_s"] < 0.5, summary["metrics"]
        person.assert_clean()
    finally:
        person.close()


@pytest.mark.jazzy          # Jazzy's rclpy printed a Future.__del__ traceback at such an exit
@pytest.mark.parametrize("how", ["q", "sigint", "joy_q"])
def test_q_or_sigint_ends_cleanly_with_the_summary(tmp_path, node_env, how):
    """q or Ctrl-C while driving; with a joystick (teleop_joy) the same gate, q and summary."""
    person = Person(tmp_path, node_env, *(["--input", "joy"] if how == "joy_q" else []))
    try:
        _pass_gate(person)
        if how == "joy_q":
            assert "joystick: hold the dead-man button" in person.screen()
            person.wait_screen("time left 58.", timeout=30)
        else:
            person.p.type(b"w")
            deadline = time.monotonic() + 30
            while speed(person.screen()) < 0.1:       # the robot is moving
                assert time.monotonic() < deadline, person.screen()
                time.sleep(0.1)
            person.p.type(b" ")                        # and stops, so the end is q or Ctrl-C, not the goal
        if how in ("q", "joy_q"):
            person.p.type(b"q")
        else:
            person.p.proc.send_signal(signal.SIGINT)   # what Ctrl-C in the terminal sends
        assert person.end() == 0, person.output() + person.stderr()
        out = person.output()
        reason = "interrupted" if how == "sigint" else "operator_quit"
        assert f"session {reason}: " in out, out[-2000:]
        assert "recording:" in out and "wmp compare" in out
        person.assert_clean()
    finally:
        person.close()


def test_sigint_while_the_stack_comes_up_ends_cleanly(tmp_path, node_env):
    """Ctrl-C before the gate, while the nodes are still starting (importing): one line, no
    traceback from the session or from any node, no node left running."""
    person = Person(tmp_path, node_env)
    try:
        nodes, deadline = set(), time.monotonic() + 60
        while len(nodes) < 3:                           # the stack's processes have started ...
            assert person.p.proc.poll() is None and time.monotonic() < deadline, person.stderr()
            nodes |= child_pids(person.p.proc.pid)
            time.sleep(0.02)
        assert "press any key" not in person.screen()   # ... and are still coming up (importing)
        person.p.proc.send_signal(signal.SIGINT)
        assert person.end() == 130, person.output() + person.stderr()
        assert "interrupted" in person.stderr()
        person.assert_clean()
        assert len(nodes) >= 3 and not [n for n in nodes if pid_running(n)], nodes
    finally:
        person.close()


def test_shared_mode_person_gate_interventions_and_q(tmp_path, node_env):
    """Shared mode with a person in cart_door: the same gate, the cart on the map (sim/movers);
    the planner drives, a key takes over (one intervention on the status line and in the
    summary); q ends it cleanly."""
    person = Person(tmp_path, node_env, "--mode", "shared", "--planner", "classic", scenario="cart_door")
    try:
        gate = person.wait_screen(CART)               # at the gate: the paused sim re-sends the movers
        assert "press any key to start" in gate and "interventions 0" in gate
        person.p.type(b"x")
        person.wait_screen("time left 134.", timeout=30)   # 3 x the scenario's 45 s
        deadline = time.monotonic() + 30
        while speed(person.screen()) < 0.1:          # the planner drives
            assert time.monotonic() < deadline, person.screen()
            time.sleep(0.1)
        person.p.type(b"a")                           # the person takes over: turn left
        person.wait_screen("interventions 1", timeout=20)
        person.p.type(b" q")
        assert person.end() == 0, person.output() + person.stderr()
        out = person.output()
        assert "session operator_quit: " in out and "interventions 1" in out, out[-2000:]
        person.assert_clean()
    finally:
        person.close()


@pytest.mark.jazzy
def test_sigint_at_the_gate_ends_cleanly_and_stops_every_node(tmp_path, node_env):
    """Ctrl-C at the start gate (the stack up, nothing driven yet): the session says so, and no
    node of its stack is left running."""
    person = Person(tmp_path, node_env)
    try:
        person.wait_screen("press any key to start", timeout=120)
        nodes = child_pids(person.p.proc.pid)
        person.p.proc.send_signal(signal.SIGINT)
        rc = person.end()
        assert "session interrupted" in person.output() + person.stderr(), person.output()[-2000:]
        assert rc in (0, 130), (rc, person.stderr())
        person.assert_clean()
        assert len(nodes) >= 3 and not [n for n in nodes if pid_running(n)], nodes
    finally:
        person.close()
