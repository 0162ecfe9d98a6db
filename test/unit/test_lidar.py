"""Lidar ranges from PyBullet ray casting against walls, a rotated box and a cylinder whose
distances are known analytically: within 2 cm, never hitting the robot itself."""
from __future__ import annotations

import math

import numpy as np
import pytest

from world_model_planner.sim.scenario import Box, parse_scenario
from world_model_planner.sim.sensors import LidarConfig
from world_model_planner.sim.world import SimWorld

SCENARIO = {
    "name": "lidar_room", "robot": "husky", "arena": [6.0, 4.0],
    "obstacles": [{"box": {"center": [1.8, 0.9], "size": [0.4, 1.2], "yaw": 0.5}},
                  {"cylinder": {"center": [-1.6, -1.0], "radius": 0.35}}],
    "start": {"x": 0.2, "y": -0.3, "yaw": 0.7},
    "goal": {"x": 2.5, "y": -1.5},
}


def _ray_segment(o, d, a, b) -> float:
    """Distance along unit ray (o, d) to segment ab, or inf."""
    e = b - a
    den = d[0] * (-e[1]) - d[1] * (-e[0])
    if abs(den) < 1e-12:
        return math.inf
    r = a - o
    t = (r[0] * (-e[1]) - r[1] * (-e[0])) / den
    u = (d[0] * r[1] - d[1] * r[0]) / den
    return t if t > 0 and 0 <= u <= 1 else math.inf


def _ray_circle(o, d, c, radius) -> float:
    f = o - c
    b = f @ d
    disc = b * b - (f @ f - radius * radius)
    if disc < 0:
        return math.inf
    t = -b - math.sqrt(disc)
    return t if t > 0 else math.inf


def expected_ranges(sc, pose, cfg: LidarConfig) -> np.ndarray:
    """Analytic 2-D ray cast of the scenario from pose (x, y, yaw)."""
    o = np.array(pose[:2])
    hx, hy = sc.arena[0] / 2, sc.arena[1] / 2
    corners = np.array([[hx, hy], [-hx, hy], [-hx, -hy], [hx, -hy]])
    polys = [corners] + [ob.polygon() for ob in sc.obstacles if isinstance(ob, Box)]
    out = []
    for ang in cfg.angles() + pose[2]:
        d = np.array([math.cos(ang), math.sin(ang)])
        best = math.inf
        for poly in polys:
            for i in range(len(poly)):
                best = min(best, _ray_segment(o, d, poly[i], poly[(i + 1) % len(poly)]))
        for ob in sc.obstacles:
            if not isinstance(ob, Box):
                best = min(best, _ray_circle(o, d, np.array(ob.center), ob.radius))
        out.append(best if best <= cfg.range_max_m else math.inf)
    return np.array(out)


@pytest.mark.parametrize("cfg", [LidarConfig(), LidarConfig(beams=90, fov_deg=270.0, range_max_m=3.0)])
def test_lidar_ranges_match_known_geometry_within_2cm(cfg):
    sc = parse_scenario(SCENARIO)
    w = SimWorld(sc, lidar=cfg)
    try:
        w.step(0.0, 0.0, 0.5)                    # let the robot settle on its wheels
        pose = w.true_pose()
        got = w.scan()
        want = expected_ranges(sc, pose, cfg)
        assert got.shape == (cfg.beams,) and got.dtype == np.float32
        near_max = np.abs(want - cfg.range_max_m) < 0.03   # ambiguous at the range limit
        both_inf = np.isinf(got) & np.isinf(want)
        with np.errstate(invalid="ignore"):
            ok = both_inf | near_max | (np.abs(got - want) <= 0.02)
        assert ok.all(), f"beams {np.flatnonzero(~ok)}: got {got[~ok]}, want {want[~ok]}"
        finite = np.isfinite(want)
        assert finite.sum() >= cfg.beams // 3                # the test actually sees walls
        # nothing closer than the body: the rays start inside the robot but never hit it
        assert got[np.isfinite(got)].min() > 0.3
        if cfg.range_max_m < 8.0:
            assert np.isinf(got).sum() > 0                   # far walls read +inf (REP-117)
    finally:
        w.close()


def test_scan_angles_follow_the_ros_convention():
    cfg = LidarConfig()
    a = cfg.angles()
    assert a[0] == pytest.approx(-math.pi) and cfg.angle_increment == pytest.approx(2 * math.pi / 180)
    assert a[-1] == pytest.approx(math.pi - 2 * math.pi / 180)
    narrow = LidarConfig(beams=11, fov_deg=90.0)
    assert narrow.angles()[0] == pytest.approx(-math.pi / 4) and narrow.angles()[-1] == pytest.approx(math.pi / 4)
