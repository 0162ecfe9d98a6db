"""SIGTERM to `wmp run` (a process supervisor, `timeout`, `docker stop`) stops it as Ctrl-C does:
exit 143, one line, and no node of its stack left running (a planner left behind would go on
driving the robot)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from world_model_planner.testing.processes import child_pids, pid_running

WMP = str(Path(sys.executable).parent / "wmp")


def test_sigterm_stops_wmp_run_and_every_node(tmp_path, node_env):
    log_dir = tmp_path / "logs"
    p = subprocess.Popen([WMP, "run", "--scenario", "open", "--planner", "classic", "--log-dir", str(log_dir)],
                         env=node_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        nodes: set[int] = set()
        while not (log_dir.is_dir() and any("goal accepted" in f.read_text(errors="replace")
                                            for f in log_dir.glob("planner_node*.log"))):
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()[1][-2000:]
            nodes |= child_pids(p.pid)
            time.sleep(0.1)
        nodes |= child_pids(p.pid)
        assert len(nodes) >= 3                                  # the stack is up and driving
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 143, (p.returncode, err[-2000:])
        assert "terminated" in err and "Traceback" not in err, err[-2000:]
        deadline = time.monotonic() + 10
        while [n for n in nodes if pid_running(n)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [n for n in nodes if pid_running(n)], nodes
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
