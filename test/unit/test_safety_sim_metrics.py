"""Metrics never crash or allocate absurdly, and the episode JSON is always written, atomically.

Before: a 1e6 m arena made ``shortest_path_m`` ask numpy for 728 TiB (MemoryError) and a
1e308 m arena raised OverflowError, so ``finalize`` raised and the episode JSON was lost.
The scenario parser now refuses such files; these tests hand the metrics duck-typed scenarios
directly, as any caller could, and run them in a subprocess under a 1 GiB address-space cap.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from types import SimpleNamespace as NS

import pytest

from world_model_planner.core import metrics
from world_model_planner.app.episode import episode_json, finalize, write_episode_json


def _scenario(arena, obstacles=(), tol=0.3, goal=(3.0, 0.0)):
    return NS(name="t", source="", arena=arena, obstacles=list(obstacles),
              start=NS(x=0.0, y=0.0, yaw=0.0), goal=NS(x=goal[0], y=goal[1], tolerance=tol))


_CAPPED = textwrap.dedent("""
    import json, resource, sys, time
    from types import SimpleNamespace as NS
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from world_model_planner.app.episode import finalize
    arena, radius, tol, n = json.loads(sys.argv[1])
    sc = NS(name="t", source="", arena=arena, start=NS(x=0.0, y=0.0, yaw=0.0),
            goal=NS(x=3.0, y=0.0, tolerance=tol),
            obstacles=[NS(center=(5.0, 5.0), radius=radius)] * n)
    t0 = time.monotonic()
    rec = finalize({"trajectory": [(0.0, 0.0, 0.0, 0.0), (1.0, 2.9, 0.0, 0.0)]}, sc)
    print(json.dumps({"rec": {k: rec[k] for k in ("success", "shortest_path_m", "spl")},
                      "errors": rec.get("metric_errors"), "s": time.monotonic() - t0}))
""")


@pytest.mark.parametrize("arena, radius, tol, n", [
    ([1e6, 1e6], 0.3, 0.3, 1),            # was: MemoryError, 728 TiB
    ([1e308, 1e308], 0.3, 1e300, 1),      # was: OverflowError
    ([200.0, 200.0], 150.0, 0.3, 5000),   # 5000 arena-sized obstacles: painting is capped
    ([200.0, 200.0], 0.2, 0.3, 5000),
])
def test_finalize_stays_bounded_on_absurd_scenarios(arena, radius, tol, n):
    out = subprocess.run([sys.executable, "-c", _CAPPED, json.dumps([arena, radius, tol, n])],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout)
    assert res["s"] < 10.0, res
    rec = res["rec"]
    assert rec["success"] is True
    # each metric is a number or null with its reason, never an exception
    if rec["shortest_path_m"] is None:
        assert "shortest_path_m" in res["errors"], res
    else:
        assert 0.0 <= rec["shortest_path_m"] < 1e6


def test_grid_is_capped_whatever_the_arena():
    for arena in ((10.0, 10.0), (200.0, 200.0), (1e6, 3.0), (1e308, 1e308)):
        res = metrics.grid_resolution_m(arena, 0.1)
        grid, _ = metrics.occupancy_grid(_scenario(arena), res)
        assert grid.size <= metrics.MAX_GRID_CELLS
    assert metrics.grid_resolution_m((10.0, 10.0), 0.1) == 0.1      # small arenas keep 0.1 m
    with pytest.raises(ValueError, match="grid cells"):
        metrics.occupancy_grid(_scenario((1e6, 1e6)), 0.1)
    for bad in ((float("nan"), 10.0), (float("inf"), 10.0), (-1.0, 10.0)):
        with pytest.raises(ValueError, match="finite"):
            metrics.grid_resolution_m(bad)


def test_a_failing_metric_is_null_with_its_reason_and_the_json_is_still_written(tmp_path):
    sc = _scenario((float("nan"), 10.0))
    rec = finalize({"trajectory": [(0.0, 0.0, 0.0, 0.0), (4.0, 2.9, 0.0, 0.0)], "time_s": 4.0,
                    "min_clearance_m": float("inf")}, sc)
    assert rec["success"] is True and rec["path_length_m"] == pytest.approx(2.9)
    assert rec["shortest_path_m"] is None and rec["spl"] is None
    assert "finite" in rec["metric_errors"]["shortest_path_m"]
    assert "shortest_path_m" in rec["metric_errors"]["spl"]
    path = tmp_path / "out" / "ep.json"
    write_episode_json(path, rec)
    back = json.loads(path.read_text())                  # strict JSON: no NaN / Infinity
    assert back["min_clearance_m"] is None and back["metric_errors"] == rec["metric_errors"]
    assert [p.name for p in path.parent.iterdir()] == ["ep.json"]   # no temporary left


def test_episode_json_write_is_atomic(tmp_path, monkeypatch):
    import os

    path = tmp_path / "ep.json"
    write_episode_json(path, {"success": True})
    real_replace = os.replace

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        write_episode_json(path, {"success": False, "trajectory": [[0.0, 1.0, 2.0, 3.0]] * 1000})
    monkeypatch.setattr(os, "replace", real_replace)
    assert json.loads(path.read_text()) == {"success": True}        # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["ep.json"]
    assert json.loads(episode_json({"v": float("nan"), "t": (1.0, float("-inf"))})) == \
        {"v": None, "t": [1.0, None]}
