"""Moving obstacles: people (cylinders) and carts (boxes) on waypoint loops, back-and-forth
paths or seeded random walks, kinematic, speed-limited, never through walls or obstacles.

Scenario field (the README's scenario block documents it)::

    movers:
      - kind: person                 # person (cylinder, radius ~0.25 m) | cart (box)
        radius: 0.25                 # person only
        size: [0.9, 0.6]             # cart only
        speed: 0.8                   # m/s, the path's speed limit
        path: loop                   # loop | back_and_forth | random_walk
        waypoints: [[x, y], ...]     # loop, back_and_forth
        area: {center: [x, y], size: [sx, sy]}   # random_walk
        start_delay_s: 0.0           # waits at its first waypoint before moving

(Stub: the interface SimWorld uses; the motion lands with the movers work.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MoverSpec:
    kind: str
    speed: float
    path: str
    radius: float = 0.25
    size: tuple[float, float] = (0.9, 0.6)
    waypoints: tuple = ()
    area: tuple = ()              # ((cx, cy), (sx, sy)) for random_walk
    start_delay_s: float = 0.0


def parse_movers(r, raw: Any, arena: tuple[float, float], obstacles: tuple = ()) -> list[MoverSpec]:
    if raw is None:
        return []
    r.fail("movers", "no movers (not supported yet)", raw)
    return []


class MoverSet:
    """Built by SimWorld.reset. ``bodies`` are in the lidar's world group and in the collision
    set; ``step(dt_s, sim_time_s)`` moves them before every physics step; ``states()`` gives
    (M, 4) x, y, vx, vy for ground truth (evaluation, tests)."""

    def __init__(self, client: int, specs, scenario, rng, world_group: int, all_mask: int):
        self.client, self.specs = client, tuple(specs)
        self.bodies: list[int] = []

    def step(self, dt_s: float, sim_time_s: float) -> None:
        return None

    def states(self):
        import numpy as np
        return np.zeros((0, 4))
