"""One seeding function and one device choice for the whole project.

``pick_device`` maps a setting to a torch device (``auto``: CUDA if present). Where the fastest
path has to be measured (the planner's ``device: auto``), ``time_candidates`` times each
candidate (a plain callable) with bounded repeats and ``fastest`` picks the quickest.
"""
from __future__ import annotations

import os
import random
import statistics
import time
from typing import Callable, Mapping

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


def time_candidates(candidates: Mapping[str, Callable[[], object]], repeats: int = 5, max_s: float = 1.0,
                    warmup: int = 1, clock: Callable[[], float] = time.perf_counter) -> dict:
    """Median seconds per call of each candidate, by name; a candidate that raises gets the
    error text (str) instead. Each candidate is called ``warmup`` times untimed, then up to
    ``repeats`` times, stopping early once it has used its share of ``max_s`` (all candidates
    together take about ``max_s`` plus one call each). A warm-up call that alone takes the
    share is the measurement (one call, for paths too slow to repeat). ``clock``: seconds,
    monotonic."""
    share = max_s / max(1, len(candidates))
    out: dict = {}
    for name, fn in candidates.items():
        try:
            start = clock()
            for _ in range(warmup):
                fn()
            if warmup and clock() - start >= share:
                out[name] = (clock() - start) / warmup
                continue
            times = []
            while len(times) < max(1, repeats):
                t0 = clock()
                fn()
                times.append(clock() - t0)
                if clock() - start >= share:
                    break
            out[name] = statistics.median(times)
        except Exception as exc:  # noqa: BLE001 - a path that cannot run is reported, not chosen
            out[name] = f"{type(exc).__name__}: {exc}"
    return out


def fastest(timings: Mapping[str, object], prefer: str | None = None, margin: float = 0.1) -> str:
    """The name with the smallest time in ``timings`` (from ``time_candidates``); ``prefer``
    (the default path) is kept unless another is faster by more than ``margin`` (a fraction of
    its time: noise does not move the choice). ValueError when none could run."""
    ok = {k: v for k, v in timings.items() if isinstance(v, float)}
    if not ok:
        raise ValueError("no candidate could run: " + "; ".join(f"{k}: {v}" for k, v in timings.items()))
    best = min(ok, key=ok.get)
    if prefer in ok and ok[best] > ok[prefer] * (1.0 - margin):
        return prefer
    return best
