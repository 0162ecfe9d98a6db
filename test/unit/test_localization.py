"""Goal frames (planner_node.localization), prior maps (planner_node.prior_map), waypoint files
(planner_node.waypoints) and the sim's map frame (sim.localization): the math, with real scans
from a PyBullet world for the prior map."""
from __future__ import annotations

import math

import numpy as np
import pytest

from world_model_planner.core.safeio import InputError
from world_model_planner.planner_node.localization import (FrameEstimator, FrameGoal, FrameResolver, PoseHistory,
                                                           apply_points, compose, inverse)
from world_model_planner.planner_node.waypoints import WaypointRoute, load_waypoints, parse_waypoints
from world_model_planner.sim.localization import MapFrame, scenario_map


def test_compose_inverse_roundtrip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.uniform([-5, -5, -3], [5, 5, 3])
        b = rng.uniform([-5, -5, -3], [5, 5, 3])
        np.testing.assert_allclose(compose(a, inverse(a)), 0.0, atol=1e-12)
        back = compose(inverse(a), compose(a, b))
        np.testing.assert_allclose(back[:2], b[:2], atol=1e-12)
        assert abs(math.remainder(back[2] - b[2], 2 * math.pi)) < 1e-12
        np.testing.assert_allclose(apply_points(a, b[:2]), compose(a, (b[0], b[1], 0.0))[:2], atol=1e-12)
    # a quarter turn about the origin, then 1 m along x: (0, 0) → (1, 0); (1, 0) → (1, 1)
    np.testing.assert_allclose(apply_points((1.0, 0.0, math.pi / 2), [[0.0, 0.0], [1.0, 0.0]]),
                               [[1.0, 0.0], [1.0, 1.0]], atol=1e-12)


def test_pose_history_pairs_by_stamp_and_refuses_far_stamps():
    h = PoseHistory()
    h.add(1.0, (0.0, 0.0, 0.0))
    h.add(1.1, (0.1, 0.0, 0.2))
    p, why = h.at(1.05, 0.2)
    assert why == "" and np.allclose(p, (0.05, 0.0, 0.1))
    assert h.at(2.0, 0.2)[0] is None and "newer" in h.at(2.0, 0.2)[1]
    assert h.at(0.5, 0.2)[0] is None and "older" in h.at(0.5, 0.2)[1]
    assert h.at(float("nan"), 0.2)[0] is None
    h.add(0.5, (9.0, 9.0, 0.0))           # time went back: the history restarts
    assert h.at(1.05, 0.2)[0] is None


def test_estimator_recovers_map_to_odom_and_goal_stays_in_the_world():
    true_map_odom = np.array([2.0, -1.0, 0.6])
    est = FrameEstimator(pair_tolerance_s=0.1)
    # the robot drives; odometry and the localization pose (map) describe the same motion
    for k in range(20):
        t = 0.05 * k
        odom = np.array([0.3 * t, 0.1 * t, 0.2 * t])
        est.add_odom(t, odom)
    robot_odom_at = np.array([0.3 * 0.52, 0.1 * 0.52, 0.2 * 0.52])       # between two samples
    loc = compose(true_map_odom, robot_odom_at)
    assert est.update("map", 0.52, loc) == ""
    np.testing.assert_allclose(est.lookup("map"), true_map_odom, atol=1e-9)
    goal = FrameGoal("map", 4.0, 3.0, 0.5)
    x, y, yaw = goal.in_odom(est.lookup("map"))
    np.testing.assert_allclose(compose(true_map_odom, (x, y, yaw)), (4.0, 3.0, 0.5), atol=1e-9)
    # a correction: map → odom jumps 0.5 m; the goal moves in odom, not in map
    corrected = compose(true_map_odom, (0.5, 0.0, 0.0))
    assert est.update("map", 0.9, compose(corrected, (0.3 * 0.9, 0.1 * 0.9, 0.2 * 0.9))) == ""
    x2, y2, _ = goal.in_odom(est.lookup("map"))
    assert math.hypot(x2 - x, y2 - y) == pytest.approx(0.5, abs=1e-9)
    np.testing.assert_allclose(compose(est.lookup("map"), (x2, y2, 0.0))[:2], (4.0, 3.0), atol=1e-9)
    # a pose whose stamp matches no odometry is skipped with the reason
    assert "not paired" in est.update("map", 5.0, loc)
    assert "non-finite" in est.update("map", 0.5, (float("nan"), 0.0, 0.0))
    assert est.version == 2


def test_resolver_waits_then_refuses_without_a_transform():
    est = FrameEstimator()
    r = FrameResolver("odom", est, tf_lookup=lambda frame: None, source="localization_topic '/amcl_pose'")
    g = FrameGoal("map", 1.0, 2.0, None, received_s=10.0)
    status, why = r.resolve(g, 10.5, timeout_s=2.0)
    assert status == "wait" and "'map'" in why
    status, why = r.resolve(g, 12.0, timeout_s=2.0)
    assert status == "refuse" and "no transform from goal frame 'map' to odom frame 'odom'" in why
    assert "/amcl_pose" in why
    assert r.resolve(FrameGoal("odom", 1.0, 2.0), 0.0, 0.0) == ("ok", (1.0, 2.0, None))
    r2 = FrameResolver("odom", est, tf_lookup=lambda frame: np.array([1.0, 0.0, 0.0]) if frame == "map" else None)
    status, (x, y, _) = r2.resolve(g, 10.0, 2.0)
    assert status == "ok" and (x, y) == pytest.approx((0.0, 2.0))


def test_sim_map_frame_drift_matches_what_a_localizer_estimates():
    mf = MapFrame(offset=(1.5, -0.5, 0.4), drift=(0.02, -0.01, 0.005))
    est = FrameEstimator(pair_tolerance_s=0.1)
    world = np.array([0.7, 0.2, 0.3])
    t = 12.0
    est.add_odom(t, mf.odom_pose(world, t))
    assert est.update("map", t, mf.map_pose(world)) == ""
    np.testing.assert_allclose(est.lookup("map"), mf.map_to_odom(t), atol=1e-9)
    data, res, origin = scenario_map(_scenario("wall"), mf.offset, 0.1)
    assert data.dtype == np.int8 and set(np.unique(data)) <= {0, 100}
    assert data[0].min() == 100 and data[:, -1].min() == 100          # the walls are in the map
    assert origin[2] == pytest.approx(0.4)


def _scenario(name):
    from world_model_planner.sim.scenario import load_scenario

    return load_scenario(name)


def test_prior_map_seeds_the_grid_and_scans_correct_it():
    """The map holds a block that is gone and lacks the obstacle that is there: a few real scans
    clear the first and mark the second."""
    from world_model_planner.planner_node.grid import OccupancyGrid
    from world_model_planner.planner_node.prior_map import MapArrays, seed_grid
    from world_model_planner.sim.scenario import parse_scenario
    from world_model_planner.sim.world import SimWorld

    offset = (3.0, 1.0, 0.7)
    real = parse_scenario({"name": "real", "robot": "husky", "arena": [10.0, 10.0],
                           "obstacles": [{"box": {"center": [0.0, -2.5], "size": [1.0, 1.0]}}],
                           "start": {"x": -2.0, "y": 0.0, "yaw": 0.0}, "goal": {"x": 3.0, "y": 0.0}})
    stale = parse_scenario({"name": "stale", "robot": "husky", "arena": [10.0, 10.0],
                            "obstacles": [{"box": {"center": [0.0, 2.5], "size": [1.0, 1.0]}}],
                            "start": {"x": -2.0, "y": 0.0, "yaw": 0.0}, "goal": {"x": 3.0, "y": 0.0}})
    data, res, origin = scenario_map(stale, offset, 0.1)
    prior = MapArrays.from_fields("map", data.shape[1], data.shape[0], res, origin, data.reshape(-1).tolist())
    grid = OccupancyGrid(30.0, 0.1)
    n = seed_grid(grid, prior, map_to_odom=np.array(offset))
    assert n == data.size
    occ = grid.occupied()
    phantom, missing = (0.0, 2.5), (0.0, -2.5)
    assert occ[tuple(grid.to_cell(phantom)[::-1])] and not occ[tuple(grid.to_cell(missing)[::-1])]
    assert occ[tuple(grid.to_cell((4.98, 0.0))[::-1])]                 # a wall, 5 m east in odom
    with SimWorld(real, seed=0) as w:
        for _ in range(4):
            grid.integrate(w.true_pose(), w.scan(), angle_min=w.lidar_cfg.angle_min,
                           angle_increment=w.lidar_cfg.angle_increment, range_max_m=w.lidar_cfg.range_max_m)
            w.step(0.0, 0.0, 0.1)
    occ = grid.occupied()
    assert occ[tuple(grid.to_cell((0.0, -2.05))[::-1])], "the obstacle the map lacks was not marked"
    assert not occ[tuple(grid.to_cell((0.0, 2.05))[::-1])], "the block that is gone was not cleared"
    with pytest.raises(ValueError, match="width x height"):
        MapArrays.from_fields("map", 3, 3, 0.1, (0, 0, 0), [0] * 8)
    with pytest.raises(ValueError, match="resolution"):
        MapArrays.from_fields("map", 3, 3, float("nan"), (0, 0, 0), [0] * 9)


def test_waypoint_file_and_route(tmp_path):
    f = tmp_path / "wp.yaml"
    f.write_text("frame: map\nwaypoints:\n  - {x: 1.0, y: 2.0}\n  - [3.0, 4.0, 0.5]\n"
                 "  - {x: 0.0, y: 0.0, frame: odom}\n")
    goals = load_waypoints(f)
    assert [(g.frame, g.x, g.y, g.yaw) for g in goals] == [("map", 1.0, 2.0, None), ("map", 3.0, 4.0, 0.5),
                                                           ("odom", 0.0, 0.0, None)]
    route = WaypointRoute(goals)
    assert route.current() is goals[0] and route.label() == "waypoint 1/3"
    assert route.reached(1.0) is goals[1] and route.reached(2.0) is goals[2]
    assert route.reached(3.0) is None and route.done and route.events == [(0, 1.0), (1, 2.0), (2, 3.0)]
    for bad, field in [({"waypoints": []}, "'waypoints'"), ({"waypoints": [[1.0]]}, "waypoints[0]"),
                       ({"waypoints": [{"x": 1.0}]}, "waypoints[0]"),
                       ({"waypoints": [[1.0, float("inf")]]}, "waypoints[0]"),
                       ({"frame": "a b", "waypoints": [[1, 2]]}, "'frame'"),
                       ({"waypoints": [[1, 2]], "speed": 1}, "unknown field")]:
        with pytest.raises(InputError, match=field.replace("[", r"\[").replace("]", r"\]")):
            parse_waypoints(bad, "wp.yaml")


def test_route_path_carries_each_waypoints_frame_and_yaw():
    """`wmp run --waypoints`: the Path on /waypoints keeps a waypoint's yaw (as the planner reads
    it back, rosconv.yaw_of) and gives the identity where the file names none."""
    pytest.importorskip("nav_msgs.msg", reason="ROS messages not installed")
    from world_model_planner.app.episode_frames import route_path
    from world_model_planner.core.rosconv import yaw_of

    goals = parse_waypoints({"frame": "map", "waypoints": [[3.0, 4.0, 2.5], {"x": 1.0, "y": -2.0, "frame": "odom"},
                                                            {"x": 0.5, "y": 0.5, "yaw": -1.2}]})
    path = route_path(goals, 12.5)
    assert path.header.stamp.sec == 12 and path.header.stamp.nanosec == 500_000_000
    assert [(p.header.frame_id, p.pose.position.x, p.pose.position.y) for p in path.poses] == [
        ("map", 3.0, 4.0), ("odom", 1.0, -2.0), ("map", 0.5, 0.5)]
    assert [round(yaw_of(p.pose.orientation), 9) for p in path.poses] == [2.5, 0.0, -1.2]
    q = path.poses[1].pose.orientation
    assert (q.x, q.y, q.z, q.w) == (0.0, 0.0, 0.0, 1.0)


def test_robot_launch_passes_localization_topic_and_prior_map():
    from world_model_planner.app.launch_args import robot_specs

    specs = {s.executable: s.param_values() for s in robot_specs({"localization_topic": "/amcl_pose",
                                                                  "prior_map": "true"})}
    assert specs["planner_node"]["localization_topic"] == "/amcl_pose"
    assert specs["planner_node"]["prior_map"] is True
    plain = {s.executable: s.param_values() for s in robot_specs({})}
    assert "localization_topic" not in plain["planner_node"] and "prior_map" not in plain["planner_node"]
    with pytest.raises(ValueError, match="prior_map"):
        robot_specs({"prior_map": "maybe"})
