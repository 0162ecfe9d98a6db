"""Stack teardown signal: a node still importing gets SIGTERM (it ends quietly, where SIGINT would
print a KeyboardInterrupt traceback); once rclpy.init has run (it installs a SIGTERM handler), SIGINT."""
import signal
import subprocess
import sys

from world_model_planner.app.launcher import stop_signal

READY = "import sys, time, rclpy; rclpy.init(); print('up', flush=True); time.sleep(30)"
STARTING = "import sys, time; print('up', flush=True); time.sleep(30)"


def _signal_when_up(code: str, env: dict) -> int:
    p = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "up"
        return stop_signal(p.pid)
    finally:
        p.kill()
        p.wait(10)


def test_starting_node_gets_sigterm_and_a_node_with_rclpy_up_sigint(node_env):
    assert _signal_when_up(STARTING, node_env) == signal.SIGTERM
    assert _signal_when_up(READY, node_env) == signal.SIGINT
    assert stop_signal(2**22 + 12345) == signal.SIGINT        # no such process: the plain default
