"""Reading rosbag2 recordings, whatever wrote them (no rclpy).

What counts as a bag (:func:`find_inputs` sorts a path into these):

- a rosbag2 directory (``metadata.yaml`` beside its storage files), MCAP or sqlite3 storage,
  uncompressed or zstd-compressed per file or per message, of any distro (``ros2 bag record``,
  ``rosbags``, the project's own recorder);
- a ``metadata.yaml`` file (its directory is the bag);
- a single ``.mcap`` or ``.db3`` storage file, or a ``.mcap.zstd`` file;
- a directory of any of these (and of npz shards), searched recursively.

Every format is handled by the ``rosbags`` library (``rosbags.rosbag2.Reader``: metadata,
sqlite3, compression), and every message is decoded with rosbags' bundled message definitions
(``rosbags.typesys``, never the definition text inside the file). Uncompressed MCAP storage
is read record by record with :class:`world_model_planner.core.mcap_io.McapScan`, which keeps
its guarantees for evidence from the field: decompression capped per chunk and in total, no
trust in declared sizes, and a file cut short by a killed recorder (or a directory whose
``metadata.yaml`` was never written) yields every message before the cut. A ``.mcap.zstd``
file is decompressed within ``McapLimits.max_total_bytes``.

Every failure is one :class:`BagError` line naming the file and what was expected.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Iterator

from world_model_planner.core.mcap_io import McapLimits, McapScan, RecordingError, read_upto
from world_model_planner.core.safeio import InputError, clip, load_yaml

#: What ``--data`` accepts, for error messages.
EXPECTED = ("npz shards, rosbag2 directories (metadata.yaml with .mcap or .db3 storage), "
            ".mcap, .mcap.zstd or .db3 files, or folders of them")
BAG_SUFFIXES = (".mcap", ".db3", ".mcap.zstd", ".db3.zstd")
ZIP_MAGIC = b"PK\x03\x04"
SQLITE_MAGIC = b"SQLite format 3\x00"


class BagError(RecordingError):
    """A bag that cannot be read (one line, names the file and what was expected)."""


@dataclasses.dataclass
class TopicMap:
    """Which bag topics carry the robot's odometry, scan, command and camera image."""

    odom: str = "/odom"
    scan: str = "/scan"
    cmd: str = "/cmd_vel"
    image: str = ""

    @staticmethod
    def parse(spec: str | None, **override: str | None) -> "TopicMap":
        """``"odom=/robot/odom,scan=/front/scan"`` (any subset) plus keyword overrides (None =
        not given). Raises ValueError naming the bad entry."""
        tm = TopicMap()
        names = [f.name for f in dataclasses.fields(TopicMap)]
        for item in (spec or "").split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, topic = item.partition("=")
            key, topic = key.strip(), topic.strip()
            if not sep or key not in names:
                raise ValueError(f"--topics entry {clip(item, 60)!r}: expected KEY=/topic with KEY one of "
                                 f"{', '.join(names)}")
            setattr(tm, key, topic)
        for key, topic in override.items():
            if topic is not None:
                setattr(tm, key, topic.strip())
        for key in names:
            topic = getattr(tm, key)
            if topic and (not topic.startswith("/") or any(c.isspace() for c in topic)):
                raise ValueError(f"topic for {key} {clip(topic, 60)!r}: expected an absolute ROS topic "
                                 "name such as /robot/odom")
        return tm

    def __str__(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self)
                        if getattr(self, f.name))


@dataclasses.dataclass
class BagMessage:
    topic: str
    msgtype: str              # normalised: pkg/msg/Name
    log_time_ns: int          # when the recorder received it
    msg: object               # decoded (rosbags dataclass), attribute access like an rclpy message


def norm_type(name: str) -> str:
    parts = name.split("/")
    return f"{parts[0]}/msg/{parts[1]}" if len(parts) == 2 else name


def _has_suffix(p: Path) -> bool:
    return p.name.endswith(BAG_SUFFIXES)


def find_inputs(path: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """(npz shards, bags) under ``path``: a file, a bag directory, or a folder searched
    recursively (bag directories are not searched further; hidden names are ignored).
    Raises BagError naming the path and what was expected."""
    path = Path(path)
    if path.is_file():
        if path.name == "metadata.yaml":
            return [], [path.parent]
        if path.suffix == ".npz":
            return [path], []
        if _has_suffix(path):
            return [], [path]
        raise BagError(f"{path}: {_sniff(path)}; expected {EXPECTED}")
    if not path.is_dir():
        raise BagError(f"{path}: no such file or directory (expected {EXPECTED})")
    if (path / "metadata.yaml").is_file():
        return [], [path]
    shards, bags = [], []
    for root, dirs, files in os.walk(path):
        rootp = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if rootp != path and (rootp / "metadata.yaml").is_file():
            bags.append(rootp)
            dirs[:] = []
            continue
        names = sorted(f for f in files if not f.startswith("."))
        mcaps = [rootp / f for f in names if _has_suffix(Path(f))]
        if rootp != path and mcaps and all(f.endswith(".mcap") for f in map(str, mcaps)) and \
                all(m.stem.rsplit("_", 1)[0] == rootp.name for m in mcaps):
            bags.append(rootp)      # a bag directory whose metadata.yaml was never written (killed)
            continue
        shards += [rootp / f for f in names if f.endswith(".npz")]
        bags += mcaps
    if not shards and not bags:
        raise BagError(f"{path}: no data found (searched recursively for {EXPECTED})")
    return shards, bags


def _sniff(path: Path) -> str:
    """What a file looks like, in words."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if not head:
        return "empty file (0 bytes)"
    if head.startswith(ZIP_MAGIC):
        return "a zip archive without the .npz suffix"
    if head.startswith(SQLITE_MAGIC):
        return "an sqlite3 file without the .db3 suffix"
    if head.startswith(b"\x89MCAP"):
        return "an MCAP file without the .mcap suffix"
    return f"unknown file type (starts with {clip(head[:8], 40)})"


_STORE = None


def typestore():
    """rosbags' bundled message definitions (Kilted's; the common types are the same in every
    distro), built once."""
    global _STORE
    if _STORE is None:
        from rosbags.typesys import Stores, get_typestore

        _STORE = get_typestore(Stores.ROS2_KILTED)
    return _STORE


class BagReader:
    """Open one bag (see the module docstring for the forms); :attr:`topics` lists what it
    holds; :meth:`messages` yields the decoded messages of some topics in log-time order per
    storage file. :attr:`recovery` says what could not be read (a killed recorder's cut file)."""

    def __init__(self, path: str | os.PathLike, limits: McapLimits | None = None):
        self.path = Path(path)
        self.limits = limits or McapLimits()
        self.recovery = ""
        self.skipped_by: dict[str, int] = {}   # "<topic> of type '<type>'" / "<topic> undecodable" -> count
        self.metadata: dict[str, dict[str, str]] = {}   # MCAP metadata records (first of each name)
        self._store = typestore()
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._mcap_files: list[Path] | None = None   # read with McapScan
        self._reader = None                          # rosbags Reader otherwise
        self.topics: dict[str, tuple[str, int]] = {}  # topic -> (type, count or -1 unknown)
        if not self.path.exists():
            raise BagError(f"{self.path}: no such bag (expected {EXPECTED})")
        if self.path.name == "metadata.yaml" and self.path.is_file():
            self.path = self.path.parent
        if self.path.is_file() and self.path.name.endswith(".zstd") and not (self.path.parent / "metadata.yaml").is_file():
            self.path = self._unzstd(self.path)
        if self.path.is_file():
            if self.path.suffix == ".mcap":
                self._mcap_files = [self.path]
            elif self.path.suffix == ".db3":
                self._open_rosbags(self.path)
            else:
                raise BagError(f"{self.path}: not an MCAP recording, sqlite3 bag or rosbag2 directory "
                               f"({_sniff(self.path)}); expected {EXPECTED}")
        else:
            self._open_dir()

    # -- opening ------------------------------------------------------------------------------
    def _open_dir(self) -> None:
        meta = self.path / "metadata.yaml"
        info = None
        if meta.is_file():
            try:
                doc = load_yaml(meta)
                info = doc.get("rosbag2_bagfile_information") if isinstance(doc, dict) else None
            except (InputError, OSError, ValueError) as exc:
                self.recovery = f"metadata.yaml unreadable ({clip(str(exc), 120)}); reading the storage files"
            if info is not None and not isinstance(info, dict):
                info = None
        if info is not None:
            storage = str(info.get("storage_identifier", ""))
            compressed = str(info.get("compression_mode", "") or "").lower() not in ("", "none")
            files = info.get("relative_file_paths") or []
            if storage == "mcap" and not compressed and isinstance(files, list) and files:
                paths = [self.path / str(f) for f in files]
                here = [p for p in paths if p.is_file()]
                if here and all(p.resolve().parent == self.path.resolve() for p in here):
                    self._mcap_files = here
                    if len(here) < len(paths):
                        self.recovery = f"{len(paths) - len(here)} storage file(s) named in metadata.yaml missing"
                    return
            self._open_rosbags(self.path)
            return
        mcaps = sorted(p for p in self.path.glob("*.mcap") if not p.name.startswith("."))
        if not mcaps:
            raise BagError(f"{self.path}: a directory without metadata.yaml or .mcap files; expected a rosbag2 "
                           "directory (metadata.yaml and .mcap/.db3 storage)")
        self._mcap_files = mcaps
        self.recovery = (self.recovery or "no metadata.yaml (the recorder did not finish)") + \
            f"; read {len(mcaps)} storage file(s) directly"

    def _open_rosbags(self, path: Path) -> None:
        from rosbags.rosbag2 import Reader

        try:
            self._reader = Reader(path)
            self._reader.open()
        except Exception as exc:  # noqa: BLE001 - rosbags raises several kinds for a bad bag
            what = "rosbag2 directory" if path.is_dir() else "sqlite3 (.db3) bag"
            raise BagError(f"{path}: not a readable {what}: {type(exc).__name__}: "
                           f"{clip(' '.join(str(exc).split()), 200)}") from None
        self.topics = {c.topic: (norm_type(c.msgtype), int(c.msgcount)) for c in self._reader.connections}

    def _unzstd(self, path: Path) -> Path:
        """A lone zstd-compressed storage file, decompressed (capped) into a temporary file."""
        import zstandard

        inner = path.name[:-len(".zstd")]
        if not inner.endswith((".mcap", ".db3")):
            raise BagError(f"{path}: expected NAME.mcap.zstd or NAME.db3.zstd")
        self._tmp = tempfile.TemporaryDirectory(prefix="wmp-bag-")
        out = Path(self._tmp.name) / inner
        cap = self.limits.max_total_bytes
        try:
            with open(path, "rb") as src, open(out, "wb") as dst, \
                    zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(src, read_across_frames=True) as r:
                total = 0
                while True:
                    piece = read_upto(r, 1 << 20)
                    if not piece:
                        break
                    total += len(piece)
                    if total > cap:
                        raise BagError(f"{path}: decompresses to more than {cap} bytes (max_total_bytes); refusing it")
                    dst.write(piece)
        except zstandard.ZstdError as exc:
            raise BagError(f"{path}: not a zstd-compressed bag file: {clip(str(exc), 120)}") from None
        return out

    # -- reading ------------------------------------------------------------------------------
    def describe(self) -> str:
        """'topic (type, N msgs), ...' for error messages (for MCAP storage: after reading)."""
        if not self.topics:
            return "no topics"
        return ", ".join(f"{t} ({typ}" + (f", {n} msgs)" if n >= 0 else ")")
                         for t, (typ, n) in sorted(self.topics.items())[:40])

    def messages(self, topics: dict[str, tuple[str, ...]]) -> Iterator[BagMessage]:
        """Decoded messages on ``topics`` (topic -> accepted types); a message of another type
        or one that does not decode is skipped and counted in :attr:`skipped`."""
        try:
            if self._mcap_files is not None:
                yield from self._mcap_messages(topics)
            else:
                yield from self._rosbags_messages(topics)
        finally:
            self.close()

    @property
    def skipped(self) -> int:
        """Messages skipped: an unexpected type or a payload that does not decode."""
        return sum(self.skipped_by.values())

    def recovery_note(self) -> str:
        return self.recovery

    def _skip(self, why: str) -> None:
        self.skipped_by[why] = self.skipped_by.get(why, 0) + 1

    def _decode(self, topic, msgtype, raw, log_ns, topics) -> BagMessage | None:
        msgtype = norm_type(msgtype)
        if msgtype not in topics.get(topic, ()):
            self._skip(f"{topic} of type {msgtype[:60]!r}")
            return None
        try:
            msg = self._store.deserialize_cdr(bytes(raw), msgtype)
        except Exception:  # noqa: BLE001 - a damaged payload: skip it, count it
            self._skip(f"{topic} undecodable")
            return None
        return BagMessage(topic, msgtype, int(log_ns), msg)

    def _mcap_messages(self, topics) -> Iterator[BagMessage]:
        notes, counts = [], {}
        for f in self._mcap_files:
            try:
                scan = McapScan(f, self.limits)
                for m in scan.messages():       # every message counted, the wanted ones decoded
                    counts[m.topic] = counts.get(m.topic, 0) + 1
                    if m.topic not in topics:
                        continue
                    out = self._decode(m.topic, m.schema_name, m.data, m.log_time_ns, topics)
                    if out is not None:
                        yield out
            except RecordingError as exc:
                raise BagError(str(exc)) from None
            for topic, sid in scan._channels.values():
                self.topics.setdefault(topic, (norm_type(scan._schemas.get(sid, "")), 0))
            for name, values in scan.metadata.items():
                self.metadata.setdefault(name, values)
            note = scan.recovery_note()
            if note:
                notes.append(f"{f.name}: {note}" if len(self._mcap_files) > 1 else note)
        self.topics = {t: (typ, counts.get(t, 0)) for t, (typ, _) in self.topics.items()}
        self.recovery = "; ".join(x for x in [self.recovery, *notes] if x)

    def _rosbags_messages(self, topics) -> Iterator[BagMessage]:
        conns = [c for c in self._reader.connections if c.topic in topics]
        if not conns:
            return
        try:
            for conn, t_ns, raw in self._reader.messages(connections=conns):
                out = self._decode(conn.topic, conn.msgtype, raw, t_ns, topics)
                if out is not None:
                    yield out
        except BagError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged database or compressed file
            raise BagError(f"{self.path}: damaged bag: {type(exc).__name__}: "
                           f"{clip(' '.join(str(exc).split()), 200)}") from None

    def close(self) -> None:
        if self._reader is not None:
            try:
                self._reader.close()
            except Exception:  # noqa: BLE001 - closing a half-open reader
                pass
            self._reader = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None



def add_topic_args(parser) -> None:
    """``--topics`` and ``--odom-topic``/``--scan-topic``/``--cmd-topic``/``--image-topic`` on a
    sub-command that reads bags; :func:`topics_from_args` turns them into a TopicMap."""
    parser.add_argument("--topics", default=None, metavar="KEY=/TOPIC,...",
                        help="bag topic names, e.g. odom=/robot/odom,scan=/front/scan,cmd=/cmd_vel_out "
                             "(keys odom, scan, cmd, image; defaults /odom, /scan, /cmd_vel)")
    for key, typ in (("odom", "nav_msgs/Odometry"), ("scan", "sensor_msgs/LaserScan"),
                     ("cmd", "geometry_msgs/Twist or TwistStamped"), ("image", "sensor_msgs/Image")):
        parser.add_argument(f"--{key}-topic", default=None, metavar="TOPIC",
                            help=f"the bags' {typ} topic (overrides --topics {key}=...)")


def topics_from_args(args) -> TopicMap:
    """The TopicMap of :func:`add_topic_args`' flags; ValueError naming the bad flag."""
    return TopicMap.parse(getattr(args, "topics", None), **{
        k: getattr(args, f"{k}_topic", None) for k in ("odom", "scan", "cmd", "image")})
