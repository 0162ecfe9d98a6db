"""One episode over the real stack: start the node processes, bring them up, send the goal,
watch, and return the episode record (README, "Episodes, benchmarks and the demo").

Small parts (:mod:`world_model_planner.app.episode_parts`) on one in-process rclpy node
(:class:`EpisodeNode`, its own context on the stack's private domain): :class:`GoalSender`
sends /goal_pose (scenario goal, frame odom), :class:`OdomTrack` follows /odom (path,
success), :class:`DiagnosticsReader` reads the sim's /diagnostics (``collisions``,
``clearance_m``) and the planner's (``plan_hz``, ``state``) by the typed keys of
core.diagnostics, and the lifecycle client of core.lifecycle_core brings the nodes up.
:class:`EpisodeLoop` ends the episode on success, on the scenario's time limit in simulated
time (the /odom stamps, driven by /clock), or when the planner refuses the goal.
Every wait polls state filled by callbacks; nothing sleeps blindly.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

from world_model_planner.core import lifecycle_core as lc
from world_model_planner.core import metrics
from world_model_planner.core.lifecycle_core import LifecycleClient
from world_model_planner.app.episode_frames import EpisodeFrames, frame_params
from world_model_planner.app.episode_parts import (DiagnosticsReader, EpisodeNode, GoalImageSender, GoalSender,
                                                   OdomTrack, wait_for)
from world_model_planner.planner_node.waypoints import load_waypoints
from world_model_planner.app.launcher import Stack, StackError
from world_model_planner.testing.domain import DomainLease
from world_model_planner.core.safeio import atomic_write_text, clip
from world_model_planner.app.stack import MANAGER, PLANNER, SIM, sim_stack


@dataclasses.dataclass
class EpisodeConfig:
    """What to run. scenario: built-in name or YAML path; model None = shipped model."""

    scenario: str = "open"
    robot: str | None = None        # in place of the scenario's robot (sim.robots.ROBOTS); None = its own
    planner: str = "hierarchical"
    seed: int = 0
    model: str | None = None
    sysid: str | None = None        # classic_id's velocity model (None = the shipped fit)
    perturb: bool = False           # seed-dependent start perturbation + sensor noise
    gui: bool = False
    time_limit_s: float | None = None  # None = the scenario's own limit (simulated seconds)
    startup_timeout_s: float = 120.0   # wall: processes up, lifecycle nodes active
    stall_timeout_s: float = 30.0      # wall: no /odom for this long = the sim is stuck
    max_wall_s: float | None = None    # wall limit on the driving part (None: wall_factor x limit)
    wall_factor: float = 6.0           # lockstep slower than 1/6 real time = the planner is stuck
    log_dir: str | None = None
    goal_frame: str = "odom"           # odom | map (app.episode_frames: the sim's map offset)
    prior_map: bool = False            # the planner seeds its grid from the sim's /map
    waypoints: str | None = None       # a waypoints YAML file: visited in order instead of the goal
    goal_image: str | None = None      # a picture (PNG) sent on /goal_image instead of the goal pose
                                       # (a camera world model); success is still the scenario's goal
    domain_id: int | None = None
    bin_dir: str | None = None         # console scripts (default: this interpreter's)
    # {executable: {name: value}}; sim diagnostics at 10 Hz so min clearance is well sampled
    extra_params: dict = dataclasses.field(
        default_factory=lambda: {SIM: {"diagnostics_rate_hz": 10.0}})


def run_episode(cfg: EpisodeConfig, on_progress: Callable[[dict], None] | None = None) -> dict:
    """Run one episode; return the episode record. Raises StackError on stack failures."""
    from world_model_planner.sim.scenario import load_scenario

    scenario = load_scenario(cfg.scenario, robot=cfg.robot)
    time_limit_s = float(cfg.time_limit_s or getattr(scenario, "time_limit_s", 60.0))
    log_dir = Path(cfg.log_dir or tempfile.mkdtemp(prefix=f"wmp-{scenario.name}-"))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    # The planner aims a little inside the scenario's tolerance, so that its "reached" and the
    # episode's success test (robot centre within the tolerance) agree despite odometry noise.
    extra = {k: dict(v) for k, v in cfg.extra_params.items()}
    extra.setdefault(PLANNER, {}).setdefault("goal_tolerance_m",
                                             round(0.8 * float(scenario.goal.tolerance), 3))
    if cfg.sysid:
        extra[PLANNER]["sysid_path"] = str(Path(cfg.sysid).expanduser().resolve())
    route = load_waypoints(cfg.waypoints) if cfg.waypoints else None
    picture = None
    if cfg.goal_image:
        from world_model_planner.core.pictures import load_picture

        if route is not None:
            raise ValueError("a goal picture and waypoints cannot be given together")
        picture = load_picture(cfg.goal_image)   # refused here, before any process starts
    for exe, values in frame_params(cfg.goal_frame, cfg.prior_map, route).items():
        extra.setdefault(exe, {}).update(values)
    specs = sim_stack(scenario=cfg.scenario, planner=cfg.planner, model=cfg.model, gui=cfg.gui,
                      lockstep=True, use_sim_time=True, seed=cfg.seed, perturb=cfg.perturb,
                      extra=extra, robot=scenario.robot)
    lease = DomainLease(cfg.domain_id)
    wall0 = time.monotonic()
    try:
        with Stack(specs, log_dir, lease.domain_id,
                   Path(cfg.bin_dir) if cfg.bin_dir else None) as stack:
            mon = Monitor(lease.domain_id)
            try:
                mon.bring_up(stack, cfg.startup_timeout_s, picture)
                startup_s = time.monotonic() - wall0
                rec = mon.drive(stack, scenario, time_limit_s, cfg, on_progress)
                rec["cpu_s"] = {k.strip("/"): None if v is None else round(v, 1)
                                for k, v in stack.cpu_s().items()}
            finally:
                mon.close()
    finally:
        lease.release()
    rec.update({"scenario": scenario.name, "robot": scenario.robot, "planner": cfg.planner, "seed": cfg.seed,
                "perturb": cfg.perturb, "startup_s": round(startup_s, 2),
                "wall_s": round(time.monotonic() - wall0, 2), "log_dir": str(log_dir)})
    rec = finalize(rec, scenario)
    if route is not None:                        # a route succeeds when every waypoint was reached
        rec["success"] = rec.get("waypoints_reached") == len(route) and not rec.get("error")
    return rec


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
    barn = getattr(scenario, "barn", None)    # BARN rules: a collision makes the run a failure
    metric("success", lambda: bool(xy) and metrics.reached(xy[-1], goal, tol) and not rec.get("error")
           and not (barn is not None and (rec.get("collisions") or 0) > 0))
    start = xy[0] if xy else (scenario.start.x, scenario.start.y)
    metric("shortest_path_m", lambda: metrics.shortest_path_m(scenario, start), 3)

    def spl():
        if rec["shortest_path_m"] is None or rec["path_length_m"] is None:
            raise ValueError("needs shortest_path_m and path_length_m")
        return metrics.spl(bool(rec["success"]), rec["shortest_path_m"], rec["path_length_m"])
    metric("spl", spl, 4)

    def time_ratio():
        from world_model_planner.core.robot_config import load_robot

        v_max = load_robot(getattr(scenario, "robot", "husky")).v_max_mps
        return metrics.time_ratio(bool(rec["success"]), rec.get("time_s"), rec["shortest_path_m"], v_max)
    metric("time_ratio", time_ratio, 3)
    metric("reverse_m", lambda: metrics.reverse_distance_m(traj) if traj else 0.0, 3)
    rec.setdefault("recoveries", [])
    if barn is not None:
        from world_model_planner.sim.world_import import barn_reference

        def reference() -> float:
            length, rec["barn_reference"] = barn_reference(scenario)
            return length
        metric("barn_reference_m", reference, 3)
        metric("barn_score", lambda: metrics.barn_score(bool(rec["success"]), rec.get("time_s"),
                                                        rec["barn_reference_m"]), 4)
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
    """The episode's parts on one node: odometry, diagnostics, goal sender, lifecycle client."""

    def __init__(self, domain_id: int):
        self._node = EpisodeNode(domain_id)
        self.node = self._node.node
        try:
            self.odom = OdomTrack(self.node)
            self.diag = DiagnosticsReader(self.node)
            self.goal = GoalSender(self.node)
            self.lifecycle = LifecycleClient(self.node)
            self.goal_image: GoalImageSender | None = None
        except BaseException:   # e.g. Ctrl-C: the caller never gets a monitor to close
            self._node.close()
            raise

    def send_goal(self, x: float, y: float) -> None:
        last = self.odom.last()
        self.goal.send(x, y, last[0] if last else 0.0)

    def bring_up(self, stack: Stack, timeout_s: float, picture=None) -> None:
        """Wait for /odom, then for every lifecycle node to be active (driving the
        transitions here when the stack has no lifecycle manager), then for the planner
        to subscribe to /goal_pose (and /goal_image, with a goal ``picture``)."""
        deadline = time.monotonic() + timeout_s
        wait_for(stack, lambda: self.odom.last() is not None, deadline, "the sim's first /odom")
        managed = [s for s in stack.specs if s.lifecycle]
        has_manager = any(s.executable == MANAGER for s in stack.specs)
        for spec in managed:
            if not has_manager:
                self._configure_and_activate(stack, spec.fqn, deadline)
            wait_for(stack, lambda f=spec.fqn: self.lifecycle.state(f) == lc.ACTIVE, deadline,
                     f"{spec.fqn} to become active", poll_s=0.25)
        wait_for(stack, lambda: self.goal.subscribers() > 0, deadline,
                 "the planner's /goal_pose subscription")
        if picture is not None:
            self.goal_image = GoalImageSender(self.node, picture)
            wait_for(stack, lambda: self.goal_image.subscribers() > 0, deadline,
                     "the planner's /goal_image subscription")

    def _configure_and_activate(self, stack: Stack, fqn: str, deadline: float) -> None:
        for tid in (lc.CONFIGURE, lc.ACTIVATE):
            ok = self.lifecycle.change_state(
                fqn, tid, lambda cond, what: wait_for(stack, cond, deadline, what))
            if not ok:
                raise StackError(f"{fqn} refused lifecycle transition {tid}; see its log in "
                                 f"{stack.log_dir}")

    def drive(self, stack: Stack, scenario, time_limit_s: float, cfg: EpisodeConfig,
              on_progress: Callable[[dict], None] | None) -> dict:
        return EpisodeLoop(self, stack, scenario, time_limit_s, cfg, on_progress).run()

    def close(self) -> None:
        self._node.close()


class EpisodeLoop:
    """Send the goal and watch until success, the time limit, a refusal or a stall."""

    def __init__(self, mon: Monitor, stack: Stack, scenario, time_limit_s: float,
                 cfg: EpisodeConfig, on_progress: Callable[[dict], None] | None):
        self.mon, self.stack, self.cfg, self.on_progress = mon, stack, cfg, on_progress
        self.goal = (float(scenario.goal.x), float(scenario.goal.y))
        self.tol = float(scenario.goal.tolerance)
        self.time_limit_s = time_limit_s
        self.barn = getattr(scenario, "barn", None) is not None   # a collision ends the episode
        self.frames = EpisodeFrames(mon.node, mon.goal, cfg.goal_frame,
                                    load_waypoints(cfg.waypoints) if cfg.waypoints else None)

    def run(self) -> dict:
        mon, cfg, goal = self.mon, self.cfg, self.goal
        mon.diag.recording = True
        t0 = mon.odom.start_recording()
        collisions0 = mon.diag.collisions()
        self._send_goal(t0)
        wall0 = sent = time.monotonic()
        sends, last_report = 1, 0.0
        max_wall_s = cfg.max_wall_s or cfg.wall_factor * self.time_limit_s
        reached_since = None
        while True:
            self.stack.check()
            now = time.monotonic()
            t, x, y, _ = mon.odom.last()
            state = mon.diag.planner_state()
            reason, reached_since = self._end_reason(t - t0, (x, y), state, t, reached_since)
            if reason is None and self.barn and mon.diag.collisions() > collisions0:
                reason = "collision"
            if reason is None and now - wall0 > max_wall_s:
                reason = "wall_time_limit"
            if reason is not None:
                t_end = round(t - t0, 3)           # the sample that decided the end
                break
            if now - mon.odom.wall > cfg.stall_timeout_s:
                raise StackError(f"no /odom for {cfg.stall_timeout_s:.0f} s: the sim is stuck; "
                                 f"node logs in {self.stack.log_dir}")
            if state in ("", "idle") and now - sent > 2.0 and sends < 10:
                self._send_goal(t0)    # the first goal may have raced discovery
                sent, sends = now, sends + 1
            if self.on_progress is not None and now - last_report >= 0.5:
                last_report = now
                self.on_progress({"t_s": t - t0, "time_limit_s": self.time_limit_s, "state": state,
                                  "distance_m": metrics.goal_distance_m((x, y), goal)})
            time.sleep(0.02)
        # odometry that arrived while the loop slept comes after the deciding sample: left out, so
        # the record ends where the episode did (time_s is the same on any machine, however loaded)
        full = mon.odom.trajectory(t0)
        t_end = self._first_deciding(full, reason, t_end)
        traj = [p for p in full if p[0] <= t_end] or full[:1]
        collisions = mon.diag.collisions() - collisions0
        clear, plan_hz = mon.diag.min_clearance_m(), mon.diag.plan_hz_median()
        return {"time_s": self._duration(traj, reason), "collisions": max(collisions, 0),
                "min_clearance_m": None if clear is None else round(clear, 3),
                "plan_hz_median": None if plan_hz is None else round(plan_hz, 2),
                "end_reason": reason, "time_limit_s": self.time_limit_s, "trajectory": traj,
                "recoveries": [dict(r, t=round(r["t"] - t0, 2)) for r in mon.diag.recoveries()],
                **self.frames.record()}

    def _duration(self, traj, reason: str) -> float:
        """The episode's length. One that ran out of time lasted the limit: /odom is best effort,
        and a sample dropped at the limit must not make the record one odometry period longer."""
        if reason == "time_limit" and traj[-1][0] >= self.time_limit_s - 1e-6:
            return float(self.time_limit_s)
        return round(traj[-1][0], 3)

    def _first_deciding(self, traj, reason: str, t_end: float) -> float:
        """The time of the first sample that meets the end condition. The loop polls, so the sample
        it saw may be a later one when the machine is loaded; the record must not depend on that."""
        if reason == "time_limit":
            hit = (p[0] for p in traj if p[0] >= self.time_limit_s - 1e-6)
        elif reason == "reached":
            hit = (p[0] for p in traj if metrics.reached((p[1], p[2]), self.goal, self.tol))
        else:
            return t_end
        return min(next(hit, t_end), t_end)

    def _send_goal(self, t0: float) -> None:
        last = self.mon.odom.last()
        if self.mon.goal_image is not None:
            self.mon.goal_image.send(last[0] if last else 0.0)
            return
        self.frames.send(self.goal, last[0] if last else 0.0, t0)

    def _end_reason(self, elapsed_s: float, xy, state: str, t: float, reached_since):
        """(why the episode ends or None, when the planner first said "reached")."""
        timed_out = elapsed_s >= self.time_limit_s - 1e-6     # stamps differ by float rounding
        if self.frames.route is not None:        # a route ends at its last waypoint
            if self.frames.all_reached():
                return "waypoints_reached", reached_since
            if timed_out or state == "refused":
                return ("time_limit" if timed_out else "refused"), reached_since
            return None, None
        if metrics.reached(xy, self.goal, self.tol):
            return "reached", reached_since
        if timed_out:
            return "time_limit", reached_since
        if state == "refused":
            return "refused", reached_since
        if state == "failed":
            return "planner_failed", reached_since
        if state != "reached":
            return None, None
        # stopped short of the tolerance: nothing more will happen
        reached_since = t if reached_since is None else reached_since
        return ("stopped_outside_tolerance" if t - reached_since > 2.0 else None), reached_since

