"""Sensor feeds and node checks for process tests (test/faults, test/nodes): a sensor feed that can
corrupt its messages or flood, goal publishing, lifecycle calls and diagnostics parsing."""
from __future__ import annotations

import math
import threading
import time

FAST_PLANNER = ["-p", "mppi.samples:=128", "-p", "torch_threads:=1", "-p", "device:=cpu",
                "-p", "diagnostics_rate_hz:=20.0"]
BEAMS = 180


def stamp(t: float):
    from builtin_interfaces.msg import Time

    return Time(sec=int(t), nanosec=int((t % 1.0) * 1e9))


class SensorFeed:
    """Publishes /odom (20 Hz x ``rate_mult``) and /scan (10 Hz x ``rate_mult``) from the probe,
    stamped with the probe's clock, the robot standing at the origin.

    Faults, switched at any time: ``odom_fault`` in {None, "nan", "inf"} (position x / linear
    velocity), ``scan_fault`` in {None, "nan", "beams90"}; ``rate_mult`` floods both topics.
    ``sim_time_s`` (not None): also publish /clock, starting there and advancing 0.05 s a tick,
    and stamp with it (set it to jump); ``sensors_on`` False: only /clock goes on.
    ``slide_mps`` (not 0): the robot slides sideways (+y) at that speed from the next /odom on,
    whatever it is commanded. ``sent`` counts published messages per topic."""

    def __init__(self, probe, rate_mult: float = 1.0, sim_time_s: float | None = None):
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import LaserScan

        self.node = probe.node
        self.Odometry, self.LaserScan = Odometry, LaserScan
        self.odom = self.node.create_publisher(Odometry, "/odom", 20)
        self.scan = self.node.create_publisher(LaserScan, "/scan", 10)
        self.odom_fault = self.scan_fault = None
        self.slide_mps, self._slide_t0 = 0.0, None
        self.rate_mult = rate_mult
        self.sim_time_s = sim_time_s
        self.sensors_on = True
        self.clock = None
        if sim_time_s is not None:
            from rosgraph_msgs.msg import Clock

            self.Clock = Clock
            self.clock = self.node.create_publisher(Clock, "/clock", 10)
        self.sent = {"odom": 0, "scan": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def odom_msg(self, t: float):
        o = self.Odometry()
        o.header.stamp, o.header.frame_id, o.child_frame_id = stamp(t), "odom", "base_link"
        o.pose.pose.orientation.w = 1.0
        if self.slide_mps:
            self._slide_t0 = t if self._slide_t0 is None else self._slide_t0
            o.pose.pose.position.y = self.slide_mps * (t - self._slide_t0)
        if self.odom_fault == "nan":
            o.pose.pose.position.x = float("nan")
        elif self.odom_fault == "inf":
            o.twist.twist.linear.x = float("inf")
        return o

    def scan_msg(self, t: float):
        n = 90 if self.scan_fault == "beams90" else BEAMS
        s = self.LaserScan()
        s.header.stamp, s.header.frame_id = stamp(t), "base_link"
        s.angle_min, s.angle_increment, s.range_max, s.range_min = -math.pi, 2 * math.pi / n, 8.0, 0.1
        s.angle_max = math.pi - s.angle_increment
        value = float("nan") if self.scan_fault == "nan" else 5.0
        s.ranges = [value] * n
        return s

    def _run(self):
        k = 0
        next_t = time.monotonic()
        while not self._stop.is_set():
            if self.clock is not None:
                self.sim_time_s += 0.05
                now = self.sim_time_s
                self.clock.publish(self.Clock(clock=stamp(now)))
            else:
                now = self.node.get_clock().now().nanoseconds * 1e-9
            if self.sensors_on:
                if k % 2 == 0:
                    self.scan.publish(self.scan_msg(now))
                    self.sent["scan"] += 1
                self.odom.publish(self.odom_msg(now))
                self.sent["odom"] += 1
            k += 1
            next_t += 0.05 / self.rate_mult
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:          # cannot keep up: do not try to catch up
                next_t = time.monotonic()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(3.0)


def publish_goal(probe, pub, x: float, y: float, frame: str = "odom"):
    from geometry_msgs.msg import PoseStamped

    g = PoseStamped()
    g.header.frame_id = frame
    g.header.stamp = probe.node.get_clock().now().to_msg()
    g.pose.position.x, g.pose.position.y = float(x), float(y)
    g.pose.orientation.w = 1.0
    pub.publish(g)


def status_values(msgs, name: str) -> dict:
    """Key/values of the latest DiagnosticStatus called ``name`` in DiagnosticArray messages."""
    for arr in reversed(msgs):
        for st in arr.status:
            if st.name == name:
                return {kv.key: kv.value for kv in st.values}
    return {}


def transition(probe, node_name: str, transition_id: int, timeout: float = 30.0) -> bool:
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    # get_state first (resent until answered): when it answers, the node's other services have
    # had time to match this probe's readers, so change_state (not safe to resend) is not sent
    # into the discovery race that can drop a service's first response
    lifecycle_state(probe, node_name, timeout=timeout)
    req = ChangeState.Request(transition=Transition(id=transition_id))
    return probe.call(ChangeState, f"/{node_name}/change_state", req, timeout=timeout).success


def lifecycle_state(probe, node_name: str, timeout: float = 30.0) -> str:
    from lifecycle_msgs.srv import GetState

    return probe.call(GetState, f"/{node_name}/get_state", GetState.Request(), timeout=timeout,
                      resend_after=5.0).current_state.label


def wait_log(proc, text: str, timeout: float = 20.0) -> str:
    """Wait until ``text`` appears in the process's log; fail with the log if it does not."""
    deadline = time.monotonic() + timeout
    while text not in proc.log():
        if time.monotonic() > deadline:
            raise AssertionError(f"'{text}' not in the log of {proc.args[0]} after {timeout}s:\n"
                                 f"{proc.log()[-3000:]}")
        time.sleep(0.05)
    return proc.log()


def is_zero(cmd) -> bool:
    tw = getattr(cmd, "twist", cmd)
    return tw.linear.x == 0.0 and tw.angular.z == 0.0


def moving(cmd, v_min: float = 0.05) -> bool:
    tw = getattr(cmd, "twist", cmd)
    return abs(tw.linear.x) > v_min or abs(tw.angular.z) > v_min


def zeros_after(n: int):
    """Predicate: the last ``n`` commands received are all exactly zero."""
    return lambda ms: len(ms) >= n and all(is_zero(m) for m in ms[-n:])


def no_traceback(proc) -> bool:
    return "Traceback" not in proc.log()


def wait_lifecycle(probe, node_name: str, timeout: float = 30.0) -> str:
    """Poll get_state until ``node_name`` answers (a restarted node: the dead one's service can
    stay in the graph for a while, and a request sent before the new one is matched is lost)."""
    from lifecycle_msgs.srv import GetState

    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe.call(GetState, f"/{node_name}/get_state", GetState.Request(),
                              timeout=2.0).current_state.label
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def stop_all(procs) -> None:
    """SIGINT every process first, then wait for each (faster than one by one)."""
    import os
    import signal

    for p in procs:
        if p.alive():
            try:
                os.killpg(p.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
    for p in procs:
        p.stop()
