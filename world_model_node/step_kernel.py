"""The fused rollout's per-step state update as one compiled loop (numba), on the CPU; and
MPPI's velocity and acceleration clip (``rate_limit``), a loop over the horizon too, and the
path critic's distance to the nearest path point (``nearest``, without a (points x path) matrix).

Between the predictor's matrix products, a step of ``FusedRollout.rollout`` (world_model_node/
fused.py) updates the latent from the predictor's output: the velocity (optionally through the
identified lag), the yaw increment and the body-frame motion, the scene shifted and turned by the
ego-motion and corrected, and the hidden state. In PyTorch that is about thirty small operations a
step, each a separate pass over (B, 2)- to (B, 64)-sized tensors with a few microseconds of
dispatch; at 512 x 20 they were about as costly as the products, and at one sequence (the
planner's rollout of the chosen plan) nearly all of its time. :func:`step` does the same update
in one pass per row, compiled once by numba (cached on disk after the first run).

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
import math
import threading

import numpy as np

log = logging.getLogger(__name__)

_lock = threading.Lock()
_kernel = None
_limit = None
_nearest = None
_error: str | None = None


def _build():
    import numba as nb

    @nb.njit(cache=True, nogil=True, inline="always")
    def _to_bf16(u):
        """float32 bits (as an unsigned integer) -> bf16 bits, round to nearest even; NaN stays NaN."""
        if (u & 0x7FFFFFFF) > 0x7F800000:
            return np.uint16(0x7FC0)
        return np.uint16((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))

    @nb.njit(cache=True, nogil=True)
    def kernel(z, out, out_bits, zk, zk_u32, low_out, dyaw_o, body_o, act, towards, consts, dims, lag_cols,
               lag_c, moved, scratch_u32, scratch_f32):
        """One step for every row b of ``zk``.

        z (1 or B, D): the latent before the step (float32). out (B, O): the output layer
        (float32), or with dims[5] its bf16 bits in out_bits (B, O) uint16. zk (B, D): the latent
        after the step, all of it (the pose zero: it is integrated after the loop); zk_u32 its
        bits. With dims[6], low_out (B, D) uint16 gets the bf16 bits of zk. dyaw_o (B,), body_o
        (B, 2): the yaw increment and the body-frame (dx, dy). act (B, 2): the step's actions.
        towards (2, S): the ego-motion prior's translation per sector. consts: (half_dt, sectors
        per radian). dims: (m0, ex, S, dh, prior, bits, write_low, lag, command memory pairs L).
        lag_cols (2,): the memory column of the delayed command per axis, or -1 for the action;
        lag_c (3, 2): gain, k and limit per axis. moved (2 S + 1,), scratch_u32 / scratch_f32
        (O,) (one buffer, two views): scratch."""
        half_dt = consts[0]
        per_rad = consts[1]
        m0 = dims[0]
        ex = dims[1]
        S = dims[2]
        dh = dims[3]
        prior = dims[4] != 0
        bits = dims[5] != 0
        write_low = dims[6] != 0
        lag = dims[7] != 0
        L = dims[8]
        D = zk.shape[1]
        n_out = scratch_f32.shape[0]
        one = z.shape[0] == 1
        thresh = np.float32(1.0 - 1e-4)
        zero = np.float32(0.0)
        unit = np.float32(1.0)
        for b in range(zk.shape[0]):
            r = 0 if one else b
            if bits:
                for j in range(n_out):
                    scratch_u32[j] = np.uint32(out_bits[b, j]) << np.uint32(16)
                o = scratch_f32
            else:
                o = out[b]
            v0 = z[r, 3]
            w0 = z[r, 4]
            if lag:
                c0 = act[b, 0] if lag_cols[0] < 0 else z[r, lag_cols[0]]
                c1 = act[b, 1] if lag_cols[1] < 0 else z[r, lag_cols[1]]
                d0 = (c0 * lag_c[0, 0] - v0) * lag_c[1, 0]
                d1 = (c1 * lag_c[0, 1] - w0) * lag_c[1, 1]
                if d0 > lag_c[2, 0]:                   # clipped to +-limit, a NaN kept
                    d0 = lag_c[2, 0]
                elif d0 < -lag_c[2, 0]:
                    d0 = -lag_c[2, 0]
                if d1 > lag_c[2, 1]:
                    d1 = lag_c[2, 1]
                elif d1 < -lag_c[2, 1]:
                    d1 = -lag_c[2, 1]
                v1 = (v0 + d0) + o[3]
                w1 = (w0 + d1) + o[4]
            else:
                v1 = v0 + o[3]
                w1 = w0 + o[4]
            zk[b, 0] = zero                            # the pose: integrated after the loop
            zk[b, 1] = zero
            zk[b, 2] = zero
            zk[b, 3] = v1
            zk[b, 4] = w1
            if L > 0:                                  # the command memory: oldest pair out, the action in
                for j in range(2 * (L - 1)):
                    zk[b, 5 + j] = z[r, 7 + j]
                zk[b, 3 + 2 * L] = act[b, 0]
                zk[b, 4 + 2 * L] = act[b, 1]
            mid_v = (v0 + v1) * half_dt
            mid_w = (w0 + w1) * half_dt
            dyaw = mid_w + o[2]
            dyaw_o[b] = dyaw
            half = dyaw * np.float32(0.5)
            dx = o[0] + math.cos(half) * mid_v
            dy = o[1] + math.sin(half) * mid_v
            body_o[b, 0] = dx
            body_o[b, 1] = dy
            if S > 0 and prior:
                for j in range(S):                     # moved twice over: a turn reads it without a remainder
                    sc = z[r, m0 + j]
                    mv = sc - (dx * towards[0, j] + dy * towards[1, j]) if sc < thresh else sc
                    moved[j] = mv
                    moved[j + S] = mv
                shift = dyaw * per_rad
                base = math.floor(shift)
                frac = shift - base
                ib = int(base) % S if math.isfinite(base) else 0   # a non-finite turn: NaN below
                for j in range(S):
                    lo = moved[j + ib]
                    hi = moved[j + ib + 1]
                    v = lo + frac * (hi - lo) if frac < 0.5 else hi - (hi - lo) * (unit - frac)
                    v = v + o[5 + j]
                    zk[b, m0 + j] = zero if v < zero else (unit if v > unit else v)
            elif S > 0:
                for j in range(S):
                    v = z[r, m0 + j] + o[5 + j]
                    zk[b, m0 + j] = zero if v < zero else (unit if v > unit else v)
            for j in range(dh):
                zk[b, ex + j] = z[r, ex + j] + o[5 + S + j]
            if write_low:
                for j in range(D):
                    low_out[b, j] = _to_bf16(zk_u32[b, j])

    @nb.njit(cache=True, nogil=True)
    def rate_limit(a, a0, lo, hi, dmax, out):
        """MPPI.limit: a (B, H, 2) clipped to [lo, hi] per axis, then each step's change from the
        one before (from a0 (2,) at the first) clipped to +-dmax, into out; a NaN stays NaN."""
        for b in range(a.shape[0]):
            for c in range(2):
                prev = a0[c]
                for t in range(a.shape[1]):
                    v = a[b, t, c]
                    v = hi[c] if v > hi[c] else v
                    v = lo[c] if v < lo[c] else v
                    d = v - prev
                    d = dmax[c] if d > dmax[c] else d
                    d = -dmax[c] if d < -dmax[c] else d
                    prev = prev + d
                    out[b, t, c] = prev

    @nb.njit(cache=True, nogil=True)
    def nearest(points, path, out):
        """out[i] = the distance from points[i] (N, 2) to the nearest of path's (P, 2) points;
        a NaN point gives NaN."""
        for i in range(points.shape[0]):
            x = points[i, 0]
            y = points[i, 1]
            best = np.inf
            for j in range(path.shape[0]):
                dx = x - path[j, 0]
                dy = y - path[j, 1]
                d = dx * dx + dy * dy
                best = d if d < best else best
            out[i] = math.sqrt(best) if x == x and y == y else np.nan

    return kernel, rate_limit, nearest


def available() -> bool:
    """numba is installed and the kernel compiled (the first call compiles it, or loads it from
    numba's cache; an error is logged once and the PyTorch step is used from then on)."""
    return get() is not None


def get():
    """The compiled kernel, or None where numba is missing or failed."""
    global _kernel, _limit, _nearest, _error
    if _kernel is not None or _error is not None:
        return _kernel
    with _lock:
        if _kernel is None and _error is None:
            try:
                k, lim, near = _build()
                _warm(k, lim)
                near(np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32), np.zeros(1, np.float32))
                _kernel, _limit, _nearest = k, lim, near
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


def error() -> str | None:
    """Why the kernel is unavailable, or None."""
    return _error


def _warm(k, lim) -> None:
    """Compile (or load) the signatures the rollout and MPPI call with, on a tiny problem."""
    v2 = np.zeros(2, np.float32)
    lim(np.zeros((1, 1, 2), np.float32), v2, v2, v2, v2, np.zeros((1, 1, 2), np.float32))
    S, dh, m0 = 2, 2, 5
    D = m0 + S + dh
    f = np.zeros((1, D), np.float32)
    zk = np.zeros((1, D), np.float32)
    out = np.zeros((1, 5 + S + dh + 1), np.float32)
    motion = np.zeros((1, 3), np.float32)
    for bits in (0, 1):
        k(f, out, np.zeros(out.shape, np.uint16), zk, zk.view(np.uint32), np.zeros((1, D), np.uint16),
          motion[:, 0], motion[:, 1:3], np.zeros((1, 2), np.float32), np.zeros((2, S), np.float32),
          np.zeros(2, np.float32), np.array([m0, m0 + S, S, dh, 1, bits, bits, 0, 0], np.int64),
          np.array([-1, -1], np.int64), np.zeros((3, 2), np.float32), np.zeros(2 * S + 1, np.float32),
          np.zeros(out.shape[1], np.uint32), np.zeros(out.shape[1], np.uint32).view(np.float32))
