"""Scenario files (config/scenarios/*.yaml): dataclasses, loading and validation.

Format (the README's "Simulation" section documents every field and bound)::

    name: u_trap                  # required, [a-z0-9_]+, at most 64 characters
    robot: husky                  # required; a robot the sim knows (world_model_planner.sim.robots.ROBOTS:
                                  # husky, jackal, turtlebot4); load_scenario(robot=...) overrides it
    arena: [10.0, 10.0]           # required; x, y size in metres, centred on the origin, walled
    obstacles:                    # optional; each 0.5 m high
      - box: {center: [1.5, 0.0], size: [0.2, 3.0], yaw: 0.0}
      - cylinder: {center: [-1.0, 2.0], radius: 0.3}
    start: {x: -3.0, y: 0.0, yaw: 0.0}      # required
    goal: {x: 3.0, y: 0.0, tolerance: 0.3}  # required
    time_limit: 60.0              # simulated seconds; optional, default 60
    description: one line         # optional
    terrain: [...]                # optional; ground regions (world_model_planner.sim.terrain)
    ramps: [...]                  # optional; slopes to drive up and down (sim.terrain)
    payload_kg: 0.0               # optional; mass added to the base, kg
    latency_s: 0.0                # optional; delay between a command and the motors, s
    movers: [...]                 # optional; people and carts that move (world_model_planner.sim.movers)
    barn: {reference_length_m: 12.3, reference: path_0.npy}  # optional; BARN Challenge rules
                                  # (a collision ends the episode as a failure; BARN score)

Bounds (a file outside them is refused; see the constants below):

    file                 at most 512 KiB, at most 200,000 YAML nodes after alias expansion,
                         nesting at most 64 deep (world_model_planner.core.safeio.load_yaml)
    arena                each side in [1, 200] m
    obstacles            at most 5000
    box / cylinder       centre inside the arena; box sides and cylinder radius at least
                         0.01 m, box sides at most the arena diagonal, radius at most half of it
    yaw (box, start)     radians in [-2*pi, 2*pi]
    start, goal          inside the arena (strictly); the robot footprint at the start keeps
                         >= 0.05 m from walls and obstacles; the goal is outside every obstacle
    goal.tolerance       metres in [0.05, a quarter of the arena's shorter side]
    time_limit           simulated seconds in [1, 3600]
    name / description   at most 64 / 500 characters

A bad file raises :class:`ScenarioError` (an ``InputError``): one line naming the file, the
field and what was expected, quoting at most a bounded prefix of the bad value. No PyBullet
or rclpy here.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from world_model_planner.core.safeio import YAML_MAX_DEPTH, InputError, clip, is_file, load_yaml, read_capped

from world_model_planner.sim import geometry
from world_model_planner.sim.robots import ROBOTS

#: The footprint must keep at least this distance from walls and obstacles at the start.
START_CLEARANCE_M = 0.05
_NAME_RE = re.compile(r"^[a-z0-9_]+$")
#: generated navigation tasks (world_model_node.collect.random_task): random:SEED, random_rooms:SEED,
#: and either with +dyn (terrain patches, payload, latency and movers drawn as collection draws them)
GENERATED_RE = re.compile(r"^(random|random_rooms)(\+dyn)?:([0-9]{1,9})$")
BUILTIN = ("open", "wall", "u_trap", "two_rooms", "maze")
#: The dynamics suite: ground, loads, latency and moving people that a unicycle does not know.
DYNAMICS = ("ice_bend", "mud_field", "ramp_door", "heavy_stop", "crossing", "walkers", "cart_door")
#: Named scenario suites (``wmp bench --scenarios builtin|dynamics|all``).
SUITES = {"builtin": BUILTIN, "dynamics": DYNAMICS, "all": BUILTIN + DYNAMICS}

# Input bounds (module docstring). They keep every consumer (PyBullet, the lidar, the metrics'
# occupancy grid, the planners' maps) within sizes it can handle, whatever the file says.
SCENARIO_MAX_BYTES = 512 * 1024   # 5000 obstacles in flow style take ~250 KB
SCENARIO_MAX_NODES = 200_000
ARENA_RANGE_M = (1.0, 200.0)
MAX_OBSTACLES = 5000
OBSTACLE_MIN_M = 0.01
YAW_LIMIT_RAD = 2.0 * math.pi
TOLERANCE_MIN_M = 0.05
TOLERANCE_ARENA_FRACTION = 0.25
TIME_LIMIT_RANGE_S = (1.0, 3600.0)
NAME_MAX_CHARS = 64
DESCRIPTION_MAX_CHARS = 500
#: Bounds on the parts of an error message (file, field, expectation): one short line.
_FILE_CHARS, _FIELD_CHARS, _EXPECTED_CHARS = 200, 120, 400


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


class ScenarioError(InputError):
    """A scenario file that cannot be used: ``file``, ``field`` and ``expected`` say why.

    The message is one line of at most ~750 characters, whatever the input."""

    def __init__(self, file: str, field: str, expected: str):
        self.file = _one_line(file, _FILE_CHARS)
        self.field = _one_line(field, _FIELD_CHARS)
        self.expected = _one_line(expected, _EXPECTED_CHARS)
        super().__init__(f"{self.file}: field '{self.field}': {self.expected}")


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


@dataclass(frozen=True)
class BarnRules:
    """The BARN Challenge's rules (sim.world_import): a collision ends the episode as a failure,
    and the episode gets a BARN score (core.metrics.barn_score) from the reference path length,
    or, where none is given, from the shortest path on the true map."""
    reference_length_m: float | None = None
    reference: str = ""           # where the length comes from (e.g. the path file's name)


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
    terrain: tuple = ()           # tuple[terrain.TerrainRegion, ...]
    ramps: tuple = ()             # tuple[terrain.Ramp, ...]
    payload_kg: float = 0.0
    latency_s: float = 0.0
    movers: tuple = ()            # tuple[movers.MoverSpec, ...]
    barn: BarnRules | None = None

    def footprint_clearance_m(self, x: float, y: float, yaw: float) -> float:
        """Distance from the robot footprint at (x, y, yaw) to the nearest wall or obstacle."""
        poly = ROBOTS[self.robot].footprint_polygon(x, y, yaw)
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
    from world_model_planner.core.paths import scenarios_dir

    present = {p.stem for p in scenarios_dir().glob("*.yaml")}
    known = BUILTIN + DYNAMICS
    return [n for n in known if n in present] + sorted(present - set(known))


def suite(name: str) -> list[str]:
    """The scenario names of a suite in SUITES that are present in config/scenarios/."""
    present = set(builtin_scenarios())
    return [n for n in SUITES[name] if n in present]


def resolve(name_or_path: str | Path) -> Path:
    """A built-in name (``u_trap``) or a path to a YAML file → the file's path."""
    s = str(name_or_path)
    shown = clip(s, _FILE_CHARS) if len(s) > _FILE_CHARS or not s.isprintable() else s
    if _NAME_RE.match(s) and len(s) <= NAME_MAX_CHARS and not s.endswith((".yaml", ".yml")):
        from world_model_planner.core.paths import scenarios_dir

        path = scenarios_dir() / f"{s}.yaml"
        if not path.is_file():
            raise ScenarioError(s, "name", f"a built-in scenario ({', '.join(builtin_scenarios())}) "
                                           f"or a path to a .yaml file")
        return path
    path = Path(s)
    if not is_file(path):
        raise ScenarioError(shown, "file", "an existing scenario .yaml file")
    return path


def load_scenario(name_or_path: str | Path, robot: str | None = None) -> Scenario:
    """Load and validate a scenario by built-in name or file path (raises ScenarioError).

    The file is read through ``safeio.load_yaml`` (size, alias-expansion and depth caps).
    ``robot`` (a name in sim.robots.ROBOTS) replaces the file's ``robot:``; the start must fit
    the new footprint, and a time limit written for a faster robot grows by the ratio of their
    top speeds (the TurtleBot 4 gets 1.0 / 0.31 times a Husky scenario's limit).

    A generated task's name (``GENERATED_RE``: ``random:SEED``, ``random_rooms+dyn:SEED``, ...)
    gives the task ``world_model_node.collect.random_task`` draws from that seed for ``robot``
    (default the Husky), the same in every process, with the time limit grown in the same way."""
    gen = GENERATED_RE.match(str(name_or_path))
    if gen:
        return _generated(gen, robot)
    path = resolve(name_or_path)
    try:
        raw = read_capped(path, SCENARIO_MAX_BYTES, "scenario file")
        depth = _flow_depth(raw)
        if depth > YAML_MAX_DEPTH:      # PyYAML's scanner is quadratic in flow depth: refuse first
            raise InputError(f"nesting deeper than {YAML_MAX_DEPTH} levels ([ and {{ nested {depth} deep)")
        data = load_yaml(raw, what="scenario file", name=str(path),
                         max_bytes=SCENARIO_MAX_BYTES, max_nodes=SCENARIO_MAX_NODES)
    except InputError as exc:
        text = str(exc)
        text = text[len(str(path)) + 2:] if text.startswith(f"{path}: ") else text
        raise ScenarioError(path, "(file)", text) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # constructors YAML lets through: a date such as 2001-02-30, an int of 5000 digits
        raise ScenarioError(path, "(file)", f"valid YAML values ({type(exc).__name__}: "
                                            f"{clip(str(exc), 120)})") from None
    if robot is not None and isinstance(data, dict) and robot != data.get("robot"):
        data = with_robot(data, robot)
    return parse_scenario(data, source=str(path))


def _generated(m: re.Match, robot: str | None) -> Scenario:
    from dataclasses import replace

    from world_model_planner.world_model_node.collect import random_task

    robot = robot or "husky"
    if robot not in ROBOTS:
        raise ScenarioError(m.group(0), "robot", f"one of {', '.join(sorted(ROBOTS))}")
    try:
        sc = random_task(int(m.group(3)), m.group(1), bool(m.group(2)), robot=robot)
    except RuntimeError as exc:
        raise ScenarioError(m.group(0), "seed", str(exc)) from None
    return replace(sc, source=m.group(0), time_limit_s=_limit_for(sc.time_limit_s, "husky", robot))


def with_robot(data: dict, robot: str) -> dict:
    """A parsed scenario document with ``robot`` in place of its own, the time limit scaled up
    by top speed (own robot's v_max / new robot's v_max, when above 1). An unknown robot is
    left for parse_scenario to refuse."""
    out = dict(data, robot=robot)
    limit = data.get("time_limit", 60.0)
    if data.get("robot") in ROBOTS and robot in ROBOTS and isinstance(limit, (int, float)) \
            and not isinstance(limit, bool):
        grown = _limit_for(limit, data["robot"], robot)
        if grown != limit:
            out["time_limit"] = grown
    return out


def _limit_for(limit_s, written_for: str, robot: str):
    """A time limit written for ``written_for`` grown by the ratio of top speeds when ``robot`` is
    slower (capped at the largest limit), else as it was."""
    ratio = ROBOTS[written_for].v_limits[1] / ROBOTS[robot].v_limits[1]
    return min(float(TIME_LIMIT_RANGE_S[1]), round(float(limit_s) * ratio, 1)) if ratio > 1.0 else limit_s


_QUOTED_OR_COMMENT = re.compile(rb'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*')


def _flow_depth(data: bytes) -> int:
    """Deepest nesting of flow brackets ([ and {) outside quotes and comments; O(len) in numpy."""
    codes = np.frombuffer(_QUOTED_OR_COMMENT.sub(b"", data), dtype=np.uint8)
    step = np.isin(codes, (ord("["), ord("{"))).astype(np.int32) - \
        np.isin(codes, (ord("]"), ord("}"))).astype(np.int32)
    return int(np.cumsum(step).max(initial=0))


# ---------------------------------------------------------------------------------- parsing

_TOP_KEYS = {"name", "robot", "arena", "obstacles", "start", "goal", "time_limit", "description",
             "terrain", "ramps", "payload_kg", "latency_s", "movers", "barn"}
PAYLOAD_RANGE_KG = (0.0, 500.0)
LATENCY_RANGE_S = (0.0, 1.0)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


class _Reader:
    """Typed, bounded field readers; every failure is a ScenarioError naming the field."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, fld: str, expected: str, got: Any = None):
        suffix = "" if got is None else f", got {clip(got)}"
        raise ScenarioError(self.source, fld, expected + suffix)

    def number(self, value: Any, fld: str, lo: float = -math.inf, hi: float = math.inf,
               *, positive: bool = False, unit: str = "") -> float:
        """A finite int or float in [lo, hi] (and > 0 with ``positive``)."""
        bounds = (f" in [{_fmt(lo)}, {_fmt(hi)}]{unit}" if math.isfinite(lo) and math.isfinite(hi)
                  else (" > 0" if positive else ""))
        what = f"a finite number{bounds}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(fld, what, value)
        try:
            x = float(value)            # an int of 400 digits overflows here
        except OverflowError:
            self.fail(fld, what, value)
        if not math.isfinite(x) or not lo <= x <= hi or (positive and x <= 0):
            self.fail(fld, what, value)
        return x

    def pair(self, value: Any, fld: str, lo: tuple[float, float] = (-math.inf, -math.inf),
             hi: tuple[float, float] = (math.inf, math.inf), *, positive: bool = False,
             unit: str = "") -> tuple[float, float]:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            self.fail(fld, "a list of two numbers [x, y]", value)
        return (self.number(value[0], f"{fld}[0]", lo[0], hi[0], positive=positive, unit=unit),
                self.number(value[1], f"{fld}[1]", lo[1], hi[1], positive=positive, unit=unit))

    def mapping(self, value: Any, fld: str, required: set[str], optional: set[str]) -> dict:
        if not isinstance(value, dict):
            self.fail(fld, f"a mapping with keys {sorted(required | optional)}", value)
        missing = required - set(value)
        if missing:
            self.fail(f"{fld}.{sorted(missing)[0]}", "a required key (missing)")
        unknown = set(value) - required - optional
        if unknown:
            self.fail(f"{fld}.{min(clip(k, 40) if not isinstance(k, str) else k for k in unknown)}",
                      f"no unknown keys (allowed: {', '.join(sorted(required | optional))})")
        return value

    def string(self, value: Any, fld: str, max_chars: int, pattern: re.Pattern | None = None) -> str:
        what = (f"a string matching {pattern.pattern.strip('^$')}" if pattern else "a string") + \
            f" of at most {max_chars} characters"
        if not isinstance(value, str) or len(value) > max_chars or \
                (pattern is not None and not pattern.match(value)):
            self.fail(fld, what, value)
        return value


def parse_scenario(data: Any, source: str = "<memory>") -> Scenario:
    """Validate a parsed YAML document and build a Scenario (raises ScenarioError)."""
    r = _Reader(source)
    if not isinstance(data, dict):
        r.fail("(top level)", "a mapping with keys name, robot, arena, start, goal, ...", data)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        first = min(k if isinstance(k, str) else clip(k, 40) for k in unknown)
        r.fail(first, f"no unknown keys (allowed: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("name", "robot", "arena", "start", "goal"):
        if key not in data:
            r.fail(key, "a required key (missing)")

    name = r.string(data["name"], "name", NAME_MAX_CHARS, _NAME_RE)
    robot = data["robot"]
    if not isinstance(robot, str) or robot not in ROBOTS:
        r.fail("robot", f"one of {sorted(ROBOTS)}", robot)
    lo, hi = ARENA_RANGE_M
    arena = r.pair(data["arena"], "arena", (lo, lo), (hi, hi), unit=" m")
    hx, hy = arena[0] / 2.0, arena[1] / 2.0
    diagonal = math.hypot(*arena)
    description = r.string(data.get("description", ""), "description", DESCRIPTION_MAX_CHARS)

    raw_obs = data.get("obstacles")
    raw_obs = [] if raw_obs is None else raw_obs
    if not isinstance(raw_obs, list):
        r.fail("obstacles", "a list of {box: ...} or {cylinder: ...} entries", raw_obs)
    if len(raw_obs) > MAX_OBSTACLES:
        r.fail("obstacles", f"at most {MAX_OBSTACLES} obstacles, got {len(raw_obs)}")
    obstacles = [_obstacle(r, item, f"obstacles[{i}]", hx, hy, diagonal)
                 for i, item in enumerate(raw_obs)]

    st = r.mapping(data["start"], "start", {"x", "y"}, {"yaw"})
    start = Pose2D(r.number(st["x"], "start.x", -hx, hx, unit=" m (inside the arena)"),
                   r.number(st["y"], "start.y", -hy, hy, unit=" m (inside the arena)"),
                   r.number(st.get("yaw", 0.0), "start.yaw", -YAW_LIMIT_RAD, YAW_LIMIT_RAD, unit=" rad"))
    gl = r.mapping(data["goal"], "goal", {"x", "y"}, {"tolerance"})
    tol_max = max(TOLERANCE_MIN_M, TOLERANCE_ARENA_FRACTION * min(arena))
    goal = Goal(r.number(gl["x"], "goal.x"), r.number(gl["y"], "goal.y"),
                r.number(gl.get("tolerance", 0.3), "goal.tolerance", TOLERANCE_MIN_M, tol_max,
                         unit=" m (a quarter of the arena's shorter side at most)"))
    time_limit = r.number(data.get("time_limit", 60.0), "time_limit", *TIME_LIMIT_RANGE_S,
                          unit=" simulated seconds")

    from world_model_planner.sim import movers as movers_mod, terrain as terrain_mod

    terrain = terrain_mod.parse_terrain(r, data.get("terrain"), arena)
    ramps = terrain_mod.parse_ramps(r, data.get("ramps"), arena)
    payload = r.number(data.get("payload_kg", 0.0), "payload_kg", *PAYLOAD_RANGE_KG, unit=" kg")
    latency = r.number(data.get("latency_s", 0.0), "latency_s", *LATENCY_RANGE_S, unit=" s")
    movers = movers_mod.parse_movers(r, data.get("movers"), arena, obstacles=tuple(obstacles))
    barn = None
    if data.get("barn") is not None:
        b = r.mapping(data["barn"], "barn", set(), {"reference_length_m", "reference"})
        ref = b.get("reference_length_m")
        barn = BarnRules(None if ref is None else r.number(ref, "barn.reference_length_m", 0.1, 1e4, unit=" m"),
                         r.string(b.get("reference", ""), "barn.reference", DESCRIPTION_MAX_CHARS))

    sc = Scenario(name=name, robot=robot, arena=arena, obstacles=tuple(obstacles), start=start,
                  goal=goal, time_limit_s=time_limit, source=source, description=description,
                  terrain=tuple(terrain), ramps=tuple(ramps), payload_kg=payload, latency_s=latency,
                  movers=tuple(movers), barn=barn)

    # Geometry: the robot must fit at the start; the goal must be reachable ground.
    spec = ROBOTS[robot]
    clearance = sc.footprint_clearance_m(start.x, start.y, start.yaw)
    if clearance < START_CLEARANCE_M:
        size = f"{spec.length_m} m round" if spec.round else f"{spec.length_m} x {spec.width_m} m"
        r.fail("start", f"a pose where the {robot} footprint ({size}) "
                        f"keeps >= {START_CLEARANCE_M} m from walls and obstacles; it has "
                        f"{clearance:.2f} m at ({start.x:g}, {start.y:g}, yaw {start.yaw:g})")
    if abs(goal.x) >= hx or abs(goal.y) >= hy:
        r.fail("goal", f"a point inside the arena (|x| < {hx:g}, |y| < {hy:g})", (goal.x, goal.y))
    if not sc.point_free(goal.x, goal.y):
        r.fail("goal", "a point outside every obstacle", (goal.x, goal.y))
    return sc


def _obstacle(r: _Reader, item: Any, fld: str, hx: float, hy: float, diagonal: float) -> Obstacle:
    """One ``{box: ...}`` or ``{cylinder: ...}`` entry, centre inside the arena, sizes bounded."""
    if not isinstance(item, dict) or len(item) != 1 or \
            not any(k == next(iter(item)) for k in ("box", "cylinder")):
        r.fail(fld, "exactly one of {box: {center, size, yaw}} or {cylinder: {center, radius}}", item)
    kind, spec = next(iter(item.items()))
    inside = " m (inside the arena)"
    if kind == "box":
        spec = r.mapping(spec, f"{fld}.box", {"center", "size"}, {"yaw"})
        return Box(center=r.pair(spec["center"], f"{fld}.box.center", (-hx, -hy), (hx, hy), unit=inside),
                   size=r.pair(spec["size"], f"{fld}.box.size", (OBSTACLE_MIN_M,) * 2, (diagonal,) * 2,
                               unit=" m (at most the arena diagonal)"),
                   yaw=r.number(spec.get("yaw", 0.0), f"{fld}.box.yaw", -YAW_LIMIT_RAD, YAW_LIMIT_RAD,
                                unit=" rad"))
    spec = r.mapping(spec, f"{fld}.cylinder", {"center", "radius"}, set())
    return Cylinder(center=r.pair(spec["center"], f"{fld}.cylinder.center", (-hx, -hy), (hx, hy),
                                  unit=inside),
                    radius=r.number(spec["radius"], f"{fld}.cylinder.radius", OBSTACLE_MIN_M,
                                    diagonal / 2.0, unit=" m (at most half the arena diagonal)"))
