"""Goals in the map frame, localization, prior maps and waypoints over real processes: sim_node
(lockstep, a map offset, a localization pose, odometry drift) drives planner_node (classic).

The sim's own goal test (ground truth, /diagnostics ``goal_reached``) decides whether the robot
got to the place in the world; odometry alone could not, since it drifts."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from world_model_planner.testing.processes import NodeProcess
from world_model_planner.testing.sensors import SensorFeed, publish_goal, status_values

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped, TwistStamped  # noqa: E402
from nav_msgs.msg import OccupancyGrid, Odometry, Path  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402

OFFSET = (2.0, -1.0, 0.5)          # pose of the world in map
PLANNER = ["-p", "planner:=classic", "-p", "mppi.samples:=128", "-p", "torch_threads:=1", "-p", "device:=cpu",
           "-p", "autostart:=true", "-p", "use_sim_time:=true", "-p", "diagnostics_rate_hz:=20.0",
           "-p", "goal_tolerance_m:=0.2", "-p", "localization_topic:=/localization_pose",
           "-r", "cmd_vel_nav:=cmd_vel"]
SCENARIO = """name: small
robot: husky
arena: [7.0, 5.0]
obstacles: []
start: {x: -2.0, y: 0.0, yaw: 0.0}
goal: {x: 2.0, y: 0.0, tolerance: 0.3}
time_limit: 30.0
"""


def _to_map(x, y):
    c, s = math.cos(OFFSET[2]), math.sin(OFFSET[2])
    return OFFSET[0] + c * x - s * y, OFFSET[1] + s * x + c * y


def _start(node_env, tmp_path, sim_extra=(), planner_extra=()):
    scen = tmp_path / "small.yaml"
    scen.write_text(SCENARIO)
    sim = NodeProcess.executable("sim_node", [
        "-p", f"scenario:={scen}", "-p", "lockstep:=true", "-p", "lockstep_timeout_s:=0.3",
        "-p", "diagnostics_rate_hz:=10.0", "-p", f"map_offset:=[{OFFSET[0]}, {OFFSET[1]}, {OFFSET[2]}]",
        "-p", "localization_rate_hz:=5.0", *sim_extra], node_env, tmp_path)
    planner = NodeProcess.executable("planner_node", [*PLANNER, *planner_extra], node_env, tmp_path)
    return sim, planner


def _sim(msgs):
    return status_values(msgs, "sim")


def _planner(msgs):
    return status_values(msgs, "planner")


def _wait_active(probe, procs):
    probe.wait_for("/diagnostics", lambda ms: _planner(ms).get("state") in ("idle", "planning"),
                   timeout=120.0, proc=procs[1])


@pytest.mark.slow
def test_map_goal_reached_through_offset_and_drift_then_waypoints_in_order(node_env, probe, tmp_path):
    """Odometry drifts 0.1 m/s against the world: the goal, fixed in map, moves in odom with
    each localization correction and the robot ends at the place in the world; then a route
    of waypoints in map and odom is visited in order."""
    procs = _start(node_env, tmp_path, ["-p", "odom_drift:=[0.1, 0.0, 0.0]",
                                        "-p", "localization_noise_xy_m:=0.01"])
    try:
        probe.subscribe("/diagnostics", DiagnosticArray, 200)
        probe.subscribe("/odom", Odometry, 50)
        _wait_active(probe, procs)
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=90.0)
        publish_goal(probe, goal_pub, *_to_map(2.0, 0.0), frame="map")
        probe.wait_for("/diagnostics", lambda ms: _planner(ms).get("goal_frame") == "map", proc=procs[1])
        probe.wait_for("/diagnostics", lambda ms: _sim(ms).get("goal_reached") == "true", timeout=90.0,
                       proc=procs[1])
        odom = probe.received("/odom")[-1]
        t = odom.header.stamp.sec + odom.header.stamp.nanosec * 1e-9
        # odometry says the robot is 0.1 m/s x t further east than it is; the goal moved with it.
        # The sim counts the goal reached within its 0.3 m tolerance (true x >= 1.7, from the west),
        # so odom x - 2.0 >= 0.1 t - 0.3; without the drift it would be <= 0
        shift = 0.1 * t - 0.3 - 0.02
        assert shift > 0.1 and odom.pose.pose.position.x - 2.0 > shift, (t, odom.pose.pose.position.x)
        assert _sim(probe.received("/diagnostics")).get("collisions") == "0"

        # waypoints: two in map, the last one in odom (where odometry is at that moment)
        path = Path()
        path.header.frame_id = "map"
        for x, y, frame in [(0.5, 1.2, ""), (-1.0, -1.0, ""), (None, None, "odom")]:
            ps = PoseStamped()
            ps.header.frame_id = frame
            if frame == "odom":
                x, y = odom.pose.pose.position.x - 1.5, odom.pose.pose.position.y + 0.2
            else:
                x, y = _to_map(x, y)
            ps.pose.position.x, ps.pose.position.y = float(x), float(y)
            ps.pose.orientation.w = 1.0
            path.poses.append(ps)
        wp_pub = probe.node.create_publisher(Path, "/waypoints", 10)
        probe.wait_for_subscribers(wp_pub, timeout=90.0)
        probe.clear("/diagnostics")
        wp_pub.publish(path)
        msgs = probe.wait_for("/diagnostics", lambda ms: _planner(ms).get("waypoints_reached") == "3",
                              timeout=120.0, proc=procs[1])
        events = []
        for arr in msgs:
            for st in arr.status:
                kv = {k.key: k.value for k in st.values}
                if st.name == "planner" and kv.get("waypoint_reached") and kv["waypoint_reached"] not in events:
                    events.append(kv["waypoint_reached"])
        assert [e.split(" ")[0] for e in events] == ["1/3", "2/3", "3/3"], events
        assert _planner(msgs).get("state") == "reached"
    finally:
        for p in reversed(procs):
            p.stop()


@pytest.mark.slow
def test_prior_map_used_then_cleared_by_the_scans(node_env, probe, tmp_path):
    """The map (published here) holds a wall across the way that is not in the world: the first
    global path goes round it; once the scans have seen the way free, paths go straight."""
    from world_model_planner.sim.localization import scenario_map
    from world_model_planner.sim.scenario import parse_scenario
    from world_model_planner.sim.sim_msgs import map_msg

    procs = _start(node_env, tmp_path, ["-p", "publish_map:=false"], ["-p", "prior_map:=true"])
    try:
        stale = parse_scenario({"name": "stale", "robot": "husky", "arena": [7.0, 5.0],
                                "obstacles": [{"box": {"center": [0.0, 0.0], "size": [0.4, 3.0]}}],
                                "start": {"x": -2.0, "y": 0.0}, "goal": {"x": 2.0, "y": 0.0}})
        data, res, origin = scenario_map(stale, OFFSET, 0.1)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        map_pub = probe.node.create_publisher(OccupancyGrid, "/map", latched)
        map_pub.publish(map_msg(0.0, data, res, origin, "map"))
        probe.subscribe("/diagnostics", DiagnosticArray, 200)
        probe.subscribe("/planner/global_path", Path, 50)
        _wait_active(probe, procs)
        probe.wait_for("/diagnostics", lambda ms: _planner(ms).get("prior_map", "").startswith("seeded"),
                       timeout=60.0, proc=procs[1])
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=90.0)
        publish_goal(probe, goal_pub, *_to_map(2.0, 0.0), frame="map")
        def ys(path):
            return np.array([p.pose.position.y for p in path.poses])

        paths = probe.wait_for("/planner/global_path", lambda ms: len(ms) >= 1, timeout=60.0, proc=procs[1])
        assert np.abs(ys(paths[0])).max() > 1.0, "the first path ignored the prior map's wall"
        # the scans see the way free and clear the map's wall: a later path goes straight (the
        # search runs about once a second; how many paths that takes depends on the machine)
        try:
            probe.wait_for("/planner/global_path", lambda ms: len(ms) >= 2 and np.abs(ys(ms[-1])).max() < 0.5,
                           timeout=60.0, proc=procs[1])
        except AssertionError as exc:
            raise AssertionError("the wall the scans saw free was not cleared") from exc
        probe.wait_for("/diagnostics", lambda ms: _sim(ms).get("goal_reached") == "true", timeout=90.0,
                       proc=procs[1])
    finally:
        for p in reversed(procs):
            p.stop()


@pytest.mark.slow
def test_map_goal_without_localization_is_refused_with_zero_command(node_env, probe, tmp_path):
    proc = NodeProcess.executable("planner_node", [
        "-p", "planner:=classic", "-p", "mppi.samples:=64", "-p", "torch_threads:=1", "-p", "device:=cpu",
        "-p", "autostart:=true", "-p", "diagnostics_rate_hz:=20.0", "-p", "transform_timeout_s:=1.0"],
        node_env, tmp_path)
    feed = SensorFeed(probe)
    try:
        probe.subscribe("/cmd_vel_nav", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray, 200)
        feed.start()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=90.0)
        probe.wait_for("/diagnostics", lambda ms: _planner(ms).get("state") in ("idle", "planning"),
                       timeout=60.0, proc=proc)
        t0 = time.monotonic()
        publish_goal(probe, goal_pub, 3.0, 0.0, frame="map")
        probe.wait_for("/diagnostics", lambda ms: _planner(ms).get("state") == "waiting", proc=proc)
        msgs = probe.wait_for("/diagnostics", lambda ms: _planner(ms).get("state") == "refused", proc=proc)
        assert time.monotonic() - t0 >= 0.9
        reason = _planner(msgs)["reason"]
        assert "no transform from goal frame 'map' to odom frame 'odom'" in reason, reason
        probe.clear("/cmd_vel_nav")
        cmds = probe.wait_for("/cmd_vel_nav", lambda ms: len(ms) >= 5, proc=proc)
        assert all(m.twist.linear.x == 0.0 and m.twist.angular.z == 0.0 for m in cmds)
        assert "goal refused: no transform" in proc.log()
    finally:
        feed.stop()
        proc.stop()
