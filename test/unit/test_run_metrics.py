"""Episode metrics as pure functions."""
from __future__ import annotations

import math

import numpy as np
import pytest

from world_model_planner.sim.scenario import load_scenario
from world_model_planner.core import metrics
from world_model_planner.app.episode import finalize


def test_path_length_and_success():
    xy = np.array([[0, 0], [3, 4], [3, 5]], dtype=float)
    assert metrics.path_length_m(xy) == pytest.approx(6.0)
    assert metrics.path_length_m(xy[:1]) == 0.0
    assert metrics.reached((2.9, 0.0), (3.0, 0.0), 0.3)
    assert not metrics.reached((2.6, 0.0), (3.0, 0.0), 0.3)


def test_path_length_ignores_odometry_noise():
    rng = np.random.default_rng(0)
    still = rng.normal(0.0, 0.005, size=(700, 2))                 # 35 s standing, noisy odom
    assert metrics.path_length_m(still) < 0.1
    assert metrics.path_length_m(still, min_step_m=0.0) > 4.0     # what naive summing gives
    t = np.linspace(0.0, np.pi, 400)                               # half circle, r = 2 m
    arc = np.stack([2 * np.cos(t), 2 * np.sin(t)], axis=1) + rng.normal(0.0, 0.005, size=(400, 2))
    assert metrics.path_length_m(arc) == pytest.approx(2 * np.pi, rel=0.02)


def test_spl():
    assert metrics.spl(False, 5.0, 5.0) == 0.0
    assert metrics.spl(True, 5.0, 10.0) == pytest.approx(0.5)
    assert metrics.spl(True, 5.0, 4.0) == 1.0       # never above 1


def test_shortest_path_open_is_straight_and_u_trap_goes_around():
    open_s = load_scenario("open")
    straight = math.hypot(open_s.goal.x - open_s.start.x, open_s.goal.y - open_s.start.y)
    assert metrics.shortest_path_m(open_s) == pytest.approx(straight - open_s.goal.tolerance, abs=0.15)
    u = load_scenario("u_trap")
    u_straight = math.hypot(u.goal.x - u.start.x, u.goal.y - u.start.y)
    # around an arm of the U (y = +-2): clearly longer than the straight line
    assert metrics.shortest_path_m(u) > u_straight + 1.0


def test_finalize_and_summary():
    s = load_scenario("open")
    g = s.goal
    traj = [(0.0, s.start.x, s.start.y, 0.0), (5.0, g.x - 0.1, g.y, 0.0)]
    rec = finalize({"trajectory": traj, "time_s": 5.0, "collisions": 0}, s)
    assert rec["success"] and 0.9 < rec["spl"] <= 1.0
    fail = finalize({"trajectory": traj[:1], "time_s": 25.0, "collisions": 2}, s)
    assert not fail["success"] and fail["spl"] == 0.0
    rows = metrics.summarize([{**rec, "plan_hz_median": 20.0}, {**fail, "plan_hz_median": 30.0}])
    assert rows["success_rate"] == 0.5 and rows["collision_rate"] == 0.5
    assert rows["plan_hz"] == 25.0 and rows["time_s"] == 5.0
