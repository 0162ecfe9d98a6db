"""The critic interface and the data every critic reads (after nav2_mppi_controller's
critic_function.hpp and CriticData).

A critic is a class with a ``name``. ``initialize(cfg)`` reads its own parameters from the
critics config (``<name>_enabled``, ``<name>_weight``, ``<name>_power`` and its own
settings, declared in ``PARAMS``); ``score(data)`` returns its (batch,) cost. The base class
handles ``enabled`` (a disabled critic costs nothing and is not evaluated), the weight and the
power: ``weight * sign(raw) * |raw| ** power`` of the critic's ``raw(data)``, plus an optional
``unweighted(data)`` term that no weight or power touches (a lethal cost).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from world_model_planner.core.params import param
from world_model_planner.planner_node.critics.field import DistanceField, Footprint


@dataclass
class CostContext:
    """What the critics need besides the rollout, fixed for one control tick.

    target: (2,) point the low level steers to (subgoal or goal); final: target is the goal;
    path: (P, 2) densely sampled global path ahead of the robot, or None;
    goal_yaw: rad or None; start: (3,) current pose; a0: (2,) current command;
    field: DistanceField of the latest scan or None; a_max: (2,) command scale (m/s, rad/s);
    d_max: (2,) largest command change per step; dt_s: model step (s); footprint: the Footprint the
    clearance critics measure this tick in place of the configured one (the goal approach), or None;
    goal_known: False where the target stands in for a goal with no position (a goal picture), so
    that no near-the-goal rule applies.
    """

    target: torch.Tensor
    start: torch.Tensor
    a0: torch.Tensor
    final: bool = True
    goal_yaw: float | None = None
    field: DistanceField | None = None
    path: torch.Tensor | None = None        # (P, 2) global path points near the robot
    a_max: tuple = (1.0, 1.5)
    d_max: tuple = (0.15, 0.3)
    dt_s: float = 0.1
    footprint: Footprint | None = None      # this tick's footprint, where it is not the configured one
    goal_known: bool = True                 # False: target is a stand-in (a goal picture has no position)


@dataclass
class CriticData:
    """The explicit shared state of one cost evaluation: the tick's context, the sampled actions
    and their predicted rollout, and what critics computed for the critics after them.

    actions: (B, H, 2) commands (v m/s, w rad/s); poses: (B, H, 3) predicted (x, y, yaw);
    collision_prob: (B, H) the model's contact probability per step, or None;
    predicted_clearance_m: (B, H) the model's predicted footprint clearance (m, <= 0 = contact) after each
    step (Rollout.clearance_m: the scene as it will be, moving obstacles included), or None.
    Filled by critics, in the order of the ``critics`` list:
    clearance_m: (B, H) footprint clearance (m) the ``clearance`` critic scored (predicted, else
    signed from the scan's field);
    in_collision: (B,) bool, the predicted footprint touches a scan point (``clearance``).
    """

    ctx: CostContext
    actions: torch.Tensor
    poses: torch.Tensor
    collision_prob: torch.Tensor | None = None
    predicted_clearance_m: torch.Tensor | None = None
    clearance_m: torch.Tensor | None = None
    in_collision: torch.Tensor | None = None

    @classmethod
    def build(cls, actions: torch.Tensor, roll, ctx: CostContext) -> "CriticData":
        """From the sampler's (actions (B, H, 2), Rollout) and the tick's context."""
        poses = roll.poses
        return cls(ctx, actions, poses, roll.collision_prob, getattr(roll, "clearance_m", None),
                   in_collision=torch.zeros(poses.shape[0], dtype=torch.bool, device=poses.device))

    @property
    def batch(self) -> int:
        return self.poses.shape[0]

    def zeros(self) -> torch.Tensor:
        """(B,) zero costs: the answer of a critic with nothing to score this tick."""
        return self.poses.new_zeros(self.batch)


def signed_power(x: torch.Tensor, p: float) -> torch.Tensor:
    """sign(x) * |x| ** p (x itself when p == 1)."""
    return x if p == 1.0 else x.sign() * x.abs().pow(p)


class Critic:
    """One cost term. Subclasses set the class attributes and implement ``raw``."""

    name: ClassVar[str] = ""
    #: what it scores, one line (docs and the ``<name>_enabled`` description)
    scores: ClassVar[str] = ""
    default_weight: ClassVar[float] = 1.0
    #: unit or note after "Weight of the <name> critic", e.g. " (per metre)"
    weight_note: ClassVar[str] = ""
    default_power: ClassVar[float] = 1.0
    power_doc: ClassVar[str] = ""
    #: the critic's own settings beyond enabled/weight/power: full field name → param(...)
    PARAMS: ClassVar[dict] = {}
    #: whether ``<name>_enabled`` defaults to true (a critic that changes the planner's default
    #: behaviour ships off and is enabled per robot or scenario)
    default_enabled: ClassVar[bool] = True

    @classmethod
    def fields(cls) -> list[tuple]:
        """(name, type, field) of every parameter of this critic, for the critics config."""
        n = cls.name
        own = [(k, type(f.default), f) for k, f in cls.PARAMS.items()]
        return [(f"{n}_enabled", bool, param(cls.default_enabled, f"Use the {n} critic ({cls.scores}).")),
                (f"{n}_weight", float, param(cls.default_weight, f"Weight of the {n} critic{cls.weight_note}.",
                                             range=(0.0, 1e6))),
                (f"{n}_power", float, param(cls.default_power, cls.power_doc or f"Exponent of the {n} critic.",
                                            range=(0.5, 4.0))), *own]

    def initialize(self, cfg) -> None:
        """Read this critic's parameters from the critics config ``cfg``."""
        self.enabled = bool(getattr(cfg, f"{self.name}_enabled"))
        self.weight = float(getattr(cfg, f"{self.name}_weight"))
        self.power = float(getattr(cfg, f"{self.name}_power"))

    def score(self, data: CriticData) -> torch.Tensor:
        """(B,) weighted cost of this critic (zeros when disabled)."""
        if not self.enabled:
            return data.zeros()
        cost = self.weight * signed_power(self.raw(data), self.power)
        extra = self.unweighted(data)
        return cost if extra is None else cost + extra

    def raw(self, data: CriticData) -> torch.Tensor:
        """(B,) unweighted cost."""
        raise NotImplementedError

    def unweighted(self, data: CriticData) -> torch.Tensor | None:
        """(B,) cost added after weight and power, or None."""
        return None
