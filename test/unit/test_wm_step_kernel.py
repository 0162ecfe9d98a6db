"""The compiled per-step update of the fused rollout (world_model_node/step_kernel.py).

test_wm_fused.py runs all its comparisons against the step-by-step reference with both per-step
updates; here: the kernel against the PyTorch step directly, its bf16 rounding bit for bit, and
the fall-back where numba is missing.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from world_model_planner.core.paths import default_model_path
from world_model_planner.planner_node.tick_profile import room_scan
from world_model_planner.world_model_node import onednn, step_kernel as sk
from world_model_planner.world_model_node.checkpoint import load_checkpoint
from world_model_planner.world_model_node.encoders import EXPLICIT_DIMS, POSE_DIMS
from world_model_planner.world_model_node.fused import FusedRollout
from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig, observation

needs_kernel = pytest.mark.skipif(not sk.available(), reason=f"numba step kernel unavailable: {sk.error()}")


def _actions(b, h, seed, w_max=1.5):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, h, 2, generator=g) * 2 - 1) * torch.tensor([1.0, w_max])


def _both(m, z0, acts):
    """rollout_heads with the PyTorch step, then with the kernel: two (z, logit, clearance)."""
    out = []
    with torch.no_grad():
        for kind in ("torch", "auto"):
            m.step_kernel = kind
            out.append([None if t is None else t.clone() for t in m.rollout_heads(z0, acts, reuse=True)])
    m.step_kernel = "auto"
    return out


@needs_kernel
@pytest.mark.skipif(not default_model_path().is_file(), reason="no shipped checkpoint")
@pytest.mark.parametrize("batch", [1, 512])
def test_the_kernel_gives_the_pytorch_steps_numbers_on_the_shipped_model(batch):
    """float32 throughout: the same operations in the same order, so only the last bit of a
    cos/sin or of the two-term translation may differ (measured 2e-6 on the latent at 512 x 20)."""
    m = load_checkpoint(default_model_path(), device="cpu")
    pose = [0.4, -0.3, 2.9]
    scan = torch.as_tensor(room_scan(pose, 180), dtype=torch.float32)
    z0 = m.encode(observation(torch.tensor([pose]), torch.tensor([[0.5, 0.3]]), scan[None]))
    (z, logit, clear), (zk, logit_k, clear_k) = _both(m, z0, _actions(batch, 20, 1))
    assert torch.isfinite(zk).all()
    assert ((zk - z).abs() / (1.0 + z.abs())).max().item() <= 1e-5
    torch.testing.assert_close(logit_k, logit, atol=5e-5, rtol=1e-5)
    assert (clear_k - clear).abs().max().item() <= 1e-5


@needs_kernel
@pytest.mark.parametrize("products", ["torch", "onednn"])
def test_bf16_products_read_the_kernels_copy_rounded_as_pytorch_rounds(products, monkeypatch):
    """With bf16 products the kernel writes each new latent's bf16 copy for the next step's
    products and the collision head: it must be exactly ``Tensor.to(torch.bfloat16)`` of the
    float32 latent (round to nearest even), zeros where the pose is. With oneDNN's fused layers
    (world_model_node/onednn.py) each row of the copy is followed by the next step's action (the
    first layer's input), and by zeros after the last step."""
    if products == "onednn" and onednn.linear() is None:
        pytest.skip(f"oneDNN fused linear unavailable: {onednn.error()}")
    monkeypatch.setattr(WorldModel, "product_kernel", "auto" if products == "onednn" else "torch")
    torch.manual_seed(3)
    m = WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8, cmd_memory=3,
                                    scene_sectors=6, history_steps=4, scan_history=1)).eval()
    m.matmul_dtype = torch.bfloat16
    b = FusedRollout.LOW_MIN_ROWS
    z0 = torch.rand(1, m.latent_dim)
    acts = _actions(b, 6, 2)
    with torch.no_grad():
        z, logit, _ = m.rollout_heads(z0, acts, reuse=True)
    fused = m.__dict__["_fused_rollout"]
    zs, low = fused._shadow
    d = zs.shape[-1]
    assert zs.data_ptr() == z.data_ptr() and low.dtype == torch.bfloat16
    assert low.shape[-1] == (d + 2 if products == "onednn" else d)
    want = zs.to(torch.bfloat16)
    assert torch.equal(low[..., POSE_DIMS:d].view(torch.int16), want[..., POSE_DIMS:].view(torch.int16))
    assert not low[..., :POSE_DIMS].any()
    if products == "onednn":
        nxt = acts.transpose(0, 1)[1:].to(torch.bfloat16)
        assert torch.equal(low[:-1, :, d:].view(torch.int16), nxt.view(torch.int16))
        assert not low[-1, :, d:].any()
    # the head read that copy: the logits equal the head on the converted latents (the wide copy,
    # two zero-weight columns longer, may be blocked otherwise: to the last bf16 rounding)
    with torch.no_grad():
        again = fused.collision_logit(z)
    if products == "onednn":
        torch.testing.assert_close(logit, again, atol=1e-2, rtol=1e-2)
    else:
        assert torch.equal(logit, again)


@needs_kernel
def test_the_kernels_bf16_rounding_on_ties_and_non_finite_values():
    """The kernel's own float32 -> bf16 rounding against PyTorch's on values chosen to hit it:
    exact ties (both ways), just past them, the largest finite, infinities, NaN, subnormals, -0."""
    k = sk.get()
    bits = np.array([0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF, 0x7F7FFFFF, 0x7F800000, 0xFF800000,
                     0x7FC00000, 0x7F800001, 0x00000001, 0x807FFFFF, 0x80000000, 0x40490FDB, 0xC2F6E979],
                    np.uint32)
    dh, s, m0 = bits.size, 0, EXPLICIT_DIMS
    d = m0 + dh
    z = np.zeros((1, d), np.float32)
    z[0, m0:] = bits.view(np.float32)
    zk = np.zeros((1, d), np.float32)
    low = np.zeros((1, d), np.uint16)
    out = np.zeros((1, 5 + dh + 1), np.float32)                         # no change: zk's h = z's h
    motion = np.zeros((1, 3), np.float32)
    k(z, out, np.zeros((1, 1), np.uint16), zk, zk.view(np.uint32), low, motion,
      np.zeros((1, 2), np.float32), np.zeros((2, 0), np.float32), np.array([0.05, 1.0], np.float32),
      np.array([m0, m0, s, dh, 0, 0, 1, 0, 0], np.int64), np.array([-1, -1], np.int64),
      np.zeros((3, 2), np.float32), np.zeros(1, np.float32), np.zeros(out.shape[1], np.uint32),
      np.zeros(out.shape[1], np.uint32).view(np.float32))
    want = torch.from_numpy(zk[:, m0:].copy()).to(torch.bfloat16).view(torch.uint16).numpy()
    got = low[:, m0:]
    nan = np.isnan(zk[:, m0:])
    assert nan.sum() == 2 and np.array_equal(got[~nan], want[~nan])
    assert np.isnan(torch.from_numpy(got[nan].astype(np.int32).astype(np.uint16)).view(torch.bfloat16)
                    .float().numpy()).all()


@needs_kernel
def test_a_nan_action_gives_nan_where_the_pytorch_step_does():
    """The lag prior and the scene's turn keep a NaN (no clip or integer index may turn it into
    a number), so a poisoned sample is as visible as with the PyTorch step, and its neighbours
    are untouched."""
    torch.manual_seed(7)
    m = WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8, cmd_memory=3, scene_sectors=6,
                                    history_steps=4, scan_history=1, lag_prior=True, lag_k_v=0.4, lag_k_w=0.7,
                                    lag_delay_v=0, lag_delay_w=1, lag_rate_v=1.5, lag_rate_w=2.0)).eval()
    acts = _actions(8, 5, 4)
    acts[2, 1, 1] = float("nan")
    (z, _, _), (zk, _, _) = _both(m, torch.rand(1, m.latent_dim), acts)
    assert torch.equal(torch.isnan(z), torch.isnan(zk)) and torch.isnan(zk[2]).any()
    ok = torch.ones(8, dtype=torch.bool)
    ok[2] = False
    assert (zk[ok] - z[ok]).abs().max().item() <= 1e-5


def test_without_numba_the_fused_path_runs_its_pytorch_step(monkeypatch):
    """A machine without numba (or where it cannot compile) gets the PyTorch step, once told why."""
    monkeypatch.setattr(sk, "_kernel", None)
    monkeypatch.setattr(sk, "_error", None)

    def missing():
        raise ImportError("No module named 'numba'")

    monkeypatch.setattr(sk, "_build", missing)
    assert not sk.available() and "numba" in sk.error()
    torch.manual_seed(8)
    m = WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8)).eval()
    z0, acts = torch.rand(1, m.latent_dim), _actions(4, 5, 9)
    with torch.no_grad():
        z = m.rollout_heads(z0, acts)[0]
        m.step_kernel = "torch"
        assert torch.equal(z, m.rollout_heads(z0, acts)[0])


@needs_kernel
def test_the_path_critics_nearest_distance_is_exact():
    """The path critic's distance to the nearest path point, compiled: within 1e-5 m of float64
    (cdist, which it replaces on the CPU, goes through a matrix product at these sizes and is off
    by up to about 2 mm); a NaN pose stays NaN and touches no other."""
    from world_model_planner.planner_node.critics.scoring import _nearest

    g = torch.Generator().manual_seed(0)
    pts, path = torch.randn(10240, 2, generator=g) * 3, torch.randn(60, 2, generator=g) * 3
    pts[7, 1] = float("nan")
    got = _nearest(pts, path)
    want = torch.cdist(pts.double(), path.double(), compute_mode="donot_use_mm_for_euclid_dist").min(-1).values
    assert torch.isnan(got[7]) and torch.isnan(got).sum() == 1
    ok = torch.isfinite(want)
    assert (got.double()[ok] - want[ok]).abs().max().item() <= 1e-5
