"""oneDNN's fused linear layer for the fused rollout's bf16 products: the matrix product, its
bias and the SiLU in one call.

``torch.ops.mkldnn._linear_pointwise(x, weight, bias, attr, scalars, algorithm)`` is the
operator PyTorch's own compiler (inductor) lowers a Linear followed by an activation to on the
CPU: one oneDNN matmul with the bias and the activation (``attr`` "swish" for SiLU, "none" for
none) as post-ops, applied to the float32 accumulator before the one rounding to bf16.
``torch.addmm`` followed by ``F.silu`` makes a second pass over the result and rounds twice. On
the development CPU (AMX, one thread) a 512 x 128 x 128 layer took 57 against 76 us, and the
rollout's three layers a step 159-175 against 203-207 us with the first layer's action part
read from the input (``FusedRollout._onednn_layers``). The collision head keeps addmm: over its
10,240 latents a tick the fused calls, whose outputs are allocated anew, were 0.2-0.3 ms slower
in the planner's loop, though faster alone.

It is a private operator, so :func:`linear` probes it once, on a small problem, against
``F.linear`` and ``F.silu`` in float32, and hands it out only where it exists, runs, and agrees
within bf16 rounding; elsewhere (a build without oneDNN, another CPU architecture, a release
that renamed it) it returns None with the reason in :func:`error`, and the fused rollout runs
``addmm`` and ``F.silu`` as before. ``WorldModel.product_kernel = "torch"`` also forces that.
"""
from __future__ import annotations

import logging
import threading

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

_lock = threading.Lock()
_op = None
_error: str | None = None

#: Largest |difference| from float32 the probe accepts, relative to 1 + |value|: a few bf16 ulps.
PROBE_TOL = 2e-2


def _probe(op) -> str | None:
    """None when ``op`` computes bias + product and its activation in bf16, else what is wrong."""
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(24, 40, generator=g) * 2 - 1).to(torch.bfloat16)
    w = ((torch.rand(12, 40, generator=g) * 2 - 1) * 0.3).to(torch.bfloat16)
    b = (torch.rand(12, generator=g) * 2 - 1).to(torch.bfloat16)
    ref = F.linear(x.float(), w.float(), b.float())
    for attr, want in (("swish", F.silu(ref)), ("none", ref)):
        got = op(x, w, b, attr, [], "")
        if got.shape != want.shape or got.dtype != torch.bfloat16:
            return f"{attr}: got {tuple(got.shape)} {got.dtype}, expected {tuple(want.shape)} bfloat16"
        err = ((got.float() - want).abs() / (1.0 + want.abs())).max().item()
        if not err <= PROBE_TOL:
            return f"{attr}: differs from float32 by {err:.3g} (more than {PROBE_TOL})"
    return None


def linear():
    """The fused operator ``(x, weight (out, in), bias, attr, [], "") -> bf16 (rows, out)``, or None
    where this PyTorch build does not have it or it fails the probe (``error()`` says why)."""
    global _op, _error
    if _op is not None or _error is not None:
        return _op
    with _lock:
        if _op is None and _error is None:
            try:
                if not torch.backends.mkldnn.is_available():
                    raise RuntimeError("this PyTorch build has no oneDNN")
                op = torch.ops.mkldnn._linear_pointwise
                with torch.no_grad():
                    wrong = _probe(op)
                if wrong:
                    raise RuntimeError(f"probe failed ({wrong})")
                _op = op
            except Exception as e:                 # AttributeError, RuntimeError, NotImplementedError
                _error = f"{type(e).__name__}: {e}"
                log.info("oneDNN fused linear unavailable (%s): bf16 products use addmm and SiLU", _error)
    return _op


def error() -> str | None:
    """Why :func:`linear` is None (None when it is available or not probed yet)."""
    return _error
