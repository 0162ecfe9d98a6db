"""Small rclpy helpers shared by the thin nodes: parameter declaration from a documented
dataclass, time conversion, and a ``main()`` wrapper that shuts down cleanly."""
from __future__ import annotations

import dataclasses
import os
import sys
import threading
from typing import Callable, TypeVar

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.executors import ExternalShutdownException

from .params import ConfigError

T = TypeVar("T")


def declare_config(node, cfg_cls: type[T], prefix: str = "", overrides: dict | None = None) -> T:
    """Declare one ROS parameter per ``param()`` field of ``cfg_cls`` and build the config.

    Each parameter gets its description, its range as a descriptor, and its default from the
    dataclass. Values set from YAML or the command line are validated by the dataclass; a bad
    value raises ConfigError naming the parameter.
    """
    values = {}
    defaults = cfg_cls()  # type: ignore[call-arg]
    for f in dataclasses.fields(cfg_cls):
        if not f.metadata.get("ros", True) or "description" not in f.metadata:
            continue
        default = getattr(defaults, f.name)
        if overrides and f.name in overrides:
            default = overrides[f.name]
        desc = ParameterDescriptor(description=f.metadata["description"])
        lo_hi = f.metadata.get("range")
        if lo_hi is not None and not isinstance(default, bool):
            if isinstance(default, int):
                desc.integer_range = [IntegerRange(from_value=int(lo_hi[0]), to_value=int(lo_hi[1]), step=1)]
            elif isinstance(default, float):
                desc.floating_point_range = [FloatingPointRange(
                    from_value=float(lo_hi[0]), to_value=float(lo_hi[1]), step=0.0)]
        if f.metadata.get("choices"):
            desc.additional_constraints = "one of: " + ", ".join(map(str, f.metadata["choices"]))
        name = prefix + f.name
        value = node.declare_parameter(name, default, desc).value
        if isinstance(default, float) and isinstance(value, int):
            value = float(value)
        values[f.name] = list(value) if isinstance(value, (list, tuple)) else value
    try:
        return cfg_cls(**values)
    except ConfigError as exc:
        raise ConfigError(f"node '{node.get_name()}' parameter: {exc}") from exc


def stamp_to_sec(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(t: float):
    from builtin_interfaces.msg import Time

    sec = int(t // 1)
    nsec = int(round((t - sec) * 1e9))
    if nsec >= 1_000_000_000:
        sec, nsec = sec + 1, nsec - 1_000_000_000
    return Time(sec=sec, nanosec=nsec)


def spin_main(make_node: Callable[[], object], args=None) -> int:
    """Init rclpy, build the node, spin until Ctrl-C or external shutdown, clean up.

    Works on Humble, Jazzy and Kilted (no ``with rclpy.init()``). Returns an exit status.
    """
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    status = 0
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ConfigError as exc:
        print(f"[error] {exc}", file=sys.stderr)
        status = 2
    finally:
        if node is not None and not _destroy_within(node, DESTROY_TIMEOUT_S):
            # an entity still in use can block destroy_node forever; never hang on Ctrl-C
            print(f"[warn] destroy_node did not finish within {DESTROY_TIMEOUT_S} s; exiting anyway",
                  file=sys.stderr)
            sys.stderr.flush()
            sys.stdout.flush()
            os._exit(status)
        if rclpy.ok():
            rclpy.try_shutdown()
    return status


DESTROY_TIMEOUT_S = 10.0


def _destroy_within(node, timeout_s: float) -> bool:
    """Destroy ``node`` in a helper thread; False if it did not finish within ``timeout_s``."""
    def destroy():
        try:
            node.destroy_node()
        except Exception as exc:  # noqa: BLE001 - report and keep shutting down
            print(f"[warn] destroy_node: {exc}", file=sys.stderr)

    worker = threading.Thread(target=destroy, name="destroy_node", daemon=True)
    worker.start()
    worker.join(timeout_s)
    return not worker.is_alive()
