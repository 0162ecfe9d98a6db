"""Start the stack's :class:`~world_model_planner.app.stack.NodeSpec` list as real processes.

Each node runs as ``<bin>/<executable> --ros-args ...`` in its own process group, with its
own log file, in a private ``ROS_DOMAIN_ID`` with ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``
(:mod:`world_model_planner.testing.domain`: the lease and the environment tests use too) so
nothing leaves the machine and parallel runs do not hear each other. Teardown sends
SIGINT (the nodes shut down cleanly; SIGTERM to a node still importing, which ends quietly)
and SIGKILLs whatever is left after a timeout.

Readiness (topics seen, lifecycle nodes active) is checked over ROS by
:mod:`world_model_planner.app.episode`; this module never imports rclpy.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from world_model_planner.app.stack import PACKAGE, NodeSpec
from world_model_planner.testing.domain import StackError, ros_env
from world_model_planner.testing.processes import NodeProcess


def default_bin_dir(executable: str = "sim_node") -> Path | None:
    """Where the package's executables are: ``WMP_BIN_DIR``; this interpreter's scripts
    (a venv); PATH; a colcon install's lib/world_model_planner. None = search PATH."""
    env = os.environ.get("WMP_BIN_DIR")
    if env:
        return Path(env)
    here = Path(sys.executable).parent
    if (here / executable).exists():
        return here
    found = shutil.which(executable)
    if found:
        return Path(found).parent
    try:
        from ament_index_python.packages import get_package_prefix

        lib = Path(get_package_prefix(PACKAGE)) / "lib" / PACKAGE
        if (lib / executable).exists():
            return lib
    except Exception:  # noqa: BLE001 - not a colcon install
        pass
    return None


class NodeProc(NodeProcess):
    """One running node of the stack: its spec, process and log file (the command line first)."""

    def __init__(self, spec: NodeSpec, env: dict, log_path: Path, bin_dir: Path | None):
        self.spec = spec
        argv = spec.command(bin_dir)
        if bin_dir is None and shutil.which(argv[0]) is None:
            raise StackError(f"executable '{spec.executable}' not found (is the package installed?)")
        if bin_dir is not None and not Path(argv[0]).exists():
            raise StackError(f"executable '{argv[0]}' not found (is the package installed?)")
        super().__init__(argv, env, log_path, cwd=None, header=True, stdin=subprocess.DEVNULL)

    @property
    def name(self) -> str:
        return self.spec.fqn


def stop_signal(pid: int) -> int:
    """SIGINT for a node whose rclpy is up (it shuts down cleanly); SIGTERM for one that is still
    starting (importing: a KeyboardInterrupt there prints a traceback, SIGTERM ends it quietly,
    before anything was opened). rclpy.init installs the SIGTERM handler that /proc/PID/status
    shows; where there is no /proc, SIGINT."""
    try:
        with open(f"/proc/{int(pid)}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    caught = int(line.split()[1], 16)
                    return signal.SIGINT if caught >> (signal.SIGTERM - 1) & 1 else signal.SIGTERM
    except (OSError, ValueError):
        pass
    return signal.SIGINT


class Stack:
    """Processes for a list of NodeSpecs, started in order, stopped in reverse order.

    Use as a context manager::

        with Stack(specs, log_dir, domain_id) as stack:
            ...            # stack.check() raises StackError if a node died
    """

    def __init__(self, specs: list[NodeSpec], log_dir: str | os.PathLike, domain_id: int,
                 bin_dir: Path | None = None, env: dict | None = None):
        self.specs = list(specs)
        self.log_dir = Path(log_dir)
        self.domain_id = domain_id
        self.bin_dir = bin_dir if bin_dir is not None else default_bin_dir()
        self.env = ros_env(domain_id, env, ROS_LOG_DIR=str(self.log_dir / "ros"))
        self.procs: list[NodeProc] = []

    def start(self) -> "Stack":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            for spec in self.specs:
                log = self.log_dir / f"{spec.fqn.strip('/').replace('/', '.')}.log"
                self.procs.append(NodeProc(spec, self.env, log, self.bin_dir))
        except Exception:
            self.stop()
            raise
        return self

    def check(self) -> None:
        """Raise StackError naming the first node that exited, with the end of its log."""
        for p in self.procs:
            if not p.alive():
                raise StackError(f"node {p.name} exited with status {p.proc.returncode}; "
                                 f"log {p.log_path}:\n{p.log_tail()}")

    def cpu_s(self) -> dict[str, float | None]:
        """CPU seconds used so far, per node."""
        return {p.name: p.cpu_s() for p in self.procs}

    def stop(self, timeout_s: float = 8.0) -> dict[str, int | None]:
        """SIGINT every node (reverse order; SIGTERM to one still starting, see
        :func:`stop_signal`), wait up to ``timeout_s``, SIGKILL the rest."""
        for p in reversed(self.procs):
            p.signal(stop_signal(p.proc.pid))
        deadline = time.monotonic() + timeout_s
        for p in reversed(self.procs):
            try:
                p.proc.wait(max(deadline - time.monotonic(), 0.05))
            except subprocess.TimeoutExpired:
                p.signal(signal.SIGKILL)
                try:
                    p.proc.wait(5.0)
                except subprocess.TimeoutExpired:
                    pass
            p.close_log()
        return {p.name: p.proc.returncode for p in self.procs}

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
