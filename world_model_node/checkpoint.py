"""World-model checkpoints: plain dicts of tensors and primitives, loaded with weights_only.

A checkpoint file (``torch.save`` of one dict) holds::

    format      "wmp-world-model"            version   CHECKPOINT_VERSION (int)
    config      WorldModelConfig as a dict   obs_spec  model.obs_spec (scan beams, range max, image)
    state_dict  {name: tensor}               data_stats {str: float | list[float] | int}
    metrics     {str: float | list | dict}   train     {str: primitive} (training settings)

``load_checkpoint`` uses ``torch.load(weights_only=True)``, so a file crafted to run code on
unpickling is refused instead of executed, and it refuses a missing, truncated or foreign
file, another format version, and (when asked) another observation layout, each with a
:class:`CheckpointError` that says what was expected.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from .model import WorldModel, WorldModelConfig

FORMAT = "wmp-world-model"
CHECKPOINT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used, with the path and the reason."""


def _plain(x):
    """Make metadata safe for weights_only loading: numpy/tensor scalars -> python values."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if hasattr(x, "tolist"):  # numpy arrays and scalars
        return _plain(x.tolist())
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    raise TypeError(f"checkpoint metadata: cannot store {type(x).__name__} ({x!r})")


def save_checkpoint(path, model: WorldModel, data_stats: dict | None = None, metrics: dict | None = None,
                    train: dict | None = None) -> Path:
    """Write ``model`` and its metadata to ``path`` atomically (temp file + rename). Returns path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
        "format": FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": _plain(model.cfg.to_dict()),
        "obs_spec": _plain(model.obs_spec),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "data_stats": _plain(data_stats or {}),
        "metrics": _plain(metrics or {}),
        "train": _plain(train or {}),
    }
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    os.close(fd)
    try:
        torch.save(blob, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a checkpoint is shared data
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_checkpoint(path) -> dict:
    """Load and check the checkpoint dict (no model built). Raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, random bytes, or a pickle with code in it
        raise CheckpointError(
            f"{path}: not a readable world-model checkpoint (expected a torch.save file of plain "
            f"tensors/dicts, loaded with weights_only=True): {type(exc).__name__}: {str(exc)[:300]}"
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        got = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise CheckpointError(f"{path}: expected a '{FORMAT}' checkpoint, got format {got!r}")
    if blob.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: expected checkpoint version {CHECKPOINT_VERSION}, "
                              f"got {blob.get('version')!r}; retrain or convert it")
    for key in ("config", "obs_spec", "state_dict"):
        if not isinstance(blob.get(key), dict):
            raise CheckpointError(f"{path}: checkpoint field '{key}' missing or not a dict")
    return blob


def load_checkpoint(path, device=None, obs_spec: dict | None = None) -> WorldModel:
    """path -> WorldModel on ``device`` (default: CUDA if present, else CPU), in eval mode.

    obs_spec: the caller's observation layout (e.g. ``{"scan_beams": 180, "range_max_m": 8.0,
    "image": False}``); any key that differs from the checkpoint's is refused.
    """
    from world_model_planner.runtime import pick_device

    blob = read_checkpoint(path)
    try:
        cfg = WorldModelConfig.from_dict(blob["config"])
    except Exception as exc:
        raise CheckpointError(f"{path}: invalid model config in checkpoint: {exc}") from None
    model = WorldModel(cfg)
    if blob["obs_spec"] != model.obs_spec:
        raise CheckpointError(f"{path}: stored obs layout {blob['obs_spec']} does not match its config "
                              f"{model.obs_spec}")
    if obs_spec is not None:
        diff = {k: (model.obs_spec.get(k), v) for k, v in obs_spec.items() if model.obs_spec.get(k) != v}
        if diff:
            raise CheckpointError(
                f"{path}: checkpoint was made for another observation layout: "
                + ", ".join(f"{k}: checkpoint {a!r}, expected {b!r}" for k, (a, b) in diff.items()))
    try:
        model.load_state_dict(blob["state_dict"], strict=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: weights do not fit the stored config: {str(exc)[:400]}") from None
    model.data_stats = blob.get("data_stats", {})
    model.metrics = blob.get("metrics", {})
    model.checkpoint_path = str(path)
    dev = device if isinstance(device, torch.device) else pick_device(device)
    return model.to(dev).eval()
