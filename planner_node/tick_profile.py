"""Where one control tick's time goes: ``Navigator.step`` split into named sections.

``profile_ticks(nav, ticks)`` drives a navigator on a fixed synthetic room (a walled 10 m x 10 m
arena with a box between the robot and its goal; the lidar ranges are cast analytically) and
times each section around the methods that do the work, wrapped on
the instances (nothing in the navigator changes):

    grid update       SubgoalPlanner.integrate (the scan into the occupancy grid)
    subgoal search    SubgoalPlanner.replan (the path search; runs when due)
    scene update      TrackedScene.scene_update (tracker + static distance field, learned / classic_id)
    encode            WorldModel.encode (the observation and history to z)
    rollout           the model's rollout (fused for a WorldModel)
    heads             collision logit and the predicted smallest clearance on the stacked latents
    tracked clearance TrackedScene.clearance_parts (footprint at the predicted poses vs scan and movers)
    sampling          MPPI noise and velocity / acceleration limits
    critic <name>     each critic's score
    messages in       the node's inputs as its subscriptions take them: /odom every tick, /scan
                      when new, deserialised from their wire bytes and checked
                      (planner_node.messages.odom_in / scan_in)
    messages out      what the node publishes after the tick: the command, /plan, the subgoal
                      path when it changed, /planner/rollouts and /diagnostics at the node's
                      default rates, each built and serialised as a publish does
    other             the rest of the tick (the local distance field, softmax, ...)

Each section's process CPU time is summed per tick; the table gives the mean per tick over the
timed ticks, and the tick's median wall time next to its CPU time. With ``messages=False`` the
navigator is handed arrays, as before the message sections were added.
"""
from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict

import numpy as np


def room_scan(pose, beams: int = 180, half_m: float = 5.0,
              box=((0.5, -1.0), (1.1, 1.0)), range_max_m: float = 8.0) -> np.ndarray:
    """(beams,) ranges over 360 degrees from -pi, seen from ``pose`` (x, y, yaw) inside a square
    room of half-side ``half_m`` with one axis-aligned ``box`` ((x0, y0), (x1, y1)) in it."""
    x, y, yaw = (float(v) for v in pose)
    ang = yaw - math.pi + np.arange(beams) * (2 * math.pi / beams)
    dx, dy = np.cos(ang), np.sin(ang)
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = np.where(dx > 0, (half_m - x) / dx, np.where(dx < 0, (-half_m - x) / dx, np.inf))
        ty = np.where(dy > 0, (half_m - y) / dy, np.where(dy < 0, (-half_m - y) / dy, np.inf))
        r = np.minimum(tx, ty)
        (x0, y0), (x1, y1) = box                                     # slab test
        t1x, t2x = (x0 - x) / dx, (x1 - x) / dx
        t1y, t2y = (y0 - y) / dy, (y1 - y) / dy
        near = np.maximum(np.minimum(t1x, t2x), np.minimum(t1y, t2y))
        far = np.minimum(np.maximum(t1x, t2x), np.maximum(t1y, t2y))
    hit = np.isfinite(near) & (near <= far) & (near > 0)
    r = np.where(hit, np.minimum(r, near), r)
    return np.where(r > range_max_m, np.inf, r)


class SectionTimer:
    """Sums process CPU time per named section (``time.process_time``: what the section costs
    this process, steady when other processes share the cores; with several torch threads it
    adds theirs); ``wrap`` times an instance's method as a section. A section that runs inside
    another counts for itself only (its time leaves the outer one)."""

    def __init__(self):
        self.ms: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._inner: list[float] = []      # time of nested sections, per open section

    def wrap(self, obj, attr: str, name: str) -> None:
        fn = getattr(obj, attr)

        def timed(*args, **kw):
            self._inner.append(0.0)
            t = time.process_time()
            try:
                return fn(*args, **kw)
            finally:
                spent = (time.process_time() - t) * 1e3
                inner = self._inner.pop()
                self.ms[name] += spent - inner
                self.calls[name] += 1
                if self._inner:
                    self._inner[-1] += spent

        object.__setattr__(obj, attr, timed)

    def add(self, name: str, ms: float) -> None:
        """Count ``ms`` of CPU time spent outside any wrapped method as one call of ``name``."""
        self.ms[name] += ms
        self.calls[name] += 1

    def take(self) -> tuple[dict, dict]:
        ms, calls = dict(self.ms), dict(self.calls)
        self.ms.clear()
        self.calls.clear()
        return ms, calls


class MessageRound:
    """The planner node's message conversion around one tick, on real message objects and their
    wire bytes (rclpy.serialization, what a subscription and a publish run in rclpy's C layer).

    ``wire(pose, vel, ranges, t_s, new_scan)`` -> the /odom and /scan messages built from the
    arrays, as wire bytes (the sender's work, not timed); ``inputs(wires)`` -> the (pose, vel,
    ranges, geometry) the node hands the navigator, deserialised and checked as the node does;
    ``outputs(nav, cmd, t_s)`` builds and serialises what the node publishes after the tick. The
    rates of the rollout markers and /diagnostics are the node's defaults (PlannerNodeConfig)
    at ``control_hz`` ticks a second; ``planner`` is the kind /diagnostics names."""

    def __init__(self, control_hz: float = 20.0, frame: str = "odom", planner: str = "hierarchical"):
        from world_model_planner.core.sensor_check import SensorLimits
        from world_model_planner.planner_node.config import PlannerNodeConfig

        defaults = PlannerNodeConfig()
        self.limits, self.frame = SensorLimits(), frame
        self.cmd_stamped, self.base_frame = defaults.cmd_stamped, defaults.base_frame
        self.markers_every = max(1, round(control_hz / defaults.rollouts_rate_hz)) if defaults.rollouts_rate_hz > 0 else 0
        self.diag_every = max(1, round(control_hz / defaults.diagnostics_rate_hz))
        self.planner = planner
        self.sent: dict[str, int] = defaultdict(int)     # messages published, by type name
        self._ticks, self._plans, self._scan = 0, -1, (None, None)

    def wire(self, pose, vel, ranges, t_s: float, new_scan: bool) -> list[bytes]:
        """The sender's side (not timed): /odom, and /scan when ``new_scan``, as wire bytes."""
        from nav_msgs.msg import Odometry
        from rclpy.serialization import serialize_message
        from sensor_msgs.msg import LaserScan

        from world_model_planner.core.rosconv import sec_to_stamp, set_yaw

        odom = Odometry()
        odom.header.stamp, odom.header.frame_id = sec_to_stamp(t_s), self.frame
        odom.pose.pose.position.x, odom.pose.pose.position.y = float(pose[0]), float(pose[1])
        set_yaw(odom.pose.pose.orientation, float(pose[2]))
        odom.twist.twist.linear.x, odom.twist.twist.angular.z = float(vel[0]), float(vel[1])
        wires = [serialize_message(odom)]
        if new_scan:
            n = len(ranges)
            scan = LaserScan()
            scan.header.stamp, scan.header.frame_id = sec_to_stamp(t_s), "base_link"
            scan.angle_min, scan.angle_increment = -math.pi, 2 * math.pi / n
            scan.angle_max = scan.angle_min + (n - 1) * scan.angle_increment
            scan.range_min, scan.range_max = 0.05, 8.0
            scan.ranges = np.asarray(ranges, dtype=np.float32).tolist()
            wires.append(serialize_message(scan))
        return wires

    def inputs(self, wires: list[bytes], timer: "SectionTimer | None" = None) -> tuple:
        """The node's side: deserialise and check -> (pose, vel, ranges, geometry); ranges and
        geometry are the last scan's when ``wires`` holds no new one (the node keeps them)."""
        from nav_msgs.msg import Odometry
        from rclpy.serialization import deserialize_message
        from sensor_msgs.msg import LaserScan

        from world_model_planner.planner_node import messages as m

        t = time.process_time()
        _, pose, vel, fault = m.odom_in(deserialize_message(wires[0], Odometry), self.limits)
        if fault:
            raise RuntimeError(f"the profile's odometry was refused: {fault}")
        if len(wires) > 1:
            _, geom, ranges, why = m.scan_in(deserialize_message(wires[1], LaserScan), self.limits)
            if geom is None:
                raise RuntimeError(f"the profile's scan was refused: {why}")
            self._scan = (ranges, geom)
        if timer is not None:
            timer.add("messages in", (time.process_time() - t) * 1e3)
        return (pose, vel) + self._scan

    def outputs(self, nav, cmd, t_s: float, timer: "SectionTimer | None" = None) -> None:
        from rclpy.serialization import serialize_message

        from world_model_planner.core import diagnostics as diag
        from world_model_planner.core.rosconv import sec_to_stamp, twist_msg
        from world_model_planner.planner_node import messages as m

        t = time.process_time()
        stamp = sec_to_stamp(t_s)
        out = [twist_msg(cmd.v, cmd.w, self.cmd_stamped, stamp, self.base_frame),
               m.plan_msg(cmd.best_traj, cmd.subgoals, self.frame, stamp)]
        sp = nav.subgoals
        if sp is not None and sp.plan_count != self._plans:
            self._plans = sp.plan_count
            out.append(m.path_msg(cmd.path, self.frame, stamp))
        if self.markers_every and self._ticks % self.markers_every == 0:
            out.append(m.rollouts_msg(cmd.sample_trajs, cmd.best_traj, cmd.subgoals, self.frame, stamp))
        if self._ticks % self.diag_every == 0:
            k = diag.PLANNER
            values = {k.state: cmd.state, k.plan_time_ms: f"{cmd.plan_ms:.2f}",
                      k.plan_hz: f"{1000.0 / cmd.plan_ms:.1f}" if cmd.plan_ms else "0",
                      k.best_cost: f"{cmd.best_cost:.3f}", k.subgoals: sp.plan_count if sp is not None else 0,
                      k.planner: self.planner, k.model: nav.model_desc, k.reason: nav.reason,
                      k.goal_frame: self.frame, k.device: str(nav.device)}
            values.update(nav.driving_status(k))
            out.append(diag.build(k, values, stamp, diag.OK, cmd.state, hardware_id="planner_node"))
        for msg in out:
            serialize_message(msg)
            self.sent[type(msg).__name__] += 1
        self._ticks += 1
        if timer is not None:
            timer.add("messages out", (time.process_time() - t) * 1e3)


def _instrument(nav, timer: SectionTimer) -> None:
    sp, model = nav.subgoals, nav.model
    if sp is not None:
        timer.wrap(sp, "integrate", "grid update")
        timer.wrap(sp, "replan", "subgoal search")
    if hasattr(model, "scene_update"):
        timer.wrap(model, "scene_update", "scene update")
    if hasattr(model, "clearance_parts"):
        timer.wrap(model, "clearance_parts", "tracked clearance")
    wm = getattr(model, "model", None)
    if wm is not None:
        timer.wrap(wm, "encode", "encode")
        fused = getattr(wm, "_fused", None)
        probe = fused(wm.predictor.net[0].weight.new_zeros(1, wm.latent_dim),
                      wm.predictor.net[0].weight.new_zeros(1, 1, 2)) if fused is not None else None
        # the fused path the planner runs (no autograd in a tick), else the model's own methods
        target, names = (probe, ("rollout", "collision_logit", "min_clearance")) if probe is not None else \
            (wm, ("rollout", "rollout_reference", "collision_logit", "min_clearance"))
        for attr in names:
            if hasattr(target, attr):
                timer.wrap(target, attr, "rollout" if attr.startswith("rollout") else "heads")
    elif hasattr(model, "rollout"):
        timer.wrap(model, "rollout", "rollout")
    timer.wrap(nav.mppi, "_noise", "sampling")
    timer.wrap(nav.mppi, "limit", "sampling")
    for critic in nav.critics.critics:
        timer.wrap(critic, "score", f"critic {critic.name}")


def profile_ticks(nav, ticks: int = 50, warmup: int = 5, scan_every: int = 2, progress=None,
                  messages: bool = True, planner: str = "hierarchical") -> dict:
    """Run ``warmup + ticks`` control ticks of ``nav`` (standing at the room's start, goal behind
    the box; a new scan every ``scan_every`` ticks, as at 20 Hz ticks with a 10 Hz lidar) ->
    {"tick_ms": median tick (wall), "tick_cpu_ms": its median process CPU time, "tick_cpu_mean_ms",
    "sections": [(name, calls per tick, mean CPU ms per tick)] in the order of the tick, "other"
    (the tick's CPU time less the sections') last}. With ``messages`` the tick also takes its
    inputs from /odom and /scan messages and builds what the node publishes
    (:class:`MessageRound`, named ``planner`` in /diagnostics); without, the navigator is handed
    the arrays."""
    import torch

    timer = SectionTimer()
    msgs = MessageRound(control_hz=20.0, planner=planner) if messages else None    # ticks 0.05 s apart
    nav.set_goal(3.5, 0.0)
    pose, vel = np.array([-2.0, 0.3, 0.2]), np.zeros(2)
    beams = int(getattr(nav.model, "beams", None) or 180)
    scan = room_scan(pose, beams)
    rounds = range(warmup + ticks)
    if progress is not None:
        rounds = progress(rounds)
    totals, cpus, sums, counts = [], [], defaultdict(float), defaultdict(int)
    for k in rounds:
        if k == warmup:
            with torch.no_grad():
                _instrument(nav, timer)
            timer.take()
        new_scan = k % scan_every == 0
        timed = timer if k >= warmup else None
        wires = msgs.wire(pose, vel, scan, 0.05 * k, new_scan) if msgs is not None else None
        t, c = time.perf_counter(), time.process_time()
        if msgs is None:
            cmd = nav.step(pose, vel, scan, 0.05 * k, new_scan=new_scan)
        else:
            p, v, r, geom = msgs.inputs(wires, timed)
            cmd = nav.step(p, v, r, 0.05 * k, new_scan=new_scan, geom=geom)
            if cmd.state == "planning":
                msgs.outputs(nav, cmd, 0.05 * k, timed)
        total, cpu = (time.perf_counter() - t) * 1e3, (time.process_time() - c) * 1e3
        if cmd.state != "planning":
            raise RuntimeError(f"tick {k}: planner state {cmd.state} ({cmd.reason}); expected planning")
        if k < warmup:
            continue
        ms, calls = timer.take()
        totals.append(total)
        cpus.append(cpu)
        for name, spent in ms.items():
            sums[name] += spent
            counts[name] += calls[name]
        sums["other"] += cpu - sum(ms.values())
        counts["other"] += 1
    sections = [(name, counts[name] / ticks, sums[name] / ticks) for name in sums if name != "other"]
    sections.append(("other", 1.0, sums["other"] / ticks))
    return {"tick_ms": statistics.median(totals), "tick_cpu_ms": statistics.median(cpus),
            "tick_cpu_mean_ms": statistics.fmean(cpus), "sections": sections}


def format_profile(result: dict, title: str) -> str:
    """The profile as a markdown table."""
    mean = result["tick_cpu_mean_ms"]
    lines = [title, "", "| section | calls per tick | CPU ms per tick (mean) | share |", "|---|---|---|---|"]
    for name, calls, ms in result["sections"]:
        lines.append(f"| {name} | {calls:.2f} | {ms:.2f} | {100.0 * ms / mean:.0f}% |")
    lines.append(f"| **tick** | | **{mean:.2f}** (median {result['tick_cpu_ms']:.2f}; wall median "
                 f"{result['tick_ms']:.2f}) | 100% |")
    return "\n".join(lines)
