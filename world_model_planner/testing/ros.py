"""Real ROS processes for tests: parameter calls through a probe, node executables run to their
exit, and console scripts driven through a pseudo-terminal."""
from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import time
from pathlib import Path


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
