"""The test harness: domain leases stay in ROS 2's safe range, and no node process outlives its test."""
from __future__ import annotations

import sys

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
