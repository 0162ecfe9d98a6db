"""sim_node as a real process over real DDS: /cmd_vel moves /odom by the expected distance,
/clock advances, cmd_timeout_s and /estop stop the robot, NaN commands are refused, ~/reset
restores the start (and re-reads `seed`), and lockstep runs are deterministic."""
from __future__ import annotations

import math

import pytest

from world_model_planner.testing.processes import REPO, NodeProcess
from world_model_planner.core.rosconv import stamp_to_sec


def _start(node_env, tmp_path, *params: str, name: str = "sim_node") -> NodeProcess:
    ros = ["--params-file", str(REPO / "config/sim.yaml")]
    for p in params:
        ros += ["-p", p]
    proc = NodeProcess.executable("sim_node", ros, node_env, tmp_path)
    proc.log_path.rename(tmp_path / f"{name}.log")   # keep each run's log apart
    proc.log_path = tmp_path / f"{name}.log"
    return proc


def _driver(probe, stamped: bool, period_s: float = 0.05):
    """A probe-side publisher sending the command in ``cmd`` every period (wall)."""
    from geometry_msgs.msg import Twist, TwistStamped

    pub = probe.node.create_publisher(TwistStamped if stamped else Twist, "/cmd_vel", 10)
    cmd = {"v": 0.0, "w": 0.0, "on": True}

    def tick():
        if not cmd["on"]:
            return
        if stamped:
            m = TwistStamped()
            m.twist.linear.x, m.twist.angular.z = cmd["v"], cmd["w"]
        else:
            m = Twist()
            m.linear.x, m.angular.z = cmd["v"], cmd["w"]
        pub.publish(m)

    probe.node.create_timer(period_s, tick)
    return pub, cmd


def _speed_is(pred):
    return lambda msgs: bool(msgs) and pred(msgs[-1].twist.twist.linear.x)


def test_cmd_vel_moves_odom_clock_advances_and_cmd_timeout_stops(probe, node_env, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import Odometry
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import LaserScan

    sim = _start(node_env, tmp_path, "scenario:=open", "cmd_vel_stamped:=false")
    try:
        for topic, typ in (("/odom", Odometry), ("/clock", Clock), ("/scan", LaserScan),
                           ("/diagnostics", DiagnosticArray)):
            probe.subscribe(topic, typ)
        pub, cmd = _driver(probe, stamped=False)
        probe.wait_for_subscribers(pub)
        odom0 = probe.wait_for("/odom", proc=sim)[-1]
        assert odom0.header.frame_id == "odom" and odom0.child_frame_id == "base_link"
        assert odom0.pose.pose.position.x == pytest.approx(-3.5, abs=0.02)

        cmd["v"] = 0.5
        probe.wait_for("/odom", _speed_is(lambda v: v > 0.45), timeout=20, proc=sim)
        t_a = stamp_to_sec(probe.received("/odom")[-1].header.stamp)
        probe.wait_for("/odom", lambda m: stamp_to_sec(m[-1].header.stamp) > t_a + 2.0, timeout=20, proc=sim)
        window = [m for m in probe.received("/odom") if t_a <= stamp_to_sec(m.header.stamp) <= t_a + 2.0]
        dt = stamp_to_sec(window[-1].header.stamp) - stamp_to_sec(window[0].header.stamp)
        dx = window[-1].pose.pose.position.x - window[0].pose.pose.position.x
        assert dt > 1.9 and dx == pytest.approx(0.5 * dt, rel=0.05)      # v = 0.5 m/s in sim time
        assert abs(window[-1].pose.pose.position.y) < 0.05

        clocks = [stamp_to_sec(m.clock) for m in probe.received("/clock")]
        assert clocks[-1] > t_a + 2.0 - 0.1 and all(b > a for a, b in zip(clocks, clocks[1:]))
        scan = probe.received("/scan")[-1]
        assert len(scan.ranges) == 180 and scan.header.frame_id == "base_link"
        assert scan.angle_min == pytest.approx(-math.pi) and scan.range_max == 8.0
        assert min(scan.ranges) == pytest.approx(min(1.5 + dx, 5.0), abs=0.6)  # walls seen
        diag = probe.wait_for("/diagnostics", proc=sim)[-1].status[0]
        keys = {kv.key: kv.value for kv in diag.values}
        assert diag.name == "sim"
        assert {"collisions", "in_contact", "clearance_m", "realtime_factor", "sim_time_s",
                "goal_reached", "scenario"} <= set(keys)
        assert keys["scenario"] == "open" and keys["collisions"] == "0"
        try:                                   # /tf where tf2_msgs exists, one log line otherwise
            import tf2_msgs  # noqa: F401
        except ImportError:
            assert sim.log().count("tf2_msgs is not importable") == 1

        # the driver goes silent: within cmd_timeout_s (0.5 s) + braking the robot stops, and stays
        cmd["on"] = False
        t_off = stamp_to_sec(probe.received("/odom")[-1].header.stamp)
        stopped = probe.wait_for("/odom", _speed_is(lambda v: abs(v) < 0.01), timeout=20, proc=sim)[-1]
        assert stamp_to_sec(stopped.header.stamp) - t_off < 0.5 + 0.5 / 1.5 + 0.3
        x_stop = stopped.pose.pose.position.x
        t_stop = stamp_to_sec(stopped.header.stamp)
        later = probe.wait_for("/odom", lambda m: stamp_to_sec(m[-1].header.stamp) > t_stop + 1.0, proc=sim)[-1]
        assert abs(later.pose.pose.position.x - x_stop) < 0.01
    finally:
        sim.stop()


def test_estop_nan_and_reset_with_a_new_seed(probe, node_env, tmp_path):
    from nav_msgs.msg import Odometry
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters
    from std_msgs.msg import Bool
    from std_srvs.srv import SetBool, Trigger

    from sensor_msgs.msg import Image

    sim = _start(node_env, tmp_path, "scenario:=wall", "perturb:=true", "seed:=1", "camera_enabled:=true")
    try:
        probe.subscribe("/odom", Odometry)
        probe.subscribe("/camera/image_raw", Image)
        pub, cmd = _driver(probe, stamped=True)
        estop = probe.node.create_publisher(Bool, "/estop", 10)
        probe.wait_for_subscribers(pub)
        probe.wait_for_subscribers(estop)
        def reset():
            probe.clear("/odom")
            res = probe.call(Trigger, "/sim_node/reset", Trigger.Request())
            assert res.success, res.message
            return probe.wait_for("/odom", lambda m: any(stamp_to_sec(x.header.stamp) < 0.01 for x in m),
                                  proc=sim)

        def first_pose(msgs):
            return next(m for m in msgs if stamp_to_sec(m.header.stamp) < 0.01).pose.pose.position

        img = probe.wait_for("/camera/image_raw", proc=sim)[-1]
        assert (img.height, img.width, img.encoding, len(img.data)) == (64, 64, "rgb8", 64 * 64 * 3)
        probe.wait_for("/odom", proc=sim)
        start1 = first_pose(reset())                         # the t = 0 observation, seed 1
        assert abs(start1.x + 3.0) <= 0.25 and abs(start1.x + 3.0) + abs(start1.y) > 1e-4  # perturbed

        cmd["v"] = 0.5
        probe.wait_for("/odom", _speed_is(lambda v: v > 0.4), timeout=20, proc=sim)
        estop.publish(Bool(data=True))                     # latched: commands keep coming
        stopped = probe.wait_for("/odom", _speed_is(lambda v: abs(v) < 0.02), timeout=10, proc=sim)[-1]
        t_stop = stamp_to_sec(stopped.header.stamp)
        held = probe.wait_for("/odom", lambda m: stamp_to_sec(m[-1].header.stamp) > t_stop + 1.0, proc=sim)
        # still stopped a second on: with perturb each odometry speed carries N(0, 0.01) noise, so
        # one sample can pass 0.02 (4.6 %); the mean of the second's samples cannot, moving
        window = [m.twist.twist.linear.x for m in held if t_stop < stamp_to_sec(m.header.stamp) <= t_stop + 1.0]
        assert len(window) >= 5 and abs(sum(window) / len(window)) < 0.015, window
        estop.publish(Bool(data=False))
        probe.wait_for("/odom", _speed_is(lambda v: v > 0.4), timeout=10, proc=sim)

        cmd["v"] = float("nan")                            # refused: the robot stops
        probe.wait_for("/odom", _speed_is(lambda v: abs(v) < 0.02), timeout=10, proc=sim)
        assert "rejected non-finite /cmd_vel" in sim.log()
        cmd["v"] = 0.0

        again = first_pose(reset())                          # same seed: the same start, exactly
        assert (again.x, again.y) == pytest.approx((start1.x, start1.y), abs=1e-9)

        def set_param(name, **value):
            req = SetParameters.Request(parameters=[Parameter(name=name, value=ParameterValue(**value))])
            assert probe.call(SetParameters, "/sim_node/set_parameters", req).results[0].successful

        set_param("seed", type=ParameterType.PARAMETER_INTEGER, integer_value=2)
        other = first_pose(reset())                          # `ros2 param set seed 2` + reset
        assert math.hypot(other.x - start1.x, other.y - start1.y) > 1e-3
        assert abs(other.x + 3.0) <= 0.25 and abs(other.y) <= 0.25

        # ~/pause freezes simulated time; unpausing resumes it
        assert probe.call(SetBool, "/sim_node/pause", SetBool.Request(data=True)).success
        probe.clear("/odom")
        # paused, the sim re-sends its last observation every REPUBLISH_S wall seconds for late
        # joiners, always with the same stamp: simulated time stands still
        held = probe.wait_for("/odom", lambda m: len(m) >= 4, timeout=10.0, proc=sim)
        assert len({stamp_to_sec(m.header.stamp) for m in held[-3:]}) == 1, \
            [stamp_to_sec(m.header.stamp) for m in held]
        assert probe.call(SetBool, "/sim_node/pause", SetBool.Request(data=False)).success
        probe.clear("/odom")
        resumed = probe.wait_for("/odom", lambda m: len(m) >= 5, proc=sim)
        assert stamp_to_sec(resumed[-1].header.stamp) > stamp_to_sec(resumed[0].header.stamp)

        # another scenario on reset: the `scenario` parameter is re-read
        set_param("scenario", type=ParameterType.PARAMETER_STRING, string_value="open")
        opened = first_pose(reset())
        assert abs(opened.x + 3.5) <= 0.25 and abs(opened.y) <= 0.25
    finally:
        sim.stop()


def _lockstep_run(probe, node_env, tmp_path, name: str, end_s: float = 4.0):
    """Drive sim_node in lockstep with a controller answering every /odom; return the odoms."""
    from geometry_msgs.msg import TwistStamped
    from nav_msgs.msg import Odometry

    pub = probe.node.create_publisher(TwistStamped, "/cmd_vel", 10)
    seen = []

    def on_odom(msg):
        t = stamp_to_sec(msg.header.stamp)
        if seen and t <= stamp_to_sec(seen[-1].header.stamp) + 1e-9:
            return                                     # a repeated observation: already answered
        seen.append(msg)
        out = TwistStamped()
        out.header.stamp = msg.header.stamp
        out.twist.linear.x, out.twist.angular.z = 0.9, 1.2 * math.sin(1.5 * t)
        pub.publish(out)

    sub = probe.node.create_subscription(Odometry, "/odom", on_odom, 10)
    sim = _start(node_env, tmp_path, "scenario:=u_trap", "lockstep:=true", "lockstep_timeout_s:=20.0",
                 name=name)
    try:
        probe.wait_for("/odom_done", lambda _: bool(seen) and stamp_to_sec(seen[-1].header.stamp) >= end_s - 1e-6,
                       timeout=60, proc=sim)
    finally:
        sim.stop()
        probe.node.destroy_subscription(sub)
        probe.node.destroy_publisher(pub)
    assert "lockstep: no /cmd_vel" not in sim.log_path.read_text()
    return seen


def test_lockstep_is_deterministic_across_runs(probe, node_env, tmp_path):
    runs = [_lockstep_run(probe, node_env, tmp_path, f"sim_lockstep_{i}") for i in range(2)]
    finals = []
    for seen in runs:
        stamps = [stamp_to_sec(m.header.stamp) for m in seen]
        assert stamps[0] == 0.0
        assert all(abs(b - a - 0.05) < 1e-6 for a, b in zip(stamps, stamps[1:]))   # every period
        final = next(m for m in seen if abs(stamp_to_sec(m.header.stamp) - 4.0) < 1e-6)
        p, o = final.pose.pose.position, final.pose.pose.orientation
        finals.append((p.x, p.y, o.z, o.w, final.twist.twist.linear.x))
    assert math.hypot(finals[0][0] + 4.0, finals[0][1]) > 2.0          # it really drove
    assert finals[0] == pytest.approx(finals[1], abs=1e-6)
