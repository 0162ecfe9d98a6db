"""The world model's recent past when odometry comes faster than scans, as on the stack
(/odom at 20 Hz, /scan at 10 Hz): every row of the history carries the scan in force at its
time, whichever tick asks. Before this was fixed, a tick between two scans got a history of
empty scans ("nothing anywhere"), so the hierarchical planner saw the world flicker at 20 Hz
and, through the node processes, stopped short of the mud_field goal and dithered there
until the time limit (the in-process loop, one scan per tick, never did)."""
from __future__ import annotations

import numpy as np

from world_model_planner.core.sensor_check import ScanGeometry
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import PlannerConfig, make_navigator
from world_model_planner.world_model_node.history import HistoryBuffer

BEAMS = 8


def _scan(i: int) -> np.ndarray:
    return np.full(BEAMS, 1.0 + i, np.float32)


def test_rows_between_scans_carry_the_latest_scan():
    buf = HistoryBuffer(steps=5, dt_s=0.1)
    for k in range(30):                                     # odometry every 0.05 s, a scan every 0.1 s
        t = 0.05 * k
        buf.commanded(t, (0.5, 0.0))
        buf.observe(t, (0.5, 0.01 * k), _scan(k // 2) if k % 2 == 0 else None)
    for t_now in (1.4, 1.45):                               # a tick with a new scan and one without
        h = buf.history(t_now, BEAMS)
        assert h.valid.all()
        for k in range(5):
            t_row = t_now - (5 - k) * 0.1
            latest = int(np.floor(t_row / 0.1 + 1e-6))     # the scan taken at or before the row's time
            np.testing.assert_array_equal(h.scan[k], _scan(latest), err_msg=f"t_now={t_now} row {k}")
            assert h.vel[k, 1] == np.float32(0.01 * round(t_row / 0.05))    # odometry keeps its own rate
    early = HistoryBuffer(steps=3, dt_s=0.1)                # odometry before the first scan: no scan yet
    early.observe(0.0, (0.0, 0.0), None)
    early.observe(0.05, (0.0, 0.0), None)
    early.observe(0.1, (0.0, 0.0), _scan(1))
    h = early.history(0.2, BEAMS)
    assert np.isinf(h.scan[0]).all() and np.isinf(h.scan[1]).all()    # rows at -0.1 and 0.0
    np.testing.assert_array_equal(h.scan[2], _scan(1))


def test_navigator_history_between_scans_is_not_empty():
    """The planner's copy (shipped model with history): on a tick without a new scan the model
    still reads the walls it saw."""
    nav = make_navigator("hierarchical", None, PlannerConfig(mppi=MPPIConfig(samples=16, horizon=5)), "cpu")
    assert nav._hist is not None, "the shipped model is expected to read a history"
    beams = int(nav.model.beams)
    geom = ScanGeometry(-np.pi, 2 * np.pi / beams, 0.0, 8.0, beams)
    scan = np.full(beams, 3.0)                              # a ring of walls 3 m away
    nav.set_goal(2.0, 0.0)
    for k in range(24):                                     # 20 Hz ticks, a scan on every other one
        nav.step([0.0, 0.0, 0.0], [0.0, 0.0], scan, 0.05 * k, new_scan=k % 2 == 0, geom=geom)
    h = nav.history(0.05 * 23)
    assert h.valid.all() and h.scan is not None
    assert np.isfinite(h.scan).all(), "rows between scans lost the scan"
