"""Typed, documented configuration fields, declared once.

Library configs are dataclasses whose fields are built with :func:`param`, which records a
description and a valid range (or a set of choices). :func:`validate` checks an instance
against them (call it from ``__post_init__``); the ROS layer (``rosutil.declare_config``)
turns the same fields into ROS parameters with descriptors, so every parameter is declared
exactly once, with its type, default, description and range.

This module never imports rclpy.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable


#: How long a velocity command stays valid without a newer one (s): the one default of every
#: command timeout (sim ``cmd_timeout_s``, mux ``input_timeouts_s``, limiter ``timeout_s``, joystick
#: ``joy_timeout_s``, recorded-command holding in the report and in world-model data loading).
CMD_TIMEOUT_S = 0.5


def param(default: Any, description: str, *, range: tuple[float, float] | None = None,
          choices: Iterable[Any] | None = None, ros: bool = True):
    """A dataclass field with documentation and validation metadata.

    range: inclusive (low, high) bounds for numbers. choices: allowed values (of each item, for a
    list).
    ros: False keeps the field out of the ROS parameter layer.
    """
    meta = {"description": description, "range": range,
            "choices": tuple(choices) if choices is not None else None, "ros": ros}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class ConfigError(ValueError):
    """A configuration value outside its documented range or choices."""


def validate(cfg) -> None:
    """Raise ConfigError naming the field, the value and what was expected."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        lo_hi = f.metadata.get("range")
        choices = f.metadata.get("choices")
        where = f"{type(cfg).__name__}.{f.name}"
        if lo_hi is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{where}: expected a number in [{lo_hi[0]}, {lo_hi[1]}], got {value!r}")
            if isinstance(value, int) and value.bit_length() > 64:
                raise ConfigError(f"{where}: expected a value in [{lo_hi[0]}, {lo_hi[1]}], got an int of "
                                  f"{value.bit_length()} bits")
            if not math.isfinite(value) or not lo_hi[0] <= value <= lo_hi[1]:
                raise ConfigError(f"{where}: expected a value in [{lo_hi[0]}, {lo_hi[1]}], got {value!r}")
        if choices is not None:
            bad = [v for v in value if v not in choices] if isinstance(value, (list, tuple)) else \
                ([] if value in choices else [value])
            if bad:
                raise ConfigError(f"{where}: expected one of {list(choices)}"
                                  + (" for each item" if isinstance(value, (list, tuple)) else "")
                                  + f", got {bad[0]!r}")


def describe(cfg_cls) -> list[dict]:
    """Rows for a parameter table: name, type, default, range/choices, description."""
    rows = []
    for f in dataclasses.fields(cfg_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        rows.append({
            "name": f.name,
            "type": type(default).__name__,
            "default": default,
            "range": f.metadata.get("range"),
            "choices": f.metadata.get("choices"),
            "description": f.metadata.get("description", ""),
        })
    return rows


def markdown_table(cfg_cls, prefix: str = "") -> str:
    """A Markdown parameter table for the README."""
    lines = ["| parameter | type | default | range | description |", "|---|---|---|---|---|"]
    for r in describe(cfg_cls):
        rng = (f"[{r['range'][0]}, {r['range'][1]}]" if r["range"] else
               (" / ".join(map(str, r["choices"])) if r["choices"] else ""))
        lines.append(f"| `{prefix}{r['name']}` | {r['type']} | `{r['default']}` | {rng} | {r['description']} |")
    return "\n".join(lines)
