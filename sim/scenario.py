"""Scenario files (config/scenarios/*.yaml): dataclasses, loading and validation.

Format (see DESIGN.md)::

    name: u_trap                  # required, [a-z0-9_]+
    robot: husky                  # required; a robot the sim knows (sim.robots.ROBOTS)
    arena: [10.0, 10.0]           # required; x, y size in metres, centred on the origin, walled
    obstacles:                    # optional; each 0.5 m high
      - box: {center: [1.5, 0.0], size: [0.2, 3.0], yaw: 0.0}
      - cylinder: {center: [-1.0, 2.0], radius: 0.3}
    start: {x: -3.0, y: 0.0, yaw: 0.0}      # required
    goal: {x: 3.0, y: 0.0, tolerance: 0.3}  # required
    time_limit: 60.0              # simulated seconds; optional, default 60

A bad file raises :class:`ScenarioError` naming the file, the field and what was expected.
No PyBullet or rclpy here.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import yaml

from . import geometry
from .robots import ROBOTS

#: The footprint must keep at least this distance from walls and obstacles at the start.
START_CLEARANCE_M = 0.05
_NAME_RE = re.compile(r"^[a-z0-9_]+$")
BUILTIN = ("open", "wall", "u_trap", "two_rooms", "maze")


class ScenarioError(ValueError):
    """A scenario file that cannot be used: ``file``, ``field`` and ``expected`` say why."""

    def __init__(self, file: str, field: str, expected: str):
        self.file, self.field, self.expected = str(file), field, expected
        super().__init__(f"{self.file}: field '{field}': {expected}")


@dataclass(frozen=True)
class Pose2D:
    x: float
    y: float
    yaw: float = 0.0


@dataclass(frozen=True)
class Goal:
    x: float
    y: float
    tolerance: float = 0.3


@dataclass(frozen=True)
class Box:
    """An axis box 0.5 m high: centre (x, y), size (x, y) before rotation by yaw (rad)."""
    center: tuple[float, float]
    size: tuple[float, float]
    yaw: float = 0.0

    def polygon(self) -> np.ndarray:
        """(4, 2) vertices."""
        return geometry.rectangle(self.center[0], self.center[1], self.size[0], self.size[1], self.yaw)


@dataclass(frozen=True)
class Cylinder:
    """A vertical cylinder 0.5 m high."""
    center: tuple[float, float]
    radius: float


Obstacle = Union[Box, Cylinder]
OBSTACLE_HEIGHT_M = 0.5


@dataclass(frozen=True)
class Scenario:
    name: str
    robot: str
    arena: tuple[float, float]
    obstacles: tuple[Obstacle, ...]
    start: Pose2D
    goal: Goal
    time_limit_s: float = 60.0
    source: str = ""
    description: str = field(default="", compare=False)

    def footprint_clearance_m(self, x: float, y: float, yaw: float) -> float:
        """Distance from the robot footprint at (x, y, yaw) to the nearest wall or obstacle."""
        spec = ROBOTS[self.robot]
        poly = geometry.rectangle(x, y, spec.length_m, spec.width_m, yaw)
        best = geometry.polygon_arena_distance(poly, self.arena)
        for ob in self.obstacles:
            if isinstance(ob, Box):
                d = geometry.polygon_distance(poly, ob.polygon())
            else:
                d = geometry.polygon_circle_distance(poly, np.asarray(ob.center), ob.radius)
            best = min(best, d)
        return best

    def point_free(self, x: float, y: float) -> bool:
        """True when the point lies inside the arena and outside every obstacle."""
        if abs(x) >= self.arena[0] / 2 or abs(y) >= self.arena[1] / 2:
            return False
        p = np.array([x, y])
        for ob in self.obstacles:
            if isinstance(ob, Box) and geometry.point_in_polygon(p, ob.polygon()):
                return False
            if isinstance(ob, Cylinder) and math.hypot(x - ob.center[0], y - ob.center[1]) <= ob.radius:
                return False
        return True

    def summary(self) -> str:
        """One line: name, arena, obstacle count, start → goal, distance, time limit."""
        d = math.hypot(self.goal.x - self.start.x, self.goal.y - self.start.y)
        return (f"{self.name}: {self.robot} in {self.arena[0]:g}x{self.arena[1]:g} m, "
                f"{len(self.obstacles)} obstacles, start ({self.start.x:g}, {self.start.y:g}) → "
                f"goal ({self.goal.x:g}, {self.goal.y:g}) [{d:.1f} m straight], "
                f"time limit {self.time_limit_s:g} s"
                + (f" — {self.description}" if self.description else ""))


def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped in config/scenarios/, in teaching order."""
    from world_model_planner.paths import scenarios_dir

    present = {p.stem for p in scenarios_dir().glob("*.yaml")}
    return [n for n in BUILTIN if n in present] + sorted(present - set(BUILTIN))


def resolve(name_or_path: str | Path) -> Path:
    """A built-in name (``u_trap``) or a path to a YAML file → the file's path."""
    s = str(name_or_path)
    if _NAME_RE.match(s) and not s.endswith((".yaml", ".yml")):
        from world_model_planner.paths import scenarios_dir

        path = scenarios_dir() / f"{s}.yaml"
        if not path.is_file():
            raise ScenarioError(s, "name", f"a built-in scenario ({', '.join(builtin_scenarios())}) "
                                           f"or a path to a .yaml file")
        return path
    path = Path(s)
    if not path.is_file():
        raise ScenarioError(s, "file", "an existing scenario .yaml file")
    return path


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load and validate a scenario by built-in name or file path (raises ScenarioError)."""
    path = resolve(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(path, "(file)", f"valid YAML ({exc})") from exc
    return parse_scenario(data, source=str(path))


# ---------------------------------------------------------------------------------- parsing

_TOP_KEYS = {"name", "robot", "arena", "obstacles", "start", "goal", "time_limit", "description"}


class _Reader:
    def __init__(self, source: str):
        self.source = source

    def fail(self, fld: str, expected: str, got: Any = None):
        suffix = "" if got is None else f", got {got!r}"
        raise ScenarioError(self.source, fld, expected + suffix)

    def number(self, value: Any, fld: str, *, positive: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(fld, "a finite number", value)
        if positive and value <= 0:
            self.fail(fld, "a number > 0", value)
        return float(value)

    def pair(self, value: Any, fld: str, *, positive: bool = False) -> tuple[float, float]:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            self.fail(fld, "a list of two numbers [x, y]", value)
        return (self.number(value[0], f"{fld}[0]", positive=positive),
                self.number(value[1], f"{fld}[1]", positive=positive))

    def mapping(self, value: Any, fld: str, required: set[str], optional: set[str]) -> dict:
        if not isinstance(value, dict):
            self.fail(fld, f"a mapping with keys {sorted(required | optional)}", value)
        missing = required - set(value)
        if missing:
            self.fail(f"{fld}.{sorted(missing)[0]}", "a required key (missing)")
        unknown = set(value) - required - optional
        if unknown:
            self.fail(f"{fld}.{sorted(map(str, unknown))[0]}",
                      f"no unknown keys (allowed: {', '.join(sorted(required | optional))})")
        return value


def parse_scenario(data: Any, source: str = "<memory>") -> Scenario:
    """Validate a parsed YAML document and build a Scenario."""
    r = _Reader(source)
    if not isinstance(data, dict):
        r.fail("(top level)", "a mapping with keys name, robot, arena, start, goal, ...", data)
    for key in ("name", "robot", "arena", "start", "goal"):
        if key not in data:
            r.fail(key, "a required key (missing)")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        r.fail(sorted(map(str, unknown))[0], f"no unknown keys (allowed: {', '.join(sorted(_TOP_KEYS))})")

    name = data["name"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        r.fail("name", "a string matching [a-z0-9_]+", name)
    robot = data["robot"]
    if robot not in ROBOTS:
        r.fail("robot", f"one of {sorted(ROBOTS)}", robot)
    arena = r.pair(data["arena"], "arena", positive=True)
    description = data.get("description", "")
    if not isinstance(description, str):
        r.fail("description", "a string", description)

    obstacles = []
    raw_obs = data.get("obstacles") or []
    if not isinstance(raw_obs, list):
        r.fail("obstacles", "a list of {box: ...} or {cylinder: ...} entries", raw_obs)
    for i, item in enumerate(raw_obs):
        fld = f"obstacles[{i}]"
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in ("box", "cylinder"):
            r.fail(fld, "exactly one of {box: {center, size, yaw}} or {cylinder: {center, radius}}", item)
        kind, spec = next(iter(item.items()))
        if kind == "box":
            spec = r.mapping(spec, f"{fld}.box", {"center", "size"}, {"yaw"})
            obstacles.append(Box(center=r.pair(spec["center"], f"{fld}.box.center"),
                                 size=r.pair(spec["size"], f"{fld}.box.size", positive=True),
                                 yaw=r.number(spec.get("yaw", 0.0), f"{fld}.box.yaw")))
        else:
            spec = r.mapping(spec, f"{fld}.cylinder", {"center", "radius"}, set())
            obstacles.append(Cylinder(center=r.pair(spec["center"], f"{fld}.cylinder.center"),
                                      radius=r.number(spec["radius"], f"{fld}.cylinder.radius",
                                                      positive=True)))

    st = r.mapping(data["start"], "start", {"x", "y"}, {"yaw"})
    start = Pose2D(r.number(st["x"], "start.x"), r.number(st["y"], "start.y"),
                   r.number(st.get("yaw", 0.0), "start.yaw"))
    gl = r.mapping(data["goal"], "goal", {"x", "y"}, {"tolerance"})
    goal = Goal(r.number(gl["x"], "goal.x"), r.number(gl["y"], "goal.y"),
                r.number(gl.get("tolerance", 0.3), "goal.tolerance", positive=True))
    time_limit = r.number(data.get("time_limit", 60.0), "time_limit", positive=True)

    sc = Scenario(name=name, robot=robot, arena=arena, obstacles=tuple(obstacles), start=start,
                  goal=goal, time_limit_s=time_limit, source=source, description=description)

    # Geometry: the robot must fit at the start; the goal must be reachable ground.
    spec = ROBOTS[robot]
    clearance = sc.footprint_clearance_m(start.x, start.y, start.yaw)
    if clearance < START_CLEARANCE_M:
        r.fail("start", f"a pose where the {robot} footprint ({spec.length_m} x {spec.width_m} m) "
                        f"keeps >= {START_CLEARANCE_M} m from walls and obstacles; it has "
                        f"{clearance:.2f} m at ({start.x:g}, {start.y:g}, yaw {start.yaw:g})")
    if abs(goal.x) >= arena[0] / 2 or abs(goal.y) >= arena[1] / 2:
        r.fail("goal", f"a point inside the arena (|x| < {arena[0] / 2:g}, |y| < {arena[1] / 2:g})",
               (goal.x, goal.y))
    if not sc.point_free(goal.x, goal.y):
        r.fail("goal", "a point outside every obstacle", (goal.x, goal.y))
    return sc
