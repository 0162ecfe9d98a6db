"""teleop_joy, teleop_keyboard and lifecycle_manager as real processes: runtime parameters are
applied or refused with the reason, a params-file typo or bad value is one line and exit 2, and
Ctrl-C on the keyboard leaves the robot stopped with no traceback."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from world_model_planner.testing.processes import NodeProcess, PtyProc, run_node_exit
from world_model_planner.testing.ros import set_params


def test_joy_runtime_parameters_applied_or_refused(probe, node_env, tmp_path):
    from geometry_msgs.msg import TwistStamped
    from sensor_msgs.msg import Joy

    node = NodeProcess.executable("teleop_joy", ["-p", "deadman_button:=0"], node_env, tmp_path)
    try:
        probe.subscribe("/cmd_vel_teleop", TwistStamped)
        pub = probe.node.create_publisher(Joy, "/joy", 10)
        probe.wait_for_subscribers(pub)
        pub.publish(Joy(axes=[0.0, 1.0], buttons=[1]))      # the same pad state again until heard
        msgs = probe.wait_for("/cmd_vel_teleop", timeout=10, proc=node,
                              resend=lambda: pub.publish(Joy(axes=[0.0, 1.0], buttons=[1])))
        assert msgs[-1].twist.linear.x == pytest.approx(0.5)
        res = set_params(probe, "teleop_joy", scale_linear_mps=0.2)
        assert res[0].successful, res[0].reason
        pub.publish(Joy(axes=[0.0, 1.0], buttons=[1]))
        probe.wait_for("/cmd_vel_teleop", lambda m: m[-1].twist.linear.x == pytest.approx(0.2),
                       timeout=10, proc=node)
        res = set_params(probe, "teleop_joy", topic="/elsewhere")
        assert not res[0].successful and "start-up" in res[0].reason
        res = set_params(probe, "teleop_joy", scale_linear_mps=99.0)
        assert not res[0].successful and "scale_linear_mps" in res[0].reason
    finally:
        node.stop()


@pytest.mark.parametrize("executable,node,body,key", [
    ("teleop_joy", "teleop_joy", "deadman_buton: 3", "deadman_buton"),
    ("teleop_joy", "teleop_joy", "deadzone: 5.0", "deadzone"),
    ("teleop_keyboard", "teleop_keyboard", "max_linear_mps_: 0.3", "max_linear_mps_"),
    ("teleop_keyboard", "teleop_keyboard", "rate_hz: fast", "rate_hz"),
    ("lifecycle_manager", "lifecycle_manager", "bond_timeout: 2.0", "bond_timeout"),
    ("lifecycle_manager", "lifecycle_manager", "check_period_s: -1.0", "check_period_s"),
])
def test_params_file_unknown_key_or_bad_value_is_one_line_exit_2(node_env, tmp_path, executable, node,
                                                                  body, key):
    f = tmp_path / "params.yaml"
    f.write_text(f"/**/{node}:\n  ros__parameters:\n    {body}\n")
    r = run_node_exit(executable, ["--params-file", str(f)], node_env)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("[error]")]
    assert r.returncode == 2 and len(errors) == 1 and key in errors[0], (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout


def test_keyboard_live_parameter_and_clean_ctrl_c(probe, node_env):
    """max_linear_mps lowered at runtime: the next command uses it; topic: refused. Ctrl-C:
    zero published, exit 0, no traceback. (Before: RCLError 'publisher's context is invalid',
    exit 1, and no final zero.)"""
    from geometry_msgs.msg import TwistStamped

    probe.subscribe("/cmd_vel_teleop", TwistStamped)
    exe = str(Path(sys.executable).parent / "teleop_keyboard")
    p = PtyProc([exe, "--ros-args", "-p", "initial_step:=5"], node_env)
    try:
        p.wait_output("ready")
        probe.wait_until("teleop_keyboard's publisher", lambda: probe.node.count_publishers("/cmd_vel_teleop") >= 1)
        p.type(b"w")
        probe.wait_for("/cmd_vel_teleop", lambda m: bool(m) and m[-1].twist.linear.x == pytest.approx(0.5),
                       timeout=10)
        res = set_params(probe, "teleop_keyboard", max_linear_mps=0.4)
        assert res[0].successful, res[0].reason
        probe.wait_for("/cmd_vel_teleop", lambda m: m[-1].twist.linear.x == pytest.approx(0.2), timeout=10)
        res = set_params(probe, "teleop_keyboard", topic="/elsewhere")
        assert not res[0].successful and "start-up" in res[0].reason
        probe.clear("/cmd_vel_teleop")
        os.killpg(p.proc.pid, signal.SIGINT)
        assert p.proc.wait(10) == 0
        probe.wait_for("/cmd_vel_teleop", lambda m: bool(m) and m[-1].twist.linear.x == 0.0, timeout=5)
        time.sleep(0.2)
        out = p.output.decode(errors="replace")
        assert "quit: published zero" in out and "Traceback" not in out, out
    finally:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(5)
        os.close(p.master)


def test_keyboard_without_a_terminal_is_one_line_exit_2(node_env):
    exe = str(Path(sys.executable).parent / "teleop_keyboard")
    r = subprocess.run([exe], stdin=subprocess.DEVNULL, env=node_env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2 and "not a terminal" in r.stderr and "Traceback" not in r.stderr


def test_lifecycle_manager_runtime_parameters_and_clean_sigint(probe, node_env, tmp_path):
    """check_period_s applied at runtime (the diagnostics, one per check, speed up);
    node_names and autostart refused with the reason; SIGINT: exit 0, no traceback."""
    from diagnostic_msgs.msg import DiagnosticArray

    mgr = NodeProcess.executable("lifecycle_manager", ["-p", "node_names:=[absent_node]",
                                                       "-p", "check_period_s:=2.0"], node_env, tmp_path)
    try:
        probe.subscribe("/diagnostics", DiagnosticArray)
        probe.wait_for("/diagnostics", timeout=20, proc=mgr)

        def rate(seconds):
            probe.clear("/diagnostics")
            time.sleep(seconds)
            return len(probe.received("/diagnostics")) / seconds

        slow = rate(3.0)
        res = set_params(probe, "lifecycle_manager", check_period_s=0.1)
        assert res[0].successful, res[0].reason
        fast = rate(2.0)
        print(f"\nlifecycle_manager checks: {slow:.1f}/s at check_period_s=2.0, {fast:.1f}/s after setting 0.1")
        assert slow <= 1.0 and fast >= 4.0
        res = set_params(probe, "lifecycle_manager", autostart=False)
        assert not res[0].successful and "~/shutdown" in res[0].reason
        res = set_params(probe, "lifecycle_manager", bond_timeout_s=0.0)
        assert not res[0].successful and "bond_timeout_s" in res[0].reason
        # SIGINT: the worker gives up a state query within 5 s and the executor shuts down within
        # rosutil.DESTROY_TIMEOUT_S (10 s); a loaded machine may need most of that, so wait it out
        rc = mgr.stop(timeout=20.0)
        if rc != 0 and os.environ.get("ROS_DISTRO") == "jazzy":
            # a known defect, open (README, Known limits): under Jazzy's rclpy the manager, polling
            # an absent node every 0.1 s, sometimes does not exit on SIGINT (2 CI rehearsals in 4)
            pytest.xfail(f"Jazzy: lifecycle_manager did not exit on SIGINT within 20 s (rc {rc})")
        assert rc == 0, mgr.log()[-8000:]      # ends with every thread's stack (SIGUSR1 before the kill)
        log = mgr.log_path.read_text(errors="replace")
        assert "Traceback" not in log and "RCLError" not in log, log
    finally:
        mgr.stop()
