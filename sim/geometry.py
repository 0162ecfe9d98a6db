"""2-D geometry for scenario checks: distances between the robot footprint and obstacles.

Pure numpy, no PyBullet. Polygons are (K, 2) arrays of vertices in order.
"""
from __future__ import annotations

import math

import numpy as np


def rectangle(cx: float, cy: float, length_m: float, width_m: float, yaw: float) -> np.ndarray:
    """Vertices (4, 2) of a length x width rectangle centred at (cx, cy), rotated by yaw."""
    hx, hy = length_m / 2.0, width_m / 2.0
    local = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
    c, s = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, -s], [s, c]])
    return local @ rot.T + np.array([cx, cy])


def point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    denom = float(ab @ ab)
    t = 0.0 if denom == 0.0 else min(1.0, max(0.0, float((p - a) @ ab) / denom))
    return float(np.linalg.norm(p - (a + t * ab)))


def point_in_polygon(p: np.ndarray, poly: np.ndarray) -> bool:
    """True when p is inside (or on) the convex polygon ``poly`` (either winding)."""
    signs = []
    for i in range(len(poly)):
        a, b = poly[i], poly[(i + 1) % len(poly)]
        cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
        signs.append(cross)
    signs = np.array(signs)
    return bool(np.all(signs >= -1e-12) or np.all(signs <= 1e-12))


def _segments_intersect(a, b, c, d) -> bool:
    def orient(p, q, r):
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    return (o1 * o2 < 0) and (o3 * o4 < 0)


def polygon_distance(pa: np.ndarray, pb: np.ndarray) -> float:
    """Distance between two convex polygons; 0.0 when they touch or overlap."""
    if any(point_in_polygon(v, pb) for v in pa) or any(point_in_polygon(v, pa) for v in pb):
        return 0.0
    na, nb = len(pa), len(pb)
    for i in range(na):
        for j in range(nb):
            if _segments_intersect(pa[i], pa[(i + 1) % na], pb[j], pb[(j + 1) % nb]):
                return 0.0
    best = math.inf
    for v in pa:
        for j in range(nb):
            best = min(best, point_segment_distance(v, pb[j], pb[(j + 1) % nb]))
    for v in pb:
        for i in range(na):
            best = min(best, point_segment_distance(v, pa[i], pa[(i + 1) % na]))
    return best


def polygon_circle_distance(poly: np.ndarray, center: np.ndarray, radius: float) -> float:
    """Distance between a convex polygon and a disc; 0.0 when they overlap."""
    if point_in_polygon(center, poly):
        return 0.0
    d = min(point_segment_distance(center, poly[i], poly[(i + 1) % len(poly)]) for i in range(len(poly)))
    return max(0.0, d - radius)


def polygon_arena_distance(poly: np.ndarray, arena_xy: tuple[float, float]) -> float:
    """Distance from a polygon to the walls of an arena centred on the origin; 0.0 if outside."""
    hx, hy = arena_xy[0] / 2.0, arena_xy[1] / 2.0
    margin_x = hx - np.abs(poly[:, 0]).max()
    margin_y = hy - np.abs(poly[:, 1]).max()
    return float(max(0.0, min(margin_x, margin_y)))
