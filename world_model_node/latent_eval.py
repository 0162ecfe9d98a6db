"""Does the predictor forecast its own learned latent? ``wmp eval-model``'s ``latent_forecast``
(:func:`latent_forecast`), and the pieces that split the learned latent h into what the robot's
own motion moves (:func:`motion_directions`) and the rest, what the robot sees.

A goal picture is scored by the predicted h (``planner_node/goal_image.py``), so a predictor that
forecasts nothing of the view leaves such a planner nothing to follow.
``scripts/goal_latent_landscape.py`` uses the same pieces on one picture.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from world_model_planner.world_model_node.data import Transitions
from world_model_planner.world_model_node.model import observation


@torch.no_grad()
def encode_rows(model, data: Transitions, rows: np.ndarray, hist_steps: int) -> torch.Tensor:
    """rows (R,) -> z (R, D): each recorded observation encoded as the planner encodes one (its
    velocity, and the history of ``hist_steps`` rows before it where that is above 0)."""
    from world_model_planner.world_model_node.history import history_from_rows

    hist = history_from_rows(data.cmd, data.vel, data.episode, rows, hist_steps, data.scan) if hist_steps > 0 else None
    img = data.image[rows] if getattr(model.cfg, "use_image", False) else None
    return model.encode(observation(data.pose[rows], data.vel[rows], data.scan[rows], img, channels_last=True,
                                    history=hist))


def project_out(d: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """d (..., dh) without its part along the orthonormal columns of ``basis`` (dh, k)."""
    return d - (d @ basis) @ basis.T if basis.shape[1] else d


@torch.no_grad()
def latent_forecast(model, data: Transitions, starts: np.ndarray, cmds: np.ndarray, steps: list[int],
                    hist_steps: int, batch: int = 512) -> dict:
    """Does the predictor forecast its own learned latent? For each window, h (``latent_h``)
    predicted at step k of the open-loop rollout on the recorded commands, against h of the
    observation recorded at that step, encoded as the planner encodes one (with its velocity and
    history): "pred_err" (mean L2 per horizon); "hold_err" the same for h held at the window's
    start, what a predictor that knows nothing of how the view changes gives; "ratio" pred / hold
    (below 1: the predictor forecasts more than nothing). The "view_" keys measure the same outside
    the directions in which h moves with the robot's own velocity and command history alone
    (:func:`motion_directions`, "motion_dims" of them): the part of h that says what the robot
    sees. A goal picture is scored by exactly this prediction, so a view ratio near 1 leaves a
    planner nothing to follow."""
    dev = model.device

    def encode(rows: np.ndarray) -> torch.Tensor:
        return torch.cat([encode_rows(model, data, rows[i:i + batch], hist_steps) for i in range(0, len(rows), batch)])

    hmax = max(steps)
    basis = motion_directions(model, data, starts[::max(1, len(starts) // 48)])
    z0 = encode(starts)
    z = torch.cat([model.rollout(z0[i:i + batch], torch.as_tensor(cmds[i:i + batch, :hmax], dtype=torch.float32,
                                                                 device=dev))
                   for i in range(0, len(starts), batch)])
    h0, hp = model.latent_h(z0), model.latent_h(z)
    out = {k: [] for k in ("pred_err", "hold_err", "view_pred_err", "view_hold_err")}
    for s in steps:
        ht = model.latent_h(encode(starts + s))
        for key, d in (("pred_err", hp[:, s - 1] - ht), ("hold_err", h0 - ht)):
            out[key].append(float(torch.linalg.norm(d, dim=-1).mean()))
            out["view_" + key].append(float(torch.linalg.norm(project_out(d, basis), dim=-1).mean()))
    out["ratio"] = [p / q if q > 0 else math.nan for p, q in zip(out["pred_err"], out["hold_err"])]
    out["view_ratio"] = [p / q if q > 0 else math.nan for p, q in zip(out["view_pred_err"], out["view_hold_err"])]
    out["motion_dims"] = int(basis.shape[1])
    return out


def motion_histories(n: int, steps: int, v_range=(-0.5, 1.0), w_max: float = 1.0, seed: int = 0):
    """``n`` drawn (velocity (n, 2), batched History) pairs for embedding one observation as the
    robot would see it while moving: a steady command (v in ``v_range`` m/s, w within ±``w_max``
    rad/s) with noise, the measured velocity 30-100 % of it (slip, a load); row 0 has no history
    and no velocity, as a goal is embedded. Seeded: the same draws each time."""
    from world_model_planner.world_model_node.history import History

    g = np.random.default_rng(seed)
    k = max(int(steps), 1)
    steady = np.stack([g.uniform(v_range[0], v_range[1], n), g.uniform(-w_max, w_max, n)], -1)
    cmd = (steady[:, None, :] + g.normal(0.0, 0.1, (n, k, 2))).astype(np.float32)
    vel = (cmd * g.uniform(0.3, 1.0, (n, 1, 1)) + g.normal(0.0, 0.03, (n, k, 2))).astype(np.float32)
    valid = np.ones((n, k), bool)
    cmd[0], vel[0], valid[0] = 0.0, 0.0, False
    return vel[:, -1].copy(), History(cmd, vel, valid)


def motion_basis(latents: torch.Tensor, share: float = 0.999) -> torch.Tensor:
    """latents (..., n, dh): observations each embedded under n motions → (dh, k) orthonormal:
    the fewest principal directions of their spread about each observation's own mean that
    hold ``share`` of it (k = 0 for a share of 0, or a spread no larger than float rounding)."""
    if latents.dim() < 2 or latents.shape[-2] < 2 or not torch.isfinite(latents).all():
        raise ValueError(f"motion latents: expected finite (..., n >= 2, dh), got shape {tuple(latents.shape)}")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"motion share: expected 0..1, got {share}")
    c = (latents - latents.mean(-2, keepdim=True)).reshape(-1, latents.shape[-1]).double()
    u, sv, _ = torch.linalg.svd(c.T, full_matrices=False)
    var = sv ** 2
    # spread at the level of float rounding (a latent that does not read the motion) is none
    if share <= 0 or float(var.sum()) <= 1e-9 * float((latents.double() ** 2).sum()):
        return latents.new_zeros(latents.shape[-1], 0)
    k = int(torch.searchsorted(var.cumsum(0) / var.sum(), torch.tensor(share, dtype=var.dtype) - 1e-12)) + 1
    return u[:, :min(k, u.shape[1])].to(latents.dtype).contiguous()


@torch.no_grad()
def motion_directions(model, data: Transitions, rows: np.ndarray, n: int = 24, share: float = 0.999) -> torch.Tensor:
    """(dh, k): the directions in which the learned latent h of the observations at ``rows``
    moves when only the robot's motion changes (each embedded under :func:`motion_histories`:
    the same scan or frame, other velocities and command histories); ``share`` of that spread.
    What is left of h outside them is what the robot sees. k = 0 for a latent that reads no
    motion (``h_reads_motion`` false)."""
    dev = model.device
    use_image = bool(getattr(model.cfg, "use_image", False))
    hist_steps = int(getattr(model, "history_steps", 0) or 0)
    vel, hist = motion_histories(n, hist_steps)
    lat = []
    for r in rows:
        idx = np.full(n, r)
        obs = observation(data.pose[idx], vel, data.scan[idx], data.image[idx] if use_image else None,
                          channels_last=True, history=hist if hist_steps > 0 else None)
        lat.append(model.latent_h(model.encode(obs)))
    return motion_basis(torch.stack(lat), share) if lat else torch.zeros(model.cfg.h_dims, 0, device=dev)
