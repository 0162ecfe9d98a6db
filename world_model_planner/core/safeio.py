"""Bounded, atomic file handling shared by every reader and writer of the project.

- :func:`clip` quotes at most a bounded prefix of a bad value in an error message.
- :func:`read_capped` reads a file without trusting its declared size.
- :func:`load_yaml` is ``yaml.safe_load`` with a size cap, a cap on the *expanded* node count
  (alias bombs) and a nesting cap; every failure is one :class:`InputError` naming the file.
- :func:`atomic_write_bytes`, :func:`atomic_write_text` and :func:`atomic_path` write through a
  temporary file in the target's folder, fsync it, then rename it over the target, so a reader
  sees the old file or the new one and never half of one (a crash or a full disk leaves the old
  file and no stray temporary).

This module never imports rclpy or torch.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

#: Default caps. Scenario and parameter files are a few KiB; these leave room and stop bombs.
YAML_MAX_BYTES = 1 << 20          # 1 MiB
YAML_MAX_NODES = 200_000          # scalars + collections after alias expansion
YAML_MAX_DEPTH = 64               # nesting of collections
CLIP_CHARS = 80


class InputError(ValueError):
    """Bad input from a file or a user: the message is one line, safe to print as it is."""


def clip(value, limit: int = CLIP_CHARS) -> str:
    """``repr(value)`` cut to at most ``limit`` characters (with a note of how much was cut).

    Never builds the full repr of a huge container: containers are summarised by type and length.
    """
    if isinstance(value, (list, tuple, dict, set)) and len(value) > 16:
        return f"<{type(value).__name__} of {len(value)} items>"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"<int of ~{int(value.bit_length() * 0.30103)} digits>"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a repr that raises (e.g. int too large) is summarised
        return f"<{type(value).__name__}>"
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more chars)"


def is_file(path: str | os.PathLike) -> bool:
    """``Path(path).is_file()``, False (not an exception) for a name the OS cannot take (too long,
    a NUL byte)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def read_capped(path: str | os.PathLike, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of ``path``; InputError if it holds more than ``max_bytes`` (read, not stat)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{p}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{p}: expected a {what}, found a directory") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(f"{p}: {what} is larger than the {max_bytes} byte limit")
    return data


def _expanded_size(node, depth: int, memo: dict, max_depth: int, path_ids: set) -> int:
    """Node count of ``node`` with every alias expanded; raises on depth or recursion."""
    key = id(node)
    if key in memo:
        return memo[key]
    if depth > max_depth:
        raise InputError(f"nesting deeper than {max_depth} levels")
    if key in path_ids:
        raise InputError("recursive alias (a collection that contains itself)")
    value = node.value
    total = 1
    if isinstance(value, list):
        path_ids.add(key)
        for item in value:
            if isinstance(item, tuple):      # mapping: (key_node, value_node)
                total += _expanded_size(item[0], depth + 1, memo, max_depth, path_ids)
                total += _expanded_size(item[1], depth + 1, memo, max_depth, path_ids)
            else:
                total += _expanded_size(item, depth + 1, memo, max_depth, path_ids)
        path_ids.discard(key)
    memo[key] = total
    return total


def load_yaml(source: str | os.PathLike | bytes, *, what: str = "YAML file", name: str | None = None,
              max_bytes: int = YAML_MAX_BYTES, max_nodes: int = YAML_MAX_NODES,
              max_depth: int = YAML_MAX_DEPTH):
    """``yaml.safe_load`` of a path (or of bytes, then ``name`` labels it), with caps.

    Raises InputError("<name>: ...") for a missing or oversized file, invalid YAML, more than
    ``max_nodes`` nodes after alias expansion, nesting deeper than ``max_depth``, or recursion.
    """
    import yaml

    if isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), name or "<input>"
        if len(data) > max_bytes:
            raise InputError(f"{label}: {what} is larger than the {max_bytes} byte limit")
    else:
        data, label = read_capped(source, max_bytes, what), name or str(source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)   # libyaml where present: ~4x faster
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            size = _expanded_size(node, 0, {}, max_depth, set())
            if size > max_nodes:
                raise InputError(f"{what} expands to more than {max_nodes} YAML nodes "
                                 f"(aliases included); refusing it")
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except InputError as exc:
        raise InputError(f"{label}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(f"{label}: not valid YAML{where}: {clip(str(problem), 120)}") from None
    except RecursionError:
        raise InputError(f"{label}: nesting too deep to parse") from None
    except (ValueError, OverflowError, TypeError) as exc:   # e.g. a date such as 2001-02-30
        raise InputError(f"{label}: value not understood: {clip(str(exc), 120)}") from None


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race other threads)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed over ``path``.

    For writers that want a file name (``np.savez``, ``torch.save``, ``fig.savefig``). The
    temporary keeps ``path``'s suffix (or ``suffix``) so that such writers pick the right format.
    On any exception the temporary is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=(suffix if suffix is not None else
                                    "".join(target.suffixes) or ".tmp"), dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes 0600; the result is an ordinary file
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))
