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
    scene     = smooth L1 (beta SCENE_BETA_M) between clearance(z_k) and the sector clearances of
                the real scan_k, plus the same on their minimum over sectors (metres); the target
                latents used for collision carry the real scene (models with scene_sectors > 0)
    place     = over pairs of window starts i, j of one episode in the batch (off by default; the
                batch draws several windows per episode with ``TrainConfig.episode_group``):
                mean (|h_i - h_j| / mean|h - h| - d_ij / mean d)^2, d_ij the distance between their
                poses with PLACE_RAD_M metres per radian of heading: distances in h made to follow
                distances in place, so that the distance to a goal picture's h says how far the
                goal is

Models with history read, for obs_0 and for every target obs_k, the K rows before it
(``batch["hist"]``, cut by ``sampler.WindowSampler``): the target of a future step is encoded
with the history that really led to it, commands of the window included.

Without the variance/covariance terms the cheapest way to make the latent term small is to
map every observation to the same h (collapse); test_wm_anticollapse shows it, and
test_wm_camera for a camera model. A camera model (``use_scan`` off) trains on the same terms,
without the scene; its frames come augmented, every frame of a window alike (``augment``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from world_model_planner.core.params import param, validate

from world_model_planner.world_model_node.model import ObsEncoder, WorldModel

SCENE_BETA_M = 0.2   # smooth L1 turns from quadratic to linear at 0.2 m of clearance error
PLACE_RAD_M = 1.0    # the place term: a radian of heading counts as this many metres


@dataclass
class LossWeights:
    """Weights of the loss terms (0 switches a term off)."""

    latent: float = param(1.0, "JEPA multi-step latent prediction weight.", range=(0.0, 1e4))
    variance: float = param(1.0, "VICReg variance hinge weight (anti-collapse).", range=(0.0, 1e4))
    covariance: float = param(0.04, "VICReg covariance weight.", range=(0.0, 1e4))
    pose: float = param(10.0, "Pose prediction weight (metres^2).", range=(0.0, 1e4))
    velocity: float = param(1.0, "Velocity prediction weight.", range=(0.0, 1e4))
    collision: float = param(1.0, "Collision BCE weight.", range=(0.0, 1e4))
    scene: float = param(1.0, "Scene clearance weight: smooth L1 in metres per sector plus on the "
                              "minimum (models with a scene head).", range=(0.0, 1e4))
    place: float = param(0.0, "Place term weight: distances between the learned latents of frames of one "
                              "episode made proportional to the distances between their poses (needs "
                              "TrainConfig.episode_group > 1; 0 = off).", range=(0.0, 1e4))

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


def place_loss(h: torch.Tensor, pose: torch.Tensor, episode: torch.Tensor) -> torch.Tensor:
    """h (B, d) learned latents, pose (B, 3), episode (B,) -> the place term (module docstring);
    0 where the batch has no two windows of one episode."""
    same = episode.unsqueeze(0) == episode.unsqueeze(1)
    same = same & ~torch.eye(len(episode), dtype=torch.bool, device=same.device)
    if not bool(same.any()):
        return h.new_zeros(())
    dh = torch.cdist(h, h)[same]
    dxy = torch.cdist(pose[:, :2], pose[:, :2])[same]
    dyaw = torch.remainder(pose[:, 2].unsqueeze(0) - pose[:, 2].unsqueeze(1) + torch.pi, 2 * torch.pi) - torch.pi
    d = torch.sqrt(dxy.pow(2) + (PLACE_RAD_M * dyaw[same]).pow(2))
    return (dh / dh.mean().clamp_min(1e-6) - d / d.mean().clamp_min(1e-6)).pow(2).mean()


def _hist_at(hist: dict | None, sl) -> dict | None:
    """Per-step history dict (B, K+1, ...) -> the steps ``sl`` (an index or a slice, flattened)."""
    if hist is None:
        return None
    out = {}
    for key, v in hist.items():
        if v is None:
            out[key] = None
        else:
            out[key] = v[:, sl] if isinstance(sl, int) else v[:, sl].flatten(0, 1)
    return out


def scene_loss(model: WorldModel, z: torch.Tensor, target_m: torch.Tensor) -> torch.Tensor:
    """z (..., D), target_m (..., S) metres -> smooth L1 per sector + on the minimum."""
    pred = model.clearance(z)
    return (F.smooth_l1_loss(pred, target_m, beta=SCENE_BETA_M)
            + F.smooth_l1_loss(pred.min(-1).values, target_m.min(-1).values, beta=SCENE_BETA_M))


def window_loss(model: WorldModel, target_encoder: ObsEncoder, batch: dict, w: LossWeights,
                pos_weight: float = 1.0) -> tuple[torch.Tensor, dict]:
    """batch: pose (B,K+1,3), vel (B,K+1,2), scan (B,K+1,N)[, image (B,K+1,3,S,S)],
    cmd (B,K,2), collision (B,K)[, hist: {cmd (B,K+1,Kh,2), vel (B,K+1,Kh,2), valid (B,K+1,Kh),
    scans (B,K+1,M,N) or None, scan_valid (B,K+1,M) or None}: the encoder's history of each row].
    Returns (total loss, {term: float, "latent_std": (d,)})."""
    pose, vel, scan = batch["pose"], batch["vel"], batch["scan"]
    image = batch.get("image")
    hist = batch.get("hist") if model.history_steps else None
    b, k1 = pose.shape[:2]
    horizon = k1 - 1
    z0 = model.encode_parts(pose[:, 0], vel[:, 0], scan[:, 0], None if image is None else image[:, 0],
                            _hist_at(hist, 0))
    z = model.rollout(z0, batch["cmd"])  # (B, K, D)
    with torch.no_grad():
        flat_img = image[:, 1:].flatten(0, 1) if image is not None else None
        h_tgt = target_encoder(vel[:, 1:].flatten(0, 1), scan[:, 1:].flatten(0, 1), flat_img,
                               _hist_at(hist, slice(1, None)))
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
    z_tgt = torch.cat([z[..., :model.cfg.explicit_dims].detach(), h_tgt], dim=-1)
    z_tgt[..., 3:5] = vel[:, 1:]
    scene = z.new_zeros(())
    if model.has_scene:
        with torch.no_grad():
            target_m = model.scene_target(scan[:, 1:])           # (B, K, S) metres
        z_tgt[..., model.scene_slice] = target_m / model.encoder.scan.clip_m
        if w.scene > 0:
            scene = scene_loss(model, z, target_m)
    coll = 0.5 * (coll + F.binary_cross_entropy_with_logits(model.collision_logit(z_tgt), labels, pos_weight=pw))
    place = z.new_zeros(())
    if w.place > 0 and "episode" in batch:
        place = place_loss(model.latent_h(z0), pose[:, 0], batch["episode"])
    total = (w.latent * latent + w.variance * var + w.covariance * cov + w.pose * pose_l
             + w.velocity * vel_l + w.collision * coll + w.scene * scene + w.place * place)
    with torch.no_grad():
        final_err = (p_pred[:, -1, :2] - p_true[:, -1, :2]).norm(dim=-1).mean()
    terms = {"loss": total.item(), "latent": latent.item(), "variance": var.item(), "covariance": cov.item(),
             "pose": pose_l.item(), "velocity": vel_l.item(), "collision": coll.item(),
             "scene": scene.item(), "place": place.item(), "pose_err_final_m": final_err.item(),
             "latent_std": std}
    return total, terms
