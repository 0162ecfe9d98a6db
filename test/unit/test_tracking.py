"""planner_node.tracking: clusters from synthetic scans, velocities of moving clusters, static
structure left alone."""
import math

import numpy as np
import pytest

from world_model_planner.core.params import ConfigError
from world_model_planner.planner_node.tracking import Tracker, TrackerConfig, cluster


def _ray_scan(origin, walls_y, circles, beams=360, range_max=8.0):
    """Odom-frame returns of a 360° lidar at ``origin`` against the horizontal lines y = c
    (walls_y) and circles [(cx, cy, r)]: exact ray casting, beam order."""
    ox, oy = origin
    pts = []
    for a in np.linspace(-math.pi, math.pi, beams, endpoint=False):
        dx, dy = math.cos(a), math.sin(a)
        best = range_max
        for y in walls_y:
            if abs(dy) > 1e-9:
                t = (y - oy) / dy
                if 0 < t < best:
                    best = t
        for cx, cy, r in circles:
            fx, fy = ox - cx, oy - cy
            b = fx * dx + fy * dy
            disc = b * b - (fx * fx + fy * fy - r * r)
            if disc >= 0:
                t = -b - math.sqrt(disc)
                if 0 < t < best:
                    best = t
        if best < range_max:
            pts.append((ox + best * dx, oy + best * dy))
    return np.array(pts)


def test_cluster_splits_at_gaps_and_joins_across_the_wrap():
    a = np.stack([np.linspace(-1, 1, 21), np.full(21, 2.0)], 1)       # a segment ahead-left
    b = np.array([[3.0, -0.05], [3.0, 0.05]])                            # a pair straddling angle 0
    c = np.array([[-3.0, -0.05], [-3.0, 0.05]])                          # a pair straddling ±π
    parts = cluster(np.concatenate([a, b, c]), (0.0, 0.0), 0.3)
    sizes = sorted(len(p) for p in parts)
    assert sizes == [2, 2, 21]
    assert cluster(np.zeros((0, 2)), (0, 0), 0.3) == []


def test_two_movers_get_their_velocities_and_the_wall_stays_static():
    """Two people walking (0.8 m/s along +x; 0.5 m/s along -y) beside a static wall (y = 3):
    tracked velocities within 0.1 m/s after 2 s of 10 Hz scans; wall points never moving."""
    tr = Tracker()
    v1, v2 = np.array([0.8, 0.0]), np.array([0.0, -0.5])
    p1, p2 = np.array([-2.0, 1.5]), np.array([2.0, 1.0])
    scene = None
    for k in range(21):
        t = 0.1 * k
        c1, c2 = p1 + v1 * t, p2 + v2 * t
        pts = _ray_scan((0.0, -1.0), [3.0], [(*c1, 0.25), (*c2, 0.25)])
        scene = tr.update(t, pts, (0.0, -1.0))
    assert len(scene.pos) == 2, f"expected two moving obstacles, got {len(scene.pos)}"
    order = np.argsort(scene.pos[:, 0])                                   # mover 1 is left at t=2
    est = scene.vel[order]
    assert np.linalg.norm(est[0] - v1) < 0.1, est
    assert np.linalg.norm(est[1] - v2) < 0.1, est
    # the wall (y = 3) is all static, the movers' points are not
    wall = np.abs(scene.static_points[:, 1] - 3.0) < 1e-6
    assert wall.sum() > 50
    assert (~wall).sum() == 0, "mover points left in the static set"
    # extrapolation: 1 s ahead at constant velocity, from the true positions within 0.3 m
    ahead = scene.predict(3.0)[order]
    truth = np.stack([p1 + v1 * 3.0, p2 + v2 * 3.0])
    assert np.linalg.norm(ahead - truth, axis=1).max() < 0.3
    assert scene.predict(np.array([2.0, 3.0])).shape == (2, 2, 2)


def test_the_disc_sits_where_the_person_is_not_on_the_near_surface():
    """A 0.25 m person walking past 1.5-2.5 m away: the returns lie on the near half, so their
    centroid is closer than the centre; the tracked disc's centre is within 0.05 m of the true
    one and its near edge within 0.05 m of the true surface (centre_behind_surface), where
    the centroid puts the disc 0.1 m or more too close."""
    for behind in (True, False):
        tr = Tracker(TrackerConfig(centre_behind_surface=behind))
        p0, v = np.array([-1.5, 1.5]), np.array([0.8, 0.3])
        for k in range(21):
            c = p0 + v * 0.1 * k
            scene = tr.update(0.1 * k, _ray_scan((0.0, 0.0), [], [(*c, 0.25)]), (0.0, 0.0))
        assert len(scene.pos) == 1
        centre_err = float(np.linalg.norm(scene.pos[0] - c))
        true_gap = float(np.linalg.norm(c)) - 0.25                       # sensor to the person's surface
        disc_gap = float(np.linalg.norm(scene.pos[0])) - float(scene.radius[0])
        if behind:
            assert centre_err < 0.05, (scene.pos[0], c)
            assert abs(disc_gap - true_gap) < 0.05, (disc_gap, true_gap)
        else:
            assert true_gap - disc_gap > 0.1, (disc_gap, true_gap)


def test_a_standing_person_and_a_moving_sensor_stay_static():
    """A still cylinder seen from a sensor driving past it is not moving (odom-frame tracking)."""
    tr = Tracker()
    for k in range(20):
        origin = (-1.0 + 0.1 * k, 0.0)
        scene = tr.update(0.1 * k, _ray_scan(origin, [-3.0], [(1.0, 1.5, 0.25)]), origin)
        assert len(scene.pos) == 0, f"scan {k}: a static cylinder marked moving"
    assert len(scene.static_points) > 0


def test_time_going_backwards_starts_over_and_bad_config_is_refused():
    tr = Tracker()
    pts = _ray_scan((0, 0), [], [(1.0, 1.0, 0.25)])
    tr.update(5.0, pts, (0, 0))
    assert len(tr.tracks) == 1
    tr.update(1.0, pts + 0.5, (0, 0))
    assert len(tr.tracks) == 1 and tr.tracks[0].hits == 1
    with pytest.raises(ConfigError, match="gate_m"):
        TrackerConfig(gate_m=-1.0)
