"""Real ROS 2 processes for tests and scripts: node executables as processes with their own log
(NodeProcess), an in-process probe node that waits for messages instead of sleeping (RosProbe),
parameter calls through the probe, node executables run to their exit, and console scripts
driven through a pseudo-terminal. The domain and environment come from ``testing.domain``."""
from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The source tree (tests and scripts run from a checkout)."""


class NodeProcess:
    """A real node (or `wmp` command) in its own process, logging to a file."""

    def __init__(self, args: list[str], env: dict, log_path: Path, cwd: Path = REPO):
        self.args = args
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    @classmethod
    def executable(cls, name: str, ros_args: list[str] | None, env: dict, log_dir: Path, extra=()):
        """Start a console script of this package (sim_node, planner_node, ...)."""
        exe = Path(sys.executable).parent / name
        args = [str(exe), *extra]
        if ros_args:
            args += ["--ros-args", *ros_args]
        return cls(args, env, Path(log_dir) / f"{name}.log")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGINT, timeout=10.0) -> int | None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL, 5)


class RosProbe:
    """An in-test rclpy node in its own context, spun in a background thread."""

    def __init__(self, domain_id: int, name: str = "test_probe"):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._lock = threading.Lock()
        self.messages: dict[str, list] = {}
        self._stop = False
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        while not self._stop and self.context.ok():
            self.executor.spin_once(timeout_sec=0.05)

    def subscribe(self, topic: str, msg_type, qos=10):
        self.messages.setdefault(topic, [])

        def cb(msg, topic=topic):
            with self._lock:
                self.messages[topic].append((time.monotonic(), msg))

        return self.node.create_subscription(msg_type, topic, cb, qos)

    def received(self, topic: str) -> list:
        with self._lock:
            return [m for _, m in self.messages.get(topic, [])]

    def clear(self, topic: str):
        with self._lock:
            self.messages[topic] = []

    def wait_for(self, topic: str, predicate=lambda msgs: len(msgs) > 0, timeout: float = 20.0,
                 proc: NodeProcess | None = None):
        """Wait until ``predicate(messages so far)`` holds; fail with the node's log if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msgs = self.received(topic)
            if predicate(msgs):
                return msgs
            if proc is not None and not proc.alive():
                raise AssertionError(f"{proc.args[0]} exited ({proc.proc.returncode}):\n{proc.log()[-3000:]}")
            time.sleep(0.02)
        log = f"\n--- node log ---\n{proc.log()[-3000:]}" if proc is not None else ""
        raise AssertionError(f"timed out after {timeout}s waiting on {topic} "
                             f"({len(self.received(topic))} messages){log}")

    def wait_for_subscribers(self, publisher, count: int = 1, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while publisher.get_subscription_count() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no subscriber on {publisher.topic_name} after {timeout}s")
            time.sleep(0.02)

    def call(self, srv_type, name: str, request, timeout: float = 20.0):
        client = self.node.create_client(srv_type, name)
        if not client.wait_for_service(timeout_sec=timeout):
            raise AssertionError(f"service {name} not available after {timeout}s")
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                raise AssertionError(f"service {name} did not answer in {timeout}s")
            time.sleep(0.01)
        return future.result()

    def close(self):
        import rclpy

        self._stop = True
        self._thread.join(2.0)
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def set_params(probe, node: str, **values):
    """Set parameters of ``node`` through its ~/set_parameters service (``a__b`` names ``a.b``);
    returns the SetParametersResult list."""
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    params = []
    for name, value in values.items():
        pv = ParameterValue()
        if isinstance(value, bool):
            pv.type, pv.bool_value = ParameterType.PARAMETER_BOOL, value
        elif isinstance(value, float):
            pv.type, pv.double_value = ParameterType.PARAMETER_DOUBLE, value
        elif isinstance(value, int):
            pv.type, pv.integer_value = ParameterType.PARAMETER_INTEGER, value
        else:
            pv.type, pv.string_value = ParameterType.PARAMETER_STRING, str(value)
        params.append(Parameter(name=name.replace("__", "."), value=pv))
    return probe.call(SetParameters, f"/{node}/set_parameters", SetParameters.Request(parameters=params)).results


def run_node_exit(executable: str, args: list, env: dict) -> subprocess.CompletedProcess:
    """Run a console script of this package with ``--ros-args ARGS`` to its exit (30 s at most)."""
    exe = Path(sys.executable).parent / executable
    return subprocess.run([str(exe), "--ros-args", *args], env=env, capture_output=True, text=True,
                          timeout=30)


class PtyProc:
    """A console script with its stdin/stdout on a pseudo-terminal, like a person's shell."""

    def __init__(self, args, env):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.output = b""
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        while True:
            try:
                data = os.read(self.master, 1024)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def wait_output(self, text, timeout=20.0):
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no {text!r} in output:\n{self.output.decode(errors='replace')}")
            time.sleep(0.02)

    def type(self, keys: bytes):
        os.write(self.master, keys)
