"""The planning cost: a sum of small named critics, one class per critic (after
nav2_mppi_controller's critics), each with ``enabled``, ``weight`` and ``power``, each
measurable alone (``Critics.breakdown``).

    base.py     Critic (initialize(cfg), score(data) -> (B,)), CriticData, CostContext
    scoring.py  the critics: goal, heading, collision, clearance, effort, smoothness, progress, path,
                clearance_speed (off by default)
    manager.py  the registry, CriticsConfig (built from the critic classes) and Critics, which
                loads the critics named in the ``critics`` list parameter, in order, and sums them
    field.py    DistanceField (local scan distance field) and Footprint (the body as covering circles,
                or exactly as its rectangle; with an optional padding)

Adding a critic = one new class in scoring.py (or its own module) that sets ``name``,
``scores``, its default weight/power and its own ``PARAMS``, implements ``raw(data)`` (and
``initialize`` to read its own settings), plus its class registered in
``manager.CRITIC_CLASSES``. Its ROS parameters (``critics.<name>_enabled`` ...), the choices of
``critics.critics`` and its entry in docs/parameters.md follow from the class. It runs where the
``critics.critics`` list names it; to run it by default, add its name to
``manager.DEFAULT_CRITICS`` and regenerate config/planner.yaml and docs/parameters.md.
"""
from world_model_planner.planner_node.critics.base import CostContext, Critic, CriticData, signed_power
from world_model_planner.planner_node.critics.field import DistanceField, Footprint
from world_model_planner.planner_node.critics.manager import (CRITIC_CLASSES, CRITIC_NAMES, DEFAULT_CRITICS, REGISTRY,
                                                              Critics, CriticsConfig, critic_docs)

__all__ = ["CRITIC_CLASSES", "CRITIC_NAMES", "DEFAULT_CRITICS", "REGISTRY", "CostContext", "Critic", "CriticData",
           "Critics", "CriticsConfig", "DistanceField", "Footprint", "critic_docs", "signed_power"]
