"""Joystick → velocity mapping with a dead-man button, as a pure library (no rclpy).

While the dead-man button is held, axis values (after a dead zone) scale to (v, w); with the
turbo button also held the turbo scales apply. Releasing the dead-man button, or the joystick
going silent for ``joy_timeout_s``, yields one zero command and then silence (the mux then
hands control back to the planner).
"""
from __future__ import annotations

from dataclasses import dataclass

from world_model_planner.core.params import CMD_TIMEOUT_S, param, validate


@dataclass
class JoyConfig:
    topic: str = param("/cmd_vel_teleop", "Topic the commands are published on.")
    stamped: bool = param(True, "Publish geometry_msgs/TwistStamped (false: Twist).")
    axis_linear: int = param(1, "Joy axis for forward speed (left stick up/down on most pads).",
                             range=(0, 31))
    axis_angular: int = param(0, "Joy axis for turn rate (left stick left/right).", range=(0, 31))
    scale_linear_mps: float = param(0.5, "Forward speed at full stick (m/s).", range=(0.0, 5.0))
    scale_angular_radps: float = param(1.0, "Turn rate at full stick (rad/s).", range=(0.0, 10.0))
    scale_linear_turbo_mps: float = param(1.0, "Forward speed at full stick with turbo (m/s).",
                                          range=(0.0, 5.0))
    scale_angular_turbo_radps: float = param(1.5, "Turn rate at full stick with turbo (rad/s).",
                                           range=(0.0, 10.0))
    deadman_button: int = param(4, "Button that must be held to drive (LB on most pads).",
                                range=(0, 31))
    turbo_button: int = param(-1, "Button for the turbo scales; -1 = none.", range=(-1, 31))
    deadzone: float = param(0.05, "Axis magnitudes below this count as zero.", range=(0.0, 0.9))
    joy_timeout_s: float = param(CMD_TIMEOUT_S, "No Joy message for this long while driving: stop (s).",
                                 range=(0.05, 10.0))

    def __post_init__(self):
        validate(self)


def _pressed(buttons, index: int) -> bool:
    return 0 <= index < len(buttons) and bool(buttons[index])


def _axis(axes, index: int, deadzone: float) -> float:
    if not 0 <= index < len(axes):
        return 0.0
    a = float(axes[index])
    if a != a or abs(a) < deadzone:  # NaN or inside the dead zone
        return 0.0
    return max(-1.0, min(1.0, a))


class JoyTeleop:
    """Feed Joy (axes, buttons); get the command to publish, or None for 'publish nothing'."""

    def __init__(self, cfg: JoyConfig):
        self.cfg = cfg
        self.driving = False
        self.last_joy_s = None

    def on_joy(self, axes, buttons, now_s: float) -> tuple[float, float] | None:
        self.last_joy_s = now_s
        c = self.cfg
        if not _pressed(buttons, c.deadman_button):
            if self.driving:
                self.driving = False
                return (0.0, 0.0)
            return None
        self.driving = True
        turbo = _pressed(buttons, c.turbo_button)
        sv = c.scale_linear_turbo_mps if turbo else c.scale_linear_mps
        sw = c.scale_angular_turbo_radps if turbo else c.scale_angular_radps
        return (sv * _axis(axes, c.axis_linear, c.deadzone), sw * _axis(axes, c.axis_angular, c.deadzone))

    def on_check(self, now_s: float) -> tuple[float, float] | None:
        """Periodic: the joystick went silent while driving → one zero command."""
        if self.driving and self.last_joy_s is not None and now_s - self.last_joy_s > self.cfg.joy_timeout_s:
            self.driving = False
            return (0.0, 0.0)
        return None
