"""Joystick mapping with a dead-man button: pure logic, and the node over real DDS."""
import math

import pytest

from world_model_planner.teleop.joymap import JoyConfig, JoyTeleop


def test_deadman_turbo_deadzone_and_timeout():
    j = JoyTeleop(JoyConfig(deadman_button=4, turbo_button=5, scale_linear_mps=0.5,
                            scale_angular_radps=1.0, scale_linear_turbo_mps=1.0, deadzone=0.1))
    held = [0, 0, 0, 0, 1, 0]
    assert j.on_joy([0.0, 1.0], [0] * 6, 0.0) is None            # no dead-man: nothing
    assert j.on_joy([0.5, 1.0], held, 0.1) == pytest.approx((0.5, 0.5))
    assert j.on_joy([0.05, -0.5], held, 0.2) == pytest.approx((-0.25, 0.0))  # dead zone
    assert j.on_joy([0.0, 1.0], [0, 0, 0, 0, 1, 1], 0.3) == pytest.approx((1.0, 0.0))  # turbo
    assert j.on_joy([math.nan, 1.0], held, 0.35) == pytest.approx((0.5, 0.0))  # NaN axis -> 0
    assert j.on_joy([0.0, 1.0], [0] * 6, 0.4) == (0.0, 0.0)       # release: one zero ...
    assert j.on_joy([0.0, 1.0], [0] * 6, 0.5) is None             # ... then silence
    j.on_joy([0.0, 1.0], held, 1.0)
    assert j.on_check(1.2) is None
    assert j.on_check(1.6) == (0.0, 0.0)                          # joystick went silent
    assert j.on_check(1.7) is None
    assert j.on_joy([0.0, 1.0], [1], 2.0) is None                 # short buttons array: not held


def test_joy_node_over_dds(probe, node_env, tmp_path):
    from geometry_msgs.msg import TwistStamped
    from sensor_msgs.msg import Joy

    from world_model_planner.testing.processes import NodeProcess

    node = NodeProcess.executable("teleop_joy", ["-p", "deadman_button:=0"], node_env, tmp_path)
    try:
        probe.subscribe("/cmd_vel_teleop", TwistStamped)
        pub = probe.node.create_publisher(Joy, "/joy", 10)
        probe.wait_for_subscribers(pub)
        pub.publish(Joy(axes=[0.0, 1.0], buttons=[0]))
        pub.publish(Joy(axes=[0.4, 1.0], buttons=[1]))
        msgs = probe.wait_for("/cmd_vel_teleop", timeout=10, proc=node)
        assert msgs[0].twist.linear.x == pytest.approx(0.5) and msgs[0].twist.angular.z == pytest.approx(0.4)
        pub.publish(Joy(axes=[0.4, 1.0], buttons=[0]))
        msgs = probe.wait_for("/cmd_vel_teleop", lambda m: len(m) >= 2, timeout=10, proc=node)
        assert msgs[-1].twist.linear.x == 0.0 and len(msgs) == 2  # the released pad sent nothing else
    finally:
        node.stop()
