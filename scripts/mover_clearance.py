#!/usr/bin/env python3
"""How well can moving obstacles be extrapolated at all? A diagnosis on a held-out set.

    python scripts/mover_clearance.py --data test/data/wm_eval --sysid models/husky_sysid.json

``wmp eval-model`` scores the predicted footprint clearance near movers (windows whose start has
a mover within 3 m) against the truth: the robot's body at the recorded future pose against the
future scan. Both the model's clearance and ``classic_id``'s read the movers through the same
scan tracker (planner_node.tracking), extrapolated at constant velocity. This script takes the
robot's own motion out of it: every predictor below is scored at the recorded future poses, so
what is left is how the movers are predicted:

    scan_frozen       the current scan's points, nothing moves (no tracker)
    tracker_frozen    the tracker's movers held where they are now
    tracker_cv        the tracker's movers at their constant velocity (what the planners use)
    tracker_past_fit  the same discs at a velocity fitted by least squares to the track's last
                      ``--past-s`` seconds (a steadier estimate than the alpha-beta filter's)
    hindsight         the same discs at the velocity the track actually kept over the next
                      ``--horizon-s`` (the tracker run on the future scans): not a predictor,
                      the bound on what a better velocity forecast could reach

Windows are ``wmp eval-model``'s (every 5th start with 3 s of data after it); the tracker sees
the ``--history-s`` of scans before each start, as on the robot; its configuration is the
planners' default, or with ``--centre-behind-surface`` its discs placed behind the nearest return
(tracking.centre_behind_surface). No ROS, no sim, no model.
"""
from __future__ import annotations

import argparse
import copy
import sys

import numpy as np


def _fit_velocity(samples: list, since_s: float) -> np.ndarray | None:
    """Least-squares velocity (2,) of [(t_s, pos (2,))] at or after ``since_s``; None below 3."""
    pts = [(t, p) for t, p in samples if t >= since_s - 1e-6]
    if len(pts) < 3:
        return None
    ts = np.array([t for t, _ in pts])
    ps = np.array([p for _, p in pts])
    a = np.c_[np.ones_like(ts), ts - ts[-1]]
    return np.linalg.lstsq(a, ps, rcond=None)[0][1]


def diagnose(data, sysid_path: str, horizon_s: float = 1.0, history_s: float = 1.0,
             past_s: float = 0.5, stride: int = 5, tracker_cfg=None) -> dict:
    """-> {"windows", "tracked", "true_mean_m", predictor: {"err_m", "bias_m", "err_tracked_m"}}."""
    import torch

    from world_model_planner.planner_node.critics.field import Footprint
    from world_model_planner.planner_node.dynamics import SysIdModel
    from world_model_planner.sim.robots import ROBOTS
    from world_model_planner.world_model_node import eval_windows as ew

    dt = float(np.median(data.dt))
    s = int(round(horizon_s / dt))
    hist = int(round(history_s / dt))
    robots = {str(e.get("robot") or "husky") for e in data.meta.get("episodes", {}).values()}
    spec = ROBOTS.get(robots.pop() if len(robots) == 1 else "husky", ROBOTS["husky"])
    m = SysIdModel.from_file(sysid_path, tracker_cfg=tracker_cfg)
    m.set_geometry(Footprint(spec.length_m, spec.width_m, 5, round_base=spec.round, exact=not spec.round))
    rmax = float(data.meta.get("range_max_m") or 8.0)
    starts = data.window_starts(int(round(3.0 / dt)))[::stride]
    starts = starts[ew.mover_windows(data.mover_dist_m, starts)]
    names = ("scan_frozen", "tracker_frozen", "tracker_cv", "tracker_past_fit", "hindsight")
    pred = {k: [] for k in names}
    truth, tracked = [], []
    for t in starts:
        ep, t0 = data.episode[t], float(data.t_s[t])
        m.tracker.reset()
        seen: dict = {}
        for r in range(max(int(t) - hist, 0), int(t) + 1):
            if data.episode[r] != ep:
                continue
            pts = ew.scan_points(data.scan[r], data.pose[r], rmax)
            if r < t:
                m.tracker.update(float(data.t_s[r]), pts, data.pose[r][:2])
            else:
                m.scene_update(float(data.t_s[r]), pts, data.pose[r][:2])
            for tr in m.tracker.tracks:
                if tr.t_s == float(data.t_s[r]):
                    seen.setdefault(tr.id, []).append((tr.t_s, tr.pos.copy()))
        ahead = copy.deepcopy(m.tracker)
        for r in range(int(t) + 1, int(t) + s + 1):
            ahead.update(float(data.t_s[r]), ew.scan_points(data.scan[r], data.pose[r], rmax), data.pose[r][:2])
        later = {tr.id: tr.pos.copy() for tr in ahead.tracks}
        future = ew.scan_points(data.scan[t + s], data.pose[t + s], rmax)
        truth.append(min(ew.footprint_clearance(future, data.pose[t + s], spec.length_m, spec.width_m)[0],
                         ew.CLEARANCE_CAP_M))
        now = ew.scan_points(data.scan[t], data.pose[t], rmax)
        pred["scan_frozen"].append(min(ew.footprint_clearance(now, data.pose[t + s], spec.length_m, spec.width_m)[0],
                                       ew.CLEARANCE_CAP_M))
        poses = torch.as_tensor(data.pose[t + 1:t + s + 1][None], dtype=torch.float32)
        state = m.scene_state()

        def clear(movers):
            c = m.clearance(poses, {"field": state["field"], "movers": movers})
            return float(np.clip(c[0, -1].item(), 0.0, ew.CLEARANCE_CAP_M)) if c is not None else ew.CLEARANCE_CAP_M

        pred["tracker_cv"].append(clear(state["movers"]))
        moving = [tr for tr in m.tracker.tracks if tr.moving and tr.t_s == t0]
        tracked.append(state["movers"] is not None)
        if state["movers"] is None:
            for k in ("tracker_frozen", "tracker_past_fit", "hindsight"):
                pred[k].append(pred["tracker_cv"][-1])
            continue
        pos, vel, rad = state["movers"]
        past, hind = vel.clone(), vel.clone()
        for i in range(len(pos)):         # the scene's movers and the live moving tracks, by position
            tr = min(moving, key=lambda tr: float(np.linalg.norm(tr.pos - pos[i].numpy())), default=None)
            if tr is None:
                continue
            v = _fit_velocity(seen.get(tr.id, []), t0 - past_s)
            if v is not None:
                past[i] = torch.as_tensor(v, dtype=torch.float32)
            if tr.id in later:
                hind[i] = torch.as_tensor((later[tr.id] - tr.pos) / (s * dt), dtype=torch.float32)
        pred["tracker_frozen"].append(clear((pos, vel * 0.0, rad)))
        pred["tracker_past_fit"].append(clear((pos, past, rad)))
        pred["hindsight"].append(clear((pos, hind, rad)))
    truth, tracked = np.asarray(truth), np.asarray(tracked, bool)
    out = {"windows": int(len(truth)), "tracked": int(tracked.sum()), "horizon_s": s * dt,
           "true_mean_m": float(truth.mean()) if len(truth) else float("nan")}
    for k in names:
        e = np.asarray(pred[k]) - truth
        out[k] = {"err_m": float(np.abs(e).mean()) if len(e) else float("nan"),
                  "bias_m": float(e.mean()) if len(e) else float("nan"),
                  "err_tracked_m": float(np.abs(e[tracked]).mean()) if tracked.any() else float("nan")}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--data", required=True, help="held-out transitions (wmp collect) with mover labels")
    ap.add_argument("--sysid", required=True, help="a classic_id fit (its tracker configuration is the default)")
    ap.add_argument("--horizon-s", type=float, default=1.0, help="prediction horizon (s)")
    ap.add_argument("--history-s", type=float, default=1.0, help="scans the tracker sees before a window (s)")
    ap.add_argument("--past-s", type=float, default=0.5, help="track history for tracker_past_fit (s)")
    ap.add_argument("--stride", type=int, default=5, help="every n-th window start")
    ap.add_argument("--centre-behind-surface", action="store_true",
                    help="the tracker with tracking.centre_behind_surface on (default: the planners' default)")
    a = ap.parse_args(argv)
    for name in ("horizon_s", "history_s", "past_s"):
        if not 0.05 <= getattr(a, name) <= 10.0:
            ap.error(f"--{name.replace('_', '-')}: expected 0.05..10 s, got {getattr(a, name)}")
    if a.stride < 1:
        ap.error(f"--stride: expected >= 1, got {a.stride}")
    from world_model_planner.world_model_node.data import DataError, load_dataset

    try:
        data = load_dataset(a.data)
        from world_model_planner.planner_node.tracking import TrackerConfig

        cfg = TrackerConfig(centre_behind_surface=True) if a.centre_behind_surface else None
        res = diagnose(data, a.sysid, a.horizon_s, a.history_s, a.past_s, a.stride, cfg)
    except (DataError, OSError, ValueError) as exc:
        print(f"mover_clearance: {exc}", file=sys.stderr)
        return 2
    if not res["windows"]:
        print("mover_clearance: no window has a mover within 3 m at its start", file=sys.stderr)
        return 2
    print(f"{res['windows']} windows with a mover within 3 m ({res['tracked']} with a moving track); "
          f"true clearance at {res['horizon_s']:.1f} s: mean {res['true_mean_m']:.3f} m; "
          "every predictor at the recorded future poses")
    print(f"{'predictor':<18} {'error (m)':>10} {'bias (m)':>9} {'tracked windows':>16}")
    for k in ("scan_frozen", "tracker_frozen", "tracker_cv", "tracker_past_fit", "hindsight"):
        r = res[k]
        print(f"{k:<18} {r['err_m']:>10.3f} {r['bias_m']:>+9.3f} {r['err_tracked_m']:>16.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
