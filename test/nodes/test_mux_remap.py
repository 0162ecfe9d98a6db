"""cmd_mux names the topics it really uses when they are remapped (as robot.launch.py does)."""
from world_model_planner.testing.processes import NodeProcess
from world_model_planner.testing.sensors import wait_log


def test_mux_logs_remapped_topic_names(node_env, tmp_path):
    mux = NodeProcess.executable("cmd_mux", ["-r", "/cmd_vel:=/robot/cmd_vel", "-r", "/cmd_vel_nav:=/nav/cmd"],
                                 node_env, tmp_path)
    try:
        wait_log(mux, "cmd_mux: ", timeout=60.0)
        line = next(x for x in mux.log().splitlines() if "cmd_mux: " in x)
        assert "-> /robot/cmd_vel;" in line and "=/nav/cmd (prio" in line, line
        assert "=/cmd_vel_teleop (prio" in line         # not remapped: as configured
    finally:
        mux.stop()
