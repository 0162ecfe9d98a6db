"""`wmp bench` on a tiny grid writes the results JSON, the Markdown table and a PNG."""
from __future__ import annotations

import json

import pytest

from world_model_planner.testing.stack import explain, needs_stack, run_wmp


@pytest.mark.slow
@needs_stack
def test_bench_tiny_grid(tmp_path):
    out = tmp_path / "bench"
    # One short episode (4 s of simulated time): the outputs matter here, not the result.
    proc = run_wmp(["bench", "--scenarios", "open", "--seeds", "1", "--planners", "classic",
                    "--time-limit", "4", "--out", str(out)], timeout_s=150)
    assert proc.returncode == 0, explain(proc)
    data = json.loads((out / "results.json").read_text())
    assert len(data["episodes"]) == 1
    ep = data["episodes"][0]
    assert ep["scenario"] == "open" and ep["planner"] == "classic" and ep["perturb"] is True
    assert ep["time_s"] > 0 and ep["path_length_m"] > 0.1     # it moved
    row = data["summary"][0]
    assert {"success_rate", "spl", "collision_rate", "plan_hz"} <= set(row)
    table = (out / "report.md").read_text()
    assert "| scenario | planner | episodes | success | SPL |" in table
    assert "| open | classic | 1 |" in table
    png = out / "open.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_refuses_unknown_planner(tmp_path):
    proc = run_wmp(["bench", "--scenarios", "open", "--planners", "greedy", "--out",
                    str(tmp_path)], timeout_s=60)
    assert proc.returncode == 2 and "greedy" in proc.stderr, explain(proc)
