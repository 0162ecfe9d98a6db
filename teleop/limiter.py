"""Velocity limiter: the last stage before /cmd_vel, as a pure library (no rclpy).

In the spirit of Nav2's velocity_smoother and collision_monitor, every command that leaves the
mux passes through :class:`VelocityLimiter`:

- non-finite commands are refused: the output becomes zero at once, with a reason;
- v is clamped to ``[v_min_mps, v_max_mps]`` and w to ``[-w_max_radps, w_max_radps]`` (so an
  absurd finite command such as 1e9 m/s is clamped, never forwarded); the components a
  differential-drive base cannot execute (linear y/z, angular x/y) are set to zero;
- speeding up is limited to ``accel_*`` (|Δv| <= accel_v_mps2 * dt, dt on the node clock since
  the last output, at most ``max_dt_s``); slowing down is limited to ``decel_*``, where 0 (the
  default) means braking is never delayed — the robot's own controller brakes;
- its own timeout: when no command arrived for ``timeout_s`` (absolute age on the node clock,
  so a clock that jumped back counts as stale, never as fresh), :meth:`tick` brings the
  output to zero (decelerating when ``decel_*`` > 0) and then stays silent;
- :meth:`stop` (e-stop) zeroes the output at once, ignoring the deceleration limits.

Times are node-clock seconds passed in by the caller (sim time under ``use_sim_time``).
A clock that runs backwards (a sim reset) resets the limiter to rest.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from world_model_planner.core.params import CMD_TIMEOUT_S, param, validate
from world_model_planner.core.sensor_check import stamp_age

ZERO6 = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_EPS = 1e-9  # float slack so a command exactly at a limit is not "clamped"


@dataclass
class LimiterConfig:
    """Limits of the robot's base (defaults: Clearpath Husky, config/robots/husky.yaml)."""

    v_min_mps: float = param(-0.5, "Most negative (reverse) linear speed sent to the robot (m/s).",
                             range=(-10.0, 0.0))
    v_max_mps: float = param(1.0, "Highest forward speed sent to the robot (m/s).", range=(0.0, 10.0))
    w_max_radps: float = param(1.5, "Largest yaw rate magnitude sent to the robot (rad/s).", range=(0.0, 20.0))
    accel_v_mps2: float = param(1.5, "Largest rate of speeding up (m/s^2).",
                                range=(0.001, 50.0))
    accel_w_radps2: float = param(3.0, "Largest rate of turning faster (rad/s^2).",
                                range=(0.001, 100.0))
    decel_v_mps2: float = param(0.0, "Largest rate of slowing down (m/s^2); 0 = braking is never "
                                     "delayed (the robot's own controller brakes).", range=(0.0, 100.0))
    decel_w_radps2: float = param(0.0, "Largest rate of turning slower (rad/s^2); 0 = never delayed.",
                                range=(0.0, 200.0))
    max_dt_s: float = param(0.1, "Longest interval credited to the acceleration limit: after a "
                                 "longer pause a command moves the output by at most accel * "
                                 "max_dt_s (s).", range=(0.001, 1.0))
    timeout_s: float = param(CMD_TIMEOUT_S, "No command for this long (node clock) -> the output goes to "
                                  "zero (s).", range=(0.01, 10.0))

    def __post_init__(self):
        validate(self)


@dataclass
class Limited:
    """The limiter's answer: the command to publish and why it differs from the input ('' if not)."""

    cmd: tuple          # (vx, vy, vz, wx, wy, wz)
    reason: str = ""


def _step(prev: float, target: float, up: float, down: float) -> float:
    """Move from ``prev`` toward ``target``: |value| may grow by at most ``up`` and shrink by at
    most ``down`` (inf: braking is free). Reversing = braking to zero first; with free braking
    the new direction may then grow by ``up`` in the same step."""
    if prev == 0.0 or target == 0.0 or (prev > 0.0) == (target > 0.0):
        if abs(target) >= abs(prev):                              # speeding up
            return prev + math.copysign(_upto(abs(target) - abs(prev), up), target) if target else 0.0
        return prev - math.copysign(_upto(abs(prev) - abs(target), down), prev)  # slowing down
    if abs(prev) > down + _EPS:                                   # reversing: brake first
        return prev - math.copysign(down, prev)
    return math.copysign(_upto(abs(target), up), target) if math.isinf(down) else 0.0


def _upto(change: float, limit: float) -> float:
    """``change`` if within ``limit`` (with float slack), else ``limit``."""
    return change if change <= limit + _EPS else limit


class VelocityLimiter:
    """Feed commands with :meth:`command`, call :meth:`tick` periodically, :meth:`stop` on e-stop."""

    def __init__(self, cfg: LimiterConfig):
        self.cfg = cfg
        self.out = (0.0, 0.0)               # (v, w) last output
        self.target = (0.0, 0.0)            # (v, w) last accepted input, after velocity clamping
        self.last_out_s: float | None = None
        self.last_in_s: float | None = None
        self.timed_out = True               # no fresh input: the output is (going) zero
        self.refused = 0                    # non-finite commands refused
        self.clamped = 0                    # commands changed by a velocity or acceleration limit

    # -- helpers -------------------------------------------------------------------------
    def _dt(self, now_s: float) -> float:
        """Seconds credited since the last output; a clock that ran backwards resets to rest."""
        if self.last_out_s is None:
            return self.cfg.max_dt_s
        d = now_s - self.last_out_s
        if not math.isfinite(d) or d < 0.0:    # clock jumped back (sim reset): start from rest
            self.out = (0.0, 0.0)
            return self.cfg.max_dt_s
        return min(d, self.cfg.max_dt_s)

    def _move(self, target: tuple, now_s: float) -> tuple:
        c = self.cfg
        dt = self._dt(now_s)
        dv_down = c.decel_v_mps2 * dt if c.decel_v_mps2 > 0 else math.inf
        dw_down = c.decel_w_radps2 * dt if c.decel_w_radps2 > 0 else math.inf
        v = _step(self.out[0], target[0], c.accel_v_mps2 * dt, dv_down)
        w = _step(self.out[1], target[1], c.accel_w_radps2 * dt, dw_down)
        self.out, self.last_out_s = (v, w), now_s
        return (v, 0.0, 0.0, 0.0, 0.0, w)

    def clamp_velocity(self, v: float, w: float) -> tuple[float, float]:
        c = self.cfg
        return min(max(v, c.v_min_mps), c.v_max_mps), min(max(w, -c.w_max_radps), c.w_max_radps)

    # -- events --------------------------------------------------------------------------
    def command(self, cmd, now_s: float) -> Limited:
        """A command (six floats: vx, vy, vz, wx, wy, wz) to send now. Returns what to publish."""
        self.last_in_s = now_s
        self.timed_out = False
        try:
            vals = [float(x) for x in cmd]
        except (TypeError, ValueError):
            vals = []
        if len(vals) != 6 or not all(math.isfinite(x) for x in vals):
            self.refused += 1
            self._rest(now_s)
            return Limited(ZERO6, "non-finite or malformed command refused: stopping")
        v, w = self.clamp_velocity(vals[0], vals[5])
        self.target = (v, w)
        out = self._move(self.target, now_s)
        reasons = []
        if (v, w) != (vals[0], vals[5]):
            reasons.append(f"clamped to the velocity limits (v={_short(vals[0])}, w={_short(vals[5])})")
        if any(vals[i] != 0.0 for i in (1, 2, 3, 4)):
            reasons.append("dropped linear y/z and angular x/y (differential drive)")
        if (out[0], out[5]) != (v, w) and (abs(out[0] - v) > 1e-6 or abs(out[5] - w) > 1e-6):
            reasons.append("acceleration-limited")
        if reasons:
            self.clamped += 1
        return Limited(out, "; ".join(reasons))

    def stop(self, now_s: float, reason: str = "e-stop") -> Limited:
        """Zero at once (e-stop), whatever the deceleration limits."""
        self._rest(now_s)
        return Limited(ZERO6, reason)

    def tick(self, now_s: float) -> Limited | None:
        """Periodic check. After ``timeout_s`` without a command (or when the last command is
        stamped in the node clock's future: the clock jumped back), bring the output to zero:
        returns each step to publish, the final zero once, then None."""
        if self.timed_out:
            return None
        age, why = (math.inf, "no command yet") if self.last_in_s is None else \
            stamp_age(now_s, self.last_in_s, 0.0)
        if not why and age <= self.cfg.timeout_s:
            return None
        self.target = (0.0, 0.0)
        if self.out == (0.0, 0.0) and not why:  # already at rest: nothing to send
            self.timed_out = True
            return None
        if why:                                # clock ran backwards: stop at once
            self._rest(now_s)
            out = ZERO6
        else:
            out = self._move(self.target, now_s)
        if out == ZERO6:
            self.timed_out = True
        return Limited(out, f"no command for {self.cfg.timeout_s:g} s: stopping" if not why
                       else f"last command {why}: stopping")

    def _rest(self, now_s: float) -> None:
        self.out, self.target, self.last_out_s = (0.0, 0.0), (0.0, 0.0), now_s


def _short(x: float) -> str:
    return f"{x:.4g}"


def limiter_params(robot) -> dict:
    """cmd_mux ``limiter.*`` parameter values for a robot (world_model_planner.core.robot_config
    RobotConfig): its velocity and acceleration limits."""
    return {"limiter.v_min_mps": robot.v_min_mps, "limiter.v_max_mps": robot.v_max_mps,
            "limiter.w_max_radps": robot.w_max_radps, "limiter.accel_v_mps2": robot.accel_v_mps2,
            "limiter.accel_w_radps2": robot.accel_w_radps2}
