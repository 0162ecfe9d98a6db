"""A scripted, human-like operator (pure library): reproducible stand-in for a person.

It follows a route (an A* path on the scenario's known map, :func:`plan_route`) with a
pure-pursuit rule, and behaves like a person on a keyboard or joystick in the ways that
matter for a comparison:

* reaction delay: it acts on the pose it saw ``reaction_s`` ago;
* noise: slowly varying (AR(1)) speed and steering errors, seeded;
* caution: slows down in turns and near the goal, turns on the spot for large errors.

In shared mode it only drives inside ``takeover_windows`` [(start_s, duration_s), ...]
(seconds after the goal was given) and is silent otherwise, so the planner drives the rest.
No rclpy here.
"""
from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from world_model_planner.core.params import param, validate
from world_model_planner.core.mathutil import wrap_angle


@dataclass
class ScriptedConfig:
    cruise_mps: float = param(0.6, "Preferred forward speed (m/s).", range=(0.05, 2.0))
    max_turn_radps: float = param(1.0, "Largest turn rate it uses (rad/s).", range=(0.05, 3.0))
    heading_gain: float = param(1.5, "Turn rate per radian of heading error (1/s).", range=(0.1, 10.0))
    lookahead_m: float = param(0.8, "Pure-pursuit lookahead along the route (m).", range=(0.1, 5.0))
    reaction_s: float = param(0.3, "Reaction delay: acts on the pose seen this long ago (s).",
                              range=(0.0, 2.0))
    noise_v_mps: float = param(0.05, "Std of the slowly varying speed error (m/s).", range=(0.0, 1.0))
    noise_w_radps: float = param(0.1, "Std of the slowly varying steering error (rad/s).", range=(0.0, 2.0))
    noise_tau_s: float = param(1.0, "Correlation time of the errors (s).", range=(0.01, 30.0))
    stop_radius_m: float = param(0.15, "Stops when this close to the goal (m).", range=(0.0, 2.0))
    seed: int = param(0, "Noise seed.", range=(0, 2**31 - 1))

    def __post_init__(self):
        validate(self)


def plan_route(scenario, start_xy=None, resolution_m: float = 0.1,
               inflate_m: tuple[float, ...] = (0.55, 0.4, 0.3), spacing_m: float = 0.3) -> np.ndarray:
    """Waypoints (K, 2) from start to goal: 8-connected A* on the scenario's occupancy grid,
    trying the inflations in order (wide berth first); the straight line if none connects."""
    from world_model_planner.core.metrics import occupancy_grid

    s = np.array(start_xy if start_xy is not None else (scenario.start.x, scenario.start.y), float)
    g = np.array((scenario.goal.x, scenario.goal.y), float)
    for infl in inflate_m:
        grid, origin = occupancy_grid(scenario, resolution_m, infl)
        cells = _astar(grid, _cell(s, origin, resolution_m, grid.shape), _cell(g, origin, resolution_m, grid.shape))
        if cells:
            pts = origin + (np.array(cells, float)[:, ::-1] + 0.5) * resolution_m   # (i, j) -> (x, y)
            step = max(1, int(round(spacing_m / resolution_m)))
            pts = np.vstack([s, pts[step::step], g])
            return pts
    return np.vstack([s, g])


def _cell(p, origin, res, shape):
    i = min(max(int((p[1] - origin[1]) / res), 0), shape[0] - 1)
    j = min(max(int((p[0] - origin[0]) / res), 0), shape[1] - 1)
    return i, j


def _astar(grid: np.ndarray, start, goal) -> list | None:
    if grid[start] or grid[goal]:
        return None
    steps = [(di, dj, math.hypot(di, dj)) for di in (-1, 0, 1) for dj in (-1, 0, 1) if di or dj]
    h = lambda c: math.hypot(c[0] - goal[0], c[1] - goal[1])  # noqa: E731
    best = {start: 0.0}
    parent = {}
    heap = [(h(start), 0.0, start)]
    while heap:
        _, d, c = heapq.heappop(heap)
        if c == goal:
            path = [c]
            while c in parent:
                c = parent[c]
                path.append(c)
            return path[::-1]
        if d > best.get(c, math.inf):
            continue
        for di, dj, cost in steps:
            n = (c[0] + di, c[1] + dj)
            if 0 <= n[0] < grid.shape[0] and 0 <= n[1] < grid.shape[1] and not grid[n]:
                nd = d + cost
                if nd < best.get(n, math.inf):
                    best[n], parent[n] = nd, c
                    heapq.heappush(heap, (nd + h(n), nd, n))
    return None


class ScriptedDriver:
    """Feed poses with :meth:`observe`; ask :meth:`command` for (v, w) at time t (s)."""

    def __init__(self, route: np.ndarray, goal_xy, cfg: ScriptedConfig | None = None,
                 takeover_windows: list | None = None):
        self.cfg = cfg or ScriptedConfig()
        self.route = np.asarray(route, float).reshape(-1, 2)
        self.goal = np.asarray(goal_xy, float)
        self.windows = [(float(a), float(b)) for a, b in (takeover_windows or [])]
        self.rng = np.random.default_rng(self.cfg.seed)
        self._history: deque = deque()
        self._progress = 0
        self._noise = np.zeros(2)
        self._t_noise: float | None = None
        self.t_start: float | None = None
        self.done = False

    def observe(self, t_s: float, pose) -> None:
        self._history.append((float(t_s), np.asarray(pose, float)[:3].copy()))
        if self.t_start is None:
            self.t_start = float(t_s)
        while len(self._history) > 2 and self._history[1][0] <= t_s - self.cfg.reaction_s:
            self._history.popleft()

    def active(self, t_s: float) -> bool:
        """Whether the operator drives at t (always, unless takeover windows are set)."""
        if not self.windows:
            return True
        rel = t_s - (self.t_start or t_s)
        return any(a <= rel < a + d for a, d in self.windows)

    def _perceived(self, t_s: float):
        seen = [p for t, p in self._history if t <= t_s - self.cfg.reaction_s + 1e-9]
        return seen[-1] if seen else (self._history[0][1] if self._history else None)

    def _step_noise(self, t_s: float) -> np.ndarray:
        dt = 0.0 if self._t_noise is None else max(t_s - self._t_noise, 0.0)
        self._t_noise = t_s
        a = math.exp(-dt / self.cfg.noise_tau_s)
        sig = np.array([self.cfg.noise_v_mps, self.cfg.noise_w_radps])
        self._noise = a * self._noise + math.sqrt(1.0 - a * a) * sig * self.rng.standard_normal(2)
        return self._noise

    def command(self, t_s: float) -> tuple[float, float] | None:
        """(v m/s, w rad/s), or None when not driving (outside takeover windows)."""
        pose = self._perceived(t_s)
        if pose is None or not self.active(t_s):
            return None
        c = self.cfg
        x, y, yaw = pose
        dist_goal = math.hypot(self.goal[0] - x, self.goal[1] - y)
        if self.done or dist_goal <= c.stop_radius_m:
            self.done = True
            return (0.0, 0.0)
        d = np.hypot(self.route[:, 0] - x, self.route[:, 1] - y)
        self._progress = max(self._progress, int(np.argmin(d[self._progress:])) + self._progress)
        target = self.route[-1]
        for k in range(self._progress, len(self.route)):
            if d[k] >= c.lookahead_m:
                target = self.route[k]
                break
        err = wrap_angle(math.atan2(target[1] - y, target[0] - x) - yaw)
        nv, nw = self._step_noise(t_s)
        w = float(np.clip(c.heading_gain * err + nw, -c.max_turn_radps, c.max_turn_radps))
        v = c.cruise_mps * max(math.cos(err), 0.0) ** 2 if abs(err) < 1.2 else 0.0
        v = min(v, 0.5 * dist_goal + 0.1)
        v = float(max(v + nv, 0.0)) if v > 0 else 0.0
        return (v, w)
