"""Random navigation tasks (world_model_node.collect.random_task), the held-out layouts that
scripts/inprocess_episodes.py --random runs: reachable, within the distance asked, the same for
a seed, with the dynamics draws when asked."""
from __future__ import annotations

import math

import pytest

from world_model_planner.sim.scenario import Box, Goal, Pose2D, Scenario
from world_model_planner.world_model_node.collect import reachable, random_task


def _split(door_m: float | None) -> Scenario:
    """A 6 x 6 m arena cut by a wall along x = 0, with a door of ``door_m`` centred at y = 0."""
    if door_m is None:
        walls = (Box(center=(0.0, 0.0), size=(0.2, 6.0)),)
    else:
        piece = (6.0 - door_m) / 2
        walls = (Box(center=(0.0, -3.0 + piece / 2), size=(0.2, piece)),
                 Box(center=(0.0, 3.0 - piece / 2), size=(0.2, piece)))
    return Scenario(name="split", robot="husky", arena=(6.0, 6.0), obstacles=walls,
                    start=Pose2D(-2.0, 0.0, 0.0), goal=Goal(2.0, 0.0, 0.3), time_limit_s=60.0)


@pytest.mark.parametrize("door_m, want", [(None, False), (0.5, False), (1.2, True)])
def test_reachable_needs_a_gap_the_disc_fits_through(door_m, want):
    sc = _split(door_m)
    assert reachable(sc, sc.start, sc.goal) is want
    assert reachable(sc, Pose2D(-2.0, -2.0, 0.0), sc.start)          # same side: always


@pytest.mark.parametrize("layout", ["random", "random_rooms"])
def test_random_tasks_are_reachable_within_the_distance_and_repeatable(layout):
    for seed in range(700000, 700012):
        sc = random_task(seed, layout)
        assert sc == random_task(seed, layout)
        assert sc.name == f"{layout}:{seed}"
        d = math.hypot(sc.goal.x - sc.start.x, sc.goal.y - sc.start.y)
        assert 3.0 <= d <= 8.0, (seed, d)
        assert sc.footprint_clearance_m(sc.start.x, sc.start.y, sc.start.yaw) >= 0.4
        assert sc.point_free(sc.goal.x, sc.goal.y)
        assert reachable(sc, sc.start, sc.goal)
        assert sc.goal.tolerance == 0.3 and sc.time_limit_s == 60.0
        assert not sc.terrain and not sc.movers and sc.payload_kg == 0.0 and sc.latency_s == 0.0


def test_random_tasks_with_dynamics_keep_the_layout_and_add_the_draws():
    drawn = [random_task(seed, "random", dynamics=True) for seed in range(700000, 700010)]
    for seed, sc in zip(range(700000, 700010), drawn):
        static = random_task(seed, "random")
        assert sc.name == f"random+dyn:{seed}"
        assert (sc.arena, sc.obstacles, sc.start, sc.goal) == (static.arena, static.obstacles, static.start,
                                                               static.goal)
        assert sc.terrain                                  # draw_dynamics always lays 2-5 patches
        for m in sc.movers:                                # movers start at least 2 m from the start
            start_xy = m.waypoints[0] if m.waypoints else m.area[0]
            assert math.hypot(start_xy[0] - sc.start.x, start_xy[1] - sc.start.y) >= 2.0
    assert any(sc.movers for sc in drawn) and any(sc.payload_kg > 0 for sc in drawn)
    assert any(sc.latency_s > 0 for sc in drawn)


def test_random_task_refuses_an_unknown_layout():
    with pytest.raises(ValueError, match="random layout 'maze'"):
        random_task(1, "maze")


def test_generated_names_load_as_scenarios_everywhere_a_name_is_taken():
    """load_scenario (the sim node, wmp run/bench, the scripts) takes a generated task's name:
    the same task random_task draws, its name as its source (what wmp sim hands the node), the
    time limit grown for a slower robot as for a scenario file, clear errors otherwise."""
    from world_model_planner.sim.scenario import ScenarioError, load_scenario

    sc = load_scenario("random_rooms+dyn:700003")
    assert sc.source == sc.name == "random_rooms+dyn:700003"
    assert (sc.obstacles, sc.start, sc.goal, sc.terrain, sc.movers) == \
        (lambda r: (r.obstacles, r.start, r.goal, r.terrain, r.movers))(random_task(700003, "random_rooms", True))
    tb = load_scenario("random:700003", robot="turtlebot4")
    assert tb.robot == "turtlebot4" and tb.time_limit_s == pytest.approx(60.0 * 1.0 / 0.31, abs=0.1)
    assert load_scenario("random:700003", robot="jackal").time_limit_s == 60.0
    with pytest.raises(ScenarioError, match="'robot': one of husky, jackal, turtlebot4"):
        load_scenario("random:1", robot="nope")
    for bad in ("random:", "random:-1", "random:1234567890", "random+dyn+dyn:1", "maze:1"):
        with pytest.raises(ScenarioError):
            load_scenario(bad)


def test_generated_names_make_plain_file_names(tmp_path):
    """Logs, episode records and plots are named by file_stem: a generated task's ':' and '+'
    (which a Markdown viewer would read as a link's scheme) become '_', built-in names stay."""
    from world_model_planner.app.report import write_results
    from world_model_planner.app.sweep import episode_key
    from world_model_planner.core.paths import file_stem

    assert file_stem("random_rooms+dyn:700003") == "random_rooms_dyn_700003"
    assert file_stem("u_trap") == "u_trap" and file_stem("maps/my-map.v2.yaml") == "my-map.v2"
    assert episode_key("random+dyn:7", "classic", 0) == "random_dyn_7-classic-0"
    sc = random_task(700001, "random", True)
    traj = [[0.1 * i, sc.start.x + 0.1 * i, sc.start.y, sc.start.yaw] for i in range(10)]
    ep = {"scenario": "random+dyn:700001", "planner": "classic", "seed": 0, "success": False,
          "time_s": 1.0, "path_length_m": 0.9, "collisions": 0, "trajectory": traj, "end_reason": "time limit"}
    paths = write_results([ep], tmp_path, "Benchmark", "wmp bench")
    assert [p.name for p in paths["pngs"]] == ["random_dyn_700001.png"]
    assert (tmp_path / "random_dyn_700001.png").read_bytes()[:4] == b"\x89PNG"
    assert "![random+dyn:700001](random_dyn_700001.png)" in paths["markdown"].read_text()
