"""Memory of a process, read from /proc (Linux), and caps for victim processes.

Peak resident memory is VmHWM: ``ru_maxrss`` would carry the parent's peak across exec. The
victim of a bomb test runs in a subprocess (``python -c``) that imports these before it caps its
own address space with ``cap_address_space`` and loads the bomb."""
from __future__ import annotations

import resource


def status_kib(field: str, pid: int | str = "self") -> int | None:
    """A ``/proc/<pid>/status`` field in KiB (VmHWM, VmRSS, VmSize, ...); None when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_kib(pid: int | str = "self") -> int | None:
    """Peak resident memory (VmHWM) of the process image, KiB."""
    return status_kib("VmHWM", pid)


def cap_address_space(cap_bytes: int | None = None, headroom_bytes: int | None = None) -> int:
    """Cap this process's address space (RLIMIT_AS) at ``cap_bytes``, or at its present size
    (VmSize) plus ``headroom_bytes``; returns the cap."""
    if cap_bytes is None:
        cap_bytes = status_kib("VmSize") * 1024 + int(headroom_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))
    return cap_bytes
