"""Subgoal layer: scan grid, path search, subgoal picking, and a closed-loop escape from a U."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from world_model_planner.planner_node.grid import OccupancyGrid
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import PlannerConfig, make_navigator
from world_model_planner.planner_node.subgoal import SubgoalConfig, SubgoalPlanner
from world_model_planner.testing.toyworld import ToyWorld, run_episode, u_trap_boxes


def test_grid_marks_hits_and_clears_free_space():
    world = ToyWorld([(2.0, -1.0, 2.2, 1.0)], half_m=5.0)
    g = OccupancyGrid(12.0, 0.1)
    for _ in range(3):
        g.integrate(world.pose, world.scan())
    ij = g.to_cell(np.array([[2.02, 0.0], [1.0, 0.0], [3.5, 0.0]]))
    lo = g.logodds[ij[:, 1], ij[:, 0]]
    assert lo[0] > 0.5            # wall face
    assert lo[1] < -0.5           # seen free
    assert abs(lo[2]) < 0.2       # behind the wall: unknown


def _edge_cell_after_grazing(keep_edges: bool):
    """A box whose top face lies 0.02 m inside a row of cells: seen from above (returns in that
    row), then from the far left, whose beams graze the empty upper part of the row; the returns
    from the left land on the box's left face, one column over."""
    g = OccupancyGrid(12.0, 0.1, keep_edges=keep_edges)          # cell edges on multiples of 0.1 m
    box = [(2.03, -0.3, 2.57, 0.02)]
    above = ToyWorld(box, half_m=5.0, start=(2.3, 1.0, -np.pi / 2), beams=1440)
    for _ in range(3):
        g.integrate(above.pose, above.scan())
    edge, far = g.to_cell(np.array([[2.15, 0.05], [2.45, 0.05]]))     # next to the left face; not
    assert g.logodds[edge[1], edge[0]] > 0.5 and g.logodds[far[1], far[0]] > 0.5
    left = ToyWorld(box, half_m=5.0, start=(-1.0, 0.06, 0.0), beams=1440)
    for _ in range(12):
        g.integrate(left.pose, left.scan())
    return g.logodds[edge[1], edge[0]], g.logodds[far[1], far[0]]


def test_grid_keeps_an_obstacle_edge_that_grazing_beams_cross():
    edge, far = _edge_cell_after_grazing(keep_edges=True)
    assert edge > 0.5                       # touches a cell with returns in each grazing scan: kept
    assert far < 0.5                        # no return next to it: the grazing beams clear it
    edge_off, _ = _edge_cell_after_grazing(keep_edges=False)
    assert edge_off < 0.5                   # the flicker the rule prevents


def test_grid_clears_behind_an_obstacle_that_moved():
    g = OccupancyGrid(12.0, 0.1)
    before = ToyWorld([(2.0, -0.3, 2.3, 0.3)], half_m=5.0, beams=720)
    for _ in range(4):
        g.integrate(before.pose, before.scan())
    old = g.to_cell(np.array([2.05, 0.0]))
    assert g.logodds[old[1], old[0]] > 0.5
    after = ToyWorld([(2.0, 1.0, 2.3, 1.6)], half_m=5.0, beams=720)    # the box moved 1 m aside
    for _ in range(12):
        g.integrate(after.pose, after.scan())
    assert g.logodds[old[1], old[0]] < -0.5


def _planner_with_wall():
    world = ToyWorld([(1.5, -2.0, 1.7, 2.0)], half_m=5.0)
    sp = SubgoalPlanner(SubgoalConfig(grid_size_m=12.0))
    sp.integrate(world.pose, world.scan())
    sp.set_goal([4.0, 0.0])
    return world, sp


def test_path_goes_around_a_wall_and_subgoal_is_visible():
    world, sp = _planner_with_wall()
    assert sp.replan(world.pose[:2], 0.0)
    path = sp.path
    assert np.allclose(path[0], world.pose[:2]) and np.allclose(path[-1], [4.0, 0.0])
    beside = path[(path[:, 0] > 1.4) & (path[:, 0] < 1.8)]
    assert len(beside) and (np.abs(beside[:, 1]) > 2.0 + 0.4).all()   # clears the inflated end
    sg = sp.subgoal(world.pose[:2])
    assert np.linalg.norm(sg - world.pose[:2]) <= SubgoalConfig().lookahead_m + 0.15
    assert sp.line_of_sight(world.pose[:2], sg)
    assert not sp.line_of_sight(world.pose[:2], np.array([4.0, 0.0]))


def test_replan_timing_and_goal_without_path():
    _, sp = _planner_with_wall()
    assert sp.due(0.0)
    sp.replan(np.zeros(2), 0.0)
    assert not sp.due(0.5) and sp.due(1.0)
    fresh = SubgoalPlanner(SubgoalConfig(grid_size_m=12.0))
    with pytest.raises(RuntimeError):
        fresh.subgoal(np.zeros(2))
    fresh.set_goal([3.0, 3.0])
    assert np.allclose(fresh.subgoal(np.zeros(2)), [3.0, 3.0])       # no path yet → the goal


def _small_cfg() -> PlannerConfig:
    return PlannerConfig(mppi=MPPIConfig(samples=192, horizon=20))


@pytest.fixture
def one_thread():
    """The machine is shared: one torch thread keeps the closed loop fast and predictable."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_hierarchical_escapes_u_that_traps_flat(one_thread):
    """Closed loop in the toy world (ray-cast scans, 20 Hz): the goal sits behind a U.

    flat (the same MPPI aimed straight at the goal) stays trapped; the subgoal layer gets out.
    Both use the unicycle model here, so the difference is the subgoal layer alone."""
    torch.manual_seed(0)
    hier = make_navigator("classic", cfg=_small_cfg(), device="cpu")
    r = run_episode(hier, ToyWorld(u_trap_boxes()), (4.0, 0.0), time_limit_s=35.0)
    assert r["success"], r
    assert r["collisions"] == 0
    flat = make_navigator("flat", model_path="/nonexistent.pt", cfg=_small_cfg(), device="cpu")
    r_flat = run_episode(flat, ToyWorld(u_trap_boxes()), (4.0, 0.0), time_limit_s=12.0)
    assert not r_flat["success"]


def test_path_ahead_starts_at_the_nearest_point_and_is_cut_at_the_reach():
    from world_model_planner.planner_node.subgoal import path_ahead

    path = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 3.0]])
    pts = path_ahead(path, (1.9, 0.4), reach_m=1.0)            # nearest point: the corner
    assert np.allclose(pts[0], [2.0, 0.0]) and np.allclose(pts[-1], [2.0, 1.0])
    assert np.allclose(np.linalg.norm(np.diff(pts, axis=0), axis=1), 0.1)
    assert path_ahead(path, (5.0, 9.0), reach_m=1.0) is None   # only the last point is left
    assert path_ahead(path[:1], (0.0, 0.0), reach_m=1.0) is None
