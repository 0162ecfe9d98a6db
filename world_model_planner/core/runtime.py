"""One seeding function and one device choice for the whole project.

``pick_device`` maps a setting to a torch device (``auto``: CUDA if present). Where the fastest
path has to be measured (the planner's ``device: auto``), ``time_candidates`` times each
candidate (a plain callable) with bounded repeats and ``fastest`` picks the quickest.
``cpu_has_bf16`` and ``cpu_description`` read the CPU's features from /proc/cpuinfo.
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


def _cpuinfo(cpuinfo: str | None) -> str:
    """``cpuinfo`` itself, or /proc/cpuinfo's text where it is None ("" where it cannot be read)."""
    if cpuinfo is not None:
        return cpuinfo
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return f.read(1 << 20)
    except OSError:
        return ""


#: The flags of bf16 arithmetic units: x86's avx512_bf16 and amx_bf16, Arm's bf16.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def _flag_lines(cpuinfo: str):
    """The word set of each "flags" (x86) or "Features" (Arm) line of a cpuinfo text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            yield set(value.split())


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has bf16 arithmetic units (BF16_FLAGS), from /proc/cpuinfo (``cpuinfo``:
    its text, for tests). False where it cannot be read: without such units bf16 products are
    emulated, many times slower than float32."""
    return any(words & BF16_FLAGS for words in _flag_lines(_cpuinfo(cpuinfo)))


#: The CPU features that decide which rollout path is fast, in the order cpu_description lists them.
CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "asimd", "bf16")


def cpu_description(cpuinfo: str | None = None) -> str:
    """One line naming the CPU, its core count and which of CPU_FEATURES it has, from
    /proc/cpuinfo (``cpuinfo``: its text, for tests), for benchmark output: a plan rate means little
    without the CPU it was measured on (bf16 units, or none). "unknown CPU" where it cannot be read."""
    cpuinfo = _cpuinfo(cpuinfo)
    name, cores = "", 0
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "processor":
            cores += 1
        elif key in ("model name", "cpu model", "hardware") and not name:
            name = " ".join(value.split())
    lines = list(_flag_lines(cpuinfo))
    flags = lines[0] if lines else set()
    if not cores and not name and not flags:
        return "unknown CPU"
    has = [f for f in CPU_FEATURES if f in flags]
    lacks = [f for f in ("avx512f", "avx512_bf16", "amx_bf16") if f not in flags] if "avx2" in flags else []
    bf16 = "bf16 units" if any(words & BF16_FLAGS for words in lines) else "no bf16 units"
    return (f"{name or 'CPU'}, {cores or '?'} core(s); {' '.join(has) or 'none of ' + ' '.join(CPU_FEATURES)}"
            f"{' (no ' + ', '.join(lacks) + ')' if lacks else ''}; {bf16}")
