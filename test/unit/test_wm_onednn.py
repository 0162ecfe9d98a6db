"""oneDNN's fused linear for the bf16 rollout (world_model_node/onednn.py): the probe that hands
it out, the fall-back to addmm + SiLU, and the fused rollout with it against addmm + SiLU."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from world_model_planner.world_model_node import onednn, step_kernel as sk
from world_model_planner.world_model_node.fused import FusedRollout
from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig

needs_onednn = pytest.mark.skipif(onednn.linear() is None,
                                  reason=f"oneDNN fused linear unavailable: {onednn.error()}")
needs_kernel = pytest.mark.skipif(not sk.available(), reason=f"numba step kernel unavailable: {sk.error()}")


def _actions(b, h, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, h, 2, generator=g) * 2 - 1) * torch.tensor([1.0, 1.5])


@needs_onednn
def test_the_operator_is_bias_product_and_silu_rounded_once():
    """On a layer of the rollout's size the fused call equals float32 bias + product + SiLU to
    within one rounding to bf16, and is at least as close to it as addmm then SiLU in bf16."""
    op = onednn.linear()
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(512, 128, generator=g) * 2 - 1).to(torch.bfloat16)
    w = ((torch.rand(96, 128, generator=g) * 2 - 1) * 0.2).to(torch.bfloat16)
    b = (torch.rand(96, generator=g) * 2 - 1).to(torch.bfloat16)
    ref = F.silu(F.linear(x.double(), w.double(), b.double()))
    got = op(x, w, b, "swish", [], "").double()
    two = F.silu(torch.addmm(b, x, w.t())).double()
    ulp = 2.0 ** -8 * ref.abs().clamp_min(2.0 ** -10)                 # half a bf16 ulp, and a little
    assert ((got - ref).abs() <= 1.01 * ulp + 1e-6).float().mean().item() >= 0.999
    assert (got - ref).abs().mean().item() <= (two - ref).abs().mean().item()
    plain = op(x, w, b, "none", [], "").double()
    torch.testing.assert_close(plain, F.linear(x.double(), w.double(), b.double()), atol=2e-2, rtol=1e-2)


def test_a_failed_probe_leaves_addmm_and_says_why(monkeypatch):
    """Where the operator is missing or computes something else, linear() is None with the reason,
    and the fused rollout's bf16 products run addmm + SiLU: the same numbers as product_kernel
    "torch", bit for bit."""
    monkeypatch.setattr(onednn, "_op", None)
    monkeypatch.setattr(onednn, "_error", None)
    monkeypatch.setattr(onednn, "_probe", lambda op: "swish: differs from float32 by 1 (more than 0.02)")
    assert onednn.linear() is None and "probe failed" in onednn.error() and "swish" in onednn.error()
    torch.manual_seed(2)
    m = WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8, cmd_memory=3,
                                    scene_sectors=6)).eval()
    m.matmul_dtype = torch.bfloat16
    z0, acts = torch.rand(1, m.latent_dim), _actions(FusedRollout.LOW_MIN_ROWS, 6, 3)
    with torch.no_grad():
        got = [t.clone() for t in m.rollout_heads(z0, acts)]
        m.product_kernel = "torch"
        want = m.rollout_heads(z0, acts)
    for a, b in zip(got, want):
        assert torch.equal(a, b)


@needs_onednn
@needs_kernel
@pytest.mark.parametrize("head_reads_clearance", [False, True])
def test_onednn_products_give_addmms_numbers_to_bf16_rounding(head_reads_clearance):
    """The rollout and heads with oneDNN's fused layers against addmm + SiLU (both bf16 products,
    both with the compiled step) on a small random model, with and without a head that reads the
    smallest clearance (the head reads the wide bf16 copy, its action columns with zero weights):
    the same to within bf16 rounding, and they differ (the path ran)."""
    torch.manual_seed(5)
    m = WorldModel(WorldModelConfig(latent_dim=16, pred_hidden=16, head_hidden=8, cmd_memory=3, scene_sectors=6)).eval()
    if head_reads_clearance:
        from world_model_planner.world_model_node.train import with_head_clearance

        m = with_head_clearance(m)
        with torch.no_grad():
            m.collision_head[0].weight[:, -1].normal_(0, 1.0)
        assert m.cfg.head_reads_clearance
    m.matmul_dtype = torch.bfloat16
    z0, acts = torch.rand(1, m.latent_dim), _actions(FusedRollout.LOW_MIN_ROWS, 8, 4)
    with torch.no_grad():
        m.product_kernel = "torch"
        ref = [t.clone() for t in m.rollout_heads(z0, acts)]
        m.product_kernel = "auto"
        got = m.rollout_heads(z0, acts)
        assert m.__dict__["_fused_rollout"]._shadow[1].shape[-1] == m.latent_dim + 2
    z, logit, clear = got
    assert not torch.equal(z, ref[0])
    assert ((z - ref[0]).abs() / (1.0 + ref[0].abs())).max().item() <= 2e-2
    assert (torch.sigmoid(logit) - torch.sigmoid(ref[1])).abs().max().item() <= 2e-2
    assert (clear - ref[2]).abs().max().item() <= 2e-2
