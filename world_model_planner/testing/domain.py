"""A private ROS 2 domain on this machine: a ROS_DOMAIN_ID held exclusively across processes
(tests, scripts and `wmp run` share the lock files, so they never hear each other), and the
environment a node process runs in there (localhost discovery only, unbuffered output).

No rclpy here: `wmp run` uses this before any node starts."""
from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir()) / "wmp-ros-domains"
"""One lock file per domain id (``<id>.lock``), held with flock while the domain is in use."""


class StackError(RuntimeError):
    """The stack could not be started (no free domain, a missing executable) or a node died;
    the message carries what to look at (a log tail, the log directory)."""


DOMAINS = 101   # leases take ROS_DOMAIN_ID 1..101


class DomainLease:
    """Hold a ROS_DOMAIN_ID (1..101) exclusively across processes on this machine.

    Above 101 the DDS ports of a domain fall into Linux's ephemeral port range, where they can
    clash with other sockets; ROS 2 documents 0..101 as the safe range.

    ``preferred``: the id to try first (the next free one is taken if it is held)."""

    def __init__(self, preferred: int | None = None):
        LOCK_DIR.mkdir(exist_ok=True)
        start = preferred - 1 if preferred else (os.getpid() * 13) % DOMAINS
        for i in range(DOMAINS):
            dom = 1 + (start + i) % DOMAINS
            fh = open(LOCK_DIR / f"{dom}.lock", "w")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                continue
            self.domain_id, self._fh = dom, fh
            return
        raise StackError(f"no free ROS_DOMAIN_ID in 1..{DOMAINS} (too many stacks running?)")

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> DomainLease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def ros_env(domain_id: int, base: dict | None = None, **extra) -> dict:
    """Environment for node processes: ``base`` (default: this process's) in domain
    ``domain_id``, localhost discovery, unbuffered output; ``extra`` variables on top."""
    env = dict(os.environ if base is None else base)
    env.update({
        "ROS_DOMAIN_ID": str(domain_id),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "RMW_IMPLEMENTATION": env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp"),
        "PYTHONUNBUFFERED": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env
