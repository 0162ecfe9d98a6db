"""The critic registry, the critics config built from it, and the manager that loads the
critics named in the ``critics`` list, in order (nav2's critic_manager)."""
from __future__ import annotations

import dataclasses

import torch

from world_model_planner.core.params import ConfigError, markdown_table, param, validate
from world_model_planner.planner_node.critics.base import CostContext, Critic, CriticData
from world_model_planner.planner_node.critics.direction import PathAngleCritic, PreferForwardCritic
from world_model_planner.planner_node.critics.field import DistanceField, Footprint
from world_model_planner.planner_node.critics.scoring import (ClearanceCritic, ClearanceSpeedCritic,
                                                              CollisionCritic, EffortCritic, GoalCritic,
                                                              HeadingCritic, PathCritic, ProgressCritic,
                                                              SmoothnessCritic)

#: Every critic the ``critics`` list may name (the order of their parameters and docs). Register a new one here.
CRITIC_CLASSES: tuple[type[Critic], ...] = (GoalCritic, HeadingCritic, CollisionCritic, ClearanceCritic,
                                            EffortCritic, SmoothnessCritic, ProgressCritic, PathCritic,
                                            PreferForwardCritic, PathAngleCritic, ClearanceSpeedCritic)
REGISTRY: dict[str, type[Critic]] = {c.name: c for c in CRITIC_CLASSES}
CRITIC_NAMES = tuple(REGISTRY)
#: The default ``critics`` list: the critics that run unless the parameter says otherwise.
DEFAULT_CRITICS = ("goal", "heading", "collision", "clearance", "effort", "smoothness", "progress", "path",
                   "prefer_forward", "path_angle", "clearance_speed")

#: Settings shared by the critics that look at the robot's body (clearance).
_SHARED = [
    ("footprint_length_m", float, param(0.99, "Robot footprint along x (m), centred on base_link.",
                                        range=(0.05, 10.0))),
    ("footprint_width_m", float, param(0.67, "Robot footprint along y (m), centred on base_link.", range=(0.05, 10.0))),
    ("footprint_circles", int, param(5, "Circles along the body axis that cover the footprint "
                                        "(1 = one circumscribed circle).", range=(1, 8))),
    ("footprint_round", bool, param(False, "Round base (TurtleBot 4): the footprint is exactly the circle of "
                                           "diameter max(length, width); footprint_circles is not used.")),
    ("footprint_exact", bool, param(False, "Measure the rectangle itself (points along its edge every 4 cm and "
                                           "inscribed discs on its axis) instead of footprint_circles covering "
                                           "circles, which bulge past its ends; narrow gaps stay open.")),
    ("footprint_padding_m", float, param(0.0, "Safety margin around the footprint (m): subtracted from every "
                                              "footprint clearance the critics score (nav2's footprint_padding).",
                                         range=(0.0, 1.0))),
]
_LIST = ("critics", list, param(list(DEFAULT_CRITICS), "Critics that make up the cost, evaluated in this order "
                                "(a critic reads what those before it left in CriticData); each name once.",
                                choices=CRITIC_NAMES))


def _post_init(self):
    names = list(self.critics)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ConfigError(f"CriticsConfig.critics: unknown critic {unknown[0]!r}, expected names from "
                          f"{list(CRITIC_NAMES)}")
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"CriticsConfig.critics: expected at least one critic, each named once, got {names}")
    validate(self)


CriticsConfig = dataclasses.make_dataclass(
    "CriticsConfig", [_LIST] + [f for c in CRITIC_CLASSES for f in c.fields()] + _SHARED,
    namespace={"__post_init__": _post_init,
               "__doc__": "The critics list and every registered critic's parameters "
                          "(<name>_enabled, <name>_weight, <name>_power, its own settings)."})
CriticsConfig.__module__ = __name__


class Critics:
    """The manager: loads the critics of ``cfg.critics`` in order and sums their costs.
    ``__call__`` → (B,); ``breakdown`` → {name: (B,)} of the enabled ones."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.critics: list[Critic] = []
        for name in cfg.critics:
            critic = REGISTRY[name]()
            critic.initialize(cfg)
            self.critics.append(critic)

    def enabled(self) -> list[str]:
        return [c.name for c in self.critics if c.enabled]

    def reads_collision(self) -> bool:
        """Whether any critic scores the model's collision head (the ``collision`` critic,
        enabled with a non-zero weight); where none does, the rollout skips the head."""
        return any(c.name == "collision" and c.enabled and c.weight != 0.0 for c in self.critics)

    def footprint_distance(self, poses: torch.Tensor, field: DistanceField) -> torch.Tensor:
        """poses (..., 3) → (...) signed clearance (m) of the configured footprint."""
        c = self.cfg
        return Footprint.of(c).distance(poses, field)

    def breakdown(self, actions: torch.Tensor, roll, ctx: CostContext) -> dict[str, torch.Tensor]:
        """actions (B, H, 2), roll: Rollout → {name: (B,) weighted cost} in evaluation order."""
        data = CriticData.build(actions, roll, ctx)
        return {c.name: c.score(data) for c in self.critics if c.enabled}

    def __call__(self, actions: torch.Tensor, roll, ctx: CostContext) -> torch.Tensor:
        total = torch.zeros(actions.shape[0], device=actions.device)
        for v in self.breakdown(actions, roll, ctx).values():
            total = total + v
        return total


def critic_docs(prefix: str = "critics.") -> str:
    """Markdown: each registered critic, what it scores, and its parameters (docs/parameters.md)."""
    out = [f"The cost is the sum of the critics named in `{prefix}critics`, evaluated in that order. "
           "Each adds `weight * sign(raw) * |raw| ** power` of its raw cost (the clearance critic's "
           "lethal cost and the effort critic's reverse cost are added unscaled).", ""]
    for c in CRITIC_CLASSES:
        out += [f"- **{c.name}** (`{c.__module__.rsplit('.', 1)[-1]}.{c.__name__}`): {c.scores}; parameters "
                + ", ".join(f"`{prefix}{n}`" for n, _t, _f in c.fields()) + "."]
    out += ["", f"Shared: {', '.join(f'`{prefix}{n}`' for n, _t, _f in _SHARED)}.", "",
            markdown_table(CriticsConfig, prefix)]
    return "\n".join(out)
