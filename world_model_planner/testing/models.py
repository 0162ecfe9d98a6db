"""Tiny world models for process tests and load runs: seeded, untrained, 180-beam scans."""
from __future__ import annotations

from pathlib import Path

BEAMS = 180


def tiny_model(scan_beams: int = BEAMS):
    """A seeded (0), untrained world model in eval mode: enough for nodes to load and run."""
    import torch

    from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig

    torch.manual_seed(0)
    return WorldModel(WorldModelConfig(scan_beams=scan_beams)).eval()


def tiny_checkpoint(out_dir: Path, model=None) -> Path:
    """``model`` (default: ``tiny_model()``) saved as ``out_dir/tiny.pt``."""
    from world_model_planner.world_model_node.checkpoint import save_checkpoint

    return save_checkpoint(Path(out_dir) / "tiny.pt", tiny_model() if model is None else model)
