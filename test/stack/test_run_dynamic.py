"""A dynamic scenario end to end: `wmp run` on `crossing` (three people cross a corridor from side
doors, cutting the robot's route) through the real sim_node, world_model_node, planner_node, mux
and lifecycle manager processes. The robot must reach the goal without touching anyone. The
people's start delays put each of them in the corridor when a robot at about 0.5 m/s reaches
their door, so a planner that ignores them runs into one (see config/scenarios/crossing.yaml)."""
from __future__ import annotations

import json

import pytest

from world_model_planner.testing.stack import explain, needs_stack, run_wmp


@pytest.mark.slow
@needs_stack
@pytest.mark.parametrize("planner", ["hierarchical"])
def test_wmp_run_crossing_reaches_goal_without_touching_people(tmp_path, planner):
    out = tmp_path / "episode.json"
    proc = run_wmp(["run", "--scenario", "crossing", "--planner", planner, "--seed", "0",
                    "--json", str(out), "--log-dir", str(tmp_path / "logs")], timeout_s=240)
    assert proc.returncode == 0, explain(proc)
    rec = json.loads(out.read_text())
    assert rec["scenario"] == "crossing" and rec["planner"] == planner
    assert rec["success"] is True, explain(proc)
    assert rec["collisions"] == 0, explain(proc)
    assert 0.0 < rec["time_s"] < rec["time_limit_s"]
    assert rec["min_clearance_m"] is not None and rec["min_clearance_m"] > 0.0
    # it drove the corridor: the recorded track ends near the goal at the far end
    assert rec["trajectory"][-1][1] > 4.5, rec["trajectory"][-1]
