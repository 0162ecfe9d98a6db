"""Waypoints: goals visited in order, each in its own frame. No rclpy.

A route comes from a nav_msgs/Path on /waypoints (each pose with its own header frame) or from
a YAML file (``wmp run --waypoints FILE.yaml``)::

    frame: map                 # frame of the waypoints that name none (default: odom)
    waypoints:
      - {x: 1.0, y: 2.0}
      - {x: 3.0, y: 0.0, yaw: 1.57, frame: odom}
      - [2.0, -1.0]            # x, y

The planner pursues one waypoint at a time with the same checks and refusals as a single
goal; when it reports "reached" the route records a ``waypoint_reached`` event and moves on.
A refused waypoint ends the route (the robot stops; the reason names the waypoint).
"""
from __future__ import annotations

import math
import re

from world_model_planner.core.safeio import InputError, clip, load_yaml

from world_model_planner.planner_node.localization import FrameGoal

#: Most waypoints in one route (file or message).
MAX_WAYPOINTS = 1000
_FRAME = re.compile(r"^[A-Za-z0-9_/\-.]{1,100}$")


class WaypointRoute:
    """Goals in order; ``index`` is the one pursued; ``events`` (index, t_s) the ones reached."""

    def __init__(self, goals: list[FrameGoal]):
        if not goals:
            raise ValueError("a route needs at least one waypoint")
        if len(goals) > MAX_WAYPOINTS:
            raise ValueError(f"a route holds at most {MAX_WAYPOINTS} waypoints, got {len(goals)}")
        self.goals = list(goals)
        self.index = 0
        self.events: list[tuple[int, float]] = []

    def __len__(self) -> int:
        return len(self.goals)

    @property
    def done(self) -> bool:
        return self.index >= len(self.goals)

    def current(self) -> FrameGoal | None:
        return None if self.done else self.goals[self.index]

    def reached(self, t_s: float) -> FrameGoal | None:
        """Record that the current waypoint was reached at t_s; return the next (None at the end)."""
        if self.done:
            return None
        self.events.append((self.index, float(t_s)))
        self.index += 1
        return self.current()

    def label(self) -> str:
        """'waypoint i/n' of the one pursued (1-based)."""
        return f"waypoint {min(self.index + 1, len(self.goals))}/{len(self.goals)}"


def _number(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise InputError(f"{where}: expected a finite number, got {clip(v, 60)}")
    return float(v)


def _frame(v, where: str) -> str:
    if not isinstance(v, str) or not _FRAME.match(v):
        raise InputError(f"{where}: expected a frame name (letters, digits, _ / - ., 1-100 chars), got {clip(v, 60)}")
    return v


def parse_waypoints(data, source: str = "<memory>", default_frame: str = "odom") -> list[FrameGoal]:
    """Waypoints from parsed YAML (see the module docstring); InputError names the file and field."""
    if not isinstance(data, dict) or "waypoints" not in data:
        raise InputError(f"{source}: expected a mapping with a 'waypoints' list")
    unknown = set(data) - {"frame", "waypoints"}
    if unknown:
        raise InputError(f"{source}: unknown field(s) {sorted(map(str, unknown))}; expected frame, waypoints")
    frame = _frame(data["frame"], f"{source}: field 'frame'") if "frame" in data else default_frame
    items = data["waypoints"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_WAYPOINTS:
        raise InputError(f"{source}: field 'waypoints': expected a list of 1..{MAX_WAYPOINTS} waypoints")
    out = []
    for i, it in enumerate(items):
        where = f"{source}: field 'waypoints[{i}]'"
        if isinstance(it, (list, tuple)):
            if len(it) not in (2, 3):
                raise InputError(f"{where}: expected [x, y] or [x, y, yaw], got {clip(it, 60)}")
            vals = [_number(v, where) for v in it]
            out.append(FrameGoal(frame, vals[0], vals[1], vals[2] if len(vals) == 3 else None))
        elif isinstance(it, dict):
            extra = set(it) - {"x", "y", "yaw", "frame"}
            if extra or not {"x", "y"} <= set(it):
                raise InputError(f"{where}: expected keys x, y and optionally yaw, frame; got {sorted(map(str, it))}")
            yaw = _number(it["yaw"], f"{where}.yaw") if "yaw" in it else None
            fr = _frame(it["frame"], f"{where}.frame") if "frame" in it else frame
            out.append(FrameGoal(fr, _number(it["x"], f"{where}.x"), _number(it["y"], f"{where}.y"), yaw))
        else:
            raise InputError(f"{where}: expected {{x, y}} or [x, y], got {clip(it, 60)}")
    return out


def load_waypoints(path, default_frame: str = "odom") -> list[FrameGoal]:
    """Waypoints from a YAML file (bounded safe load)."""
    return parse_waypoints(load_yaml(path, what="waypoints file"), str(path), default_frame)
