"""Node processes for tests, scripts and `wmp run`: a node executable (or `wmp` command) in its
own process group with its own log file (NodeProcess), a node run to its exit, and a console
script driven through a pseudo-terminal (PtyProc). No rclpy here."""
from __future__ import annotations

import os
import pty
import signal
from signal import SIGINT
import subprocess
import sys
import threading
import time
from pathlib import Path

from world_model_planner.testing.memory import status_kib

REPO = Path(__file__).resolve().parents[2]
"""The source tree (tests and scripts run from a checkout)."""


#: Every NodeProcess started and not yet collected by :func:`stop_leftovers`.
_STARTED: list = []


def stop_leftovers() -> list[str]:
    """Stop every process started since the last call that still runs (a test that failed
    while building its processes must not leave a node answering in a domain that the next test
    leases). Returns the command names of the processes it had to stop."""
    left = [p for p in _STARTED if p.alive()]
    _STARTED.clear()
    for p in left:
        p.signal(SIGINT)
    for p in left:
        p.stop()
    return [Path(p.args[0]).name for p in left]


class NodeProcess:
    """A real node (or `wmp` command) in its own process group, logging to ``log_path``.

    ``header``: write the command line as the log's first line; ``stdin``: as for Popen."""

    def __init__(self, args: list[str], env: dict, log_path: Path, cwd: Path | None = REPO,
                 header: bool = False, stdin=None):
        self.args = [str(a) for a in args]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "w")
        if header:
            self._log.write("$ " + " ".join(self.args) + "\n")
            self._log.flush()
        self.proc = subprocess.Popen(self.args, env=env, cwd=cwd, stdout=self._log, stdin=stdin,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        _STARTED.append(self)

    @classmethod
    def executable(cls, name: str, ros_args: list[str] | None, env: dict, log_dir: Path, extra=()):
        """Start a console script of this package (sim_node, planner_node, ...)."""
        exe = Path(sys.executable).parent / name
        args = [str(exe), *extra]
        if ros_args:
            args += ["--ros-args", *ros_args]
        return cls(args, env, Path(log_dir) / f"{name}.log")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 2500) -> str:
        """The end of the log ("" when it cannot be read)."""
        try:
            return self.log()[-chars:]
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_s(self) -> float | None:
        """CPU seconds (user + system) used so far by the process (Linux), else None."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def rss_mib(self) -> float:
        """Resident set size in MiB (nan when the process is gone)."""
        kib = status_kib("VmRSS", self.proc.pid)
        return float("nan") if kib is None else kib / 1024.0

    def signal(self, sig) -> None:
        """Send ``sig`` to the process group, if the process still runs."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stacks(self, wait_s: float = 1.0) -> str:
        """Ask the node for every thread's Python stack (SIGUSR1: rosutil.spin_main registers
        faulthandler for it) and return the end of its log: what a node that stopped answering
        is doing."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass
            time.sleep(wait_s)
        return self.log_tail(6000)

    def close_log(self) -> None:
        if not self._log.closed:
            self._log.close()

    def stop(self, sig=SIGINT, timeout=10.0) -> int | None:
        """``sig`` to the group, wait ``timeout`` s, SIGKILL what is left; the exit status.

        Before the SIGKILL, a process that did not stop gets SIGUSR1: every node registers
        faulthandler on it (``rosutil.spin_main``), so the log ends with each thread's stack,
        where it hung."""
        if self.proc.poll() is None:
            self.signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                if hasattr(signal, "SIGUSR1") and sig != signal.SIGKILL:
                    self.signal(signal.SIGUSR1)
                    time.sleep(1.0)
                self.signal(signal.SIGKILL)
                self.proc.wait(5)
        self.close_log()
        return self.proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL, 5)


def child_pids(pid: int) -> set[int]:
    """The pids whose parent is ``pid`` (from /proc; Linux)."""
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.add(int(d))
    return out


def pid_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def run_node_exit(executable: str, args: list, env: dict) -> subprocess.CompletedProcess:
    """Run a console script of this package with ``--ros-args ARGS`` to its exit (30 s at most)."""
    exe = Path(sys.executable).parent / executable
    return subprocess.run([str(exe), "--ros-args", *args], env=env, capture_output=True, text=True,
                          timeout=30)


class PtyProc:
    """A console script with its stdin/stdout on a pseudo-terminal, like a person's shell."""

    def __init__(self, args, env, size: tuple[int, int] | None = None, stderr=None):
        """``size``: (rows, cols) of the terminal; ``stderr``: a file for stderr (default: the pty)."""
        self.master, slave = pty.openpty()
        if size is not None:
            import fcntl
            import struct
            import termios

            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=stderr or slave, env=env,
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

    def drain(self, timeout: float = 5.0) -> None:
        """After the process exited: wait until its last output has been read."""
        self._t.join(timeout)
