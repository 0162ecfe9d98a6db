"""Untrusted sensor headers against planner_node as real processes (issue 10, items 1 and 2).

1. Future timestamps: one /scan (or /odom) stamped far in the future, then that sensor stops.
   The age check used ``now - stamp``, negative for the future, so the stale data stayed
   "fresh" and the planner kept driving (0.92 m/s for 4 s). Both trigger modes are run.
2. LaserScan headers: range_max 0 / NaN / 1e6, angle_min NaN, all-negative ranges and a
   100,000-beam scan, given to all three planners. Each must stop (exact zero commands), say
   why, log the refusal, stay alive, keep its memory, and drive again once the scans are good.
"""
from __future__ import annotations

import math
import time

import pytest
from world_model_planner.testing.sensors import FAST_PLANNER, SensorFeed, is_zero, moving, publish_goal, stamp, wait_log
from world_model_planner.testing.processes import NodeProcess

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped, TwistStamped  # noqa: E402

MAX_AGE_S = 0.5


class _Mute:
    """Stands in for a publisher: the sensor stops."""

    def publish(self, msg):
        pass


class Feed(SensorFeed):
    """SensorFeed whose next message can be stamped ``future_s`` ahead, after which that sensor
    stops; ``scan_edit(msg)`` corrupts every scan header or body."""

    def __init__(self, probe):
        super().__init__(probe)
        self.future = {"odom": None, "scan": None}
        self.scan_edit = None
        self._pubs = {"odom": self.odom, "scan": self.scan}

    def _stamp_future(self, kind, msg, t):
        ahead = self.future[kind]
        if ahead is not None:
            msg.header.stamp = stamp(t + ahead)
            self.future[kind] = None
            self.t_fault = time.monotonic()
            setattr(self, kind, _Mute())          # this message still goes out; the sensor then stops
        return msg

    def odom_msg(self, t):
        return self._stamp_future("odom", super().odom_msg(t), t)

    def scan_msg(self, t):
        msg = super().scan_msg(t)
        if self.scan_edit is not None:
            self.scan_edit(msg)
        return self._stamp_future("scan", msg, t)

    def inject_future(self, kind, ahead_s=1000.0):
        self.future[kind] = ahead_s

    def restore(self):
        self.odom, self.scan = self._pubs["odom"], self._pubs["scan"]


def _start_planner(name, extra, node_env, tmp_path):
    return NodeProcess.executable(
        "planner_node", [*FAST_PLANNER, "-p", "autostart:=true", "-p", f"max_sensor_age_s:={MAX_AGE_S}",
                         "-r", f"__node:={name}", "-r", f"cmd_vel_nav:=/{name}/cmd", *extra],
        node_env, tmp_path / name, extra=())


def _zero_after(probe, topic, t_fault, proc, window_s=1.5):
    """Seconds from the fault to the first zero command after which every command in the
    following ``window_s`` is zero (and at least 5 arrive); fails if that never happens."""
    deadline = t_fault + MAX_AGE_S + 4.0
    while time.monotonic() < deadline:
        stamped = [(t, m) for t, m in list(probe.messages[topic]) if t >= t_fault]
        for i, (t, m) in enumerate(stamped):
            if is_zero(m) and all(is_zero(m2) for _, m2 in stamped[i:]):
                if stamped[-1][0] - t >= window_s and len(stamped) - i >= 5:
                    return t - t_fault
                break
        assert proc.alive(), proc.log()[-3000:]
        time.sleep(0.05)
    last = [round(m.twist.linear.x, 3) for _, m in list(probe.messages[topic])[-10:]]
    raise AssertionError(f"{topic}: commands not all zero {MAX_AGE_S + 4.0:.1f} s after the fault; "
                         f"last v: {last}\n{proc.log()[-2000:]}")


@pytest.mark.slow
def test_future_stamps_do_not_keep_stale_data_fresh(node_env, probe, tmp_path):
    """A scan, then an odometry message, stamped 1000 s ahead, then that sensor stops: both the
    odom-triggered and the timer-triggered planner command zero within max_sensor_age_s."""
    names = {"p_odom": ["-p", "trigger:=odom", "-p", "planner:=classic"],
             "p_timer": ["-p", "trigger:=timer", "-p", "planner:=classic"]}
    for n in names:
        (tmp_path / n).mkdir()
    procs = {n: _start_planner(n, a, node_env, tmp_path) for n, a in names.items()}
    feed = Feed(probe)
    try:
        for n in names:
            probe.subscribe(f"/{n}/cmd", TwistStamped)
        feed.start()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, count=2, timeout=30.0)
        publish_goal(probe, goal_pub, 3.0, 0.0)
        for kind in ("scan", "odom"):
            for n, proc in procs.items():
                probe.wait_for(f"/{n}/cmd", lambda ms: any(moving(m) for m in ms[-3:]), timeout=30.0, proc=proc)
            feed.inject_future(kind)
            while feed.future[kind] is not None:
                time.sleep(0.01)
            for n, proc in procs.items():
                dt = _zero_after(probe, f"/{n}/cmd", feed.t_fault, proc)
                print(f"\n{n}: /{kind} stamped 1000 s ahead, then silent: all commands zero from "
                      f"{dt * 1e3:.0f} ms after it")
                assert dt <= MAX_AGE_S + 0.3, (n, kind, dt)
                assert proc.alive()
            feed.restore()                                   # fresh data: both drive again
            for n in names:
                probe.clear(f"/{n}/cmd")
        for n, proc in procs.items():
            probe.wait_for(f"/{n}/cmd", lambda ms: any(moving(m) for m in ms), timeout=10.0, proc=proc)
            assert "in the future" in proc.log()
            assert "Traceback" not in proc.log()
    finally:
        feed.stop()
        for p in procs.values():
            p.stop()


def _rss_mib(proc) -> float:
    with open(f"/proc/{proc.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _set(**kw):
    def edit(msg):
        for k, v in kw.items():
            setattr(msg, k, v)
    return edit


def _negative(msg):
    msg.ranges = [-1.0] * len(msg.ranges)


def _beams_100k(msg):
    msg.angle_increment = 2 * math.pi / 100_000
    msg.angle_max = math.pi - msg.angle_increment
    msg.ranges = [5.0] * 100_000


def _front_half(msg):
    msg.angle_min, msg.angle_increment = -math.pi / 2, math.pi / 90
    msg.angle_max = math.pi / 2
    msg.ranges = [5.0] * 91


BAD_SCANS = [("range_max=0", _set(range_max=0.0), "range_max"),
             ("range_max=NaN", _set(range_max=float("nan")), "range_max is nan"),
             ("angle_min=NaN", _set(angle_min=float("nan")), "angle_min is nan"),
             ("all ranges negative", _negative, "beams are valid"),
             ("100000 beams", _beams_100k, "max_beams"),
             ("range_max=1e6", _set(range_max=1e6), "max_range_m")]


@pytest.mark.slow
def test_invalid_scan_headers_stop_every_planner(node_env, probe, tmp_path):
    names = {"p_classic": ["-p", "planner:=classic"], "p_flat": ["-p", "planner:=flat"],
             "p_hier": ["-p", "planner:=hierarchical"]}
    for n in names:
        (tmp_path / n).mkdir()
    procs = {n: _start_planner(n, [*a, "-p", "mppi.samples:=64"], node_env, tmp_path) for n, a in names.items()}
    feed = Feed(probe)
    try:
        for n in names:
            probe.subscribe(f"/{n}/cmd", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray)
        feed.start()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, count=3, timeout=60.0)
        publish_goal(probe, goal_pub, 3.0, 0.0)
        for n, proc in procs.items():
            probe.wait_for(f"/{n}/cmd", lambda ms: any(moving(m) for m in ms[-3:]), timeout=60.0, proc=proc)
        rss0 = {n: _rss_mib(p) for n, p in procs.items()}
        for label, edit, words in BAD_SCANS:
            t_fault = time.monotonic()
            feed.scan_edit = edit
            for n, proc in procs.items():
                dt = _zero_after(probe, f"/{n}/cmd", t_fault, proc, window_s=1.0)
                probe.wait_for("/diagnostics", lambda ms: words in status_values_named(ms, n).get("reason", ""),
                               timeout=10.0, proc=proc)
                print(f"\n{n}: {label}: all commands zero from {dt * 1e3:.0f} ms after the first bad scan; "
                      f"reason: {status_values_named(probe.received('/diagnostics'), n)['reason'][:80]}; "
                      f"RSS {_rss_mib(proc):.0f} MiB")
                wait_log(proc, words, timeout=10.0)
                assert "scan refused" in proc.log()
            feed.scan_edit = None                            # good scans again: every planner drives
            for n, proc in procs.items():
                probe.clear(f"/{n}/cmd")
            for n, proc in procs.items():
                probe.wait_for(f"/{n}/cmd", lambda ms: any(moving(m) for m in ms), timeout=15.0, proc=proc)
        # a lidar that sees only the front half (91 beams, -90°..+90°) is not refused: projected
        # through its angle_increment (the learned model reads the unseen half as obstacles)
        feed.scan_edit = _front_half
        for n, proc in procs.items():
            probe.clear(f"/{n}/cmd")
        for n, proc in procs.items():
            probe.wait_for(f"/{n}/cmd", lambda ms: sum(moving(m) for m in ms) >= 10, timeout=15.0, proc=proc)
        feed.scan_edit = None
        for n, proc in procs.items():
            assert proc.alive() and "Traceback" not in proc.log(), proc.log()[-3000:]
            grew = _rss_mib(proc) - rss0[n]
            print(f"{n}: RSS grew {grew:.0f} MiB over all bad scans")
            assert grew < 200, (n, grew)
            # the refusal is logged, throttled: not once per scan
            assert proc.log().count("scan refused") < 40
    finally:
        feed.stop()
        for p in procs.values():
            p.stop()


def status_values_named(msgs, node_name):
    """The latest planner status from node ``node_name`` (all three publish a status named
    "planner"; the planner kind in the values tells them apart)."""
    kind = {"p_classic": "classic", "p_flat": "flat", "p_hier": "hierarchical"}[node_name]
    for arr in reversed(msgs):
        for st in arr.status:
            if st.name == "planner":
                values = {kv.key: kv.value for kv in st.values}
                if values.get("planner") == kind:
                    return values
    return {}

