"""The robots the sim knows (Husky, Jackal, TurtleBot 4) in real PyBullet: straight lines and
arcs against their specified speeds and turn rates, bodies that match the footprints the
planner is told about, robot files that agree with the sim, and scenarios that pick a robot."""
from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest

from world_model_planner.core.robot_config import load_robot
from world_model_planner.sim.robots import ROBOTS
from world_model_planner.sim.scenario import ScenarioError, load_scenario, parse_scenario
from world_model_planner.sim.world import SimWorld

DT = 0.05
#: Steady-state speed and yaw rate within this fraction of the command (straight lines, arcs).
SPEED_TOL = 0.05
TURN_TOL = 0.10


@pytest.fixture(scope="module", params=sorted(ROBOTS))
def world(request):
    w = SimWorld(load_scenario("open", robot=request.param))
    yield w
    w.close()


def _drive(w: SimWorld, v: float, yaw_rate: float, seconds: float) -> np.ndarray:
    """Reset, drive (v, yaw_rate) for ``seconds``; (N, 2) measured (v, w) per control period."""
    w.reset(0)
    out = []
    for _ in range(int(round(seconds / DT))):
        w.step(v, yaw_rate, DT)
        out.append(w.velocity().copy())
    return np.array(out)


def test_straight_line_reaches_the_specified_top_speed_and_holds_the_heading(world):
    spec = world.spec
    v_max = spec.v_limits[1]
    vel = _drive(world, v_max, 0.0, 3.0)
    steady = vel[-20:]                                     # the last second
    assert abs(steady[:, 0].mean() - v_max) <= SPEED_TOL * v_max, (spec.name, steady[:, 0].mean())
    assert np.abs(steady[:, 1]).max() < 0.05
    x, y, yaw = world.pose()
    start = world.scenario.start
    assert abs(y - start.y) < 0.05 and abs(yaw) < 0.03, (spec.name, world.pose())
    # it accelerated through the controller's ramp, not at once
    assert vel[0, 0] < 0.5 * v_max
    # commands beyond the limits are clipped to them
    vel = _drive(world, 10.0 * v_max, 0.0, 3.0)
    assert abs(vel[-20:, 0].mean() - v_max) <= SPEED_TOL * v_max


@pytest.fixture(scope="module", params=["jackal", "turtlebot4"])
def new_world(request):
    """The robots added with their makers' specs (the Husky's arc: test_sim_world's turning test)."""
    w = SimWorld(load_scenario("open", robot=request.param))
    yield w
    w.close()


def test_arc_follows_the_commanded_speed_and_turn_rate(new_world):
    world = new_world
    spec = world.spec
    v, yaw_rate = 0.5 * spec.v_limits[1], 0.5 * spec.w_limit
    vel = _drive(world, v, yaw_rate, 3.0)
    steady = vel[-20:].mean(0)
    assert abs(steady[0] - v) <= TURN_TOL * v, (spec.name, steady)
    assert abs(steady[1] - yaw_rate) <= TURN_TOL * yaw_rate, (spec.name, steady)
    # the path is a circle of radius v / w: the heading turned by about w * t
    turned = world.pose()[2] - world.scenario.start.yaw
    expected = yaw_rate * 3.0 - 0.5 * yaw_rate ** 2 / spec.alpha_radps2   # less the ramp-up
    assert abs(math.remainder(turned - expected, 2 * math.pi)) < 0.2 * expected, (spec.name, turned, expected)


@pytest.mark.parametrize("name", ["jackal", "turtlebot4"])
def test_generated_body_covers_the_footprint(name):
    spec = ROBOTS[name]
    w = SimWorld(load_scenario("open", robot=name))
    try:
        lo, hi = p.getAABB(w.robot.body, w.robot.chassis, physicsClientId=w.client)
        x, y, _ = w.pose()
        assert hi[0] - lo[0] == pytest.approx(spec.length_m, abs=0.01)
        assert hi[1] - lo[1] == pytest.approx(spec.width_m, abs=0.01)
        assert (lo[0] + hi[0]) / 2 == pytest.approx(x, abs=0.01) and (lo[1] + hi[1]) / 2 == pytest.approx(y, abs=0.01)
        assert len(w.robot.wheels()) == len(spec.left_wheels) + len(spec.right_wheels)
        assert w.robot.total_mass_kg() == pytest.approx({"jackal": 17.0, "turtlebot4": 3.9}[name], rel=0.05)
    finally:
        w.close()


def test_round_footprint_polygon_surrounds_the_circle_closely():
    tb = ROBOTS["turtlebot4"]
    poly = tb.footprint_polygon(1.0, 2.0, 0.3)
    r = np.hypot(poly[:, 0] - 1.0, poly[:, 1] - 2.0)
    mid = (poly + np.roll(poly, 1, axis=0)) / 2
    r_mid = np.hypot(mid[:, 0] - 1.0, mid[:, 1] - 2.0)
    assert len(poly) >= 16 and r_mid.min() == pytest.approx(tb.radius_m, abs=1e-6) and r.max() < tb.radius_m * 1.01
    assert len(ROBOTS["jackal"].footprint_polygon(0, 0, 0)) == 4


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_robot_file_agrees_with_the_simulated_robot(name):
    spec, cfg = ROBOTS[name], load_robot(name)
    assert cfg.name == name
    assert (cfg.v_min_mps, cfg.v_max_mps) == pytest.approx(spec.v_limits)
    assert cfg.w_max_radps == pytest.approx(spec.w_limit)
    assert (cfg.accel_v_mps2, cfg.accel_w_radps2) == pytest.approx((spec.accel_mps2, spec.alpha_radps2))
    assert (cfg.length_m, cfg.width_m) == pytest.approx((spec.length_m, spec.width_m), abs=0.005)
    assert cfg.radius_m == pytest.approx(math.hypot(spec.length_m, spec.width_m) / 2 if not spec.round
                                         else spec.length_m / 2, abs=0.005)


def _doc(robot, start=(-3.5, 0.0, 0.0)):
    return {"name": "narrow", "robot": robot, "arena": [10.0, 10.0],
            "obstacles": [{"box": {"center": [-3.5, 0.55], "size": [1.0, 0.4]}},
                          {"box": {"center": [-3.5, -0.55], "size": [1.0, 0.4]}}],
            "start": {"x": start[0], "y": start[1], "yaw": start[2]}, "goal": {"x": 3.5, "y": 0.0},
            "time_limit": 20.0}


def test_scenario_robot_field_selects_the_robot_and_checks_its_footprint():
    # a 0.7 m gap: the TurtleBot and the Jackal fit at the start, the Husky (0.67 m wide) does not keep 0.05 m
    for robot in ("jackal", "turtlebot4"):
        assert parse_scenario(_doc(robot), "narrow.yaml").robot == robot
    with pytest.raises(ScenarioError, match=r"narrow.yaml: .*'start'.*husky footprint"):
        parse_scenario(_doc("husky"), "narrow.yaml")
    with pytest.raises(ScenarioError, match=r"narrow.yaml: .*'robot'.*husky.*jackal.*turtlebot4.*got 'pr2'"):
        parse_scenario(_doc("pr2"), "narrow.yaml")


def test_robot_override_replaces_the_robot_and_scales_the_time_limit():
    base = load_scenario("open")
    assert base.robot == "husky"
    tb = load_scenario("open", robot="turtlebot4")
    assert tb.robot == "turtlebot4" and tb.obstacles == base.obstacles and tb.start == base.start
    # written for a 1.0 m/s Husky: a 0.31 m/s TurtleBot gets 1.0 / 0.31 times the time
    assert tb.time_limit_s == pytest.approx(base.time_limit_s / 0.31, abs=0.1)
    assert load_scenario("open", robot="jackal").time_limit_s == base.time_limit_s   # faster: unchanged
    with pytest.raises(ScenarioError, match="'robot'.*got 'nope'"):
        load_scenario("open", robot="nope")


def test_collected_data_and_checkpoints_know_their_robot(tmp_path):
    from world_model_planner.world_model_node.checkpoint import (LEGACY_ROBOT, robot_mismatch, save_checkpoint,
                                                                 trained_robots)
    from world_model_planner.world_model_node.collect import CollectConfig, collect
    from world_model_planner.world_model_node.data import load_dataset
    from world_model_planner.testing.models import tiny_model

    cfg = CollectConfig(episodes=1, episode_s=1.0, seed=3, robot="turtlebot4")
    collect(["open"], tmp_path / "data", cfg, progress=False)
    data = load_dataset(tmp_path / "data")
    stats = data.stats()
    assert stats["robots"] == ["turtlebot4"]
    assert np.abs(data.cmd[:, 0]).max() <= ROBOTS["turtlebot4"].v_limits[1] + 1e-6   # its own limits
    ckpt = save_checkpoint(tmp_path / "tb.pt", tiny_model(), data_stats=stats)
    assert robot_mismatch(ckpt, "turtlebot4") is None
    why = robot_mismatch(ckpt, "jackal")
    assert why.startswith(str(ckpt)) and "turtlebot4 data, not jackal" in why and "ROBOT=jackal" in why
    # a checkpoint from before robots were recorded is a Husky one
    legacy = save_checkpoint(tmp_path / "old.pt", tiny_model(), data_stats={"rows": 10})
    assert trained_robots({"rows": 10}) == [LEGACY_ROBOT] == ["husky"]
    assert robot_mismatch(legacy, "husky") is None and robot_mismatch(legacy, "jackal")


def test_learned_planner_refuses_a_checkpoint_of_another_robot(tmp_path):
    from world_model_planner.planner_node.navigator import load_model
    from world_model_planner.world_model_node.checkpoint import save_checkpoint
    from world_model_planner.testing.models import tiny_model

    ckpt = save_checkpoint(tmp_path / "jackal.pt", tiny_model(), data_stats={"robots": ["jackal"]})
    model, desc = load_model("flat", str(ckpt), "cpu", missing_ok=False, robot="jackal")
    assert "world model" in desc
    with pytest.raises(ValueError, match="jackal data, not turtlebot4"):
        load_model("hierarchical", str(ckpt), "cpu", missing_ok=False, robot="turtlebot4")
    # the classic planners need no checkpoint and take any robot
    assert load_model("classic", None, "cpu", robot="turtlebot4")[1] == "unicycle kinematics"


def test_round_base_footprint_is_the_circle_not_a_square_around_it():
    import torch

    from world_model_planner.planner_node.critics.field import DistanceField, Footprint

    # one obstacle point 0.25 m from the centre, diagonally: the 0.342 m round base is 0.079 m
    # from it; five circles covering a 0.342 x 0.339 rectangle would already touch it
    pt = np.array([[0.25 * math.cos(0.8), 0.25 * math.sin(0.8)]])
    field = DistanceField(pt, (0.0, 0.0), size_m=2.0, res_m=0.01)
    pose = torch.zeros(1, 3)
    round_d = float(Footprint(0.342, 0.339, 5, round_base=True).distance(pose, field)[0])
    rect_d = float(Footprint(0.342, 0.339, 5).distance(pose, field)[0])
    assert round_d == pytest.approx(0.25 - 0.171, abs=0.015)
    assert rect_d < 0.02 < round_d
    cfg = load_robot("turtlebot4")
    assert cfg.round_base and not load_robot("jackal").round_base


def test_random_payloads_scale_with_the_robots_rated_payload():
    from world_model_planner.world_model_node.draws import draw_dynamics

    drawn = {}
    for robot in ("husky", "turtlebot4"):
        sc = load_scenario("open", robot=robot)
        drawn[robot] = [draw_dynamics(sc, np.random.default_rng(seed))[0].payload_kg for seed in range(40)]
    tb, husky = np.array(drawn["turtlebot4"]), np.array(drawn["husky"])
    assert tb.max() <= 150.0 * 9.0 / 75.0 + 1e-9 and husky.max() > 20.0
    # the same draws, scaled: seeded streams stay in step across robots
    assert np.allclose(tb, husky * 9.0 / 75.0)


def test_classic_id_takes_the_robots_own_fit():
    """classic_id's default velocity model is the robot's own shipped fit (models/<robot>_sysid.json),
    not the Husky's; a robot without one falls back to the Husky's."""
    from world_model_planner.planner_node.navigator import load_model
    from world_model_planner.planner_node.sysid import default_sysid_path, load

    for robot in ("husky", "jackal", "turtlebot4"):
        assert default_sysid_path(robot).name == f"{robot}_sysid.json" and default_sysid_path(robot).is_file()
        _, desc = load_model("classic_id", None, "cpu", robot=robot)
        assert f"{robot}_sysid.json" in desc, desc
    assert default_sysid_path(None).name == default_sysid_path("no_such_robot").name == "husky_sysid.json"
    # the fits differ where the bases do: the Jackal's skid-steer turns with a gain well below 1
    assert load(default_sysid_path("jackal")).w.gain < 0.9 < load(default_sysid_path("turtlebot4")).w.gain   # 0.86, 1.00


@pytest.mark.slow
@pytest.mark.parametrize("robot", ["jackal", "turtlebot4"])
def test_robot_reaches_every_built_in_goal(robot):
    """Each robot other than the Husky reaches the goal of every built-in scenario without contact:
    real PyBullet with the robot's body and lidar, the classic planner with the robot file's limits,
    footprint and planner settings, in one process (the node stack drives `open` in
    test/stack/test_robots_run.py). The time limit is the scenario's, scaled for the robot's speed."""
    import torch

    from world_model_planner.core.robot_config import load_robot, planner_params
    from world_model_planner.core.sensor_check import ScanGeometry
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import PlannerConfig, make_navigator
    from world_model_planner.sim.scenario import BUILTIN, load_scenario
    from world_model_planner.sim.world import SimWorld

    torch.set_num_threads(1)
    for name in BUILTIN:
        sc = load_scenario(name, robot=robot)
        cfg = PlannerConfig(mppi=MPPIConfig(samples=256, horizon=20))
        for key, value in planner_params(load_robot(robot)).items():
            section, _, field = key.partition(".")
            if field and hasattr(getattr(cfg, section, None), field):
                setattr(getattr(cfg, section), field, value)
        nav = make_navigator("classic", None, cfg, "cpu", robot=robot)
        with SimWorld(sc, seed=0) as w:
            assert w.spec.name == robot
            lc = w.lidar_cfg
            geom = ScanGeometry(lc.angle_min, lc.angle_increment, lc.range_min_m, lc.range_max_m, lc.beams)
            nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.8 * sc.goal.tolerance)
            t = 0.0
            while t < sc.time_limit_s and not w.goal_reached() and w.collision_count == 0:
                cmd = nav.step(w.pose(), w.velocity(), w.scan(), t, geom=geom)
                w.step(cmd.v, cmd.w, 0.1)
                t += 0.1
            assert w.goal_reached() and w.collision_count == 0, (robot, name, t, w.pose(), nav.state, nav.reason)
