"""Camera-only planning: the shipped camera world model behind the planner's model interface
(LearnedModel), the navigator without a scan, and goal pictures (planner_node.goal_image), on
frames rendered by the real simulator."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.core.paths import models_dir
from world_model_planner.planner_node.dynamics import LearnedModel
from world_model_planner.planner_node.goal_image import CameraPlanConfig, GoalImage, camera_critics_config
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import Navigator, PlannerConfig
from world_model_planner.planner_node.critics import CriticsConfig
from world_model_planner.sim.scenario import load_scenario
from world_model_planner.sim.world import CameraConfig, SimWorld
from world_model_planner.world_model_node.history import HistoryBuffer

CAMERA_MODEL = models_dir() / "husky_camera.pt"


@pytest.fixture(scope="module")
def cam():
    torch.set_num_threads(1)
    return LearnedModel.from_checkpoint(str(CAMERA_MODEL), device="cpu")


@pytest.fixture(scope="module")
def frames():
    """Frames of the open scenario: at the start facing +x, 3 m further on, and facing back."""
    with SimWorld(load_scenario("open"), camera=CameraConfig()) as w:
        return {k: w.camera.image(np.array(p)) for k, p in
                {"start": (-3.5, 0.0, 0.0), "ahead": (-0.5, 0.0, 0.0), "back": (-3.5, 0.0, math.pi)}.items()}


def test_learned_model_reads_the_camera(cam, frames):
    assert cam.needs_image and cam.beams is None and cam.observe_scan(np.ones(180)) is None
    assert not cam.tracked_scene                                  # no scan: no tracked scene
    hb = HistoryBuffer(cam.history_steps, cam.dt_s)
    for k in range(5):
        hb.observe(0.1 * k, (0.3, 0.0))
        hb.commanded(0.1 * k, (0.4, 0.0))
    pose, vel = np.array([-3.5, 0.0, 0.0]), np.array([0.3, 0.0])
    st = cam.reset_state(pose, vel, None, history=hb.history(0.4), image=frames["start"])
    assert st["z"].shape == (1, cam.model.latent_dim) and "field" not in st
    again = cam.reset_state(pose, vel, None, history=hb.history(0.4), image=frames["start"])
    assert torch.equal(st["z"], again["z"])                       # the encoder is deterministic
    other = cam.reset_state(pose, vel, None, history=hb.history(0.4), image=frames["back"])
    assert not torch.equal(cam.state_latent(st), cam.state_latent(other))   # the frame matters

    acts = torch.zeros(6, 12, 2)
    acts[:, :, 0] = torch.linspace(-0.5, 1.0, 6)[:, None]
    acts[3:, :, 1] = 0.8
    r = cam.rollout(st, acts)
    assert r.poses.shape == (6, 12, 3) and r.collision_prob.shape == (6, 12) and r.clearance_m is None
    assert r.latent.shape == (6, 12, cam.model.cfg.h_dims)
    assert ((r.collision_prob >= 0) & (r.collision_prob <= 1)).all() and torch.isfinite(r.latent).all()
    poses, coll, lat = r.poses.clone(), r.collision_prob.clone(), r.latent.clone()
    r2 = cam.rollout(st, acts)
    assert torch.equal(poses, r2.poses) and torch.equal(coll, r2.collision_prob) and torch.equal(lat, r2.latent)
    assert poses[5, -1, 0] > poses[0, -1, 0] + 1.0                # 1 m/s forward ends well ahead of -0.5 m/s
    with pytest.raises(ValueError, match="reset_state needs image"):
        cam.reset_state(pose, vel, None)
    with pytest.raises(ValueError, match=r"camera image: expected \(64, 64, 3\) uint8"):
        cam.reset_state(pose, vel, None, image=np.zeros((32, 32, 3), np.uint8))


def test_navigator_plans_from_the_camera_to_a_pose_goal(cam):
    cfg = PlannerConfig(mppi=MPPIConfig(samples=64, horizon=15))
    nav = Navigator("hierarchical", cam, cfg)                     # camera only: flat to the pose, no grid
    sc = load_scenario("open")
    with SimWorld(sc, camera=CameraConfig()) as w:
        assert nav.set_goal(sc.goal.x, sc.goal.y) == (True, "")
        t, cmds = 0.0, []
        for _ in range(55):          # it dithers for ~3 s first: the model reads a robot at rest as in contact
            cmd = nav.step(w.pose(), w.velocity(), None, t, image=w.image())
            assert cmd.state == "planning", cmd.reason
            assert math.isfinite(cmd.v) and math.isfinite(cmd.w) and math.isfinite(cmd.best_cost)
            cmds.append((cmd.v, cmd.w))
            w.step(cmd.v, cmd.w, 0.1)
            t += 0.1
        assert cmd.best_traj.shape == (15, 3) and len(cmd.path) == 0
        assert w.true_pose()[0] > sc.start.x + 0.5, w.true_pose()  # on its way to the goal 7 m ahead
        assert w.collision_count == 0
        # no image: the robot stops with the reason, nothing raises
        cmd = nav.step(w.pose(), w.velocity(), None, t)
        assert (cmd.v, cmd.w, cmd.state) == (0.0, 0.0, "stopped") and "no camera image" in cmd.reason
        cmd = nav.step(w.pose(), w.velocity(), None, t + 0.1, image=np.zeros((64, 64), np.uint8))
        assert cmd.state == "stopped" and "expected (64, 64, 3) uint8" in cmd.reason


def test_camera_only_without_depth_reverses_only_back_the_way_it_came(cam):
    """RGB only, nothing behind the robot is seen: at the start the sampler's lowest speed is
    about 0, even for a goal behind the robot; after driving forward it may reverse, at most
    camera.blind_reverse_m over the horizon, and not at all with 0."""
    cfg = PlannerConfig(mppi=MPPIConfig(samples=64, horizon=15))
    nav = Navigator("hierarchical", cam, cfg)
    sc = load_scenario("open")
    with SimWorld(sc, camera=CameraConfig()) as w:
        assert nav.set_goal(sc.start.x - 1.0, sc.start.y) == (True, "")       # 1 m behind the start
        t = 0.0
        for _ in range(15):
            cmd = nav.step(w.pose(), w.velocity(), None, t, image=w.image())
            assert cmd.state == "planning" and cmd.v >= -0.05, (cmd.state, cmd.v)   # turning, not reversing
            w.step(cmd.v, cmd.w, 0.1)
            t += 0.1
        assert -0.05 < nav.mppi.lo[0].item() <= 0.0               # only the few cm it crept forward
        x0 = w.true_pose()[0]
        assert nav.set_goal(sc.goal.x, sc.goal.y) == (True, "")
        while w.true_pose()[0] < x0 + 1.5 and t < 15.0:                        # 1.5 m forward
            cmd = nav.step(w.pose(), w.velocity(), None, t, image=w.image())
            w.step(cmd.v, cmd.w, 0.1)
            t += 0.1
        assert w.true_pose()[0] >= x0 + 1.5
        horizon_s = 15 * cam.dt_s
        for room, low in ((1.0, max(cfg.mppi.v_min_mps, -1.0 / horizon_s)), (0.3, -0.3 / horizon_s), (0.0, 0.0)):
            nav.cfg.camera.blind_reverse_m = room
            nav.step(w.pose(), w.velocity(), None, t, image=w.image())
            t += 0.1
            assert nav.mppi.lo[0].item() == pytest.approx(low, abs=1e-6), room


def test_camera_critics_and_a_lidar_model_without_scan(model):
    cc = CriticsConfig()
    pose_cfg = camera_critics_config(cc, CameraPlanConfig(collision_weight=7.0), goal_image=False)
    img_cfg = camera_critics_config(cc, CameraPlanConfig(), goal_image=True)
    assert pose_cfg.collision_weight == 7.0 and list(pose_cfg.critics) == list(cc.critics)
    assert "goal" not in img_cfg.critics and "progress" not in img_cfg.critics and "collision" in img_cfg.critics
    nav = Navigator("flat", LearnedModel(model))                  # a lidar model and no scan: stop, say why
    nav.set_goal(2.0, 0.0)
    cmd = nav.step(np.zeros(3), np.zeros(2), None, 0.0, image=np.zeros((64, 64, 3), np.uint8))
    assert cmd.state == "stopped" and "needs a camera world model" in cmd.reason
    ok, why = nav.set_goal_image(np.zeros((64, 64, 3), np.uint8))
    assert not ok and "goal images need a camera world model" in why and nav.state == "refused"


def test_goal_image_cost_prefers_the_picture(cam, frames):
    # toy latents: by construction a sequence ending on the goal embedding costs least
    h = torch.tensor([1.0, -2.0, 0.5])
    gi = GoalImage(h, CameraPlanConfig(goal_image_weight=2.0, goal_image_along=0.5))
    far = torch.tensor([4.0, 2.0, 0.5])
    lat = torch.stack([torch.stack([far, (far + h) / 2, h]),         # arrives at the goal
                       torch.stack([far, far, (far + h) / 2]),       # half way
                       torch.stack([h, (far + h) / 2, far])])        # passes it, ends far
    c = gi.cost(lat)
    assert c[0] < c[1] < c[2]
    d = float(torch.linalg.norm(far - h))
    assert torch.isclose(c[0], torch.tensor(2.0 * (0.0 + 0.5 * (d + d / 2) / 3)))
    with pytest.raises(ValueError, match="finite"):
        GoalImage(torch.tensor([float("nan"), 0.0]))

    # the shipped model: the picture's own frame embeds on the goal; a frame 3 m back does not
    goal = GoalImage.from_image(cam, frames["ahead"])
    assert goal.h.shape == (cam.model.cfg.h_dims,)
    same = cam.reset_state(np.array([-0.5, 0.0, 0.0]), np.zeros(2), None, image=frames["ahead"])
    back = cam.reset_state(np.array([-3.5, 0.0, 0.0]), np.zeros(2), None, image=frames["start"])
    assert float(goal.distance(cam.state_latent(same))[0]) < 1e-4
    assert float(goal.distance(cam.state_latent(back))[0]) > 0.5

    nav = Navigator("flat", cam, PlannerConfig(mppi=MPPIConfig(samples=32, horizon=8)))
    assert nav.set_goal_image(frames["ahead"]) == (True, "")
    assert nav.goal is None and nav.goal_image is not None
    cmd = nav.step(np.array([-3.5, 0.0, 0.0]), np.zeros(2), None, 0.0, image=frames["start"])
    assert cmd.state == "planning" and math.isfinite(cmd.v) and math.isfinite(nav.goal_image_distance)
    nav.set_model(cam)                               # a new encoder: the old embedding no longer applies
    assert nav.goal_image is None and nav.state == "refused" and "send the goal picture again" in nav.reason
    assert nav.set_goal_image(frames["ahead"]) == (True, "")
    assert nav.set_goal(1.0, 0.0) == (True, "") and nav.goal_image is None   # a pose goal replaces it
    ok, why = nav.set_goal_image(np.zeros((10, 10, 3), np.uint8))
    assert not ok and "goal image: camera image: expected (64, 64, 3) uint8" in why


def test_the_goal_picture_of_the_benchmark_shows_its_place(capsys):
    """scripts/goal_picture_ambiguity.py in real PyBullet: in `open`, the picture taken at the
    goal facing away from the start looks at the arena wall 1.5 m ahead. With a floor and walls of
    one colour it was the same, pixel for pixel, from 0.5 to 2 m to the side; with the world-fixed
    tiles and panels of sim/appearance.py every offset of the script, across and along, changes it
    by more than 3 grey levels on average, so a picture says where it was taken."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "goal_picture_ambiguity.py"
    spec = importlib.util.spec_from_file_location("gpa", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--scenarios", "open"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| open |")]
    assert len(rows) == 2
    for row in rows:
        diffs = [float(x) for x in row.split("|")[3:-1]]
        assert len(diffs) == len(mod.OFFSETS) and min(diffs) > 3.0, row


def test_goal_picture_planning_reaches_the_imaged_pose_in_a_toy_scene():
    """The issue's toy scene: a goal picture that fixes its place (the open arena's north-east
    corner from 2.1 m, scripts/scenarios/goal_picture_corner.yaml), the shipped camera model from
    the camera alone (RGB, flat, 256 x 15), seed 1 of scripts/camera_episodes.py's run of it
    (5 of its 10 seeds reach, 1 among them; see the README's camera section). With the picture's weight the
    robot comes within 0.5 m of where the picture was taken; with the weight at 0 (the same
    planner, collision, effort and smoothness alone) it does not: the picture steered it."""
    import argparse
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("cam_eps", root / "scripts" / "camera_episodes.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sc = load_scenario(root / "scripts" / "scenarios" / "goal_picture_corner.yaml")
    args = argparse.Namespace(samples=256, horizon=15, collision_weight=20.0, lidar=False, depth=False,
                              planner="flat", model=str(models_dir() / "husky_camera.pt"), time_limit=None,
                              picture_at=[3.5, 3.5, 0.785], reach_m=0.5)
    steered = mod.run_episode(sc, 1, args, goal_image_weight=10.0)
    assert steered["success"] and steered["closest_m"] <= 0.5 and steered["collisions"] == 0, steered
    assert steered["latent"][1] < 0.7 * steered["latent"][0], steered        # the frame in view came to look like it
    blind = mod.run_episode(sc, 1, args, goal_image_weight=0.0)
    assert not blind["success"] and blind["closest_m"] > 1.0, blind
