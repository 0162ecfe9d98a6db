"""Session recording to a rosbag2 bag (MCAP storage, CDR messages, zstd chunks), crash-safe.

Layout: ``out`` is a rosbag2 directory, as ``ros2 bag record -o out`` makes it: ``out/out_0.mcap``
(ros2 profile; each channel carries ``offered_qos_profiles`` and ``topic_type_hash`` metadata)
and, after a clean close, ``out/metadata.yaml`` (rosbag2 metadata version 8, the format Jazzy's
rosbag2 writes; the tests read it back with ``rosbags`` and the project's loaders, while
``ros2 bag info``/``play`` are untested on any distro and Humble's older rosbag2 is untried)
plus the same bag description in the MCAP metadata record ``rosbag2``. An ``out`` ending in
``.mcap`` writes that one storage file alone (no metadata.yaml), as earlier versions did.

A recording is readable at every moment, not only after a clean close:

* Chunks are closed and written every ``flush_period_s`` (default 1 s), so a kill -9 loses at
  most about that much.
* After every write the file ends in a valid MCAP trailer (DataEnd, a Footer without summary,
  magic) that the next write overwrites. A file cut short by a crash therefore still opens
  in ``mcap_ros2.reader.read_ros2_messages(path)``: with no summary the reader falls back to a
  linear scan. A clean :meth:`SessionWriter.close` writes the full summary and indexes. A
  killed recorder leaves a directory without metadata.yaml: ``ros2 bag reindex`` rebuilds it,
  and the project's loaders (core.bag_io) read the storage file directly, up to the cut.
* Disk full (ENOSPC, EDQUOT, or EFBIG from a file-size limit) stops recording cleanly: the
  partial write is cut off, the trailer rewritten, :attr:`SessionWriter.failed` says why, and
  the file stays readable up to the last complete flush.

Metadata record ``session``: scenario, seed, operator, mode (teleop|planner|shared),
software_version, start_time_utc. Read it back with :func:`read_session_metadata`.

Schemas are the full .msg definitions (world_model_planner.teleop.msgdefs). Messages come in either as CDR bytes
(what an rclpy raw subscription delivers; no re-encoding) or as message objects, encoded with
mcap_ros2's encoder. This module never imports rclpy.
"""
from __future__ import annotations

import datetime
import errno
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from mcap.data_stream import RecordBuilder
from mcap.records import DataEnd, Footer
from mcap.writer import CompressionType
from mcap.writer import Writer as McapWriter

from world_model_planner.teleop.msgdefs import full_definition
from world_model_planner.core.params import param, validate
from world_model_planner.core.rosconv import stamp_to_sec, yaw_of

MCAP_MAGIC = bytes([137, 77, 67, 65, 80, 48, 13, 10])
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

# Topics a session records, and their types.
SESSION_TOPICS = {
    "/odom": "nav_msgs/msg/Odometry",
    "/scan": "sensor_msgs/msg/LaserScan",
    "/cmd_vel": "geometry_msgs/msg/TwistStamped",
    "/cmd_vel_teleop": "geometry_msgs/msg/TwistStamped",
    "/cmd_vel_nav": "geometry_msgs/msg/TwistStamped",
    "/goal_pose": "geometry_msgs/msg/PoseStamped",
    "/plan": "nav_msgs/msg/Path",
    "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
    "/clock": "rosgraph_msgs/msg/Clock",
    "/mux/intervention": "std_msgs/msg/Bool",
}


def software_version() -> str:
    try:
        from importlib.metadata import version

        return f"world_model_planner {version('world_model_planner')}"
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "world_model_planner (unknown version)"


@dataclass
class SessionInfo:
    """What the ``session`` metadata record says about a recording."""

    scenario: str = param("", "Scenario name or file.")
    seed: int = param(0, "Sim seed.", range=(0, 2**31 - 1))
    operator: str = param("", "Who drove: a person's name, 'scripted' or 'planner'.")
    mode: str = param("teleop", "Who drives.", choices=("teleop", "planner", "shared"))

    def __post_init__(self):
        validate(self)

    def metadata(self) -> dict[str, str]:
        d = {k: str(v) for k, v in asdict(self).items()}
        d["software_version"] = software_version()
        d["start_time_utc"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        return d


ROSBAG2_VERSION = 8     # metadata.yaml format: Jazzy's (what Kilted or Humble make of it is untried)


#: RIHS01 type description hashes of the recorded types (REP-2011; what Jazzy and later put in
#: a bag's channel metadata). A table, because computing them at start-up (rosbags' message
#: definitions) takes seconds; test_recorder checks it against rosbags.
TYPE_HASHES = {
    "diagnostic_msgs/msg/DiagnosticArray": "RIHS01_5a8a36efb05fb25070fa0fb3810290c0e6cd4862b54a8fb975a1ee8dc55a333e",
    "geometry_msgs/msg/PoseStamped": "RIHS01_10f3786d7d40fd2b54367835614bff85d4ad3b5dab62bf8bca0cc232d73b4cd8",
    "geometry_msgs/msg/Twist": "RIHS01_9c45bf16fe0983d80e3cfe750d6835843d265a9a6c46bd2e609fcddde6fb8d2a",
    "geometry_msgs/msg/TwistStamped": "RIHS01_5f0fcd4f81d5d06ad9b4c4c63e3ea51b82d6ae4d0558f1d475229b1121db6f64",
    "nav_msgs/msg/Odometry": "RIHS01_3cc97dc7fb7502f8714462c526d369e35b603cfc34d946e3f2eda2766dfec6e0",
    "nav_msgs/msg/Path": "RIHS01_1957a5bb3cee5da65c4e52e52b65a93df227efce4c20f8458b36e73066ca334b",
    "rosgraph_msgs/msg/Clock": "RIHS01_692f7a66e93a3c83e71765d033b60349ba68023a8c689a79e48078bcb5c58564",
    "sensor_msgs/msg/LaserScan": "RIHS01_64c191398013af96509d518dac71d5164f9382553fce5c1f8cca5be7924bd828",
    "std_msgs/msg/Bool": "RIHS01_feb91e995ff9ebd09c0cb3d2aed18b11077585839fb5db80193b62d74528f6c9",
}


def offered_qos(best_effort: bool = False, depth: int = 10) -> str:
    """A publisher's QoS as rosbag2 (metadata version 8) stores it: a YAML list of one profile,
    keep-last, volatile, automatic liveliness, durations 0 (the middleware default)."""
    import yaml

    zero = {"sec": 0, "nsec": 0}
    profile = {"history": 1, "depth": depth, "reliability": 2 if best_effort else 1, "durability": 2,
               "deadline": zero, "lifespan": zero, "liveliness": 1, "liveliness_lease_duration": zero,
               "avoid_ros_namespace_conventions": False}
    return yaml.safe_dump([profile], default_flow_style=None).strip()


def _type_hash(type_name: str) -> str:
    return TYPE_HASHES.get(type_name, "")


class DiskFullError(OSError):
    """The disk (or a file-size limit) refused a write; the recording was stopped cleanly."""


def _trailer() -> bytes:
    rb = RecordBuilder()
    DataEnd(data_section_crc=0).write(rb)
    Footer(summary_start=0, summary_offset_start=0, summary_crc=0).write(rb)
    return bytes(rb.end()) + MCAP_MAGIC


class TrailerFile:
    """The byte stream under the MCAP writer: keeps what the writer wrote in memory until
    :meth:`flush`, then writes it plus a valid trailer with one pwrite at the end of the data;
    the trailer is overwritten by the next flush."""

    TRAILER = _trailer()

    def __init__(self, path: str | os.PathLike):
        self._fd = os.open(os.fspath(path), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self._pos = 0
        self._pending = bytearray()

    def write(self, data) -> int:
        self._pending += data
        return len(data)

    def tell(self) -> int:
        return self._pos + len(self._pending)

    def flush(self) -> None:
        self._commit(trailer=True)

    def _commit(self, trailer: bool) -> None:
        data = bytes(self._pending) + (self.TRAILER if trailer else b"")
        done = 0
        try:
            while done < len(data):
                done += os.pwrite(self._fd, data[done:], self._pos + done)
        except OSError as exc:
            if exc.errno not in DISK_FULL_ERRNOS:
                raise
            self._pending.clear()
            os.ftruncate(self._fd, self._pos)  # drop the partial write, free its blocks
            try:
                os.pwrite(self._fd, self.TRAILER, self._pos)
            except OSError:
                pass  # nothing more we can do; the data before _pos is intact
            raise DiskFullError(exc.errno, f"recording stopped: {os.strerror(exc.errno)}") from exc
        self._pos += len(self._pending)
        self._pending.clear()

    def finish(self) -> None:
        """Write what the writer finished with (summary, footer), without a trailer."""
        self._commit(trailer=False)
        os.ftruncate(self._fd, self._pos)
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class SessionWriter:
    """Write one session's messages; see the module docstring for the guarantees.

    clock: monotonic seconds, used only to decide when to flush (tests can pass their own).
    """

    def __init__(self, path: str | os.PathLike, info: SessionInfo | None = None,
                 flush_period_s: float = 1.0, chunk_size: int = 8 << 20,
                 clock: Callable[[], float] = time.monotonic, best_effort_topics=()):
        self.path = os.fspath(path)
        p = Path(self.path)
        self.bag_dir: Path | None = None if p.suffix == ".mcap" else p
        if self.bag_dir is not None:
            if p.exists() and (not p.is_dir() or any(p.iterdir())):
                raise FileExistsError(errno.EEXIST, "exists already; expected a new rosbag2 directory", self.path)
            p.mkdir(parents=True, exist_ok=True)
            self.storage_path = str(p / f"{p.name}_0.mcap")
        else:
            self.storage_path = self.path
        self.flush_period_s = flush_period_s
        self.failed: str | None = None
        self.counts: dict[str, int] = {}
        self.types: dict[str, str] = {}
        self.time_range_ns = [None, None]
        self._best_effort = set(best_effort_topics)
        self._clock = clock
        self._file = TrailerFile(self.storage_path)
        self._mcap = McapWriter(self._file, chunk_size=chunk_size, compression=CompressionType.ZSTD)
        if not hasattr(self._mcap, "flush"):
            raise RuntimeError("mcap.writer.Writer.flush is missing: install mcap >= 1.2")
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self._encoders: dict[str, Any] = {}
        self._dirty = False
        self._closed = False
        self._guard(lambda: self._mcap.start(profile="ros2", library="world_model_planner session_recorder"))
        if info is not None:
            self.add_metadata("session", info.metadata())
        self._guard(self._mcap.flush)
        self._last_flush = clock()

    # -- writing -----------------------------------------------------------------------------
    def _guard(self, fn) -> bool:
        if self.failed or self._closed:
            return False
        try:
            fn()
            return True
        except DiskFullError as exc:
            self.failed = str(exc)
            return False

    def _channel(self, topic: str, type_name: str) -> int:
        ch = self._channels.get(topic)
        if ch is None:
            sid = self._schemas.get(type_name)
            if sid is None:
                sid = self._mcap.register_schema(type_name, "ros2msg", full_definition(type_name).encode())
                self._schemas[type_name] = sid
            meta = {"offered_qos_profiles": self._qos(topic)}
            digest = _type_hash(type_name)
            if digest:
                meta["topic_type_hash"] = digest
            ch = self._mcap.register_channel(topic=topic, message_encoding="cdr", schema_id=sid, metadata=meta)
            self._channels[topic] = ch
            self.types[topic] = type_name
        return ch

    def write_cdr(self, topic: str, type_name: str, data: bytes, log_time_ns: int | None = None,
                  publish_time_ns: int | None = None) -> bool:
        """Add one CDR-serialized message (with its 4-byte encapsulation header).
        Returns False once recording has stopped (disk full or closed)."""
        t = time.time_ns() if log_time_ns is None else int(log_time_ns)

        def add():
            ch = self._channel(topic, type_name)
            before = self._file.tell()
            self._mcap.add_message(channel_id=ch, log_time=t, data=bytes(data),
                                   publish_time=t if publish_time_ns is None else int(publish_time_ns))
            if self._file.tell() != before:  # the writer closed a chunk on its own (size)
                self._file.flush()
        ok = self._guard(add)
        if ok:
            self.counts[topic] = self.counts.get(topic, 0) + 1
            lo, hi = self.time_range_ns
            self.time_range_ns = [t if lo is None else min(lo, t), t if hi is None else max(hi, t)]
            self._dirty = True
            self.maybe_flush()
        return ok

    def write(self, topic: str, type_name: str, msg: Any, log_time_ns: int | None = None) -> bool:
        """Add one message object (an rclpy message or anything with the same attributes)."""
        enc = self._encoders.get(type_name)
        if enc is None:
            from mcap_ros2._dynamic import serialize_dynamic  # the encoder mcap_ros2's Writer uses

            encoders = serialize_dynamic(type_name, full_definition(type_name))
            enc = encoders.get(type_name) or encoders[type_name.replace("/msg/", "/")]
            self._encoders[type_name] = enc
        return self.write_cdr(topic, type_name, enc(_plain(msg)), log_time_ns)

    def add_metadata(self, name: str, data: dict[str, str]) -> bool:
        return self._guard(lambda: (self._mcap.add_metadata(name, dict(data)), self._file.flush()))

    def maybe_flush(self, now_s: float | None = None) -> bool:
        """Close the current chunk when ``flush_period_s`` has passed since the last flush."""
        now = self._clock() if now_s is None else now_s
        if self._dirty and now - self._last_flush >= self.flush_period_s:
            return self.flush(now)
        return False

    def flush(self, now_s: float | None = None) -> bool:
        ok = self._guard(self._mcap.flush)
        self._dirty = False
        self._last_flush = self._clock() if now_s is None else now_s
        return ok

    def close(self) -> None:
        """Finish the file with summary and indexes (or leave the readable partial file after a
        disk-full stop)."""
        if self._closed:
            return
        if not self.failed:
            info = self.bag_info()
            self._guard(lambda: self._mcap.add_metadata("rosbag2", {
                "serialized_metadata": _yaml_dump(info), "ROS_DISTRO": info["ros_distro"]}))
            done = self._guard(lambda: (self._mcap.finish(), self._file.finish()))
            if done and self.bag_dir is not None:
                from world_model_planner.core.safeio import atomic_write_text

                try:
                    atomic_write_text(self.bag_dir / "metadata.yaml",
                                      _yaml_dump({"rosbag2_bagfile_information": info}))
                except OSError as exc:
                    self.failed = f"metadata.yaml not written: {exc.strerror or exc}"
        self._closed = True
        self._file.close()

    def _qos(self, topic: str):
        return offered_qos(best_effort=topic in self._best_effort)

    def bag_info(self) -> dict:
        """The rosbag2 bag description (``rosbag2_bagfile_information``, version 8)."""
        lo, hi = self.time_range_ns
        start, duration = int(lo or 0), int((hi or 0) - (lo or 0))
        total = sum(self.counts.values())
        name = os.path.basename(self.storage_path)
        return {
            "version": ROSBAG2_VERSION, "storage_identifier": "mcap",
            "duration": {"nanoseconds": duration}, "starting_time": {"nanoseconds_since_epoch": start},
            "message_count": total,
            "topics_with_message_count": [
                {"topic_metadata": {"name": t, "type": typ, "serialization_format": "cdr",
                                    "offered_qos_profiles": self._qos(t),
                                    "type_description_hash": _type_hash(typ)},
                 "message_count": self.counts.get(t, 0)} for t, typ in self.types.items()],
            "compression_format": "", "compression_mode": "",
            "relative_file_paths": [name],
            "files": [{"path": name, "starting_time": {"nanoseconds_since_epoch": start},
                       "duration": {"nanoseconds": duration}, "message_count": total}],
            "custom_data": {"recorder": "world_model_planner session_recorder"},
            "ros_distro": os.environ.get("ROS_DISTRO", "") or "unknown",
        }

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _yaml_dump(data) -> str:
    import yaml

    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False)


class _Plain:
    """Attribute bag: a message with numpy/array fields turned into lists."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _plain(obj: Any) -> Any:
    """Recursively convert a message object into what mcap_ros2's encoder accepts: lists
    instead of numpy arrays or array.array, ints instead of 1-byte ``bytes`` (byte fields)."""
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return obj
    if isinstance(obj, (bytes, bytearray)):
        return obj[0] if len(obj) == 1 else list(obj)
    if hasattr(obj, "get_fields_and_field_types"):  # an rclpy message
        return _Plain(**{k: _plain(getattr(obj, k)) for k in obj.get_fields_and_field_types()})
    if hasattr(obj, "tolist"):  # numpy array or scalar
        return obj.tolist()
    if isinstance(obj, (list, tuple)) or type(obj).__name__ == "array":
        return [_plain(x) for x in obj]
    return obj


class RecordingValidator:
    """Checks incoming messages with world_model_planner.core.sensor_check and counts what fails.

    A recording is evidence: invalid messages are still recorded, but counted here per topic and
    reason, for the recorder's diagnostics and the ``validation`` metadata record. Checks: header
    stamps (non-finite, or further in the future than ``limits.future_tolerance_s``; skipped while
    the node clock is 0, i.e. before the first /clock), LaserScan geometry and ranges
    (``check_scan``), odometry pose, quaternion and twist (``check_odom``, ``check_quaternion``).
    """

    def __init__(self, limits):
        self.limits = limits
        self.checked = 0
        self.invalid: dict[str, int] = {}
        self.last_reason = ""

    def check(self, topic: str, msg: Any, now_s: float) -> str:
        """Reason ``msg`` on ``topic`` is invalid, or ''. Counts it either way."""
        from world_model_planner.core import sensor_check as sc

        self.checked += 1
        why = ""
        header = getattr(msg, "header", None)
        if header is not None and now_s > 0.0:
            stamp = stamp_to_sec(header.stamp)
            if stamp > 0.0:
                why = sc.stamp_age(now_s, stamp, self.limits.future_tolerance_s)[1]
        if not why and topic == "/scan":
            why = sc.check_scan(msg.angle_min, msg.angle_max, msg.angle_increment, msg.range_min,
                                msg.range_max, msg.ranges, self.limits)[2]
        elif not why and topic == "/odom":
            p, q, tw = msg.pose.pose.position, msg.pose.pose.orientation, msg.twist.twist
            why = sc.check_odom((p.x, p.y, yaw_of(q)), (tw.linear.x, tw.angular.z), self.limits,
                                quat=(q.x, q.y, q.z, q.w))
        if why:
            self.invalid[topic] = self.invalid.get(topic, 0) + 1
            self.last_reason = f"{topic}: {why}"
        return why

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())

    def metadata(self) -> dict[str, str]:
        """The ``validation`` metadata record: counts per topic and the last reason."""
        d = {"checked": str(self.checked), "invalid": str(self.invalid_total),
             "last_reason": self.last_reason[:200]}
        d.update({f"invalid{t.replace('/', '_')}": str(n) for t, n in sorted(self.invalid.items())})
        return d


def read_session_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``session`` metadata record of a recording (a bag directory or an .mcap file; {} if it
    has none); read in file order within limits (world_model_planner.core.mcap_io), so a
    truncated file still gives it. Raises RecordingError for a file that is not an MCAP
    recording."""
    from world_model_planner.core.mcap_io import read_metadata

    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.glob("*.mcap") if not f.name.startswith("."))
        for f in files:
            meta = read_metadata(f, "session")
            if meta:
                return meta
        return {}
    return read_metadata(path, "session")
