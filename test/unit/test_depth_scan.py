"""A depth camera as the planner's range sensor: the depth image the real simulator renders,
turned into a scan (planner_node.depth_scan), checked against the lidar on the same scene; depth
messages read and refused (core.rosconv.depth_m); and the shipped camera world model planning
round a wall through the subgoal map that the depth builds (Navigator with a camera model and a
depth scan)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from world_model_planner.core.paths import models_dir
from world_model_planner.core.robot_config import load_robot, planner_params
from world_model_planner.core.rosconv import depth_m, depth_msg
from world_model_planner.planner_node.depth_scan import DepthScan, DepthScanConfig
from world_model_planner.planner_node.dynamics import LearnedModel
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import Navigator, PlannerConfig
from world_model_planner.sim.robots import ROBOTS
from world_model_planner.sim.scenario import load_scenario
from world_model_planner.sim.world import CameraConfig, SimWorld

CAMERA_MODEL = models_dir() / "husky_camera.pt"


def _lidar_at(w, angles, pose=None):
    """The sim lidar's range at each bearing (nearest beam), from the robot or from ``pose``."""
    scan = w.scan() if pose is None else w.lidar.scan(pose)
    lidar_angles = w.lidar_cfg.angles()
    diff = np.abs(np.angle(np.exp(1j * (lidar_angles[None, :] - np.asarray(angles)[:, None]))))
    return scan[np.argmin(diff, axis=1)]


def test_the_depth_scan_agrees_with_the_lidar_and_ignores_the_floor():
    sc = load_scenario("wall")
    with SimWorld(sc, seed=0, camera=CameraConfig()) as w:
        rgb, depth = w.rgbd()
        assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8 and depth.shape == (64, 64)
        assert np.array_equal(rgb, w.image())                   # the same render as the RGB frame
        ds = DepthScan(DepthScanConfig(), 64, 64)
        r = ds.scan(depth)
        assert r.shape == (64,) and ds.geom.n == 64
        assert math.isclose(ds.geom.angle_min, -math.pi / 4, abs_tol=0.02)   # the 90 degree camera
        at = ds.sensor_pose(w.true_pose())                       # the camera's foot, 0.45 m ahead
        assert np.allclose(at - w.true_pose(), [0.45 * math.cos(at[2]), 0.45 * math.sin(at[2]), 0.0])
        lidar = _lidar_at(w, ds.geom.angles, at)
        both = np.isfinite(r) & np.isfinite(lidar) & (lidar < 5.0)
        assert both.sum() >= 40                                  # the wall ahead fills most of the view
        assert np.abs(r[both] - lidar[both]).max() < 0.08, np.c_[r, lidar][both]
        # the floor in the lower rows (seen from 0.45 m on) is not an obstacle: every beam reads
        # the wall, 2.4 m off and more
        assert r[both].min() > 2.3

        # turned to the open side of the arena: floor and distant walls only
        # turned to the near side of the arena: every beam of the view reads that wall
        back = np.array([-3.0, 0.0, math.pi])
        _, depth = w.camera.capture(back)
        near = ds.scan(depth)
        lidar = _lidar_at(w, ds.geom.angles, ds.sensor_pose(back))
        fin = np.isfinite(lidar)                                 # (a ray cast can slip through a wall seam)
        assert np.isfinite(near).all() and fin.sum() >= 60
        assert np.abs(near[fin] - lidar[fin]).max() < 0.08, np.c_[near, lidar]

    # synthetic: a level camera over bare floor sees no obstacle; a plane 2 m ahead does
    cfg = DepthScanConfig(pitch_deg=0.0, mount_x_m=0.3, mount_z_m=0.5)
    ds = DepthScan(cfg, 32, 24)
    f = 16.0 / math.tan(math.radians(45.0))
    yn = (np.arange(24) + 0.5 - 12) / f
    floor = np.where(yn > 0, cfg.mount_z_m / np.maximum(yn, 1e-9), np.inf)[:, None] * np.ones((1, 32))
    assert np.isinf(ds.scan(floor)).all()
    wall = np.full((24, 32), 2.0)
    r = ds.scan(wall)
    assert abs(r[16] - 2.0) < 0.02 and np.isfinite(r).all()
    wall[:, :] = np.nan                                           # no reading anywhere: nothing seen
    assert np.isinf(ds.scan(wall)).all()
    with pytest.raises(ValueError, match="expected 24 x 32 pixels, got 64 x 64"):
        ds.scan(np.ones((64, 64)))
    with pytest.raises(ValueError, match="z_min_m: expected less than z_max_m"):
        DepthScanConfig(z_min_m=1.0, z_max_m=0.5)


def _robot_depth(robot: str):
    """(DepthScanConfig, footprint) as planner_node takes them from the robot file."""
    rc = load_robot(robot)
    depth = {k.partition(".")[2]: v for k, v in planner_params(rc).items() if k.startswith("depth.")}
    return DepthScanConfig(**depth), (rc.length_m, rc.width_m, rc.round_base)


@pytest.mark.parametrize("robot,size", [("husky", (64, 64)), ("jackal", (37, 64)), ("turtlebot4", (50, 64))])
def test_each_robot_carries_its_own_camera_and_its_depth_scan_matches_the_lidar(robot, size):
    """The sim renders from each robot's own camera (sim/robots.py CameraSpec: the Husky's generic
    one, the Jackal's RealSense on its front mount, the TurtleBot 4's OAK-D Pro under its sensor
    plate); the robot file tells the planner the same mounting, and its depth scan reads what
    the lidar reads from the camera's foot."""
    cfg, body = _robot_depth(robot)
    spec = ROBOTS[robot].camera
    assert (cfg.hfov_deg, cfg.mount_x_m, cfg.mount_z_m) == (spec.hfov_deg, spec.mount_x_m, spec.mount_z_m)
    assert cfg.pitch_deg == pytest.approx(spec.pitch_deg, abs=0.01)
    with SimWorld(load_scenario("wall", robot=robot), seed=0, camera=CameraConfig()) as w:
        rgb, depth = w.rgbd()
        assert rgb.shape == (*size, 3) and depth.shape == size
        assert abs(w.camera.vfov_deg - spec.vfov_deg) < 1.5              # square pixels, the maker's view
        ds = DepthScan(cfg, size[1], size[0], footprint=body)
        assert math.degrees(-2.0 * ds.geom.angle_min) == pytest.approx(spec.hfov_deg, abs=0.5)   # the beams span it
        for pose in (w.true_pose(), np.array([-3.0, 0.0, math.pi])):   # the wall ahead; the arena's near side
            _, depth = w.camera.capture(pose)
            r = ds.scan(depth)
            lidar = _lidar_at(w, ds.geom.angles, ds.sensor_pose(pose))
            both = np.isfinite(r) & np.isfinite(lidar) & (lidar < 5.0)
            assert both.sum() >= 0.8 * size[1], (pose, both.sum())
            assert np.abs(r[both] - lidar[both]).max() < 0.08, np.c_[r, lidar][both]
    if robot == "husky":
        return
    # too near to measure reads -inf (REP 117): the Jackal's top plate under its lens, the
    # TurtleBot 4's sensor plate over its OAK-D
    assert np.isneginf(depth).any() and np.isfinite(depth[size[0] // 2]).all()


def test_the_depth_scan_drops_the_robot_s_own_body():
    """A camera that sees the robot (the Jackal's RealSense moved to the mid mount and tilted
    down: the front of the top plate fills the bottom of its view) reads the body as an obstacle
    at the bumper unless the footprint is given."""
    spec = dataclasses.replace(ROBOTS["jackal"].camera, mount_x_m=0.0, pitch_deg=20.0)
    cfg, body = _robot_depth("jackal")
    cfg = dataclasses.replace(cfg, mount_x_m=0.0, pitch_deg=20.0)
    with SimWorld(load_scenario("open", robot="jackal"), seed=0, camera=CameraConfig(spec=spec)) as w:
        _, depth = w.camera.capture(w.true_pose())                       # open floor ahead
    blind = DepthScan(cfg, depth.shape[1], depth.shape[0]).scan(depth)
    assert np.isfinite(blind).sum() > 10 and np.nanmin(blind) < 0.3          # its own plate, 0.1-0.3 m ahead
    assert np.isinf(DepthScan(cfg, depth.shape[1], depth.shape[0], footprint=body).scan(depth)).all()
    # a round body: a point over the TurtleBot 4's base is dropped, one beside it is kept
    tb = DepthScan(DepthScanConfig(hfov_deg=90.0, mount_x_m=0.0, mount_z_m=0.5, pitch_deg=0.0), 2, 1,
                   footprint=(0.342, 0.342, True))
    assert np.isinf(tb.scan(np.array([[0.15, 0.15]]))).all()                # 0.17 m off the centre: its base
    assert np.isfinite(tb.scan(np.array([[0.5, 0.5]]))).all()                # 0.56 m off: an obstacle


def test_depth_messages_are_read_in_metres_and_bad_ones_refused():
    pytest.importorskip("sensor_msgs")
    d = np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5
    d[0, 0] = np.inf
    back = depth_m(depth_msg(1.0, d, "camera"))
    assert back.dtype == np.float32 and np.array_equal(back, d)
    msg = depth_msg(1.0, d, "camera")                          # the same values, big-endian
    msg.is_bigendian, msg.data = 1, d.astype(">f4").tobytes()
    assert np.array_equal(depth_m(msg), d)
    mm = depth_msg(1.0, d, "camera")                           # 16UC1 millimetres, 0 = no reading
    raw = np.array([[0, 1500, 20], [7, 8, 9]], dtype="<u2")
    mm.height, mm.width, mm.encoding, mm.step, mm.data = 2, 3, "16UC1", 6, raw.tobytes()
    out = depth_m(mm)
    assert np.isnan(out[0, 0]) and out[0, 1] == pytest.approx(1.5) and out[1, 2] == pytest.approx(0.009)
    wide = depth_msg(0.0, np.tile(np.arange(640, dtype=np.float32), (480, 1)), "camera")
    small = depth_m(wide, max_width=160)                       # every 4th row and column
    assert small.shape == (120, 160) and small[0, 1] == 4.0
    bad = depth_msg(1.0, d, "camera")
    bad.encoding = "rgb8"
    with pytest.raises(ValueError, match="depth encoding 'rgb8'"):
        depth_m(bad)
    bad = depth_msg(1.0, d, "camera")
    bad.data = bad.data[:10]                                    # the header claims 3 x 4 floats
    with pytest.raises(ValueError, match="48 data bytes, got 10"):
        depth_m(bad)
    bad = depth_msg(1.0, d, "camera")
    bad.step = 8                                                # narrower than 4 floats
    with pytest.raises(ValueError, match="expected step >= 16"):
        depth_m(bad)


@pytest.fixture(scope="module")
def cam():
    torch.set_num_threads(1)
    return LearnedModel.from_checkpoint(str(CAMERA_MODEL), device="cpu")


def test_a_camera_model_plans_round_a_wall_through_the_map_its_depth_builds(cam):
    cfg = PlannerConfig(mppi=MPPIConfig(samples=128, horizon=15))
    nav = Navigator("hierarchical", cam, cfg)
    ds = DepthScan(DepthScanConfig(), 64, 64)
    sc = load_scenario("wall")
    with SimWorld(sc, seed=0, camera=CameraConfig()) as w:
        assert nav.set_goal(sc.goal.x, sc.goal.y) == (True, "")
        t = 0.0
        for _ in range(25):
            rgb, depth = w.rgbd()
            cmd = nav.step(w.pose(), w.velocity(), ds.scan(depth), t, scan_pose=ds.sensor_pose(w.pose()),
                           geom=ds.geom, image=rgb)
            assert cmd.state == "planning", cmd.reason
            w.step(cmd.v, cmd.w, 0.1)
            t += 0.1
        # the wall the depth showed is in the map: the global path bends round it, off the
        # straight line to the goal, and the clearance critics score the model's poses against it
        assert len(cmd.path) >= 2 and np.abs(cmd.path[:, 1]).max() > 1.0, cmd.path
        state = cam.reset_state(w.pose(), w.velocity(), None, history=nav.history(t), image=w.rgbd()[0])
        ahead = torch.zeros(1, 15, 2)
        ahead[..., 0] = 1.0
        clear = cam.rollout(state, ahead).clearance_m
        assert clear is not None and float(clear[0, -1]) < float(clear[0, 0])   # nearing the wall
        assert nav.critics.cfg.collision_weight > 0                            # the lidar robot's weight ...
        assert nav._camera_critics_for(False, depth=True).cfg.collision_weight == 0.0  # ... not the camera's
        assert w.collision_count == 0
        # the frame missing while the depth comes: the robot stops with the reason
        cmd = nav.step(w.pose(), w.velocity(), ds.scan(depth), t, geom=ds.geom)
        assert (cmd.v, cmd.w, cmd.state) == (0.0, 0.0, "stopped") and "no camera image" in cmd.reason
