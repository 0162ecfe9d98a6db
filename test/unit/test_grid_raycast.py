"""The occupancy grid's scan update with its free space marked by a compiled loop
(world_model_node/_kernels_numba.ray_free, planner_node/grid.OccupancyGrid.integrate): the
same cells, bit for bit, as the vectorised numpy it replaces, on every kind of scan."""
from __future__ import annotations

import math

import numpy as np
import pytest

from world_model_planner.planner_node.grid import OccupancyGrid
from world_model_planner.world_model_node import step_kernel

pytestmark = pytest.mark.skipif(not step_kernel.available(), reason=f"numba unavailable: {step_kernel.error()}")


def _pair(**kw):
    fast, slow = OccupancyGrid(**kw), OccupancyGrid(**kw)
    slow.compiled = False
    return fast, slow


def _scan(rng, n, range_max):
    r = rng.uniform(0.2, range_max * 1.2, n)
    r[rng.random(n) < 0.15] = np.inf                      # no return
    r[rng.random(n) < 0.05] = np.nan                      # invalid beams
    return r


@pytest.mark.parametrize("keep_edges", [True, False])
def test_compiled_rays_mark_the_same_cells_as_numpy(keep_edges):
    rng = np.random.default_rng(11)
    fast, slow = _pair(size_m=12.0, res_m=0.1, center_xy=(0.5, -0.3), keep_edges=keep_edges)
    lidars = [(-math.pi, None, 180, 8.0),                  # the Husky's 360 degrees
              (-2.356, 0.00654, 720, 30.0),                # the Jackal's 270-degree UST-10, beyond the grid
              (math.pi / 2, -0.01, 90, 5.0)]               # a sweep the other way round
    most_hit = most_free = 0
    for k in range(24):
        amin, inc, n, rmax = lidars[k % 3]
        pose = np.array([rng.uniform(-7, 7), rng.uniform(-7, 7), rng.uniform(-4, 4)])   # some outside the grid
        scan = _scan(rng, n, rmax)
        for g in (fast, slow):
            g.integrate(pose, scan, angle_min=amin, angle_increment=inc, range_max_m=rmax)
        assert np.array_equal(fast.logodds, slow.logodds), k
        assert np.array_equal(fast.known_lo, slow.known_lo) and np.array_equal(fast.known_hi, slow.known_hi), k
        most_hit, most_free = max(most_hit, int((fast.logodds > 0).sum())), max(most_free, int((fast.logodds < 0).sum()))
    assert most_hit > 100 and most_free > 1000                  # both kinds of evidence were compared


def test_scans_that_touch_nothing_leave_the_grid_and_its_bounds_alone():
    fast, slow = _pair(size_m=4.0, res_m=0.1)
    for g in (fast, slow):
        g.integrate(np.array([50.0, 50.0, 0.0]), np.full(36, 2.0))          # far outside, short beams
        g.integrate(np.array([0.0, 0.0, 0.0]), np.full(36, np.nan))         # every beam invalid
        g.integrate(np.array([0.0, 0.0, 0.0]), np.zeros(0))                 # no beams
    for g in (fast, slow):
        assert not g.logodds.any()
        assert g.known_hi[0] == -1 and g.known_lo[0] == g.n


def test_one_return_marks_the_free_cells_up_to_it_and_the_hit_cell():
    fast, slow = _pair(size_m=4.0, res_m=0.1)
    scan = np.full(360, np.inf)
    scan[180] = 1.0                                        # straight ahead (beams from -pi, 1 degree apart)
    for g in (fast, slow):
        g.integrate(np.array([0.05, 0.05, 0.0]), scan, range_max_m=1.5)
    assert np.array_equal(fast.logodds, slow.logodds)
    row = fast.logodds[fast.to_cell([0.05, 0.05])[1]]
    ix = fast.to_cell([1.05, 0.05])[0]
    assert row[ix] > 0 and (row[fast.to_cell([0.05, 0.05])[0]:ix] < 0).all()
