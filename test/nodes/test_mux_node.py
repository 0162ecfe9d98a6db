"""cmd_mux as a real process over real DDS: priority, timeout, e-stop lock, stamps, intervention."""
import time

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from world_model_planner.testing.processes import REPO, NodeProcess
from world_model_planner.core.rosconv import stamp_to_sec

# these tests are about arbitration: steps of up to 5 m/s per message pass the limiter unramped
# (test_safety_cmd_mux.py tests the limiter's acceleration limits)
NO_RAMP = ["-p", "limiter.accel_v_mps2:=50.0", "-p", "limiter.accel_w_radps2:=100.0"]


def _ts(stamp_s, v, w):
    from geometry_msgs.msg import TwistStamped

    from world_model_planner.core.rosconv import sec_to_stamp

    m = TwistStamped()
    m.header.stamp = sec_to_stamp(stamp_s)
    m.twist.linear.x, m.twist.angular.z = v, w
    return m


def test_mux_priority_timeout_lock_and_intervention(probe, node_env, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import TwistStamped
    from std_msgs.msg import Bool

    from world_model_planner.core.rosconv import stamp_to_sec

    mux = NodeProcess.executable("cmd_mux", ["--params-file", str(REPO / "config/mux.yaml"), *NO_RAMP],
                                 node_env, tmp_path)
    try:
        probe.subscribe("/cmd_vel", TwistStamped)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        probe.subscribe("/mux/intervention", Bool, latched)
        probe.subscribe("/diagnostics", DiagnosticArray)
        nav = probe.node.create_publisher(TwistStamped, "/cmd_vel_nav", 10)
        tele = probe.node.create_publisher(TwistStamped, "/cmd_vel_teleop", 10)
        estop = probe.node.create_publisher(Bool, "/estop", 10)
        for pub in (nav, tele, estop):
            probe.wait_for_subscribers(pub, timeout=20.0)
        probe.wait_for("/mux/intervention", proc=mux)
        assert probe.received("/mux/intervention")[-1].data is False

        # the planner alone drives: its command and its stamp come through
        t = 100.0

        def send(pub, v, w):
            nonlocal t
            t += 0.05
            pub.publish(_ts(t, v, w))
            return t

        def last_is(v, stamp=None):
            def pred(msgs):
                return bool(msgs) and abs(msgs[-1].twist.linear.x - v) < 1e-9 and (
                    stamp is None or abs(stamp_to_sec(msgs[-1].header.stamp) - stamp) < 1e-6)
            return pred

        s = send(nav, 0.5, 0.1)
        probe.wait_for("/cmd_vel", last_is(0.5, s), timeout=10, proc=mux)

        # a person takes over: teleop wins while nav keeps publishing; an intervention is published
        for _ in range(5):
            s = send(tele, 0.2, -0.3)
            send(nav, 0.5, 0.1)
            time.sleep(0.05)
        probe.wait_for("/cmd_vel", last_is(0.2, s), timeout=5, proc=mux)
        assert all(abs(m.twist.linear.x - 0.2) < 1e-9 for m in probe.received("/cmd_vel")[-3:])
        probe.wait_for("/mux/intervention", lambda m: m[-1].data is True, timeout=5, proc=mux)

        # teleop goes silent: after its 0.5 s timeout the planner's commands pass again
        time.sleep(0.6)
        s = send(nav, 0.5, 0.1)
        probe.wait_for("/cmd_vel", last_is(0.5, s), timeout=5, proc=mux)
        probe.wait_for("/mux/intervention", lambda m: m[-1].data is False, timeout=5, proc=mux)

        # e-stop locks the output to zero (stamps preserved for lockstep); release restores it
        estop.publish(Bool(data=True))
        probe.wait_for("/cmd_vel", last_is(0.0), timeout=5, proc=mux)
        s = send(nav, 0.5, 0.1)
        probe.wait_for("/cmd_vel", last_is(0.0, s), timeout=5, proc=mux)
        probe.clear("/diagnostics")
        estop.publish(Bool(data=False))
        probe.wait_for("/diagnostics", lambda msgs: any(
            kv.key == "locked" and kv.value == "false" for a in msgs for st in a.status for kv in st.values),
            timeout=5, proc=mux)
        s = send(nav, 0.5, 0.1)
        probe.wait_for("/cmd_vel", last_is(0.5, s), timeout=5, proc=mux)

        # the planner goes silent too: one zero command after the timeout
        probe.wait_for("/cmd_vel", last_is(0.0), timeout=5, proc=mux)

        # NaN is never forwarded; the count shows up in the diagnostics with the interventions
        tele.publish(_ts(t + 1, float("nan"), 0.0))

        def diag_ok(msgs):
            for arr in reversed(msgs):
                for st in arr.status:
                    if st.name == "cmd_mux":
                        kv = {k.key: k.value for k in st.values}
                        return kv["interventions"] == "1" and kv["rejected_nonfinite"] == "1"
            return False
        probe.wait_for("/diagnostics", diag_ok, timeout=5, proc=mux)
        assert all(x.twist.linear.x == x.twist.linear.x for x in probe.received("/cmd_vel"))
    finally:
        mux.stop()


def test_mux_timeouts_follow_sim_time_in_lockstep(probe, node_env, tmp_path):
    """Under use_sim_time a frozen /clock (the lockstep sim waiting for a slow planner) never
    times the planner's input out; once simulated time moves on past the timeout, it does."""
    from geometry_msgs.msg import TwistStamped
    from rosgraph_msgs.msg import Clock

    from world_model_planner.core.rosconv import sec_to_stamp

    mux = NodeProcess.executable("cmd_mux", ["-p", "use_sim_time:=true", *NO_RAMP], node_env, tmp_path)
    try:
        probe.subscribe("/cmd_vel", TwistStamped)
        clock = probe.node.create_publisher(Clock, "/clock", 10)
        nav = probe.node.create_publisher(TwistStamped, "/cmd_vel_nav", 10)
        probe.wait_for_subscribers(clock)
        probe.wait_for_subscribers(nav)
        deadline = time.monotonic() + 10
        while True:  # until the mux has the clock and then a command (the last output is 0.5)
            assert time.monotonic() < deadline and mux.alive(), mux.log()
            clock.publish(Clock(clock=sec_to_stamp(50.0)))
            nav.publish(_ts(50.0, 0.5, 0.0))
            time.sleep(0.3)
            msgs = probe.received("/cmd_vel")
            if msgs and msgs[-1].twist.linear.x == 0.5:
                break
        n = len(msgs)
        time.sleep(1.2)  # 1.2 s of wall time with simulated time frozen: no timeout
        assert len(probe.received("/cmd_vel")) == n
        clock.publish(Clock(clock=sec_to_stamp(50.6)))  # 0.6 s simulated > 0.5 s timeout
        msgs = probe.wait_for("/cmd_vel", lambda m: len(m) == n + 1, timeout=10, proc=mux)
        assert msgs[-1].twist.linear.x == 0.0 and abs(stamp_to_sec(msgs[-1].header.stamp) - 50.6) < 1e-6
    finally:
        mux.stop()


def test_sigusr1_prints_every_thread_stack_and_the_node_keeps_running(probe, node_env, tmp_path):
    """Every node's main (rosutil.spin_main) registers faulthandler for SIGUSR1: `kill -USR1 PID`
    writes each thread's Python stack to the node's log, and the node goes on (how a test or a
    person sees what a node that stopped answering is doing)."""
    from diagnostic_msgs.msg import DiagnosticArray

    mux = NodeProcess.executable("cmd_mux", ["--params-file", str(REPO / "config/mux.yaml")], node_env, tmp_path)
    try:
        probe.subscribe("/diagnostics", DiagnosticArray)
        probe.wait_for("/diagnostics", timeout=20.0, proc=mux)    # up
        out = mux.stacks()
        assert "most recent call first" in out and "spin" in out, out
        assert mux.alive()
        probe.clear("/diagnostics")
        probe.wait_for("/diagnostics", timeout=10.0, proc=mux)    # still publishing
        assert mux.stop() == 0
    finally:
        mux.stop()
