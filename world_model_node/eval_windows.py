"""Which evaluation windows measure what: entries onto slippery ground, windows near movers, the
dynamics slices, and footprint clearance measured from a scan. Pure numpy (no torch, no sim).

A window starting at row t with H steps covers rows t..t+H of one episode (see
``Transitions.window_starts``); its labels are read from data.LABELS (nan = unknown).
"""
from __future__ import annotations

import numpy as np

#: A drop of friction_longitudinal larger than this between two rows is an entry onto new ground.
ENTRY_DROP = 0.05
#: Windows with a mover within this distance (m) of the robot centre at their start.
MOVER_NEAR_M = 3.0
#: Clearances are compared up to this distance (m): beyond it nothing is close to the footprint.
CLEARANCE_CAP_M = 2.0
SLICES = ("static", "terrain", "payload", "latency", "movers")


def find_entries(ground: np.ndarray, episode: np.ndarray, drop: float = ENTRY_DROP) -> np.ndarray:
    """Rows i where the robot has just entered ground with lower longitudinal friction than at
    row i-1 of the same episode (both known) -> (E,) int64 row indices."""
    f = np.asarray(ground, np.float64)[:, 0]
    if len(f) < 2:
        return np.zeros(0, np.int64)
    i = np.arange(1, len(f))
    same = np.asarray(episode)[1:] == np.asarray(episode)[:-1]
    known = np.isfinite(f[1:]) & np.isfinite(f[:-1])
    hit = same & known & (f[1:] < f[:-1] - drop)
    return i[hit].astype(np.int64)


def adaptation_windows(ground: np.ndarray, episode: np.ndarray, horizon: int, dt_s: float,
                       max_offset_s: float = 1.5, drop: float = ENTRY_DROP):
    """Windows starting 0..max_offset_s after an entry while the robot is still on the entered
    ground, with ``horizon`` rows following in the episode.

    -> (starts (W,) int64, offsets_s (W,) float: time since the entry). A window is kept only if
    every row from the entry to its start has the entered ground's friction (the robot has not
    left it or entered yet another region)."""
    ground = np.asarray(ground, np.float64)
    episode = np.asarray(episode)
    n = len(episode)
    max_k = int(round(max_offset_s / dt_s))
    starts, offs = [], []
    for e in find_entries(ground, episode, drop):
        f_in = ground[e, 0]
        for k in range(max_k + 1):
            t = e + k
            if t + horizon >= n or episode[t + horizon] != episode[e]:
                break
            if abs(ground[t, 0] - f_in) > 1e-6:
                break
            starts.append(t)
            offs.append(k * dt_s)
    return np.asarray(starts, np.int64), np.asarray(offs, np.float64)


def mover_windows(mover_dist_m: np.ndarray, starts: np.ndarray, near_m: float = MOVER_NEAR_M) -> np.ndarray:
    """(W,) bool: windows whose start has a mover within ``near_m`` (unknown distance: False)."""
    d = np.asarray(mover_dist_m, np.float64)[np.asarray(starts, np.int64)]
    return np.isfinite(d) & (d <= near_m)


def slice_masks(data, starts: np.ndarray, horizon: int, floor: np.ndarray,
                near_m: float = MOVER_NEAR_M) -> dict:
    """{slice: (W,) bool} over windows (start rows ``starts``, ``horizon`` steps). Slices overlap:

    terrain   some row of the window is on ground other than ``floor`` (3,)
    payload   payload_kg > 0.5 at the start
    latency   latency_s > 0.005 at the start
    movers    a mover within near_m at the start
    static    labels known and none of the above
    """
    starts = np.asarray(starts, np.int64)
    rows = starts[:, None] + np.arange(horizon + 1)                            # (W, H+1)
    g = np.asarray(data.ground, np.float64)[rows]                              # (W, H+1, 3)
    known_g = np.isfinite(g).all(-1).all(-1)
    terrain = known_g & (np.abs(g - np.asarray(floor, np.float64)).max(-1) > 1e-4).any(-1)
    pay = np.asarray(data.payload_kg, np.float64)[starts]
    lat = np.asarray(data.latency_s, np.float64)[starts]
    dist = np.asarray(data.mover_dist_m, np.float64)[starts]
    payload = np.isfinite(pay) & (pay > 0.5)
    latency = np.isfinite(lat) & (lat > 0.005)
    movers = mover_windows(data.mover_dist_m, starts, near_m)
    known = known_g & np.isfinite(pay) & np.isfinite(lat) & ~np.isnan(dist)
    static = known & ~terrain & ~payload & ~latency & ~movers
    return {"static": static, "terrain": terrain, "payload": payload, "latency": latency, "movers": movers}


def scan_points(scan: np.ndarray, pose: np.ndarray, range_max_m: float) -> np.ndarray:
    """World-frame points (N', 2) of one scan (N,) taken at pose (3,): beams over 360 deg from
    -pi, returns beyond range_max, inf and nan dropped."""
    scan = np.asarray(scan, np.float64)
    n = scan.shape[0]
    a = -np.pi + 2 * np.pi * np.arange(n) / n + pose[2]
    ok = np.isfinite(scan) & (scan > 0) & (scan < range_max_m)
    r = scan[ok]
    return np.stack([pose[0] + r * np.cos(a[ok]), pose[1] + r * np.sin(a[ok])], -1)


def footprint_clearance(points: np.ndarray, poses: np.ndarray, length_m: float, width_m: float,
                        cap_m: float = CLEARANCE_CAP_M) -> np.ndarray:
    """Distance (m) from the rectangular footprint at each pose (P, 3) to the nearest point
    (N', 2), 0 inside, capped at cap_m -> (P,)."""
    poses = np.asarray(poses, np.float64).reshape(-1, 3)
    if len(points) == 0:
        return np.full(len(poses), cap_m)
    d = points[None, :, :] - poses[:, None, :2]                                # (P, N', 2)
    c, s = np.cos(poses[:, 2])[:, None], np.sin(poses[:, 2])[:, None]
    lx, ly = c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]     # footprint frame
    ex = np.maximum(np.abs(lx) - length_m / 2, 0.0)
    ey = np.maximum(np.abs(ly) - width_m / 2, 0.0)
    return np.minimum(np.hypot(ex, ey).min(1), cap_m)
