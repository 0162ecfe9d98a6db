"""`wmp session`: one recorded comparison session.

Starts, as real processes in a private ROS domain: the session recorder, the sim in real time
(``lockstep: false``), the command mux, and for ``planner``/``shared`` modes the world model,
the planner and the lifecycle manager (the runner's :func:`world_model_planner.app.stack.sim_stack`
wiring). Then it sends the scenario goal on /goal_pose and lets the operator drive:

* ``--operator scripted``: :class:`world_model_planner.teleop.scripted.ScriptedDriver` in this process, publishing
  /cmd_vel_teleop at 10 Hz (stamped with the /odom time it acted on);
* any other name in teleop/shared mode: a person, on this terminal
  (:mod:`world_model_planner.app.session_person`): a live map of the world (curses), the
  keyboard (``input="keyboard"``) or a joystick through ``teleop_joy`` (``input="joy"``);
* planner mode: nobody; the planner drives.

A person gets a start gate: the sim starts paused, the map says "press any key to start" and
counts down ``countdown_s``; the sim runs, the goal goes out and the episode clock starts at
go. A person's time limit is ``PERSON_TIME_FACTOR`` (``person_time_factor``) times the
scenario's unless ``time_limit_s`` says otherwise.

It ends when the robot is within the goal tolerance, at the time limit (simulated seconds
after the goal), when the person quits (q), or on Ctrl-C; the recorder then closes the file.
Commands are stamped with the /odom time they act on, so the recording's commands line up
with its odometry. Returns a summary with the recording path and its metrics
(world_model_planner.teleop.compare).
"""
from __future__ import annotations

import datetime
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from world_model_planner.core.safeio import InputError, atomic_write_text
from world_model_planner.core.rosconv import stamp_to_sec, twist_msg, yaw_of

MODES = ("teleop", "planner", "shared")
#: Planner kinds a session can run (app.stack.PLANNERS); classic and classic_id need no world model.
PLANNERS = ("hierarchical", "flat", "classic", "classic_id")
MODEL_FREE = ("classic", "classic_id")
#: A person's default time limit, as a multiple of the scenario's (which is sized for the planner).
PERSON_TIME_FACTOR = 3.0
INPUTS = ("keyboard", "joy")


@dataclass
class SessionOptions:
    scenario: str = "open"
    mode: str = "teleop"
    operator: str = "scripted"
    out_dir: str = "sessions"
    seed: int = 0
    planner: str = "hierarchical"
    model: str | None = None
    time_limit_s: float | None = None
    takeover: list = field(default_factory=lambda: [(3.0, 2.0)])  # shared + scripted
    planner_params: dict = field(default_factory=dict)  # planner_node parameter overrides
    startup_timeout_s: float = 120.0
    realtime_factor: float = 1.0
    quiet: bool = False
    gui: bool = False                 # PyBullet window with a chase camera (needs a display)
    input: str = "keyboard"           # a person's input device: keyboard | joy (teleop_joy)
    countdown_s: int = 3              # after the key at the start gate
    person_time_factor: float = PERSON_TIME_FACTOR
    paused_start: bool = False        # sim_node start_paused (set by run_session for a person)


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_") or "operator"


def session_specs(opts: SessionOptions, recording: Path):
    """NodeSpecs for a session: recorder first (so it hears everything), then the stack."""
    from world_model_planner.app.stack import MUX, PLANNER, SIM, WORLD_MODEL, NodeSpec, sim_stack

    specs = sim_stack(scenario=opts.scenario, planner=opts.planner, model=opts.model, gui=opts.gui,
                      lockstep=False, use_sim_time=True, seed=opts.seed,
                      extra={SIM: {"diagnostics_rate_hz": 10.0, "realtime_factor": opts.realtime_factor,
                                   **({"start_paused": True} if opts.paused_start else {})},
                             # real time: plan on a timer from the latest data (odom trigger is
                             # for lockstep, where the sim waits for the planner)
                             PLANNER: {"trigger": "timer", "control_rate_hz": 10.0,
                                       **opts.planner_params}})
    if opts.mode == "teleop":
        specs = [s for s in specs if s.executable in (SIM, MUX)]
    elif opts.planner in MODEL_FREE:
        # the classic planners need no learned model: run without world_model_node
        specs = [s for s in specs if s.executable != WORLD_MODEL]
        for s in specs:
            for p in s.parameters:
                if isinstance(p, dict) and "node_names" in p:
                    p["node_names"] = [n for n in p["node_names"] if n != WORLD_MODEL]
    rec = NodeSpec("session_recorder", "session_recorder", parameters=[{
        "out": str(recording), "scenario": opts.scenario, "seed": int(opts.seed),
        "operator": opts.operator, "mode": opts.mode}])
    if opts.mode != "planner" and opts.operator != "scripted" and opts.input == "joy":
        specs.append(NodeSpec("teleop_joy", "teleop_joy", parameters=[{"use_sim_time": True}]))
    return [rec, *specs]


def run_session(opts: SessionOptions) -> dict:
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.app.episode import Monitor
    from world_model_planner.app.episode_parts import wait_for
    from world_model_planner.app.launcher import Stack, StackError
    from world_model_planner.testing.domain import DomainLease

    import dataclasses

    if opts.mode not in MODES:
        raise ValueError(f"mode: expected one of {list(MODES)}, got {opts.mode!r}")
    if opts.planner not in PLANNERS:
        raise ValueError(f"planner: expected one of {list(PLANNERS)}, got {opts.planner!r}")
    if opts.input not in INPUTS:
        raise ValueError(f"input: expected one of {list(INPUTS)}, got {opts.input!r}")
    scenario = load_scenario(opts.scenario)
    person = opts.mode in ("teleop", "shared")
    scripted = opts.operator == "scripted"
    human = person and not scripted
    if human and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ValueError(f"operator {opts.operator!r} drives from this terminal (map and keys), and "
                         "stdin/stdout are not a terminal; use --operator scripted for an unattended session")
    opts = dataclasses.replace(opts, paused_start=human)
    if opts.mode != "teleop" and opts.planner not in MODEL_FREE:
        from world_model_planner.app.stack import resolve_model

        if not Path(resolve_model(opts.model)).is_file():
            raise ValueError(f"planner {opts.planner!r} needs a world model checkpoint and there is none "
                             f"at {resolve_model(opts.model)}; pass --model FILE or use --planner classic")
    out_dir = Path(opts.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    name = f"{scenario.name}_{opts.mode}_{_slug(opts.operator)}_{stamp}"
    recording = (out_dir / name).resolve()      # a rosbag2 directory (teleop.recorder)
    log_dir = out_dir / "logs" / name
    time_limit_s = float(opts.time_limit_s or scenario.time_limit_s * (opts.person_time_factor if human else 1.0))
    say = (lambda *a: None) if opts.quiet else (lambda *a: print(*a, flush=True))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    lease = DomainLease()
    console = None
    reason = "error"
    went = not human              # a person's session passed the start gate
    wall0 = time.monotonic()
    try:
        with Stack(session_specs(opts, recording), log_dir, lease.domain_id) as stack:
            mon = Monitor(lease.domain_id)
            try:
                deadline = time.monotonic() + opts.startup_timeout_s
                if opts.mode == "teleop":
                    wait_for(stack, lambda: mon.odom.last() is not None, deadline, "the sim's first /odom")
                else:
                    mon.bring_up(stack, opts.startup_timeout_s)
                want = 1 if opts.mode == "teleop" else 2  # recorder (+ planner) on /goal_pose
                wait_for(stack, lambda: mon.goal.subscribers() >= want, deadline,
                         "the recorder's /goal_pose subscription")
                operator = None
                if person and scripted:
                    operator = _ScriptedOperator(mon.node, scenario, mon.odom.last()[1:3],
                                                 opts.seed, opts.takeover if opts.mode == "shared" else [])
                say(f"session: {scenario.name}, mode {opts.mode}, operator {opts.operator}; goal "
                    f"({scenario.goal.x:.2f}, {scenario.goal.y:.2f}) ±{scenario.goal.tolerance} m; "
                    f"time limit {time_limit_s:.0f} s; recording {recording}")
                if human:
                    from world_model_planner.app.session_person import PersonConsole

                    if opts.input == "joy":
                        say(f"joystick: publish sensor_msgs/Joy on /joy with ROS_DOMAIN_ID={lease.domain_id} "
                            "(e.g. ros2 run joy joy_node)")
                    console = PersonConsole(
                        mon.node, scenario, f"{scenario.name} · {opts.mode} · {opts.operator} · "
                        f"limit {time_limit_s:.0f} s", keyboard=opts.input == "keyboard",
                        shared=opts.mode == "shared", screen_path=_screen_path(recording))
                reason = _drive(stack, mon, scenario, time_limit_s, opts, console)
                went = went or (console is not None and console.counting)
                if operator is not None:
                    operator.stop()
                if console is not None:
                    console.close(_END_BANNERS.get(reason, reason))
                    console = None
                time.sleep(0.3)  # the last messages reach the recorder before it closes
            finally:
                if console is not None:
                    console.close()
                mon.close()
    except StackError:
        reason = "stack_error"
        raise
    finally:
        lease.release()
    try:
        summary = summarize(recording, scenario_name=opts.scenario)
    except InputError as exc:   # e.g. a session quit before any /odom after the goal
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        summary = {"recording": str(recording), "meta": {}, "metrics": None,
                   "metrics_error": why if went else "it ended at the start gate, before go: nothing was driven"}
    summary.update({"end_reason": reason, "wall_s": round(time.monotonic() - wall0, 2),
                    "log_dir": str(log_dir), "time_limit_s": time_limit_s, "scenario": scenario.name})
    if human:
        summary["screen"] = str(_screen_path(recording))
    atomic_write_text(recording.parent / f"{name}.json", json.dumps(summary, indent=1, default=float))
    return summary


def summarize(recording: Path, scenario_name: str | None = None) -> dict:
    """Metrics of one recording against ``scenario_name`` (the caller's; a name or file), else
    the built-in scenario its metadata names (metadata is never used as a path)."""
    from world_model_planner.teleop.report import _scenario_for, evaluate
    from world_model_planner.teleop.session_data import load_session

    data = load_session(recording)
    scenario = _scenario_for(data, scenario_name)
    metrics = evaluate(data, scenario)
    metrics["time_ratio"] = _time_ratio(metrics, scenario)
    return {"recording": str(recording), "meta": data.meta, "metrics": metrics}


def _time_ratio(metrics: dict, scenario) -> float | None:
    """The session's time over the time-optimal one (the shortest path at the robot's top
    speed, core.metrics.time_ratio); None when it failed or the optimum is unknown."""
    from world_model_planner.core import metrics as em
    from world_model_planner.core.robot_config import load_robot

    if scenario is None:
        return None
    v_max = load_robot(getattr(scenario, "robot", "husky")).v_max_mps
    return em.time_ratio(bool(metrics["success"]), metrics.get("time_s"), metrics.get("shortest_path_m"), v_max)


def _screen_path(recording: Path) -> Path:
    """Where a person's last screen (plain text) goes: beside the recording."""
    return recording.with_name(recording.name.removesuffix(".mcap") + ".screen.txt")


_END_BANNERS = {"reached": "goal reached", "time_limit": "time is up", "operator_quit": "quit",
                "interrupted": "interrupted"}


def _drive(stack, mon, scenario, time_limit_s: float, opts: SessionOptions, console) -> str:
    try:
        return _drive_loop(stack, mon, scenario, time_limit_s, opts, console)
    except KeyboardInterrupt:
        return "interrupted"  # Ctrl-C ends the session; the recording is closed and summarized


def _drive_loop(stack, mon, scenario, time_limit_s: float, opts: SessionOptions, console) -> str:
    goal, tol = (scenario.goal.x, scenario.goal.y), float(scenario.goal.tolerance)
    if console is not None:
        from world_model_planner.app.session_person import set_paused, wait_sim_time_after

        if not console.gate(stack, opts.countdown_s, time_limit_s):
            return "operator_quit"
        t_paused = mon.odom.last()[0]
        set_paused(mon.node, False)
        wait_sim_time_after(stack, mon, t_paused)
        console.start()
    mon.diag.recording = True
    t0 = mon.odom.start_recording()
    collisions0 = mon.diag.collisions()
    mon.send_goal(*goal)
    sent, sends = time.monotonic(), 1
    while True:
        stack.check()
        t, x, y, _ = mon.odom.last()
        if math.hypot(x - goal[0], y - goal[1]) <= tol:
            return "reached"
        if t - t0 >= time_limit_s:
            return "time_limit"
        if console is not None:
            console.step(time.monotonic(), time_limit_s - (t - t0), max(mon.diag.collisions() - collisions0, 0))
            if console.quit:
                return "operator_quit"
        if opts.mode != "teleop" and mon.diag.planner_state() in ("", "idle") \
                and time.monotonic() - sent > 2.0 and sends < 10:
            mon.send_goal(*goal)  # the first goal may have raced discovery
            sent, sends = time.monotonic(), sends + 1
        time.sleep(0.02)


class _ScriptedOperator:
    """ScriptedDriver on the monitor's node: /odom in, /cmd_vel_teleop (10 Hz) out."""

    def __init__(self, node, scenario, start_xy, seed: int, takeover: list):
        from geometry_msgs.msg import TwistStamped
        from nav_msgs.msg import Odometry
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from world_model_planner.teleop.scripted import ScriptedConfig, ScriptedDriver, plan_route

        route = plan_route(scenario, start_xy)
        self.driver = ScriptedDriver(route, (scenario.goal.x, scenario.goal.y),
                                     ScriptedConfig(seed=seed), takeover_windows=takeover)
        self.node = node
        self.last_stamp = None
        self.driving = False  # published a command at the last tick
        self.pub = node.create_publisher(TwistStamped, "/cmd_vel_teleop", 10)
        self.sub = node.create_subscription(Odometry, "/odom", self._on_odom,
                                            QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.timer = node.create_timer(0.1, self._on_timer)

    def _on_odom(self, msg) -> None:
        t = stamp_to_sec(msg.header.stamp)
        p = msg.pose.pose
        self.driver.observe(t, (p.position.x, p.position.y, yaw_of(p.orientation)))
        self.last_stamp = msg.header.stamp

    def _on_timer(self) -> None:
        if self.last_stamp is None:
            return
        t = stamp_to_sec(self.last_stamp)
        cmd = self.driver.command(t)
        self.driving = cmd is not None
        if cmd is not None:
            self._publish(*cmd)

    def _publish(self, v: float, w: float) -> None:
        self.pub.publish(twist_msg(v, w, True, self.last_stamp))

    def stop(self) -> None:
        """Stop driving; a final zero only if it was driving (a silent operator in shared mode
        must not take over at the end)."""
        self.timer.cancel()
        if self.last_stamp is not None and self.driving:
            self._publish(0.0, 0.0)
