"""`wmp demo`: report with table and PNGs, the episode record (its keys and a clean drive on
`open` through the real sim, world model, planner, mux and lifecycle manager processes), exit
status, and the missing-model message."""
from __future__ import annotations

import json
import os

import pytest

from world_model_planner.testing.stack import REPO, explain, needs_stack, run_wmp

KEYS = {"scenario", "planner", "seed", "success", "time_s", "path_length_m", "collisions",
        "min_clearance_m", "plan_hz_median", "spl", "trajectory", "time_ratio", "reverse_m", "recoveries"}


@pytest.mark.slow
@needs_stack
def test_demo_on_open_writes_report(tmp_path):
    out = tmp_path / "demo"
    proc = run_wmp(["demo", "--scenarios", "open", "--out", str(out)], timeout_s=150)
    assert proc.returncode == 0, explain(proc)
    assert "[1/1] open" in proc.stderr and "reached" in proc.stderr, explain(proc)
    report = (out / "report.md").read_text()
    assert "| open | hierarchical | 0 | yes |" in report
    assert "![open](open.png)" in report
    assert (out / "open.png").read_bytes()[:4] == b"\x89PNG"
    # the episode record (what `wmp run --json` writes for the same episode; test_camera_stack
    # reads one written by `wmp run`): complete, and a clean drive
    rec = json.loads((out / "results.json").read_text())["episodes"][0]
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


def test_demo_without_shipped_model_names_the_command(tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    os.symlink(REPO / "config", share / "config")
    (share / "models").mkdir()
    env = dict(os.environ, WMP_SHARE_DIR=str(share))
    proc = run_wmp(["demo", "--out", str(tmp_path / "demo")], timeout_s=60, env=env)
    assert proc.returncode == 2, explain(proc)
    assert "husky_default.pt" in proc.stderr and "train_default_model.sh" in proc.stderr, explain(proc)
