"""The compiled loops of world_model_node/step_kernel.py (numba, module level so that numba's
on-disk cache finds them again in the next process). Import only through step_kernel.get():
this module needs numba."""
from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, inline="always")
def _to_bf16(u):
    """float32 bits (as an unsigned integer) -> bf16 bits, round to nearest even; NaN stays NaN."""
    r = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return np.uint16(0x7FC0) if (u & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000) else np.uint16(r)


@nb.njit(cache=True, nogil=True)
def kernel(z, out, out_bits, zk, zk_u32, low_out, motion, act, towards, consts, dims, lag_cols, lag_c,
           moved, scratch_u32, scratch_f32):
    """One step for every row b of ``zk``.

    z (1 or B, D): the latent before the step (float32). out (B, O): the output layer
    (float32), or with dims[5] its bf16 bits in out_bits (B, O) uint16. zk (B, D): the latent
    after the step, all of it (the pose zero: it is integrated after the loop); zk_u32 its
    bits. With dims[6], low_out (B, D) uint16 gets the bf16 bits of zk. motion (B, 3): the
    yaw increment and the body-frame (dx, dy) are written there. act (B, 2): the step's actions.
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
    # the inner loops index with unsigned integers: numba then has no negative index to wrap
    # around, and the loops over a row's contiguous columns compile to vector code (the step
    # took 55 against 34 us at 512 rows on the development CPU, with the same bits)
    u_m0, u_ex, u_s, u_dh, u_d = np.uint64(m0), np.uint64(ex), np.uint64(S), np.uint64(dh), np.uint64(D)
    u_one, u_five, u_out = np.uint64(1), np.uint64(5), np.uint64(n_out)
    u_hid = np.uint64(5 + S)                       # the hidden state's first column in the output
    for b in range(zk.shape[0]):
        r = 0 if one else b
        if bits:
            for j in range(u_out):
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
        motion[b, 0] = dyaw
        half = dyaw * np.float32(0.5)
        dx = o[0] + math.cos(half) * mid_v
        dy = o[1] + math.sin(half) * mid_v
        motion[b, 1] = dx
        motion[b, 2] = dy
        if S > 0 and prior:
            for j in range(u_s):                   # moved twice over: a turn reads it without a remainder
                sc = z[r, u_m0 + j]
                mv = sc - (dx * towards[0, j] + dy * towards[1, j]) if sc < thresh else sc
                moved[j] = mv
                moved[j + u_s] = mv
            shift = dyaw * per_rad
            base = math.floor(shift)
            frac = shift - base
            ib = np.uint64(int(base) % S if math.isfinite(base) else 0)   # a non-finite turn: NaN below
            for j in range(u_s):
                lo = moved[j + ib]
                hi = moved[j + ib + u_one]
                v = lo + frac * (hi - lo) if frac < 0.5 else hi - (hi - lo) * (unit - frac)
                v = v + o[u_five + j]
                zk[b, u_m0 + j] = zero if v < zero else (unit if v > unit else v)
        elif S > 0:
            for j in range(u_s):
                v = z[r, u_m0 + j] + o[u_five + j]
                zk[b, u_m0 + j] = zero if v < zero else (unit if v > unit else v)
        zr = z[r]
        zb = zk[b]
        for j in range(u_dh):
            zb[u_ex + j] = zr[u_ex + j] + o[u_hid + j]
        if write_low:
            for j in range(u_d):
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


@nb.njit(cache=True, nogil=True)
def footprint_min(poses, points, inset, grid, consts, out):
    """out[i] = min over the footprint's body-frame points q of field(q at poses[i]) - inset[q]:
    ``DistanceField.lookup_body`` then ``Footprint.distance``'s minimum (planner_node/critics/
    field.py) in one pass per pose, float32. poses (N, 3) x, y, yaw in the odom frame; points
    (n, 2) the footprint's, already multiplied by the grid's scale a; inset (n,); grid
    (G + 1, G + 1): the field's (G, G) distances, [iy, ix], with a row and a column of zeros
    after them (what grid_sample's bilinear weights multiply past the last cell, always by 0);
    consts (ox, oy, a, far): the grid's origin, a = 2 / its span, and the value read outside it.

    The lookup is ``grid_sample``'s (bilinear, align_corners=False, border padding): a point's
    normalised coordinate g in [-1, 1] becomes the pixel coordinate ((g + 1) G - 1) / 2, clipped
    to [0, G - 1]; a point with |g| > 1 on either axis (an infinite position too) reads ``far``.
    A NaN pose, or an infinite yaw, gives NaN and is never turned into an index."""
    G = grid.shape[0] - 1
    ox = consts[0]
    oy = consts[1]
    a = consts[2]
    far = consts[3]
    one = np.float32(1.0)
    half = np.float32(0.5)
    gsz = np.float32(G)
    hi = np.float32(G - 1)
    zero = np.float32(0.0)
    for i in range(poses.shape[0]):
        x = (poses[i, 0] - ox) * a - one
        y = (poses[i, 1] - oy) * a - one
        yaw = poses[i, 2]
        c = np.float32(math.cos(yaw))
        s = np.float32(math.sin(yaw))
        if not (x == x and y == y and c == c and s == s):     # NaN (or an infinite yaw): no index from it
            out[i] = np.float32(np.nan)
            continue
        best = np.float32(np.inf)
        for j in range(points.shape[0]):
            qx = points[j, 0]
            qy = points[j, 1]
            gx = x + qx * c - qy * s
            gy = y + qx * s + qy * c
            if abs(gx) > one or abs(gy) > one:
                d = far
            else:
                ix = ((gx + one) * gsz - one) * half
                iy = ((gy + one) * gsz - one) * half
                ix = min(max(ix, zero), hi)
                iy = min(max(iy, zero), hi)
                x0 = np.uint64(ix)                             # >= 0 here: truncation is the floor
                y0 = np.uint64(iy)
                wx = ix - np.float32(x0)
                wy = iy - np.float32(y0)
                x1 = x0 + np.uint64(1)
                y1 = y0 + np.uint64(1)
                d = ((one - wx) * (one - wy) * grid[y0, x0] + wx * (one - wy) * grid[y0, x1]
                     + (one - wx) * wy * grid[y1, x0] + wx * wy * grid[y1, x1])
            d = d - inset[j]
            best = min(best, d)
        out[i] = best


@nb.njit(cache=True, nogil=True)
def ray_free(px, py, dirs, length, t, step, ox, oy, res, n, miss):
    """The cells a scan's beams cross (planner_node/grid.OccupancyGrid.integrate's free space):
    for beam b and each sample t[k] < length[b] - step, the point (px, py) + t[k] * dirs[b] marks
    its cell (floor((p - origin) / res), inside the n x n grid) in ``miss`` (n * n,) flat
    [iy * n + ix]; the same float64 operations in the same order as the vectorised numpy, so the
    same cells. Returns (ix_lo, iy_lo, ix_hi, iy_hi) of the cells marked ((n, n, -1, -1) for none)."""
    box = np.empty(4, np.int64)
    box[0] = n
    box[1] = n
    box[2] = -1
    box[3] = -1
    fn = np.float64(n)
    for b in range(dirs.shape[0]):
        dx = dirs[b, 0]
        dy = dirs[b, 1]
        lim = length[b] - step
        for k in range(t.shape[0]):
            tk = t[k]
            if not tk < lim:
                break                                     # t rises: the rest is beyond the beam's end
            fx = math.floor((px + tk * dx - ox) / res)
            fy = math.floor((py + tk * dy - oy) / res)
            if fx >= 0.0 and fx < fn and fy >= 0.0 and fy < fn:
                ix = np.int64(fx)
                iy = np.int64(fy)
                miss[iy * n + ix] = True
                box[0] = min(box[0], ix)
                box[1] = min(box[1], iy)
                box[2] = max(box[2], ix)
                box[3] = max(box[3], iy)
    return box
