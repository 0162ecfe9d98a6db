"""Training objective: multi-step latent prediction (JEPA) + VICReg + supervised heads.

For a window of K steps (obs_0..obs_K, a_0..a_{K-1}, collision_0..collision_{K-1})::

    z_0 = model.encode(obs_0)                      online encoder, gradients flow
    z_k = model.predict(z_{k-1}, a_{k-1})          k = 1..K, open loop
    h*_k = target_encoder(obs_k)                   EMA copy of the encoder, no gradient

    latent    = mean_k |h(z_k) - h*_k|^2           JEPA: predict the future in latent space
    variance  = mean_j relu(1 - std_j(h(z_0)))     VICReg: keep each latent dimension alive
    covariance= sum_{i!=j} C_ij^2 / d              VICReg: decorrelate latent dimensions
    pose      = mean_k |xy_k - xy*_k|^2 + (1 - cos(yaw_k - yaw*_k))   metres^2
    velocity  = mean_k |(v, w)_k - (v, w)*_k|^2 (normalised)
    collision = BCE(collision_logit(z_k), collision_{k-1}), averaged with the same BCE on the
                target latents (pose, vel_k, h*_k) of the real observations

Without the variance/covariance terms the cheapest way to make the latent term small is to
map every observation to the same h (collapse); test_wm_anticollapse shows it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from world_model_planner.core.params import param, validate

from world_model_planner.world_model_node.model import ObsEncoder, WorldModel, observation


@dataclass
class LossWeights:
    """Weights of the loss terms (0 switches a term off)."""

    latent: float = param(1.0, "JEPA multi-step latent prediction weight.", range=(0.0, 1e4))
    variance: float = param(1.0, "VICReg variance hinge weight (anti-collapse).", range=(0.0, 1e4))
    covariance: float = param(0.04, "VICReg covariance weight.", range=(0.0, 1e4))
    pose: float = param(10.0, "Pose prediction weight (metres^2).", range=(0.0, 1e4))
    velocity: float = param(1.0, "Velocity prediction weight.", range=(0.0, 1e4))
    collision: float = param(1.0, "Collision BCE weight.", range=(0.0, 1e4))

    def __post_init__(self):
        validate(self)


def vicreg_terms(h: torch.Tensor, eps: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """h (B, d) -> (variance hinge, covariance penalty, per-dimension std (d,))."""
    h = h - h.mean(0)
    std = torch.sqrt(h.var(0) + eps)
    var = F.relu(1.0 - std).mean()
    b, d = h.shape
    cov = (h.T @ h) / max(b - 1, 1)
    off = cov - torch.diag(torch.diag(cov))
    return var, off.pow(2).sum() / d, std.detach()


def window_loss(model: WorldModel, target_encoder: ObsEncoder, batch: dict, w: LossWeights,
                pos_weight: float = 1.0) -> tuple[torch.Tensor, dict]:
    """batch: pose (B,K+1,3), vel (B,K+1,2), scan (B,K+1,N)[, image (B,K+1,3,S,S)],
    cmd (B,K,2), collision (B,K). Returns (total loss, {term: float, "latent_std": (d,)})."""
    pose, vel, scan = batch["pose"], batch["vel"], batch["scan"]
    image = batch.get("image")
    b, k1 = pose.shape[:2]
    horizon = k1 - 1
    obs0 = observation(pose[:, 0], vel[:, 0], scan[:, 0], None if image is None else image[:, 0])
    z0 = model.encode(obs0)
    z = model.rollout(z0, batch["cmd"])  # (B, K, D)
    with torch.no_grad():
        flat_img = image[:, 1:].flatten(0, 1) if image is not None else None
        h_tgt = target_encoder(vel[:, 1:].flatten(0, 1), scan[:, 1:].flatten(0, 1), flat_img)
        h_tgt = h_tgt.view(b, horizon, -1)
    h_pred = model.latent_h(z)
    latent = (h_pred - h_tgt).pow(2).mean()
    var, cov, std = vicreg_terms(model.latent_h(z0))
    p_pred, p_true = z[..., :3], pose[:, 1:]
    pose_l = (p_pred[..., :2] - p_true[..., :2]).pow(2).sum(-1).mean() + \
        (1.0 - torch.cos(p_pred[..., 2] - p_true[..., 2])).mean()
    scale = model.predictor.vw_scale
    vel_l = ((model.velocity(z) - vel[:, 1:]) / scale).pow(2).sum(-1).mean()
    logits = model.collision_logit(z)
    labels = batch["collision"].float()
    pw = logits.new_tensor(pos_weight)
    coll = F.binary_cross_entropy_with_logits(logits, labels, pos_weight=pw)
    # the head also reads the target latents of the real next observations (teacher forcing;
    # no gradient reaches the target encoder), so it learns contact from true codes too
    z_tgt = torch.cat([z[..., :3].detach(), vel[:, 1:], h_tgt], dim=-1)
    coll = 0.5 * (coll + F.binary_cross_entropy_with_logits(model.collision_logit(z_tgt), labels, pos_weight=pw))
    total = (w.latent * latent + w.variance * var + w.covariance * cov + w.pose * pose_l
             + w.velocity * vel_l + w.collision * coll)
    with torch.no_grad():
        final_err = (p_pred[:, -1, :2] - p_true[:, -1, :2]).norm(dim=-1).mean()
    terms = {"loss": total.item(), "latent": latent.item(), "variance": var.item(), "covariance": cov.item(),
             "pose": pose_l.item(), "velocity": vel_l.item(), "collision": coll.item(),
             "pose_err_final_m": final_err.item(), "latent_std": std}
    return total, terms
