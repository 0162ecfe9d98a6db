"""Benchmark report from episode records (no processes): JSON, Markdown table, PNGs."""
from __future__ import annotations

import json

from world_model_planner.sim.scenario import load_scenario
from world_model_planner.app.episode import finalize
from world_model_planner.app.report import markdown_table, write_results


def _episode(name, planner, seed, reach, collisions=0):
    s = load_scenario(name)
    end = (s.goal.x, s.goal.y) if reach else (s.start.x + 1.0, s.start.y)
    traj = [(0.1 * i, s.start.x + (end[0] - s.start.x) * i / 20, s.start.y + (end[1] - s.start.y) * i / 20, 0.0)
            for i in range(21)]
    rec = {"scenario": name, "planner": planner, "seed": seed, "trajectory": traj, "time_s": 2.0,
           "collisions": collisions, "min_clearance_m": 0.5, "plan_hz_median": 20.0 + seed}
    return finalize(rec, s)


def test_report_files_and_table(tmp_path):
    eps = [_episode("open", "hierarchical", 0, True), _episode("open", "hierarchical", 1, False, 2),
           _episode("wall", "flat", 0, True)]
    paths = write_results(eps, tmp_path, "Benchmark", "wmp bench ...")
    data = json.loads(paths["json"].read_text())
    assert len(data["episodes"]) == 3 and data["command"] == "wmp bench ..."
    # the CPU the plan rates were measured on, in both files (cpu_description: this machine's)
    from world_model_planner.core.runtime import cpu_description

    assert data["machine"] == cpu_description()
    assert f"Machine: {data['machine']}" in paths["markdown"].read_text()
    rows = {(r["scenario"], r["planner"]): r for r in data["summary"]}
    assert rows[("open", "hierarchical")]["success_rate"] == 0.5
    assert rows[("open", "hierarchical")]["collision_rate"] == 0.5
    assert rows[("open", "hierarchical")]["plan_hz"] == 20.5
    table = markdown_table(eps)
    assert "| open | hierarchical | 2 | 50% |" in table
    assert "| wall | flat | 1 | 100% |" in table
    for name in ("open", "wall"):
        png = tmp_path / f"{name}.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
        assert f"![{name}]({name}.png)" in paths["markdown"].read_text()
