"""One real episode on an imported BARN world: PyBullet and the classic planner in one process,
under the BARN rules (a collision ends it as a failure), scored by app.episode.finalize."""
from __future__ import annotations

from pathlib import Path

import pytest

from world_model_planner.sim.robots import ROBOTS

BARN = Path(__file__).resolve().parents[1] / "data" / "barn"
ROBOT = "jackal" if "jackal" in ROBOTS else "husky"


def _robot_config(**mppi):
    """PlannerConfig with the robot file's limits, footprint and planner settings, 256 samples."""
    from world_model_planner.planner_node.robot_tuning import robot_planner_config

    cfg = robot_planner_config(ROBOT, samples=256, horizon=20)
    for name, value in mppi.items():
        setattr(cfg.mppi, name, value)
    return cfg


@pytest.mark.slow
def test_classic_planner_drives_barn_world_1(tmp_path):
    import torch

    from world_model_planner.app.episode import finalize
    from world_model_planner.app.import_world_cli import import_world
    from world_model_planner.core.sensor_check import ScanGeometry
    from world_model_planner.planner_node.navigator import make_navigator
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.sim.world import SimWorld

    torch.set_num_threads(1)
    out, _ = import_world(BARN / "world_1.world.gz", tmp_path / "w1.yaml", robot=ROBOT, barn=True)
    sc = load_scenario(out)
    nav = make_navigator("classic", None, _robot_config(), "cpu")
    with SimWorld(sc, seed=0) as w:
        lc = w.lidar_cfg                                             # the robot's own lidar
        geom = ScanGeometry(lc.angle_min, lc.angle_increment, lc.range_min_m, lc.range_max_m, lc.beams)
        nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.8 * sc.goal.tolerance)
        t, traj = 0.0, [[0.0, *map(float, w.pose())]]
        while t < 40.0 and not w.goal_reached() and w.collision_count == 0:
            cmd = nav.step(w.pose(), w.velocity(), w.scan(), t, geom=geom)
            w.step(cmd.v, cmd.w, 0.1)
            t += 0.1
            traj.append([t, *map(float, w.pose())])
        rec = finalize({"scenario": sc.name, "planner": "classic", "seed": 0, "time_s": t,
                        "collisions": w.collision_count, "trajectory": traj}, sc)
    assert rec["collisions"] == 0 and rec["success"], (t, traj[-1])
    t_opt = sc.barn.reference_length_m / 2.0
    assert rec["barn_score"] == pytest.approx(t_opt / min(max(t, 2 * t_opt), 8 * t_opt), abs=1e-3)
    assert rec["barn_score"] > 0.2


@pytest.mark.skipif(ROBOT != "jackal", reason="the case is the Jackal's (its footprint and 270 deg lidar)")
def test_a_robot_backing_up_at_speed_turns_and_drives_forward(tmp_path):
    """BARN world 236, in its open north corridor, the robot facing away from the goal and backing
    towards it at 0.9 m/s (where a run through the node processes found itself after a hesitation).
    Every sample lay around the reversing plan, none gained ground forward, so prefer_forward's
    dead-end rule took the corridor for a dead end and the robot backed 6 m to the goal. The
    forward probes (mppi.forward_probes) see the free way ahead: it brakes, turns and drives
    forward. Without them (forward_probes=0) the same start reverses the whole way."""
    import dataclasses
    import math

    import torch

    from world_model_planner.app.import_world_cli import import_world
    from world_model_planner.core import metrics
    from world_model_planner.core.sensor_check import ScanGeometry
    from world_model_planner.planner_node.navigator import make_navigator
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.sim.world import SimWorld

    torch.set_num_threads(1)
    out, _ = import_world(BARN / "world_236.world.gz", tmp_path / "w236.yaml", robot=ROBOT, barn=True)
    sc = load_scenario(out)
    sc = dataclasses.replace(sc, start=dataclasses.replace(sc.start, x=1.13, y=-0.88, yaw=math.radians(-74.0)))

    def drive(**mppi):
        torch.manual_seed(0)
        nav = make_navigator("classic", None, _robot_config(**mppi), "cpu")
        with SimWorld(sc, seed=0) as w:
            lc = w.lidar_cfg                                 # 270 deg: nothing seen behind
            geom = ScanGeometry(lc.angle_min, lc.angle_increment, lc.range_min_m, lc.range_max_m, lc.beams)
            nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.8 * sc.goal.tolerance)
            t, traj = 0.0, []
            while t < 15.0 and not w.goal_reached() and w.collision_count == 0:
                cmd = nav.step(w.pose(), w.velocity(), w.scan(), t, geom=geom)
                v, om = cmd.v, cmd.w
                if t < 0.5:                                  # backing up at speed, the plan too
                    back = torch.zeros_like(nav.mppi.mean)
                    back[:, 0] = -0.9
                    nav.mppi.mean = back
                    v, om = -0.9, 0.0
                w.step(v, om, 0.1)
                t += 0.1
                if t > 0.5:
                    traj.append([t, *map(float, w.true_pose())])
            return w.goal_reached(), w.collision_count, t, metrics.reverse_distance_m(traj), traj

    reached, collisions, t, reverse_m, traj = drive()
    assert reached and collisions == 0, (t, traj[-1])
    assert reverse_m < 1.5, reverse_m                       # braking from 0.9 m/s, then turning
    assert metrics.reverse_distance_m(traj[-20:]) < 0.05    # the last 2 s forward
    reached, _, _, reverse_m, _ = drive(forward_probes=0)
    assert reached and reverse_m > 3.0, reverse_m           # the case still shows the failure


@pytest.mark.slow
@pytest.mark.skipif(ROBOT != "jackal", reason="the case is the Jackal's (its footprint and padding)")
def test_a_gap_too_narrow_for_the_footprint_is_replanned_at_the_first_stall(tmp_path):
    """BARN world 245: the global path (0.1 m grid, inflation 0.28 m) runs through a 0.6 m gap
    between two clusters of cylinders that the 0.43 m Jackal with its 0.05 m footprint padding
    does not pass on the real geometry. The robot stops at the gap; clear, backup and rotate
    cannot widen it, so at the first stall the route check (pure pursuit of the path meets an
    obstacle) goes straight to replan, which finds the way round, after blocked_stall_s standing
    there rather than stall_time_s. Without the check the same stall comes stall_time_s after
    the robot stopped and starts the usual sequence with clear."""
    import torch

    from world_model_planner.app.import_world_cli import import_world
    from world_model_planner.core.sensor_check import ScanGeometry
    from world_model_planner.planner_node.navigator import make_navigator
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.sim.world import SimWorld

    torch.set_num_threads(1)
    out, _ = import_world(BARN / "world_245.world.gz", tmp_path / "w245.yaml", robot=ROBOT, barn=True)
    sc = load_scenario(out)

    def drive(limit_s, until_recovery=False, **recovery):
        cfg = _robot_config()
        for name, value in recovery.items():
            setattr(cfg.recovery, name, value)
        nav = make_navigator("classic", None, cfg, "cpu")
        with SimWorld(sc, seed=0) as w:
            lc = w.lidar_cfg
            geom = ScanGeometry(lc.angle_min, lc.angle_increment, lc.range_min_m, lc.range_max_m, lc.beams)
            nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.8 * sc.goal.tolerance)
            t = 0.0
            while t < limit_s and not w.goal_reached() and w.collision_count == 0:
                cmd = nav.step(w.pose(), w.velocity(), w.scan(), t, geom=geom)
                if until_recovery and nav.recovery.log:
                    break
                w.step(cmd.v, cmd.w, 0.1)
                t += 0.1
            return w.goal_reached(), w.collision_count, t, [e.as_dict() for e in nav.recovery.log]

    reached, collisions, t, log = drive(35.0)
    assert reached and collisions == 0, (t, log)
    assert [(e["kind"], e["outcome"]) for e in log[:4]] == [
        ("clear", "skipped"), ("backup", "skipped"), ("rotate", "skipped"), ("replan", "resolved")], log
    assert len({e["t"] for e in log[:4]}) == 1                # all at the one stall
    _, _, _, log_old = drive(t, until_recovery=True, replan_when_blocked=False)
    # without the check the robot stands there until stall_time_s, and the same stall starts
    # the usual sequence; with it, blocked_stall_s in front of the closed gap was enough
    rc = _robot_config().recovery
    assert [(e["kind"], e["outcome"]) for e in log_old] == [("clear", "pending")], log_old
    assert log_old[0]["t"] - log[0]["t"] == pytest.approx(rc.stall_time_s - rc.blocked_stall_s, abs=0.25), log_old


@pytest.mark.slow
def test_barn_episodes_script_with_the_stacks_timing(capsys):
    """scripts/barn_episodes.py end to end at the stack's timing (20 Hz control, a scan every
    second tick planned at the pose it was taken at): the classic planner reaches world 1's goal."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "barn_episodes.py"
    spec = importlib.util.spec_from_file_location("barn_episodes", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--barn", str(BARN), "--worlds", "1", "--robot", ROBOT, "--planners", "classic",
                     "--samples", "256", "--period", "0.05", "--scan-hz", "10"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| barn_world_1 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == "True" and cells[4] == "reached", row
    assert 0.0 < float(cells[8]) <= 0.5 and "success 100%" in out
    assert 0.0 < float(cells[10]) < 1000.0 and "median planner tick" in out      # the tick's wall ms
    with pytest.raises(SystemExit):
        mod.main(["--barn", str(BARN), "--worlds", "1", "--scan-hz", "0"])


def test_in_process_scripts_set_planner_parameters_by_their_node_names(monkeypatch, capsys):
    """--set "[section.]name=value" in scripts/barn_episodes.py and scripts/inprocess_episodes.py:
    a top-level node parameter is PlannerConfig.nav's, a value takes the field's type, and an
    unknown name stops the script naming it before any episode runs."""
    import importlib

    from world_model_planner.planner_node.navigator import PlannerConfig

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "scripts"))
    barn, inproc = importlib.import_module("barn_episodes"), importlib.import_module("inprocess_episodes")
    cfg = barn.apply_overrides(PlannerConfig(), ["model_scene=false", "mppi.samples=300", "mppi.temperature=0.5"])
    assert cfg.nav.model_scene is False and cfg.mppi.samples == 300 and cfg.mppi.temperature == 0.5
    assert barn.apply_overrides(PlannerConfig(), ["model_scene=1"]).nav.model_scene is True
    with pytest.raises(SystemExit, match="no planner parameter 'mppi.nonsense'"):
        inproc.main(["--scenarios", "open", "--planners", "classic", "--set", "mppi.nonsense=3"])
    with pytest.raises(SystemExit, match="mppi.samples=0"):                        # out of its range
        barn.apply_overrides(PlannerConfig(), ["mppi.samples=0"])
    with pytest.raises(SystemExit, match="mppi.samples=many"):                     # not its type
        barn.apply_overrides(PlannerConfig(), ["mppi.samples=many"])


def test_in_process_episodes_start_at_the_first_seed_asked(monkeypatch, capsys):
    """scripts/inprocess_episodes.py --first-seed N --seeds K runs seeds N..N+K-1 (more seeds of a
    scenario without repeating the ones already run), and refuses a negative first seed."""
    import importlib

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "scripts"))
    inproc = importlib.import_module("inprocess_episodes")
    with pytest.raises(SystemExit):
        inproc.main(["--scenarios", "open", "--planners", "classic", "--first-seed", "-1"])
    assert "--first-seed -1" in capsys.readouterr().err
    assert inproc.main(["--scenarios", "open", "--planners", "classic", "--first-seed", "3", "--seeds", "1"]) == 0
    rows = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith("| open |")]
    assert [r[2].strip() for r in rows] == ["3"]


def test_in_process_episodes_plan_as_the_scenario_s_robot(monkeypatch):
    """scripts/inprocess_episodes.py builds each navigator for the robot it drives: the robot
    file's limits and footprint, and that robot's model and fit (make_navigator's robot)."""
    import importlib

    from world_model_planner.planner_node import navigator

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "scripts"))
    inproc = importlib.import_module("inprocess_episodes")
    seen = []

    class Built(Exception):
        pass

    def capture(kind, model, cfg, device, **kw):
        seen.append((kind, cfg, kw.get("robot")))
        raise Built

    monkeypatch.setattr(navigator, "make_navigator", capture)
    for robot, v_max, exact in (("turtlebot4", 0.31, False), ("jackal", 2.0, True), (None, 1.0, False)):
        with pytest.raises(Built):
            inproc.main(["--scenarios", "open", "--planners", "classic_id", "--seeds", "1"]
                        + (["--robot", robot] if robot else []))
        kind, cfg, used = seen[-1]
        assert kind == "classic_id" and used == (robot or "husky")
        assert cfg.mppi.v_max_mps == pytest.approx(v_max) and cfg.critics.footprint_exact is exact
