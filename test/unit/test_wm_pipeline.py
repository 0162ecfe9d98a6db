"""collect -> train -> eval-model smoke run through the real `wmp` commands (PyBullet, torch)."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from world_model_planner.world_model_node.checkpoint import load_checkpoint
from world_model_planner.world_model_node.collect import ExplorationPolicy, random_scenario, random_start
from world_model_planner.world_model_node.data import load_dataset
from world_model_planner.app.cli import main as wmp


def test_collect_train_eval_smoke(tmp_path):
    t0 = time.monotonic()
    data, model, out = tmp_path / "data", tmp_path / "m.pt", tmp_path / "eval"
    assert wmp(["collect", "--scenario", "random,open", "--episodes", "3", "--episode-s", "8",
                "--out", str(data), "--seed", "11", "--no-progress"]) == 0
    tr = load_dataset(data)
    assert len(tr) == 3 * 80 and tr.scan.shape == (240, 180) and len(tr.episodes) == 3
    # no --dynamics: the default floor everywhere, no load, no latency, no movers (labels known)
    assert (tr.ground == tr.ground[0]).all() and (tr.payload_kg == 0).all() and (tr.latency_s == 0).all()
    assert np.isinf(tr.mover_dist_m).all()
    assert all(e["dynamics"] is None for e in tr.meta["episodes"].values())
    assert {e["scenario"] for e in tr.meta["episodes"].values()} == {"random", "open"}
    assert np.isfinite(tr.pose).all() and np.abs(tr.cmd[:, 0]).max() <= 1.0
    assert wmp(["train", "--data", str(data), "--out", str(model), "--steps", "30", "--batch-size", "32",
                "--horizon", "5", "--loss-weight", "pose=20", "--lr", "1e-3", "--pred-hidden", "48",
                "--head-hidden", "24", "--no-progress"]) == 0
    m = load_checkpoint(model, device="cpu")
    assert (m.cfg.pred_hidden, m.cfg.head_hidden) == (48, 24)
    assert m.predictor.net[0].out_features == 48 and m.collision_head[0].out_features == 24
    train = torch.load(model, weights_only=True)["train"]                      # recorded with the model
    assert train["loss_weights"]["pose"] == 20.0 and train["loss_weights"]["collision"] == 1.0
    assert train["lr"] == 1e-3 and train["horizon"] == 5
    h_dims = m.latent_dim - getattr(m.cfg, "explicit_dims", 5)     # the learned part h of the latent
    assert m.metrics["steps_run"] == 30 and len(m.metrics["latent_std"]) == h_dims
    assert m.data_stats["rows"] == 240 and m.obs_spec["scan_beams"] == 180
    assert wmp(["eval-model", "--model", str(model), "--data", str(data), "--json", str(out / "e.json"),
                "--plots", str(out)]) == 0
    result = json.loads((out / "e.json").read_text())
    assert result["horizons_s"] == [0.5, 1.0, 2.0, 3.0]
    for name in ("model", "constant_velocity", "unicycle"):
        assert len(result[name]["pose_err_m"]) == 4 and all(e >= 0 for e in result[name]["pose_err_m"])
    assert "collision_auroc" in result
    assert (out / "error_vs_horizon.png").stat().st_size > 1000
    assert time.monotonic() - t0 < 60


def test_train_refuses_a_bad_loss_weight_before_reading_data(tmp_path, capsys):
    for bad, why in (("pose=-1", "LossWeights.pose: expected a value in [0.0, 10000.0]"),
                     ("posture=1", "TERM one of collision, covariance"), ("pose", "could not convert")):
        assert wmp(["train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "m.pt"),
                    "--loss-weight", bad]) == 2
        assert why in capsys.readouterr().err


def test_train_only_the_collision_head_of_a_shipped_model(tmp_path, capsys):
    """--init + --train-only: the head learns on the frozen model's own rollouts; the encoder
    and the predictor keep their weights exactly."""
    shipped, out = "models/turtlebot4_default.pt", tmp_path / "head.pt"
    off = [a for t in ("latent", "variance", "covariance", "pose", "velocity", "scene")
           for a in ("--loss-weight", f"{t}=0")]
    assert wmp(["train", "--data", "test/data/wm_eval_turtlebot4", "--out", str(out), "--init", shipped,
                "--train-only", "collision_head", *off, "--steps", "5", "--batch-size", "32", "--no-progress"]) == 0
    before = torch.load(shipped, weights_only=True)["state_dict"]
    after = torch.load(out, weights_only=True)["state_dict"]
    assert sorted({k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}) == ["collision_head"]
    assert torch.load(out, weights_only=True)["train"]["train_only"] == ["collision_head"]
    # --head-clearance: the head gains the predicted smallest clearance as an input, and learns it
    assert wmp(["train", "--data", "test/data/wm_eval_turtlebot4", "--out", str(out), "--init", shipped,
                "--head-clearance", "--train-only", "collision_head", *off, "--steps", "5", "--batch-size", "32",
                "--no-progress"]) == 0
    blob = torch.load(out, weights_only=True)
    assert blob["config"]["head_clearance"] and blob["train"]["head_clearance_added"]
    w_new, w_old = blob["state_dict"]["collision_head.0.weight"], before["collision_head.0.weight"]
    assert w_new.shape[1] == w_old.shape[1] + 1 and w_new[:, -1].abs().max() > 0
    assert load_checkpoint(out).cfg.head_reads_clearance
    # a new model with it (off by default)
    assert wmp(["train", "--data", "test/data/wm_eval_turtlebot4", "--out", str(out), "--head-clearance",
                "--steps", "2", "--batch-size", "16", "--no-progress"]) == 0
    assert torch.load(out, weights_only=True)["config"]["head_clearance"]
    capsys.readouterr()
    for extra, why in ((["--train-only", "collision_head"], "--train-only needs --init"),
                       (["--init", shipped, "--train-only", "decoder"], "expected modules among collision_head"),
                       (["--init", "models/husky_default.pt"], "was trained on husky, the data was driven by turtlebot4"),
                       (["--init", shipped, "--pred-hidden", "64"], "--pred-hidden with --init: the architecture is "
                                                                    "the checkpoint's (128)"),
                       (["--pred-hidden", "4"], "pred_hidden: expected a value in [8, 4096]"),
                       (["--init", shipped, "--lag-prior"], "--lag-prior with --init")):
        assert wmp(["train", "--data", "test/data/wm_eval_turtlebot4", "--out", str(out), "--steps", "1",
                    "--no-progress", *extra]) == 2
        assert why in capsys.readouterr().err


def test_train_with_the_lag_prior_stores_the_fit_of_its_data(tmp_path, capsys):
    """--lag-prior: the predictor starts from the lag `wmp sysid` fits on the same data."""
    from world_model_planner.planner_node import sysid

    data, out = "test/data/wm_eval_turtlebot4", tmp_path / "lag.pt"
    assert wmp(["train", "--data", data, "--out", str(out), "--lag-prior", "--steps", "3", "--batch-size", "16",
                "--no-progress"]) == 0
    assert "lag prior (fitted on the training data)" in capsys.readouterr().out
    cfg = load_checkpoint(out).cfg
    fit = sysid.fit_transitions(load_dataset(data), max_delay=min(sysid.MAX_DELAY_STEPS, cfg.cmd_memory))
    assert cfg.lag_prior
    for axis in ("v", "w"):
        a = fit.axis(axis)
        assert getattr(cfg, f"lag_k_{axis}") == pytest.approx(a.k(cfg.dt_s))
        assert getattr(cfg, f"lag_gain_{axis}") == pytest.approx(a.gain)
        assert getattr(cfg, f"lag_delay_{axis}") == a.delay_steps
        assert getattr(cfg, f"lag_rate_{axis}") == pytest.approx(a.rate if np.isfinite(a.rate) else 0.0)



def test_train_mirror_doubles_the_training_windows_and_is_recorded(tmp_path, capsys):
    """--mirror: every training episode also mirrored (data.mirror_transitions); the checkpoint
    records it, and validation stays on the recorded episodes."""
    data, out = "test/data/wm_eval_turtlebot4", tmp_path / "m.pt"
    windows = {}
    for flag in ([], ["--mirror"]):
        assert wmp(["train", "--data", data, "--out", str(out), *flag, "--steps", "2", "--batch-size", "16",
                    "--no-progress"]) == 0
        ck = load_checkpoint(out)
        assert ck.metrics["mirrored"] is bool(flag)
        assert max(ck.metrics["val_episodes"]) <= int(load_dataset(data).episode.max())
        windows[bool(flag)] = ck.metrics["train_windows"]
    assert windows[True] == 2 * windows[False] > 0


def test_train_with_a_given_lag_prior_stores_that_response(tmp_path, capsys):
    """--lag-prior FILE: the response written in a `wmp sysid` file (here the TurtleBot 4's ramp
    at its acceleration limits) in place of a fit; a bad file or a delay beyond the command
    memory is refused with the reason."""
    import json

    given, out = "models/turtlebot4_lag_prior.json", tmp_path / "lag.pt"
    assert wmp(["train", "--data", "test/data/wm_eval_turtlebot4", "--out", str(out), "--lag-prior", given,
                "--steps", "2", "--batch-size", "16", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"lag prior (from {given})" in printed and "rate limit 3.20 rad/s^2, not fitted" in printed
    cfg = load_checkpoint(out).cfg
    assert cfg.lag_prior and cfg.lag_k_v == cfg.lag_k_w == 1.0 and cfg.lag_gain_v == cfg.lag_gain_w == 1.0
    assert (cfg.lag_rate_v, cfg.lag_rate_w, cfg.lag_delay_v, cfg.lag_delay_w) == (2.5, 3.2, 0, 0)
    far = json.loads(open(given).read())
    far["w"]["delay_steps"] = cfg.cmd_memory + 1
    (tmp_path / "far.json").write_text(json.dumps(far))
    (tmp_path / "bad.json").write_text('{"format": "world_model_planner.sysid", "version": 2, "dt_s": 0.1}')
    for path, why in ((tmp_path / "far.json", "w delay 6 steps is beyond the model's command memory (5 steps)"),
                      (tmp_path / "bad.json", "bad.json: v: expected an object"),
                      (tmp_path / "none.json", "none.json: sysid JSON file not found")):
        assert wmp(["train", "--data", "test/data/wm_eval_turtlebot4", "--out", str(out), "--lag-prior", str(path),
                    "--steps", "1", "--no-progress"]) == 2
        assert why in capsys.readouterr().err

def test_eval_refuses_a_bad_checkpoint_with_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert wmp(["eval-model", "--model", str(bad), "--data", "test/data/wm_eval"]) == 2
    assert "not a readable world-model checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("dtype, want", [("bfloat16", torch.bfloat16), ("float32", None)])
def test_eval_model_rolls_every_window_out_in_the_dtype_asked(dtype, want, monkeypatch, capsys):
    """eval-model rolls each window out alone (one sequence), below the fused path's batch
    threshold for bf16: --matmul-dtype bfloat16 must lower that threshold, or it would measure
    float32 under the bf16 label."""
    import world_model_planner.world_model_node.evaluate as ev

    seen = {}

    def capture(model, data, **kw):
        seen.update(dtype=model.matmul_dtype, min_rows=model.matmul_min_rows)
        raise ValueError("captured")

    monkeypatch.setattr(ev, "evaluate", capture)
    assert wmp(["eval-model", "--data", "test/data/wm_eval", "--matmul-dtype", dtype]) == 2
    assert "captured" in capsys.readouterr().err
    assert seen == {"dtype": want, "min_rows": 1}


def test_exploration_covers_turning_stopping_reversing():
    rng = np.random.default_rng(0)
    pol = ExplorationPolicy(rng)
    cmds = np.array([pol.act(in_contact=(i % 97) < 12) for i in range(3000)])  # 300 s
    v, w = cmds[:, 0], cmds[:, 1]
    assert (v < -0.1).mean() > 0.05  # reversing
    assert (np.abs(v) < 0.05).mean() > 0.02  # stopping
    assert (np.abs(w) > 0.8).mean() > 0.05  # turning hard
    assert (v > 0.7).mean() > 0.05  # fast straight runs
    assert v.min() >= -0.5 and v.max() <= 1.0 and np.abs(w).max() <= 1.5
    assert np.abs(np.diff(cmds, axis=0)).mean() < 0.15  # mostly smooth


def test_random_layouts_differ_and_have_free_starts():
    a, b = random_scenario(np.random.default_rng(1)), random_scenario(np.random.default_rng(2))
    assert a.arena != b.arena and a.obstacles != b.obstacles
    start = random_start(a, np.random.default_rng(0))
    assert start is not None and a.footprint_clearance_m(start.x, start.y, start.yaw) >= 0.25


def test_random_rooms_are_cut_by_walls_with_doors_a_robot_fits_through():
    """random_rooms: every layout has at least one wall across the arena, each wall spans it from
    edge to edge except for its doors, and each door (a gap between a wall's pieces) is 0.8-2.0 m
    wide, wider than the Jackal (0.43 m); the same seed gives the same layout."""
    from world_model_planner.world_model_node.collect import RANDOM_LAYOUTS, random_rooms_scenario

    assert set(RANDOM_LAYOUTS) == {"random", "random_rooms"}
    for seed in range(20):
        sc = random_rooms_scenario(np.random.default_rng(seed), robot="jackal")
        assert sc == random_rooms_scenario(np.random.default_rng(seed), robot="jackal")
        sx, sy = sc.arena
        walls = {}                             # (axis, position) -> [(lo, hi) along the wall]
        for o in sc.obstacles:                 # wall pieces: thin, axis-aligned boxes (pillars are turned)
            size = getattr(o, "size", None)
            if size is None or o.yaw != 0.0:
                continue
            if size[0] <= 0.3 < size[1]:       # across x: stands at x, spans y
                walls.setdefault((0, o.center[0]), []).append((o.center[1] - size[1] / 2, o.center[1] + size[1] / 2))
            elif size[1] <= 0.3 < size[0]:
                walls.setdefault((1, o.center[1]), []).append((o.center[0] - size[0] / 2, o.center[0] + size[0] / 2))
        full = {k: v for k, v in walls.items()
                if min(a for a, _ in v) == pytest.approx(-(sy if k[0] == 0 else sx) / 2)}
        assert full, f"seed {seed}: no wall from the arena's edge"
        for (axis, _), pieces in full.items():
            pieces = sorted(pieces)
            gaps = [b0 - a1 for (_, a1), (b0, _) in zip(pieces, pieces[1:])]
            end = (sy if axis == 0 else sx) / 2
            gaps += [g for g in (pieces[0][0] + end, end - pieces[-1][1]) if g > 1e-6]   # a door at an end
            assert gaps and all(0.8 - 1e-6 <= g <= 2.0 + 1e-6 for g in gaps), (seed, gaps)
        start = random_start(sc, np.random.default_rng(seed))
        assert start is not None and sc.footprint_clearance_m(start.x, start.y, start.yaw) >= 0.25
