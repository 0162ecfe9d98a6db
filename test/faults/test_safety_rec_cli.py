"""Item 11: every refusal of the command line is exit 2 and one line on stderr, never a
traceback; each case runs `wmp` as a real subprocess. And the sub-command loader names a missing
dependency instead of hiding it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

WMP = Path(sys.executable).parent / "wmp"


@pytest.fixture
def paths(tmp_path):
    (tmp_path / "afile").write_text("not a directory\n")
    (tmp_path / "adir").mkdir()
    return tmp_path


CASES = [  # (args, words the one line must contain)
    (["bench", "--out", "{afile}", "--scenarios", "open", "--seeds", "1", "--planners", "classic"],
     ["--out", "existing file"]),
    (["demo", "--out", "{afile}", "--scenarios", "open"], ["--out", "existing file"]),
    (["demo", "--out", "{afile}/sub", "--scenarios", "open"], ["--out", "not a directory"]),
    (["run", "--scenario", "open", "--planner", "classic", "--json", "{adir}"], ["--json", "directory"]),
    (["run", "--scenario", "open", "--planner", "classic", "--log-dir", "{afile}"], ["--log-dir"]),
    (["run", "--scenario", "open", "--planner", "classic", "--time-limit", "-5"], ["--time-limit"]),
    (["run", "--scenario", "{afile}"], ["afile"]),
    (["check-scenario", "{adir}/missing.yaml"], ["missing.yaml"]),
    (["check-scenario", "open", "--plot", "{adir}"], ["--plot"]),
    (["scenarios", "--plot", "{afile}/x.png"], ["--plot"]),
    (["sim", "--params-file", "{adir}/missing.yaml"], ["--params-file", "no such file"]),
    (["sim", "--scenario", "no_such_scenario"], ["no_such_scenario"]),
    (["record", "--out", "{adir}"], ["--out", "directory"]),
    (["record", "--out", "{afile}/x.mcap"], ["--out"]),
    (["record", "--out", "{adir}/x.mcap", "--flush-period", "0"], ["--flush-period"]),
    (["session", "--out", "{afile}", "--mode", "planner", "--planner", "classic"], ["--out", "existing file"]),
    (["session", "--out", "{adir}", "--scenario", "no_such_scenario", "--mode", "planner",
      "--planner", "classic"], ["no_such_scenario"]),
    (["session", "--out", "{adir}", "--time-limit", "0"], ["--time-limit"]),
    (["compare", "{afile}", "--out", "{adir}/r.html", "--no-model"], ["afile", "not an MCAP"]),
    (["compare", "{adir}/none.mcap", "--out", "{adir}/r.html"], ["no such recording"]),
]


@pytest.mark.parametrize("args, words", CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_refusal_is_exit_2_and_one_line(paths, args, words):
    argv = [a.format(afile=paths / "afile", adir=paths / "adir") for a in args]
    r = subprocess.run([str(WMP), *argv], capture_output=True, text=True, timeout=60, cwd=paths)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2, (argv, r.returncode, r.stderr[-1500:])
    assert "Traceback" not in r.stderr + r.stdout
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_loader_names_a_missing_dependency_and_raises_on_a_missing_area(tmp_path, capsys, monkeypatch):
    from world_model_planner.app.cli import COMMAND_MODULES, load_area

    (tmp_path / "wmp_area_with_missing_dep.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_area("wmp_area_with_missing_dep", "wmp") is None
    err = capsys.readouterr().err
    assert "no_such_dependency_xyz" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ModuleNotFoundError):      # a dead entry is a bug, never hidden
        load_area("world_model_planner.no_such_area", "wmp")
    for name in COMMAND_MODULES:                   # every module the CLI names imports
        assert load_area(name, "wmp") is not None, name


def test_launch_arguments_refuse_a_missing_params_file(tmp_path):
    from world_model_planner.app.launch_args import robot_specs, sim_specs

    for make in (sim_specs, robot_specs):
        with pytest.raises(ValueError, match="params_file.*no such file"):
            make({"params_file": str(tmp_path / "missing.yaml")})
