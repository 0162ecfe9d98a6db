"""Ground that changes how the base moves: terrain regions with tyre friction and rolling
resistance, and ramps. Parsing (no PyBullet) and the physics hooks SimWorld calls.

Scenario fields (the README's scenario block documents every one)::

    terrain:                                   # later entries win where regions overlap
      - preset: ice                            # ice | wet_tiles | grass | mud | gravel (optional)
        box: {center: [x, y], size: [sx, sy], yaw: 0.0}     # or polygon: [[x, y], ...]
        friction_longitudinal: 0.1             # optional; overrides the preset
        friction_lateral: 0.05
        rolling_resistance: 0.01
    ramps:
      - {center: [x, y], yaw: 0.0, length: 2.0, width: 2.0, height: 0.3, top_length: 0.0}

(Stub: the interface SimWorld uses; the physics lands with the terrain work.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TerrainRegion:
    polygon: tuple            # ((x, y), ...) vertices, convex, in order
    friction_longitudinal: float
    friction_lateral: float
    rolling_resistance: float
    preset: str = ""


@dataclass(frozen=True)
class Ramp:
    center: tuple[float, float]
    yaw: float
    length: float             # length of each slope along the ramp's local x, m
    width: float
    height: float
    top_length: float = 0.0   # flat top between the up and the down slope, m


def parse_terrain(r, raw: Any, arena: tuple[float, float]) -> list[TerrainRegion]:
    """Validate the ``terrain:`` list (r is scenario._Reader: every failure names the field)."""
    if raw is None:
        return []
    r.fail("terrain", "no terrain (not supported yet)", raw)
    return []


def parse_ramps(r, raw: Any, arena: tuple[float, float]) -> list[Ramp]:
    if raw is None:
        return []
    r.fail("ramps", "no ramps (not supported yet)", raw)
    return []


class GroundModel:
    """Built by SimWorld.reset: creates ramp bodies, and sets each wheel's friction and the
    rolling resistance from the region under it. ``apply(robot, dt_s)`` runs before every
    physics step."""

    def __init__(self, client: int, scenario, robot, ground_body: int):
        self.client, self.scenario, self.robot = client, scenario, robot
        self.bodies: list[int] = []   # ramp bodies (ground: the lidar does not see them)

    def apply(self, dt_s: float) -> None:
        return None
