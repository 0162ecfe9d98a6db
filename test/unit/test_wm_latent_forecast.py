"""eval-model's latent forecast: the predictor's learned latent against the recorded step's
encoding and against h held constant, in full and without the directions the robot's own motion
moves it (world_model_node.latent_eval: latent_forecast, motion_directions, motion_basis)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from world_model_planner.core.paths import default_model_path
from world_model_planner.world_model_node.checkpoint import load_checkpoint
from world_model_planner.world_model_node.data import load_dataset
from world_model_planner.world_model_node.latent_eval import latent_forecast, motion_basis, motion_histories

DATA = Path(__file__).resolve().parents[1] / "data" / "wm_eval"


def test_motion_basis_spans_what_moves_with_motion_alone():
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(5, 1, 6, generator=g) * 3                  # five observations
    moves = torch.zeros(5, 16, 6)
    moves[..., 0] = torch.randn(5, 16, generator=g)               # motion moves h along e0 and e1 only
    moves[..., 1] = torch.randn(5, 16, generator=g) * 0.5
    b = motion_basis(obs + moves, 0.999)
    assert b.shape == (6, 2)
    assert torch.allclose(b.T @ b, torch.eye(2), atol=1e-5)
    proj = b @ b.T
    assert torch.allclose(proj[:2, :2], torch.eye(2), atol=1e-5) and float(proj[2:].abs().max()) < 1e-5
    assert motion_basis(obs + moves, 0.0).shape == (6, 0)
    assert motion_basis(obs.expand(5, 4, 6), 0.999).shape == (6, 0)       # nothing moves: nothing out
    with pytest.raises(ValueError, match="motion latents"):
        motion_basis(torch.zeros(1, 6), 0.9)
    with pytest.raises(ValueError, match="motion share"):
        motion_basis(obs + moves, 1.5)


def test_motion_histories_are_seeded_and_start_with_a_goal_at_rest():
    vel, hist = motion_histories(8, 10)
    vel2, hist2 = motion_histories(8, 10)
    assert vel.shape == (8, 2) and hist.cmd.shape == (8, 10, 2) and hist.valid.shape == (8, 10)
    assert np.array_equal(hist.cmd, hist2.cmd) and np.array_equal(vel, vel2)
    assert not hist.valid[0].any() and not hist.cmd[0].any() and not vel[0].any()
    assert hist.valid[1:].all() and np.abs(hist.cmd[1:, :, 0]).max() > 0.1


@pytest.fixture(scope="module")
def windows():
    data = load_dataset(DATA)
    starts = data.window_starts(20)[::15]
    rows = starts[:, None] + np.arange(21)
    return data, starts, data.cmd[rows[:, :-1]]


def test_latent_forecast_of_the_shipped_model_beats_holding_h(windows):
    data, starts, cmds = windows
    model = load_checkpoint(default_model_path(), device="cpu")
    r = latent_forecast(model, data, starts, cmds, [5, 10, 20], model.history_steps)
    assert len(r["pred_err"]) == 3 and r["motion_dims"] > 0
    assert all(h > 0 for h in r["hold_err"]) and all(h > 0 for h in r["view_hold_err"])
    assert r["ratio"] == pytest.approx([p / h for p, h in zip(r["pred_err"], r["hold_err"])])
    assert max(r["ratio"]) < 0.8                     # it forecasts its latent (0.56-0.65 on the whole set)
    assert r["view_pred_err"][0] < r["pred_err"][0]  # the view part is the smaller part of the error


def test_a_predictor_that_keeps_h_forecasts_nothing(windows):
    data, starts, cmds = windows
    model = load_checkpoint(default_model_path(), device="cpu")
    dh = model.cfg.h_dims
    with torch.no_grad():                            # the predictor's h update zeroed: h stays as encoded
        last = model.predictor.net[-1]
        last.weight[:dh] = 0.0
        last.bias[:dh] = 0.0
    r = latent_forecast(model, data, starts, cmds, [5, 10], model.history_steps)
    assert r["pred_err"] == pytest.approx(r["hold_err"], rel=1e-5)
    assert r["ratio"] == pytest.approx([1.0, 1.0], rel=1e-5)
    assert r["view_ratio"] == pytest.approx([1.0, 1.0], rel=1e-5)


def test_goal_latent_landscape_script_in_real_pybullet(capsys, tmp_path):
    """scripts/goal_latent_landscape.py with the shipped camera model at a picture of the open
    arena's corner: its latent reads the frame alone, so the picture's own frame under any motion
    is its at-rest embedding, and driving at the corner brings the frame the robot sees closer."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "goal_latent_landscape.py"
    spec = importlib.util.spec_from_file_location("glandscape", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--motions", "16"]) == 0
    out = capsys.readouterr().out
    own = next(r for r in out.splitlines() if r.startswith("| distance to its at-rest embedding"))
    full, moved_out = (float(c.split("±")[0]) for c in own.split("|")[2:4])
    assert full < 1e-3 and moved_out < 1e-3 and "0 motion directions" in out
    rows = {r.split("|")[1].strip(): r.split("|")[2:5] for r in out.splitlines()
            if r.startswith("| stop") or r.startswith("| 1.0 m/s")}
    seen = {k: float(v[1]) for k, v in rows.items()}
    assert set(seen) == {"stop", "1.0 m/s"} and seen["1.0 m/s"] < seen["stop"]
    with pytest.raises(SystemExit, match="--picture-at"):
        mod.main(["--picture-at", "1,2"])
    assert mod.main(["--model", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt" in capsys.readouterr().err


def test_a_latent_that_reads_no_motion_has_no_motion_directions():
    from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig, observation

    g = torch.Generator().manual_seed(1)
    base = torch.randn(3, 1, 8, generator=g)
    assert motion_basis(base + 1e-7 * torch.randn(3, 6, 8, generator=g), 0.999).shape == (8, 0)   # rounding only

    with pytest.raises(ValueError, match="scan_history"):        # past scans are history too
        WorldModelConfig(scan_beams=16, scan_bins=8, h_reads_motion=False)
    cfg = WorldModelConfig(scan_beams=16, scan_bins=8, h_reads_motion=False, scan_history=0)
    model = WorldModel(cfg).eval()
    vel, hist = motion_histories(6, cfg.history_steps)
    scan = torch.rand(1, 16).expand(6, -1) * 5
    with torch.no_grad():
        h = model.latent_h(model.encode(observation(torch.zeros(6, 3), vel, scan, history=hist)))
        moving = WorldModel(WorldModelConfig(scan_beams=16, scan_bins=8)).eval()
        hm = moving.latent_h(moving.encode(observation(torch.zeros(6, 3), vel, scan, history=hist)))
    assert torch.allclose(h, h[:1].expand_as(h), atol=1e-6)        # the same scan: the same h, however it moves
    assert float((hm - hm[:1]).abs().max()) > 1e-3                 # the default latent reads the motion
    assert cfg.explicit_dims == moving.cfg.explicit_dims            # velocity and command memory still explicit
