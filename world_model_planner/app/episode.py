"""One episode over the real stack: start the node processes, bring them up, send the goal,
watch, and return the DESIGN.md episode record.

The monitor is an in-process rclpy node in its own context (domain = the stack's private
domain). It sends /goal_pose (scenario goal, frame odom), follows /odom (path, success),
the sim's /diagnostics (``collisions``, ``clearance_m``) and the planner's (``plan_hz``,
``state``), and ends on success, on the scenario's time limit in simulated time (the /odom
stamps, driven by /clock), or when the planner refuses the goal. Every wait polls state
filled by callbacks; nothing sleeps blindly.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from world_model_planner.core import metrics
from world_model_planner.app.launcher import Stack, StackError
from world_model_planner.testing.domain import DomainLease
from world_model_planner.core.safeio import atomic_write_text, clip
from world_model_planner.app.stack import MANAGER, PLANNER, SIM, sim_stack

ACTIVE = 3  # lifecycle_msgs/State.PRIMARY_STATE_ACTIVE


@dataclasses.dataclass
class EpisodeConfig:
    """What to run. scenario: built-in name or YAML path; model None = shipped model."""

    scenario: str = "open"
    planner: str = "hierarchical"
    seed: int = 0
    model: str | None = None
    perturb: bool = False           # seed-dependent start perturbation + sensor noise
    gui: bool = False
    time_limit_s: float | None = None  # None = the scenario's own limit (simulated seconds)
    startup_timeout_s: float = 120.0   # wall: processes up, lifecycle nodes active
    stall_timeout_s: float = 30.0      # wall: no /odom for this long = the sim is stuck
    max_wall_s: float | None = None    # wall limit on the driving part (None: wall_factor x limit)
    wall_factor: float = 6.0           # lockstep slower than 1/6 real time = the planner is stuck
    log_dir: str | None = None
    domain_id: int | None = None
    bin_dir: str | None = None         # console scripts (default: this interpreter's)
    # {executable: {name: value}}; sim diagnostics at 10 Hz so min clearance is well sampled
    extra_params: dict = dataclasses.field(
        default_factory=lambda: {SIM: {"diagnostics_rate_hz": 10.0}})


def run_episode(cfg: EpisodeConfig, on_progress: Callable[[dict], None] | None = None) -> dict:
    """Run one episode; return the episode record. Raises StackError on stack failures."""
    from world_model_planner.sim.scenario import load_scenario

    scenario = load_scenario(cfg.scenario)
    time_limit_s = float(cfg.time_limit_s or getattr(scenario, "time_limit_s", 60.0))
    log_dir = Path(cfg.log_dir or tempfile.mkdtemp(prefix=f"wmp-{scenario.name}-"))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    # The planner aims a little inside the scenario's tolerance, so that its "reached" and the
    # episode's success test (robot centre within the tolerance) agree despite odometry noise.
    extra = {k: dict(v) for k, v in cfg.extra_params.items()}
    extra.setdefault(PLANNER, {}).setdefault("goal_tolerance_m",
                                             round(0.8 * float(scenario.goal.tolerance), 3))
    specs = sim_stack(scenario=cfg.scenario, planner=cfg.planner, model=cfg.model, gui=cfg.gui,
                      lockstep=True, use_sim_time=True, seed=cfg.seed, perturb=cfg.perturb,
                      extra=extra)
    lease = DomainLease(cfg.domain_id)
    wall0 = time.monotonic()
    try:
        with Stack(specs, log_dir, lease.domain_id,
                   Path(cfg.bin_dir) if cfg.bin_dir else None) as stack:
            mon = Monitor(lease.domain_id)
            try:
                mon.bring_up(stack, cfg.startup_timeout_s)
                startup_s = time.monotonic() - wall0
                rec = mon.drive(stack, scenario, time_limit_s, cfg, on_progress)
                rec["cpu_s"] = {k.strip("/"): None if v is None else round(v, 1)
                                for k, v in stack.cpu_s().items()}
            finally:
                mon.close()
    finally:
        lease.release()
    rec.update({"scenario": scenario.name, "planner": cfg.planner, "seed": cfg.seed,
                "perturb": cfg.perturb, "startup_s": round(startup_s, 2),
                "wall_s": round(time.monotonic() - wall0, 2), "log_dir": str(log_dir)})
    return finalize(rec, scenario)


def finalize(rec: dict, scenario) -> dict:
    """Add the derived metrics (path length, success, SPL) to a raw record.

    Never raises for a metric: one that fails (say, on a scenario no metric can grid) is
    recorded as null, and ``metric_errors`` maps its name to the reason, so the episode record
    is always complete enough to write."""
    errors: dict[str, str] = {}

    def metric(key: str, compute: Callable[[], object], digits: int | None = None) -> None:
        try:
            value = compute()
            if digits is not None and value is not None:
                value = round(float(value), digits)
            rec[key] = value
        except Exception as exc:  # noqa: BLE001 - a failing metric must not lose the episode
            rec[key] = None
            errors[key] = clip(f"{type(exc).__name__}: {exc}", 200)

    traj = rec.get("trajectory") or []
    xy = [(p[1], p[2]) for p in traj]
    goal = (float(scenario.goal.x), float(scenario.goal.y))
    tol = float(scenario.goal.tolerance)
    metric("path_length_m", lambda: metrics.path_length_m(xy) if xy else 0.0, 3)
    metric("final_distance_m", lambda: metrics.goal_distance_m(xy[-1], goal) if xy else None, 3)
    metric("success", lambda: bool(xy) and metrics.reached(xy[-1], goal, tol) and not rec.get("error"))
    start = xy[0] if xy else (scenario.start.x, scenario.start.y)
    metric("shortest_path_m", lambda: metrics.shortest_path_m(scenario, start), 3)

    def spl():
        if rec["shortest_path_m"] is None or rec["path_length_m"] is None:
            raise ValueError("needs shortest_path_m and path_length_m")
        return metrics.spl(bool(rec["success"]), rec["shortest_path_m"], rec["path_length_m"])
    metric("spl", spl, 4)
    rec["goal"] = [goal[0], goal[1], tol]
    rec["scenario_source"] = str(getattr(scenario, "source", "") or scenario.name)
    if errors:
        rec["metric_errors"] = errors
    return rec


def episode_json(rec: dict) -> str:
    """The record as strict JSON: non-finite floats become null (JSON has no NaN/Infinity)."""
    def clean(v):
        if isinstance(v, float):
            return v if math.isfinite(v) else None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    return json.dumps(clean(rec), indent=1, allow_nan=False, default=str)


def write_episode_json(path: str | os.PathLike, rec: dict) -> Path:
    """Write the episode record to ``path`` atomically (a reader sees the old file or the whole
    new one; a full disk leaves the old file and no stray temporary)."""
    return atomic_write_text(path, episode_json(rec) + "\n")


class Monitor:
    """In-process rclpy node on the stack's domain, spun by a background thread."""

    def __init__(self, domain_id: int):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped
        from nav_msgs.msg import Odometry
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(f"wmp_episode_monitor_{domain_id}", context=self.context)
        self._lock = threading.Lock()
        self.odom: list[tuple[float, float, float, float]] = []   # (t_s, x, y, yaw)
        self.odom_wall = 0.0
        self.sim_diag: dict[str, str] = {}
        self.clearances: list[float] = []
        self.planner_diag: dict[str, str] = {}
        self.plan_hz: list[float] = []
        self.recording = False
        any_qos = QoSProfile(depth=200, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.node.create_subscription(Odometry, "/odom", self._on_odom, any_qos)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, any_qos)
        self.goal_pub = self.node.create_publisher(PoseStamped, "/goal_pose", 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = False
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        while not self._stop and self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: BLE001 - context shut down under us
                if self._stop:
                    return
                raise

    # -- callbacks -------------------------------------------------------------------------
    def _on_odom(self, msg) -> None:
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
        t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with self._lock:
            if self.recording or not self.odom:
                self.odom.append((t, float(p.x), float(p.y), yaw))
            else:
                self.odom[-1] = (t, float(p.x), float(p.y), yaw)
            self.odom_wall = time.monotonic()

    def _on_diag(self, msg) -> None:
        for st in msg.status:
            role = st.name.split(":")[-1].strip().split("/")[-1]
            values = {kv.key: kv.value for kv in st.values}
            with self._lock:
                if role in ("sim", SIM):
                    self.sim_diag = values
                    c = _float(values.get("clearance_m"))
                    if self.recording and c is not None:
                        self.clearances.append(c)
                elif role in ("planner", PLANNER):
                    self.planner_diag = values
                    hz = _float(values.get("plan_hz"))
                    if self.recording and hz is not None and hz > 0 and \
                            values.get("state") == "planning":
                        self.plan_hz.append(hz)

    # -- bring-up --------------------------------------------------------------------------
    def bring_up(self, stack: Stack, timeout_s: float) -> None:
        """Wait for /odom, then for every lifecycle node to be active (driving the
        transitions here when the stack has no lifecycle manager), then for the planner
        to subscribe to /goal_pose."""
        deadline = time.monotonic() + timeout_s
        self._wait(stack, lambda: bool(self.odom), deadline, "the sim's first /odom")
        managed = [s for s in stack.specs if s.lifecycle]
        has_manager = any(s.executable == MANAGER for s in stack.specs)
        for spec in managed:
            if not has_manager:
                self._transition(stack, spec.fqn, deadline)
            self._wait(stack, lambda f=spec.fqn: self._state(f) == ACTIVE, deadline,
                       f"{spec.fqn} to become active", poll_s=0.25)
        self._wait(stack, lambda: self.goal_pub.get_subscription_count() > 0, deadline,
                   "the planner's /goal_pose subscription")

    def _transition(self, stack: Stack, fqn: str, deadline: float) -> None:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            res = self._call(stack, ChangeState, f"{fqn}/change_state",
                             ChangeState.Request(transition=Transition(id=tid)), deadline)
            if not res.success:
                raise StackError(f"{fqn} refused lifecycle transition {tid}; see its log in "
                                 f"{stack.log_dir}")

    def _state(self, fqn: str) -> int | None:
        from lifecycle_msgs.srv import GetState

        client = self._client(GetState, f"{fqn}/get_state")
        if not client.service_is_ready():
            return None
        fut = client.call_async(GetState.Request())
        end = time.monotonic() + 5.0
        while not fut.done() and time.monotonic() < end:
            time.sleep(0.01)
        return int(fut.result().current_state.id) if fut.done() and fut.result() else None

    def _call(self, stack: Stack, srv_type, name: str, request, deadline: float):
        client = self._client(srv_type, name)
        self._wait(stack, client.service_is_ready, deadline, f"service {name}")
        fut = client.call_async(request)
        self._wait(stack, fut.done, deadline, f"an answer from {name}")
        return fut.result()

    def _client(self, srv_type, name: str):
        if not hasattr(self, "_clients"):
            self._clients = {}
        if name not in self._clients:
            self._clients[name] = self.node.create_client(srv_type, name)
        return self._clients[name]

    def _wait(self, stack: Stack, cond: Callable[[], bool], deadline: float, what: str,
              poll_s: float = 0.02) -> None:
        while not cond():
            stack.check()
            if time.monotonic() > deadline:
                raise StackError(f"timed out waiting for {what}; node logs in {stack.log_dir}")
            time.sleep(poll_s)

    # -- the episode -----------------------------------------------------------------------
    def send_goal(self, x: float, y: float) -> None:
        from geometry_msgs.msg import PoseStamped

        msg = PoseStamped()
        msg.header.frame_id = "odom"
        with self._lock:
            t = self.odom[-1][0] if self.odom else 0.0
        msg.header.stamp.sec = int(t)
        msg.header.stamp.nanosec = int(round((t - int(t)) * 1e9)) % 1_000_000_000
        msg.pose.position.x, msg.pose.position.y = float(x), float(y)
        msg.pose.orientation.w = 1.0
        self.goal_pub.publish(msg)

    def drive(self, stack: Stack, scenario, time_limit_s: float, cfg: EpisodeConfig,
              on_progress: Callable[[dict], None] | None) -> dict:
        goal = (float(scenario.goal.x), float(scenario.goal.y))
        tol = float(scenario.goal.tolerance)
        with self._lock:
            self.recording = True
            self.odom = self.odom[-1:]
            t0 = self.odom[0][0]
            collisions0 = _int(self.sim_diag.get("collisions")) or 0
        self.send_goal(*goal)
        wall0 = sent = last_odom = time.monotonic()
        sends, reason, last_report = 1, "time_limit", 0.0
        max_wall_s = cfg.max_wall_s or cfg.wall_factor * time_limit_s
        reached_since = None
        while True:
            stack.check()
            now = time.monotonic()
            with self._lock:
                t, x, y, _ = self.odom[-1]
                state = self.planner_diag.get("state", "")
                last_odom = self.odom_wall
            if metrics.reached((x, y), goal, tol):
                reason = "reached"
                break
            if t - t0 >= time_limit_s:
                break
            if state == "refused":
                reason = "refused"
                break
            if state == "reached":   # stopped short of the tolerance: nothing more will happen
                reached_since = t if reached_since is None else reached_since
                if t - reached_since > 2.0:
                    reason = "stopped_outside_tolerance"
                    break
            else:
                reached_since = None
            if now - wall0 > max_wall_s:
                reason = "wall_time_limit"
                break
            if now - last_odom > cfg.stall_timeout_s:
                raise StackError(f"no /odom for {cfg.stall_timeout_s:.0f} s: the sim is stuck; "
                                 f"node logs in {stack.log_dir}")
            if state in ("", "idle") and now - sent > 2.0 and sends < 10:
                self.send_goal(*goal)   # the first goal may have raced discovery
                sent, sends = now, sends + 1
            if on_progress is not None and now - last_report >= 0.5:
                last_report = now
                on_progress({"t_s": t - t0, "time_limit_s": time_limit_s, "state": state,
                             "distance_m": metrics.goal_distance_m((x, y), goal)})
            time.sleep(0.02)
        with self._lock:
            traj = [(round(tt - t0, 3), round(xx, 4), round(yy, 4), round(th, 4))
                    for tt, xx, yy, th in self.odom]
            collisions = (_int(self.sim_diag.get("collisions")) or 0) - collisions0
            clear = min(self.clearances) if self.clearances else \
                _float(self.sim_diag.get("clearance_m"))
            plan_hz = metrics.median_or_none(self.plan_hz)
            if plan_hz is None:
                plan_hz = _float(self.planner_diag.get("plan_hz"))
        return {"time_s": round(traj[-1][0], 3), "collisions": max(collisions, 0),
                "min_clearance_m": None if clear is None else round(clear, 3),
                "plan_hz_median": None if plan_hz is None else round(plan_hz, 2),
                "end_reason": reason, "time_limit_s": time_limit_s, "trajectory": traj}

    def close(self) -> None:
        import rclpy

        self._stop = True
        self._thread.join(2.0)
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _float(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _int(v) -> int | None:
    f = _float(v)
    return None if f is None else int(f)
