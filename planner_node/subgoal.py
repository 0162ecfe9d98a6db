"""The high level: a global path over a scan-built occupancy grid, and a subgoal along it.

Every ``replan_period_s`` the grid is turned into a cost map (obstacles inflated by the
inflation radius are near-lethal, cells close to them cost more, unknown cells are traversable
at a premium), Dijkstra runs from the goal over the 8-connected grid (scipy, C speed), and the
path is read back from the robot's cell. Every tick the subgoal is re-picked along the stored
path: the furthest path point within ``lookahead_m`` (arc length) that the robot can see in a
straight line. The low level (MPPI through the model) then steers to that subgoal.

Hysteresis: each search discounts the cells along the path being followed by ``switch_margin``
(a fraction of their cost), so another route wins only when it is cheaper by about that much;
where the old path has become blocked the search still bends around locally on the same side.
Two routes of about equal cost (a fork, a gap entrance) do not make the robot dither. A
recovery can penalise the current route for a while (``detour``): the search then covers a
wider window and prefers another way around.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import distance_transform_edt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from world_model_planner.core.params import param, validate

from world_model_planner.planner_node.grid import OccupancyGrid, in_sector


@dataclass
class SubgoalConfig:
    grid_size_m: float = param(30.0, "Side of the square occupancy grid, centred on the odom origin (m). "
                               "Goals outside it are refused.", range=(2.0, 200.0))
    grid_res_m: float = param(0.1, "Occupancy grid resolution (m).", range=(0.02, 1.0))
    plan_res_m: float = param(0.1, "Resolution of the path search (m); a multiple of grid_res_m.", range=(0.02, 2.0))
    replan_period_s: float = param(1.0, "Seconds between global path searches.", range=(0.05, 30.0))
    lookahead_m: float = param(2.0, "Arc length along the path to the subgoal (m).", range=(0.2, 20.0))
    inflation_radius_m: float = param(0.4, "Cells closer than this to an obstacle are (near) lethal (m).", range=(0.0, 5.0))
    proximity_cost: float = param(4.0, "Extra cost per cell next to the inflated obstacles (decays with distance).", range=(0.0, 1e3))
    proximity_decay_m: float = param(0.4, "Length scale of the proximity cost decay (m).", range=(0.01, 5.0))
    unknown_cost: float = param(1.0, "Extra cost per unknown cell (traversable but costly).", range=(0.0, 1e3))
    lethal_cost: float = param(1000.0, "Cost per cell inside the inflation radius (finite: a path always exists).", range=(1.0, 1e9))
    occupied_logodds: float = param(0.5, "Log-odds above which a cell counts as an obstacle.", range=(0.0, 10.0))
    switch_margin: float = param(0.15, "Cells along the path being followed cost this fraction less in the next "
                                 "search, so another route must be about that much cheaper to win (hysteresis "
                                 "against dithering between equal routes; 0 = none).", range=(0.0, 0.9))
    keep_edges: bool = param(True, "A grid cell with obstacle evidence that touches a cell with a return in the same "
                             "scan is not cleared by that scan's beams, so the edge of a post that fills part of a "
                             "cell does not flicker free when beams graze it from another side (a narrow gap "
                             "would open and close as the robot moves). Off: every beam clears the cells it "
                             "crosses.")

    def __post_init__(self):
        validate(self)


class SubgoalPlanner:
    """Grid + path search + subgoal picking. No torch, no rclpy."""

    def __init__(self, cfg: SubgoalConfig, center_xy=(0.0, 0.0)):
        self.cfg = cfg
        self.grid = OccupancyGrid(cfg.grid_size_m, cfg.grid_res_m, center_xy, keep_edges=cfg.keep_edges)
        self.k = max(1, int(round(cfg.plan_res_m / cfg.grid_res_m)))
        self.path: np.ndarray = np.zeros((0, 2))      # (P, 2) metres, robot → goal
        self.last_plan_t: float | None = None
        self.goal: np.ndarray | None = None
        self._lethal = None                              # (my, mx) bool on the searched window
        self._lethal_origin = self.grid.origin
        self.plan_count = 0
        self.switches = 0                                # replans that changed to another route
        self._detour: tuple | None = None                # (points (P, 2), until_t, cost per cell)

    def reconfigure(self, cfg: SubgoalConfig) -> None:
        """New search settings from the next replan, and keep_edges from the next scan; the grid
        (size, resolution) is kept."""
        if (cfg.grid_size_m, cfg.grid_res_m) != (self.cfg.grid_size_m, self.cfg.grid_res_m):
            raise ValueError("subgoal.grid_size_m / grid_res_m cannot change while configured")
        self.cfg = cfg
        self.k = max(1, int(round(cfg.plan_res_m / cfg.grid_res_m)))
        self.grid.keep_edges = bool(cfg.keep_edges)      # from the next scan on
        self.last_plan_t = None                          # search again with the new costs

    def set_goal(self, goal_xy) -> None:
        self.goal = np.asarray(goal_xy, dtype=np.float64)
        self.path = np.zeros((0, 2))
        self.last_plan_t = None
        self._detour = None

    def detour(self, route_xy, until_t: float, cost: float) -> None:
        """Penalise the cells near ``route_xy`` (P, 2) by ``cost`` each until ``until_t``, and
        search a wider window meanwhile (a recovery looking for another way around)."""
        self._detour = (np.asarray(route_xy, dtype=np.float64).reshape(-1, 2).copy(), float(until_t), float(cost))
        self.last_plan_t = None

    def integrate(self, pose, scan, **kw) -> None:
        self.grid.integrate(np.asarray(pose, dtype=np.float64), scan, **kw)

    def remembered_points(self, pose, half_m: float, seen_lo_rad: float, seen_hi_rad: float) -> np.ndarray:
        """(4K, 2) corners of the K occupied grid cells within ``half_m`` (a square) of ``pose`` (x,
        y, yaw) whose centre's bearing from the robot, relative to its heading, lies outside the sector
        [seen_lo_rad, seen_hi_rad] the lidar covers: what the map remembers where the scan does not
        look (behind a lidar of less than 360 degrees), so that it is not taken for free space.

        Each cell gives its 4 corners, not its centre: the obstacle lies somewhere in the cell, and
        the nearest corner is at most about h^2 / 2d farther from the robot than the obstacle's
        nearest point (h half a cell, d the distance: 4 mm at 0.3 m with 0.1 m cells), where the
        centre may be up to half a cell diagonal (0.07 m) farther; a robot backing blind towards a
        post it saw before keeps the footprint padding it is meant to keep."""
        g = self.grid
        lo = g.to_cell(np.asarray(pose[:2]) - half_m)
        hi = g.to_cell(np.asarray(pose[:2]) + half_m) + 1
        occ = g.occupied(self.cfg.occupied_logodds)[lo[1]:hi[1], lo[0]:hi[0]]
        iy, ix = np.nonzero(occ)
        if len(ix) == 0:
            return np.zeros((0, 2))
        pts = g.to_world(np.stack([ix + lo[0], iy + lo[1]], -1))
        rel = np.arctan2(pts[:, 1] - pose[1], pts[:, 0] - pose[0]) - pose[2]
        pts = pts[~in_sector(rel, seen_lo_rad, seen_hi_rad)]
        corners = 0.5 * g.res * np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
        return (pts[:, None, :] + corners[None]).reshape(-1, 2)

    # --- global path ---------------------------------------------------------------------------
    def cost_map(self, lo=None, hi=None) -> np.ndarray:
        """(my, mx) cost per plan cell over grid cells [lo, hi) (ix, iy):
        1 + proximity + unknown (+ lethal inside the inflation)."""
        c, k = self.cfg, self.k
        lo = np.zeros(2, int) if lo is None else lo
        hi = np.array([self.grid.n, self.grid.n]) if hi is None else hi
        occ = self.grid.occupied(c.occupied_logodds)[lo[1]:hi[1], lo[0]:hi[0]]
        unk = self.grid.unknown()[lo[1]:hi[1], lo[0]:hi[0]]
        my, mx = occ.shape[0] // k, occ.shape[1] // k
        occ = occ[:my * k, :mx * k].reshape(my, k, mx, k).any(axis=(1, 3))
        unk = unk[:my * k, :mx * k].reshape(my, k, mx, k).mean(axis=(1, 3)) > 0.5
        res = self.grid.res * k
        dist = distance_transform_edt(~occ) * res if occ.any() else np.full((my, mx), 1e3)
        lethal = dist < c.inflation_radius_m
        cost = 1.0 + c.proximity_cost * np.exp(-np.maximum(dist - c.inflation_radius_m, 0.0) / c.proximity_decay_m)
        cost += c.unknown_cost * unk
        cost[lethal] += c.lethal_cost
        return cost, lethal

    def replan(self, pose_xy, t_s: float) -> bool:
        """Search a path robot → goal. Returns True when a path was found.

        The search covers the bounding box of the scanned area, the robot and the goal plus
        a 2 m margin (cells outside it are unknown anyway), not the whole grid."""
        self.last_plan_t = t_s
        if self.goal is None:
            return False
        g, k = self.grid, self.k
        detour = self._detour if self._detour is not None and t_s < self._detour[1] else None
        pts = np.stack([g.to_cell(pose_xy), g.to_cell(self.goal)])
        margin = int(round((6.0 if detour is not None else 2.0) / g.res))
        lo = np.minimum(pts.min(0), g.known_lo) - margin
        hi = np.maximum(pts.max(0), g.known_hi) + margin + 1
        lo = np.clip(lo // k * k, 0, g.n)
        hi = np.clip(lo + -(-(hi - lo) // k) * k, 0, g.n)
        cost, lethal = self.cost_map(lo, hi)
        my, mx = cost.shape
        res = g.res * k
        origin = g.origin + lo * g.res
        self._lethal, self._lethal_origin = lethal, origin
        if detour is not None:
            cost = cost + detour[2] * _near(detour[0], origin, res, (my, mx), 0.6)
        elif self.cfg.switch_margin > 0.0 and len(self.path) >= 2:
            cost = cost * (1.0 - self.cfg.switch_margin * _near(self._ahead(pose_xy), origin, res, (my, mx),
                                                                 max(0.15, 1.5 * res)))

        def to_cell(xy):
            c = np.floor((np.asarray(xy) - origin) / res).astype(int)
            return np.clip(c, 0, [mx - 1, my - 1])

        gc, sc = to_cell(self.goal), to_cell(pose_xy)
        gi, si = gc[1] * mx + gc[0], sc[1] * mx + sc[0]
        _, pred = dijkstra(_grid_graph(cost), directed=False, indices=gi, return_predecessors=True)
        if si != gi and pred[si] < 0:
            self.path = np.zeros((0, 2))
            return False
        cells = [si]
        while cells[-1] != gi:
            cells.append(pred[cells[-1]])
        cells = np.asarray(cells)
        xy = origin + (np.stack([cells % mx, cells // mx], -1) + 0.5) * res
        xy[0] = pose_xy
        xy[-1] = self.goal
        self.plan_count += 1
        if len(self.path) >= 2 and not _same_route(self.path, xy, 2.0 * max(res, self.cfg.inflation_radius_m)):
            self.switches += 1
        self.path = xy
        return True

    def _ahead(self, pose_xy) -> np.ndarray:
        """(P, 2) the stored path from the point nearest the robot on."""
        i0 = int(np.argmin(np.linalg.norm(self.path - np.asarray(pose_xy, dtype=np.float64), axis=1)))
        return self.path[i0:]

    def due(self, t_s: float) -> bool:
        return self.last_plan_t is None or t_s - self.last_plan_t >= self.cfg.replan_period_s \
            or t_s < self.last_plan_t

    # --- subgoal -------------------------------------------------------------------------------
    def subgoal(self, pose_xy) -> np.ndarray:
        """(2,) the furthest visible path point within lookahead_m of arc length; goal if no path."""
        if self.goal is None:
            raise RuntimeError("no goal set")
        if len(self.path) < 2:
            return self.goal.copy()
        p = np.asarray(pose_xy, dtype=np.float64)
        i0 = int(np.argmin(np.linalg.norm(self.path - p, axis=1)))
        rest = self.path[i0:]
        seg = np.linalg.norm(np.diff(rest, axis=0), axis=1)
        arc = np.concatenate([[np.linalg.norm(rest[0] - p)], np.linalg.norm(rest[0] - p) + np.cumsum(seg)])
        within = np.nonzero(arc <= self.cfg.lookahead_m)[0]
        j = int(within[-1]) if len(within) else 0
        while j > 0 and not self.line_of_sight(p, rest[j]):
            j -= 1
        return rest[j].copy()

    def line_of_sight(self, a, b) -> bool:
        """True when the segment a→b crosses no lethal plan cell (unknown cells allowed)."""
        if self._lethal is None:
            return True
        res = self.grid.res * self.k
        L = float(np.linalg.norm(np.asarray(b) - np.asarray(a)))
        n = max(2, int(math.ceil(L / (0.5 * res))) + 1)
        pts = np.linspace(a, b, n)
        my, mx = self._lethal.shape
        ij = np.floor((pts - self._lethal_origin) / res).astype(int)
        inside = (ij >= 0).all(1) & (ij[:, 0] < mx) & (ij[:, 1] < my)
        ij = np.clip(ij, 0, [mx - 1, my - 1])
        on = self._lethal[ij[:, 1], ij[:, 0]] & inside
        # the robot may start inside the inflation: only count lethal cells after leaving it
        if on[0]:
            first_free = np.argmin(on) if (~on).any() else len(on)
            on = on[first_free:]
        return not on.any()


def _near(points_xy: np.ndarray, origin, res: float, shape, radius_m: float) -> np.ndarray:
    """(my, mx) float mask: 1 on cells within ``radius_m`` of the points (P, 2)."""
    my, mx = shape
    mark = np.zeros((my, mx), dtype=bool)
    ij = np.floor((points_xy - origin) / res).astype(int)
    ok = (ij >= 0).all(1) & (ij[:, 0] < mx) & (ij[:, 1] < my)
    mark[ij[ok, 1], ij[ok, 0]] = True
    if not mark.any():
        return np.zeros((my, mx))
    return (distance_transform_edt(~mark) * res <= radius_m).astype(np.float64)


def _same_route(a: np.ndarray, b: np.ndarray, tol_m: float) -> bool:
    """True when every point of path ``b`` lies within ``tol_m`` of path ``a`` (no other way around)."""
    from scipy.spatial import cKDTree

    d, _ = cKDTree(a).query(b)
    return bool((d <= tol_m).all())


def _grid_graph(cost: np.ndarray) -> csr_matrix:
    """8-connected graph over a (my, mx) cost map; edge = step length x mean cell cost."""
    my, mx = cost.shape
    idx = np.arange(my * mx).reshape(my, mx)
    rows, cols, w = [], [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ys = slice(0, my - dy)
        xs = slice(max(0, -dx), mx - max(0, dx))
        ys2 = slice(dy, my)
        xs2 = slice(max(0, dx), mx - max(0, -dx) if dx < 0 else mx)
        a = idx[ys, xs].ravel()
        b = idx[ys2, xs2].ravel()
        length = math.hypot(dx, dy)
        rows.append(a)
        cols.append(b)
        w.append(length * 0.5 * (cost.ravel()[a] + cost.ravel()[b]))
    return csr_matrix((np.concatenate(w), (np.concatenate(rows), np.concatenate(cols))), shape=(my * mx, my * mx))


def path_ahead(path: np.ndarray, xy, reach_m: float, step_m: float = 0.1) -> np.ndarray | None:
    """(P, 2) the path (K, 2) from its point nearest ``xy`` on, resampled every ``step_m`` of arc
    length and cut at ``reach_m``; None where fewer than two points are left."""
    if len(path) < 2:
        return None
    rest = path[int(np.argmin(np.linalg.norm(path - np.asarray(xy, dtype=np.float64), axis=1))):]
    if len(rest) < 2:
        return None
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(rest, axis=0), axis=1))])
    s = np.arange(0.0, min(arc[-1], reach_m) + 1e-9, step_m)
    return np.stack([np.interp(s, arc, rest[:, 0]), np.interp(s, arc, rest[:, 1])], -1)
