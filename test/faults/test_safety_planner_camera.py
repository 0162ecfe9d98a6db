"""Camera-only planning against untrusted input, planner_node as a real process with the shipped
camera world model: it drives from odometry, camera frames and their depth; frames or depth
images in an unknown encoding, with a header that does not match their data, or that stop coming,
stop it (exact zero commands,
the reason in /diagnostics) until good frames return; a malformed goal picture is refused with the
reason. `scan: none` with a lidar model fails configure, naming what it needs."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from world_model_planner.core.rosconv import depth_msg
from world_model_planner.testing.processes import NodeProcess
from world_model_planner.testing.sensors import (FAST_PLANNER, SensorFeed, is_zero, moving, publish_goal,
                                                 status_values, wait_log)
from world_model_planner.testing.stack import REPO

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped, TwistStamped  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

CAMERA_MODEL = REPO / "models" / "husky_camera.pt"


class CameraFeed:
    """/camera/image_raw and its depth (nothing within range: open floor) at 10 Hz on the probe's
    clock; ``fault`` switches what goes out."""

    def __init__(self, probe):
        self.node = probe.node
        self.pub = self.node.create_publisher(Image, "/camera/image_raw", 5)
        self.pub_depth = self.node.create_publisher(Image, "/camera/depth/image_raw", 5)
        self.frame = np.random.default_rng(0).integers(60, 200, (64, 64, 3), dtype=np.uint8)
        self.fault = None         # None | "encoding" | "short" | "silent" | "depth_encoding" | "depth_short"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def msg(self):
        m = Image(height=64, width=64, encoding="rgb8", step=192, data=self.frame.tobytes())
        m.header.stamp = self.node.get_clock().now().to_msg()
        if self.fault == "encoding":
            m.encoding = "yuv422"
        elif self.fault == "short":                  # the header claims 64 x 64, the data is a tenth
            m.data = self.frame.tobytes()[: 64 * 192 // 10]
        return m

    def depth_msg(self):
        m = depth_msg(0.0, np.full((48, 64), np.inf, np.float32), "camera")
        m.header.stamp = self.node.get_clock().now().to_msg()
        if self.fault == "depth_encoding":
            m.encoding = "rgb8"
        elif self.fault == "depth_short":            # the header claims 64 x 48 floats, the data is less
            m.data = bytes(m.data)[:1000]
        return m

    def _run(self):
        while not self._stop.wait(0.1):
            if self.fault != "silent":
                self.pub.publish(self.msg())
                self.pub_depth.publish(self.depth_msg())

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(2.0)


def _zero_with_reason(probe, proc, words: str, timeout: float = 8.0):
    """Wait until the last 5 commands are exactly zero and /diagnostics gives ``words`` as the reason."""
    probe.clear("/cam/cmd")
    probe.wait_for("/cam/cmd", lambda ms: len(ms) >= 5 and all(is_zero(m) for m in ms[-5:]), timeout=timeout,
                   proc=proc)
    probe.wait_for("/diagnostics", lambda ms: words in status_values(ms, "planner").get("reason", ""),
                   timeout=timeout, proc=proc)


@pytest.mark.slow
def test_camera_planner_stops_on_bad_frames_and_refuses_bad_goal_pictures(node_env, probe, tmp_path):
    (tmp_path / "cam").mkdir()
    (tmp_path / "lidar").mkdir()
    cam = NodeProcess.executable(
        "planner_node", [*FAST_PLANNER, "-p", "autostart:=true", "-p", "planner:=flat", "-p", "scan:=none",
                         "-p", f"model_path:={CAMERA_MODEL}", "-p", "depth_topic:=camera/depth/image_raw",
                         "-r", "cmd_vel_nav:=/cam/cmd"],
        node_env, tmp_path / "cam")
    lidar = NodeProcess.executable(
        "planner_node", [*FAST_PLANNER, "-p", "autostart:=true", "-p", "scan:=none", "-r", "__node:=p_lidar",
                         "-r", "cmd_vel_nav:=/lidar/cmd"], node_env, tmp_path / "lidar")
    feed, camera = SensorFeed(probe), CameraFeed(probe)
    try:
        probe.subscribe("/cam/cmd", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray)
        feed.start()
        camera.start()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, count=1, timeout=60.0)
        publish_goal(probe, goal_pub, 3.0, 0.0)
        probe.wait_for("/cam/cmd", lambda ms: any(moving(m) for m in ms[-3:]), timeout=60.0, proc=cam)
        assert "no /scan" in cam.log() and "the depth on camera/depth/image_raw as a scan" in cam.log()

        for fault, words in (("encoding", "image encoding 'yuv422'"), ("short", "data bytes"),
                             ("silent", "old on camera/image_raw"),
                             ("depth_encoding", "invalid depth image: depth encoding 'rgb8'"),
                             ("depth_short", "invalid depth image: depth image 64x48 32FC1")):
            camera.fault = fault
            _zero_with_reason(probe, cam, words)
            camera.fault = None                                  # good frames: it drives again
            probe.clear("/cam/cmd")
            probe.wait_for("/cam/cmd", lambda ms: any(moving(m) for m in ms[-3:]), timeout=10.0, proc=cam)

        bad_goal = Image(height=64, width=64, encoding="rgb8", step=192, data=bytes(100))
        goal_image_pub = probe.node.create_publisher(Image, "/goal_image", 1)
        probe.wait_for_subscribers(goal_image_pub, count=1, timeout=30.0)   # the lidar planner never configured
        goal_image_pub.publish(bad_goal)
        _zero_with_reason(probe, cam, "goal image: image 64x64 rgb8")
        assert "goal refused: goal image" in wait_log(cam, "goal refused")

        why = wait_log(lidar, "configure failed")
        assert "scan: none (camera only) needs a camera world model" in why, why
        assert cam.alive() and lidar.alive() and "Traceback" not in cam.log() + lidar.log()
    finally:
        camera.stop()
        feed.stop()
        cam.stop()
        lidar.stop()
