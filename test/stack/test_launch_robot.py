"""robot.launch.py's wiring in CI: the NodeSpecs it launches (launch_args.robot_specs, from
stack.robot_stack) started as real processes against a "robot" whose topics have other names.
sim_node stands in for the robot, its odom/scan/cmd_vel remapped under /tb/; the robot file is
turtlebot4.yaml, so the planner must run with the TurtleBot's limits (0.31 m/s)."""
from __future__ import annotations

import time

import pytest
import torch

from world_model_planner.testing.stack import needs_stack
from world_model_planner.world_model_node.checkpoint import save_checkpoint
from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig
from world_model_planner.app.launch_args import robot_specs
from world_model_planner.app.launcher import Stack
from world_model_planner.app.stack import NodeSpec, default_params_file

ACTIVE = 3


def _state(probe, fqn: str) -> int | None:
    from lifecycle_msgs.srv import GetState

    try:
        return probe.call(GetState, f"{fqn}/get_state", GetState.Request(), timeout=5.0).current_state.id
    except AssertionError:
        return None


@needs_stack
def test_robot_launch_wiring_drives_a_remapped_robot(tmp_path, ros_domain, probe):
    from geometry_msgs.msg import PoseStamped, TwistStamped
    from rcl_interfaces.srv import GetParameters
    from visualization_msgs.msg import MarkerArray

    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "tiny.pt", WorldModel(WorldModelConfig()))
    robot = NodeSpec("sim_node", "sim_node", parameters=[
        default_params_file("sim_node"), {"scenario": "open", "lockstep": False}],
        remappings=[("odom", "/tb/odom"), ("scan", "/tb/scan"), ("cmd_vel", "/tb/cmd_vel")])
    # use_sim_time: the stand-in robot stamps with its /clock (the "external simulator" case)
    specs = robot_specs({"robot": "turtlebot4", "odom": "/tb/odom", "scan": "/tb/scan",
                         "cmd_vel": "/tb/cmd_vel", "planner": "classic", "model": str(model),
                         "use_sim_time": "true"})
    probe.subscribe("/tb/cmd_vel", TwistStamped)
    probe.subscribe("/world_model/prediction", MarkerArray)
    goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
    with Stack([robot, *specs], tmp_path / "logs", ros_domain) as stack:
        for spec in (s for s in specs if s.lifecycle):   # brought up by lifecycle_manager
            deadline = time.monotonic() + 90.0
            while _state(probe, spec.fqn) != ACTIVE:
                stack.check()
                assert time.monotonic() < deadline, f"{spec.fqn} never became active; logs in {tmp_path}"
                time.sleep(0.25)
        req = GetParameters.Request(names=["mppi.v_max_mps", "mppi.w_max_radps", "critics.footprint_length_m"])
        values = [v.double_value for v in probe.call(GetParameters, "/planner_node/get_parameters", req).values]
        assert values == pytest.approx([0.31, 1.9, 0.342])
        probe.wait_for_subscribers(goal_pub, 1, timeout=30.0)
        goal = PoseStamped()
        goal.header.frame_id = "odom"
        goal.pose.position.x, goal.pose.orientation.w = 2.0, 1.0
        goal_pub.publish(goal)

        def moving(msgs):
            stack.check()
            return sum(m.twist.linear.x > 0.1 for m in msgs) >= 10

        cmds = probe.wait_for("/tb/cmd_vel", moving, timeout=60.0, resend=lambda: goal_pub.publish(goal))
        assert max(m.twist.linear.x for m in cmds) <= 0.31 + 1e-6
        assert max(abs(m.twist.angular.z) for m in cmds) <= 1.9 + 1e-6
        preds = probe.wait_for("/world_model/prediction", timeout=30.0)  # fed by /tb/odom, /tb/scan
        assert len(preds[-1].markers[0].points) == 21
