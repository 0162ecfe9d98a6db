"""The wiring the launch files describe, exercised in CI: the executables of
``stack.sim_stack`` (the description sim.launch.py imports) with the same parameter files,
started as separate processes; the lifecycle nodes come up through the lifecycle manager and
/cmd_vel flows after a goal. Real-time sim (the launch default), not lockstep."""
from __future__ import annotations

import math
import time

import pytest
from geometry_msgs.msg import PoseStamped, TwistStamped
from lifecycle_msgs.srv import GetState
from nav_msgs.msg import Odometry
from rclpy.qos import qos_profile_sensor_data
from world_model_planner.testing.stack import needs_stack

from world_model_planner.app.launcher import Stack
from world_model_planner.app.stack import sim_stack


def _active(probe, fqn) -> bool:
    return probe.call(GetState, f"{fqn}/get_state", GetState.Request(), timeout=30.0) \
        .current_state.id == 3


@pytest.mark.slow
@pytest.mark.jazzy          # the lifecycle manager's bring-up differs between the distros' rclpy
@needs_stack
def test_sim_stack_processes_drive_after_goal(tmp_path, ros_domain, probe):
    specs = sim_stack("open", planner="hierarchical", lockstep=False, use_sim_time=True)
    assert any(s.lifecycle for s in specs)
    probe.subscribe("/odom", Odometry, qos_profile_sensor_data)
    probe.subscribe("/cmd_vel", TwistStamped)
    goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
    with Stack(specs, tmp_path / "logs", ros_domain) as stack:
        def check(msgs, cond=lambda m: True):
            stack.check()   # a dead node fails the test with its log
            return any(cond(m) for m in msgs)

        probe.wait_for("/odom", check, timeout=60.0)
        for spec in specs:
            if spec.lifecycle:   # polled, as the lifecycle manager brings it up
                deadline = time.monotonic() + 90.0
                while not _active(probe, spec.fqn):
                    stack.check()
                    assert time.monotonic() < deadline, \
                        f"{spec.fqn} never became active; logs in {tmp_path / 'logs'}"
                    time.sleep(0.2)
        probe.wait_for_subscribers(goal_pub, 1, timeout=30.0)
        start = probe.received("/odom")[-1] if probe.received("/odom") else None
        goal = PoseStamped()
        goal.header.frame_id = "odom"
        goal.pose.position.x, goal.pose.position.y = 3.5, 0.0
        goal.pose.orientation.w = 1.0
        goal_pub.publish(goal)
        planner = next(p for p in stack.procs if p.spec.executable == "planner_node")
        probe.wait_for("/cmd_vel", lambda msgs: check(msgs, lambda m: m.twist.linear.x > 0.05),
                       timeout=60.0, proc=planner, resend=lambda: goal_pub.publish(goal))
        # and the robot actually moves towards the goal
        probe.clear("/odom")
        probe.wait_for("/odom", lambda msgs: check(msgs, lambda m: m.pose.pose.position.x > (
            start.pose.pose.position.x if start else -3.5) + 0.2), timeout=60.0)
        stack.check()
    codes = stack.stop()
    assert all(c is not None for c in codes.values()), codes
    assert math.isfinite(probe.received("/odom")[-1].pose.pose.position.x)
