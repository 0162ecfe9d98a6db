"""sim_node ``start_paused`` (the session's start gate): no time passes until ~/pause false; the
last observation is re-sent meanwhile (same stamp) so late subscribers see it; the parameter
is read at start-up only (a change is refused)."""
import time

from world_model_planner.core.rosconv import stamp_to_sec
from world_model_planner.testing.processes import REPO, NodeProcess
from world_model_planner.testing.ros import set_params


def test_start_paused_holds_the_clock_until_pause_false(probe, node_env, tmp_path):
    from nav_msgs.msg import Odometry
    from rosgraph_msgs.msg import Clock
    from std_srvs.srv import SetBool

    sim = NodeProcess.executable("sim_node", ["--params-file", str(REPO / "config/sim.yaml"),
                                              "-p", "scenario:=open", "-p", "start_paused:=true"],
                                 node_env, tmp_path)
    try:
        probe.subscribe("/clock", Clock)
        probe.subscribe("/odom", Odometry)
        # subscribed after the sim started: the paused observation still arrives (re-sent)
        probe.wait_for("/odom", lambda m: len(m) >= 2, timeout=30, proc=sim)
        time.sleep(1.0)
        stamps = {stamp_to_sec(m.header.stamp) for m in probe.received("/odom")}
        clocks = {stamp_to_sec(m.clock) for m in probe.received("/clock")}
        assert stamps == {0.0} and clocks == {0.0}, (stamps, clocks)
        res = set_params(probe, "sim_node", start_paused=False)
        assert not res[0].successful and "start-up" in res[0].reason
        r = probe.call(SetBool, "/sim_node/pause", SetBool.Request(data=False))
        assert r.success and r.message == "running"
        probe.wait_for("/clock", lambda m: stamp_to_sec(m[-1].clock) > 0.5, timeout=20, proc=sim)
        assert sim.stop() == 0
        log = sim.log_path.read_text(errors="replace")
        assert "Traceback" not in log and "RCLError" not in log, log
    finally:
        sim.stop()
