"""Comparison metrics against hand-computed values, and the open-loop check on a known model."""
import math

import numpy as np
import pytest

from world_model_planner.teleop.compare import (differences, held_command, mean_abs_jerk, open_loop_errors,
                            session_metrics, time_stopped)


def _odom(rows):
    return np.array(rows, dtype=float)


# t, x, y, yaw, v, w: 1 s apart, moving 0, 1, 2, 3 m along x; goal at x = 6
ODOM = _odom([(0, 0, 0, 0, 0, 0), (1, 0, 0, 0, 0, 0), (2, 1, 0, 0, 1, 0), (3, 3, 0, 0, 2, 0),
              (4, 6, 0, 0, 3, 0), (5, 6, 1, 0, 0, 0)])


def test_metrics_hand_computed():
    m = session_metrics(ODOM, (6.0, 0.0), 0.5, shortest_m=5.0,
                        collisions=[(0.0, 2), (1.5, 3), (3.0, 4), (10.0, 9)],
                        clearances=[(0.5, 1.0), (2.0, 0.3), (5.0, 0.1)], interventions=2)
    assert m["success"] is True
    assert m["time_s"] == 4.0                       # reached at t = 4 (the sample at t = 5 is after)
    assert m["path_length_m"] == 6.0                # 0 + 1 + 2 + 3
    assert m["spl"] == pytest.approx(5.0 / 6.0)
    assert m["collisions"] == 2                     # 4 - 2 inside [0, 4]
    assert m["min_clearance_m"] == 0.3              # 0.1 at t = 5 is outside the window
    # v = 0,0,1,2,3 -> a = 0,1,1,1 -> j = 1,0,0 -> mean 1/3
    assert m["mean_abs_jerk_mps3"] == pytest.approx(1.0 / 3.0)
    assert m["time_stopped_s"] == 2.0               # samples t = 0 and t = 1 hold 1 s each
    assert m["interventions"] == 2 and m["final_distance_m"] == 0.0


def test_metrics_from_the_goal_time_and_failure():
    m = session_metrics(ODOM, (6.0, 0.0), 0.5, shortest_m=5.0, t0_s=1.0,
                        collisions=[(0.0, 2), (1.5, 3)])
    assert m["time_s"] == 3.0 and m["time_stopped_s"] == 1.0
    assert m["mean_abs_jerk_mps3"] == 0.0           # v = 0,1,2,3: constant acceleration
    assert m["collisions"] == 1                     # base = the count before the window (2)
    f = session_metrics(ODOM, (10.0, 0.0), 0.5)
    assert f["success"] is False and f["spl"] == 0.0 and f["time_s"] == 5.0
    assert f["path_length_m"] == 7.0 and f["min_clearance_m"] is None
    assert f["shortest_path_m"] == pytest.approx(9.5)  # straight line minus tolerance


def test_helpers():
    assert mean_abs_jerk([0, 1], [0, 1]) is None
    assert mean_abs_jerk([0, 0.5, 1.0, 1.5], [0, 0, 1, 1]) == pytest.approx(4.0)  # a = 0,2,0; j = ±2/0.5
    assert time_stopped([0, 1, 3], [0.0, 0.01, 0.0], [0.0, 0.2, 0.0]) == 1.0       # turning ≠ stopped
    d = differences({"success": True, "time_s": 10.0, "spl": None}, {"success": False, "time_s": 12.5})
    assert d["success"] == 1.0 and d["time_s"] == -2.5 and d["spl"] is None
    cmds = np.array([[1.0, 0.5, 0.1], [2.0, 0.7, 0.0]])
    got = held_command(cmds, np.array([0.5, 1.0, 1.4, 1.6, 2.2]), timeout_s=0.5)
    assert got.tolist() == [[0, 0], [0.5, 0.1], [0.5, 0.1], [0, 0], [0.7, 0.0]]


class _Unicycle:
    """A known, exact model: z = (x, y, yaw); constant-command arcs."""

    dt_s = 0.1

    def __init__(self):
        import torch
        self.device = torch.device("cpu")

    def encode(self, obs):
        return obs["pose"].clone()

    def rollout(self, z0, actions):
        import torch
        out, z = [], z0
        for k in range(actions.shape[1]):
            v, w = actions[:, k, 0], actions[:, k, 1]
            x, y, th = z[:, 0], z[:, 1], z[:, 2]
            th2 = th + w * self.dt_s
            safe = torch.where(w.abs() < 1e-9, torch.ones_like(w), w)
            dx = torch.where(w.abs() < 1e-9, v * self.dt_s * torch.cos(th), v / safe * (torch.sin(th2) - torch.sin(th)))
            dy = torch.where(w.abs() < 1e-9, v * self.dt_s * torch.sin(th), -v / safe * (torch.cos(th2) - torch.cos(th)))
            z = torch.stack([x + dx, y + dy, th2], dim=1)
            out.append(z)
        return torch.stack(out, dim=1)

    def pose(self, z):
        return z


def _drive(v, w, seconds=6.0, dt=0.05):
    rows, x, y, th = [], 0.0, 0.0, 0.0
    for i in range(int(seconds / dt) + 1):
        rows.append((i * dt, x, y, th, v, w))
        th2 = th + w * dt
        x, y, th = x + v / w * (math.sin(th2) - math.sin(th)), y - v / w * (math.cos(th2) - math.cos(th)), th2
    return np.array(rows)


def test_open_loop_errors_zero_for_the_true_model_and_large_for_a_wrong_command():
    odom = _drive(0.5, 0.3)
    scan_t = odom[::2, 0]
    scans = np.full((len(scan_t), 4), 5.0, dtype=np.float32)
    cmds = np.stack([odom[:, 0], np.full(len(odom), 0.5), np.full(len(odom), 0.3)], axis=1)
    r = open_loop_errors(_Unicycle(), odom, scan_t, scans, cmds, every_s=0.5)
    assert r["starts"] == 9                          # starts at 0, 0.5, ..., 4.0 (2 s must fit in 6 s)
    assert r["1.0"]["n"] == 9 and r["1.0"]["max_m"] < 1e-4 and r["2.0"]["max_m"] < 1e-4
    stale = cmds.copy()
    stale[:, 1] = 0.0                                # the model is told the robot stood still
    r = open_loop_errors(_Unicycle(), odom, scan_t, scans, stale, every_s=0.5)
    assert r["1.0"]["mean_m"] == pytest.approx(0.5, abs=0.01)   # ~0.5 m/s x 1 s (chord of a gentle arc)
    assert r["2.0"]["mean_m"] == pytest.approx(0.98, abs=0.03)
