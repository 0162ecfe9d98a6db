"""Random dynamics for data collection, and the ground-truth labels collection records.

``draw_dynamics`` gives one episode's scenario terrain patches, a payload, a command latency and
moving people/carts, seeded; ``ground_at`` maps a point to the ground's (friction_longitudinal,
friction_lateral, rolling_resistance); ``nearest_mover_m`` is the robot-to-mover distance.

Draws only fill what a scenario leaves empty (no terrain, zero payload, zero latency, no
movers): a scenario of the dynamics suite keeps its own ground and people.
No PyBullet here (mover positions come from ``SimWorld.movers.states()``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from world_model_planner.core.params import param, validate
from world_model_planner.sim import geometry

#: Terrain presets drawn by collection: (friction_longitudinal, friction_lateral,
#: rolling_resistance). ``sim.terrain.PRESETS`` wins where it defines the name.
FALLBACK_PRESETS = {"ice": (0.1, 0.05, 0.005), "wet_tiles": (0.35, 0.25, 0.01), "grass": (0.6, 0.45, 0.06),
                    "mud": (0.45, 0.3, 0.15), "gravel": (0.7, 0.5, 0.04)}
PRESET_NAMES = tuple(FALLBACK_PRESETS)


@dataclass
class DrawConfig:
    """Ranges of the per-episode dynamics draws (``wmp collect --dynamics``)."""

    patches: tuple = param((2, 5), "Terrain patches per episode (min, max).")
    patch_size_m: tuple = param((1.5, 4.0), "Side of a square-ish terrain patch, m (min, max).")
    cover_start_p: float = param(0.3, "Probability that a patch covers the start pose.", range=(0.0, 1.0))
    ahead_p: float = param(0.8, "Probability that a patch starts 0.3-1.5 m ahead of the start (entered "
                                "mid-episode); the same for one behind (reversing onto it).", range=(0.0, 1.0))
    near_m: float = param(4.0, "Other patches are centred within this distance of the start, m.",
                          range=(0.5, 100.0))
    payload_p: float = param(0.6, "Probability of a payload.", range=(0.0, 1.0))
    payload_kg: float = param(150.0, "Largest payload, kg (uniform from 0).", range=(0.0, 500.0))
    latency_p: float = param(0.6, "Probability of a command latency.", range=(0.0, 1.0))
    latency_s: float = param(0.2, "Largest latency, s (uniform from 0).", range=(0.0, 1.0))
    movers: int = param(5, "Most movers per episode (uniform 0..movers).", range=(0, 50))

    def __post_init__(self):
        validate(self)


def preset(name: str) -> tuple[float, float, float]:
    """(friction_longitudinal, friction_lateral, rolling_resistance) of a terrain preset."""
    from world_model_planner.sim import terrain

    table = getattr(terrain, "PRESETS", None) or {}
    got = table.get(name)
    if got is None:
        return FALLBACK_PRESETS[name]
    if isinstance(got, dict):
        return (float(got["friction_longitudinal"]), float(got["friction_lateral"]),
                float(got["rolling_resistance"]))
    if hasattr(got, "friction_longitudinal"):
        return (float(got.friction_longitudinal), float(got.friction_lateral), float(got.rolling_resistance))
    return tuple(float(v) for v in got)[:3]


def payload_scale(robot: str) -> float:
    """Payload draws scale with the robot's rated payload (``payload_kg`` is written for the Husky)."""
    from world_model_planner.sim.robots import HUSKY, ROBOTS

    spec = ROBOTS.get(robot, HUSKY)
    return spec.payload_max_kg / HUSKY.payload_max_kg


def floor_ground(robot: str = "husky") -> tuple[float, float, float]:
    """The default floor: the robot's tyre friction both ways and no rolling resistance (as
    sim.terrain.GroundModel.ground_at reads it)."""
    from world_model_planner.sim.robots import ROBOTS

    mu = float(ROBOTS[robot].wheel_friction)
    return (mu, mu, 0.0)


def ground_at(scenario, x: float, y: float) -> np.ndarray:
    """(3,) ground properties under the point: the last terrain region containing it (later
    regions win where they overlap), else the default floor. Collection asks the sim's
    GroundModel.ground_at when it has one; this is the same rule without a sim."""
    p = np.array([x, y], dtype=np.float64)
    for reg in reversed(tuple(scenario.terrain)):
        if geometry.point_in_polygon(p, np.asarray(reg.polygon, dtype=np.float64)):
            return np.array([reg.friction_longitudinal, reg.friction_lateral, reg.rolling_resistance], np.float32)
    return np.asarray(floor_ground(scenario.robot), np.float32)


def nearest_mover_m(x: float, y: float, states: np.ndarray, n_specs: int) -> float:
    """Distance (m) from (x, y) to the nearest mover centre; inf without movers, nan when the
    scenario has movers but the sim reports no positions."""
    if n_specs == 0:
        return math.inf
    states = np.asarray(states)
    if states.size == 0:
        return math.nan
    return float(np.hypot(states[:, 0] - x, states[:, 1] - y).min())


def _patch(rng, where, cfg: DrawConfig, arena):
    """where(sx, sy) -> centre: a patch of random preset, size and yaw around it."""
    from world_model_planner.sim.terrain import TerrainRegion

    name = PRESET_NAMES[int(rng.integers(len(PRESET_NAMES)))]
    lo, hi = cfg.patch_size_m
    sx, sy, yaw = float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi)), float(rng.uniform(-math.pi, math.pi))
    cx, cy = where(sx, sy)
    hx, hy = arena[0] / 2 - 0.05, arena[1] / 2 - 0.05
    cx, cy = float(np.clip(cx, -hx, hx)), float(np.clip(cy, -hy, hy))
    poly = geometry.rectangle(cx, cy, sx, sy, yaw)
    poly[:, 0] = np.clip(poly[:, 0], -hx, hx)   # clipping a convex polygon's vertices to a box
    poly[:, 1] = np.clip(poly[:, 1], -hy, hy)   # keeps it convex
    fl, flat, rr = preset(name)
    region = TerrainRegion(polygon=tuple((float(a), float(b)) for a, b in poly), friction_longitudinal=fl,
                           friction_lateral=flat, rolling_resistance=rr, preset=name)
    return region, {"preset": name, "center": [cx, cy], "size": [sx, sy], "yaw": yaw}


def _free_segment(scenario, a, b, margin: float) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    n = max(2, int(np.linalg.norm(d) / 0.1))
    perp = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-9) * margin
    for t in np.linspace(0.0, 1.0, n):
        q = a + t * d
        if not all(scenario.point_free(*(q + s * perp)) for s in (-1.0, 0.0, 1.0)):
            return False
    return True


def _free_point(scenario, rng, start, min_start_m: float, margin: float):
    sx, sy = scenario.arena
    for _ in range(100):
        x, y = rng.uniform(-sx / 2 + 0.6, sx / 2 - 0.6), rng.uniform(-sy / 2 + 0.6, sy / 2 - 0.6)
        if math.hypot(x - start.x, y - start.y) < min_start_m:
            continue
        if all(scenario.point_free(x + dx, y + dy) for dx, dy in ((0, 0), (margin, 0), (-margin, 0),
                                                                  (0, margin), (0, -margin))):
            return float(x), float(y)
    return None


def _mover(rng, scenario, start):
    from world_model_planner.sim.movers import MoverSpec

    person = rng.random() < 0.65
    kind = "person" if person else "cart"
    speed = float(rng.uniform(0.3, 1.2) if person else rng.uniform(0.3, 0.8))
    radius = float(rng.uniform(0.2, 0.3))
    size = (float(rng.uniform(0.6, 1.0)), float(rng.uniform(0.4, 0.7)))
    margin = radius if person else 0.5 * math.hypot(*size)
    a = _free_point(scenario, rng, start, 2.0, margin)
    if a is None:
        return None, None
    if rng.random() < 0.5:   # back and forth between two free points with a free straight line
        for _ in range(20):
            b = _free_point(scenario, rng, start, 1.0, margin)
            if b is not None and 1.0 < math.hypot(b[0] - a[0], b[1] - a[1]) < 6.0 \
                    and _free_segment(scenario, a, b, margin):
                spec = MoverSpec(kind=kind, speed=speed, path="back_and_forth", radius=radius, size=size,
                                 waypoints=(a, b), start_delay_s=float(rng.uniform(0.0, 2.0)))
                return spec, {"kind": kind, "path": "back_and_forth", "speed": speed, "waypoints": [a, b]}
    side = (float(rng.uniform(1.5, 4.0)), float(rng.uniform(1.5, 4.0)))
    spec = MoverSpec(kind=kind, speed=speed, path="random_walk", radius=radius, size=size,
                     area=(a, side), start_delay_s=float(rng.uniform(0.0, 2.0)))
    return spec, {"kind": kind, "path": "random_walk", "speed": speed, "area": [list(a), list(side)]}


def draw_dynamics(scenario, rng: np.random.Generator, cfg: DrawConfig | None = None):
    """-> (scenario with drawn terrain / payload / latency / movers, record dict for the meta).

    Fields the scenario already sets are kept (and not drawn). Patches: one may cover the start
    (the episode begins on it), one usually lies just ahead of the start (the robot drives onto
    it mid-episode), the rest anywhere in the arena."""
    cfg = cfg or DrawConfig()
    start, (ax, ay) = scenario.start, scenario.arena
    rec: dict = {}
    changes: dict = {}
    if not scenario.terrain:
        regions, recs = [], []
        n = int(rng.integers(cfg.patches[0], cfg.patches[1] + 1))
        for i in range(n):
            if i == 0 and rng.random() < cfg.cover_start_p:
                def where(sx, sy):
                    return start.x + rng.uniform(-0.3, 0.3) * sx, start.y + rng.uniform(-0.3, 0.3) * sy
            elif i <= 2 and rng.random() < cfg.ahead_p:
                sign = 1.0 if i <= 1 else -1.0

                def where(sx, sy, sign=sign):   # near edge 0.3-1.5 m ahead (behind) of the start
                    d = sign * (rng.uniform(0.3, 1.5) + 0.5 * max(sx, sy))   # (roughly: the patch is turned)
                    return start.x + d * math.cos(start.yaw), start.y + d * math.sin(start.yaw)
            else:
                def where(sx, sy):
                    r, a = cfg.near_m * math.sqrt(rng.random()), rng.uniform(-math.pi, math.pi)
                    return start.x + r * math.cos(a), start.y + r * math.sin(a)
            reg, r = _patch(rng, where, cfg, scenario.arena)
            regions.append(reg)
            recs.append(r)
        changes["terrain"], rec["terrain"] = tuple(regions), recs
    if scenario.payload_kg == 0.0:
        changes["payload_kg"] = float(rng.uniform(0.0, cfg.payload_kg * payload_scale(scenario.robot))) \
            if rng.random() < cfg.payload_p else 0.0
        rec["payload_kg"] = changes["payload_kg"]
    if scenario.latency_s == 0.0:
        changes["latency_s"] = float(rng.uniform(0.0, cfg.latency_s)) if rng.random() < cfg.latency_p else 0.0
        rec["latency_s"] = changes["latency_s"]
    if not scenario.movers:
        specs, recs = [], []
        for _ in range(int(rng.integers(0, cfg.movers + 1))):
            spec, r = _mover(rng, scenario, start)
            if spec is not None:
                specs.append(spec)
                recs.append(r)
        changes["movers"], rec["movers"] = tuple(specs), recs
    return replace(scenario, **changes), rec
