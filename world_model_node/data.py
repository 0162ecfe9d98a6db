"""Transitions on disk: sharded npz (written by ``wmp collect``) and rosbag2 recordings (any
storage, see core.bag_io; resampled by :func:`load_bag`).

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
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from world_model_planner.core.safeio import atomic_path
from world_model_planner.core import diagnostics as diag
from world_model_planner.core.params import CMD_TIMEOUT_S
from world_model_planner.core.rosconv import stamp_to_sec, yaw_of

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


# ---------------------------------------------------------------------------------------------
# rosbag2 recordings (any storage; see core.bag_io)
# ---------------------------------------------------------------------------------------------
#: A header stamp further than this from the receive time (after the median clock offset) is
#: absurd: the row uses the receive time instead.
ABSURD_STAMP_S = 60.0


def load_mcap(path, dt_s: float = 0.1, odom_topic: str = "/odom", scan_topic: str = "/scan",
              cmd_topic: str = "/cmd_vel", **kw) -> Transitions:
    """One bag with the topics given by name (kept for callers of the MCAP-only loader)."""
    from world_model_planner.core.bag_io import TopicMap

    return load_bag(path, dt_s=dt_s, topics=TopicMap(odom=odom_topic, scan=scan_topic, cmd=cmd_topic), **kw)


def load_bag(path, dt_s: float = 0.1, topics=None, max_odom_age_s: float = 0.25,
             max_scan_age_s: float = 0.5, cmd_timeout_s: float = CMD_TIMEOUT_S, first_episode: int = 0,
             min_cmd_fraction: float = 0.2, max_image_age_s: float = 0.5,
             image_size: int = IMAGE_SIZE) -> Transitions:
    """Resample a bag (odometry, scan, command[, camera, /diagnostics]) onto a dt_s grid.

    ``topics`` (core.bag_io.TopicMap, default /odom, /scan, /cmd_vel) names the topics. Times
    are header stamps (the recording's ROS clock). A message without a header (plain Twist), or
    whose stamp is zero, non-finite or more than ABSURD_STAMP_S away from its receive time
    (shifted onto the stamp clock by the median odometry offset), takes that receive time; the
    fallbacks are counted in a warning. Each row takes the latest odom, scan and command at or
    before its time; a command older than cmd_timeout_s counts as zero (the mux/robot would have
    stopped). A grid time is dropped when its latest odom is older than max_odom_age_s, its
    latest scan older than max_scan_age_s, or the next odom comes more than max_odom_age_s after
    it; rows after a gap form a new episode. With ``topics.image`` set, each row also takes the
    latest sensor_msgs/Image at or before its time (dropped when older than max_image_age_s), as
    an (image_size, image_size, 3) RGB frame (core.rosconv.image_rgb: centre square, area
    resampled; rgb8, bgr8, rgba8, bgra8 and mono8; another encoding refuses the bag with a
    DataError naming it). Collision flags come from /diagnostics "sim"
    ``in_contact`` when recorded, else they are 0 (unknown).

    How many rows carry a command is logged (info), and warned about below ``min_cmd_fraction``;
    ``meta["cmd_rows"]`` keeps the count. Bags are read by core.bag_io.BagReader (rosbags;
    uncompressed MCAP within McapScan's limits, a killed recorder's file up to the cut).
    Messages of an unexpected type, undecodable payloads, odometry with non-finite or
    implausible values and scans whose header fails ``sensor_check.check_scan_header`` are
    skipped, with one warning that counts them. When the odometry or scan topic is missing, the
    error lists the topics the bag holds, with their types.
    """
    from world_model_planner.core.bag_io import BagError, BagReader, TopicMap
    from world_model_planner.core.rosconv import IMAGE_ENCODINGS, image_rgb
    from world_model_planner.core.sensor_check import SensorLimits, check_odom, check_scan_header

    path = Path(path)
    tm = topics or TopicMap()
    allowed = {tm.odom: ("nav_msgs/msg/Odometry",), tm.scan: ("sensor_msgs/msg/LaserScan",),
               tm.cmd: ("geometry_msgs/msg/TwistStamped", "geometry_msgs/msg/Twist")}
    if tm.image:
        allowed[tm.image] = ("sensor_msgs/msg/Image",)
    allowed.setdefault("/diagnostics", ("diagnostic_msgs/msg/DiagnosticArray",))
    limits = SensorLimits()
    odom, scans, cmds, contact, images = [], [], [], [], []
    skipped = 0
    range_max = None

    def stamp(msg):
        h = getattr(msg, "header", None)
        if h is None:
            return None
        t = stamp_to_sec(h.stamp)
        return t if math.isfinite(t) and t > 0 else math.nan    # zero or broken: receive time

    try:
        rec = BagReader(path)
        for m in rec.messages(allowed):
            msg, topic, log_t = m.msg, m.topic, m.log_time_ns * 1e-9
            if topic == tm.odom:
                p, tw = msg.pose.pose, msg.twist.twist
                row = [stamp(msg), log_t, p.position.x, p.position.y, yaw_of(p.orientation),
                       tw.linear.x, tw.angular.z]
                if check_odom(row[2:5], row[5:7], limits):
                    skipped += 1
                    continue
                odom.append(row)
            elif topic == tm.scan:
                geom, _ = check_scan_header(msg.angle_min, msg.angle_max, msg.angle_increment,
                                            msg.range_min, msg.range_max, len(msg.ranges), limits)
                if geom is None:
                    skipped += 1
                    continue
                scans.append([stamp(msg), log_t, np.asarray(msg.ranges, dtype=np.float32)])
                range_max = float(msg.range_max)
            elif topic == tm.cmd:
                tw = msg.twist if hasattr(msg, "twist") else msg
                if not (math.isfinite(tw.linear.x) and math.isfinite(tw.angular.z)):
                    skipped += 1
                    continue
                cmds.append([stamp(msg), log_t, tw.linear.x, tw.angular.z])
            elif topic == tm.image:
                if msg.encoding not in IMAGE_ENCODINGS:
                    raise DataError(f"{path}: {tm.image}: image encoding {str(msg.encoding)[:40]!r} is not read; "
                                    f"expected one of {', '.join(IMAGE_ENCODINGS)}")
                try:
                    images.append([stamp(msg), log_t, image_rgb(msg, image_size)])
                except ValueError:
                    skipped += 1
            else:
                for name, kv in diag.statuses(msg):
                    if name == diag.SIM.name and diag.SIM.in_contact in kv:
                        contact.append([stamp(msg), log_t, diag.SIM.in_contact.read(kv) is True])
    except BagError as exc:
        raise DataError(str(exc)) from None
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything else in a damaged file: one line naming it
        raise DataError(f"{path}: cannot read bag: {type(exc).__name__}: "
                        f"{' '.join(str(exc).split())[:200]}") from None
    skipped += rec.skipped
    if rec.recovery or skipped:
        log.warning(f"{path}: {rec.recovery or 'complete recording'}"
                    + (f"; {skipped} unusable message(s) skipped" if skipped else ""))
    if len(odom) < 2 or not scans:
        raise DataError(f"{path}: expected {tm.odom} (nav_msgs/msg/Odometry) and {tm.scan} "
                        f"(sensor_msgs/msg/LaserScan) messages, got {len(odom)} odom and {len(scans)} scans; "
                        f"the bag holds: {rec.describe()} (map topics with --topics odom=/x,scan=/y,cmd=/z)")
    if tm.image and not images:
        raise DataError(f"{path}: expected {tm.image} (sensor_msgs/msg/Image) messages, got none usable; "
                        f"the bag holds: {rec.describe()} (map the camera with --image-topic /x)")
    # one clock: header stamps where sane, else the receive time shifted by the median offset
    good = [o[0] - o[1] for o in odom if o[0] is not None and math.isfinite(o[0])]
    off = float(np.median(good)) if good else 0.0
    fallbacks = {}

    def resolve(rows, name):
        n = 0
        for r in rows:
            guess = r[1] + off
            if r[0] is None:               # no header (a plain Twist): the receive time
                r[0] = guess
            elif not abs(r[0] - guess) <= ABSURD_STAMP_S:   # zero, broken or absurd stamp
                n += 1
                r[0] = guess
        if n:
            fallbacks[name] = n

    resolve(odom, "odom")
    resolve(scans, "scan")
    resolve(cmds, "cmd")
    resolve(contact, "diagnostics")
    resolve(images, "image")
    if fallbacks:
        log.warning(f"{path}: zero or absurd header stamps replaced by the receive time: "
                    + ", ".join(f"{n} {k}" for k, n in fallbacks.items()))
    odom_a = np.array(sorted(tuple(o[:1] + o[2:]) for o in odom))
    scans = sorted(((s[0], s[2]) for s in scans), key=lambda s: s[0])
    scan_t = np.array([s[0] for s in scans])
    cmd_a = np.array(sorted((c[0], c[2], c[3]) for c in cmds)) if cmds else np.zeros((0, 3))
    cont_a = np.array(sorted((c[0], float(c[2])) for c in contact)) if contact else np.zeros((0, 2))
    images.sort(key=lambda m: m[0])
    image_t = np.array([m[0] for m in images]) if images else None
    frames = []

    t0, t1 = max(odom_a[0, 0], scan_t[0], image_t[0] if images else -np.inf), odom_a[-1, 0]
    grid = np.arange(t0, t1 + 1e-9, dt_s)
    rows = {k: [] for k in CORE}      # labels (ground, payload, ...) stay unknown: nan
    episode, last_valid = first_episode, None
    ep_start = grid[0] if len(grid) else 0.0
    eps = 1e-6  # stamps and grid times are floats: "at or before" with a little slack
    with_cmd, ep_cmd = 0, {}
    for t in grid:
        i = np.searchsorted(odom_a[:, 0], t + eps, side="right") - 1
        j = np.searchsorted(scan_t, t + eps, side="right") - 1
        # valid: recent odom and scan, and the recording goes on (no gap right after t)
        if i < 0 or j < 0 or t - odom_a[i, 0] > max_odom_age_s or t - scan_t[j] > max_scan_age_s or (
                t - odom_a[i, 0] > eps and (i + 1 >= len(odom_a) or odom_a[i + 1, 0] - t > max_odom_age_s)):
            last_valid = None
            continue
        if images:
            m = np.searchsorted(image_t, t + eps, side="right") - 1
            if m < 0 or t - image_t[m] > max_image_age_s:
                last_valid = None
                continue
            frames.append(images[m][2])
        if last_valid is None and rows["episode"]:
            episode += 1
            ep_start = t
        last_valid = t
        k = np.searchsorted(cmd_a[:, 0], t + eps, side="right") - 1 if len(cmd_a) else -1
        fresh = k >= 0 and t - cmd_a[k, 0] <= cmd_timeout_s
        with_cmd += bool(fresh)
        ep_cmd[episode] = ep_cmd.get(episode, 0) + bool(fresh)
        cmd = cmd_a[k, 1:] if fresh else np.zeros(2)
        c = 0
        if len(cont_a):  # any contact report in [t, t + dt)
            sel = (cont_a[:, 0] >= t - eps) & (cont_a[:, 0] < t + dt_s - eps)
            c = int(cont_a[sel, 1].any())
        rows["pose"].append(odom_a[i, 1:4])
        rows["vel"].append(odom_a[i, 4:6])
        rows["scan"].append(scans[j][1])
        rows["cmd"].append(cmd)
        rows["dt"].append(dt_s)
        rows["collision"].append(c)
        rows["episode"].append(episode)
        rows["t_s"].append(t - ep_start)
    if not rows["pose"]:
        raise DataError(f"{path}: no time where both odom and scan were recorded")
    beams = {len(s) for s in rows["scan"]}
    if len(beams) != 1:
        raise DataError(f"{path}: scans change beam count during the recording ({sorted(beams)})")
    n_rows = len(rows["pose"])
    frac = with_cmd / n_rows
    line = (f"{path}: {with_cmd} of {n_rows} rows ({100 * frac:.0f}%) carry a command from {tm.cmd} "
            f"({len(cmds)} messages)")
    if frac < min_cmd_fraction:
        log.warning(line + f"; below {100 * min_cmd_fraction:.0f}%: check --topics cmd=..., the command "
                    "type and its stamps (rows without a command within "
                    f"{cmd_timeout_s:g} s train as 'stopped')")
    else:
        log.info(line)
    dtypes = {"episode": np.int32, "collision": np.uint8}
    arrs = {k: np.asarray(v, dtype=dtypes.get(k, np.float32)) for k, v in rows.items()}
    meta = {"format_version": FORMAT_VERSION, "dt_s": dt_s, "range_max_m": range_max,
            "scan_beams": beams.pop(), "source": str(path), "cmd_rows": with_cmd, "topics": str(tm),
            "episodes": {str(e): {"scenario": "recording", "seed": None, "cmd_rows": ep_cmd.get(int(e), 0)}
                         for e in np.unique(arrs["episode"])}}
    image = np.stack(frames).astype(np.uint8) if images else None
    return Transitions(**arrs, image=image, meta=meta)
