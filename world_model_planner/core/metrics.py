"""Episode metrics as pure functions: path length, success, shortest path, SPL, time ratio,
reverse distance, summaries.

No rclpy, no sim import: scenarios are read by duck typing (``arena``, ``obstacles`` with
``center``/``size``/``yaw`` boxes or ``center``/``radius`` cylinders, ``start``, ``goal``).
"""
from __future__ import annotations

import heapq
import math
import statistics
from typing import Iterable, Sequence

import numpy as np


def path_length_m(xy: np.ndarray, min_step_m: float = 0.05) -> float:
    """Length of the driven path. xy: (T, 2) metres, e.g. odometry at 20 Hz.

    Distance is counted only once the robot is ``min_step_m`` away from the last counted
    point, so per-sample odometry noise (white, ~5 mm with the sim's ``perturb``) does not
    add up while standing or creeping; chords of 5 cm shorten real curves negligibly.
    ``min_step_m=0`` sums every step.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]               # a NaN sample is no distance
    if len(xy) < 2:
        return 0.0
    if min_step_m <= 0.0:
        return float(np.linalg.norm(np.diff(xy, axis=0), axis=1).sum())
    total, anchor = 0.0, xy[0]
    for p in xy[1:]:
        d = math.hypot(p[0] - anchor[0], p[1] - anchor[1])
        if d >= min_step_m:
            total, anchor = total + d, p
    return float(total + math.hypot(xy[-1][0] - anchor[0], xy[-1][1] - anchor[1]))


def goal_distance_m(xy: Sequence[float], goal_xy: Sequence[float]) -> float:
    return float(math.hypot(float(xy[0]) - float(goal_xy[0]), float(xy[1]) - float(goal_xy[1])))


def reached(xy: Sequence[float], goal_xy: Sequence[float], tolerance_m: float) -> bool:
    """Episode success: the robot centre is within the goal tolerance."""
    return goal_distance_m(xy, goal_xy) <= tolerance_m


def spl(success: bool, shortest_m: float, taken_m: float) -> float:
    """Success weighted by Path Length (Anderson et al. 2018): S * l / max(p, l)."""
    if not success:
        return 0.0
    if shortest_m <= 0.0:
        return 1.0
    return float(shortest_m / max(taken_m, shortest_m))


def time_ratio(success: bool, time_s: float | None, shortest_m: float | None, v_max_mps: float) -> float | None:
    """Episode time over the time-optimal one: the shortest path driven at the robot's top speed
    (>= 1; 1 is unreachable with acceleration limits). None for a failed episode or when the
    optimum is unknown or zero."""
    if not success or time_s is None or shortest_m is None:
        return None
    if not (math.isfinite(float(v_max_mps)) and v_max_mps > 0.0):
        raise ValueError(f"v_max_mps: expected a finite number > 0, got {v_max_mps}")
    optimal_s = float(shortest_m) / float(v_max_mps)
    if not math.isfinite(optimal_s) or optimal_s <= 0.0:
        return None
    return float(time_s) / optimal_s


def reverse_distance_m(traj, min_step_m: float = 0.05) -> float:
    """Distance driven backwards: traj (T, 4) rows (t, x, y, yaw), e.g. odometry. Each step of at
    least ``min_step_m`` (shorter steps are accumulated, so odometry noise does not count) is
    reverse when its displacement points against the heading at its start."""
    a = np.asarray(traj, dtype=float).reshape(-1, 4)
    a = a[np.isfinite(a).all(axis=1)]
    total, anchor = 0.0, None
    for _t, x, y, yaw in a:
        if anchor is None:
            anchor = (x, y, yaw)
            continue
        dx, dy = x - anchor[0], y - anchor[1]
        if math.hypot(dx, dy) >= min_step_m:
            along = dx * math.cos(anchor[2]) + dy * math.sin(anchor[2])
            total += max(-along, 0.0)
            anchor = (x, y, yaw)
    return float(total)


def median_or_none(values: Iterable[float]) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(statistics.median(vals)) if vals else None


# -- shortest path on an occupancy grid ---------------------------------------------------
#
# Input-independent caps: whatever the scenario says (a 1e308 m arena, 1e6 obstacles), the grid
# holds at most MAX_GRID_CELLS cells and painting the obstacles touches at most
# MAX_PAINT_CELLS cells in all, so memory and time stay bounded (~2 MB, a few seconds).

#: Most cells of an occupancy grid (500 x 500; a 50 x 50 m arena at 0.1 m).
MAX_GRID_CELLS = 250_000
#: Most cell visits spent painting obstacles into a grid (sum over obstacles of their windows).
MAX_PAINT_CELLS = 20_000_000


def grid_resolution_m(arena, resolution_m: float = 0.1) -> float:
    """``resolution_m``, coarsened where needed so that the arena fits in MAX_GRID_CELLS cells.

    Raises ValueError for a non-finite or non-positive arena or resolution."""
    sx, sy = (float(v) for v in arena)
    res = float(resolution_m)
    if not all(math.isfinite(v) and v > 0.0 for v in (sx, sy, res)):
        raise ValueError(f"arena {sx:g} x {sy:g} m at resolution {res:g} m: expected finite sizes > 0")
    res = max(res, math.sqrt(sx) * math.sqrt(sy) / math.sqrt(MAX_GRID_CELLS))   # no overflow
    while math.ceil(sx / res) * math.ceil(sy / res) > MAX_GRID_CELLS:
        res *= 1.01
    return res


def occupancy_grid(scenario, resolution_m: float = 0.1, inflate_m: float = 0.35):
    """Boolean grid (ny, nx), True = blocked for a disc of radius ``inflate_m``.

    The arena is centred on the origin and walled. Returns (grid, origin_xy) where cell
    (i, j) has its centre at origin + (j + 0.5, i + 0.5) * resolution. Raises ValueError when
    the grid would exceed MAX_GRID_CELLS cells (use :func:`grid_resolution_m`) or painting the
    obstacles would exceed MAX_PAINT_CELLS; nothing larger is ever allocated.
    """
    sx, sy = (float(v) for v in scenario.arena)
    res, inflate_m = float(resolution_m), float(inflate_m)
    if not all(math.isfinite(v) and v > 0.0 for v in (sx, sy, res)) or \
            not (math.isfinite(inflate_m) and inflate_m >= 0.0):
        raise ValueError(f"arena {sx:g} x {sy:g} m, resolution {res:g} m, inflation {inflate_m:g} m: "
                         "expected finite sizes > 0")
    nx, ny = math.ceil(sx / res), math.ceil(sy / res)
    if nx * ny > MAX_GRID_CELLS:
        raise ValueError(f"a {sx:g} x {sy:g} m arena at {res:g} m needs {nx * ny} grid cells "
                         f"(cap {MAX_GRID_CELLS})")
    origin = np.array([-sx / 2.0, -sy / 2.0])
    xs = origin[0] + (np.arange(nx) + 0.5) * res          # (nx,) cell centres
    ys = origin[1] + (np.arange(ny) + 0.5) * res          # (ny,)
    blocked = (np.abs(xs)[None, :] > sx / 2.0 - inflate_m) | (np.abs(ys)[:, None] > sy / 2.0 - inflate_m)
    painted = 0
    for ob in getattr(scenario, "obstacles", []) or []:
        cx, cy = (float(v) for v in _xy(ob.center))
        if hasattr(ob, "radius"):
            reach = float(ob.radius) + inflate_m
        else:
            hx, hy = (float(v) / 2.0 for v in ob.size)
            reach = math.hypot(hx, hy) + inflate_m
        if not all(math.isfinite(v) for v in (cx, cy, reach)):
            raise ValueError(f"obstacle at ({cx:g}, {cy:g}): expected finite numbers")
        # only the cells within ``reach`` of the centre can be blocked by this obstacle
        j0, j1 = np.searchsorted(xs, cx - reach), np.searchsorted(xs, cx + reach, side="right")
        i0, i1 = np.searchsorted(ys, cy - reach), np.searchsorted(ys, cy + reach, side="right")
        if j0 >= j1 or i0 >= i1:
            continue
        painted += (j1 - j0) * (i1 - i0)
        if painted > MAX_PAINT_CELLS:
            raise ValueError(f"painting the obstacles needs more than {MAX_PAINT_CELLS} cell visits")
        gx, gy = np.meshgrid(xs[j0:j1], ys[i0:i1])         # (wy, wx) window
        if hasattr(ob, "radius"):
            hit = np.hypot(gx - cx, gy - cy) <= reach
        else:
            yaw = float(getattr(ob, "yaw", 0.0) or 0.0)
            c, s = math.cos(yaw), math.sin(yaw)
            lx = c * (gx - cx) + s * (gy - cy)             # into the box frame
            ly = -s * (gx - cx) + c * (gy - cy)
            dx = np.maximum(np.abs(lx) - hx, 0.0)
            dy = np.maximum(np.abs(ly) - hy, 0.0)
            hit = np.hypot(dx, dy) <= inflate_m
        blocked[i0:i1, j0:j1] |= hit
    return blocked, origin


def shortest_path_m(scenario, start_xy: Sequence[float] | None = None,
                    resolution_m: float = 0.1, inflate_m: float = 0.35) -> float:
    """Geodesic start→goal distance (8-connected grid Dijkstra) for a disc of ``inflate_m``,
    ending at the goal's tolerance circle. Falls back to the straight line (minus tolerance)
    where the grid finds no path (start or goal inside the inflated obstacles). A large arena
    is gridded more coarsely (:func:`grid_resolution_m`), so the grid never exceeds
    MAX_GRID_CELLS. Raises ValueError for non-finite inputs."""
    start = _xy(start_xy if start_xy is not None else scenario.start)
    goal = _xy(scenario.goal)
    tol = float(getattr(scenario.goal, "tolerance", 0.0) or 0.0)
    if not all(math.isfinite(v) for v in (*start, *goal, tol)):
        raise ValueError(f"start {start}, goal {goal}, tolerance {tol}: expected finite numbers")
    straight = max(goal_distance_m(start, goal) - tol, 0.0)
    resolution_m = grid_resolution_m(scenario.arena, resolution_m)
    grid, origin = occupancy_grid(scenario, resolution_m, inflate_m)
    ny, nx = grid.shape

    def cell(p):
        j = int((p[0] - origin[0]) / resolution_m)
        i = int((p[1] - origin[1]) / resolution_m)
        return min(max(i, 0), ny - 1), min(max(j, 0), nx - 1)

    si, sj = cell(start)
    if grid[si, sj]:
        return straight
    xs = origin[0] + (np.arange(nx) + 0.5) * resolution_m
    ys = origin[1] + (np.arange(ny) + 0.5) * resolution_m
    near = (np.hypot(xs[None, :] - goal[0], ys[:, None] - goal[1])
            <= max(tol, resolution_m)).tolist()         # (ny, nx) cells that count as arrived
    goal_d = np.hypot(xs[None, :] - goal[0], ys[:, None] - goal[1])
    free = (~grid).tolist()                             # Python lists: ~5x faster per access
    dist = [[math.inf] * nx for _ in range(ny)]
    dist[si][sj] = 0.0
    heap = [(0.0, si, sj)]
    steps = [(di, dj, resolution_m * math.hypot(di, dj))
             for di in (-1, 0, 1) for dj in (-1, 0, 1) if di or dj]
    while heap:
        d, i, j = heapq.heappop(heap)
        if d > dist[i][j]:
            continue
        if near[i][j]:
            return max(d - max(tol - float(goal_d[i, j]), 0.0), straight)
        for di, dj, cost in steps:
            a, b = i + di, j + dj
            if 0 <= a < ny and 0 <= b < nx and free[a][b] and d + cost < dist[a][b]:
                dist[a][b] = d + cost
                heapq.heappush(heap, (d + cost, a, b))
    return straight


def _xy(p) -> tuple[float, float]:
    if hasattr(p, "x"):
        return float(p.x), float(p.y)
    return float(p[0]), float(p[1])


# -- aggregation over episodes ------------------------------------------------------------

def summarize(episodes: list[dict]) -> dict:
    """Aggregate episode dicts of one (scenario, planner) cell."""
    n = len(episodes)
    ok = [e for e in episodes if e.get("success")]
    def mean(key, rows):
        vals = [float(e[key]) for e in rows if e.get(key) is not None]
        return float(np.mean(vals)) if vals else None
    return {
        "episodes": n,
        "success_rate": len(ok) / n if n else None,
        "spl": mean("spl", episodes),
        "time_ratio": median_or_none(e.get("time_ratio") for e in ok),
        "reverse_m": median_or_none(e.get("reverse_m") for e in episodes),
        "reverse_max_m": max((float(e["reverse_m"]) for e in episodes if e.get("reverse_m") is not None),
                             default=None),
        "recoveries": sum(1 for e in episodes for r in (e.get("recoveries") or [])
                          if r.get("outcome") != "skipped"),
        "recoveries_resolved": sum(1 for e in episodes for r in (e.get("recoveries") or [])
                                   if r.get("outcome") == "resolved"),
        "barn_score": mean("barn_score", episodes),   # None outside BARN scenarios
        "time_s": mean("time_s", ok),
        "path_length_m": mean("path_length_m", ok),
        "collision_rate": (sum(1 for e in episodes if (e.get("collisions") or 0) > 0) / n) if n else None,
        "min_clearance_m": min((e["min_clearance_m"] for e in episodes
                                if e.get("min_clearance_m") is not None), default=None),
        "plan_hz": median_or_none(e.get("plan_hz_median") for e in episodes),
        "errors": sum(1 for e in episodes if e.get("error")),
    }


# -- the BARN Challenge's score -------------------------------------------------------------

#: The BARN score's optimal speed: t_opt = reference length / 2 m/s (its run.py).
BARN_OPT_SPEED_MPS = 2.0


def barn_score(success: bool, time_s: float | None, reference_length_m: float,
               speed_mps: float = BARN_OPT_SPEED_MPS) -> float:
    """BARN score of one run: success x t_opt / clip(t, 2 t_opt, 8 t_opt), t_opt = reference
    length / 2 m/s (the-barn-challenge run.py since 2024). In [0, 0.5]; 0 on failure.
    Raises ValueError for a non-finite or non-positive reference length or speed."""
    ref, v = float(reference_length_m), float(speed_mps)
    if not (math.isfinite(ref) and ref > 0.0 and math.isfinite(v) and v > 0.0):
        raise ValueError(f"reference length {ref:g} m at {v:g} m/s: expected finite numbers > 0")
    if not success:
        return 0.0
    t = float(time_s) if time_s is not None else math.nan
    if not math.isfinite(t) or t < 0.0:
        raise ValueError(f"time {time_s!r} s of a successful run: expected a finite number >= 0")
    t_opt = ref / v
    return float(t_opt / min(max(t, 2.0 * t_opt), 8.0 * t_opt))
