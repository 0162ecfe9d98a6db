"""The fused rollout + heads (world_model_node/fused.py) against the step-by-step reference.

Every test runs with both per-step updates (the ``step_kernel`` fixture). Tolerance: float32 rounding only. The fused path folds scales into weights and reorders a few
sums, so it is not bitwise; on the shipped checkpoint (512 x 20) it measures about 2e-6 on the
latent and 1e-5 on collision logits. Asserted: latent and clearance within 1e-5 (metres for the
pose and the clearance), collision probability within 1e-5, logits within 5e-5.
"""
from __future__ import annotations

import math

import pytest
import torch

from world_model_planner.core.paths import default_model_path
from world_model_planner.planner_node.tick_profile import room_scan
from world_model_planner.world_model_node.checkpoint import load_checkpoint
from world_model_planner.world_model_node.fused import FusedRollout
from world_model_planner.world_model_node.model import LEGACY_OFF, WorldModel, WorldModelConfig, observation

TOL = 1e-5


@pytest.fixture(autouse=True, params=["numba", "torch"])
def step_kernel(request, monkeypatch):
    """Every test here for both per-step updates of the fused path: the compiled loop
    (world_model_node/step_kernel.py) and the PyTorch operations."""
    if request.param == "numba":
        from world_model_planner.world_model_node import step_kernel as sk

        if not sk.available():
            pytest.skip(f"numba step kernel unavailable: {sk.error()}")
    monkeypatch.setattr(WorldModel, "step_kernel", "auto" if request.param == "numba" else "torch")
    return request.param


def _reference(m, z0, acts):
    z = m.rollout_reference(z0, acts)
    return z, m.collision_logit(z), (m.min_clearance(z) if m.has_scene else None)


def _assert_same(m, z0, acts):
    with torch.no_grad():
        z, logit, clear = m.rollout_heads(z0, acts)
        rz, rlogit, rclear = _reference(m, z0, acts)
        plain = m.rollout(z0, acts)
    assert torch.equal(plain, z)                                   # rollout() is the fused path here
    assert ((z - rz).abs() / (1.0 + rz.abs())).max().item() <= TOL   # absolute below 1, relative above
    assert (torch.sigmoid(logit) - torch.sigmoid(rlogit)).abs().max().item() <= TOL
    torch.testing.assert_close(logit, rlogit, atol=5e-5, rtol=1e-5)
    if rclear is None:
        assert clear is None
    else:
        assert (clear - rclear).abs().max().item() <= TOL
    return z, rz


def _actions(b, h, seed, w_max=1.5):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, h, 2, generator=g) * 2 - 1) * torch.tensor([1.0, w_max])


@pytest.mark.skipif(not default_model_path().is_file(), reason="no shipped checkpoint")
def test_fused_rollout_matches_reference_on_the_shipped_checkpoint():
    m = load_checkpoint(default_model_path(), device="cpu")
    assert FusedRollout(m).supported()
    pose = [0.4, -0.3, 2.9]                                          # near the yaw wrap
    scan = torch.as_tensor(room_scan(pose, 180), dtype=torch.float32)
    z0 = m.encode(observation(torch.tensor([pose]), torch.tensor([[0.5, 0.3]]), scan[None]))
    acts = _actions(128, 20, 0)
    acts[0] = torch.tensor([1.0, 1.5])                               # a hard left turn at full speed
    z, rz = _assert_same(m, z0, acts)
    assert (m.pose(z) - m.pose(rz)).abs()[..., :2].max().item() <= TOL
    # a batch of starts (B, D), not only one broadcast start
    _assert_same(m, z0.expand(128, -1) + 0.01 * torch.randn(128, z0.shape[1]), acts)


@pytest.mark.parametrize("cfg", [
    dict(latent_dim=24, pred_hidden=32, pred_layers=1, head_hidden=16, cmd_memory=2, scene_sectors=8,
         history_steps=4, scan_history=1, head_clearance=True),         # the head reads the smallest clearance
    dict(latent_dim=20, pred_hidden=24, pred_layers=3, head_hidden=8, **LEGACY_OFF),
    dict(latent_dim=16, pred_hidden=16, pred_layers=2, head_hidden=8, cmd_memory=1, scene_sectors=5,
         history_steps=2, scan_history=0, scene_prior=False),
    dict(latent_dim=16, pred_hidden=16, head_hidden=8, cmd_memory=3, scene_sectors=6, history_steps=4,
         scan_history=1, lag_prior=True, lag_k_v=0.4, lag_k_w=0.7, lag_gain_v=0.9, lag_gain_w=0.8,
         lag_delay_v=2, lag_delay_w=0, lag_rate_v=1.5, lag_rate_w=0.0),       # the identified lag under the MLP
])
def test_fused_rollout_matches_reference_on_small_random_models(cfg):
    """Random weights, output layer not near zero; starts that turn fast (up to 20 rad/s:
    several sectors per step, both ways, across the wrap) and scenes that hit the [0, 1] clamp."""
    torch.manual_seed(1)
    m = WorldModel(WorldModelConfig(**cfg)).eval()
    assert m.cfg.head_reads_clearance == bool(cfg.get("head_clearance") and m.cfg.scene_sectors)
    with torch.no_grad():
        m.predictor.net[-1].weight.normal_(0, 0.05)
        m.predictor.net[-1].bias.normal_(0, 0.05)
    z0 = torch.rand(64, m.latent_dim) * 2 - 1
    z0[:, 4] = torch.linspace(-20.0, 20.0, 64)                       # w, rad/s
    _assert_same(m, z0, _actions(64, 12, 2, w_max=15.0))


def test_ego_scene_turns_any_angle_like_the_reference():
    m = WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, scene_sectors=12)).eval()
    fused, p = FusedRollout(m), m.predictor
    g = torch.Generator().manual_seed(4)
    scene = torch.rand(300, 12, generator=g)
    scene[:, ::3] = 1.0                                              # sectors at the clip stay there
    dxy = torch.randn(300, 2, generator=g) * 0.2
    dyaw = torch.linspace(-4 * math.pi, 4 * math.pi, 300)
    with torch.no_grad():
        got = fused._ego_scene(scene, dxy, dyaw, fused.weights())
        want = p.ego_scene(scene, dxy[:, 0], dxy[:, 1], dyaw, p.clip_m)
    assert (got - want).abs().max().item() <= TOL                    # measured 2e-6 at 4 pi


def test_fused_weights_follow_parameter_changes_and_autograd_uses_the_reference():
    torch.manual_seed(2)
    m = WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8)).eval()
    z0, acts = torch.rand(1, m.latent_dim), _actions(8, 5, 3)
    before, _ = _assert_same(m, z0, acts)
    with torch.no_grad():                                            # an optimiser step, in place
        m.predictor.net[-1].bias.add_(0.05)
        m.collision_head[0].bias.sub_(0.1)
    after, _ = _assert_same(m, z0, acts)
    assert (after - before).abs().max().item() > 1e-3
    m.load_state_dict({k: v * 0.9 for k, v in m.state_dict().items()})
    again, _ = _assert_same(m, z0, acts)
    assert (again - after).abs().max().item() > 1e-3
    m.fused = False                                                  # forced reference, bit for bit
    with torch.no_grad():
        assert torch.equal(m.rollout(z0, acts), m.rollout_reference(z0, acts))
    m.fused = True
    # training: gradients flow through the reference computation, bit for bit
    z = m.rollout(z0, acts)
    assert z.requires_grad and torch.equal(z, m.rollout_reference(z0, acts))
    z.sum().backward()
    assert m.predictor.net[0].weight.grad is not None


def test_reused_buffers_give_the_same_numbers():
    torch.manual_seed(5)
    m = WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8)).eval()
    z0 = torch.rand(1, m.latent_dim)
    with torch.no_grad():
        fresh = [t.clone() for t in m.rollout_heads(z0, _actions(8, 5, 6))]
        m.rollout_heads(z0, _actions(8, 5, 7), reuse=True)                  # fills the buffer
        again = m.rollout_heads(z0, _actions(8, 5, 6), reuse=True)
    for a, b in zip(fresh, again):
        assert torch.equal(a, b)



def test_a_non_finite_call_leaves_nothing_behind_in_the_reused_buffers():
    """The pose and the command memory are written around the loop, and the buffer's pose columns
    are read (with zero weights) before that: a NaN left there by one call must not reach the next."""
    torch.manual_seed(6)
    m = WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8, cmd_memory=3)).eval()
    z0 = torch.rand(1, m.latent_dim)
    with torch.no_grad():
        fresh = [t.clone() for t in m.rollout_heads(z0, _actions(8, 5, 6))]
        bad = _actions(8, 5, 7)
        bad[2, 1, 0] = float("nan")
        poisoned = m.rollout_heads(z0, bad, reuse=True)[0]
        assert torch.isnan(poisoned[2]).any() and torch.isfinite(poisoned[3]).all()
        again = m.rollout_heads(z0, _actions(8, 5, 6), reuse=True)
    for a, b in zip(fresh, again):
        assert torch.equal(a, b)


def test_a_head_widened_to_read_the_clearance_predicts_the_same_until_trained():
    """with_head_clearance (wmp train --init ... --head-clearance): the shipped model's head gets
    the predicted smallest clearance as a new input with zero weights, so its logits are the
    old ones; once that weight moves, they change, in the fused path and the reference alike."""
    from world_model_planner.world_model_node.train import with_head_clearance

    old = load_checkpoint(default_model_path(), device="cpu")
    assert not old.cfg.head_reads_clearance
    new = with_head_clearance(old)
    assert new.cfg.head_reads_clearance and with_head_clearance(new) is new
    assert new.collision_head[0].weight.shape[1] == old.collision_head[0].weight.shape[1] + 1
    scan = torch.as_tensor(room_scan((0.0, 0.0, 0.0), old.cfg.scan_beams), dtype=torch.float32)[None]
    with torch.no_grad():
        z0 = old.encode(observation(torch.zeros(1, 3), torch.tensor([[0.5, 0.0]]), scan))
    acts = _actions(64, 20, 3)
    with torch.no_grad():
        _, logit_old, _ = old.rollout_heads(z0, acts)
        _, logit_new, _ = new.rollout_heads(z0, acts)
    torch.testing.assert_close(logit_new, logit_old, atol=1e-6, rtol=0)
    with torch.no_grad():
        new.collision_head[0].weight[:, -1].normal_(0, 1.0)
    _assert_same(new, z0, acts)
    with torch.no_grad():
        _, logit_moved, _ = new.rollout_heads(z0, acts)
    assert (logit_moved - logit_old).abs().max().item() > 1e-3
    with pytest.raises(ValueError, match="predicts no scene"):
        with_head_clearance(WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, **LEGACY_OFF)))


@pytest.mark.skipif(not default_model_path().is_file(), reason="no shipped checkpoint")
@pytest.mark.parametrize("products", ["auto", "torch"])
def test_bf16_products_keep_the_latent_in_float32_and_stay_near_it(products, monkeypatch):
    """matmul_dtype bf16 (what device: auto may pick on a CPU with bf16 units): the products run
    in bf16, the latent and its integration stay float32, so the difference from float32 is the
    products' rounding and does not grow with the distance from the origin (a pose held in bf16
    would be off by 6 cm at 30 m). On the shipped checkpoint (512 sequences x 20 steps, turning
    hard, in a room) that measured 3.1 mm mean and 7.3 mm at most at the horizon's end, collision
    probability within 0.021 and clearance within 8.8 mm; asserted: 5 mm, 1.5 cm, 0.05, 2 cm.
    (Emulated where the CPU has no bf16 units: slower, the same numbers.) ``products``: each
    layer one oneDNN call with its bias and SiLU where the build has it ("auto", with the compiled
    step), or addmm + SiLU; the fused call rounds once where addmm + SiLU round twice, and
    measured 2.9 mm mean and 6.8 mm at most, probability within 0.022, clearance within 9.4 mm."""
    monkeypatch.setattr(WorldModel, "product_kernel", products)
    m = load_checkpoint(default_model_path(), device="cpu")
    scan = torch.as_tensor(room_scan([0.4, -0.3, 2.9], 180), dtype=torch.float32)
    acts = _actions(2 * FusedRollout.LOW_MIN_ROWS, 20, 3)
    devs = []
    for pose in ([0.4, -0.3, 2.9], [30.0, -20.0, 2.9]):
        z0 = m.encode(observation(torch.tensor([pose]), torch.tensor([[0.5, 0.3]]), scan[None]))
        with torch.no_grad():
            z, logit, clear = (t.clone() for t in m.rollout_heads(z0, acts))
            m.matmul_dtype = torch.bfloat16
            try:
                zb, logit_b, clear_b = m.rollout_heads(z0, acts)
            finally:
                m.matmul_dtype = None
        assert zb.dtype == logit_b.dtype == clear_b.dtype == torch.float32
        dev = torch.linalg.norm(zb[:, -1, :2] - z[:, -1, :2], dim=-1)
        assert 0 < dev.mean().item() <= 5e-3 and dev.max().item() <= 1.5e-2   # not the float32 path, but near it
        assert (torch.sigmoid(logit_b) - torch.sigmoid(logit)).abs().max().item() <= 0.05
        assert (clear_b - clear).abs().max().item() <= 0.02
        devs.append(dev)
    torch.testing.assert_close(devs[0], devs[1], atol=1e-4, rtol=0)        # the same at 36 m from the origin


def test_bf16_products_leave_small_batches_in_float32():
    """Below FusedRollout.LOW_MIN_ROWS rows (the planner's one-sequence rollouts of the chosen
    plan and the caution check) the products stay float32, bit for bit, where converting to bf16
    and back would cost more than it saves; a batch at the threshold runs in bf16."""
    torch.manual_seed(4)
    m = WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8)).eval()
    z0 = torch.rand(1, m.latent_dim)
    small, large = _actions(1, 10, 8), _actions(FusedRollout.LOW_MIN_ROWS, 10, 8)
    with torch.no_grad():
        want = [[t.clone() for t in m.rollout_heads(z0, a)] for a in (small, large)]
        m.matmul_dtype = torch.bfloat16
        got = [m.rollout_heads(z0, a) for a in (small, large)]
    for a, b in zip(want[0], got[0]):
        assert torch.equal(a, b)
    assert not torch.equal(want[1][0], got[1][0])
    assert (want[1][0] - got[1][0]).abs().max().item() < 0.05
    # matmul_min_rows 1 (wmp eval-model --matmul-dtype bfloat16, which rolls out each window
    # alone): the one sequence's products run in bf16 too, the same as that row of a large batch
    m.matmul_min_rows = 1
    with torch.no_grad():
        one = [t.clone() for t in m.rollout_heads(z0, small)]
        big = m.rollout_heads(z0, small.expand(FusedRollout.LOW_MIN_ROWS, -1, -1).contiguous())
    assert not torch.equal(one[0], want[0][0]) and (one[0] - want[0][0]).abs().max().item() < 0.05
    for a, b in zip(one, big):
        torch.testing.assert_close(a[0], b[0], atol=1e-2, rtol=1e-2)


def test_the_lag_prior_alone_is_the_identified_models_response():
    """With the residual at zero, a lag-prior model's velocities are planner_node/sysid.py's
    response to the same commands (delay served from the command memory, the rate limit
    applied), in the fused path and the reference alike; a trained residual then adds to it."""
    import numpy as np

    from world_model_planner.planner_node import sysid

    dt, mem = 0.1, 4
    params = sysid.SysIdParams(dt, sysid.AxisFit(tau_s=0.25, gain=0.9, delay_steps=3, rate=1.2),
                               sysid.AxisFit(tau_s=0.5, gain=0.8, delay_steps=0))
    cfg = WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8, cmd_memory=mem, history_steps=mem,
                           scan_history=0, scene_sectors=0, lag_prior=True, lag_k_v=params.v.k(dt),
                           lag_k_w=params.w.k(dt), lag_gain_v=0.9, lag_gain_w=0.8, lag_delay_v=3, lag_delay_w=0,
                           lag_rate_v=1.2, lag_rate_w=0.0)
    m = WorldModel(cfg).eval()
    with torch.no_grad():
        m.predictor.net[-1].weight.zero_()
        m.predictor.net[-1].bias.zero_()
    past = np.array([[0.2, 0.0], [0.5, 0.3], [0.8, -0.4], [1.0, 0.6]])          # the memory, oldest first
    cmds = np.stack([np.linspace(1.0, -0.5, 12), np.sin(np.arange(12))], axis=1)
    v0 = np.array([0.3, 0.1])
    want = sysid.response(params, cmds, v0=v0, past_cmd=past)[1:]                  # (12, 2)
    z0 = torch.zeros(1, m.latent_dim)
    z0[0, 3:5] = torch.as_tensor(v0, dtype=torch.float32)
    z0[0, 5:5 + 2 * mem] = torch.as_tensor(past.reshape(-1), dtype=torch.float32)
    acts = torch.as_tensor(cmds, dtype=torch.float32)[None]
    with torch.no_grad():
        fused = m.rollout(z0, acts)
        ref = m.rollout_reference(z0, acts)
    np.testing.assert_allclose(m.velocity(fused)[0].numpy(), want, atol=1e-5)
    np.testing.assert_allclose(m.velocity(ref)[0].numpy(), want, atol=1e-5)
    with torch.no_grad():
        m.predictor.net[-1].bias[m.cfg.h_dims] = 0.1                               # a residual on v
    _assert_same(m, z0, acts)
    with torch.no_grad():
        assert (m.velocity(m.rollout(z0, acts))[0, 0, 0] - want[0, 0]).item() > 0.09


def test_a_lag_delay_beyond_the_command_memory_is_refused():
    with pytest.raises(ValueError, match="lag_delay_v/lag_delay_w: expected <= cmd_memory"):
        WorldModelConfig(cmd_memory=2, lag_prior=True, lag_delay_v=3)
