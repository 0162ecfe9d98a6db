"""Each robot's own lidar: the Jackal's 270-degree Hokuyo UST-10 (720 beams, 0.1-30 m) from its
robot spec, in the sim's scans, in sim_node's parameters and in the LaserScan message."""
from __future__ import annotations

import math

import numpy as np
import pytest

from world_model_planner.sim.robots import GENERIC_LIDAR, ROBOTS
from world_model_planner.sim.scenario import parse_scenario
from world_model_planner.sim.sensors import LidarConfig
from world_model_planner.sim.world import SimWorld


def test_the_jackal_carries_the_ust10_and_the_others_the_generic_scan():
    ust = ROBOTS["jackal"].lidar
    assert (ust.model, ust.beams, ust.fov_deg, ust.range_min_m, ust.range_max_m) == \
        ("hokuyo_ust10", 720, 270.0, 0.1, 30.0)
    assert ROBOTS["husky"].lidar == GENERIC_LIDAR == ROBOTS["turtlebot4"].lidar
    cfg = LidarConfig.of(ust)
    a = cfg.angles()
    assert len(a) == 720 and a[0] == pytest.approx(-math.radians(135)) and a[-1] == pytest.approx(math.radians(135))
    assert LidarConfig.of(GENERIC_LIDAR).angles()[0] == pytest.approx(-math.pi)
    with pytest.raises(ValueError, match="range_min_m"):
        LidarConfig(range_min_m=0.9, range_max_m=0.8)


def test_the_sim_scans_with_the_robots_lidar_blind_behind_and_far_ahead():
    """Jackal at the origin facing +x: a cylinder 12 m ahead (beyond the generic 8 m) is seen,
    one 1 m straight behind (in the 90-degree blind sector) is not."""
    sc = parse_scenario({"name": "ust10", "robot": "jackal", "arena": [30.0, 8.0],
                         "obstacles": [{"cylinder": {"center": [12.0, 0.0], "radius": 0.2}},
                                       {"cylinder": {"center": [-1.0, 0.0], "radius": 0.2}}],
                         "start": {"x": 0.0, "y": 0.0, "yaw": 0.0}, "goal": {"x": 5.0, "y": 2.0}})
    with SimWorld(sc, seed=0) as w:
        assert (w.lidar_cfg.beams, w.lidar_cfg.fov_deg, w.lidar_cfg.range_max_m) == (720, 270.0, 30.0)
        r = w.scan()
        ang = w.lidar_cfg.angles()
    assert r.shape == (720,)
    ahead = int(np.argmin(np.abs(ang)))
    assert r[ahead] == pytest.approx(11.8, abs=0.03)
    assert np.abs(np.abs(ang) - math.pi).min() > math.radians(44)      # no beam looks straight back
    side = np.abs(np.abs(ang) - math.pi / 2) < 0.05                       # ±90°: the arena's long walls, 4 m
    assert np.allclose(r[side], 4.0, atol=0.1)


def test_sim_node_parameters_default_to_the_robots_lidar_and_the_scan_message_says_so():
    from world_model_planner.sim.node_config import SimNodeConfig

    ust = ROBOTS["jackal"].lidar
    cfg = SimNodeConfig().lidar(ust)
    assert (cfg.beams, cfg.fov_deg, cfg.range_min_m, cfg.range_max_m) == (720, 270.0, 0.1, 30.0)
    assert SimNodeConfig(lidar_beams=360).lidar(ust).beams == 360               # a parameter wins
    assert SimNodeConfig().lidar().beams == 180                                  # no robot: the generic one
    sim_msgs = pytest.importorskip("world_model_planner.sim.sim_msgs", reason="ROS messages not installed")
    m = sim_msgs.scan_msg(1.5, np.full(720, 2.0, np.float32), cfg, "base_link")
    assert len(m.ranges) == 720 and m.range_min == pytest.approx(0.1) and m.range_max == pytest.approx(30.0)
    assert m.angle_min == pytest.approx(-2.35619, abs=1e-5) and m.angle_max == pytest.approx(2.35619, abs=1e-5)
    assert m.angle_increment == pytest.approx(math.radians(270) / 719, rel=1e-6)
