"""Load faults: control rate and memory (RSS) of the nodes under each load, as a table.

Loads (each on its own, for ``--duration`` seconds after a warm-up):

- ``goals``: 10 goals per second on /goal_pose (planner_node, world_model_node, sensors at rate);
- ``teleop_junk``: 1 kHz junk on /cmd_vel_teleop into cmd_mux (random, huge and non-finite
  twists, random stamps) while the planner drives through /cmd_vel_nav; an /estop at the end
  must lock the mux output to zero;
- ``sensors_100x``: /odom at 2 kHz and /scan at 1 kHz (100x) into planner_node and world_model_node.

Per load it prints the planner's command rate (/cmd_vel_nav, the control rate: one command per
/odom with trigger=odom), the mux output rate where the mux runs, and each node's RSS at the
start and end of the window and its maximum.

scripts/fault_load_report.py runs each load for 60 s and prints the table; test/faults/test_fault_load.py
runs the same code for a few seconds per load. Real node processes, in their own DDS domain,
discovery limited to localhost.
"""
from __future__ import annotations

import math
import random
import threading
import time
from pathlib import Path

from world_model_planner.core.rosconv import stamp_to_sec
from world_model_planner.testing.domain import ros_env
from world_model_planner.testing.processes import NodeProcess
from world_model_planner.testing.ros import RosProbe
from world_model_planner.testing.sensors import BEAMS, publish_goal, stamp, transition

LOADS = ("goals", "teleop_junk", "sensors_100x")


class Probe(RosProbe):
    """The load generator and meter: the probe node, counting messages per topic (with their
    header stamps and arrival times) and calling functions at a fixed rate in threads."""

    def __init__(self, domain_id: int):
        super().__init__(domain_id, name="fault_load_probe")
        self.counts: dict[str, int] = {}
        self.last: dict[str, object] = {}
        self.nonfinite: dict[str, int] = {}
        self.stamps: dict[str, list[float]] = {}    # header stamps (s) of each counted message
        self.arrival: dict[str, list[float]] = {}   # when each of those arrived here (same clock)
        self._stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    def count(self, topic: str, msg_type):
        self.counts[topic], self.nonfinite[topic] = 0, 0

        self.stamps[topic], self.arrival[topic] = [], []

        def cb(msg):
            self.counts[topic] += 1
            self.last[topic] = msg
            st = getattr(msg, "header", None)
            if st is not None:
                self.stamps[topic].append(stamp_to_sec(st.stamp))
                self.arrival[topic].append(self.node.get_clock().now().nanoseconds * 1e-9)
            tw = getattr(msg, "twist", None)
            if tw is not None and not all(math.isfinite(x) for x in (tw.linear.x, tw.angular.z)):
                self.nonfinite[topic] += 1

        self.node.create_subscription(msg_type, topic, cb, 50)

    def every(self, period_s: float, fn):
        """Call ``fn()`` every ``period_s`` (wall) in a thread until close(); no catch-up bursts."""
        def run():
            nxt = time.monotonic()
            while not self._stop_event.is_set():
                fn()
                nxt += period_s
                delay = nxt - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -0.5:
                    nxt = time.monotonic()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self._threads.append(t)

    def wait(self, cond, timeout_s: float, what: str, nodes=()):
        deadline = time.monotonic() + timeout_s
        while not cond():
            for n in nodes:
                if not n.alive():
                    raise RuntimeError(f"{Path(n.args[0]).name} exited while waiting for {what}:\n{n.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")
            time.sleep(0.02)

    def close(self):
        self._stop_event.set()
        for t in self._threads:
            t.join(2.0)
        super().close()


def _node(name: str, params: list[str], env: dict, log_dir: Path) -> NodeProcess:
    """A node executable of this package with ``-p`` parameters, logging to ``log_dir/<name>.log``."""
    return NodeProcess.executable(name, [a for p in params for a in ("-p", p)], env, log_dir)


def sensor_feed(probe: Probe, rate_mult: float):
    """/odom at 20 Hz x rate_mult and /scan at 10 Hz x rate_mult, robot at the origin."""
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import LaserScan

    odom_pub = probe.node.create_publisher(Odometry, "/odom", 20)
    scan_pub = probe.node.create_publisher(LaserScan, "/scan", 10)
    scan = LaserScan(angle_min=-math.pi, angle_increment=2 * math.pi / BEAMS, range_min=0.1, range_max=8.0,
                     ranges=[5.0] * BEAMS)
    scan.angle_max, scan.header.frame_id = math.pi - scan.angle_increment, "base_link"
    odom = Odometry()
    odom.header.frame_id, odom.child_frame_id = "odom", "base_link"
    odom.pose.pose.orientation.w = 1.0
    k = [0]

    def tick():
        st = stamp(probe.node.get_clock().now().nanoseconds * 1e-9)
        if k[0] % 2 == 0:
            scan.header.stamp = st
            scan_pub.publish(scan)
        odom.header.stamp = st
        odom_pub.publish(odom)
        probe.counts["odom_sent"] = probe.counts.get("odom_sent", 0) + 1
        k[0] += 1

    probe.every(0.05 / rate_mult, tick)
    return odom_pub


def goal_sender(probe: Probe):
    from geometry_msgs.msg import PoseStamped

    pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)

    return pub, lambda x, y: publish_goal(probe, pub, x, y)


def junk_sender(probe: Probe, rng: random.Random):
    """1 kHz of TwistStamped junk on /cmd_vel_teleop: huge, random, NaN and inf values."""
    from geometry_msgs.msg import TwistStamped

    pub = probe.node.create_publisher(TwistStamped, "/cmd_vel_teleop", 10)
    choices = (float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 0.0)

    def tick():
        m = TwistStamped()
        m.header.stamp = stamp(rng.uniform(0, 2e9))
        m.header.frame_id = "junk" * rng.randint(0, 8)
        vals = [rng.choice(choices) if rng.random() < 0.5 else rng.uniform(-100, 100) for _ in range(6)]
        (m.twist.linear.x, m.twist.linear.y, m.twist.linear.z,
         m.twist.angular.x, m.twist.angular.y, m.twist.angular.z) = vals
        pub.publish(m)

    probe.every(0.001, tick)


def run_load(load: str, duration_s: float, domain_id: int, model_path: str, log_dir: Path,
             planner_params: list[str] = (), warmup_s: float = 3.0) -> dict:
    """Start the nodes, apply ``load`` for ``duration_s``, return rates and RSS per node."""
    from geometry_msgs.msg import TwistStamped
    from std_msgs.msg import Bool

    if load not in LOADS:
        raise ValueError(f"load: expected one of {LOADS}, got {load!r}")
    env = ros_env(domain_id)
    log_dir = Path(log_dir) / load
    log_dir.mkdir(parents=True, exist_ok=True)
    probe = Probe(domain_id)
    nodes = {"planner_node": _node("planner_node", ["autostart:=true", "device:=cpu", f"model_path:={model_path}",
                                                    *planner_params], env, log_dir),
             "world_model_node": _node("world_model_node", [f"model_path:={model_path}", "device:=cpu"], env,
                                       log_dir)}
    if load == "teleop_junk":
        nodes["cmd_mux"] = _node("cmd_mux", [], env, log_dir)
    result: dict = {"load": load, "duration_s": duration_s}
    try:
        probe.count("/cmd_vel_nav", TwistStamped)
        probe.count("/cmd_vel", TwistStamped)
        for tid in (1, 3):
            if not transition(probe, "world_model_node", tid):
                raise RuntimeError(f"world_model_node transition {tid} failed:\n{nodes['world_model_node'].log()}")
        goal_pub, send_goal = goal_sender(probe)
        odom_pub = sensor_feed(probe, 100.0 if load == "sensors_100x" else 1.0)
        probe.wait(lambda: goal_pub.get_subscription_count() > 0, 30, "planner /goal_pose", nodes.values())
        send_goal(3.0, 0.0)
        probe.wait(lambda: probe.counts["/cmd_vel_nav"] > 5, 30, "planner commands", nodes.values())
        rng = random.Random(0)
        if load == "goals":
            targets = [(3.0, 0.0), (2.0, 2.0), (-2.0, 1.0), (1.0, -2.5)]
            i = [0]

            def next_goal():
                i[0] += 1
                send_goal(*targets[i[0] % len(targets)])

            probe.every(0.1, next_goal)
        elif load == "teleop_junk":
            junk_sender(probe, rng)
        time.sleep(warmup_s)
        c0 = dict(probe.counts)
        rss = {name: [n.rss_mib()] for name, n in nodes.items()}
        t0, wall0 = time.monotonic(), probe.node.get_clock().now().nanoseconds * 1e-9
        ticks = 0
        while time.monotonic() - t0 < duration_s:
            ticks += 1
            time.sleep(max(0.0, t0 + ticks - time.monotonic()))
            for name, n in nodes.items():
                rss[name].append(n.rss_mib())
                if not n.alive():
                    raise RuntimeError(f"{name} died under load {load}:\n{n.log()[-3000:]}")
        elapsed = time.monotonic() - t0
        c1 = dict(probe.counts)
        time.sleep(0.5)                 # commands stamped inside the window may still be on their way
        # control rate from the commands' own stamps (the odom stamps they answer): immune to
        # delivery bursts in this (busy) measuring process
        pairs = [(s, a) for s, a in zip(probe.stamps["/cmd_vel_nav"], probe.arrival["/cmd_vel_nav"])
                 if wall0 <= s < wall0 + elapsed]
        cmd_t = [s - wall0 for s, _ in pairs]
        # age of a command when it arrives: its stamp is the /odom stamp it answers (trigger=odom),
        # or the time it was sent (watchdog stops)
        age_ms = sorted(1e3 * (a - s) for s, a in pairs) or [float("nan")]
        result["cmd_age_ms_p50"] = age_ms[len(age_ms) // 2]
        result["cmd_age_ms_p95"] = age_ms[int(0.95 * (len(age_ms) - 1))]
        bins = [0] * max(1, int(elapsed))
        for t in cmd_t:
            if int(t) < len(bins):
                bins[int(t)] += 1
        result["odom_subscribers"] = odom_pub.get_subscription_count()
        result["odom_rate_hz"] = (c1["odom_sent"] - c0["odom_sent"]) / elapsed
        result["control_rate_hz"] = len(cmd_t) / elapsed
        result["control_rate_min_1s_hz"] = float(min(bins))
        if load == "teleop_junk":
            result["mux_output_rate_hz"] = (c1["/cmd_vel"] - c0["/cmd_vel"]) / elapsed
            result["mux_nonfinite_outputs"] = probe.nonfinite["/cmd_vel"]
            estop = probe.node.create_publisher(Bool, "/estop", 10)
            probe.wait(lambda: estop.get_subscription_count() > 0, 10, "mux /estop", nodes.values())
            estop.publish(Bool(data=True))
            t_e = time.monotonic()

            def zero_out():
                m = probe.last.get("/cmd_vel")
                return m is not None and m.twist.linear.x == 0.0 and m.twist.angular.z == 0.0 and \
                    time.monotonic() - t_e > 0.2

            probe.wait(zero_out, 10, "a zero mux output after /estop", nodes.values())
            before = probe.counts["/cmd_vel"]
            time.sleep(0.5)
            m = probe.last["/cmd_vel"]
            result["estop_holds_zero"] = bool(m.twist.linear.x == 0.0 and m.twist.angular.z == 0.0)
            result["mux_outputs_during_estop_0_5s"] = probe.counts["/cmd_vel"] - before
        result["rss_mb"] = {name: {"start": v[0], "end": v[-1], "max": max(v)} for name, v in rss.items()}
        result["alive"] = {name: n.alive() for name, n in nodes.items()}
        result["tracebacks"] = {name: "Traceback" in n.log() for name, n in nodes.items()}
    finally:
        probe.close()
        for n in nodes.values():
            n.stop()
    return result


def table(results: list[dict]) -> str:
    lines = ["| load | /odom sent | control rate (mean / min 1 s) | command age p50 / p95 | mux output | node "
             "| RSS start → end (max) MiB |", "|---|---|---|---|---|---|---|"]
    for r in results:
        mux = f"{r['mux_output_rate_hz']:.0f} Hz, {r['mux_nonfinite_outputs']} non-finite" \
            if "mux_output_rate_hz" in r else "-"
        first = True
        for name, m in r["rss_mb"].items():
            lead = (f"| {r['load']} ({r['duration_s']:g} s) | {r['odom_rate_hz']:.0f} Hz | "
                    f"{r['control_rate_hz']:.1f} / {r['control_rate_min_1s_hz']:.0f} Hz | "
                    f"{r['cmd_age_ms_p50']:.0f} / {r['cmd_age_ms_p95']:.0f} ms | {mux} ") if first else "| | | | | "
            lines.append(f"{lead}| {name} | {m['start']:.0f} → {m['end']:.0f} ({m['max']:.0f}) |")
            first = False
    return "\n".join(lines)
