"""Checkpoints: round trip, and refusal of missing, truncated, foreign, mismatched and malicious files."""
from __future__ import annotations

import os
import pickle

import pytest
import torch

from world_model_planner.world_model_node.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from world_model_planner.world_model_node.history import History
from world_model_planner.world_model_node.model import LEGACY_OFF, WorldModel, WorldModelConfig, observation
from world_model_planner.core.paths import default_model_path
from world_model_planner.testing.bombs import PicklePayload


def _model(**cfg):
    torch.manual_seed(3)
    return WorldModel(WorldModelConfig(**cfg)).eval()


def _obs():
    g = torch.Generator().manual_seed(0)
    return {"pose": torch.randn(2, 3, generator=g), "vel": torch.randn(2, 2, generator=g),
            "scan": torch.rand(2, 180, generator=g) * 8}


def test_round_trip_keeps_weights_config_stats_and_metrics(tmp_path):
    m = _model(latent_dim=32)
    path = save_checkpoint(tmp_path / "sub" / "m.pt", m, data_stats={"rows": 10, "vel_std": [0.1, 0.2]},
                           metrics={"latent_std": [1.0, 0.9], "val": {"pose": 0.01}}, train={"steps": 5})
    loaded = load_checkpoint(path, device="cpu")
    assert not loaded.training and loaded.cfg == m.cfg and loaded.latent_dim == m.latent_dim == 32 + 10 + 16
    acts = torch.rand(2, 5, 2)
    torch.testing.assert_close(loaded.rollout(loaded.encode(_obs()), acts), m.rollout(m.encode(_obs()), acts))
    assert loaded.data_stats["vel_std"] == [0.1, 0.2] and loaded.metrics["val"]["pose"] == 0.01
    assert loaded.history_steps == 10 and loaded.has_scene   # a new model keeps history and scene head
    # the file is plain data: the stock loader with weights_only=True reads it
    blob = torch.load(path, weights_only=True)
    assert blob["format"] == "wmp-world-model" and blob["train"] == {"steps": 5}
    assert not list(tmp_path.glob("sub/*.tmp"))  # atomic write left no temp file


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated_file_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _model())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable world-model checkpoint"):
        load_checkpoint(path)


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="not a readable world-model checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_pickle_crafted_to_run_code_is_refused_and_nothing_runs(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    blob = {"format": "wmp-world-model", "version": 1, "x": PicklePayload(str(marker))}
    if writer == "torch":
        torch.save(blob, path)
    else:
        path.write_bytes(pickle.dumps(blob, protocol=2))
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)
    assert not marker.exists(), "loading the checkpoint executed code"


def test_another_observation_layout_is_refused_with_a_clear_message(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _model(scan_beams=90, scan_bins=45))
    with pytest.raises(CheckpointError, match=r"another observation layout: scan_beams: checkpoint 90, expected 180"):
        load_checkpoint(path, obs_spec={"scan_beams": 180, "range_max_m": 8.0, "image": False})
    assert load_checkpoint(path, obs_spec={"scan_beams": 90}).obs_spec["scan_beams"] == 90


def test_foreign_dicts_other_versions_and_bad_configs_are_refused(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"model": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="expected a 'wmp-world-model' checkpoint"):
        load_checkpoint(path)
    good = save_checkpoint(tmp_path / "m.pt", _model())
    blob = torch.load(good, weights_only=True)
    torch.save(dict(blob, version=99), path)
    with pytest.raises(CheckpointError, match="expected checkpoint version 1, got 99"):
        load_checkpoint(path)
    torch.save(dict(blob, config=dict(blob["config"], latent_dim=-3)), path)
    with pytest.raises(CheckpointError, match="invalid model config.*latent_dim"):
        load_checkpoint(path)
    torch.save(dict(blob, config=dict(blob["config"], pred_hidden=64),
                    obs_spec=blob["obs_spec"]), path)
    with pytest.raises(CheckpointError, match="weights do not fit the stored config"):
        load_checkpoint(path)
    assert read_checkpoint(good)["obs_spec"]["scan_beams"] == 180


def _with_history(obs, seed=5):
    g = torch.Generator().manual_seed(seed)
    hist = History(cmd=torch.rand(2, 10, 2, generator=g).numpy(), vel=torch.rand(2, 10, 2, generator=g).numpy(),
                   valid=torch.ones(2, 10, dtype=torch.bool).numpy(),
                   scan=(torch.rand(2, 10, 180, generator=g) * 8).numpy())
    return observation(obs["pose"], obs["vel"], obs["scan"], history=hist)


def test_a_checkpoint_written_before_history_loads_and_behaves_as_before(tmp_path):
    """Configs stored before history and the scene head lack their fields: those read as off."""
    old = _model(**LEGACY_OFF)                        # the architecture such a checkpoint holds
    path = save_checkpoint(tmp_path / "old.pt", old)
    blob = torch.load(path, weights_only=True)
    blob["config"] = {k: v for k, v in blob["config"].items() if k not in LEGACY_OFF}
    torch.save(blob, path)
    loaded = load_checkpoint(path, device="cpu")
    assert loaded.history_steps == 0 and not loaded.has_scene and loaded.cfg.cmd_memory == 0
    assert set(loaded.state_dict()) == set(old.state_dict())
    acts = torch.rand(2, 5, 2)
    z = loaded.encode(_obs())
    torch.testing.assert_close(loaded.rollout(z, acts), old.rollout(old.encode(_obs()), acts))
    torch.testing.assert_close(loaded.encode(_with_history(_obs())), z)   # history is ignored
    # with today's defaults instead, the same weights would not fit: the legacy reading is what loads them
    blob["config"] = WorldModelConfig().to_dict() | {k: blob["config"][k] for k in ("latent_dim",)}
    torch.save(blob, path)
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_checkpoint(path)


def test_the_shipped_checkpoint_reads_history_and_predicts_the_scene():
    """The shipped model carries the history and scene fields (older checkpoints without them
    load through LEGACY_OFF, tested above) and the history changes what it encodes."""
    blob = torch.load(default_model_path(), weights_only=True)
    history_and_scene = ("history_steps", "scan_history", "cmd_memory", "scene_sectors", "scene_prior")
    assert set(history_and_scene) <= set(LEGACY_OFF) and all(k in blob["config"] for k in history_and_scene)
    model = load_checkpoint(default_model_path(), device="cpu")
    assert model.history_steps > 0 and model.has_scene and model.cfg.scene_prior
    obs = _obs()
    assert not torch.allclose(model.encode(_with_history(obs)), model.encode(obs))