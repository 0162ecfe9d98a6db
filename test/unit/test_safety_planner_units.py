"""Planner library pieces behind the safety fixes: scans projected with their real geometry,
the learned model's beam layout for other lidars, goal repeats and the warm start, the goal
rate rule, live reconfiguration, and the checkpoint directory rule. No ROS."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.planner_node.config import checkpoint_allowed, live_change_refusal
from world_model_planner.planner_node.dynamics import UnicycleModel
from world_model_planner.planner_node.goals import Goal, GoalGate
from world_model_planner.planner_node.grid import OccupancyGrid
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import Navigator, PlannerConfig, make_navigator
from world_model_planner.core.sensor_check import ScanGeometry

SCAN = np.full(180, np.inf)


def small(**mppi) -> PlannerConfig:
    return PlannerConfig(mppi=MPPIConfig(samples=64, horizon=10, **mppi))


# --- geometry --------------------------------------------------------------------------------
def front_scan(n=91, r=2.0):
    """A 180° lidar (-90°..+90°, 2° apart) seeing a return at ``r`` on every beam."""
    return np.full(n, r), ScanGeometry(-math.pi / 2, math.pi / (n - 1), 0.05, 8.0, n)


def test_a_180_degree_scan_is_projected_to_the_right_odom_points():
    ranges, geom = front_scan()
    nav = Navigator("classic", UnicycleModel(), small())
    pose = np.array([1.0, -2.0, math.pi / 2])                  # facing +y
    pts = nav.scan_points(ranges, pose, geom)
    assert pts.shape == (91, 2)
    assert np.allclose(np.linalg.norm(pts - pose[:2], axis=1), 2.0)
    assert np.allclose(pts[0], [3.0, -2.0], atol=1e-9)          # beam -90°: robot's right = +x
    assert np.allclose(pts[45], [1.0, 0.0], atol=1e-9)          # straight ahead = +y
    assert np.allclose(pts[-1], [-1.0, -2.0], atol=1e-9)        # beam +90°: robot's left = -x
    assert (pts[:, 1] >= -2.0 - 1e-9).all()                     # nothing projected behind the robot


def test_the_grid_marks_a_180_degree_scan_where_it_was_seen():
    ranges, geom = front_scan()
    g = OccupancyGrid(10.0, 0.1)
    g.integrate(np.array([0.0, 0.0, 0.0]), ranges, angle_min=geom.angle_min,
                angle_increment=geom.angle_increment, range_max_m=8.0)
    occ = g.to_world(np.argwhere(g.occupied())[:, ::-1])           # (K, 2) cell centres
    assert len(occ) > 20
    assert np.allclose(np.linalg.norm(occ, axis=1), 2.0, atol=0.15)
    assert (occ[:, 0] > -0.15).all()                                # the half circle in front (+x)
    assert g.logodds[g.to_cell([-1.0, 0.0])[1], g.to_cell([-1.0, 0.0])[0]] == 0.0   # behind: unknown


def test_grid_work_is_bounded_whatever_range_max_says():
    g = OccupancyGrid(10.0, 0.1)
    import time

    t0 = time.perf_counter()
    g.integrate(np.zeros(3), np.full(8192, np.inf), range_max_m=1e6)   # rays stop at the grid's diagonal
    assert time.perf_counter() - t0 < 5.0


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory):
    from world_model_planner.world_model_node.checkpoint import save_checkpoint
    from world_model_planner.world_model_node.model import WorldModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("wm") / "wm.pt"
    save_checkpoint(str(path), WorldModel())
    return str(path)


def test_learned_model_reads_another_lidar_on_its_own_layout(random_checkpoint):
    nav = make_navigator("flat", random_checkpoint, small(), "cpu", missing_ok=False)
    ranges, geom = front_scan(r=3.0)
    obs = nav.model.observe_scan(ranges, geom, unseen_range_m=0.7)
    ang = -math.pi + 2 * math.pi / 180 * np.arange(180)
    front = np.abs(ang) <= math.pi / 2
    assert obs.shape == (180,)
    assert np.all(obs[front] == 3.0) and np.all(obs[~front] == 0.7)   # unseen: an obstacle nearby
    full = np.arange(180, dtype=float)                                 # the model's own layout: as is
    assert obs is not full and np.array_equal(
        nav.model.observe_scan(full, ScanGeometry(-math.pi, 2 * math.pi / 180, 0.05, 8.0, 180)), full)
    nav.set_goal(2.0, 0.0)
    cmd = nav.step([0, 0, 0], [0, 0], ranges, 0.0, geom=geom)         # 91 beams: planned, not refused
    assert cmd.state == "planning" and math.isfinite(cmd.v)


# --- goals -----------------------------------------------------------------------------------
def test_repeating_the_goal_changes_nothing():
    nav = Navigator("classic", UnicycleModel(), small())
    nav.set_goal(3.0, 0.0)
    for k in range(5):
        nav.step([0.1 * k, 0, 0], [0.5, 0], SCAN, 0.1 * k)
    mean, path, plans = nav.mppi.mean.clone(), nav.subgoals.path.copy(), nav.subgoals.plan_count
    last_t = nav._last_t
    assert nav.set_goal(3.0 + 0.01, 0.0) == (True, "")                 # within same_goal_tolerance_m
    assert torch.equal(nav.mppi.mean, mean) and np.array_equal(nav.subgoals.path, path)
    assert nav.subgoals.last_plan_t is not None and nav._last_t == last_t
    assert nav.subgoals.plan_count == plans


def test_a_new_goal_keeps_the_warm_start_only_in_about_the_same_direction():
    nav = Navigator("classic", UnicycleModel(), small())
    nav.set_goal(3.0, 0.0)
    for k in range(5):
        nav.step([0.1 * k, 0, 0], [0.5, 0], SCAN, 0.1 * k)
    mean = nav.mppi.mean.clone()
    assert mean.abs().sum() > 0
    nav.set_goal(4.0, 0.3)                                              # same direction: kept
    assert torch.equal(nav.mppi.mean, mean) and nav._last_t is not None
    nav.set_goal(-3.0, 0.0)                                             # behind the robot: restart
    assert nav.mppi.mean.abs().sum() == 0 and nav._last_t is None


def test_goal_gate_rule():
    gate = GoalGate(min_interval_s=0.5)
    a, b, c = Goal(1.0, 0.0), Goal(2.0, 0.0), Goal(3.0, 0.0)
    assert gate.offer(a, 0.0) == "apply"
    assert gate.offer(Goal(1.01, 0.0), 0.1) == "repeat"
    assert gate.offer(b, 0.2) == "defer" and gate.due(0.3) is None
    assert gate.offer(c, 0.3) == "defer"                                # the latest wins
    assert gate.offer(c, 0.35) == "repeat"                              # repeat of the waiting one
    assert gate.due(0.6) == c and gate.current == c and gate.pending is None
    assert gate.offer(b, 0.7) == "defer"
    assert gate.offer(c, 0.8) == "repeat" and gate.pending is None     # back to the goal in force
    assert gate.offer(b, 1.2) == "apply"
    assert gate.offer(b, 1.25, active=False) == "apply"                 # a refused goal sent again
    assert Goal(0, 0, 0.0).same_as(Goal(0, 0, 2 * math.pi - 0.01), 0.05, 0.05)
    assert not Goal(0, 0, None).same_as(Goal(0, 0, 0.0), 0.05, 0.05)


# --- live parameters -------------------------------------------------------------------------
def test_reconfigure_applies_a_lower_speed_limit_at_once():
    nav = Navigator("classic", UnicycleModel(), small())
    nav.set_goal(5.0, 0.0)
    v = 0.0
    for k in range(30):
        cmd = nav.step([0.0, 0, 0], [v, 0], SCAN, 0.1 * k)
        v = cmd.v
    assert v > 0.5
    cfg = small(v_max_mps=0.1)
    nav.reconfigure(cfg)
    cmd = nav.step([0.0, 0, 0], [v, 0], SCAN, 3.0)
    assert 0.0 < cmd.v <= 0.1 + 1e-6 and nav.state == "planning"
    cfg.nav.max_goal_distance_m = 0.5
    nav.reconfigure(cfg)
    ok, reason = nav.set_goal(3.0, 0.0)
    assert not ok and "max_goal_distance_m" in reason


def test_which_changes_wait_for_configure():
    assert live_change_refusal(["mppi.v_max_mps", "max_goal_distance_m"], configured=True) is None
    why = live_change_refusal(["planner"], configured=True)
    assert "planner" in why and "configure" in why
    assert live_change_refusal(["planner", "model_path"], configured=False) is None
    assert "start-up" in live_change_refusal(["autostart"], configured=False)
    assert live_change_refusal(["subgoal.grid_size_m"], configured=True)


def test_checkpoint_paths_must_resolve_under_the_allowed_directories(tmp_path):
    allowed = tmp_path / "ok"
    allowed.mkdir()
    (tmp_path / "evil.pt").write_bytes(b"x")
    (allowed / "link.pt").symlink_to(tmp_path / "evil.pt")
    roots = [allowed.resolve()]
    assert checkpoint_allowed(str(allowed / "m.pt"), roots)
    assert checkpoint_allowed(str(allowed / "sub" / "m.pt"), roots)
    assert not checkpoint_allowed(str(tmp_path / "evil.pt"), roots)
    assert not checkpoint_allowed(f"{allowed}/../evil.pt", roots)
    assert not checkpoint_allowed(str(allowed / "link.pt"), roots)
    assert not checkpoint_allowed(str(tmp_path / "ok2" / "m.pt"), roots)    # a prefix is not a parent
    assert not checkpoint_allowed("bad\0path", roots)


@pytest.fixture(scope="module")
def classic_nav():
    return Navigator("classic", UnicycleModel(), small())


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.floats(-2 * math.pi, 2 * math.pi), st.floats(1e-3, 0.2) | st.floats(-0.2, -1e-3),
       st.integers(4, 720), st.floats(0.5, 200.0),
       st.lists(st.floats(0.0, 300.0) | st.just(math.inf) | st.just(math.nan), min_size=1, max_size=16))
def test_any_checked_scan_plans_or_stops_never_raises(classic_nav, angle_min, inc, n, range_max, pattern):
    """Whatever geometry check_scan lets through, a tick gives a finite command or a stop."""
    from world_model_planner.core.sensor_check import SensorLimits, check_scan

    n = min(n, int(2 * math.pi / abs(inc)) + 1)
    ranges = (pattern * (n // len(pattern) + 1))[:n]
    geom, r, why = check_scan(angle_min, angle_min + inc * (n - 1), inc, 0.05, range_max, ranges, SensorLimits())
    if geom is None:
        return
    nav = classic_nav
    nav.set_goal(2.0, 1.0)
    cmd = nav.step([0.0, 0.0, 0.3], [0.2, 0.0], r, 0.0, geom=geom)
    assert math.isfinite(cmd.v) and math.isfinite(cmd.w)
    assert cmd.state in ("planning", "stopped")
