"""Load a session recording (MCAP) into arrays for metrics, plots and model evaluation.

Times are simulated seconds from the messages' header stamps (/odom, commands, scans,
/diagnostics), the clock every node shares under ``use_sim_time``. Messages with a zero stamp
are skipped (an unstamped Twist command falls back to its log time). Works on recordings cut short by a crash (see
teleop.recorder). This module never imports rclpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COMMAND_TOPICS = ("/cmd_vel", "/cmd_vel_teleop", "/cmd_vel_nav")


@dataclass
class SessionData:
    """One recording.

    odom: (N, 6) columns t_s, x_m, y_m, yaw_rad, v_mps, w_rps (body-frame twist), sorted by t.
    scan_t: (M,) ; scans: (M, beams) float32 metres (inf = no return) ; scan_range_max_m.
    cmds: topic -> (K, 3) columns t_s, v_mps, w_rps.
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
    t = header.stamp.sec + header.stamp.nanosec * 1e-9
    return t if t > 0 else None


def yaw_from_quaternion(q) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def load_session(path: str | Path) -> SessionData:
    """Read one recording. Raises ValueError naming the file if it has no /odom."""
    from mcap_ros2.reader import read_ros2_messages

    from teleop.recorder import read_session_metadata

    path = str(path)
    try:
        meta = read_session_metadata(path)
    except Exception:  # noqa: BLE001 - a truncated file may lack the metadata index
        meta = {}
    odom, scan_t, scans, cmds = [], [], [], {t: [] for t in COMMAND_TOPICS}
    goal = goal_t = None
    sim_diag, mux_max, edges, last_iv = [], 0, 0, False
    range_max = 8.0
    for m in read_ros2_messages(path):
        topic, r, lt = m.channel.topic, m.ros_msg, m.log_time_ns
        t = _stamp(r.header, lt) if hasattr(r, "header") else lt * 1e-9
        if t is None:
            continue
        if topic == "/odom":
            p, tw = r.pose.pose, r.twist.twist
            odom.append((t, p.position.x, p.position.y,
                         yaw_from_quaternion(p.orientation), tw.linear.x, tw.angular.z))
        elif topic == "/scan":
            scan_t.append(t)
            scans.append(np.asarray(r.ranges, dtype=np.float32))
            range_max = float(r.range_max) or range_max
        elif topic in cmds:
            tw = r.twist if hasattr(r, "twist") else r
            cmds[topic].append((t, tw.linear.x, tw.angular.z))
        elif topic == "/goal_pose" and goal is None:
            goal, goal_t = (r.pose.position.x, r.pose.position.y), t
        elif topic == "/diagnostics":
            for st in r.status:
                name = st.name.split("/")[-1].split(":")[-1].strip()
                values = {kv.key: kv.value for kv in st.values}
                if name in ("sim", "sim_node"):
                    sim_diag.append((t, values))
                elif name == "cmd_mux":
                    try:
                        mux_max = max(mux_max, int(values.get("interventions", 0)))
                    except ValueError:
                        pass
        elif topic == "/mux/intervention":
            if r.data and not last_iv:
                edges += 1
            last_iv = bool(r.data)
    if not odom:
        raise ValueError(f"{path}: no /odom messages; expected a session recording "
                         "(wmp session / wmp record)")
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
        mux_interventions=mux_max, intervention_edges=edges)
