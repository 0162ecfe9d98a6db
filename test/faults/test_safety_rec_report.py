"""Recording metadata is data (issue 10, item 8): a scenario "name" that is a path is never
opened or echoed, and text from recordings is drawn by matplotlib literally (no mathtext)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from world_model_planner.teleop.report import read_report_data
from world_model_planner.testing.recordings import record

WMP = Path(sys.executable).parent / "wmp"


def _wmp(*args):
    return subprocess.run([str(WMP), *map(str, args)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, MPLBACKEND="Agg"))


@pytest.mark.parametrize("kind", ["absolute", "relative", "traversal"])
def test_metadata_scenario_path_is_never_opened_or_echoed(tmp_path, kind):
    secret = tmp_path / "secret.yaml"
    secret.write_text("name: open\nTOKEN: s3cr3t-value-7781\n")
    name = {"absolute": str(secret), "relative": "secret.yaml",
            "traversal": "../" * 8 + str(secret).lstrip("/")}[kind]
    rec = record(tmp_path / "meta.mcap", n=120, scenario=name)
    out = tmp_path / "r.html"
    r = subprocess.run([str(WMP), "compare", str(rec), "--out", str(out), "--no-model"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, MPLBACKEND="Agg"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "s3cr3t" not in r.stdout + r.stderr and "s3cr3t" not in out.read_text()
    assert "not a built-in scenario name" in r.stderr
    data = read_report_data(str(out))
    assert data["scenario"] is None                         # evaluated against the recorded goal
    assert data["sessions"][0]["metrics"]["success"] is not None


def test_metadata_scenario_that_is_a_builtin_name_is_used(tmp_path):
    rec = record(tmp_path / "open.mcap", n=120, scenario="open")
    r = _wmp("compare", rec, "--out", tmp_path / "r.html", "--no-model")
    assert r.returncode == 0, r.stderr
    assert read_report_data(str(tmp_path / "r.html"))["scenario"] == "open"


@pytest.mark.parametrize("operator", ["ann $\\frac{$ x_^", "$", "a\\$b$c_d^e", "$$", "\\", "_^$x"])
def test_operator_names_with_mathtext_characters_are_drawn_literally(tmp_path, operator):
    rec = record(tmp_path / "op.mcap", n=120, operator=operator)
    out = tmp_path / "r.html"
    r = _wmp("compare", rec, "--out", out, "--no-model")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert read_report_data(str(out))["sessions"][0]["operator"] == operator


def test_bench_report_titles_with_mathtext_characters(tmp_path):
    from world_model_planner.app.report import write_results

    ep = {"scenario": "open", "planner": "hier$\\frac{$_^", "seed": 0, "success": True, "time_s": 1.0,
          "path_length_m": 1.0, "spl": 1.0, "collisions": 0, "min_clearance_m": 1.0,
          "plan_hz_median": 10.0, "trajectory": [[0.0, -3.5, 0.0], [1.0, -3.0, 0.0]]}
    paths = write_results([ep], tmp_path, "t", "wmp bench")
    assert [p.name for p in paths["pngs"]] == ["open.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no stray temporaries


def test_compare_out_is_a_directory_or_under_a_file(tmp_path):
    rec = record(tmp_path / "x.mcap", n=60)
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    for out in (tmp_path / "d", tmp_path / "f" / "r.html"):
        r = _wmp("compare", rec, "--out", out, "--no-model")
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "--out" in r.stderr


def test_compare_bad_scenario_option_is_one_line(tmp_path):
    rec = record(tmp_path / "x.mcap", n=60)
    for bad in ("no_such_scenario", str(tmp_path / "missing.yaml")):
        r = _wmp("compare", rec, "--out", tmp_path / "r.html", "--no-model", "--scenario", bad)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
