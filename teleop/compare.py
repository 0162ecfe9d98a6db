"""Comparison metrics for sessions (pure functions) and the world model's open-loop check.

:func:`session_metrics` is the definition of every number in the report (see its docstring);
:func:`open_loop_errors` rolls the world model forward under a session's recorded commands
and measures where it thought the robot would be against where it was.
No rclpy here.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from world_model_planner.core import metrics as episode_metrics
from world_model_planner.core.mathutil import angle_diff, wrap_angle
from world_model_planner.core.params import CMD_TIMEOUT_S

METRIC_KEYS = ("success", "time_s", "path_length_m", "spl", "collisions", "min_clearance_m",
               "mean_abs_jerk_mps3", "time_stopped_s", "interventions")


def mean_abs_jerk(t_s: np.ndarray, v_mps: np.ndarray) -> float | None:
    """Mean |d²v/dt²| of forward speed (m/s³) by finite differences.

    a_i = (v_{i+1} - v_i) / (t_{i+1} - t_i) at the interval midpoints m_i;
    j_k = (a_{k+1} - a_k) / (m_{k+1} - m_k). None with fewer than 3 samples.
    """
    t, v = np.asarray(t_s, float), np.asarray(v_mps, float)
    if len(t) < 3:
        return None
    dt = np.diff(t)
    ok = dt > 0
    if ok.sum() < 2:
        return None
    t, v = np.concatenate([t[:1], t[1:][ok]]), np.concatenate([v[:1], v[1:][ok]])
    a = np.diff(v) / np.diff(t)
    mid = 0.5 * (t[1:] + t[:-1])
    j = np.diff(a) / np.diff(mid)
    return float(np.mean(np.abs(j)))


def time_stopped(t_s: np.ndarray, v_mps: np.ndarray, w_radps: np.ndarray,
                 stop_speed_mps: float = 0.05, stop_turn_radps: float = 0.05) -> float:
    """Seconds during which |v| < stop_speed and |w| < stop_turn (sample i holds until i+1)."""
    t = np.asarray(t_s, float)
    if len(t) < 2:
        return 0.0
    still = (np.abs(np.asarray(v_mps)[:-1]) < stop_speed_mps) & (np.abs(np.asarray(w_radps)[:-1]) < stop_turn_radps)
    return float(np.sum(np.diff(t)[still]))


def session_metrics(odom: np.ndarray, goal_xy: Sequence[float], tolerance_m: float,
                    shortest_m: float | None = None, t0_s: float | None = None,
                    collisions: Sequence[tuple[float, int]] = (),
                    clearances: Sequence[tuple[float, float]] = (),
                    interventions: int = 0, stop_speed_mps: float = 0.05,
                    stop_turn_radps: float = 0.05) -> dict:
    """Metrics of one session.

    odom: (N, 6) t_s, x, y, yaw, v, w. The evaluated window runs from the first sample at or
    after ``t0_s`` (default: the first sample; sessions use the goal's stamp) to the first
    sample within ``tolerance_m`` of the goal (success) or the last sample (failure).

    success: the goal was reached. time_s: window duration. path_length_m: sum of steps.
    spl: success · shortest / max(path, shortest) (shortest None → straight line minus
    tolerance). collisions: increase of the sim's cumulative contact-onset count over the
    window (``collisions`` = [(t_s, count)]). min_clearance_m: smallest sim clearance in the
    window (None without diagnostics). mean_abs_jerk_mps3: :func:`mean_abs_jerk` of v.
    time_stopped_s: :func:`time_stopped`. interventions: passed through.
    """
    od = np.asarray(odom, float).reshape(-1, 6)
    t0 = od[0, 0] if t0_s is None else float(t0_s)
    start = int(np.searchsorted(od[:, 0], t0 - 1e-9))
    start = min(start, len(od) - 1)
    w = od[start:]
    gx, gy = float(goal_xy[0]), float(goal_xy[1])
    dist = np.hypot(w[:, 1] - gx, w[:, 2] - gy)
    hit = np.nonzero(dist <= tolerance_m)[0]
    success = bool(len(hit))
    end = int(hit[0]) if success else len(w) - 1
    w = w[:end + 1]
    t_a, t_b = float(w[0, 0]), float(w[-1, 0])
    length = episode_metrics.path_length_m(w[:, 1:3])
    if shortest_m is None:
        shortest_m = max(math.hypot(w[0, 1] - gx, w[0, 2] - gy) - tolerance_m, 0.0)
    in_win = [c for t, c in collisions if t_a - 1e-9 <= t <= t_b + 1e-9]
    before = [c for t, c in collisions if t < t_a - 1e-9]
    base = before[-1] if before else (in_win[0] if in_win else 0)
    n_coll = max((max(in_win) - base) if in_win else 0, 0)
    clear = [c for t, c in clearances if t_a - 1e-9 <= t <= t_b + 1e-9 and math.isfinite(c)]
    return {
        "success": success,
        "time_s": t_b - t_a,
        "path_length_m": length,
        "spl": episode_metrics.spl(success, float(shortest_m), length),
        "collisions": int(n_coll),
        "min_clearance_m": min(clear) if clear else None,
        "mean_abs_jerk_mps3": mean_abs_jerk(w[:, 0], w[:, 4]),
        "time_stopped_s": time_stopped(w[:, 0], w[:, 4], w[:, 5], stop_speed_mps, stop_turn_radps),
        "interventions": int(interventions),
        "final_distance_m": float(dist[end]),
        "shortest_path_m": float(shortest_m),
        "t_start_s": t_a,
        "t_end_s": t_b,
    }


def differences(a: dict, b: dict) -> dict:
    """a − b for every numeric metric (success as 0/1); None where either is missing."""
    out = {}
    for k in METRIC_KEYS:
        x, y = a.get(k), b.get(k)
        out[k] = None if x is None or y is None else float(x) - float(y)
    return out


# -- world model: open-loop prediction of recorded commands --------------------------------

def held_command(cmds: np.ndarray, t_s: np.ndarray, timeout_s: float = CMD_TIMEOUT_S) -> np.ndarray:
    """The command in effect at each time: the latest with stamp ≤ t, zero when it is older
    than ``timeout_s`` (the sim stops on stale commands). cmds (K, 3) t, v, w -> (T, 2)."""
    t_s = np.asarray(t_s, float)
    out = np.zeros((len(t_s), 2))
    if len(cmds) == 0:
        return out
    idx = np.searchsorted(cmds[:, 0], t_s + 1e-9, side="right") - 1
    ok = (idx >= 0)
    ok[ok] &= (t_s[ok] - cmds[idx[ok], 0]) <= timeout_s
    out[ok] = cmds[idx[ok], 1:3]
    return out


def open_loop_errors(model, odom: np.ndarray, scan_t: np.ndarray, scans: np.ndarray,
                     cmds: np.ndarray, horizons_s: Sequence[float] = (1.0, 2.0),
                     every_s: float = 0.5, t_window: tuple[float, float] | None = None) -> dict:
    """Roll ``model`` forward from recorded observations under the recorded commands.

    Starts every ``every_s`` at scan times (inside ``t_window``); each start encodes
    (pose, vel, scan) at that time and rolls out H = max(horizon)/dt model steps with the
    command held at each step start (:func:`held_command`). Truth is the recorded odom pose
    at start + h (linear interpolation). Returns {"1.0": {"mean_m", "median_m", "max_m",
    "yaw_mean_rad", "n"}, ...} and "starts": number of start points.
    """
    import torch

    from world_model_planner.world_model_node.model import observation

    odom = np.asarray(odom, float)
    dt = float(model.dt_s)
    steps = [int(round(h / dt)) for h in horizons_s]
    horizon = max(steps)
    t_lo, t_hi = (odom[0, 0], odom[-1, 0]) if t_window is None else t_window
    starts, last = [], -math.inf
    for i, ts in enumerate(scan_t):
        if ts < max(t_lo, odom[0, 0]) or ts + horizon * dt > min(t_hi, odom[-1, 0]) + 1e-6:
            continue
        if ts - last >= every_s - 1e-9:
            starts.append(i)
            last = ts
    result: dict = {"starts": len(starts)}
    if not starts:
        for h in horizons_s:
            result[f"{h:.1f}"] = {"mean_m": None, "median_m": None, "max_m": None,
                                  "yaw_mean_rad": None, "n": 0}
        return result
    ts = scan_t[starts]
    state = np.stack([np.interp(ts, odom[:, 0], odom[:, c]) for c in (1, 2, 4, 5)], axis=1)
    yaw = _interp_angle(ts, odom[:, 0], odom[:, 3])
    pose0 = np.stack([state[:, 0], state[:, 1], yaw], axis=1)
    times = ts[:, None] + dt * np.arange(horizon)[None, :]            # (B, H) step starts
    actions = held_command(cmds, times.reshape(-1)).reshape(len(ts), horizon, 2)
    dev = model.device
    with torch.no_grad():
        z0 = model.encode(observation(torch.tensor(pose0, dtype=torch.float32, device=dev),
                                      torch.tensor(state[:, 2:4], dtype=torch.float32, device=dev),
                                      torch.tensor(scans[starts], dtype=torch.float32, device=dev)))
        z = model.rollout(z0, torch.tensor(actions, dtype=torch.float32, device=dev))
        pred = model.pose(z).cpu().numpy()                               # (B, H, 3)
    for h, k in zip(horizons_s, steps):
        tt = ts + k * dt
        tx, ty = np.interp(tt, odom[:, 0], odom[:, 1]), np.interp(tt, odom[:, 0], odom[:, 2])
        tyaw = _interp_angle(tt, odom[:, 0], odom[:, 3])
        err = np.hypot(pred[:, k - 1, 0] - tx, pred[:, k - 1, 1] - ty)
        yerr = np.abs(angle_diff(pred[:, k - 1, 2], tyaw))
        result[f"{h:.1f}"] = {"mean_m": float(err.mean()), "median_m": float(np.median(err)),
                              "max_m": float(err.max()), "yaw_mean_rad": float(yerr.mean()),
                              "n": int(len(err))}
    return result


def _interp_angle(t: np.ndarray, tp: np.ndarray, ang: np.ndarray) -> np.ndarray:
    un = np.unwrap(ang)
    return wrap_angle(np.interp(t, tp, un))
