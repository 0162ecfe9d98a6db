"""The BARN score (core.metrics.barn_score) by hand, and in the episode record, summary and table."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from world_model_planner.app.episode import finalize
from world_model_planner.app.import_world_cli import import_world
from world_model_planner.app.report import markdown_table
from world_model_planner.core import metrics
from world_model_planner.sim.robots import ROBOTS
from world_model_planner.sim.scenario import load_scenario

BARN = Path(__file__).resolve().parents[1] / "data" / "barn"
ROBOT = "jackal" if "jackal" in ROBOTS else "husky"


@pytest.mark.parametrize("success, t, ref, expected", [
    (True, 4.0, 10.0, 0.5),        # t_opt = 5 s; t below 2 t_opt counts as 10 s: 5 / 10
    (True, 10.0, 10.0, 0.5),
    (True, 20.0, 10.0, 0.25),      # 5 / 20
    (True, 50.0, 10.0, 0.125),     # above 8 t_opt = 40 s counts as 40 s: 5 / 40
    (False, 12.0, 10.0, 0.0),
    (True, 30.0, 12.0, 0.2),       # t_opt = 6 s: 6 / 30
])
def test_barn_score_by_hand(success, t, ref, expected):
    assert metrics.barn_score(success, t, ref) == pytest.approx(expected)


def test_barn_score_refuses_nonsense():
    for ref in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="reference length"):
            metrics.barn_score(True, 5.0, ref)
    with pytest.raises(ValueError, match="time"):
        metrics.barn_score(True, math.nan, 10.0)
    assert metrics.barn_score(False, None, 10.0) == 0.0


def _scenario(tmp_path, n=1, barn_path=True):
    world = BARN / f"world_{n}.world.gz"
    if barn_path:
        out, _ = import_world(world, tmp_path / f"w{n}.yaml", robot=ROBOT, barn=True)
    else:   # the world alone, away from its path file: no reference path
        alone = tmp_path / f"world_{n}.world.gz"
        alone.write_bytes(world.read_bytes())
        out, _ = import_world(alone, tmp_path / f"w{n}.yaml", robot=ROBOT, barn=True)
    return load_scenario(out)


def _record(sc, t_end: float, end_xy, collisions=0) -> dict:
    """A straight drive from the start to ``end_xy`` in ``t_end`` s."""
    n = 20
    traj = [[t_end * k / n, sc.start.x + (end_xy[0] - sc.start.x) * k / n,
             sc.start.y + (end_xy[1] - sc.start.y) * k / n, sc.start.yaw] for k in range(n + 1)]
    return {"scenario": sc.name, "planner": "classic", "seed": 0, "time_s": t_end,
            "collisions": collisions, "trajectory": traj, "end_reason": "reached"}


def test_episode_record_has_the_barn_score(tmp_path):
    sc = _scenario(tmp_path)
    ref = sc.barn.reference_length_m                         # 12.43 m: t_opt 6.22 s
    ok = finalize(_record(sc, 20.0, (sc.goal.x, sc.goal.y - 0.5)), sc)
    assert ok["success"] and ok["barn_reference_m"] == pytest.approx(ref, abs=1e-3)
    assert ok["barn_reference"] == "path file path_1.npy"
    assert ok["barn_score"] == pytest.approx((ref / 2.0) / 20.0, abs=1e-4)
    # BARN rules: reaching the goal after a collision is a failure
    hit = finalize(_record(sc, 20.0, (sc.goal.x, sc.goal.y - 0.5), collisions=1), sc)
    assert not hit["success"] and hit["barn_score"] == 0.0 and hit["spl"] == 0.0
    short = finalize(_record(sc, 20.0, (sc.goal.x, sc.goal.y - 3.0)), sc)
    assert not short["success"] and short["barn_score"] == 0.0
    table = markdown_table([ok, hit])
    assert "| BARN score |" in table.splitlines()[0]
    assert f"| {(ref / 40.0) / 2:.3f} |" in table      # mean of the two episodes
    assert "shortest path on the true map" not in table
    assert metrics.summarize([ok, hit])["barn_score"] == pytest.approx(ok["barn_score"] / 2, abs=1e-4)


def test_without_a_path_file_the_reference_is_the_shortest_path(tmp_path):
    sc = _scenario(tmp_path, 299, barn_path=False)
    assert sc.barn is not None and sc.barn.reference_length_m is None
    rec = finalize(_record(sc, 15.0, (sc.goal.x, sc.goal.y)), sc)
    assert rec["barn_reference"].startswith("shortest path on the true map")
    # at least the straight line, at most the path file's polyline plus a little (grid, inflation)
    assert 10.0 <= rec["barn_reference_m"] <= 13.0
    assert rec["barn_score"] == pytest.approx(rec["barn_reference_m"] / 2.0 / 15.0, abs=1e-3)
    table = markdown_table([rec])
    assert "No reference path for barn_world_299" in table


def test_tables_without_barn_episodes_have_no_barn_column():
    rec = {"scenario": "open", "planner": "classic", "seed": 0, "success": True, "spl": 0.9,
           "time_s": 5.0, "path_length_m": 4.0, "collisions": 0}
    assert "BARN" not in markdown_table([rec])
