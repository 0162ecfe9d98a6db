"""Up-front checks of command-line paths, so that a bad one is refused in one line (exit 2)
before any work starts, instead of a traceback at the end of a run. No rclpy, no torch."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def refuse(prog: str, message: str) -> int:
    """Print ``<prog>: error: <message>`` (one line) to stderr; return exit status 2."""
    first = str(message).splitlines()[0] if str(message) else "refused"
    print(f"{prog}: error: {first}", file=sys.stderr)
    return 2


def _blocking_parent(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` that is not a directory (it blocks mkdir)."""
    for parent in list(reversed(path.parents)):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def out_dir_problem(path: str | os.PathLike, flag: str) -> str | None:
    """Why ``path`` cannot be an output directory (created if missing), or None."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        return f"{flag} {p}: is an existing file; expected a directory"
    blocker = _blocking_parent(p)
    if blocker is not None:
        return f"{flag} {p}: {blocker} is a file, not a directory"
    existing = p if p.exists() else next((a for a in p.parents if a.exists()), Path("."))
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{flag} {p}: {existing} is not writable"
    return None


def out_file_problem(path: str | os.PathLike, flag: str) -> str | None:
    """Why ``path`` cannot be an output file (its folder is created if missing), or None."""
    p = Path(path)
    if p.is_dir():
        return f"{flag} {p}: is a directory; expected a file name"
    if p.name in ("", ".", ".."):
        return f"{flag} {p}: expected a file name"
    parent = p.parent
    if parent.exists() and not parent.is_dir():
        return f"{flag} {p}: {parent} is a file, not a directory"
    why = out_dir_problem(parent, flag)
    return None if why is None else f"{flag} {p}: cannot create it ({why.split(': ', 1)[1]})"


def in_file_problem(path: str | os.PathLike, flag: str) -> str | None:
    """Why ``path`` cannot be read as an input file, or None."""
    p = Path(path)
    if not p.exists():
        return f"{flag} {p}: no such file"
    if p.is_dir():
        return f"{flag} {p}: is a directory; expected a file"
    if not os.access(p, os.R_OK):
        return f"{flag} {p}: not readable"
    return None
