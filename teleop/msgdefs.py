"""ROS 2 message definitions for MCAP schemas, read from the message packages' .msg files.

A ``ros2msg`` schema is the type's own .msg text followed by every type it uses, each after a
separator line and ``MSG: pkg/Type`` (the layout rosbag2 writes). The .msg files come
from ``share/<pkg>/msg/`` of an installed message package, found through ament_index (a
ROS install or colcon workspace), else in this interpreter's prefix (the PyPI ROS wheels).

This module never imports rclpy.
"""
from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

SEPARATOR = "=" * 80
_PRIMITIVES = {"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16",
               "int32", "uint32", "int64", "uint64", "string", "wstring", "time", "duration"}


class MsgDefError(LookupError):
    """A message type whose .msg file cannot be found."""


def _split_type(name: str) -> tuple[str, str]:
    """'nav_msgs/msg/Odometry' or 'nav_msgs/Odometry' -> ('nav_msgs', 'Odometry')."""
    parts = name.split("/")
    if len(parts) == 3 and parts[1] == "msg":
        return parts[0], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise MsgDefError(f"message type {name!r}: expected 'pkg/msg/Type' or 'pkg/Type'")


def _share_candidates(pkg: str) -> list[Path]:
    out = []
    try:
        from ament_index_python.packages import get_package_share_directory

        out.append(Path(get_package_share_directory(pkg)))
    except Exception:  # noqa: BLE001 - not found there, or no ament_index: try the prefix
        pass
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        out.append(Path(prefix) / "share" / pkg)
    return out


@functools.lru_cache(maxsize=None)
def msg_text(name: str) -> str:
    """The .msg file text of one type."""
    pkg, typ = _split_type(name)
    tried = []
    for share in _share_candidates(pkg):
        path = share / "msg" / f"{typ}.msg"
        tried.append(str(path))
        if path.is_file():
            return path.read_text()
    raise MsgDefError(f"no definition for {pkg}/msg/{typ}: expected a .msg file at one of {tried}")


def _field_types(pkg: str, text: str) -> list[str]:
    """Complex types a .msg text uses, as 'pkg/msg/Type', in order of first use."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        typ = line.split()[0]
        if re.match(r"^\S+\s+[A-Za-z_]\w*\s*=", line):
            continue  # a constant ("uint8 OK=0"): always primitive
        base = re.sub(r"\[.*\]$", "", typ)
        base = re.sub(r"<=\d+$", "", base)
        if base in _PRIMITIVES:
            continue
        full = f"{base.split('/')[0]}/msg/{base.split('/')[-1]}" if "/" in base else f"{pkg}/msg/{base}"
        if full not in out:
            out.append(full)
    return out


@functools.lru_cache(maxsize=None)
def full_definition(name: str) -> str:
    """The concatenated definition of ``name`` and all types it depends on (depth first)."""
    pkg, typ = _split_type(name)
    root = f"{pkg}/msg/{typ}"
    seen: list[str] = []

    def visit(t: str):
        for dep in _field_types(t.split("/")[0], msg_text(t)):
            if dep not in seen and dep != root:
                seen.append(dep)
                visit(dep)

    visit(root)
    parts = [msg_text(root).rstrip("\n")]
    for dep in seen:
        parts.append(f"{SEPARATOR}\nMSG: {dep.replace('/msg/', '/')}\n{msg_text(dep).rstrip(chr(10))}")
    return "\n".join(parts) + "\n"
