"""/diagnostics with typed keys: one description per status, used to publish and to read back.

Each node's DiagnosticStatus is a :class:`Status` (its name, the names it may appear under)
holding :class:`Key` objects. A Key is the key string itself (``SIM.collisions == "collisions"``)
that also knows its value type, so the node builds its values with it and a reader (the episode
runner, the session report) parses them with it::

    build(SIM, {SIM.collisions: 3, SIM.clearance_m: 0.42}, stamp)      # publish
    SIM.collisions.read(values)                                          # -> 3 (int) or None

Values travel as strings (diagnostic_msgs/KeyValue): booleans as ``true``/``false``, floats
with 4 decimals (``nan`` when unknown), everything else with ``str``. Message classes are
imported where a message is built; nothing here imports rclpy.
"""
from __future__ import annotations

import math
from typing import Iterable, Iterator, Mapping

OK, WARN, ERROR, STALE = 0, 1, 2, 3


class Key(str):
    """A diagnostics key: the key string, plus the type its value is read back as."""

    kind: type

    def __new__(cls, name: str, kind: type = str):
        obj = super().__new__(cls, name)
        obj.kind = kind
        return obj

    def read(self, values: Mapping[str, str], finite: bool = True):
        """The value under this key parsed as ``kind``; None when absent, unparsable or (with
        ``finite``) a number that is not finite."""
        raw = values.get(self)
        if raw is None:
            return None
        if self.kind is str:
            return raw
        if self.kind is bool:
            return {"true": True, "false": False}.get(str(raw).strip().lower())
        try:
            f = float(raw)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(f):
            return None if finite or self.kind is int else f
        return int(f) if self.kind is int else f


class Status:
    """One DiagnosticStatus: ``name`` as published, ``aliases`` it is also read under (the node
    or executable name), and its keys as attributes."""

    def __init__(self, name: str, aliases: Iterable[str] = (), **keys: type):
        self.name = name
        self.aliases = (name, *aliases)
        self.keys = {k: Key(k, kind) for k, kind in keys.items()}
        for k, key in self.keys.items():
            setattr(self, k, key)

    def matches(self, status_name: str) -> bool:
        """True when a received DiagnosticStatus name (``sim``, ``/sim_node``, ``node: sim``)
        is this status."""
        return role_of(status_name) in self.aliases

    def __repr__(self) -> str:
        return f"Status({self.name!r})"


SIM = Status("sim", ("sim_node",), collisions=int, in_contact=bool, clearance_m=float,
             realtime_factor=float, sim_time_s=float, goal_reached=bool, scenario=str, estop=bool,
             paused=bool, seed=int, lockstep_timeouts=int)
PLANNER = Status("planner", ("planner_node",), state=str, plan_time_ms=float, plan_hz=float,
                 best_cost=float, subgoals=int, planner=str, model=str, reason=str, goal_frame=str,
                 waypoint=str, waypoints_reached=int, waypoint_reached=str, prior_map=str,
                 recoveries=int, recoveries_resolved=int, recovery_log=str, budget_samples=int,
                 budget_horizon=int, tick_time_ms=float, period_ms=float, budget_reduced=bool,
                 budget_behind=bool, device=str, model_error_m=float, speed_limit_mps=float,
                 held_back=bool, yaw_limit_radps=float)
WORLD_MODEL = Status("world_model", ("world_model_node",), checkpoint=str, online_finetune=str)
CMD_MUX = Status("cmd_mux", (), selected=str, locked=bool, interventions=int,
                 intervention_active=bool, rejected_nonfinite=int, limited=int, limiter_refused=int)
#: one key per managed node (its state); the keys are the node names
LIFECYCLE_MANAGER = Status("lifecycle_manager")
#: the recorder's validation metadata plus ``messages``
SESSION_RECORDER = Status("session_recorder", (), messages=int, checked=int, invalid=int,
                          last_reason=str)


def role_of(status_name: str) -> str:
    """The bare status name of a received DiagnosticStatus name (``node: sim`` → ``sim``,
    ``/ns/sim_node`` → ``sim_node``)."""
    return status_name.split(":")[-1].strip().split("/")[-1]


def format_value(v) -> str:
    """A value as it travels in a KeyValue."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def build(status: Status | str, values: Mapping, stamp, level: int = OK, message: str = "",
          hardware_id: str = ""):
    """A diagnostic_msgs/DiagnosticArray with one DiagnosticStatus of ``values``.

    ``status``: a :class:`Status` or a plain name; ``level``: OK/WARN/ERROR/STALE;
    ``stamp``: builtin_interfaces/Time for the header."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    name = status.name if isinstance(status, Status) else status
    st = DiagnosticStatus(level=bytes([int(level)]), name=name, message=message,
                          hardware_id=hardware_id,
                          values=[KeyValue(key=str(k), value=format_value(v)) for k, v in values.items()])
    arr = DiagnosticArray(status=[st])
    arr.header.stamp = stamp
    return arr


def statuses(msg) -> Iterator[tuple[str, dict[str, str]]]:
    """(bare status name, {key: value}) for each DiagnosticStatus of a DiagnosticArray."""
    for st in msg.status:
        yield role_of(st.name), {kv.key: kv.value for kv in st.values}


def find(msg, status: Status) -> dict[str, str] | None:
    """The values of the last DiagnosticStatus in ``msg`` that is ``status``; None if none is."""
    found = None
    for role, values in statuses(msg):
        if role in status.aliases:
            found = values
    return found
