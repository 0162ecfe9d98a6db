"""sim_node's runtime ``payload_kg`` parameter over real DDS: set_parameters applies a payload
mid-episode (the robot in mud slows down under it), refuses a bad value with the reason, and -1
goes back to the scenario's payload."""
from __future__ import annotations

import pytest

from world_model_planner.testing.processes import REPO, NodeProcess

MUD_EVERYWHERE = """\
name: mud_test
robot: husky
arena: [40.0, 10.0]
terrain:
  - preset: mud
    box: {center: [0.0, 0.0], size: [40.0, 10.0]}
start: {x: -18.0, y: 0.0, yaw: 0.0}
goal: {x: 18.0, y: 0.0}
time_limit: 600.0
"""


def _speed(msgs):
    return msgs[-1].twist.twist.linear.x if msgs else float("nan")


def _mean_speed(probe, sim, seconds=1.0):
    """Mean forward speed over the next ``seconds`` of simulated time."""
    from world_model_planner.core.rosconv import stamp_to_sec

    probe.clear("/odom")
    msgs = probe.wait_for("/odom", lambda m: len(m) > 1 and stamp_to_sec(m[-1].header.stamp)
                          - stamp_to_sec(m[0].header.stamp) >= seconds, timeout=30, proc=sim)
    return sum(m.twist.twist.linear.x for m in msgs) / len(msgs)


def test_payload_parameter_applies_mid_episode_and_refuses_bad_values(probe, node_env, tmp_path):
    from geometry_msgs.msg import TwistStamped
    from nav_msgs.msg import Odometry
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    scenario = tmp_path / "mud_test.yaml"
    scenario.write_text(MUD_EVERYWHERE)
    ros = ["--params-file", str(REPO / "config/sim.yaml"), "-p", f"scenario:={scenario}",
           "-p", "realtime_factor:=3.0"]
    sim = NodeProcess.executable("sim_node", ros, node_env, tmp_path)
    try:
        probe.subscribe("/odom", Odometry)
        pub = probe.node.create_publisher(TwistStamped, "/cmd_vel", 10)

        def drive():
            m = TwistStamped()
            m.twist.linear.x = 1.0
            pub.publish(m)

        probe.node.create_timer(0.02, drive)
        probe.wait_for_subscribers(pub)

        def set_payload(kg):
            req = SetParameters.Request(parameters=[Parameter(name="payload_kg", value=ParameterValue(
                type=ParameterType.PARAMETER_DOUBLE, double_value=kg))])
            return probe.call(SetParameters, "/sim_node/set_parameters", req).results[0]

        probe.wait_for("/odom", lambda m: _speed(m) > 0.3, timeout=30, proc=sim)
        probe.wait_for("/odom", lambda m: len(m) > 60, timeout=30, proc=sim)   # settle
        empty = _mean_speed(probe, sim)
        assert 0.3 < empty < 0.5, empty            # mud caps the empty robot near 0.37 m/s

        res = set_payload(150.0)
        assert res.successful, res.reason
        probe.wait_for("/odom", lambda m: len(m) > 60, timeout=30, proc=sim)   # ~3 s simulated
        loaded = _mean_speed(probe, sim)
        assert loaded < 0.75 * empty, (empty, loaded)
        assert "payload 150 kg" in sim.log()

        refused = set_payload(-0.5)
        assert not refused.successful and "payload_kg" in refused.reason, refused.reason
        too_big = set_payload(900.0)
        assert not too_big.successful and "payload_kg" in too_big.reason, too_big.reason

        res = set_payload(-1.0)                    # back to the scenario's (0 kg)
        assert res.successful, res.reason
        probe.wait_for("/odom", lambda m: len(m) > 60, timeout=30, proc=sim)
        again = _mean_speed(probe, sim)
        assert again == pytest.approx(empty, abs=0.08), (empty, again)
    finally:
        sim.stop()
