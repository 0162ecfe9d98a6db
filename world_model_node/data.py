"""Transitions on disk: sharded npz (written by ``wmp collect``) and rosbag2 recordings (any
storage, see core.bag_io; resampled by world_model_node.bag_data.load_bag).

On-disk format (format version 2): a directory of ``shard_NNNNN.npz`` files (np.savez_compressed,
readable with ``allow_pickle=False``). Each shard holds whole episodes, T rows, one row per
world-model step (dt_s, 0.1 s by default)::

    pose       (T, 3) float32  x_m, y_m, yaw_rad in the odom frame, observed at row time
    vel        (T, 2) float32  body-frame v_mps, w_radps (odometry twist) at row time
    scan       (T, N) float16  lidar ranges, metres, angle_min=-pi, N beams over 360 deg;
                               no return = +inf (REP-117), invalid = nan
    image      (T, S, S, 3) uint8  optional: RGB camera frame at row time (S = IMAGE_SIZE)
    cmd        (T, 2) float32  commanded (v_mps, w_radps) held from this row to the next
    dt         (T,)   float32  seconds from this row to the next (last row of an episode: nominal)
    collision  (T,)   uint8    1 if the robot touched an obstacle during [t, t + dt)
    episode    (T,)   int32    episode id, unique within the directory; rows of an episode are
                               consecutive and in time order
    t_s        (T,)   float32  time since the episode start, seconds
    ground     (T, 3) float32  ground under the robot centre at row time: friction_longitudinal,
                               friction_lateral, rolling_resistance (sim.terrain); nan = unknown
    payload_kg (T,)   float32  mass carried on the base, kg; nan = unknown
    latency_s  (T,)   float32  delay between a command and the motors, s; nan = unknown
    mover_dist_m (T,) float32  distance from the robot centre to the nearest moving obstacle's
                               centre, m; +inf = no mover, nan = unknown
    meta       ()     str      JSON: {"format_version", "dt_s", "range_max_m", "scan_beams",
                               "episodes": {id: {"scenario", "seed"[, "dynamics"]}}, "source"}

The last four ("labels") are ground truth that `wmp collect` knows and a robot does not: they
slice evaluation (terrain, payload, latency, movers) and are never model inputs. MCAP
recordings load with them unknown (nan). ``episodes[id]["dynamics"]`` records what collection
drew for the episode (terrain patches, payload, latency, movers; see ``collect``).

Version 1 shards (no labels) still load: they are upgraded in memory with unknown labels and a
warning naming the file; ``wmp convert-data DIR`` rewrites them as version 2 in place.

So the model step from row t to row t+1 is (obs_t, cmd_t) -> obs_{t+1}, labelled collision_t.

Shards are written atomically (temporary file beside the target, fsync, rename), so a reader
never sees half a shard. Loading a directory follows one rule for damaged files: a shard that
cannot be read (truncated, not a zip, missing arrays, another format version) is skipped with
a warning naming the file (logger ``world_model_planner.world_model_node.data``) as long as at least one usable
file remains; when none remains, loading is refused with a DataError naming the first bad file.
Hidden files (names starting with ".", e.g. the temporary of a killed writer) are ignored.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from world_model_planner.core.safeio import atomic_path

FORMAT_VERSION = 2
#: Arrays every version has (version 1 had only these).
CORE = ("pose", "vel", "scan", "cmd", "dt", "collision", "episode", "t_s")
#: Ground-truth labels added in version 2 (module docstring); (per-row trailing shape).
LABELS = {"ground": (3,), "payload_kg": (), "latency_s": (), "mover_dist_m": ()}
ARRAYS = CORE + tuple(LABELS)
#: Side of the camera frames in the data (S above): what the sim's camera renders (CameraConfig)
#: and the camera world model reads (WorldModelConfig.image_size); bag frames are resampled to it.
IMAGE_SIZE = 64
log = logging.getLogger(__name__)


class DataError(ValueError):
    """Data that cannot be used, with the file and what was expected."""


@dataclass
class Transitions:
    """Concatenated rows of one or more episodes (see module docstring for shapes)."""

    pose: np.ndarray
    vel: np.ndarray
    scan: np.ndarray
    cmd: np.ndarray
    dt: np.ndarray
    collision: np.ndarray
    episode: np.ndarray
    t_s: np.ndarray
    image: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    ground: np.ndarray | None = None
    payload_kg: np.ndarray | None = None
    latency_s: np.ndarray | None = None
    mover_dist_m: np.ndarray | None = None

    def __post_init__(self):
        n = int(self.pose.shape[0])
        for k, tail in LABELS.items():   # labels not given are unknown (nan)
            if getattr(self, k) is None:
                setattr(self, k, np.full((n,) + tail, np.nan, np.float32))

    def __len__(self) -> int:
        return int(self.pose.shape[0])

    @property
    def episodes(self) -> np.ndarray:
        return np.unique(self.episode)

    def select_episodes(self, ids) -> "Transitions":
        return self.subset(np.isin(self.episode, np.asarray(list(ids))))

    def subset(self, mask: np.ndarray) -> "Transitions":
        """The rows where ``mask`` (T,) is true (or the rows indexed by it), labels included."""
        return Transitions(**{k: getattr(self, k)[mask] for k in ARRAYS},
                           image=None if self.image is None else self.image[mask], meta=self.meta)

    def window_starts(self, length: int) -> np.ndarray:
        """Row indices t such that rows t..t+length are one episode (length steps follow)."""
        n = len(self)
        if n <= length:
            return np.zeros(0, dtype=np.int64)
        t = np.arange(n - length)
        return t[self.episode[t] == self.episode[t + length]]

    def stats(self) -> dict:
        """Data statistics stored with a checkpoint."""
        return {
            "rows": len(self), "episodes": int(len(self.episodes)),
            "vel_mean": self.vel.mean(0).tolist(), "vel_std": self.vel.std(0).tolist(),
            "cmd_mean": self.cmd.mean(0).tolist(), "cmd_std": self.cmd.std(0).tolist(),
            "collision_rate": float(self.collision.mean()) if len(self) else 0.0,
            "dt_s": float(np.median(self.dt)) if len(self) else 0.0,
            "scan_beams": int(self.scan.shape[1]) if self.scan.ndim == 2 else 0,
            "scenarios": sorted({str(e.get("scenario")) for e in self.meta.get("episodes", {}).values()}),
            "seeds": sorted({int(e["seed"]) for e in self.meta.get("episodes", {}).values()
                             if e.get("seed") is not None}),
            "dynamic_episodes": sum(1 for e in self.meta.get("episodes", {}).values() if e.get("dynamics")),
            # episodes from before robots were recorded were all driven by the Husky
            "robots": sorted({str(e.get("robot") or "husky") for e in self.meta.get("episodes", {}).values()}),
            "cmd_rows": self.cmd_rows(),
        }

    def cmd_rows(self) -> int:
        """Rows that carry a command: a bag's episodes count theirs (meta ``cmd_rows``; rows
        without a recent command hold zero), collected episodes always do."""
        eps = self.meta.get("episodes", {})
        ids, counts = np.unique(self.episode, return_counts=True)
        total = 0
        for e, n in zip(ids.tolist(), counts.tolist()):
            got = eps.get(str(e), {}).get("cmd_rows")
            total += n if got is None else min(int(got), n)
        return total


def concat(parts: list[Transitions]) -> Transitions:
    if not parts:
        raise DataError("no transitions to concatenate")
    images = [p.image for p in parts]
    has_img = all(i is not None for i in images)
    meta = dict(parts[0].meta)
    meta["episodes"] = {k: v for p in parts for k, v in p.meta.get("episodes", {}).items()}
    return Transitions(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in ARRAYS},
                       image=np.concatenate(images) if has_img else None, meta=meta)


def mirror_transitions(tr: Transitions) -> Transitions:
    """The same episodes driven in the world's mirror image across the robot's heading (a copy;
    ``tr`` is unchanged): y, yaw, every yaw rate (measured and commanded) and the scan's beam
    order flip, speeds, contacts and labels stay. For a base that is the same on its left and its
    right (all robots in sim/robots.py), this is motion that physics allows, so training on both
    doubles the data's turns and layouts at no collection cost (``TrainConfig.mirror``).

    The scan is the format's: N beams over 360 deg from angle_min = -pi, so beam i at angle a_i
    reads, mirrored, what beam (N - i) mod N at -a_i read. A camera frame flips left to right.
    Episode ids are shifted past the largest one, so no mirrored episode shares an id with an
    original; their meta entries say ``mirrored``."""
    n = tr.scan.shape[1] if tr.scan.ndim == 2 else 0
    flip = np.array([1.0, -1.0, -1.0], np.float32)
    yaw_rate = np.array([1.0, -1.0], np.float32)
    shift = int(tr.episode.max()) + 1 if len(tr) else 0
    eps = {str(int(k) + shift): dict(v, mirrored=True) for k, v in tr.meta.get("episodes", {}).items()}
    return Transitions(
        pose=(tr.pose * flip).astype(tr.pose.dtype), vel=(tr.vel * yaw_rate).astype(tr.vel.dtype),
        scan=tr.scan[:, (n - np.arange(n)) % n] if n else tr.scan.copy(),
        cmd=(tr.cmd * yaw_rate).astype(tr.cmd.dtype), dt=tr.dt.copy(), collision=tr.collision.copy(),
        episode=(tr.episode + shift).astype(tr.episode.dtype), t_s=tr.t_s.copy(),
        image=None if tr.image is None else tr.image[:, :, ::-1].copy(),
        meta=dict(tr.meta, episodes=eps), ground=tr.ground.copy(), payload_kg=tr.payload_kg.copy(),
        latency_s=tr.latency_s.copy(), mover_dist_m=tr.mover_dist_m.copy())


def save_shard(path, tr: Transitions) -> Path:
    """Write one shard (np.savez_compressed) with the arrays above and the JSON meta, atomically:
    on any failure (a full disk) ``path`` keeps its previous content and no partial file is left."""
    path = Path(path)
    arrays = {k: getattr(tr, k) for k in ARRAYS}
    arrays["scan"] = arrays["scan"].astype(np.float16)
    for k in LABELS:
        arrays[k] = np.asarray(arrays[k], np.float32)
    meta = dict(tr.meta, format_version=FORMAT_VERSION)
    arrays["meta"] = np.array(json.dumps(meta))
    if tr.image is not None:
        arrays["image"] = tr.image.astype(np.uint8)
    with atomic_path(path) as tmp:   # the temporary keeps the .npz suffix: numpy writes that name
        np.savez_compressed(tmp, **arrays)
    return path


def load_shard(path, upgrade_warning: bool = True) -> Transitions:
    """One shard -> Transitions. A version 1 shard is upgraded in memory (labels unknown) with a
    warning that names the file and the fix, unless ``upgrade_warning`` is False."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if "meta" not in z.files:
                raise DataError(f"{path}: shard is missing arrays ['meta'] (expected {list(ARRAYS)} and meta)")
            meta = json.loads(str(z["meta"]))
            version = meta.get("format_version") if isinstance(meta, dict) else None
            if version not in (1, FORMAT_VERSION):
                raise DataError(f"{path}: expected format_version {FORMAT_VERSION} (or 1, upgraded on load), "
                                f"got {version!r}; re-collect it with `wmp collect`")
            need = CORE if version == 1 else ARRAYS
            missing = [k for k in need if k not in z.files]
            if missing:
                raise DataError(f"{path}: shard is missing arrays {missing} (expected {list(need)})")
            arrs = {k: z[k] for k in need}
            image = z["image"] if "image" in z.files else None
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated zip, bad member, bad JSON
        raise DataError(f"{path}: not a readable transition shard: "
                        f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None
    n = len(arrs["pose"])
    bad = [k for k in ARRAYS if k in arrs and len(arrs[k]) != n]
    bad += [k for k, tail in LABELS.items() if k in arrs and arrs[k].shape[1:] != tail]
    if bad:
        raise DataError(f"{path}: arrays {bad} do not match pose's {n} rows (or their per-row shape)")
    if version == 1:
        if upgrade_warning:
            log.warning(f"{path}: format_version 1 shard upgraded in memory with unknown labels "
                        f"({', '.join(LABELS)}); run `wmp convert-data {path.parent}` to rewrite it "
                        f"as version {FORMAT_VERSION}, or re-collect it")
        meta = dict(meta, format_version=FORMAT_VERSION, upgraded_from=1)
    arrs["scan"] = arrs["scan"].astype(np.float32)
    for k in LABELS:
        if k in arrs:
            arrs[k] = arrs[k].astype(np.float32)
    return Transitions(**arrs, image=image, meta=meta)


def convert_dir(path) -> list[Path]:
    """Rewrite every version 1 shard of a directory (or one shard file) as version 2, labels
    unknown, atomically in place. Returns the rewritten files; version 2 shards are left alone."""
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.glob("*.npz") if not p.name.startswith("."))
    else:
        raise DataError(f"{path}: no such shard file or directory")
    done = []
    for f in files:
        tr = load_shard(f, upgrade_warning=False)
        if tr.meta.get("upgraded_from") == 1:
            meta = {k: v for k, v in tr.meta.items() if k != "upgraded_from"}
            tr.meta = meta
            save_shard(f, tr)
            done.append(f)
    return done


def load_dataset(path, topics=None, min_cmd_fraction: float = 0.2) -> Transitions:
    """npz shards and rosbag2 bags under ``path`` -> Transitions (forms: core.bag_io.find_inputs;
    a folder is searched recursively). ``topics`` (core.bag_io.TopicMap) names the bags' odom,
    scan and command topics. Damaged files are skipped with a warning while usable data remains."""
    from world_model_planner.core.bag_io import BagError, find_inputs
    from world_model_planner.world_model_node.bag_data import load_bag

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such data directory or file (expected shard_*.npz files, rosbag2 "
                        "directories, .mcap or .db3 bags)")
    try:
        shards, bags = find_inputs(path)
    except BagError as exc:
        msg = str(exc)
        if path.is_dir():
            msg = f"{path}: no shard_*.npz or bag files found (searched recursively for npz shards, rosbag2 " \
                  "directories, .mcap and .db3 files)"
        raise DataError(msg) from None
    if path.is_file() and shards:
        return load_shard(path)
    if path.is_file() or (bags == [path] and not shards):
        return load_bag(bags[0], topics=topics, min_cmd_fraction=min_cmd_fraction)
    parts, bad = [], []
    for p in shards:
        try:
            parts.append(load_shard(p))
        except DataError as exc:
            bad.append(exc)
    seen, clash = set(), False
    for p in parts:             # shards from several folders may reuse episode ids
        ids = set(np.unique(p.episode).tolist())
        clash, seen = clash or bool(ids & seen), seen | ids
    if clash:
        parts = _renumber(parts, 0)
    next_id = max((int(p.episode.max()) + 1 for p in parts if len(p)), default=0)
    for r in bags:
        try:
            tr = load_bag(r, topics=topics, first_episode=next_id, min_cmd_fraction=min_cmd_fraction)
        except DataError as exc:
            bad.append(exc)
            continue
        if len(tr):
            next_id = int(tr.episode.max()) + 1
        parts.append(tr)
    if not parts:
        more = f" (and {len(bad) - 1} more unusable file(s))" if len(bad) > 1 else ""
        raise DataError(f"{bad[0]}{more}; no usable data left in {path}")
    for exc in bad:
        log.warning(f"skipping {exc}")
    return concat(parts)


def _renumber(parts: list[Transitions], first: int) -> list[Transitions]:
    """Give every part's episodes new consecutive ids from ``first`` (meta follows)."""
    out, nxt = [], first
    for p in parts:
        ids = np.unique(p.episode)
        remap = {int(e): nxt + k for k, e in enumerate(ids)}
        p.episode = np.array([remap[int(e)] for e in p.episode], np.int32)
        eps = p.meta.get("episodes", {})
        p.meta = dict(p.meta, episodes={str(remap[int(k)]): v for k, v in eps.items() if int(k) in remap})
        nxt += len(ids)
        out.append(p)
    return out
