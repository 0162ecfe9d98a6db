"""Scenario files: the built-ins load; bad files are refused naming file, field and expectation;
`wmp check-scenario` and `wmp scenarios` exit codes."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from world_model_planner.testing.scenarios import DELETE as _DELETE, GOOD, with_changes as _with
from world_model_planner.sim.scenario import BUILTIN, Box, Cylinder, ScenarioError, builtin_scenarios, load_scenario

def _write(tmp_path: Path, data, name="s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path




def test_builtins_load_and_are_the_contracted_set():
    assert builtin_scenarios()[:5] == list(BUILTIN) == ["open", "wall", "u_trap", "two_rooms", "maze"]
    for name in BUILTIN:
        sc = load_scenario(name)
        assert sc.name == name and sc.robot == "husky"
        assert sc.source.endswith(f"{name}.yaml")
        assert sc.footprint_clearance_m(sc.start.x, sc.start.y, sc.start.yaw) >= 0.05
        # a competent driver at ~0.6 m/s needs at least the straight-line time
        straight = math.hypot(sc.goal.x - sc.start.x, sc.goal.y - sc.start.y)
        assert sc.time_limit_s > straight / 0.6


def test_script_scenarios_load_and_are_not_builtins():
    """scripts/scenarios/ holds scenarios the measurement scripts name by path (far_gap for
    scripts/prior_map_episodes.py); they load, and stay out of the built-in set."""
    files = sorted((Path(__file__).resolve().parents[2] / "scripts" / "scenarios").glob("*.yaml"))
    assert "far_gap.yaml" in [f.name for f in files]
    for f in files:
        sc = load_scenario(f)
        assert sc.name == f.stem and sc.name not in builtin_scenarios()
        assert sc.footprint_clearance_m(sc.start.x, sc.start.y, sc.start.yaw) >= 0.05


def test_good_file_round_trip(tmp_path):
    sc = load_scenario(_write(tmp_path, GOOD))
    assert sc.arena == (8.0, 6.0)
    assert sc.obstacles == (Box((1.0, 0.0), (0.2, 2.0), 0.3), Cylinder((-1.0, 2.0), 0.3))
    assert (sc.start.x, sc.start.yaw, sc.goal.tolerance, sc.time_limit_s) == (-2.5, 0.0, 0.3, 30.0)
    # optional fields take their documented defaults
    d = _with(time_limit=_DELETE, obstacles=_DELETE)
    d["goal"] = {"x": 2.0, "y": 1.0}
    sc = load_scenario(_write(tmp_path, d))
    assert sc.time_limit_s == 60.0 and sc.obstacles == () and sc.goal.tolerance == 0.3


@pytest.mark.parametrize("data, field, expected", [
    (_with(robot=_DELETE), "robot", "required"),
    (_with(arena="big"), "arena", "list of two numbers"),
    (_with(arena=[8.0, -1.0]), "arena[1]", "in [1, 200] m"),
    (_with(arena=[1.0e6, 8.0]), "arena[0]", "in [1, 200] m"),
    (_with(arena=[float("inf"), 8.0]), "arena[0]", "finite number"),
    (_with(goal={"x": 2.5, "y": 0.0, "tolerance": 1e300}), "goal.tolerance", "in [0.05, 1.5]"),
    (_with(goal={"x": 2.5, "y": 0.0, "tolerance": 0.01}), "goal.tolerance", "in [0.05, 1.5]"),
    (_with(time_limit=10 ** 300), "time_limit", "in [1, 3600]"),
    (_with(time_limit=10 ** 400), "time_limit", "in [1, 3600]"),
    (_with(time_limit=float("nan")), "time_limit", "finite number"),
    (_with(name="a" * 65), "name", "at most 64 characters"),
    (_with(description="x" * 501), "description", "at most 500 characters"),
    (_with(robot=["husky"]), "robot", "one of ['husky', 'jackal', 'turtlebot4']"),
    (_with(start={"x": -2.5, "y": 0.0, "yaw": 100.0}), "start.yaw", "in [-6.283, 6.283] rad"),
    (_with(start={"x": 50.0, "y": 0.0}), "start.x", "inside the arena"),
    (_with(obstacles=[{"box": {"center": [9.0, 0.0], "size": [0.2, 0.2]}}]), "obstacles[0].box.center[0]",
     "inside the arena"),
    (_with(obstacles=[{"box": {"center": [0.0, 0.0], "size": [0.2, 1e9]}}]), "obstacles[0].box.size[1]",
     "at most the arena diagonal"),
    (_with(obstacles=[{"cylinder": {"center": [0, 0], "radius": 0.001}}]), "obstacles[0].cylinder.radius",
     "in [0.01, 5]"),
    (_with(obstacles=[{"cylinder": {"center": [0.0, 2.5], "radius": 0.2}}] * 5001), "obstacles",
     "at most 5000 obstacles, got 5001"),
    (_with(robot="turtlebot"), "robot", "one of ['husky', 'jackal', 'turtlebot4']"),
    (_with(name="Bad Name!"), "name", "[a-z0-9_]+"),
    (_with(time_limit="soon"), "time_limit", "finite number"),
    (_with(start={"x": 1.0, "y": 0.0}), "start", "footprint"),                 # inside the box
    (_with(start={"x": 0.26, "y": 0.0, "yaw": 0.0}), "start", "footprint"),   # 0.04 m from the box
    (_with(start={"x": -3.48, "y": 0.0}), "start", "footprint"),              # 0.025 m from the wall
    (_with(start={"x": -3.7, "y": 0.0}), "start", "footprint"),               # through the wall
    (_with(goal={"x": 4.5, "y": 0.0}), "goal", "inside the arena"),
    (_with(goal={"x": -1.0, "y": 2.1}), "goal", "outside every obstacle"),
    (_with(colour="red"), "colour", "no unknown keys"),
    (_with(start={"x": 0, "y": 0, "z": 1}), "start.z", "no unknown keys"),
    (_with(goal={"x": 2.0}), "goal.y", "required"),
    (_with(obstacles=[{"sphere": {"center": [0, 0]}}]), "obstacles[0]", "box"),
    (_with(obstacles=[{"box": {"center": [0, 0], "size": [1, 1], "height": 2}}]), "obstacles[0].box.height",
     "no unknown keys"),
    (_with(obstacles=[{"cylinder": {"center": [0, 0], "radius": True}}]), "obstacles[0].cylinder.radius",
     "finite number"),
    (_with(obstacles={"box": 1}), "obstacles", "a list"),
    ("- just\n- a list\n", "(top level)", "mapping"),
    ("name: [unclosed\n", "(file)", "valid YAML"),
    ("!!python/object/apply:os.system ['true']\n", "(file)", "valid YAML"),  # safe_load only
])
def test_bad_files_are_refused_with_file_field_and_expectation(tmp_path, data, field, expected):
    path = _write(tmp_path, data)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert err.file == str(path) and err.field == field, str(err)
    assert expected in err.expected, str(err)
    assert str(path) in str(err) and field in str(err)


def test_unknown_name_and_missing_file():
    with pytest.raises(ScenarioError, match="built-in scenario"):
        load_scenario("no_such_scenario")
    with pytest.raises(ScenarioError, match="existing scenario .yaml file"):
        load_scenario("/nonexistent/dir/x.yaml")


def _wmp(*args) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "wmp"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=60)


def test_check_scenario_cli_exit_codes(tmp_path):
    ok = _wmp("check-scenario", str(_write(tmp_path, GOOD)), "--plot", str(tmp_path / "s.png"))
    assert ok.returncode == 0, ok.stderr
    assert "valid: t_ok" in ok.stdout and (tmp_path / "s.png").stat().st_size > 1000
    bad = _wmp("check-scenario", str(_write(tmp_path, _with(robot="turtlebot"), "bad.yaml")))
    assert bad.returncode != 0
    assert "bad.yaml" in bad.stderr and "robot" in bad.stderr and "husky" in bad.stderr
    listing = _wmp("scenarios")
    assert listing.returncode == 0
    assert [line.split(":")[0] for line in listing.stdout.splitlines()][:5] == list(BUILTIN)
