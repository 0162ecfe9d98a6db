"""The camera world model (use_image, use_scan off): encoder, augmentation, training through
`wmp`, anti-collapse, checkpoints and evaluation, on frames rendered by the real simulator."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from world_model_planner.app.cli import main as wmp
from world_model_planner.world_model_node.augment import ImageAugment, augment_cells, augment_windows
from world_model_planner.world_model_node.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from world_model_planner.world_model_node.data import IMAGE_SIZE, load_dataset
from world_model_planner.world_model_node.evaluate import evaluate, goal_rank_correlation
from world_model_planner.world_model_node.losses import LossWeights
from world_model_planner.world_model_node.model import ImageEncoder, WorldModel, WorldModelConfig, observation
from world_model_planner.world_model_node.sampler import WindowSampler
from world_model_planner.world_model_node.train import TrainConfig, train

#: A small camera model: image, velocity and 4 steps of command history; 16 learned dims.
CAMERA = dict(use_image=True, use_scan=False, scene_sectors=0, scan_history=0, history_steps=4, cmd_memory=2,
              latent_dim=21, enc_hidden=32, pred_hidden=32, head_hidden=16)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """Two 10 s episodes (open, wall) with 64x64 camera frames from PyBullet: (dir, Transitions)."""
    out = tmp_path_factory.mktemp("camera") / "data"
    assert wmp(["collect", "--scenario", "open,wall", "--episodes", "2", "--episode-s", "10", "--image",
                "--out", str(out), "--seed", "3", "--no-progress"]) == 0
    data = load_dataset(out)
    assert data.image.shape == (200, 64, 64, 3) and data.image.dtype == np.uint8
    assert IMAGE_SIZE == 64 == WorldModelConfig().image_size     # bag frames are resampled to the same size
    return out, data


def _obs(data, rows, vel=True):
    return observation(data.pose[rows], data.vel[rows] if vel else np.zeros((len(rows), 2), np.float32),
                       data.scan[rows], data.image[rows], channels_last=True)


def test_image_encoder_shapes_and_determinism(frames):
    _, data = frames
    torch.manual_seed(0)
    enc = ImageEncoder(WorldModelConfig(use_image=True)).eval()
    img = torch.as_tensor(data.image[:8]).permute(0, 3, 1, 2)          # (8, 3, 64, 64) uint8
    out = enc(img)
    assert out.shape == (8, enc.out_dim) and torch.isfinite(out).all()
    assert torch.equal(out, enc(img))                                  # same input, same output
    assert torch.allclose(out[3:4], enc(img[3:4]), atol=1e-6)          # a row does not depend on the batch
    assert torch.allclose(out, enc(img.float() / 255.0), atol=1e-6)    # uint8 and [0, 1] floats alike
    m = WorldModel(WorldModelConfig(**CAMERA)).eval()
    z = m.encode(_obs(data, np.arange(8)))
    assert z.shape == (8, m.latent_dim) and m.latent_dim == 5 + 2 * 2 + 16
    assert torch.equal(z, m.encode(_obs(data, np.arange(8))))
    no_scan = {k: v for k, v in _obs(data, np.arange(8)).items() if k != "scan"}
    assert torch.equal(z, m.encode(no_scan))                           # a camera model reads no scan
    assert m.obs_spec == {"scan_beams": 180, "range_max_m": 8.0, "image": True, "image_size": 64, "scan": False}
    with pytest.raises(ValueError, match=r"obs\['image'\]: expected shape \(B, 3, 64, 64\)"):
        m.encode({**no_scan, "image": torch.zeros(8, 3, 32, 32)})
    with pytest.raises(ValueError, match="missing 'image'"):
        m.encode({k: v for k, v in no_scan.items() if k != "image"})
    with pytest.raises(ValueError, match="use_scan: a model without the scan needs scene_sectors 0"):
        WorldModelConfig(use_image=True, use_scan=False)               # the scene comes from the scan


def test_pooled_image_encoder_is_cell_colours_and_a_lidar_model_trains_with_it(frames, tmp_path):
    """image_pool N: the frame's mean colour over N x N cells and one linear layer, no convolution;
    `wmp train --image --image-pool 8` gives a lidar model that also reads the frame."""
    data_dir, data = frames
    enc = ImageEncoder(WorldModelConfig(use_image=True, image_pool=8)).eval()
    assert not any(isinstance(mod, torch.nn.Conv2d) for mod in enc.modules())
    img = torch.as_tensor(data.image[:4]).permute(0, 3, 1, 2)
    lin = enc.net[-1]
    cells = img.float().div(255.0).view(4, 3, 8, 8, 8, 8).mean((3, 5)).flatten(1)     # (4, 3 * 8 * 8)
    assert torch.allclose(enc(img), cells @ lin.weight.t() + lin.bias, atol=1e-5)
    assert sum(p.numel() for p in enc.parameters()) < 0.5 * sum(
        p.numel() for p in ImageEncoder(WorldModelConfig(use_image=True)).parameters())
    with pytest.raises(ValueError, match="image_pool: expected <= image_size"):
        WorldModelConfig(use_image=True, image_size=32, image_pool=33)
    # training gathers the cells pooled once (the encoder's pooling is then the identity), and
    # augments them with the colour parts of the pixel augmentation: the same draws, the same colours
    sampler = WindowSampler.for_model(data, 3, torch.device("cpu"), WorldModelConfig(use_image=True, image_pool=8))
    frames_b = sampler.batch(torch.arange(4))["image"]                                  # (4, 4, 3, 8, 8)
    full = torch.as_tensor(data.image).permute(0, 3, 1, 2)[sampler.starts[:4, None] + torch.arange(4)]
    pooled = full.float().div(255.0).view(4, 4, 3, 8, 8, 8, 8).mean((4, 6))
    assert torch.allclose(frames_b, pooled, atol=1e-6)
    assert torch.allclose(enc(full[:, 0]), enc(frames_b[:, 0]), atol=1e-5)
    colour = ImageAugment(brightness=0.3, contrast=0.3, channel_gain=0.1, shift_px=0)
    by_pixel = augment_windows(full, colour, torch.Generator().manual_seed(5)).float().div(255.0)
    by_cell = augment_cells(frames_b, colour, torch.Generator().manual_seed(5))
    diff = (by_cell - by_pixel.view(4, 4, 3, 8, 8, 8, 8).mean((4, 6))).abs()
    assert float(diff.median()) < 0.005 and float(diff.mean()) < 0.02   # apart where pixels clip at white
    out = tmp_path / "lidar_cam.pt"
    assert wmp(["train", "--data", str(data_dir), "--out", str(out), "--image", "--image-pool", "8", "--steps", "4",
                "--batch-size", "16", "--horizon", "3", "--no-progress"]) == 0
    m = load_checkpoint(out, device="cpu")
    assert m.cfg.use_image and m.cfg.use_scan and m.cfg.image_pool == 8
    assert m.obs_spec["image"] and m.obs_spec.get("scan", True)
    assert wmp(["train", "--data", str(data_dir), "--out", str(out), "--image-pool", "8"]) == 2   # no --image


def test_augmentation_is_one_draw_per_window_and_seeded():
    g = torch.Generator().manual_seed(1)
    img = torch.randint(0, 256, (6, 1, 3, 16, 16), generator=g, dtype=torch.uint8).expand(6, 4, 3, 16, 16)
    img = img.contiguous()                                             # 6 windows of 4 identical frames
    aug = ImageAugment(brightness=0.3, contrast=0.3, channel_gain=0.1, shift_px=3)
    out = augment_windows(img, aug, torch.Generator().manual_seed(7))
    assert out.shape == img.shape and out.dtype == torch.uint8
    assert (out == out[:, :1]).all()                                   # every frame of a window alike
    assert not torch.equal(out, img) and len({bytes(out[i, 0].numpy()) for i in range(6)}) == 6
    assert torch.equal(out, augment_windows(img, aug, torch.Generator().manual_seed(7)))   # seeded
    assert torch.equal(augment_windows(img, ImageAugment(0.0, 0.0, 0.0, 0), torch.Generator()), img)
    # the shift alone moves a dot by the same (dx, dy) in every frame, at most shift_px
    dots = torch.zeros(5, 3, 3, 16, 16, dtype=torch.uint8)
    for f in range(3):
        dots[:, f, :, 8, 5 + f] = 255                                  # the dot moves right frame by frame
    moved = augment_windows(dots, ImageAugment(0.0, 0.0, 0.0, 3), torch.Generator().manual_seed(2))
    for w in range(5):
        pos = [tuple(torch.nonzero(moved[w, f, 0] == 255)[0].tolist()) for f in range(3)]
        dy, dx = pos[0][0] - 8, pos[0][1] - 5
        assert abs(dx) <= 3 and abs(dy) <= 3
        assert pos == [(8 + dy, 5 + f + dx) for f in range(3)]


def test_wmp_trains_and_evaluates_a_camera_model(frames, tmp_path):
    data_dir, data = frames
    out = tmp_path / "cam.pt"
    assert wmp(["train", "--data", str(data_dir), "--out", str(out), "--camera-only", "--steps", "20",
                "--batch-size", "16", "--horizon", "5", "--latent-dim", "21", "--eval-every", "10",
                "--no-progress"]) == 0
    m = load_checkpoint(out, device="cpu")
    assert m.cfg.use_image and not m.cfg.use_scan and m.cfg.scene_sectors == 0
    assert m.metrics["steps_run"] == 20 and len(m.metrics["latent_std"]) == 16
    assert [h["step"] for h in m.metrics["history"]] == [10, 20]
    assert all(h["latent_std_mean"] > 0 and len(h["latent_std"]) == 16 for h in m.metrics["history"])
    assert m.metrics["image_augment"] == {"brightness": 0.25, "contrast": 0.25, "channel_gain": 0.08, "shift_px": 3}
    res = tmp_path / "eval.json"
    assert wmp(["eval-model", "--model", str(out), "--data", str(data_dir), "--json", str(res)]) == 0
    r = json.loads(res.read_text())
    for name in ("model", "unicycle", "constant_velocity"):
        assert len(r[name]["pose_err_m"]) == 4 and all(np.isfinite(r[name]["pose_err_m"]))
    assert r["collision_auroc"] is not None and 0.0 <= r["collision_auroc"] <= 1.0
    gl = r["goal_latent"]
    assert gl["goals"] == 8 and gl["pairs"] == 8 * 50 and -1 <= gl["rho"] <= 1 and -1 <= gl["pixels_rho"] <= 1
    lf = r["latent_forecast"]
    assert len(lf["ratio"]) == 4 and len(lf["view_ratio"]) == 4 and lf["motion_dims"] > 0
    # h from the frame alone: it does not move with the motion, and a fine-tune cannot change that
    sensors = tmp_path / "sensors.pt"
    assert wmp(["train", "--data", str(data_dir), "--out", str(sensors), "--camera-only", "--h-sensors-only",
                "--steps", "4", "--batch-size", "16", "--horizon", "5", "--latent-dim", "21", "--no-progress"]) == 0
    assert load_checkpoint(sensors, device="cpu").cfg.h_reads_motion is False and m.cfg.h_reads_motion is True
    assert wmp(["eval-model", "--model", str(sensors), "--data", str(data_dir), "--json", str(res)]) == 0
    assert json.loads(res.read_text())["latent_forecast"]["motion_dims"] == 0
    assert wmp(["train", "--data", str(data_dir), "--out", str(tmp_path / "y.pt"), "--init", str(out),
                "--h-sensors-only", "--steps", "2", "--no-progress"]) == 2
    lidar = tmp_path / "lidar_sensors.pt"                       # a scan model: its past scans go too
    assert wmp(["train", "--data", str(data_dir), "--out", str(lidar), "--h-sensors-only", "--steps", "2",
                "--batch-size", "16", "--horizon", "5", "--no-progress"]) == 0
    lc = load_checkpoint(lidar, device="cpu").cfg
    assert lc.use_scan and lc.h_reads_motion is False and lc.scan_history == 0
    # a scan model cannot train on images it has no data for
    scan_only = tmp_path / "scan_only"
    assert wmp(["collect", "--scenario", "open", "--episodes", "1", "--episode-s", "3", "--out",
                str(scan_only), "--no-progress"]) == 0
    assert wmp(["train", "--data", str(scan_only), "--out", str(tmp_path / "x.pt"), "--camera-only"]) == 2


def _latent_std(model, data):
    with torch.no_grad():
        return model.latent_h(model.encode(_obs(data, np.arange(len(data))))).std(0)


def test_vicreg_keeps_the_camera_latent_alive_and_without_it_the_latent_collapses(frames):
    """Latent loss only (heads off): the regulariser alone stands between the latent and a constant."""
    _, data = frames
    runs = {}
    for vicreg in (True, False):
        w = LossWeights(pose=0.0, velocity=0.0, collision=0.0, scene=0.0,
                        variance=1.0 if vicreg else 0.0, covariance=0.04 if vicreg else 0.0)
        cfg = TrainConfig(steps=30, batch_size=32, horizon=3, eval_every=30, patience=100, lr=5e-3,
                          val_fraction=0.0, progress=False, seed=0)
        model, metrics = train(data, WorldModelConfig(**CAMERA), cfg, w)
        runs[vicreg] = (_latent_std(model, data), metrics)
    (on, m_on), (off, m_off) = runs[True], runs[False]
    print(f"\ncamera latent std over the frames (min/mean): with VICReg {on.min():.4f}/{on.mean():.4f}, "
          f"without {off.min():.4f}/{off.mean():.4f}; logged mean {m_on['latent_std_mean']:.3f} vs "
          f"{m_off['latent_std_mean']:.3f}")
    assert float(off.mean()) < 0.1 * float(on.mean())
    assert float(off.mean()) < 0.01
    assert m_on["latent_std_mean"] > 0.2 and m_off["latent_std_mean"] < 0.05   # the logged std shows it


def test_camera_model_fused_rollout_equals_the_reference(frames):
    _, data = frames
    torch.manual_seed(0)
    m = WorldModel(WorldModelConfig(**CAMERA)).eval()
    with torch.no_grad():
        z0 = m.encode(_obs(data, np.arange(1)))
        acts = torch.rand(64, 12, 2) * 2 - 1
        z, logit, clear = m.rollout_heads(z0, acts)
        assert m._fused(z0, acts) is not None and clear is None     # the fused path ran; no scene head
        ref = m.rollout_reference(z0, acts)
        assert torch.allclose(z, ref, atol=1e-5) and torch.allclose(logit, m.collision_logit(ref), atol=1e-5)


def test_camera_checkpoint_round_trip_and_refusals(frames, tmp_path):
    _, data = frames
    torch.manual_seed(0)
    m = WorldModel(WorldModelConfig(**CAMERA)).eval()
    path = save_checkpoint(tmp_path / "cam.pt", m, metrics={"latent_std": [0.5] * 16})
    back = load_checkpoint(path, device="cpu")
    obs = _obs(data, np.arange(10))
    assert torch.equal(back.encode(obs), m.encode(obs)) and back.cfg == m.cfg
    with pytest.raises(CheckpointError, match="another observation layout: image: checkpoint True, expected False"):
        load_checkpoint(path, device="cpu", obs_spec={"image": False})
    blob = torch.load(path, weights_only=True)
    blob["state_dict"]["encoder.image.net.0.weight"] = torch.zeros(16, 3, 3, 3)     # a 3x3 first conv
    torch.save(blob, tmp_path / "bad_shape.pt")
    with pytest.raises(CheckpointError, match=r"bad_shape.pt: weights do not fit the stored config: .*"
                                              r"encoder.image.net.0.weight"):
        load_checkpoint(tmp_path / "bad_shape.pt", device="cpu")
    blob = torch.load(path, weights_only=True)
    blob["config"]["use_scan"] = True          # then scene_sectors 0 would not match its obs_spec
    torch.save(blob, tmp_path / "bad_spec.pt")
    with pytest.raises(CheckpointError, match="bad_spec.pt: stored obs layout .* does not match its config"):
        load_checkpoint(tmp_path / "bad_spec.pt", device="cpu")
    blob["metrics"]["payload"] = SimpleNamespace(run="code")     # not a plain tensor/dict: never unpickled
    torch.save(blob, tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match="code.pt: not a readable world-model checkpoint"):
        load_checkpoint(tmp_path / "code.pt", device="cpu")


def test_goal_rank_correlation_is_one_for_a_latent_that_is_the_position(frames):
    """A stand-in model whose latent is the true position ranks goal distance perfectly (rho 1),
    and one whose latent is constant noise does not."""
    _, data = frames

    class PositionLatent:
        cfg = SimpleNamespace(use_image=False, h_dims=2)
        device = torch.device("cpu")

        def __init__(self, noise=False):
            self.noise = noise

        def encode(self, obs):
            pose = torch.as_tensor(obs["pose"], dtype=torch.float32)
            return torch.rand_like(pose) if self.noise else pose

        def latent_h(self, z):
            return z[:, :2]

    torch.manual_seed(0)
    exact = goal_rank_correlation(PositionLatent(), data)
    assert exact["rho"] == pytest.approx(1.0) and exact["rho_per_goal_mean"] == pytest.approx(1.0)
    assert exact["rho_same_heading"] == pytest.approx(1.0) and -1 <= exact["pixels_rho_same_heading"] <= 1
    assert exact["goals"] == 8 and -1 <= exact["pixels_rho"] <= 1
    assert abs(goal_rank_correlation(PositionLatent(noise=True), data)["rho"]) < 0.2


def test_evaluate_refuses_a_camera_model_on_data_without_frames(frames):
    _, data = frames
    blind = load_dataset(frames[0])
    blind.image = None
    with pytest.raises(ValueError, match="encodes camera images and the data has none"):
        evaluate(WorldModel(WorldModelConfig(**CAMERA)).eval(), blind)


def test_shipped_camera_model_beats_the_unicycle_and_sees_contact(frames):
    """models/husky_camera.pt on frames it was not trained on (models/husky_camera.md has the figures)."""
    from world_model_planner.core.paths import models_dir

    _, data = frames
    m = load_checkpoint(models_dir() / "husky_camera.pt", device="cpu")
    assert m.cfg.use_image and not m.cfg.use_scan and m.metrics["latent_std_min"] > 0.5
    r = evaluate(m, data, stride=5)
    print(f"\nshipped camera model: pose error {r['model']['pose_err_m']} (unicycle {r['unicycle']['pose_err_m']}), "
          f"collision AUROC {r['collision_auroc']:.3f}, goal rho {r['goal_latent']['rho']:.3f}")
    assert r["model"]["pose_err_m"][1] < 0.8 * r["unicycle"]["pose_err_m"][1]      # 1 s
    assert r["collision_auroc"] > 0.8
