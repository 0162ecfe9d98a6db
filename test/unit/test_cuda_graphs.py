"""CUDA graphs of the planner's hot path (world_model_node/cuda_graphs.py) and the model on a GPU.

Most of these need a CUDA device and run where one is (`pytest test/unit/test_cuda_graphs.py`
on a GPU machine); on a CPU-only machine they are skipped with that reason. The fallback when
recording fails is tested everywhere.

Tolerances: a replayed graph runs the eager fused path's kernels on the same inputs, so its
numbers are the eager ones within 1e-5 (``TOL``, as test_wm_fused). The GPU against the CPU:
float32 products in another order, within 1e-4 on the latent over 30 steps.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from world_model_planner.core.paths import default_model_path
from world_model_planner.world_model_node.cuda_graphs import MAX_GRAPHS, GraphedHeads
from world_model_planner.world_model_node.fused import FusedRollout
from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig

TOL = 1e-5
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch sees none here)")
shipped = pytest.mark.skipif(not default_model_path().is_file(), reason="no shipped checkpoint")


def _actions(b, h, seed, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    return ((torch.rand(b, h, 2, generator=g) * 2 - 1) * torch.tensor([1.0, 1.5])).to(device)


LAG = dict(lag_prior=True, lag_k_v=0.5, lag_k_w=0.6, lag_gain_v=0.95, lag_gain_w=0.9, lag_delay_v=1,
           lag_delay_w=0, lag_rate_v=1.0)


def _small(seed=3, device="cpu", **extra):
    torch.manual_seed(seed)
    m = WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=32, head_hidden=16, cmd_memory=2,
                                    scene_sectors=8, history_steps=4, scan_history=1, **extra)).eval()
    with torch.no_grad():
        m.predictor.net[-1].weight.normal_(0, 0.05)
    return m.to(device)


def _eager(m, z0, acts):
    m.cuda_graphs = False
    try:
        with torch.inference_mode():
            return [None if t is None else t.clone() for t in m.rollout_heads(z0, acts, reuse=True)]
    finally:
        m.__dict__.pop("cuda_graphs", None)


def _graphed(m, z0, acts, **kw):
    with torch.inference_mode():
        return m.rollout_heads(z0, acts, reuse=True, **kw)


def _close(got, want, tol=TOL):
    for a, b in zip(got, want):
        assert (a is None) == (b is None)
        if a is not None:
            assert (a.float() - b.float()).abs().max().item() <= tol


def test_a_failed_recording_is_logged_once_and_the_eager_path_takes_over(caplog, monkeypatch):
    m = _small()
    fused = FusedRollout(m)
    g = GraphedHeads(fused)
    calls = []

    def refuse(*a, **k):
        calls.append(1)
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(g, "_record", refuse)
    z0, acts = torch.rand(1, m.latent_dim), _actions(8, 5, 0)
    with caplog.at_level(logging.WARNING), torch.inference_mode():
        assert g.run(z0, acts, True, True) is None
        assert g.run(z0, acts, True, True) is None                   # not tried again
    assert calls == [1] and "stream is capturing" in g.failed
    assert sum("runs eagerly" in r.getMessage() for r in caplog.records) == 1


@cuda
@pytest.mark.parametrize("extra", [{}, LAG], ids=["plain", "lag_prior"])
def test_replayed_graph_gives_the_eager_numbers_for_each_new_input(extra):
    m = _small(device="cuda", **extra)
    z0 = torch.rand(1, m.latent_dim, device="cuda")
    for seed in range(3):                                            # the static inputs are refilled
        acts = _actions(64, 12, seed, "cuda")
        want = _eager(m, z0, acts)
        got = _graphed(m, z0, acts)
        _close(got, want)
    graphed = m._fused_rollout.graphed
    assert graphed.recorded == 1 and graphed.failed is None
    # a batch of starts, not one broadcast start: another shape, another graph
    zb = z0.expand(64, -1) + 0.01 * torch.randn(64, m.latent_dim, device="cuda")
    _close(_graphed(m, zb, acts), _eager(m, zb, acts))
    assert graphed.recorded == 2


@cuda
def test_the_logit_and_clearance_outlive_the_next_replay_and_z_is_the_static_buffer():
    m = _small(device="cuda")
    z0 = torch.rand(1, m.latent_dim, device="cuda")
    first = _graphed(m, z0, _actions(32, 8, 0, "cuda"))
    kept = [t.clone() for t in first]
    second = _graphed(m, z0, _actions(32, 8, 1, "cuda"))
    assert torch.equal(first[1], kept[1]) and torch.equal(first[2], kept[2])   # copies
    assert not torch.equal(second[1], kept[1])
    assert second[0].data_ptr() == first[0].data_ptr()               # z: valid until the next call


@cuda
def test_new_weights_are_recorded_again_and_the_numbers_follow_them():
    m = _small(device="cuda")
    z0, acts = torch.rand(1, m.latent_dim, device="cuda"), _actions(16, 6, 2, "cuda")
    before = [t.clone() for t in _graphed(m, z0, acts)]
    with torch.no_grad():                                            # an optimiser step, in place
        m.predictor.net[-1].bias.add_(0.05)
        m.collision_head[0].bias.sub_(0.1)
    after = _graphed(m, z0, acts)
    _close(after, _eager(m, z0, acts))
    assert (after[0] - before[0]).abs().max().item() > 1e-3
    m.load_state_dict({k: v * 0.9 for k, v in m.state_dict().items()})
    _close(_graphed(m, z0, acts), _eager(m, z0, acts))
    graphed = m._fused_rollout.graphed
    assert graphed.recorded == 3 and len(graphed._graphs) == 1       # old weights' graphs dropped


@cuda
def test_graphs_kept_are_bounded_as_the_budget_changes_shapes():
    m = _small(device="cuda")
    z0 = torch.rand(1, m.latent_dim, device="cuda")
    for b in (8, 16, 24, 32, 40, 48):
        _graphed(m, z0, _actions(b, 5, b, "cuda"))
        assert len(m._fused_rollout.graphed._graphs) <= MAX_GRAPHS
    assert m._fused_rollout.graphed.recorded == 6


@cuda
@shipped
def test_the_shipped_model_on_the_gpu_matches_the_cpu_and_bf16_stays_near():
    from world_model_planner.world_model_node.checkpoint import load_checkpoint

    cpu = load_checkpoint(default_model_path(), device="cpu")
    gpu = load_checkpoint(default_model_path(), device="cuda")
    z0 = torch.zeros(1, cpu.latent_dim)
    z0[0, 5 + 2 * cpu.cfg.cmd_memory:cpu.cfg.explicit_dims] = 0.5    # a scene half the clip away
    acts = _actions(512, 30, 4)
    with torch.inference_mode():
        want = cpu.rollout_heads(z0, acts)
    got = _graphed(gpu, z0.cuda(), acts.cuda())
    _close([t.cpu() for t in got], want, tol=1e-4)
    gpu.matmul_dtype = torch.bfloat16                                 # products in bf16, the state in float32
    low = _graphed(gpu, z0.cuda(), acts.cuda())
    assert low[0].dtype == torch.float32
    drift = torch.linalg.norm(low[0][:, -1, :2].cpu() - want[0][:, -1, :2], dim=-1).mean().item()
    assert drift <= 0.005                                             # device_choice.BF16_POSE_TOLERANCE_M


@cuda
@shipped
def test_a_planner_tick_on_the_gpu_plans_through_the_recorded_graph():
    from world_model_planner.planner_node.dynamics import LearnedModel
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import Navigator, PlannerConfig
    from world_model_planner.planner_node.recovery import RecoveryConfig
    from world_model_planner.testing.toyworld import ToyWorld, u_trap_boxes

    dev = torch.device("cuda")
    model = LearnedModel.from_checkpoint(str(default_model_path()), device=dev)
    cfg = PlannerConfig(mppi=MPPIConfig(samples=1024, horizon=30), recovery=RecoveryConfig(enabled=False))
    nav = Navigator("hierarchical", model, cfg, dev)
    world = ToyWorld(u_trap_boxes(), start=(-2.0, 0.3, 0.2))
    nav.set_goal(4.0, 0.0)
    scan = world.scan()
    for k in range(5):
        cmd = nav.step(world.pose, world.vel, scan, 0.05 * k, new_scan=(k % 2 == 0))
        assert cmd.state == "planning", cmd.reason
        assert np.isfinite([cmd.v, cmd.w]).all()
    assert model.model._fused_rollout.graphed.recorded >= 1


@cuda
def test_device_auto_times_the_gpu_and_reports_it():
    from world_model_planner.planner_node.device_choice import choose_device
    from world_model_planner.planner_node.dynamics import LearnedModel

    lm = LearnedModel(_small(), device=torch.device("cpu"))
    choice = choose_device(lm, 2048, 30, cuda=True)
    assert isinstance(choice.timings["cuda"], float), choice.timings
    assert "cuda" in choice.line(2048, 30)


@cuda
def test_training_runs_on_the_gpu_and_returns_a_cpu_model():
    from world_model_planner.world_model_node.data import load_dataset
    from world_model_planner.world_model_node.train import TrainConfig, train

    import pathlib

    data = load_dataset(pathlib.Path(__file__).resolve().parents[1] / "data" / "wm_eval")
    model, metrics = train(data, WorldModelConfig(latent_dim=16, pred_hidden=32, head_hidden=16,
                                                  scan_beams=int(data.scan.shape[1])),
                           TrainConfig(steps=30, batch_size=64, horizon=8, device="cuda", progress=False,
                                       eval_every=15))
    assert metrics["device"].startswith("cuda") and metrics["steps_run"] == 30
    assert np.isfinite(metrics["val"]["score"])
    assert next(model.parameters()).device.type == "cpu"
