"""World-model checkpoints: plain dicts of tensors and primitives, loaded bounded and with weights_only.

A checkpoint file (``torch.save`` of one dict) holds::

    format      "wmp-world-model"            version   CHECKPOINT_VERSION (int)
    config      WorldModelConfig as a dict   obs_spec  model.obs_spec (scan beams, range max, image)
    state_dict  {name: tensor}               data_stats {str: float | list[float] | int}
    metrics     {str: float | list | dict}   train     {str: primitive} (training settings)

Loading is bounded before anything is unpickled (:class:`CheckpointLimits`): the file is read
once, capped at ``max_file_bytes``, and its zip archive (the torch.save format) is inspected with
:mod:`zipfile`: the central directory's size, the member count, every member's declared size, the
archive's total uncompressed size and each large member's compression ratio must stay within
the limits, and every member is then stream-decompressed with the bytes actually produced
counted (the declared sizes are never trusted alone; CRCs are checked on the way). Only then
does ``torch.load(weights_only=True)`` read the same bytes, so a file crafted to run code on
unpickling is refused instead of executed, and a deflate bomb is refused before it expands.

A config stored before a field existed reads that field through ``WorldModelConfig.from_dict``:
the history and scene fields (``model.LEGACY_OFF``) read as off, so a checkpoint from before them
loads into the same architecture and predicts exactly as it did.

``load_checkpoint`` refuses a missing, oversized, truncated or foreign file, another format
version, a config with a wrongly typed or out-of-range field, and (when asked) another
observation layout, each with one :class:`CheckpointError` line that names the file.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from world_model_planner.core.safeio import InputError, atomic_path, clip, read_capped

from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig

FORMAT = "wmp-world-model"
CHECKPOINT_VERSION = 1
MiB = 1 << 20


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used, with the path and the reason."""


@dataclass(frozen=True)
class CheckpointLimits:
    """Bounds a checkpoint must meet before it is unpickled.

    The shipped models/husky_default.pt is 0.56 MB: 24 members, the largest 256 KiB, a 5.6 KB
    pickle, all stored uncompressed (torch.save never compresses). The defaults leave a factor
    of several hundred for bigger models and refuse decompression bombs.
    """

    max_file_bytes: int = 256 * MiB
    """Largest checkpoint file read (bytes on disk)."""
    max_total_bytes: int = 256 * MiB
    """Largest sum of the members' uncompressed sizes."""
    max_member_bytes: int = 128 * MiB
    """Largest uncompressed member (one tensor's storage)."""
    max_pickle_bytes: int = 4 * MiB
    """Largest uncompressed ``data.pkl`` (the metadata and tensor index)."""
    max_members: int = 1024
    """Most members in the archive."""
    max_central_dir_bytes: int = 1 * MiB
    """Largest zip central directory (read before the member count is known)."""
    max_ratio: float = 20.0
    """Largest uncompressed/compressed ratio of a member bigger than ``ratio_floor_bytes``."""
    ratio_floor_bytes: int = 64 * 1024
    """Members up to this size are exempt from the ratio check (small, compressible metadata)."""


DEFAULT_LIMITS = CheckpointLimits()
_CHUNK = 1 * MiB


def check_archive(data: bytes, limits: CheckpointLimits = DEFAULT_LIMITS) -> None:
    """Raise InputError unless ``data`` is a zip archive within ``limits`` (see the module doc).

    Every member is decompressed in chunks and its actual output counted, so a member whose
    stream yields more than it declares, or more than the limits, is refused with the work
    and the memory bounded by one chunk.
    """
    fp = io.BytesIO(data)
    end_rec = getattr(zipfile, "_EndRecData", None)
    if end_rec is not None:  # size of the central directory, before zipfile parses all of it
        try:
            rec = end_rec(fp)
        except (OSError, ValueError, zipfile.BadZipFile):
            rec = None
        if not rec:
            raise InputError("not a zip archive (torch.save writes one)")
        cd_size = rec[zipfile._ECD_SIZE]
        if cd_size > limits.max_central_dir_bytes:
            raise InputError(f"zip central directory of {cd_size} bytes exceeds the "
                             f"{limits.max_central_dir_bytes} byte limit")
    try:
        zf = zipfile.ZipFile(fp)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, ValueError,
            EOFError) as exc:   # NotImplementedError: a member declaring a zip version above 6.3
        raise InputError(f"not a readable zip archive: {_cut(str(exc), 120)}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise InputError(f"archive has {len(infos)} members (limit {limits.max_members})")
        total = 0
        for info in infos:
            name = clip(info.filename, 60)
            cap = limits.max_pickle_bytes if info.filename.endswith("data.pkl") else limits.max_member_bytes
            if info.file_size > cap:
                raise InputError(f"member {name} declares {info.file_size} bytes uncompressed (limit {cap})")
            total += info.file_size
            if total > limits.max_total_bytes:
                raise InputError(f"members declare more than {limits.max_total_bytes} bytes uncompressed")
            if info.file_size > limits.ratio_floor_bytes and \
                    info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise InputError(f"member {name} expands {info.file_size / max(info.compress_size, 1):.0f}x "
                                 f"(compression ratio limit {limits.max_ratio:g}): a decompression bomb")
        actual = 0
        for info in infos:
            name = clip(info.filename, 60)
            got = 0
            try:
                with zf.open(info) as fh:
                    while True:
                        chunk = fh.read(_CHUNK)
                        if not chunk:
                            break
                        got += len(chunk)
                        actual += len(chunk)
                        if got > info.file_size or actual > limits.max_total_bytes:
                            raise InputError(f"member {name} expands beyond its declared "
                                             f"{info.file_size} bytes")
            except InputError:
                raise
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, ValueError,
                    EOFError, RuntimeError, zlib.error) as exc:
                raise InputError(f"member {name} is unreadable: {_cut(str(exc) or type(exc).__name__, 120)}"
                                 ) from None


def _cut(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[:limit] + "..."


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
    """Write ``model`` and its metadata to ``path`` atomically (temp file, fsync, rename). Returns path."""
    path = Path(path)
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
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)
    return path


def read_checkpoint(path, limits: CheckpointLimits = DEFAULT_LIMITS) -> dict:
    """Load and check the checkpoint dict (no model built). Raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    expected = ("expected a torch.save zip archive of plain tensors/dicts, loaded with weights_only=True")
    try:
        data = read_capped(path, limits.max_file_bytes, "checkpoint")
        check_archive(data, limits)
    except InputError as exc:
        msg = str(exc)
        msg = msg[len(str(path)) + 2:] if msg.startswith(f"{path}: ") else msg
        raise CheckpointError(f"{path}: not a readable world-model checkpoint ({expected}): {msg}") from None
    try:
        blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - bad pickle, a pickle with code in it, bad records
        raise CheckpointError(
            f"{path}: not a readable world-model checkpoint ({expected}): "
            f"{type(exc).__name__}: {_cut(str(exc), 300)}") from None
    finally:
        del data
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        got = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise CheckpointError(f"{path}: expected a '{FORMAT}' checkpoint, got format {clip(got)}")
    if blob.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: expected checkpoint version {CHECKPOINT_VERSION}, "
                              f"got {clip(blob.get('version'))}; retrain or convert it")
    for key in ("config", "obs_spec", "state_dict"):
        if not isinstance(blob.get(key), dict):
            raise CheckpointError(f"{path}: checkpoint field '{key}' missing or not a dict")
    for key in ("data_stats", "metrics", "train"):
        if not isinstance(blob.setdefault(key, {}), dict):
            raise CheckpointError(f"{path}: checkpoint field '{key}' is not a dict")
    bad = [k for k, v in blob["state_dict"].items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))]
    if bad:
        raise CheckpointError(f"{path}: checkpoint field 'state_dict' holds non-tensor entries "
                              f"{clip(bad[:5])}")
    return blob


#: Checkpoints whose data carry no robot were all collected with the Husky (the only robot then).
LEGACY_ROBOT = "husky"


def trained_robots(data_stats: dict | None) -> list[str]:
    """The robots whose data trained a checkpoint (its ``data_stats["robots"]``, written by
    ``Transitions.stats``); a checkpoint from before robots were recorded: [LEGACY_ROBOT]."""
    robots = (data_stats or {}).get("robots")
    if isinstance(robots, list) and robots and all(isinstance(r, str) for r in robots):
        return sorted(set(robots))
    return [LEGACY_ROBOT]


def robot_mismatch(path, robot: str, limits: CheckpointLimits = DEFAULT_LIMITS) -> str | None:
    """Why the checkpoint at ``path`` does not fit ``robot`` (one line), or None when its data
    came from that robot alone. Raises CheckpointError for an unreadable file."""
    robots = trained_robots(read_checkpoint(path, limits).get("data_stats"))
    if robots == [robot]:
        return None
    return (f"{path}: the world model was trained on {', '.join(robots)} data, not {robot}; "
            f"a learned planner would predict another robot's motion. Train one with "
            f"`ROBOT={robot} scripts/train_default_model.sh` (or pass its --model), or use a classic planner")


def camera_only(path, limits: CheckpointLimits = DEFAULT_LIMITS) -> bool:
    """True when the checkpoint at ``path`` is a camera world model that reads no scan (use_image
    on, use_scan off): the planner then plans from the camera alone. Raises CheckpointError for
    an unreadable file."""
    cfg = read_checkpoint(path, limits).get("config")
    cfg = cfg if isinstance(cfg, dict) else {}
    return cfg.get("use_image") is True and cfg.get("use_scan", True) is False


def load_checkpoint(path, device=None, obs_spec: dict | None = None,
                    limits: CheckpointLimits = DEFAULT_LIMITS) -> WorldModel:
    """path -> WorldModel on ``device`` (default: CUDA if present, else CPU), in eval mode.

    obs_spec: the caller's observation layout (e.g. ``{"scan_beams": 180, "range_max_m": 8.0,
    "image": False}``); any key that differs from the checkpoint's is refused.
    """
    from world_model_planner.core.runtime import pick_device

    blob = read_checkpoint(path, limits)
    try:
        cfg = WorldModelConfig.from_dict(blob["config"])
    except (ValueError, TypeError, OverflowError) as exc:
        raise CheckpointError(f"{path}: invalid model config in checkpoint: {_cut(str(exc), 300)}") from None
    model = WorldModel(cfg)
    if blob["obs_spec"] != model.obs_spec:
        raise CheckpointError(f"{path}: stored obs layout {clip(blob['obs_spec'], 200)} does not match "
                              f"its config {model.obs_spec}")
    if obs_spec is not None:
        diff = {k: (model.obs_spec.get(k), v) for k, v in obs_spec.items() if model.obs_spec.get(k) != v}
        if diff:
            raise CheckpointError(
                f"{path}: checkpoint was made for another observation layout: "
                + ", ".join(f"{k}: checkpoint {a!r}, expected {b!r}" for k, (a, b) in diff.items()))
    try:
        model.load_state_dict(blob["state_dict"], strict=True)
    except Exception as exc:  # noqa: BLE001 - shape or key mismatch
        raise CheckpointError(f"{path}: weights do not fit the stored config: "
                              f"{_cut(str(exc), 400)}") from None
    model.data_stats = blob["data_stats"]
    model.metrics = blob["metrics"]
    model.checkpoint_path = str(path)
    dev = device if isinstance(device, torch.device) else pick_device(device)
    return model.to(dev).eval()
