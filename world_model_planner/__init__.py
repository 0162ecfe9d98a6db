"""Shared plumbing of world_model_planner: paths, seeding, device choice, the `wmp` CLI."""

__version__ = "0.1.0"
