"""Velocity command arbitration (in the spirit of twist_mux), as a pure library.

Several inputs (a person's teleop, the planner) offer velocity commands; the mux forwards the
command of the highest-priority input that has spoken within its timeout. An e-stop lock
replaces every command with zero. Commands with NaN or inf are rejected (never forwarded); one
from the input in control stops the robot (a zero command) instead of leaving the last command
standing until the timeout.

Freshness is the absolute age on the node clock (world_model_planner.core.sensor_check.stamp_age):
a message received "in the future" — the clock jumped back, as at a sim reset — is stale at
once, never fresh for the length of the jump. Velocity and acceleration limits are applied
after the mux by world_model_planner.teleop.limiter.VelocityLimiter (the last stage before /cmd_vel).

An *intervention* starts when a person input (``person_inputs``) takes control while an
autonomy input (``autonomy_inputs``) is active, i.e. has spoken within its own timeout; it ends
when the person input times out. ``interventions`` counts the starts.

Times are passed in by the caller; the node uses its ROS clock (simulated time under
``use_sim_time``). In the sim's lockstep mode simulated time stands still while the planner
thinks, so a slow plan never times out the planner's input; in real time it runs with the wall.

This module never imports rclpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from world_model_planner.core.params import CMD_TIMEOUT_S, ConfigError, param, validate
from world_model_planner.core.sensor_check import stamp_age

Cmd = tuple  # (vx, vy, vz, wx, wy, wz): a Twist as six floats
ZERO: Cmd = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass
class MuxConfig:
    """Inputs are given as parallel lists (ROS parameters cannot nest)."""

    input_names: list = param(["teleop", "nav"], "Names of the command inputs.")
    input_topics: list = param(["/cmd_vel_teleop", "/cmd_vel_nav"], "Topic of each input.")
    input_priorities: list = param([100, 10], "Priority of each input; higher wins.")
    input_timeouts_s: list = param([CMD_TIMEOUT_S, CMD_TIMEOUT_S], "An input is inactive this long after its last "
                                               "message (s, node clock: sim time under use_sim_time).")
    person_inputs: list = param(["teleop"], "Inputs driven by a person (take-over = intervention).")
    autonomy_inputs: list = param(["nav"], "Inputs driven by autonomy (the planner).")
    output_topic: str = param("/cmd_vel", "Output command topic.")
    estop_topic: str = param("/estop", "std_msgs/Bool: true locks the output to zero, false unlocks.")
    input_stamped: bool = param(True, "Inputs are geometry_msgs/TwistStamped (false: Twist).")
    output_stamped: bool = param(True, "Output is geometry_msgs/TwistStamped (false: Twist).")
    check_rate_hz: float = param(20.0, "How often input timeouts are checked.", range=(1.0, 200.0))
    diagnostics_rate_hz: float = param(1.0, "How often /diagnostics (name 'cmd_mux') is published.",
                                       range=(0.1, 50.0))

    def __post_init__(self):
        validate(self)
        n = len(self.input_names)
        if n == 0:
            raise ConfigError("MuxConfig.input_names: expected at least one input, got []")
        for name in ("input_topics", "input_priorities", "input_timeouts_s"):
            if len(getattr(self, name)) != n:
                raise ConfigError(f"MuxConfig.{name}: expected {n} entries (one per input_names "
                                  f"{list(self.input_names)}), got {list(getattr(self, name))}")
        if len(set(self.input_names)) != n:
            raise ConfigError(f"MuxConfig.input_names: expected unique names, got {list(self.input_names)}")
        for t in self.input_timeouts_s:
            if not (isinstance(t, (int, float)) and math.isfinite(t) and t > 0):
                raise ConfigError(f"MuxConfig.input_timeouts_s: expected positive seconds, got {t!r}")
        for name in ("person_inputs", "autonomy_inputs"):
            unknown = set(getattr(self, name)) - set(self.input_names)
            if unknown:
                raise ConfigError(f"MuxConfig.{name}: expected names from input_names "
                                  f"{list(self.input_names)}, got unknown {sorted(unknown)}")


@dataclass
class MuxInput:
    name: str
    topic: str
    priority: int
    timeout_s: float
    last_rx_s: float = -math.inf      # node-clock time of the last accepted message
    last_cmd: Cmd = ZERO
    last_stamp_s: float | None = None  # header stamp of the last accepted message
    rejected: int = 0                  # messages dropped for NaN/inf

    def active(self, now_s: float) -> bool:
        """Spoken within ``timeout_s``; a message received after ``now_s`` (the clock jumped
        back) is stale, not fresh."""
        if self.last_rx_s == -math.inf:
            return False
        age, why = stamp_age(now_s, self.last_rx_s, 0.0)
        return not why and age <= self.timeout_s


@dataclass
class MuxOutput:
    """A command to publish. ``stamp_s`` None means 'stamp with the current time'."""

    cmd: Cmd
    stamp_s: float | None
    source: str  # input name, "estop", "timeout" or "rejected"


@dataclass
class CommandMux:
    cfg: MuxConfig
    inputs: dict = field(init=False)
    locked: bool = False
    selected: str | None = None
    interventions: int = 0
    intervention_active: bool = False

    def __post_init__(self):
        c = self.cfg
        self.inputs = {n: MuxInput(n, t, int(p), float(to)) for n, t, p, to in zip(
            c.input_names, c.input_topics, c.input_priorities, c.input_timeouts_s)}

    # -- queries ---------------------------------------------------------------------------
    def winner(self, now_s: float) -> str | None:
        """Name of the highest-priority active input (ties: first listed), or None."""
        best = None
        for inp in self.inputs.values():
            if inp.active(now_s) and (best is None or inp.priority > best.priority):
                best = inp
        return best.name if best else None

    def reconfigure(self, cfg: MuxConfig) -> None:
        """Apply new priorities, timeouts and person/autonomy sets (same input names), keeping
        what was received."""
        if list(cfg.input_names) != list(self.cfg.input_names):
            raise ConfigError("input_names can only change at start-up")
        for n, p, to in zip(cfg.input_names, cfg.input_priorities, cfg.input_timeouts_s):
            self.inputs[n].priority, self.inputs[n].timeout_s = int(p), float(to)
        self.cfg = cfg

    def rejected_total(self) -> int:
        return sum(i.rejected for i in self.inputs.values())

    # -- events ----------------------------------------------------------------------------
    def on_command(self, name: str, cmd: Cmd, stamp_s: float | None, now_s: float) -> MuxOutput | None:
        """An input message arrived. Returns what to publish on the output, or None."""
        inp = self.inputs.get(name)
        if inp is None:
            raise KeyError(f"unknown mux input {name!r}; expected one of {list(self.inputs)}")
        if len(cmd) != 6 or not all(math.isfinite(x) for x in cmd):
            inp.rejected += 1
            self._update_selection(now_s)
            if self.selected != name:
                return None  # a bad message never takes over
            # the input in control sent garbage: it keeps control, commanding zero
            inp.last_rx_s, inp.last_cmd, inp.last_stamp_s = now_s, ZERO, stamp_s
            return MuxOutput(ZERO, stamp_s, "rejected")
        inp.last_rx_s, inp.last_cmd, inp.last_stamp_s = now_s, tuple(float(x) for x in cmd), stamp_s
        self._update_selection(now_s)
        if self.selected != name:
            return None  # a higher-priority input holds the output
        if self.locked:
            return MuxOutput(ZERO, stamp_s, "estop")
        return MuxOutput(inp.last_cmd, stamp_s, name)

    def on_estop(self, engaged: bool, now_s: float) -> MuxOutput | None:
        """E-stop message. Engaging publishes one zero command at once."""
        was = self.locked
        self.locked = bool(engaged)
        if self.locked and not was:
            return MuxOutput(ZERO, None, "estop")
        return None

    def tick(self, now_s: float) -> MuxOutput | None:
        """Periodic check. When the input in control times out, publish one zero command."""
        before = self.selected
        self._update_selection(now_s)
        if before is not None and self.selected is None:
            return MuxOutput(ZERO, None, "timeout")
        return None

    def _update_selection(self, now_s: float) -> None:
        new = self.winner(now_s)
        person = set(self.cfg.person_inputs)
        autonomy_active = any(self.inputs[n].active(now_s) for n in self.cfg.autonomy_inputs)
        if new in person and self.selected not in person and autonomy_active:
            self.interventions += 1
            self.intervention_active = True
        if new not in person:
            self.intervention_active = False
        self.selected = new
