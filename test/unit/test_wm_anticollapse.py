"""The VICReg term keeps the learned latent alive; the same run without it collapses.

Both runs optimise only the JEPA latent-prediction loss (supervised heads off, so nothing but
the regulariser can stop collapse) on the committed sim eval set, with the default EMA target.
The encoder starts with a small output spread (std ~0.02 per dimension). With VICReg every
dimension is lifted to ~0.9 and held there; the same run without it stays collapsed (~0.01):
the latent loss alone is happiest with a constant code. (A latent that VICReg has already
spread out did not collapse in 400 further steps without it here: the EMA target and the
predictor hold an existing spread, BYOL-style, but do not create one.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from world_model_planner.world_model_node.data import load_dataset
from world_model_planner.world_model_node.history import history_from_rows
from world_model_planner.world_model_node.losses import LossWeights
from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig, observation
from world_model_planner.world_model_node.train import TrainConfig, train

DATA = Path(__file__).parent.parent / "data" / "wm_eval"
STD_FLOOR = 0.5


MODEL_CFG = dict(latent_dim=21, enc_hidden=64, pred_hidden=64, head_hidden=16)   # 16 learned dims


def _latent_std(model, data):
    """(d,) std of the learned latent over real observations, each with its recorded history."""
    hist = history_from_rows(data.cmd, data.vel, data.episode, np.arange(len(data)), model.history_steps,
                             data.scan)
    with torch.no_grad():
        return model.latent_h(model.encode(observation(data.pose, data.vel, data.scan, history=hist))).std(0)


def _run(data, vicreg: bool, init_model=None, steps=100):
    w = LossWeights(pose=0.0, velocity=0.0, collision=0.0, scene=0.0,
                    variance=1.0 if vicreg else 0.0, covariance=0.04 if vicreg else 0.0)
    cfg = TrainConfig(steps=steps, batch_size=64, horizon=5, eval_every=50, patience=100, lr=3e-3,
                      val_fraction=0.0, progress=False, seed=0)
    return train(data, WorldModelConfig(**MODEL_CFG), cfg, w, init_model=init_model)


def test_vicreg_keeps_latent_std_above_floor_and_without_it_the_latent_collapses():
    data = load_dataset(DATA)
    torch.manual_seed(0)
    std_init = _latent_std(WorldModel(WorldModelConfig(**MODEL_CFG)), data)
    on, m_on = _run(data, vicreg=True)
    std_on = _latent_std(on, data)
    off, m_off = _run(data, vicreg=False)  # the same run without the regulariser
    std_off = _latent_std(off, data)
    print(f"\nlatent std (min/mean over dims): init {std_init.min():.3f}/{std_init.mean():.3f}; "
          f"100 steps with VICReg {std_on.min():.3f}/{std_on.mean():.3f}; same without {std_off.min():.3f}/"
          f"{std_off.mean():.3f}")
    assert float(std_on.min()) > STD_FLOOR
    assert m_on["latent_std_min"] > STD_FLOOR  # the logged per-dimension std shows it too
    assert float(std_off.mean()) < 0.1 * float(std_on.mean())
    assert m_off["latent_std_min"] < 0.1
