"""cmd_mux as a real process: the velocity limiter is the last stage before /cmd_vel, input
freshness survives a clock jump back (sim reset), and runtime parameters are applied or refused.
"""
import math
import threading
import time

from world_model_planner.testing.processes import REPO, NodeProcess
from world_model_planner.testing.processes import run_node_exit
from world_model_planner.testing.ros import set_params

MUX_ARGS = ["--params-file", str(REPO / "config/mux.yaml")]


def _ts(stamp_s, v, w=0.0):
    from geometry_msgs.msg import TwistStamped

    from world_model_planner.core.rosconv import sec_to_stamp

    m = TwistStamped()
    m.header.stamp = sec_to_stamp(stamp_s)
    m.twist.linear.x, m.twist.angular.z = v, w
    return m


def test_absurd_and_non_finite_nav_commands_never_reach_cmd_vel(probe, node_env, tmp_path):
    """1e9 m/s on /cmd_vel_nav: /cmd_vel stays within the Husky's limits and ramps at its
    acceleration limit; NaN: /cmd_vel is zero at once. (Before: 1e9 forwarded as is.)"""
    from geometry_msgs.msg import TwistStamped

    mux = NodeProcess.executable("cmd_mux", MUX_ARGS, node_env, tmp_path)
    try:
        probe.subscribe("/cmd_vel", TwistStamped)
        nav = probe.node.create_publisher(TwistStamped, "/cmd_vel_nav", 10)
        probe.wait_for_subscribers(nav)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:           # 1.5 s of 1e9 m/s, 1e9 rad/s at 20 Hz
            nav.publish(_ts(time.time(), 1e9, -1e9))
            time.sleep(0.05)
        msgs = probe.wait_for("/cmd_vel", lambda m: len(m) >= 10, timeout=10, proc=mux)
        v = [m.twist.linear.x for m in msgs]
        w = [m.twist.angular.z for m in msgs]
        print(f"\n1e9 m/s in: /cmd_vel max v={max(v):.3f} m/s, min w={min(w):.3f} rad/s, "
              f"largest step {max(b - a for a, b in zip(v, v[1:])):.3f} m/s over {len(v)} msgs")
        assert all(0.0 <= x <= 1.0 for x in v) and all(-1.5 <= x <= 0.0 for x in w)
        assert max(v) > 0.5                         # it does drive, at the limit
        assert max(b - a for a, b in zip(v, v[1:])) <= 1.5 * 0.1 + 1e-9   # accel * max_dt_s
        probe.clear("/cmd_vel")
        t_nan, stamp_nan = time.monotonic(), float(int(time.time())) + 0.25
        nav.publish(_ts(stamp_nan, math.nan, 0.3))
        msgs = probe.wait_for("/cmd_vel", timeout=5, proc=mux)
        print(f"NaN from the input in control: zero on /cmd_vel after {time.monotonic() - t_nan:.3f} s")
        assert msgs[0].twist.linear.x == 0.0 and msgs[0].twist.angular.z == 0.0
        # at once, answering the NaN message (its stamp), not the input timeout's zero 0.5 s later
        assert msgs[0].header.stamp.sec == int(stamp_nan) and msgs[0].header.stamp.nanosec == 250_000_000
        assert all(math.isfinite(m.twist.linear.x) for m in probe.received("/cmd_vel"))
        assert "non-finite" in mux.log()
    finally:
        mux.stop()


def test_clock_jump_back_nav_commands_flow_within_a_second(probe, node_env, tmp_path):
    """As /sim_node/reset does: /clock at 112 s with a person's teleop input, then /clock goes
    back to 100 s and the planner commands. Before: teleop stayed 'active' for ~12 s (negative
    age) and every planner command was dropped; now they reach /cmd_vel at once."""
    from geometry_msgs.msg import TwistStamped
    from rosgraph_msgs.msg import Clock

    from world_model_planner.core.rosconv import sec_to_stamp

    mux = NodeProcess.executable("cmd_mux", [*MUX_ARGS, "-p", "use_sim_time:=true"], node_env, tmp_path)
    clock_t = [112.0]
    stop = threading.Event()
    try:
        probe.subscribe("/cmd_vel", TwistStamped)
        clock = probe.node.create_publisher(Clock, "/clock", 10)
        nav = probe.node.create_publisher(TwistStamped, "/cmd_vel_nav", 10)
        tele = probe.node.create_publisher(TwistStamped, "/cmd_vel_teleop", 10)
        for pub in (clock, nav, tele):
            probe.wait_for_subscribers(pub)

        def run_clock():                            # simulated time at real-time speed
            while not stop.is_set():
                clock.publish(Clock(clock=sec_to_stamp(clock_t[0])))
                time.sleep(0.02)
                clock_t[0] += 0.02
        threading.Thread(target=run_clock, daemon=True).start()
        time.sleep(0.3)
        deadline = time.monotonic() + 10            # the person drives (teleop wins)
        while not any(abs(m.twist.linear.x - 0.2) < 1e-9 for m in probe.received("/cmd_vel")):
            assert time.monotonic() < deadline and mux.alive(), mux.log()
            tele.publish(_ts(clock_t[0], 0.2))
            time.sleep(0.05)
        clock_t[0] = 100.0                          # sim reset: the clock jumps back 12 s
        t_jump = time.monotonic()
        probe.clear("/cmd_vel")
        deadline = t_jump + 5.0
        while True:
            nav.publish(_ts(clock_t[0], 0.5))
            time.sleep(0.05)
            if any(m.twist.linear.x > 0.05 and abs(m.twist.linear.x - 0.2) > 1e-9
                   for m in probe.received("/cmd_vel")):
                break
            assert time.monotonic() < deadline, \
                f"no planner command on /cmd_vel {deadline - t_jump:.0f} s after the clock jump:\n{mux.log()[-2000:]}"
        flow_s = time.monotonic() - t_jump
        print(f"\nplanner commands on /cmd_vel {flow_s:.2f} s after the clock jumped back 12 s")
        assert flow_s < 1.0
    finally:
        stop.set()
        mux.stop()


def test_runtime_parameters_applied_or_refused(probe, node_env, tmp_path):
    """limiter.v_max_mps lowered live: /cmd_vel follows at once. input_topics: refused with the
    reason. An out-of-range value: refused with the range. (Before: no limiter; a new output
    topic was acknowledged and ignored.)"""
    from geometry_msgs.msg import TwistStamped

    mux = NodeProcess.executable("cmd_mux", MUX_ARGS, node_env, tmp_path)
    try:
        probe.subscribe("/cmd_vel", TwistStamped)
        nav = probe.node.create_publisher(TwistStamped, "/cmd_vel_nav", 10)
        probe.wait_for_subscribers(nav)

        def drive(seconds):
            probe.clear("/cmd_vel")
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                nav.publish(_ts(time.time(), 0.9))
                time.sleep(0.05)
            return probe.wait_for("/cmd_vel", timeout=5, proc=mux)[-1].twist.linear.x

        assert abs(drive(1.5) - 0.9) < 1e-9
        res = set_params(probe, "cmd_mux", limiter__v_max_mps=0.2)
        assert res[0].successful, res[0].reason
        assert abs(drive(0.5) - 0.2) < 1e-9
        res = set_params(probe, "cmd_mux", output_topic="/elsewhere")
        assert not res[0].successful and "start-up" in res[0].reason
        res = set_params(probe, "cmd_mux", limiter__accel_v_mps2=0.0)
        assert not res[0].successful and "accel_v_mps2" in res[0].reason
        assert abs(drive(0.5) - 0.2) < 1e-9           # nothing changed by the refusals
    finally:
        mux.stop()


def test_params_file_typo_and_bad_value_exit_2_naming_the_key(node_env, tmp_path):
    bad = tmp_path / "mux.yaml"
    bad.write_text("/**/cmd_mux:\n  ros__parameters:\n    limiter:\n      v_maxx_mps: 0.3\n")
    r = run_node_exit("cmd_mux", ["--params-file", str(bad)], node_env)
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and "limiter.v_maxx_mps" in r.stderr and "Traceback" not in r.stderr + r.stdout, r
    assert len([ln for ln in err if ln.startswith("[error]")]) == 1
    bad.write_text("/**/cmd_mux:\n  ros__parameters:\n    limiter:\n      v_max_mps: 1000.0\n")
    r = run_node_exit("cmd_mux", ["--params-file", str(bad)], node_env)
    assert r.returncode == 2 and "v_max_mps" in r.stderr and "Traceback" not in r.stderr + r.stdout, r
    bad.write_text("/**/cmd_mux:\n  ros__parameters:\n    check_rate_hz: fast\n")
    r = run_node_exit("cmd_mux", ["--params-file", str(bad)], node_env)
    assert r.returncode == 2 and "check_rate_hz" in r.stderr and "Traceback" not in r.stderr + r.stdout, r


def test_limiter_timeout_stops_even_when_the_mux_inputs_wait_longer(probe, node_env, tmp_path):
    """The limiter's own timeout (0.3 s) stops the robot although the mux's input timeouts were
    set to 10 s. (Before: the last command stood for the full 10 s.)"""
    from geometry_msgs.msg import TwistStamped

    mux = NodeProcess.executable("cmd_mux", [*MUX_ARGS, "-p", "input_timeouts_s:=[10.0, 10.0]",
                                             "-p", "limiter.timeout_s:=0.3"], node_env, tmp_path)
    try:
        probe.subscribe("/cmd_vel", TwistStamped)
        nav = probe.node.create_publisher(TwistStamped, "/cmd_vel_nav", 10)
        probe.wait_for_subscribers(nav)
        for _ in range(20):
            nav.publish(_ts(time.time(), 0.6))
            time.sleep(0.05)
        probe.wait_for("/cmd_vel", lambda m: bool(m) and m[-1].twist.linear.x == 0.6, timeout=5, proc=mux)
        t_last = time.monotonic()
        probe.wait_for("/cmd_vel", lambda m: m[-1].twist.linear.x == 0.0, timeout=5, proc=mux)
        stop_s = time.monotonic() - t_last
        print(f"\nlimiter timeout 0.3 s (mux inputs 10 s): zero on /cmd_vel {stop_s:.2f} s after the last command")
        assert stop_s < 2.0
    finally:
        mux.stop()
