"""A robot file's planner settings as a PlannerConfig, for planners run in process.

The planner node gets a robot's limits, footprint and planner section as ROS parameters
(:func:`world_model_planner.core.robot_config.planner_params`, set by the launch files and
``wmp run/bench --robot``). A Navigator built in process (``wmp bench-model --robot``,
``scripts/barn_episodes.py``, ``scripts/inprocess_episodes.py``) gets the same values here, so
that it plans as that robot's node would.
"""
from __future__ import annotations

import dataclasses

from world_model_planner.core.robot_config import load_robot, planner_params
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator_config import PlannerConfig


def part_of(cfg: PlannerConfig, key: str):
    """(the PlannerConfig section holding planner node parameter ``key``, the field's name), or
    (None, name) where no section has it; the node's top-level parameters are ``cfg.nav``'s."""
    section, _, name = key.rpartition(".")
    part = getattr(cfg, section or "nav", None)
    return (part if part is not None and hasattr(part, name) else None), name


def apply_overrides(cfg: PlannerConfig, overrides=()) -> PlannerConfig:
    """``cfg`` with each "[section.]name=value" of ``overrides`` set, the value read as the field's
    type (booleans from 1/true/0/false), then the section's own checks run. Raises ValueError
    naming the item: an unknown parameter, a value of the wrong type, or one out of range."""
    for item in overrides:
        key, eq, text = str(item).partition("=")
        if not eq:
            raise ValueError(f"{item!r}: expected [section.]name=value")
        part, name = part_of(cfg, key)
        if part is None:
            raise ValueError(f"{item!r}: no planner parameter {key!r}")
        old = getattr(part, name)
        if isinstance(old, bool):
            low = text.strip().lower()
            if low not in ("1", "true", "0", "false"):
                raise ValueError(f"{item!r}: expected true/false or 1/0")
            value = low in ("1", "true")
        else:
            try:
                value = type(old)(text)
            except (TypeError, ValueError):
                raise ValueError(f"{item!r}: expected a {type(old).__name__}") from None
        setattr(part, name, value)
        if hasattr(part, "__post_init__"):
            try:
                part.__post_init__()                  # the section's own range checks
            except ValueError as exc:
                setattr(part, name, old)
                raise ValueError(f"{item!r}: {exc}") from None
    return cfg


def robot_planner_config(robot: str, samples: int | None = None, horizon: int | None = None,
                         overrides=(), not_applied: list | None = None) -> PlannerConfig:
    """PlannerConfig for ``robot`` (a name under config/robots/ or a robot file's path): MPPI at
    ``samples`` x ``horizon`` (the defaults where None), the robot file's limits, footprint and
    planner section as its planner node gets them, then ``overrides`` (see apply_overrides).
    Node-only parameters of the robot file (e.g. control_rate_hz), which a Navigator does not
    read, are appended to ``not_applied`` when a list is given."""
    base = MPPIConfig()
    cfg = PlannerConfig(mppi=MPPIConfig(samples=samples or base.samples, horizon=horizon or base.horizon))
    for key, value in planner_params(load_robot(robot)).items():
        if key == "robot":                            # the robot's name
            continue
        part, name = part_of(cfg, key)
        if part is not None:
            setattr(part, name, value)
        elif not_applied is not None:
            not_applied.append(key)
    for f in dataclasses.fields(cfg):                 # each section's own checks, on the robot's values
        part = getattr(cfg, f.name)
        if hasattr(part, "__post_init__"):
            part.__post_init__()
    return apply_overrides(cfg, overrides)
