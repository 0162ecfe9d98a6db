"""Keyboard teleop logic as a pure library: key decoding and the command state machine.

Keys (latched, like turtlebot3_teleop; a terminal cannot see key releases):
    w / Up      more forward  (reverse -> stop -> forward)
    s / Down    more backward
    a / Left    more left turn (right turn -> straight -> left turn)
    d / Right   more right turn
    space       stop (both zero)
    + / -       speed step up / down;  1..9  choose a speed step directly
    q / Ctrl-C  quit (publishes zero first)

Command = (lin, ang) directions in {-1, 0, 1} scaled by the speed fraction
``step / speed_steps`` times ``max_linear_mps`` / ``max_angular_radps``.

This module never imports rclpy.
"""
from __future__ import annotations

from dataclasses import dataclass

from world_model_planner.core.params import ConfigError, param, validate

_ESCAPES = {b"\x1b[A": "up", b"\x1b[B": "down", b"\x1b[C": "right", b"\x1b[D": "left",
            b"\x1bOA": "up", b"\x1bOB": "down", b"\x1bOC": "right", b"\x1bOD": "left"}
_ALIASES = {"w": "up", "s": "down", "a": "left", "d": "right", " ": "stop", "q": "quit",
            "\x03": "quit", "\x04": "quit", "+": "faster", "=": "faster", "-": "slower",
            "_": "slower"}

HELP = ("w/Up, s/Down: forward/back   a/Left, d/Right: turn   space: stop   "
        "+/-: speed step   1-9: speed step   q: quit")


@dataclass
class KeyboardConfig:
    topic: str = param("/cmd_vel_teleop", "Topic the commands are published on.")
    stamped: bool = param(True, "Publish geometry_msgs/TwistStamped (false: Twist).")
    frame_id: str = param("base_link", "header.frame_id of stamped commands.")
    max_linear_mps: float = param(1.0, "Linear speed at the top speed step (m/s).", range=(0.0, 5.0))
    max_angular_radps: float = param(1.5, "Turn rate at the top speed step (rad/s).", range=(0.0, 10.0))
    speed_steps: int = param(10, "Number of speed steps.", range=(1, 100))
    initial_step: int = param(3, "Speed step at start.", range=(1, 100))
    rate_hz: float = param(10.0, "Publish rate while a command is held (Hz).", range=(1.0, 100.0))
    stop_repeat_s: float = param(0.5, "After a stop, zero is repeated this long, then publishing "
                                      "pauses so the mux hands control back (s).", range=(0.0, 10.0))
    key_timeout_s: float = param(0.0, "Stop when no key arrives for this long (s); 0 = off.",
                                 range=(0.0, 60.0))

    def __post_init__(self):
        validate(self)
        if self.initial_step > self.speed_steps:
            raise ConfigError(f"KeyboardConfig.initial_step: expected <= speed_steps "
                              f"({self.speed_steps}), got {self.initial_step}")


class KeyDecoder:
    """Bytes from a terminal in, key names out; keeps an incomplete escape sequence."""

    def __init__(self):
        self._buf = b""

    def feed(self, data: bytes) -> list[str]:
        self._buf += data
        keys: list[str] = []
        while self._buf:
            b = self._buf
            if b[:1] == b"\x1b":
                if len(b) < 2:
                    break  # wait for the rest of the sequence
                if b[1:2] not in (b"[", b"O"):
                    keys.append("unknown")  # Alt+key
                    self._buf = b[2:]
                    continue
                end = next((i for i in range(2, len(b)) if 0x40 <= b[i] <= 0x7E), None)
                if end is None:
                    break  # incomplete control sequence
                keys.append(_ESCAPES.get(b[:end + 1], "unknown"))
                self._buf = b[end + 1:]
                continue
            ch = b[:1].decode("latin-1")
            self._buf = b[1:]
            if ch.lower() in _ALIASES:
                keys.append(_ALIASES[ch.lower()])
            elif ch.isdigit() and ch != "0":
                keys.append("step" + ch)
            else:
                keys.append("unknown")
        return keys

    def flush_escape(self) -> list[str]:
        """A lone ESC with nothing after it (after a read timeout) is just ESC: ignore it."""
        self._buf = b""
        return []


@dataclass
class KeyTeleop:
    cfg: KeyboardConfig
    lin: int = 0
    ang: int = 0
    step: int = 0
    quit: bool = False

    def __post_init__(self):
        self.step = self.cfg.initial_step

    def press(self, key: str) -> None:
        if key == "up":
            self.lin = min(self.lin + 1, 1)
        elif key == "down":
            self.lin = max(self.lin - 1, -1)
        elif key == "left":
            self.ang = min(self.ang + 1, 1)
        elif key == "right":
            self.ang = max(self.ang - 1, -1)
        elif key == "stop":
            self.lin = self.ang = 0
        elif key == "faster":
            self.step = min(self.step + 1, self.cfg.speed_steps)
        elif key == "slower":
            self.step = max(self.step - 1, 1)
        elif key.startswith("step"):
            self.step = min(int(key[4:]), self.cfg.speed_steps)
        elif key == "quit":
            self.lin = self.ang = 0
            self.quit = True

    def command(self) -> tuple[float, float]:
        """(v m/s, w rad/s) for the current keys and speed step."""
        frac = self.step / self.cfg.speed_steps
        return (self.lin * frac * self.cfg.max_linear_mps, self.ang * frac * self.cfg.max_angular_radps)

    def status(self) -> str:
        v, w = self.command()
        return f"v {v:+.2f} m/s  w {w:+.2f} rad/s  speed step {self.step}/{self.cfg.speed_steps}"


class PublishGate:
    """When to publish: at the rate while moving; zero for ``stop_repeat_s`` after a stop, then
    silence (so the mux's teleop input times out and the planner gets the robot back)."""

    def __init__(self, stop_repeat_s: float):
        self.stop_repeat_s = stop_repeat_s
        self._stopped_at: float | None = 0.0 - stop_repeat_s - 1.0  # silent at start

    def should_publish(self, cmd: tuple[float, float], now_s: float) -> bool:
        if cmd != (0.0, 0.0):
            self._stopped_at = None
            return True
        if self._stopped_at is None:
            self._stopped_at = now_s
        return now_s - self._stopped_at <= self.stop_repeat_s
