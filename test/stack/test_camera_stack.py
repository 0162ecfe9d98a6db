"""Camera-only navigation through the node processes: `wmp run --model models/husky_camera.pt`
turns the sim's RGB-D camera on, gives the planner `scan: none` and the camera's depth topic,
leaves world_model_node out, and the planner drives round the wall from odometry, camera frames
and the map their depth builds; `--goal-image` sends a picture taken at
the goal on /goal_image, which the planner embeds and steers by; `wmp snapshot` saves a frame."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from world_model_planner.testing.stack import REPO, explain, needs_stack, run_wmp

CAMERA_MODEL = REPO / "models" / "husky_camera.pt"


@pytest.mark.slow
@needs_stack
def test_camera_model_drives_round_a_wall_without_a_lidar(tmp_path):
    out, logs = tmp_path / "episode.json", tmp_path / "logs"
    proc = run_wmp(["run", "--scenario", "wall", "--model", str(CAMERA_MODEL), "--time-limit", "40",
                    "--json", str(out), "--log-dir", str(logs)], timeout_s=180)
    assert proc.returncode == 0, explain(proc)
    rec = json.loads(out.read_text())
    assert rec["success"] is True and rec["collisions"] == 0, explain(proc)
    assert "world_model_node" not in rec["cpu_s"], rec["cpu_s"]       # it learns from scans only
    planner_log = (logs / "planner_node.log").read_text()
    assert "scan:=none" in planner_log and ("camera world model: planning from odometry, camera/image_raw and "
                                             "the depth on camera/depth/image_raw") in planner_log, planner_log[-2000:]
    assert rec["path_length_m"] > 8.0, rec["path_length_m"]   # round the wall: the straight line is 7 m
    assert "camera_enabled:=true" in (logs / "sim_node.log").read_text()
    assert rec["plan_hz_median"] >= 10.0, rec["plan_hz_median"]        # the floor for a camera model


@pytest.mark.slow
@needs_stack
def test_goal_picture_is_sent_embedded_and_steered_by(tmp_path):
    from world_model_planner.core.pictures import save_picture
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.sim.sensors import CameraConfig
    from world_model_planner.sim.world import SimWorld

    sc = load_scenario("open")
    with SimWorld(sc, seed=0, camera=CameraConfig()) as w:   # the frame seen standing at the goal
        yaw = float(np.arctan2(sc.goal.y - sc.start.y, sc.goal.x - sc.start.x))
        picture = w.camera.image(np.array([sc.goal.x, sc.goal.y, yaw]))
    save_picture(tmp_path / "goal.png", picture)
    out, logs = tmp_path / "episode.json", tmp_path / "logs"
    proc = run_wmp(["run", "--scenario", "open", "--model", str(CAMERA_MODEL), "--time-limit", "5",
                    "--goal-image", str(tmp_path / "goal.png"), "--json", str(out), "--log-dir", str(logs)],
                   timeout_s=150)
    assert proc.returncode == 0, explain(proc)
    rec = json.loads(out.read_text())
    planner_log = (logs / "planner_node.log").read_text()
    assert "goal image accepted (64x64 rgb8)" in planner_log, planner_log[-2000:]
    assert "goal refused" not in planner_log and rec["end_reason"] in ("time_limit", "reached"), rec["end_reason"]
    assert rec["path_length_m"] > 0.3 and rec["collisions"] == 0, explain(proc)   # it drove, by the picture

    # the same picture to a planner with the lidar model: refused with the reason, the episode ends
    proc = run_wmp(["run", "--scenario", "open", "--planner", "flat", "--time-limit", "5",
                    "--goal-image", str(tmp_path / "goal.png"), "--json", str(out),
                    "--log-dir", str(tmp_path / "logs2")], timeout_s=150)
    assert proc.returncode == 0, explain(proc)
    rec = json.loads(out.read_text())
    assert rec["end_reason"] == "refused" and rec["path_length_m"] < 0.05, rec["end_reason"]
    assert "goal images need a camera world model" in (tmp_path / "logs2" / "planner_node.log").read_text()


def test_snapshot_saves_the_centre_square_of_a_frame(probe, ros_domain, tmp_path):
    from sensor_msgs.msg import Image

    from world_model_planner.app.snapshot_cli import take_snapshot
    from world_model_planner.core.pictures import load_picture, save_picture

    frame = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    msg = Image(height=40, width=60, encoding="bgr8", step=180, data=frame[:, :, ::-1].tobytes())
    pub = probe.node.create_publisher(Image, "/camera/image_raw", 10)
    stop = threading.Event()

    def publish():
        while not stop.wait(0.05):
            pub.publish(msg)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    try:
        got = take_snapshot("/camera/image_raw", 20.0, domain_id=ros_domain)
    finally:
        stop.set()
        thread.join()
    np.testing.assert_array_equal(got, frame[:, 10:50])                    # centre 40 x 40, as RGB
    np.testing.assert_array_equal(load_picture(save_picture(tmp_path / "s.png", got)), got)
    assert take_snapshot("/no_camera_here", 0.5, domain_id=ros_domain) is None
