#!/usr/bin/env python3
"""Where a world model's pose error on dynamic ground comes from: a diagnosis on a held-out set.

    python scripts/dynamics_diagnosis.py --model models/husky_default.pt --data test/data/wm_eval \
        --sysid models/husky_sysid.json

Prints, for the 2 s open-loop position error (``wmp eval-model``'s windows: every 5th start with
3 s of data after it) of each slice (static, terrain, payload, latency, movers):

1. the world model against ``classic_id``, split by whether the robot touched something in the
   window's first 2 s (contact is where a scan-reading model can know more than kinematics);
2. for the windows without contact, ``classic_id`` with the recorded forward speed v in place of
   its own, and with the recorded yaw rate w in place of its own, next to the recorded v and w
   both (not a model: what a perfect velocity model would give). The axis whose substitution
   closes the gap is the one the models get wrong;
3. ``classic_id`` fitted on each held-out episode itself (an oracle fit: the best a lag, gain
   and delay per episode could do), against the fit on the training data (an episode with too
   little motion to fit keeps the training-data fit);
4. windows where the robot is stuck: it had not moved (|v| < 0.08 m/s over the last second)
   although commanded forward (|v_cmd| > 0.2 m/s), e.g. in mud under a heavy payload;
5. the world model against ``classic_id`` on windows where the ground under the robot stays the
   same for the 2 s, and on those where it drives onto other ground within them (ground the
   lidar cannot see and the past second cannot tell);
6. what the model's second of history buys: its error with the history against the same model
   with the history cut (every row marked invalid, as at start-up, which training covers).

No ROS, no sim: the recorded transitions only. ``--stride`` thins the windows (a quick run). A
model that also reads the camera (``wmp train --image``) needs data with frames (``wmp collect
--image``; the same seeds give the same episodes with or without them).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

HORIZON_S = 2.0
STUCK_V_MPS = 0.08
STUCK_CMD_MPS = 0.2


def _velocities(params, data, starts: np.ndarray, steps: int) -> np.ndarray:
    """classic_id's predicted (v, w) for each window: (W, steps + 1, 2), row 0 the measured."""
    from world_model_planner.planner_node import sysid
    from world_model_planner.world_model_node.history import history_from_rows

    past = history_from_rows(data.cmd, data.vel, data.episode, starts, sysid.MAX_DELAY_STEPS)   # the pending commands
    out = np.zeros((len(starts), steps + 1, 2))
    for i, t in enumerate(starts):
        sent = past.cmd[i][past.valid[i]]                     # the episode's commands before t, oldest first
        out[i] = sysid.response(params, data.cmd[t:t + steps], data.vel[t], sent if len(sent) else None)
    return out


def diagnose(model, data, sysid_params, stride: int = 5, robot: str = "husky") -> dict:
    """-> {"windows", "steps", "slices": {name: {...}}}; the numbers the module docstring lists."""
    import torch

    from world_model_planner.planner_node import sysid
    from world_model_planner.planner_node.dynamics import LearnedModel, SysIdModel
    from world_model_planner.world_model_node import eval_windows as ew
    from world_model_planner.world_model_node.draws import floor_ground
    from world_model_planner.world_model_node.evaluate import HORIZONS_S, CameraRollout, _rollouts, unicycle_rollout

    dt = float(model.dt_s)
    steps = int(round(HORIZON_S / dt))
    hmax = int(round(max(HORIZONS_S) / dt))
    starts = data.window_starts(hmax)[::stride]
    if len(starts) == 0:
        raise ValueError(f"no episode has {hmax + 1} rows")
    rows = starts[:, None] + np.arange(steps + 1)
    truth = data.pose[rows[:, 1:]]
    cmds = data.cmd[rows[:, :-1]]
    none = np.zeros(len(starts), bool)

    def err(poses: np.ndarray, which=slice(None)) -> np.ndarray:
        return np.linalg.norm(poses[:, steps - 1, :2] - truth[which, steps - 1, :2], axis=-1)

    def integrate(vel: np.ndarray) -> np.ndarray:
        return unicycle_rollout(data.pose[starts], 0.5 * (vel[:, :-1] + vel[:, 1:]), dt)

    camera = bool(getattr(model.cfg, "use_image", False))
    if camera and data.image is None:
        raise ValueError("this world model reads camera frames and the data has none (collect with --image)")
    lm = CameraRollout(model) if camera else LearnedModel(model)       # the planner's interface, or eval-model's
    with torch.no_grad():
        e_model = err(_rollouts(lm, data, starts, cmds, none)[0])
    e_cut = np.full(len(starts), np.nan)
    if model.history_steps:
        from world_model_planner.world_model_node.history import History, history_from_rows

        hist = history_from_rows(data.cmd, data.vel, data.episode, starts, model.history_steps, data.scan)
        with torch.no_grad():
            for i, t in enumerate(starts):
                cut = History(hist.cmd[i], hist.vel[i], np.zeros_like(hist.valid[i]),
                              None if hist.scan is None else hist.scan[i])
                extra = {"image": data.image[t]} if camera else {}
                state = lm.reset_state(data.pose[t], data.vel[t], data.scan[t], history=cut, **extra)
                poses = lm.rollout(state, torch.as_tensor(cmds[i][None], dtype=torch.float32)).poses
                e_cut[i] = np.linalg.norm(poses[0, steps - 1, :2].cpu().numpy() - truth[i, steps - 1, :2])
    cid = SysIdModel(sysid_params)
    e_cid = err(_rollouts(cid, data, starts, cmds, none)[0])
    measured = data.vel[rows]
    v_cid = _velocities(sysid_params, data, starts, steps)
    e_meas = err(integrate(measured))
    e_true_v = err(integrate(np.stack([measured[..., 0], v_cid[..., 1]], -1)))
    e_true_w = err(integrate(np.stack([v_cid[..., 0], measured[..., 1]], -1)))
    # the oracle: classic_id fitted on each held-out episode's own rows (contact rows left out)
    e_oracle = np.zeros(len(starts))
    failed = 0
    for ep in np.unique(data.episode[starts]):
        mine = np.flatnonzero(data.episode == ep)
        try:
            fit = sysid.fit(data.cmd[mine], data.vel[mine], data.episode[mine], dt,
                            exclude=np.asarray(data.collision[mine]) > 0)
            pm = SysIdModel(fit)
        except sysid.SysIdError:            # e.g. a robot stuck all episode long: nothing to fit
            failed += 1
            pm = cid                        # the training-data fit stands in
        w = np.flatnonzero(data.episode[starts] == ep)
        e_oracle[w] = err(_rollouts(pm, data, starts[w], cmds[w], none[w])[0], w)
    contact = np.asarray(data.collision)[rows[:, :-1]].any(1)
    before = np.clip(starts[:, None] - np.arange(int(round(1.0 / dt)) + 1)[::-1], 0, None)   # the last second
    same = data.episode[before] == data.episode[starts][:, None]
    v_past = np.where(same, np.abs(data.vel[before, 0]), 0.0).max(1)
    c_past = np.where(same, np.abs(data.cmd[before, 0]), 0.0).max(1)
    stuck = (v_past < STUCK_V_MPS) & (c_past > STUCK_CMD_MPS)
    masks = ew.slice_masks(data, starts, hmax, np.asarray(floor_ground(robot)))
    ground = np.asarray(data.ground, np.float64)[rows]                                 # (W, steps + 1, 3)
    changes = (np.abs(ground - ground[:, :1]) > 1e-4).any(-1).any(-1)

    def mean(x: np.ndarray, m: np.ndarray) -> float | None:
        v = x[m & np.isfinite(x)]
        return float(v.mean()) if len(v) else None

    out = {"windows": int(len(starts)), "horizon_s": steps * dt, "oracle_fits_failed": failed, "slices": {}}
    for name, m in masks.items():
        free, hit, st = m & ~contact, m & contact, m & stuck
        out["slices"][name] = {
            "windows": int(m.sum()), "n_no_contact": int(free.sum()), "n_contact": int(hit.sum()), "n_stuck": int(st.sum()),
            "model": {"all": mean(e_model, m), "no_contact": mean(e_model, free), "contact": mean(e_model, hit),
                      "stuck": mean(e_model, st)},
            "classic_id": {"no_contact": mean(e_cid, free), "contact": mean(e_cid, hit), "stuck": mean(e_cid, st)},
            "no_contact_axes": {"classic_id_true_v": mean(e_true_v, free), "classic_id_true_w": mean(e_true_w, free),
                           "measured_v_w": mean(e_meas, free), "classic_id_fitted_per_episode": mean(e_oracle, free)},
            "stuck_measured_v_w": mean(e_meas, st),
            "n_ground_same": int((m & ~changes).sum()), "n_ground_changes": int((m & changes).sum()),
            "ground_same": {"model": mean(e_model, m & ~changes), "classic_id": mean(e_cid, m & ~changes)},
            "ground_changes": {"model": mean(e_model, m & changes), "classic_id": mean(e_cid, m & changes)},
            "model_history_cut": mean(e_cut, m)}
    return out


def _fmt(x) -> str:
    return "   -  " if x is None else f"{x:6.3f}"


def _ratio(a, b) -> str:
    return "   -  " if a is None or b is None or b <= 0 else f"{a / b:5.2f}x"


def _two_way(d: dict, title: str, heads: tuple[str, str], pick) -> list[str]:
    """A table of model against classic_id on two complementary sets of windows per slice;
    pick(slice dict) -> ((n, model, cid), (n, model, cid))."""
    lines = ["", title, f"{'slice':<9}{heads[0]:>7}{'model':>8}{'cid':>8}{'ratio':>8}   "
                        f"{heads[1]:>6}{'model':>8}{'cid':>8}{'ratio':>8}"]
    for name, s in d["slices"].items():
        (na, ma, ca), (nb, mb, cb) = pick(s)
        lines.append(f"{name:<9}{na:>7}{_fmt(ma):>8}{_fmt(ca):>8}{_ratio(ma, ca):>8}   "
                     f"{nb:>6}{_fmt(mb):>8}{_fmt(cb):>8}{_ratio(mb, cb):>8}")
    return lines


def report(d: dict) -> str:
    lines = [f"{d['windows']} windows; position error (m) at {d['horizon_s']:.1f} s, open loop on the recorded commands"]
    lines += _two_way(d, "1. world model against classic_id, by contact in the window", ("n free", "n hit"),
                      lambda s: ((s["n_no_contact"], s["model"]["no_contact"], s["classic_id"]["no_contact"]),
                                 (s["n_contact"], s["model"]["contact"], s["classic_id"]["contact"])))
    lines += ["", "2./3. windows without contact: which velocity axis the error is in, and a per-episode fit",
              f"{'slice':<9}{'cid':>8}{'cid+v':>8}{'cid+w':>8}{'v,w':>8}{'cid/ep':>8}   (cid+v: the recorded forward "
              f"speed in place of classic_id's; v,w: both recorded; cid/ep: fitted on the episode itself)"]
    for name, s in d["slices"].items():
        n = s["no_contact_axes"]
        lines.append(f"{name:<9}{_fmt(s['classic_id']['no_contact']):>8}{_fmt(n['classic_id_true_v']):>8}"
                     f"{_fmt(n['classic_id_true_w']):>8}{_fmt(n['measured_v_w']):>8}"
                     f"{_fmt(n['classic_id_fitted_per_episode']):>8}")
    if d["oracle_fits_failed"]:
        lines.append(f"({d['oracle_fits_failed']} episodes could not be fitted on their own: cid/ep takes the "
                     f"training-data fit there)")
    lines += ["", f"4. stuck windows (|v| < {STUCK_V_MPS} m/s over the last second while commanded > {STUCK_CMD_MPS} m/s)",
              f"{'slice':<9}{'n':>5}{'model':>8}{'cid':>8}{'v,w':>8}"]
    for name, s in d["slices"].items():
        lines.append(f"{name:<9}{s['n_stuck']:>5}{_fmt(s['model']['stuck']):>8}{_fmt(s['classic_id']['stuck']):>8}"
                     f"{_fmt(s['stuck_measured_v_w']):>8}")
    lines += _two_way(d, "5. world model against classic_id, by whether the ground changes within the window",
                      ("n same", "n new"),
                      lambda s: ((s["n_ground_same"], s["ground_same"]["model"], s["ground_same"]["classic_id"]),
                                 (s["n_ground_changes"], s["ground_changes"]["model"],
                                  s["ground_changes"]["classic_id"])))
    lines += ["", "6. the world model with its second of history and with the history cut",
              f"{'slice':<9}{'n':>5}{'model':>8}{'cut':>8}"]
    for name, s in d["slices"].items():
        lines.append(f"{name:<9}{s['windows']:>5}{_fmt(s['model']['all']):>8}{_fmt(s['model_history_cut']):>8}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="world model checkpoint (.pt)")
    ap.add_argument("--data", required=True, help="held-out transitions (a folder of shards, as for wmp eval-model)")
    ap.add_argument("--sysid", required=True, help="classic_id fit (wmp sysid) on the training data")
    ap.add_argument("--stride", type=int, default=5, help="every n-th window start (default 5, as eval-model)")
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args(argv)
    if args.stride < 1:
        print("dynamics_diagnosis: --stride: expected >= 1", file=sys.stderr)
        return 2
    import torch

    from world_model_planner.core.safeio import atomic_write_text
    from world_model_planner.planner_node import sysid
    from world_model_planner.world_model_node.checkpoint import CheckpointError, load_checkpoint
    from world_model_planner.world_model_node.data import DataError, load_dataset

    torch.set_num_threads(1)
    try:
        model = load_checkpoint(args.model, device="cpu")
        data = load_dataset(args.data)
        params = sysid.load(args.sysid)
        robots = {str(e.get("robot") or "husky") for e in data.meta.get("episodes", {}).values()} or {"husky"}
        result = diagnose(model, data, params, args.stride, robot=sorted(robots)[0])
    except (CheckpointError, DataError, sysid.SysIdError, ValueError, OSError) as exc:
        print(f"dynamics_diagnosis: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2
    print(report(result))
    if args.json:
        import json

        atomic_write_text(args.json, json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
