"""Moving obstacles: people (cylinders) and carts (boxes) on waypoint loops, back-and-forth
paths or seeded random walks, kinematic, speed-limited, never through walls or obstacles.

Scenario field (the README's scenario block documents it)::

    movers:                          # at most 50
      - kind: person                 # person (cylinder 1.7 m tall) | cart (box 1.0 m high)
        radius: 0.25                 # person only; metres in [0.1, 0.6], default 0.25
        size: [0.9, 0.6]             # cart only; length along travel, width; each in [0.2, 2.0] m
        speed: 0.8                   # m/s in (0, 3]: the mover never goes faster
        path: loop                   # loop | back_and_forth | random_walk
        waypoints: [[x, y], ...]     # loop, back_and_forth: 2..64 points inside the arena
        area: {center: [x, y], size: [sx, sy]}   # random_walk: the centre stays inside this box
        start_delay_s: 0.0           # seconds in [0, 600] at its first point before it moves

A mover's *extent* is its radius (person) or half-diagonal (cart: it turns in place at a
corner). Parsing refuses a waypoint whose extent reaches a wall, a path segment whose swept
extent touches a static obstacle, and a random-walk area that is not inside the arena or whose
centre is not free. At run time a random walker turns away from walls and obstacles, and every
mover waits while its next position would come within ``YIELD_MARGIN_M`` of the robot's
footprint: movers cross the robot's path but never walk into it, so a contact is the robot's
doing. A back-and-forth mover that has waited ``TURN_BACK_S`` turns back (it gives way in a
door); a loop mover keeps waiting. Carts face their direction of travel. Random walks are
seeded from the episode seed and the mover's index and start at a seeded free point of their
area, away from the robot. Movers pass through each other (they are kinematic bodies).
"""
from __future__ import annotations

import bisect
import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pybullet as p

from world_model_planner.core.mathutil import yaw_from_quaternion
from world_model_planner.sim import geometry
from world_model_planner.sim.robots import ROBOTS

MAX_MOVERS = 50
KINDS = ("person", "cart")
PATHS = ("loop", "back_and_forth", "random_walk")
PERSON_RADIUS_M = (0.1, 0.6)
CART_SIDE_M = (0.2, 2.0)
SPEED_MAX_MPS = 3.0
WAYPOINTS_RANGE = (2, 64)
AREA_MIN_M = 0.1
START_DELAY_RANGE_S = (0.0, 600.0)
#: A mover waits while its next position would come this close to the robot's footprint.
YIELD_MARGIN_M = 0.05
#: A random walker keeps this much more than its extent from walls and obstacles.
STATIC_MARGIN_M = 0.02
PERSON_HEIGHT_M, CART_HEIGHT_M = 1.7, 1.0
_COLOURS = {"person": [0.85, 0.2, 0.3, 1.0], "cart": [0.25, 0.65, 0.3, 1.0]}
# Random walk: a new turn-rate target every DECISION_S, reached at TURN_ACCEL_RADPS2; a look-ahead
# point (at least LOOKAHEAD_M ahead) that is not free makes the walker turn at TURN_MAX_RADPS.
DECISION_S, TURN_MAX_RADPS, TURN_ACCEL_RADPS2, LOOKAHEAD_M = 0.5, 1.2, 4.0, 0.4
LOOK_EVERY_S = 0.05
#: A walker turns away when its look-ahead point comes this close to the robot's footprint.
LOOKAHEAD_ROBOT_MARGIN_M = 0.3
#: A back-and-forth mover that has waited this long for the robot turns back.
TURN_BACK_S = 2.0


@dataclass(frozen=True)
class MoverSpec:
    kind: str
    speed: float
    path: str
    radius: float = 0.25
    size: tuple[float, float] = (0.9, 0.6)
    waypoints: tuple = ()         # ((x, y), ...) for loop and back_and_forth
    area: tuple = ()              # ((cx, cy), (sx, sy)) for random_walk
    start_delay_s: float = 0.0

    @property
    def extent_m(self) -> float:
        """Radius of the disc the mover occupies whatever its heading."""
        return self.radius if self.kind == "person" else 0.5 * math.hypot(*self.size)


# ---------------------------------------------------------------------------------- parsing

def parse_movers(r, raw: Any, arena: tuple[float, float], obstacles: tuple = ()) -> list[MoverSpec]:
    """Validate the ``movers:`` list (r is scenario._Reader: every failure names the field)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        r.fail("movers", "a list of movers ({kind, speed, path, ...})", raw)
    if len(raw) > MAX_MOVERS:
        r.fail("movers", f"at most {MAX_MOVERS} movers, got {len(raw)}")
    space, bounds = FreeSpace(arena, obstacles), _bounds(obstacles)
    return [_mover(r, item, f"movers[{i}]", arena, obstacles, space, bounds) for i, item in enumerate(raw)]


def _mover(r, item: Any, fld: str, arena, obstacles, space: "FreeSpace", bounds) -> MoverSpec:
    m = r.mapping(item, fld, {"kind", "speed", "path"},
                  {"radius", "size", "waypoints", "area", "start_delay_s"})
    kind, path = m["kind"], m["path"]
    if kind not in KINDS:
        r.fail(f"{fld}.kind", f"one of {', '.join(KINDS)}", kind)
    if path not in PATHS:
        r.fail(f"{fld}.path", f"one of {', '.join(PATHS)}", path)
    for key, owner in (("radius", "person"), ("size", "cart")):
        if key in m and kind != owner:
            r.fail(f"{fld}.{key}", f"no '{key}' for a {kind} (only a {owner} has one)")
    wants = "area" if path == "random_walk" else "waypoints"
    other = "waypoints" if wants == "area" else "area"
    if other in m:
        r.fail(f"{fld}.{other}", f"no '{other}' for path {path} (it takes '{wants}')")
    if wants not in m:
        r.fail(f"{fld}.{wants}", f"a required key for path {path} (missing)")
    radius = r.number(m.get("radius", 0.25), f"{fld}.radius", *PERSON_RADIUS_M, unit=" m")
    size = r.pair(m.get("size", [0.9, 0.6]), f"{fld}.size", (CART_SIDE_M[0],) * 2, (CART_SIDE_M[1],) * 2,
                  unit=" m")
    speed = r.number(m["speed"], f"{fld}.speed", 0.0, SPEED_MAX_MPS, positive=True, unit=" m/s (> 0)")
    delay = r.number(m.get("start_delay_s", 0.0), f"{fld}.start_delay_s", *START_DELAY_RANGE_S, unit=" s")
    spec = MoverSpec(kind=kind, speed=speed, path=path, radius=radius, size=size, start_delay_s=delay)
    ext = spec.extent_m
    hx, hy = arena[0] / 2.0 - ext, arena[1] / 2.0 - ext
    if path == "random_walk":
        a = r.mapping(m["area"], f"{fld}.area", {"center", "size"}, set())
        c = r.pair(a["center"], f"{fld}.area.center", (-arena[0] / 2, -arena[1] / 2), (arena[0] / 2, arena[1] / 2),
                   unit=" m (inside the arena)")
        s = r.pair(a["size"], f"{fld}.area.size", (AREA_MIN_M, AREA_MIN_M), arena, unit=" m")
        if abs(c[0]) + s[0] / 2 > arena[0] / 2 or abs(c[1]) + s[1] / 2 > arena[1] / 2:
            r.fail(f"{fld}.area", f"a box inside the arena ({arena[0]:g} x {arena[1]:g} m centred on the origin)",
                   {"center": list(c), "size": list(s)})
        if space.clearance(c[0], c[1]) < ext + STATIC_MARGIN_M:
            r.fail(f"{fld}.area.center", f"a point where the {kind} (extent {ext:.2f} m) is clear of walls "
                                         f"and obstacles by {STATIC_MARGIN_M} m", list(c))
        return dataclasses.replace(spec, area=(c, s))
    wps = m["waypoints"]
    lo, hi = WAYPOINTS_RANGE
    if not isinstance(wps, list) or not lo <= len(wps) <= hi:
        r.fail(f"{fld}.waypoints", f"a list of {lo}..{hi} points [x, y]", wps)
    if hx <= 0 or hy <= 0:
        r.fail(f"{fld}", f"a mover that fits in the arena (extent {ext:.2f} m)")
    pts = [r.pair(w, f"{fld}.waypoints[{i}]", (-hx, -hy), (hx, hy),
                  unit=f" m (the {kind}, extent {ext:.2f} m, stays inside the arena walls)")
           for i, w in enumerate(wps)]
    if all(q == pts[0] for q in pts):
        r.fail(f"{fld}.waypoints", "at least two different points (a path of length > 0)")
    n = len(pts)
    segs = [(i, (i + 1) % n) for i in range(n if path == "loop" else n - 1)]
    for i, j in segs:
        if pts[i] == pts[j]:
            continue
        hit = _segment_hit(np.asarray(pts[i]), np.asarray(pts[j]), ext, obstacles, bounds)
        if hit is not None:
            r.fail(f"{fld}.waypoints[{i}]", f"a segment from waypoints[{i}] to waypoints[{j}] that keeps the "
                                            f"{kind} (extent {ext:.2f} m) clear of obstacles[{hit}]")
    return dataclasses.replace(spec, waypoints=tuple(pts))


def _segment_hit(a: np.ndarray, b: np.ndarray, ext: float, obstacles, bounds) -> int | None:
    """Index of the first obstacle closer than ``ext`` to segment a-b, or None.

    ``bounds`` = (centres (N, 2), bounding radii (N,)) picks the candidates in one numpy pass,
    so 5000 obstacles x 64 waypoints x 50 movers stay cheap."""
    centres, radii = bounds
    ab = b - a
    t = np.clip(((centres - a) @ ab) / float(ab @ ab), 0.0, 1.0)
    near = np.hypot(*(a + t[:, None] * ab - centres).T) - radii < ext
    for k in np.flatnonzero(near):
        ob = obstacles[k]
        if hasattr(ob, "radius"):
            d = geometry.point_segment_distance(np.asarray(ob.center, float), a, b) - ob.radius
        else:
            d = segment_polygon_distance(a, b, ob.polygon())
        if d < ext:
            return int(k)
    return None


def _bounds(obstacles) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) centres and (N,) radii of discs that hold each obstacle."""
    centres = np.array([ob.center for ob in obstacles], float).reshape(-1, 2)
    radii = np.array([ob.radius if hasattr(ob, "radius") else 0.5 * math.hypot(*ob.size) for ob in obstacles],
                     float)
    return centres, radii


def segment_polygon_distance(a: np.ndarray, b: np.ndarray, poly: np.ndarray) -> float:
    """Distance between segment a-b and a convex polygon (K, 2); 0.0 when they touch.

    A proper crossing of two edges gives 0 here; touching and collinear overlaps give 0
    through the point-to-segment distances."""
    if geometry.point_in_polygon(a, poly) or geometry.point_in_polygon(b, poly):
        return 0.0

    def orient(o, q, s):
        return (q[0] - o[0]) * (s[1] - o[1]) - (q[1] - o[1]) * (s[0] - o[0])

    best = math.inf
    for i in range(len(poly)):
        c, d = poly[i], poly[(i + 1) % len(poly)]
        if orient(a, b, c) * orient(a, b, d) < 0 and orient(c, d, a) * orient(c, d, b) < 0:
            return 0.0
        best = min(best, geometry.point_segment_distance(a, c, d), geometry.point_segment_distance(b, c, d),
                   geometry.point_segment_distance(c, a, b))
    return best


class FreeSpace:
    """Distance from a point to the nearest arena wall or static obstacle (vectorised)."""

    def __init__(self, arena, obstacles):
        self.hx, self.hy = arena[0] / 2.0, arena[1] / 2.0
        boxes = [ob for ob in obstacles if not hasattr(ob, "radius")]
        cyls = [ob for ob in obstacles if hasattr(ob, "radius")]
        self.box_c = np.array([ob.center for ob in boxes], float).reshape(-1, 2)
        self.box_h = np.array([ob.size for ob in boxes], float).reshape(-1, 2) / 2.0
        yaw = np.array([ob.yaw for ob in boxes], float)
        self.box_cs = np.stack([np.cos(yaw), np.sin(yaw)], axis=-1).reshape(-1, 2)
        self.cyl_c = np.array([ob.center for ob in cyls], float).reshape(-1, 2)
        self.cyl_r = np.array([ob.radius for ob in cyls], float)

    def clearance(self, x: float, y: float) -> float:
        """Metres to the nearest wall or obstacle; 0 inside one or outside the arena."""
        best = min(self.hx - abs(x), self.hy - abs(y))
        if len(self.box_c):
            dx, dy = x - self.box_c[:, 0], y - self.box_c[:, 1]
            c, s = self.box_cs[:, 0], self.box_cs[:, 1]
            lx = np.maximum(np.abs(c * dx + s * dy) - self.box_h[:, 0], 0.0)
            ly = np.maximum(np.abs(-s * dx + c * dy) - self.box_h[:, 1], 0.0)
            best = min(best, float(np.hypot(lx, ly).min()))
        if len(self.cyl_c):
            best = min(best, float((np.hypot(x - self.cyl_c[:, 0], y - self.cyl_c[:, 1]) - self.cyl_r).min()))
        return max(0.0, best)


# ---------------------------------------------------------------------------------- motion

def _episode_seed(rng) -> int:
    """The episode's seed: an int, or the entropy a ``default_rng(seed)`` was built from."""
    if isinstance(rng, (int, np.integer)):
        return int(rng)
    entropy = getattr(getattr(rng.bit_generator, "seed_seq", None), "entropy", None)
    return int(entropy) if isinstance(entropy, int) else int(rng.integers(2 ** 31))


class _PathMover:
    """Walks a closed polyline (a loop, or a path and its way back) at constant speed.

    A back-and-forth mover that has waited ``TURN_BACK_S`` for the robot turns back (a person
    or a cart meeting the robot head-on in a door gives way); a loop mover keeps waiting."""

    def __init__(self, spec: MoverSpec):
        pts = list(spec.waypoints)
        pts = pts + [pts[0]] if spec.path == "loop" else pts + pts[-2::-1]
        # the zero-length segments of repeated waypoints are dropped
        self.pts = [pts[0]] + [q for k, q in enumerate(pts[1:]) if q != pts[k]]
        self.cum = [0.0]
        for u, v in zip(self.pts, self.pts[1:]):
            self.cum.append(self.cum[-1] + math.dist(u, v))
        self.total = self.cum[-1]
        self.g = 0.0                          # distance travelled along the closed path
        self.waited = 0.0
        self.turns_back = spec.path == "back_and_forth"
        self.yaw = self._heading(0) if len(self.pts) > 1 else 0.0

    def _heading(self, i: int) -> float:
        (ax, ay), (bx, by) = self.pts[i], self.pts[i + 1]
        return math.atan2(by - ay, bx - ax)

    def start(self) -> tuple[float, float]:
        return self.pts[0]

    def propose(self, spec: MoverSpec, x: float, y: float, dt: float, t: float):
        if not self.total > 0.0:             # a hand-built spec with one point: it stands
            return x, y, self.yaw, self.g
        g = (self.g + spec.speed * dt) % self.total
        i = min(bisect.bisect_right(self.cum, g) - 1, len(self.pts) - 2)
        (ax, ay), (bx, by) = self.pts[i], self.pts[i + 1]
        f = (g - self.cum[i]) / (self.cum[i + 1] - self.cum[i])
        return ax + f * (bx - ax), ay + f * (by - ay), self._heading(i), g

    def commit(self, memo) -> None:
        self.g, self.waited = memo, 0.0

    def wait(self, dt: float) -> None:
        """The robot is in the way for another ``dt`` seconds."""
        self.waited += dt
        if self.turns_back and self.waited >= TURN_BACK_S:
            # the point at g on the way out is the point at total - g on the way back
            self.g, self.waited = self.total - self.g, 0.0


class _WalkMover:
    """A seeded random walk with smooth turns inside an area, turning away from walls and
    obstacles before it reaches them."""

    def __init__(self, spec: MoverSpec, space: FreeSpace, rng: np.random.Generator, avoid):
        self.space, self.rng, self.ext = space, rng, spec.extent_m + STATIC_MARGIN_M
        (cx, cy), (sx, sy) = spec.area
        self.lo, self.hi = (cx - sx / 2, cy - sy / 2), (cx + sx / 2, cy + sy / 2)
        self._anchor, self._slack = (cx, cy), -1.0
        self.pos = (cx, cy)
        for _ in range(200):        # a seeded free start point away from the robot's start
            q = (float(rng.uniform(self.lo[0], self.hi[0])), float(rng.uniform(self.lo[1], self.hi[1])))
            if self.free(*q) and not avoid(q[0], q[1]):
                self.pos = q
                break
        self.yaw = float(rng.uniform(-math.pi, math.pi))
        self.omega, self.omega_target, self.next_decision = 0.0, 0.0, 0.0
        self.next_look, self.look_blocked, self.side = 0.0, False, 1.0

    def start(self) -> tuple[float, float]:
        return self.pos

    def free(self, x: float, y: float, anchor: bool = True) -> bool:
        """Inside the area and at least the extent (+ margin) from walls and obstacles.

        Clearance is 1-Lipschitz: a point within ``slack`` of the last free point checked is
        free without asking the obstacles again."""
        if not (self.lo[0] <= x <= self.hi[0] and self.lo[1] <= y <= self.hi[1]):
            return False
        if math.dist((x, y), self._anchor) < self._slack:
            return True
        slack = self.space.clearance(x, y) - self.ext
        if anchor and slack >= 0.0:
            self._anchor, self._slack = (x, y), slack
        return slack >= 0.0

    def propose(self, spec: MoverSpec, x: float, y: float, dt: float, t: float, blocked=None):
        while t >= self.next_decision:           # fixed draw times: the same seed, the same walk
            self.omega_target = float(self.rng.uniform(-TURN_MAX_RADPS, TURN_MAX_RADPS))
            self.next_decision += DECISION_S
        if t >= self.next_look:                  # walls, obstacles and the robot ahead: turn away
            ahead = max(LOOKAHEAD_M, spec.speed * 0.8)
            ax, ay = x + ahead * math.cos(self.yaw), y + ahead * math.sin(self.yaw)
            self.look_blocked = not self.free(ax, ay, anchor=False) or \
                (blocked is not None and blocked(ax, ay, self.yaw, LOOKAHEAD_ROBOT_MARGIN_M))
            self.next_look += LOOK_EVERY_S
            if not self.look_blocked:            # turn away towards the area's middle when blocked
                mx, my = (self.lo[0] + self.hi[0]) / 2 - x, (self.lo[1] + self.hi[1]) / 2 - y
                self.side = 1.0 if math.cos(self.yaw) * my - math.sin(self.yaw) * mx >= 0 else -1.0
        target = self.side * TURN_MAX_RADPS if self.look_blocked else self.omega_target
        step = TURN_ACCEL_RADPS2 * dt
        self.omega += min(max(target - self.omega, -step), step)
        d = spec.speed * dt
        base = self.yaw + self.omega * dt
        for k in range(24):                      # straight on, else turn towards ``side`` until free
            yaw = base + self.side * k * math.pi / 12.0
            nx, ny = x + d * math.cos(yaw), y + d * math.sin(yaw)
            if self.free(nx, ny) and (blocked is None or not blocked(nx, ny, yaw)):
                return nx, ny, yaw, yaw
        return x, y, self.yaw, self.yaw

    def commit(self, memo) -> None:
        self.yaw = memo


class MoverSet:
    """Built by SimWorld.reset. ``bodies`` are in the lidar's world group and in the collision
    set; ``step(dt_s, sim_time_s)`` moves them before every physics step; ``states()`` gives
    (M, 4) x, y, vx, vy for ground truth (evaluation, tests).

    ``robot_body`` is the robot the movers yield to (default: the body with joints that exists
    when the set is built, i.e. the robot SimWorld created before it)."""

    def __init__(self, client: int, specs, scenario, rng, world_group: int, all_mask: int,
                 robot_body: int | None = None):
        self.client, self.specs = client, tuple(specs)
        self.bodies: list[int] = []
        self._state = [[0.0, 0.0, 0.0, 0.0] for _ in self.specs]   # x, y, vx, vy per mover
        if not self.specs:
            return
        spec = ROBOTS[scenario.robot]
        self._half = (spec.length_m / 2.0, spec.width_m / 2.0)
        self._robot = robot_body if robot_body is not None else _find_robot(client)
        self._robot_pose = self._read_robot() if self._robot is not None else None
        space = FreeSpace(scenario.arena, scenario.obstacles)
        seed = _episode_seed(rng)
        self._motions = []
        self._blocked = [functools.partial(self._near_robot, m) for m in self.specs]
        self._z = [(PERSON_HEIGHT_M if m.kind == "person" else CART_HEIGHT_M) / 2.0 for m in self.specs]
        for i, m in enumerate(self.specs):
            if m.path == "random_walk":
                motion = _WalkMover(m, space, np.random.default_rng([seed, i]),
                                    lambda x, y, m=m: self._near_robot(m, x, y, 0.0, 0.3))
            else:
                motion = _PathMover(m)
            self._motions.append(motion)
            x, y = motion.start()
            self._state[i][:2] = (x, y)
            self.bodies.append(_make_body(client, m, x, y, motion.yaw, world_group, all_mask))

    def _read_robot(self):
        (x, y, _), q = p.getBasePositionAndOrientation(self._robot, physicsClientId=self.client)
        yaw = yaw_from_quaternion(*q)
        return x, y, math.cos(yaw), math.sin(yaw)

    def _near_robot(self, m: MoverSpec, x: float, y: float, yaw: float, margin: float = YIELD_MARGIN_M) -> bool:
        """True when the mover at (x, y, yaw) comes within ``margin`` of the robot's footprint."""
        if self._robot_pose is None:
            return False
        rx, ry, c, s = self._robot_pose
        hl, hw = self._half
        dx, dy = x - rx, y - ry
        ext = m.extent_m
        if dx * dx + dy * dy > (math.hypot(hl, hw) + ext + margin) ** 2:
            return False
        lx, ly = c * dx + s * dy, -s * dx + c * dy
        disc = math.hypot(max(abs(lx) - hl, 0.0), max(abs(ly) - hw, 0.0)) - ext
        if m.kind == "person" or disc >= margin:
            return disc < margin
        robot = geometry.rectangle(rx, ry, 2 * hl, 2 * hw, math.atan2(s, c))
        return geometry.polygon_distance(robot, geometry.rectangle(x, y, m.size[0], m.size[1], yaw)) < margin

    def step(self, dt_s: float, sim_time_s: float) -> None:
        """Move every mover by one step of ``dt_s`` seconds (the state at ``sim_time_s + dt_s``)."""
        if not self.specs:
            return
        if self._robot is not None:
            self._robot_pose = self._read_robot()
        for i, (m, motion) in enumerate(zip(self.specs, self._motions)):
            state = self._state[i]
            x, y = state[0], state[1]
            state[2] = state[3] = 0.0
            if sim_time_s < m.start_delay_s:
                continue
            blocked = self._blocked[i]
            if isinstance(motion, _WalkMover):
                nx, ny, yaw, memo = motion.propose(m, x, y, dt_s, sim_time_s, blocked)
            else:
                nx, ny, yaw, memo = motion.propose(m, x, y, dt_s, sim_time_s)
                if blocked(nx, ny, yaw):
                    motion.wait(dt_s)           # the robot is in the way
                    continue
            motion.commit(memo)
            if nx == x and ny == y and yaw == motion.yaw:
                continue
            motion.yaw = yaw
            state[:] = (nx, ny, (nx - x) / dt_s, (ny - y) / dt_s)
            p.resetBasePositionAndOrientation(self.bodies[i], (nx, ny, self._z[i]),
                                              (0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)),
                                              physicsClientId=self.client)

    def states(self) -> np.ndarray:
        """(M, 4) x, y, vx, vy of every mover (m, m/s), in scenario order."""
        return np.array(self._state, dtype=float).reshape(len(self.specs), 4)

    def poses(self) -> np.ndarray:
        """(M, 3) x, y, yaw of every mover (m, rad; a cart faces its travel), in scenario order."""
        motions = getattr(self, "_motions", ())          # absent without movers
        rows = [(s[0], s[1], m.yaw) for s, m in zip(self._state, motions)]
        return np.array(rows, dtype=float).reshape(len(self.specs), 3)


def _find_robot(client: int) -> int | None:
    """The last body with joints in the client (SimWorld builds the robot before the movers)."""
    found = None
    for k in range(p.getNumBodies(physicsClientId=client)):
        body = p.getBodyUniqueId(k, physicsClientId=client)
        if p.getNumJoints(body, physicsClientId=client) > 0:
            found = body
    return found


def _make_body(client: int, m: MoverSpec, x: float, y: float, yaw: float, group: int, mask: int) -> int:
    """A kinematic (mass 0) cylinder 1.7 m tall for a person, a 1 m high box for a cart."""
    if m.kind == "person":
        h = PERSON_HEIGHT_M
        col = p.createCollisionShape(p.GEOM_CYLINDER, radius=m.radius, height=h, physicsClientId=client)
        vis = p.createVisualShape(p.GEOM_CYLINDER, radius=m.radius, length=h, rgbaColor=_COLOURS["person"],
                                  physicsClientId=client)
    else:
        h = CART_HEIGHT_M
        half = [m.size[0] / 2.0, m.size[1] / 2.0, h / 2.0]
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=client)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=_COLOURS["cart"], physicsClientId=client)
    body = p.createMultiBody(0, col, vis, [x, y, h / 2.0], p.getQuaternionFromEuler([0, 0, yaw]),
                             physicsClientId=client)
    p.setCollisionFilterGroupMask(body, -1, group, mask, physicsClientId=client)
    return body
