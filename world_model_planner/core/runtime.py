"""One seeding function and one device choice for the whole project."""
from __future__ import annotations

import os
import random

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch (if imported); return a numpy Generator for local use."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass
    return np.random.default_rng(seed)


def pick_device(requested: str | None = None):
    """``requested`` ('cpu', 'cuda', 'cuda:1', 'auto' or None) → torch.device; CUDA if present."""
    import torch

    req = (requested or os.environ.get("WMP_DEVICE") or "auto").lower()
    if req == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if req.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device '{requested}' requested but CUDA is not available")
    return torch.device(req)
