"""World model: shapes, invariances, losses, input validation, image path (tiny run)."""
from __future__ import annotations

import copy
import math

import pytest
import torch

from world_model_planner.world_model_node.losses import LossWeights, vicreg_terms, window_loss
from world_model_planner.world_model_node.model import ScanEncoder, WorldModel, WorldModelConfig, clean_scan, wrap_angle


def _obs(b=4, beams=180, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"pose": torch.randn(b, 3, generator=g), "vel": torch.randn(b, 2, generator=g) * 0.3,
            "scan": torch.rand(b, beams, generator=g) * 8.0}


def _perturbed_model(cfg=None, seed=0):
    """A model whose predictor output layer is not near zero (init keeps it small)."""
    torch.manual_seed(seed)
    m = WorldModel(cfg or WorldModelConfig())
    with torch.no_grad():
        m.predictor.net[-1].weight.normal_(0, 0.05)
        m.predictor.net[-1].bias.normal_(0, 0.05)
    return m.eval()


def test_shapes_of_every_role():
    m = WorldModel().eval()
    z = m.encode(_obs())
    d = 64 + 2 * 5 + 16   # pose, velocity, h (latent_dim 64) + 5 commands + 16 scene sectors
    assert z.shape == (4, d) and m.latent_dim == d
    assert m.predict(z, torch.zeros(4, 2)).shape == (4, d)
    zs = m.rollout(z, torch.zeros(4, 7, 2))
    assert zs.shape == (4, 7, d)
    assert m.pose(zs).shape == (4, 7, 3)
    assert m.velocity(zs).shape == (4, 7, 2)
    assert m.collision_logit(zs).shape == (4, 7)
    assert m.dt_s == pytest.approx(0.1)
    assert m.obs_spec == {"scan_beams": 180, "range_max_m": 8.0, "image": False, "image_size": 0}


def test_rollout_broadcasts_one_start_and_matches_predict():
    m = _perturbed_model()
    z0 = m.encode(_obs(b=1))
    acts = torch.rand(5, 3, 2)
    zs = m.rollout(z0, acts)
    z = z0.expand(5, -1)
    for k in range(3):
        z = m.predict(z, acts[:, k])
        torch.testing.assert_close(zs[:, k], z)
    with pytest.raises(ValueError, match=r"actions: expected \(B, H, 2\)"):
        m.rollout(z0, torch.zeros(5, 2))
    with pytest.raises(ValueError, match=r"with H >= 1, got \(5, 0, 2\)"):        # no step to take
        m.rollout_heads(z0, torch.zeros(5, 0, 2))
    with pytest.raises(ValueError, match="z0: expected batch 1 or 5"):
        m.rollout(torch.zeros(3, m.latent_dim), acts)


def test_encode_pose_and_velocity_pass_through_and_yaw_is_wrapped():
    m = WorldModel().eval()
    obs = _obs()
    z = m.encode(obs)
    torch.testing.assert_close(m.velocity(z), obs["vel"])
    torch.testing.assert_close(m.pose(z)[:, :2], obs["pose"][:, :2])
    z2 = z.clone()
    z2[:, 2] = 3 * math.pi + 0.1  # unwrapped yaw along a rollout
    assert torch.allclose(m.pose(z2)[:, 2], torch.full((4,), -math.pi + 0.1), atol=1e-5)


def test_untrained_predictor_integrates_unicycle_kinematics():
    """Initial predictor ~ 'velocity constant': moving at (1 m/s, 0) for 1 s moves ~1 m ahead."""
    m = WorldModel().eval()
    with torch.no_grad():
        m.predictor.net[-1].weight.zero_()
    obs = {"pose": torch.tensor([[1.0, 2.0, math.pi / 2]]), "vel": torch.tensor([[1.0, 0.0]]),
           "scan": torch.full((1, 180), 8.0)}
    zs = m.rollout(m.encode(obs), torch.tensor([[[1.0, 0.0]] * 10]))
    torch.testing.assert_close(m.pose(zs[:, -1]), torch.tensor([[1.0, 3.0, math.pi / 2]]), atol=1e-5, rtol=0)


def test_predictions_are_translation_and_rotation_equivariant():
    """Moving/rotating the start pose moves/rotates the predicted path rigidly; h, v, w unchanged."""
    m = _perturbed_model()
    obs = _obs(b=3)
    acts = torch.rand(3, 12, 2) * torch.tensor([1.5, 3.0]) - torch.tensor([0.5, 1.5])
    zs = m.rollout(m.encode(obs), acts)
    theta, shift = 0.7, torch.tensor([5.0, -3.0])
    rot = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    obs2 = dict(obs, pose=torch.cat([obs["pose"][:, :2] @ rot.T + shift, obs["pose"][:, 2:] + theta], 1))
    zs2 = m.rollout(m.encode(obs2), acts)
    p, p2 = m.pose(zs), m.pose(zs2)
    torch.testing.assert_close(p2[..., :2], p[..., :2] @ rot.T + shift, atol=1e-4, rtol=0)
    torch.testing.assert_close(wrap_angle(p2[..., 2] - p[..., 2] - theta), torch.zeros(3, 12), atol=1e-4, rtol=0)
    torch.testing.assert_close(zs2[..., 3:], zs[..., 3:], atol=1e-5, rtol=0)
    torch.testing.assert_close(m.collision_logit(zs2), m.collision_logit(zs), atol=1e-5, rtol=0)


def test_scan_cleaning_and_min_pooling():
    raw = torch.tensor([[1.0, float("inf"), float("nan"), -1.0, 20.0, 2.0]])
    torch.testing.assert_close(clean_scan(raw, 8.0), torch.tensor([[1.0, 8.0, 8.0, 0.0, 8.0, 2.0]]))
    enc = ScanEncoder(WorldModelConfig(scan_beams=6, scan_bins=3, scan_clip_m=4.0,
                                       footprint_length_m=0.0, footprint_width_m=0.0))
    # sectors (1, 8), (8, 0), (8, 2) -> minimum range per sector, clipped at 4 m, / 4; + overall min
    torch.testing.assert_close(enc(raw), torch.tensor([[0.25, 0.0, 0.5, 0.0]]))


def test_scan_features_are_clearances_from_the_footprint_boundary():
    cfg = WorldModelConfig(scan_beams=4, scan_bins=4, footprint_length_m=1.0, footprint_width_m=0.6)
    # beams at -pi (behind), -pi/2 (right), 0 (ahead), pi/2 (left)
    enc = ScanEncoder(cfg)
    torch.testing.assert_close(enc.footprint_m, torch.tensor([0.5, 0.3, 0.5, 0.3]), atol=1e-6, rtol=0)
    feats = enc(torch.tensor([[1.5, 0.3, 0.5, 3.3]]))  # touching on the right and ahead
    torch.testing.assert_close(feats * cfg.scan_clip_m, torch.tensor([[1.0, 0.0, 0.0, 3.0, 0.0]]),
                               atol=1e-5, rtol=0)


def test_bad_observations_are_refused_with_the_expected_shape():
    m = WorldModel().eval()
    bad = _obs()
    bad["scan"] = torch.zeros(4, 90)
    with pytest.raises(ValueError, match=r"obs\['scan'\]: expected shape \(B, 180\)"):
        m.encode(bad)
    with pytest.raises(ValueError, match="missing 'vel'"):
        m.encode({"pose": torch.zeros(1, 3), "scan": torch.zeros(1, 180)})
    single = {k: v[0].numpy() for k, v in _obs().items()}  # one unbatched numpy observation
    assert m.encode(single).shape == (1, m.latent_dim)


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="latent_dim"):
        WorldModelConfig(latent_dim=6)
    with pytest.raises(ValueError, match="scan_bins"):
        WorldModelConfig(scan_bins=0)
    with pytest.raises(ValueError, match="scan_bins: expected <= scan_beams"):
        WorldModelConfig(scan_beams=30, scan_bins=60)


def test_vicreg_terms_on_known_inputs():
    torch.manual_seed(0)
    collapsed = torch.ones(256, 8)
    var, cov, std = vicreg_terms(collapsed)
    assert var.item() == pytest.approx(1.0, abs=0.02) and cov.item() == pytest.approx(0.0, abs=1e-8)
    assert float(std.max()) < 0.02
    white = torch.randn(4096, 8) * 2.0
    var, cov, std = vicreg_terms(white)
    assert var.item() == 0.0  # every std above 1: hinge inactive
    correlated = torch.randn(4096, 1).repeat(1, 8)
    assert vicreg_terms(correlated)[1].item() > 10 * vicreg_terms(torch.randn(4096, 8))[1].item()


def _window_batch(b=8, k=4, beams=180, image=False):
    g = torch.Generator().manual_seed(1)
    batch = {"pose": torch.randn(b, k + 1, 3, generator=g), "vel": torch.randn(b, k + 1, 2, generator=g),
             "scan": torch.rand(b, k + 1, beams, generator=g) * 8, "cmd": torch.randn(b, k, 2, generator=g),
             "collision": (torch.rand(b, k, generator=g) < 0.3).float()}
    if image:
        batch["image"] = torch.randint(0, 255, (b, k + 1, 3, 64, 64), dtype=torch.uint8, generator=g)
    return batch


def test_window_loss_terms_are_finite_and_only_online_model_gets_gradients():
    m = WorldModel()
    target = copy.deepcopy(m.encoder).requires_grad_(False)
    loss, terms = window_loss(m, target, _window_batch(), LossWeights())
    for key in ("latent", "variance", "covariance", "pose", "velocity", "collision", "scene"):
        assert math.isfinite(terms[key]) and terms[key] >= 0, key
    assert terms["scene"] > 0   # an untrained scene head is wrong somewhere
    assert terms["latent_std"].shape == (64 - 5,)
    loss.backward()
    assert all(p.grad is not None for p in m.predictor.parameters())
    assert all(p.grad is not None for p in m.encoder.parameters())
    assert all(p.grad is None for p in target.parameters())
    # a switched-off term does not contribute
    w0 = LossWeights(latent=0, variance=0, covariance=0, pose=0, velocity=0, collision=1.0, scene=0)
    loss0, terms0 = window_loss(m, target, _window_batch(), w0)
    assert loss0.item() == pytest.approx(terms0["collision"], rel=1e-6)


def test_image_encoder_tiny_training_run_learns_from_images():
    """Collision labels that only the image can explain (scan, vel, cmd identical) get learned."""
    cfg = WorldModelConfig(use_image=True, latent_dim=24, enc_hidden=32, pred_hidden=32, head_hidden=16)
    torch.manual_seed(0)
    m = WorldModel(cfg)
    target = copy.deepcopy(m.encoder).requires_grad_(False)
    b, k = 8, 1
    batch = {"pose": torch.zeros(b, k + 1, 3), "vel": torch.zeros(b, k + 1, 2),
             "scan": torch.full((b, k + 1, 180), 3.0), "cmd": torch.zeros(b, k, 2),
             "collision": torch.tensor([1.0, 0.0] * 4).view(b, k),
             "image": torch.zeros(b, k + 1, 3, 64, 64, dtype=torch.uint8)}
    batch["image"][0::2, :, 0] = 255  # red frames <-> collision
    with pytest.raises(ValueError, match="image"):
        m.encode({key: batch[key][:, 0] for key in ("pose", "vel", "scan")})
    w = LossWeights(latent=0.0, variance=0.0, covariance=0.0, pose=0.0, velocity=0.0, collision=1.0)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss, _ = window_loss(m, target, batch, w)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.grad is not None for p in m.encoder.image.parameters())
    assert losses[-1] < losses[0]
    z = m.encode({key: batch[key][:, 0] for key in ("pose", "vel", "scan", "image")})
    assert z.shape == (8, m.latent_dim)
    p_contact = torch.sigmoid(m.collision_logit(m.rollout(z, batch["cmd"])))[:, 0]
    # only the image tells the two halves apart, and the predicted contact now does too
    assert torch.all((p_contact > 0.8) == (batch["collision"][:, 0] > 0.5)), p_contact
