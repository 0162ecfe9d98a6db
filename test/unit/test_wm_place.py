"""The place term: batches drawn several windows per episode, and learned-latent distances made
to follow distances between poses (losses.place_loss, TrainConfig.episode_group)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.app.cli import main as wmp
from world_model_planner.world_model_node.checkpoint import load_checkpoint
from world_model_planner.world_model_node.data import load_dataset
from world_model_planner.world_model_node.losses import PLACE_RAD_M, place_loss
from world_model_planner.world_model_node.sampler import WindowSampler
from world_model_planner.world_model_node.train import TrainConfig

DATA = "test/data/wm_eval_turtlebot4"


def test_grouped_batches_hold_windows_of_one_episode_and_group_1_draws_as_before():
    data = load_dataset(DATA)
    s = WindowSampler(data, horizon=5, device=torch.device("cpu"), use_image=False)
    g = torch.Generator().manual_seed(3)
    b = s.sample(32, g, group=4)
    ep = b["episode"].reshape(8, 4)
    assert (ep == ep[:, :1]).all()                                       # each group one episode
    # every window is a real start of its episode: the rows' episode is the batch's label
    rows = b["pose"]
    assert rows.shape == (32, 6, 3)
    idx_eps = torch.as_tensor(data.episode)[s.starts]
    assert set(b["episode"].tolist()) <= set(idx_eps.tolist())
    # the windows of a group spread over their episode (not one start repeated)
    assert len({tuple(r[0].tolist()) for r in rows}) > 24
    # group 1: the draw of the sampler before groups existed, window for window
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    idx = torch.randint(len(s.starts), (16,), generator=g2)
    torch.testing.assert_close(s.sample(16, g1)["pose"], s.batch(idx)["pose"])
    with pytest.raises(ValueError, match="episode_group 3 must divide batch_size 32"):
        TrainConfig(batch_size=32, episode_group=3)


def test_place_loss_is_zero_when_latent_distances_follow_pose_distances_within_each_episode():
    g = torch.Generator().manual_seed(0)
    pose = torch.rand(12, 3, generator=g) * torch.tensor([6.0, 6.0, 1.0])     # yaw within a radian
    ep = torch.tensor([0] * 6 + [1] * 6)
    h = torch.cat([pose[:, :2], PLACE_RAD_M * pose[:, 2:]], 1) * 2.5         # scaled: only ratios count
    h = torch.cat([h, torch.zeros(12, 5)], 1)
    assert place_loss(h, pose, ep).item() < 1e-10
    # what pairs of two episodes show does not count
    h2 = h.clone()
    h2[6:] += 100.0
    assert place_loss(h2, pose, ep).item() < 1e-10
    # a latent that does not follow the poses does
    assert place_loss(torch.randn(12, 8, generator=g), pose, ep).item() > 0.05
    # heading counts: the same place turned half a turn is far
    p = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, math.pi - 0.01], [1.0, 0.0, 0.0]])
    close = torch.tensor([[0.0], [0.05], [1.0]])                             # turned: as close as 5 cm
    assert place_loss(close, p, torch.zeros(3, dtype=torch.long)).item() > 0.1
    # no two windows of one episode: nothing to compare
    assert place_loss(h, pose, torch.arange(12)).item() == 0.0


def test_train_with_the_place_term_and_its_refusals(tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert wmp(["train", "--data", DATA, "--out", str(out), "--loss-weight", "place=1", "--no-progress",
                "--steps", "3", "--batch-size", "16"]) == 2
    assert "--episode-group G > 1" in capsys.readouterr().err
    assert wmp(["train", "--data", DATA, "--out", str(out), "--episode-group", "5", "--no-progress",
                "--steps", "3", "--batch-size", "16"]) == 2
    assert "episode_group 5 must divide batch_size 16" in capsys.readouterr().err
    assert wmp(["train", "--data", DATA, "--out", str(out), "--loss-weight", "place=1", "--episode-group", "4",
                "--steps", "3", "--batch-size", "16", "--no-progress"]) == 0
    train = torch.load(out, weights_only=True)["train"]
    assert train["episode_group"] == 4 and train["loss_weights"]["place"] == 1.0
    assert np.isfinite(load_checkpoint(out).metrics["latent_std"]).all()
