"""Goal repeats and goal bursts against planner_node as a real process (issue 10, item 5).

RViz and behaviour trees re-send the same goal many times a second. Before the fix every
message reset MPPI's warm start and the subgoal path, and progress in 6 s fell from 4.83 m to
1.63 m. Here a kinematic robot in the test process follows /cmd_vel_nav exactly (open space, no
obstacles) and the progress over 6 s is compared: one goal, the same goal at 10 Hz, and two
nearby goals alternating every 50 ms.
"""
from __future__ import annotations

import math
import threading
import time

import pytest
from world_model_planner.testing.sensors import FAST_PLANNER, publish_goal, stamp
from world_model_planner.testing.processes import NodeProcess

pytest.importorskip("rclpy")

from geometry_msgs.msg import PoseStamped, TwistStamped  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402

RUN_S = 6.0


class KinematicRobot:
    """A unicycle that follows the latest /cmd_vel_nav exactly; publishes /odom at 20 Hz and an
    empty 360° /scan at 10 Hz, stamped with the probe's clock. ``frozen``: holds still."""

    def __init__(self, probe):
        self.node = probe.node
        self.odom = self.node.create_publisher(Odometry, "/odom", 20)
        self.scan = self.node.create_publisher(LaserScan, "/scan", 10)
        self.node.create_subscription(TwistStamped, "/cmd_vel_nav", self._on_cmd, 10)
        self.pose = [0.0, 0.0, 0.0]
        self.cmd = (0.0, 0.0)
        self.frozen = True
        self.max_v = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _on_cmd(self, msg):
        self.cmd = (msg.twist.linear.x, msg.twist.angular.z)

    def place(self, x, y, yaw):
        self.frozen, self.pose, self.cmd = True, [x, y, yaw], (0.0, 0.0)

    def _run(self):
        k, last = 0, time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            dt, last = now - last, now
            v, w = (0.0, 0.0) if self.frozen else self.cmd
            self.max_v = max(self.max_v, v)
            x, y, th = self.pose
            self.pose = [x + v * math.cos(th) * dt, y + v * math.sin(th) * dt, th + w * dt]
            t = self.node.get_clock().now().nanoseconds * 1e-9
            if k % 2 == 0:
                s = LaserScan()
                s.header.stamp, s.header.frame_id = stamp(t), "base_link"
                s.angle_min, s.angle_increment, s.range_min, s.range_max = -math.pi, 2 * math.pi / 180, 0.05, 8.0
                s.angle_max = math.pi - s.angle_increment
                s.ranges = [float("inf")] * 180
                self.scan.publish(s)
            o = Odometry()
            o.header.stamp, o.header.frame_id, o.child_frame_id = stamp(t), "odom", "base_link"
            o.pose.pose.position.x, o.pose.pose.position.y = self.pose[0], self.pose[1]
            o.pose.pose.orientation.z, o.pose.pose.orientation.w = math.sin(self.pose[2] / 2), math.cos(self.pose[2] / 2)
            o.twist.twist.linear.x, o.twist.twist.angular.z = v, w
            self.odom.publish(o)
            k += 1
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        self._thread.join(2.0)


def _progress(probe, robot, goal_pub, goals, period_s, start, direction):
    """Place the robot at ``start``, send ``goals`` in turn every ``period_s`` (None: once) for
    RUN_S seconds while it drives; return the distance covered along ``direction``."""
    robot.place(*start)
    time.sleep(0.3)                                     # the planner sees the new pose
    publish_goal(probe, goal_pub, *goals[0])
    robot.frozen = False
    t0 = time.monotonic()
    k = 1
    while time.monotonic() - t0 < RUN_S:
        if period_s is not None:
            publish_goal(probe, goal_pub, *goals[k % len(goals)])
            k += 1
            time.sleep(period_s)
        else:
            time.sleep(0.05)
    x, y, _ = robot.pose
    robot.frozen = True
    return (x - start[0]) * direction[0] + (y - start[1]) * direction[1]


@pytest.mark.slow
def test_repeated_and_bursting_goals_make_progress_like_a_single_goal(node_env, probe, tmp_path):
    proc = NodeProcess.executable("planner_node", [*FAST_PLANNER, "-p", "autostart:=true", "-p", "planner:=classic",
                                                   "-p", "max_sensor_age_s:=1.0"], node_env, tmp_path)
    robot = KinematicRobot(probe)
    try:
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=30.0)
        deadline = time.monotonic() + 30.0
        while "planner 'classic'" not in proc.log():
            assert time.monotonic() < deadline and proc.alive(), proc.log()[-3000:]
            time.sleep(0.05)
        # the same layout each run: 7 m of open space ahead, runs alternate direction
        single = _progress(probe, robot, goal_pub, [(7.0, 0.0)], None, (0.0, 0.0, 0.0), (1, 0))
        repeated = _progress(probe, robot, goal_pub, [(-7.0, 0.0)], 0.1, (0.0, 0.0, math.pi), (-1, 0))
        burst = _progress(probe, robot, goal_pub, [(7.0, 0.3), (7.0, -0.3)], 0.05, (0.0, 0.0, 0.0), (1, 0))
        print(f"\nprogress in {RUN_S:g} s: single goal {single:.2f} m, same goal at 10 Hz {repeated:.2f} m, "
              f"two goals alternating every 50 ms {burst:.2f} m")
        assert single > 3.0, proc.log()[-2000:]
        assert repeated > 0.85 * single
        assert burst > 0.75 * single
        log = proc.log()
        assert "deferred" in log                          # the burst was rate-limited, with a log line
        assert log.count("goal accepted") < 30            # repeats are not goal changes
        assert "Traceback" not in log
    finally:
        robot.stop()
        proc.stop()
