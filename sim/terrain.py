"""Ground that changes how the base moves: terrain regions with tyre friction and rolling
resistance, and ramps. Parsing (no PyBullet at import time) and the physics SimWorld calls.

Scenario fields (the README's scenario block documents every one)::

    terrain:                                   # later entries win where regions overlap
      - preset: ice                            # ice | wet_tiles | grass | mud | gravel (optional)
        box: {center: [x, y], size: [sx, sy], yaw: 0.0}     # or polygon: [[x, y], ...]
        friction_longitudinal: 0.1             # optional with a preset; overrides it
        friction_lateral: 0.05
        rolling_resistance: 0.01
        sinkage_drag: 0.0                      # optional; soft ground's extra drag per m/s
    ramps:
      - {center: [x, y], yaw: 0.0, length: 2.0, width: 2.0, height: 0.3, top_length: 0.0}

Bounds: at most MAX_REGIONS regions; a polygon has 3..64 vertices, is convex and lies inside
the arena (a box too, after rotation); frictions in FRICTION_RANGE, rolling resistance in
ROLLING_RANGE. At most MAX_RAMPS ramps; height in RAMP_HEIGHT_RANGE_M, slope at most
RAMP_MAX_SLOPE_DEG, the whole ramp (slope, top, slope) inside the arena.

Physics (GroundModel): before every physics step each wheel takes the friction of the region
under its centre (the last region in the list that contains it; elsewhere the robot's own
tyres on the dry floor), set with ``p.changeDynamics`` only when it changes: ``lateralFriction``
= friction_longitudinal and the wheel's anisotropic friction along the axle scaled by
friction_lateral / friction_longitudinal (on top of the robot's skid-steer scrub scale). Rolling
resistance is a force on each wheel centre against that wheel's ground velocity:
``(c + d * |v|) * m_total * g / wheels`` with c = rolling_resistance and d = sinkage_drag (per
m/s: soft ground that the tyres sink into drags harder the faster they go), faded in linearly below
ROLLING_FADE_MPS so a robot at rest is not pushed. The sinkage drag is why mud caps the top speed:
the drag reaches the tyres' traction limit and the wheels slip (an ideal motor would otherwise
simply push through a speed-independent resistance).

Ramps are static boxes in the ground collision group: the lidar does not see them and touching
them is not a collision. Terrain regions are drawn as thin coloured shapes without collision.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from world_model_planner.sim import geometry

#: Tyre-on-ground coefficients per preset: (friction_longitudinal, friction_lateral,
#: rolling_resistance). Friction is the Coulomb coefficient of a rubber tyre on that ground;
#: rolling resistance is the force per unit weight (dimensionless) at standstill.
PRESETS: dict[str, tuple[float, float, float]] = {
    "ice": (0.10, 0.05, 0.01),          # wet/clear ice: rubber mu ~0.05-0.15
    "wet_tiles": (0.35, 0.30, 0.01),    # glazed tiles with a water film
    "grass": (0.55, 0.50, 0.08),        # short dry grass on soil
    "mud": (0.45, 0.40, 0.25),          # soft wet soil: wheels sink
    "gravel": (0.60, 0.50, 0.05),       # loose gravel
}
#: Sinkage drag d per preset (force per unit weight per m/s); 0 for the others.
SINKAGE_PRESETS = {"mud": 0.5, "grass": 0.15, "gravel": 0.05}
#: Colours (RGBA) the camera sees for each preset; regions without one are grey-violet.
PRESET_COLOURS = {"ice": [0.75, 0.9, 1.0, 1], "wet_tiles": [0.55, 0.65, 0.75, 1],
                  "grass": [0.35, 0.65, 0.25, 1], "mud": [0.45, 0.3, 0.15, 1],
                  "gravel": [0.6, 0.58, 0.52, 1], "": [0.6, 0.5, 0.7, 1]}
FRICTION_RANGE = (0.01, 2.0)
ROLLING_RANGE = (0.0, 1.0)
SINKAGE_RANGE = (0.0, 2.0)
MAX_REGIONS = 200
POLYGON_VERTICES = (3, 64)
MIN_REGION_AREA_M2 = 1e-4
MAX_RAMPS = 50
RAMP_HEIGHT_RANGE_M = (0.02, 1.0)
RAMP_MAX_SLOPE_DEG = 20.0
RAMP_WIDTH_MIN_M = 0.3
#: Rolling resistance fades in linearly below this speed (m/s): no creeping at rest.
ROLLING_FADE_MPS = 0.05
#: Ramp slope boxes are this thick (m); their lower edges are under the floor.
RAMP_SLAB_M = 0.1
GRAVITY_MPS2 = 9.81
_REGION_KEYS = {"preset", "box", "polygon", "friction_longitudinal", "friction_lateral",
                "rolling_resistance", "sinkage_drag"}
_GROUND_FIELDS = ("friction_longitudinal", "friction_lateral", "rolling_resistance")


@dataclass(frozen=True)
class TerrainRegion:
    polygon: tuple            # ((x, y), ...) vertices, convex, in order
    friction_longitudinal: float
    friction_lateral: float
    rolling_resistance: float
    preset: str = ""
    sinkage_drag: float | None = None   # None: the preset's (SINKAGE_PRESETS), else 0

    def __post_init__(self):
        if self.sinkage_drag is None:
            object.__setattr__(self, "sinkage_drag", SINKAGE_PRESETS.get(self.preset, 0.0))

    def ground(self) -> tuple[float, float, float]:
        return (self.friction_longitudinal, self.friction_lateral, self.rolling_resistance)


@dataclass(frozen=True)
class Ramp:
    center: tuple[float, float]
    yaw: float
    length: float             # length of each slope along the ramp's local x, m
    width: float
    height: float
    top_length: float = 0.0   # flat top between the up and the down slope, m

    @property
    def slope_rad(self) -> float:
        return math.atan2(self.height, self.length)

    def footprint(self) -> np.ndarray:
        """(4, 2) the ramp's outline on the floor (up slope, top, down slope)."""
        return geometry.rectangle(self.center[0], self.center[1], 2 * self.length + self.top_length,
                                  self.width, self.yaw)

    def height_at(self, x: float, y: float) -> float:
        """Surface height (m) of the ramp at world (x, y); 0 outside it."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        dx, dy = x - self.center[0], y - self.center[1]
        u, v = c * dx + s * dy, -s * dx + c * dy
        half = self.length + self.top_length / 2
        if abs(v) > self.width / 2 or abs(u) > half:
            return 0.0
        return self.height * min(1.0, (half - abs(u)) / self.length)


# ---------------------------------------------------------------------------------- parsing

def _inside_arena(r, pts: np.ndarray, fld: str, arena: tuple[float, float]) -> None:
    hx, hy = arena[0] / 2.0, arena[1] / 2.0
    if np.any(np.abs(pts[:, 0]) > hx + 1e-9) or np.any(np.abs(pts[:, 1]) > hy + 1e-9):
        worst = pts[np.argmax(np.maximum(np.abs(pts[:, 0]) - hx, np.abs(pts[:, 1]) - hy))]
        r.fail(fld, f"a shape inside the arena (|x| <= {hx:g}, |y| <= {hy:g}); a corner is at "
                    f"({worst[0]:.3g}, {worst[1]:.3g})")


def _convex_polygon(r, raw: Any, fld: str) -> np.ndarray:
    lo, hi = POLYGON_VERTICES
    if not isinstance(raw, list) or not lo <= len(raw) <= hi:
        r.fail(fld, f"a list of {lo} to {hi} vertices [[x, y], ...]",
               raw if not isinstance(raw, list) else f"{len(raw)} vertices")
    pts = np.array([r.pair(v, f"{fld}[{i}]") for i, v in enumerate(raw)])
    edges = np.roll(pts, -1, axis=0) - pts
    cross = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    area = 0.5 * float(np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1]))
    turning = float(np.sum(np.arctan2(cross, np.sum(edges * np.roll(edges, -1, axis=0), axis=1))))
    convex = (np.all(cross >= -1e-12) or np.all(cross <= 1e-12)) and abs(abs(turning) - 2 * math.pi) < 1e-6
    if not convex or abs(area) < MIN_REGION_AREA_M2:
        r.fail(fld, f"a convex polygon with vertices in order (no self-crossing) and an area of at "
                    f"least {MIN_REGION_AREA_M2:g} m^2")
    return pts


def _region(r, item: Any, fld: str, arena: tuple[float, float]) -> TerrainRegion:
    spec = r.mapping(item, fld, set(), _REGION_KEYS)
    shapes = [k for k in ("box", "polygon") if k in spec]
    if len(shapes) != 1:
        r.fail(fld, "exactly one of box: {center, size, yaw} or polygon: [[x, y], ...]",
               "both" if shapes else "neither")
    diagonal = math.hypot(*arena)
    if "box" in spec:
        b = r.mapping(spec["box"], f"{fld}.box", {"center", "size"}, {"yaw"})
        center = r.pair(b["center"], f"{fld}.box.center")
        size = r.pair(b["size"], f"{fld}.box.size", (0.01, 0.01), (diagonal, diagonal),
                      unit=" m (at most the arena diagonal)")
        yaw = r.number(b.get("yaw", 0.0), f"{fld}.box.yaw", -2 * math.pi, 2 * math.pi, unit=" rad")
        pts = geometry.rectangle(center[0], center[1], size[0], size[1], yaw)
        _inside_arena(r, pts, f"{fld}.box", arena)
    else:
        pts = _convex_polygon(r, spec["polygon"], f"{fld}.polygon")
        _inside_arena(r, pts, f"{fld}.polygon", arena)
    preset = spec.get("preset", "")
    if "preset" in spec and (not isinstance(preset, str) or preset not in PRESETS):
        r.fail(f"{fld}.preset", f"one of {', '.join(PRESETS)}", preset)
    values = []
    for i, key in enumerate(_GROUND_FIELDS):
        if key in spec:
            rng = ROLLING_RANGE if key == "rolling_resistance" else FRICTION_RANGE
            values.append(r.number(spec[key], f"{fld}.{key}", *rng))
        elif preset:
            values.append(PRESETS[preset][i])
        else:
            r.fail(f"{fld}.{key}", "a number (required when the region has no preset)")
    sinkage = (r.number(spec["sinkage_drag"], f"{fld}.sinkage_drag", *SINKAGE_RANGE, unit=" per m/s")
               if "sinkage_drag" in spec else None)
    return TerrainRegion(tuple(map(tuple, pts.tolist())), *values, preset=preset, sinkage_drag=sinkage)


def parse_terrain(r, raw: Any, arena: tuple[float, float]) -> list[TerrainRegion]:
    """Validate the ``terrain:`` list (r is scenario._Reader: every failure names the field)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        r.fail("terrain", "a list of regions {box: ...|polygon: ..., preset, friction_longitudinal, "
                          "friction_lateral, rolling_resistance}", raw)
    if len(raw) > MAX_REGIONS:
        r.fail("terrain", f"at most {MAX_REGIONS} regions, got {len(raw)}")
    return [_region(r, item, f"terrain[{i}]", arena) for i, item in enumerate(raw)]


def parse_ramps(r, raw: Any, arena: tuple[float, float]) -> list[Ramp]:
    """Validate the ``ramps:`` list: bounded sizes, slope, and the whole ramp inside the arena."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        r.fail("ramps", "a list of {center, yaw, length, width, height, top_length}", raw)
    if len(raw) > MAX_RAMPS:
        r.fail("ramps", f"at most {MAX_RAMPS} ramps, got {len(raw)}")
    diagonal = math.hypot(*arena)
    out = []
    for i, item in enumerate(raw):
        fld = f"ramps[{i}]"
        spec = r.mapping(item, fld, {"center", "length", "width", "height"}, {"yaw", "top_length"})
        center = r.pair(spec["center"], f"{fld}.center")
        yaw = r.number(spec.get("yaw", 0.0), f"{fld}.yaw", -2 * math.pi, 2 * math.pi, unit=" rad")
        length = r.number(spec["length"], f"{fld}.length", 0.05, diagonal, unit=" m")
        width = r.number(spec["width"], f"{fld}.width", RAMP_WIDTH_MIN_M, diagonal, unit=" m")
        height = r.number(spec["height"], f"{fld}.height", *RAMP_HEIGHT_RANGE_M, unit=" m")
        top = r.number(spec.get("top_length", 0.0), f"{fld}.top_length", 0.0, diagonal, unit=" m")
        slope = math.degrees(math.atan2(height, length))
        if slope > RAMP_MAX_SLOPE_DEG + 1e-9:
            need = height / math.tan(math.radians(RAMP_MAX_SLOPE_DEG))
            r.fail(f"{fld}.length", f"a slope of at most {RAMP_MAX_SLOPE_DEG:g} degrees: at least "
                                    f"{need:.3g} m for a height of {height:g} m (this is {slope:.1f} degrees)",
                   length)
        ramp = Ramp(center, yaw, length, width, height, top)
        _inside_arena(r, ramp.footprint(), fld, arena)
        out.append(ramp)
    return out


# ---------------------------------------------------------------------------------- physics

class _RegionIndex:
    """Which region (last one wins) contains each of a few points; vectorised per region."""

    def __init__(self, regions):
        self.polys = [np.asarray(reg.polygon, dtype=float) for reg in regions]
        self.boxes = np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()]
                               for p in self.polys]).reshape(-1, 4)
        # Each polygon as half-planes n . x <= d with outward normals (either winding).
        self.halfplanes = []
        for p in self.polys:
            e = np.roll(p, -1, axis=0) - p
            n = np.column_stack([e[:, 1], -e[:, 0]])
            area = np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1])
            n = n if area > 0 else -n
            self.halfplanes.append((n, np.sum(n * p, axis=1)))

    def lookup(self, pts: np.ndarray) -> np.ndarray:
        """(P,) index of the last region containing each point of (P, 2), or -1."""
        out = np.full(len(pts), -1)
        if not len(self.polys):
            return out
        b = self.boxes
        cand = ((pts[:, None, 0] >= b[None, :, 0]) & (pts[:, None, 0] <= b[None, :, 2])
                & (pts[:, None, 1] >= b[None, :, 1]) & (pts[:, None, 1] <= b[None, :, 3]))
        for k, row in enumerate(cand):
            for j in np.flatnonzero(row)[::-1]:
                n, d = self.halfplanes[j]
                if np.all(n @ pts[k] <= d + 1e-9):
                    out[k] = j
                    break
        return out


class GroundModel:
    """Built by SimWorld.reset: creates ramp bodies and terrain visuals, and before every physics
    step (``apply(dt_s)``) sets each wheel's friction and the rolling resistance from the region
    under it."""

    def __init__(self, client: int, scenario, robot, ground_body: int, ground_group: int = 0x4,
                 all_mask: int = 0xFFFF):
        import pybullet as p

        self._p = p
        self.client, self.scenario, self.robot = client, scenario, robot
        self.regions = tuple(scenario.terrain)
        self.bodies: list[int] = []   # ramp bodies (ground group: the lidar does not see them)
        self.visuals: list[int] = []  # terrain drawings (no collision)
        self._index = _RegionIndex(self.regions)
        self._wheels = list(robot.wheels())
        self._current = [-1] * len(self._wheels)   # region index each wheel uses now (-1: floor)
        for ramp in scenario.ramps:
            for body in self._ramp_bodies(ramp):
                p.setCollisionFilterGroupMask(body, -1, ground_group, all_mask, physicsClientId=client)
                p.changeDynamics(body, -1, lateralFriction=1.0, physicsClientId=client)
                self.bodies.append(body)
        for k, reg in enumerate(self.regions):
            self.visuals.append(self._draw(reg, 0.002 + 0.0005 * (k % 8)))

    # -------------------------------------------------------------- building
    def _ramp_bodies(self, ramp: Ramp) -> list[int]:
        p, c = self._p, self.client
        theta = ramp.slope_rad
        slope_len = math.hypot(ramp.length, ramp.height)
        t = RAMP_SLAB_M
        colour = [0.62, 0.6, 0.55, 1]
        cy, sy = math.cos(ramp.yaw), math.sin(ramp.yaw)

        def world(u: float, z: float) -> list[float]:
            return [ramp.center[0] + cy * u, ramp.center[1] + sy * u, z]

        parts = []
        half_top = ramp.top_length / 2
        for sign in (-1.0, 1.0):          # -1: the up slope (before the top), +1: the down slope
            um = sign * (half_top + ramp.length / 2)
            # Centre: the slope surface's midpoint moved t/2 into the slab (along -normal).
            u = um + sign * (t / 2) * math.sin(theta)
            z = ramp.height / 2 - (t / 2) * math.cos(theta)
            orn = p.getQuaternionFromEuler([0.0, sign * theta, ramp.yaw])
            parts.append(([slope_len / 2, ramp.width / 2, t / 2], world(u, z), orn))
        if ramp.top_length > 0:
            parts.append(([half_top, ramp.width / 2, ramp.height / 2], world(0.0, ramp.height / 2),
                          p.getQuaternionFromEuler([0.0, 0.0, ramp.yaw])))
        bodies = []
        for half, pos, orn in parts:
            col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
            vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=colour, physicsClientId=c)
            bodies.append(p.createMultiBody(0, col, vis, pos, orn, physicsClientId=c))
        return bodies

    def _draw(self, reg: TerrainRegion, z: float) -> int:
        """A flat coloured polygon just above the floor, visible to the camera, no collision."""
        p, c = self._p, self.client
        pts = np.asarray(reg.polygon)
        centre = pts.mean(axis=0)
        verts = [[float(x - centre[0]), float(y - centre[1]), 0.0] for x, y in pts]
        n = len(verts)
        idx = []
        for i in range(1, n - 1):            # a fan, both windings (seen from above either way)
            idx += [0, i, i + 1, 0, i + 1, i]
        colour = PRESET_COLOURS.get(reg.preset, PRESET_COLOURS[""])
        vis = p.createVisualShape(p.GEOM_MESH, vertices=verts, indices=idx, rgbaColor=colour,
                                  physicsClientId=c)
        return p.createMultiBody(0, -1, vis, [float(centre[0]), float(centre[1]), z], physicsClientId=c)

    # -------------------------------------------------------------- queries
    def ground_at(self, x: float, y: float) -> tuple[float, float, float]:
        """(friction_longitudinal, friction_lateral, rolling_resistance) of the ground at (x, y);
        the floor is the robot's tyre friction both ways and no rolling resistance."""
        j = int(self._index.lookup(np.array([[x, y]]))[0])
        if j < 0:
            mu = self.robot.spec.wheel_friction
            return (mu, mu, 0.0)
        return self.regions[j].ground()

    # -------------------------------------------------------------- physics
    def apply(self, dt_s: float) -> None:
        """Wheel friction from the region under each wheel, and rolling resistance forces."""
        if not self.regions:
            return
        p, c, body = self._p, self.client, self.robot.body
        states = p.getLinkStates(body, self._wheels, computeLinkVelocity=1, physicsClientId=c)
        pos = np.array([s[0][:2] for s in states])
        found = self._index.lookup(pos)
        weight = self.robot.total_mass_kg() * GRAVITY_MPS2 / len(self._wheels)
        for k, (wheel, j) in enumerate(zip(self._wheels, found)):
            j = int(j)
            if j != self._current[k]:
                self._current[k] = j
                self.robot.set_wheel_friction(wheel, *(self.regions[j].ground()[:2] if j >= 0 else
                                                       (None, None)))
            if j < 0:
                continue
            reg = self.regions[j]
            vx, vy = states[k][6][0], states[k][6][1]
            speed = math.hypot(vx, vy)
            drag = reg.rolling_resistance + reg.sinkage_drag * speed
            if drag <= 0.0 or speed < 1e-6:
                continue
            mag = drag * weight * min(1.0, speed / ROLLING_FADE_MPS)
            force = [-mag * vx / speed, -mag * vy / speed, 0.0]
            p.applyExternalForce(body, wheel, force, list(states[k][0]), p.WORLD_FRAME, physicsClientId=c)
