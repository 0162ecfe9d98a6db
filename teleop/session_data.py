"""Load a session recording (MCAP) into arrays for metrics, plots and model evaluation.

Times are simulated seconds from the messages' header stamps (/odom, commands, scans,
/diagnostics), the clock every node shares under ``use_sim_time``. Messages with a zero stamp
are skipped (an unstamped Twist command falls back to its log time).

Recordings are read with :class:`world_model_planner.core.bag_io.BagReader` (rosbag2 directories,
.mcap and .db3 files; MCAP storage through core.mcap_io.McapScan): in file order, within
size and decompression limits, so a recording cut short by a crash (see world_model_planner.teleop.recorder) loads
every message before the cut (:attr:`SessionData.recovery` says how much), and a damaged,
empty or non-MCAP file is one :class:`RecordingError` line naming it. Messages are decoded with
rosbags' bundled message definitions, never with the schema text in the file, and only on the
topics and types a session records. Odometry and scans that fail the sensor checks
(world_model_planner.core.sensor_check) are skipped and counted in :attr:`SessionData.invalid`.
Metadata is data: :attr:`SessionData.meta` holds bounded strings and nothing here opens a path
named in it. This module never imports rclpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from world_model_planner.core.mcap_io import McapLimits, RecordingError
from world_model_planner.core.sensor_check import SensorLimits, check_odom, check_scan
from world_model_planner.core import diagnostics as diag
from world_model_planner.core.rosconv import stamp_to_sec, yaw_of

COMMAND_TOPICS = ("/cmd_vel", "/cmd_vel_teleop", "/cmd_vel_nav")


@dataclass
class SessionData:
    """One recording.

    odom: (N, 6) columns t_s, x_m, y_m, yaw_rad, v_mps, w_radps (body-frame twist), sorted by t.
    scan_t: (M,) ; scans: (M, beams) float32 metres (inf = no return) ; scan_range_max_m.
    cmds: topic -> (K, 3) columns t_s, v_mps, w_radps.
    goal: (x, y) of the first /goal_pose, or None; goal_t_s its stamp.
    sim_diag: [(t_s, {key: value})] of DiagnosticStatus "sim".
    mux_interventions: largest 'interventions' count in the cmd_mux diagnostics.
    intervention_edges: false→true transitions seen on /mux/intervention.
    """

    path: str
    meta: dict
    odom: np.ndarray
    scan_t: np.ndarray
    scans: np.ndarray
    scan_range_max_m: float
    cmds: dict = field(default_factory=dict)
    goal: tuple | None = None
    goal_t_s: float | None = None
    sim_diag: list = field(default_factory=list)
    mux_interventions: int = 0
    intervention_edges: int = 0
    recovery: str = ""
    invalid: dict = field(default_factory=dict)
    validation: dict = field(default_factory=dict)   # the recorder's "validation" metadata record

    @property
    def label(self) -> str:
        m = self.meta
        who = m.get("operator") or "?"
        return f"{Path(self.path).stem} ({m.get('mode', '?')}, {who})"

    @property
    def mode(self) -> str:
        return self.meta.get("mode", "")

    @property
    def interventions(self) -> int:
        return max(self.mux_interventions, self.intervention_edges)


def _stamp(header, log_time_ns: int) -> float | None:
    """Header stamp in seconds; None for a zero stamp (e.g. a node's last message at shutdown)."""
    t = stamp_to_sec(header.stamp)
    return t if t > 0 else None


def _allowed_types() -> dict[str, tuple[str, ...]]:
    """topic -> message types a session may carry on it."""
    from world_model_planner.teleop.recorder import SESSION_TOPICS

    out = {t: (typ,) for t, typ in SESSION_TOPICS.items()}
    for t in COMMAND_TOPICS:
        out[t] = (SESSION_TOPICS[t], "geometry_msgs/msg/Twist")
    return out


def _norm_type(name: str) -> str:
    parts = name.split("/")
    return f"{parts[0]}/msg/{parts[1]}" if len(parts) == 2 else name


def load_session(path: str | Path, limits: McapLimits | None = None,
                 sensor_limits: SensorLimits | None = None, topics=None) -> SessionData:
    """Read one recording: a rosbag2 directory (or its metadata.yaml), a .mcap or .db3 file
    (core.bag_io.BagReader). ``topics`` (core.bag_io.TopicMap) names the bag's odometry, scan
    and command topics when they differ from /odom, /scan, /cmd_vel. Raises RecordingError (one
    line, naming the file) when it cannot be read or holds no usable /odom."""
    from world_model_planner.core.bag_io import BagReader

    path = str(path)
    sl = sensor_limits or SensorLimits()
    scan = BagReader(path, limits)
    allowed = _allowed_types()
    rename = {}
    if topics is not None:
        for real, ours in ((topics.odom, "/odom"), (topics.scan, "/scan"), (topics.cmd, "/cmd_vel")):
            if real and real != ours:
                allowed[real] = allowed.pop(ours)
                rename[real] = ours
    invalid: dict[str, int] = {}

    def bad(kind: str) -> None:
        invalid[kind] = invalid.get(kind, 0) + 1

    odom, scan_t, scans, cmds = [], [], [], {t: [] for t in COMMAND_TOPICS}
    goal = goal_t = None
    sim_diag, mux_max, edges, last_iv = [], 0, 0, False
    range_max = 8.0
    for raw in scan.messages(allowed):     # wrong types and undecodable payloads: scan.skipped_by
        topic, r = rename.get(raw.topic, raw.topic), raw.msg
        t = _stamp(r.header, raw.log_time_ns) if hasattr(r, "header") else raw.log_time_ns * 1e-9
        if t is None:
            continue
        if not math.isfinite(t):
            bad(f"{topic} bad stamp")
            continue
        if topic == "/odom":
            p, tw = r.pose.pose, r.twist.twist
            row = (t, p.position.x, p.position.y, yaw_of(p.orientation),
                   tw.linear.x, tw.angular.z)
            if check_odom(row[1:4], row[4:6], sl):
                bad("/odom")
                continue
            odom.append(row)
        elif topic == "/scan":
            geom, _, why = check_scan(r.angle_min, r.angle_max, r.angle_increment, r.range_min,
                                      r.range_max, r.ranges, sl)
            if geom is None:
                bad("/scan")
                continue
            scan_t.append(t)
            scans.append(np.asarray(r.ranges, dtype=np.float32))
            range_max = float(r.range_max) or range_max
        elif topic in cmds:
            tw = r.twist if hasattr(r, "twist") else r
            if not (math.isfinite(tw.linear.x) and math.isfinite(tw.angular.z)):
                bad(topic)
                continue
            cmds[topic].append((t, tw.linear.x, tw.angular.z))
        elif topic == "/goal_pose" and goal is None:
            gx, gy = r.pose.position.x, r.pose.position.y
            if math.isfinite(gx) and math.isfinite(gy):
                goal, goal_t = (gx, gy), t
            else:
                bad("/goal_pose")
        elif topic == "/diagnostics":
            for name, values in diag.statuses(r):
                if name in diag.SIM.aliases:
                    sim_diag.append((t, values))
                elif name in diag.CMD_MUX.aliases:
                    mux_max = max(mux_max, diag.CMD_MUX.interventions.read(values) or 0)
        elif topic == "/mux/intervention":
            if r.data and not last_iv:
                edges += 1
            last_iv = bool(r.data)
    recovery = scan.recovery_note()
    for kind, n in scan.skipped_by.items():
        invalid[kind] = invalid.get(kind, 0) + n
    if not odom:
        raise RecordingError(f"{path}: no usable /odom messages; expected a session recording "
                             "(wmp session / wmp record)" + (f"; {recovery}" if recovery else ""))
    meta = dict(scan.metadata.get("session", {}))
    od = np.array(sorted(odom), dtype=float)
    beams = max((len(s) for s in scans), default=0)
    sc = np.stack([s for s in scans if len(s) == beams]) if scans else np.zeros((0, 0), np.float32)
    st = np.array([t for t, s in zip(scan_t, scans) if len(s) == beams], dtype=float)
    order = np.argsort(st, kind="stable")
    return SessionData(
        path=path, meta=meta, odom=od, scan_t=st[order], scans=sc[order] if len(sc) else sc,
        scan_range_max_m=range_max,
        cmds={k: np.array(sorted(v), dtype=float).reshape(-1, 3) for k, v in cmds.items()},
        goal=goal, goal_t_s=goal_t, sim_diag=sorted(sim_diag, key=lambda d: d[0]),
        mux_interventions=mux_max, intervention_edges=edges, recovery=recovery, invalid=invalid,
        validation=dict(scan.metadata.get("validation", {})))
