"""sim_node publishes its movers' ground truth on sim/movers (visualization_msgs/MarkerArray in the
odom frame): a cylinder per person of its radius, a cube per cart of its size, facing its travel,
at the mover's pose, at ``movers_rate_hz`` of simulated time; a reset to a scenario without movers clears them."""
import math

import pytest

from world_model_planner.core.rosconv import stamp_to_sec, yaw_of
from world_model_planner.testing.processes import REPO, NodeProcess
from world_model_planner.testing.ros import set_params

# A person and a cart that wait at their first waypoint (long start delays), so their poses are known;
# a second person walks back and forth at 0.5 m/s from t = 0.
SCENARIO = """\
name: movers_markers
robot: husky
arena: [10.0, 8.0]
start: {x: -3.5, y: 0.0, yaw: 0.0}
goal: {x: 3.5, y: 0.0, tolerance: 0.3}
movers:
  - {kind: person, radius: 0.4, speed: 0.5, path: loop, waypoints: [[-1.0, 2.5], [1.0, 2.5]], start_delay_s: 600}
  - {kind: cart, size: [1.2, 0.5], speed: 0.5, path: back_and_forth, waypoints: [[2.0, -3.0], [2.0, -1.0]],
     start_delay_s: 600}
  - {kind: person, speed: 0.5, path: back_and_forth, waypoints: [[-3.0, -2.0], [3.0, -2.0]]}
"""


def test_sim_movers_markers_sit_at_the_movers_poses(probe, node_env, tmp_path):
    from std_srvs.srv import Trigger
    from visualization_msgs.msg import Marker, MarkerArray

    scenario = tmp_path / "movers_markers.yaml"
    scenario.write_text(SCENARIO)
    sim = NodeProcess.executable("sim_node", ["--params-file", str(REPO / "config/sim.yaml"),
                                              "-p", f"scenario:={scenario}"],
                                 node_env, tmp_path)
    try:
        probe.subscribe("/sim/movers", MarkerArray)
        probe.wait_for("/sim/movers", lambda m: len(m) >= 12 and stamp_to_sec(m[-1].markers[0].header.stamp) > 1.0,
                       timeout=30, proc=sim)
        msgs = probe.received("/sim/movers")
        last = msgs[-1]
        t = stamp_to_sec(last.markers[0].header.stamp)
        assert last.markers[0].action == Marker.DELETEALL
        shapes = {m.id: m for m in last.markers[1:]}
        assert sorted(shapes) == [0, 1, 2] and all(m.header.frame_id == "odom" for m in shapes.values())
        person, cart, walker = shapes[0], shapes[1], shapes[2]
        assert person.type == Marker.CYLINDER and (person.scale.x, person.scale.y) == pytest.approx((0.8, 0.8))
        assert (person.pose.position.x, person.pose.position.y) == pytest.approx((-1.0, 2.5), abs=1e-6)
        assert cart.type == Marker.CUBE and (cart.scale.x, cart.scale.y) == pytest.approx((1.2, 0.5))
        assert (cart.pose.position.x, cart.pose.position.y) == pytest.approx((2.0, -3.0), abs=1e-6)
        assert yaw_of(cart.pose.orientation) == pytest.approx(math.pi / 2, abs=1e-6)   # faces its travel (+y)
        # the walker: 0.5 m/s from (-3, -2) to (3, -2) and back since t = 0
        assert walker.type == Marker.CYLINDER and walker.scale.x == pytest.approx(0.5)
        g = (0.5 * t) % 12.0
        assert walker.pose.position.x == pytest.approx(-3.0 + g if g <= 6.0 else 9.0 - g, abs=0.03), t
        assert walker.pose.position.y == pytest.approx(-2.0, abs=1e-6)
        # 10 Hz of simulated time
        stamps = sorted({stamp_to_sec(m.markers[0].header.stamp) for m in msgs})
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        assert gaps and all(g == pytest.approx(0.1, abs=1e-3) for g in gaps), gaps
        # ~/reset to a scenario without movers: one DELETEALL clears them (RViz, the person's map)
        assert set_params(probe, "sim_node", scenario="open")[0].successful
        assert probe.call(Trigger, "/sim_node/reset", Trigger.Request()).success
        probe.wait_for("/sim/movers", lambda m: [k.action for k in m[-1].markers] == [Marker.DELETEALL],
                       timeout=20, proc=sim)
        assert sim.stop() == 0, sim.log_tail()
        assert "Traceback" not in sim.log_path.read_text(errors="replace")
    finally:
        sim.stop()
