"""Open-loop evaluation against two baselines, and collision AUROC.

From every evaluation start t (every ``stride`` rows, with max(horizons) rows following in the
same episode), each predictor gets the observation at t and the commanded actions
cmd[t .. t+H-1], and is compared with the recorded pose at t+k (position error, metres):

    model              z_0 = encode(obs_t); z_k = rollout(z_0, cmd)      (open loop)
    constant_velocity  the measured (v, w) at t held for the whole horizon
    unicycle           ideal unicycle kinematics integrating the commanded (v, w)

``collision_auroc``: AUROC of the one-step collision logit (predict(encode(obs_t), cmd_t))
against the recorded contact flag of step t, over every row. ``collision_auroc_by_horizon``:
the same for open-loop rollout step k against the flag of step t+k-1.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from world_model_planner.world_model_node.data import Transitions
from world_model_planner.core.mathutil import wrap_angle
from world_model_planner.world_model_node.model import observation

HORIZONS_S = (0.5, 1.0, 2.0, 3.0)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half); None when a class is missing."""
    from scipy.stats import rankdata

    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def unicycle_rollout(pose0: np.ndarray, vw: np.ndarray, dt_s: float) -> np.ndarray:
    """pose0 (B, 3), vw (B, H, 2) held per step, exact arcs -> poses (B, H, 3)."""
    x, y, th = pose0[:, 0].astype(np.float64), pose0[:, 1].astype(np.float64), pose0[:, 2].astype(np.float64)
    out = np.zeros(vw.shape[:2] + (3,))
    for k in range(vw.shape[1]):
        v, w = vw[:, k, 0], vw[:, k, 1]
        dth = w * dt_s
        small = np.abs(dth) < 1e-6
        safe_w = np.where(small, 1.0, w)
        dx = np.where(small, v * dt_s * np.cos(th), v / safe_w * (np.sin(th + dth) - np.sin(th)))
        dy = np.where(small, v * dt_s * np.sin(th), -v / safe_w * (np.cos(th + dth) - np.cos(th)))
        x, y, th = x + dx, y + dy, th + dth
        out[:, k] = np.stack([x, y, th], -1)
    return out


@torch.no_grad()
def evaluate(model, data: Transitions, horizons_s=HORIZONS_S, stride: int = 5, batch: int = 1024) -> dict:
    """-> the eval dict (see module docstring); errors for every step 1..H in "*_curve"."""
    dt = float(model.dt_s)
    data_dt = float(np.median(data.dt)) if len(data) else dt
    if abs(data_dt - dt) > 1e-3:
        raise ValueError(f"data rows are {data_dt:.3f} s apart, the model steps {dt:.3f} s")
    steps = [int(round(h / dt)) for h in horizons_s]
    hmax = max(steps)
    starts = data.window_starts(hmax)[::stride]
    if len(starts) == 0:
        raise ValueError(f"no episode has {hmax + 1} rows ({hmax * dt:.1f} s); cannot evaluate")
    rows = starts[:, None] + np.arange(hmax + 1)  # (W, H+1)
    truth = data.pose[rows[:, 1:]]  # (W, H, 3)
    cmds = data.cmd[rows[:, :-1]]  # (W, H, 2)
    dev = model.device
    preds = []
    for i in range(0, len(starts), batch):
        r = starts[i:i + batch]
        obs = observation(data.pose[r], data.vel[r], data.scan[r],
                          data.image[r] if model.cfg.use_image else None, channels_last=True)
        z = model.rollout(model.encode(obs), torch.as_tensor(cmds[i:i + batch], device=dev))
        preds.append(model.pose(z).cpu().numpy())
    pred = {"model": np.concatenate(preds),
            "constant_velocity": unicycle_rollout(data.pose[starts], np.repeat(data.vel[starts][:, None], hmax, 1), dt),
            "unicycle": unicycle_rollout(data.pose[starts], cmds, dt)}
    out: dict = {"horizons_s": [float(h) for h in horizons_s]}
    for name, p in pred.items():
        err = np.linalg.norm(p[..., :2] - truth[..., :2], axis=-1)  # (W, H)
        yaw = np.abs(wrap_angle(p[..., 2] - truth[..., 2]))
        out[name] = {"pose_err_m": [float(err[:, s - 1].mean()) for s in steps],
                     "yaw_err_rad": [float(yaw[:, s - 1].mean()) for s in steps],
                     "pose_err_curve_m": [float(e) for e in err.mean(0)]}
    # collision: one step over all rows, and along the open-loop rollouts
    one = data.window_starts(1)
    logits = []
    for i in range(0, len(one), batch):
        r = one[i:i + batch]
        obs = observation(data.pose[r], data.vel[r], data.scan[r],
                          data.image[r] if model.cfg.use_image else None, channels_last=True)
        z1 = model.predict(model.encode(obs), torch.as_tensor(data.cmd[r], device=dev))
        logits.append(model.collision_logit(z1).cpu().numpy())
    out["collision_auroc"] = auroc(np.concatenate(logits), data.collision[one]) if len(one) else None
    by_h = []
    for s in steps:
        lg = []
        for i in range(0, len(starts), batch):
            r = starts[i:i + batch]
            obs = observation(data.pose[r], data.vel[r], data.scan[r],
                                  data.image[r] if model.cfg.use_image else None, channels_last=True)
            z = model.rollout(model.encode(obs), torch.as_tensor(cmds[i:i + batch, :s], device=dev))
            lg.append(model.collision_logit(z[:, -1]).cpu().numpy())
        by_h.append(auroc(np.concatenate(lg), data.collision[starts + s - 1]))
    out["collision_auroc_by_horizon"] = by_h
    out["windows"] = int(len(starts))
    out["episodes"] = int(len(np.unique(data.episode[starts])))
    out["rows"] = len(data)
    out["collision_rate"] = float(data.collision.mean())
    out["dt_s"] = dt
    return out


def plot(result: dict, path) -> None:
    """PNG: mean position error vs horizon for the model and both baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    dt = result["dt_s"]
    for name, style in (("model", "-"), ("unicycle", "--"), ("constant_velocity", ":")):
        curve = result[name]["pose_err_curve_m"]
        t = dt * np.arange(1, len(curve) + 1)
        ax.plot(t, curve, style, label=name.replace("_", " "))
    ax.set_xlabel("horizon (s)")
    ax.set_ylabel("mean position error (m)")
    auc = result.get("collision_auroc")
    ax.set_title(f"open-loop error ({result['windows']} windows, {result['episodes']} episodes)"
                 + (f"\ncollision AUROC {auc:.3f}" if auc is not None else ""), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    from world_model_planner.core.safeio import atomic_path

    with atomic_path(path) as tmp:    # keeps the .png suffix, so matplotlib picks the format
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def summary(result: dict) -> str:
    """Human-readable table of the eval dict."""
    lines = ["horizon_s    " + "  ".join(f"{h:>6.1f}" for h in result["horizons_s"])]
    for name in ("model", "unicycle", "constant_velocity"):
        lines.append(f"{name[:12]:<12} " + "  ".join(f"{e:6.3f}" for e in result[name]["pose_err_m"]))
    auc = result["collision_auroc"]
    lines.append(f"collision AUROC (1 step): {'n/a' if auc is None else f'{auc:.3f}'}; by horizon: "
                 + ", ".join("n/a" if a is None else f"{a:.3f}" for a in result["collision_auroc_by_horizon"]))
    return "\n".join(lines)


def nan_to_none(x):
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [nan_to_none(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
