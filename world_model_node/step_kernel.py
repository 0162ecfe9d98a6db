"""The fused rollout's per-step state update as one compiled loop (numba), on the CPU; and
MPPI's velocity and acceleration clip (``rate_limit``), a loop over the horizon too, the path
critic's distance to the nearest path point (``nearest``, without a (points x path) matrix), and
the footprint's clearance against the scan's distance field (``footprint_min``: every footprint
point's bilinear lookup and their minimum in one pass per pose, where PyTorch built the
(poses x points) coordinates, sampled them and reduced them in separate passes); and the
occupancy grid's free space along a scan's beams (``ray_free``, where numpy built every sample
point of every beam as one array).

Between the predictor's matrix products, a step of ``FusedRollout.rollout`` (world_model_node/
fused.py) updates the latent from the predictor's output: the velocity (optionally through the
identified lag), the yaw increment and the body-frame motion, the scene shifted and turned by the
ego-motion and corrected, and the hidden state. In PyTorch that is about thirty small operations a
step, each a separate pass over (B, 2)- to (B, 64)-sized tensors with a few microseconds of
dispatch; at 512 x 20 they were about as costly as the products, and at one sequence (the
planner's rollout of the chosen plan) nearly all of its time. ``kernel`` (in
world_model_node/_kernels_numba.py, with the other two loops) does the same update in one pass per
row, compiled once by numba (cached on disk after the first run); :func:`get` hands it out, and
:func:`run` drives it through a rollout between the products.

With bf16 products the kernel also reads the output layer's bf16 result as it is (its bits) and
writes a bf16 copy of each new latent (round to nearest even, as ``Tensor.to(torch.bfloat16)``),
which is the next step's input to the products and the collision head's input, so neither is
converted by a separate pass.

Same numbers as the PyTorch step within float32 rounding (``test/unit/test_wm_step_kernel.py``):
the operations are the same in the same order; only libm's cos/sin and the summation order of the
two-term translation may differ in the last bit. Where numba is not installed (or cannot compile)
``available()`` is False and the fused rollout runs its PyTorch step.
"""
from __future__ import annotations

import logging
import threading

import numpy as np

log = logging.getLogger(__name__)

_lock = threading.Lock()
_kernel = None
_limit = None
_nearest = None
_footprint = None
_rays = None
_error: str | None = None


def _build():
    """The compiled loops (numba imported here: ImportError where it is missing)."""
    from world_model_planner.world_model_node import _kernels_numba as kn

    return kn.kernel, kn.rate_limit, kn.nearest, kn.footprint_min, kn.ray_free


def available() -> bool:
    """numba is installed and the kernel compiled (the first call compiles it, or loads it from
    numba's cache; an error is logged once and the PyTorch step is used from then on)."""
    return get() is not None


def get():
    """The compiled kernel, or None where numba is missing or failed."""
    global _kernel, _limit, _nearest, _footprint, _rays, _error
    if _kernel is not None or _error is not None:
        return _kernel
    with _lock:
        if _kernel is None and _error is None:
            try:
                k, lim, near, foot, rays = _build()
                _warm(k, lim, near, foot, rays)
                _kernel, _limit, _nearest, _footprint, _rays = k, lim, near, foot, rays
            except Exception as e:                       # ImportError, or numba's own errors
                _error = f"{type(e).__name__}: {e}"
                log.info("step kernel unavailable (%s): the fused rollout uses its PyTorch step", _error)
    return _kernel


def get_rate_limit():
    """The compiled ``MPPI.limit`` (see ``_build``), or None where numba is missing or failed."""
    return _limit if get() is not None else None


def get_nearest():
    """The compiled nearest-point distance (the path critic's), or None where numba is missing."""
    return _nearest if get() is not None else None


def get_footprint_min():
    """The compiled footprint clearance against a distance field (``Footprint.distance``'s), or
    None where numba is missing."""
    return _footprint if get() is not None else None


def get_ray_free():
    """The compiled free-space marking of the occupancy grid's scan update, or None where numba
    is missing."""
    return _rays if get() is not None else None


def error() -> str | None:
    """Why the kernel is unavailable, or None."""
    return _error


def run(kernel, layers, x_in, z0, acts, zs, motion, low_zs, kc: dict, dims: np.ndarray, n_out: int,
        sectors: int) -> None:
    """The fused rollout's loop with ``kernel`` (from :func:`get`) as each step's state update:
    ``layers(k, x)`` gives step k's output layer (float32, or bf16 with dims[5]) from its input
    x, the first being ``x_in``; the kernel writes step k's latent into zs[k] (H, B, D), its motion
    into motion[k + 1] and, with bf16 products, its bf16 copy into low_zs[k], the next step's
    input. ``kc``: ``FusedRollout._kernel_consts``; ``dims``: the kernel's (see its docstring)."""
    import torch

    bits = dims[5] != 0
    scratch = np.empty(n_out, np.uint32)
    moved = np.empty(2 * sectors + 1, np.float32)
    zs_np, mo_np, acts_np = zs.numpy(), motion.numpy(), acts.numpy()
    zs_u = zs_np.view(np.uint32)
    z_np = z0.contiguous().numpy()
    low_np = low_zs.view(torch.uint16).numpy() if bits else np.empty((1, 1, 1), np.uint16)
    none_f, none_u = np.empty((1, 1), np.float32), np.empty((1, 1), np.uint16)
    for k in range(acts.shape[0]):
        out = layers(k, x_in)
        out_f, out_u = (none_f, out.view(torch.uint16).numpy()) if bits else (out.numpy(), none_u)
        kernel(z_np, out_f, out_u, zs_np[k], zs_u[k], low_np[k if bits else 0], mo_np[k + 1], acts_np[k],
               kc["towards"], kc["consts"], dims, kc["lag_cols"], kc["lag_c"], moved, scratch,
               scratch.view(np.float32))
        z_np = zs_np[k]
        x_in = low_zs[k] if bits else zs[k]


def _warm(k, lim, near, foot, rays) -> None:
    """Compile (or load from numba's cache) the signatures the rollout, MPPI, the path critic,
    the footprint's clearance and the grid's ray casting call with, on a tiny problem (every
    array C-contiguous, as the callers pass them)."""
    rays(0.0, 0.0, np.zeros((1, 2)), np.ones(1), np.zeros(1), 0.05, -1.0, -1.0, 0.1, 20, np.zeros(400, np.bool_))
    near(np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32), np.zeros(1, np.float32))
    foot(np.zeros((1, 3), np.float32), np.zeros((1, 2), np.float32), np.zeros(1, np.float32),
         np.zeros((3, 3), np.float32), np.array([-1.0, -1.0, 1.0, 10.0], np.float32), np.zeros(1, np.float32))
    v2 = np.zeros(2, np.float32)
    lim(np.zeros((1, 1, 2), np.float32), v2, v2, v2, v2, np.zeros((1, 1, 2), np.float32))
    S, dh, m0 = 2, 2, 5
    D = m0 + S + dh
    zk = np.zeros((2, D), np.float32)
    out = np.zeros((2, 5 + S + dh + 1), np.float32)
    scratch = np.zeros(out.shape[1], np.uint32)
    for bits in (0, 1):
        k(np.zeros((1, D), np.float32), out, np.zeros(out.shape, np.uint16), zk, zk.view(np.uint32),
          np.zeros((2, D), np.uint16), np.zeros((2, 3), np.float32), np.zeros((2, 2), np.float32),
          np.zeros((2, S), np.float32), np.zeros(2, np.float32),
          np.array([m0, m0 + S, S, dh, 1, bits, bits, 0, 0], np.int64), np.array([-1, -1], np.int64),
          np.zeros((3, 2), np.float32), np.zeros(2 * S + 1, np.float32), scratch, scratch.view(np.float32))
