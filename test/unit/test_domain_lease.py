"""The test harness: domain leases stay in ROS 2's safe range, and no node process outlives its test."""
from __future__ import annotations

import signal
import sys
import time

from world_model_planner.testing.domain import DOMAINS, DomainLease
from world_model_planner.testing.processes import NodeProcess, stop_leftovers


def test_leases_are_exclusive_and_within_0_to_101():
    leases = [DomainLease() for _ in range(5)]
    try:
        ids = [lease.domain_id for lease in leases]
        assert len(set(ids)) == 5 and all(1 <= i <= 101 for i in ids) and DOMAINS == 101
    finally:
        for lease in leases:
            lease.release()


def test_a_process_the_test_lost_track_of_is_stopped(tmp_path):
    stop_leftovers()
    proc = NodeProcess([sys.executable, "-c", "import time; time.sleep(60)"], {}, tmp_path / "sleep.log")
    assert proc.alive()
    assert stop_leftovers() == [sys.executable.rsplit("/", 1)[-1]]
    assert not proc.alive()
    assert stop_leftovers() == []


def test_a_process_that_ignores_sigint_leaves_its_stacks_in_the_log_before_the_kill(tmp_path):
    """stop(): past its timeout the process gets SIGUSR1 before SIGKILL; a node registers
    faulthandler on it (rosutil.spin_main), so the log says where it hung."""
    code = ("import faulthandler, signal, sys, time\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "faulthandler.register(signal.SIGUSR1, all_threads=True)\n"
            "print('ready', flush=True)\n"
            "def stuck_here():\n"
            "    time.sleep(60)\n"
            "stuck_here()\n")
    proc = NodeProcess([sys.executable, "-c", code], {}, tmp_path / "stuck.log")
    try:
        for _ in range(100):
            if "ready" in proc.log():
                break
            time.sleep(0.05)
        assert proc.stop(timeout=0.5) == -signal.SIGKILL
        assert "stuck_here" in proc.log_path.read_text()
    finally:
        proc.kill()
