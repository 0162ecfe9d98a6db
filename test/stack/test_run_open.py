"""`wmp run` refuses a bad scenario and a missing model before starting anything. (The episode
record of a clean drive on `open` is checked in test_demo.py, from the same stack.)"""
from __future__ import annotations

from world_model_planner.testing.stack import explain, run_wmp


def test_wmp_run_refuses_bad_scenario_and_model(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nrobot: husky\narena: [10, 10]\nstart: {x: 0, y: 0}\n")
    proc = run_wmp(["run", "--scenario", str(bad)], timeout_s=60)
    assert proc.returncode == 2 and "goal" in proc.stderr, explain(proc)
    proc = run_wmp(["run", "--scenario", "open", "--model", str(tmp_path / "nope.pt")], timeout_s=60)
    assert proc.returncode == 2 and "nope.pt" in proc.stderr, explain(proc)
