"""Small driving cases for in-process planner tests: a Husky scenario from a few obstacles and a
planner configuration small enough for 0.1 s lockstep ticks on a CI core."""
from __future__ import annotations

from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import PlannerConfig
from world_model_planner.planner_node.recovery import RecoveryConfig
from world_model_planner.sim.scenario import parse_scenario


def case(obstacles, start, goal, arena=(12.0, 6.0), name="case"):
    """A parsed Husky scenario: ``start`` (x, y, yaw), ``goal`` (x, y) within 0.3 m, 60 s."""
    return parse_scenario({"name": name, "robot": "husky", "arena": list(arena), "obstacles": obstacles,
                           "start": dict(zip(("x", "y", "yaw"), start)),
                           "goal": {"x": goal[0], "y": goal[1], "tolerance": 0.3}, "time_limit": 60})


def small_cfg(**recovery) -> PlannerConfig:
    """128 samples x 20 steps, with the given RecoveryConfig fields."""
    return PlannerConfig(mppi=MPPIConfig(samples=128, horizon=20), recovery=RecoveryConfig(**recovery))
