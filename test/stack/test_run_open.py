"""`wmp run` on `open`: real sim_node (lockstep), world_model_node, planner_node, mux and
lifecycle manager processes; the episode must reach the goal and the JSON must say so."""
from __future__ import annotations

import json

import pytest

from world_model_planner.testing.stack import explain, needs_stack, run_wmp

KEYS = {"scenario", "planner", "seed", "success", "time_s", "path_length_m", "collisions",
        "min_clearance_m", "plan_hz_median", "spl", "trajectory", "time_ratio", "reverse_m", "recoveries"}


@pytest.mark.slow
@needs_stack
def test_wmp_run_open_reaches_goal(tmp_path):
    out = tmp_path / "episode.json"
    proc = run_wmp(["run", "--scenario", "open", "--planner", "hierarchical", "--seed", "0",
                    "--json", str(out), "--log-dir", str(tmp_path / "logs")], timeout_s=150)
    assert proc.returncode == 0, explain(proc)
    rec = json.loads(out.read_text())
    assert KEYS <= set(rec), f"missing keys {KEYS - set(rec)}"
    assert rec["scenario"] == "open" and rec["planner"] == "hierarchical" and rec["seed"] == 0
    assert rec["success"] is True, explain(proc)
    assert 0.0 < rec["time_s"] < rec["time_limit_s"]
    assert rec["collisions"] == 0
    assert rec["path_length_m"] >= rec["shortest_path_m"] * 0.95
    assert rec["plan_hz_median"] is not None and rec["plan_hz_median"] > 0
    assert rec["min_clearance_m"] is not None and rec["min_clearance_m"] > 0
    # time against the shortest path at top speed (1 at best), no reversing, no stall on the way
    assert rec["time_ratio"] is not None and 1.0 <= rec["time_ratio"] < 2.0, rec["time_ratio"]
    assert rec["reverse_m"] < 0.5 and rec["recoveries"] == []
    assert 0.5 < rec["spl"] <= 1.0
    assert len(rec["trajectory"]) > 20


def test_wmp_run_refuses_bad_scenario_and_model(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nrobot: husky\narena: [10, 10]\nstart: {x: 0, y: 0}\n")
    proc = run_wmp(["run", "--scenario", str(bad)], timeout_s=60)
    assert proc.returncode == 2 and "goal" in proc.stderr, explain(proc)
    proc = run_wmp(["run", "--scenario", "open", "--model", str(tmp_path / "nope.pt")], timeout_s=60)
    assert proc.returncode == 2 and "nope.pt" in proc.stderr, explain(proc)
