"""`teleop_joy`: sensor_msgs/Joy (/joy) → /cmd_vel_teleop with a dead-man button.

Mapping and parameters: world_model_planner.teleop.joymap.JoyConfig. Joy messages come from a joystick driver
(e.g. ``ros2 run joy joy_node``). Runtime parameter changes apply at once (scales, axes,
buttons, dead zone, timeout); ``topic`` and ``stamped`` are refused (read at start-up only).
"""
from __future__ import annotations

import time

from geometry_msgs.msg import Twist, TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import Joy

from world_model_planner.core.rosconv import twist_msg
from world_model_planner.teleop.joymap import JoyConfig, JoyTeleop
from world_model_planner.core.rosutil import READ_AT_STARTUP, LiveConfig, check_unknown_parameters, spin_main

STARTUP_ONLY = ("topic", "stamped")


class JoyNode(Node):
    def __init__(self):
        super().__init__("teleop_joy")
        self.live = LiveConfig(self, {"": JoyConfig}, apply=self._apply)
        self.cfg = self.live[""]
        self.joy = JoyTeleop(self.cfg)
        check_unknown_parameters(self)
        self.pub = self.create_publisher(TwistStamped if self.cfg.stamped else Twist, self.cfg.topic, 10)
        self.create_subscription(Joy, "/joy", self._on_joy, 10)
        self.create_timer(0.1, lambda: self._publish(self.joy.on_check(time.monotonic())))
        self.get_logger().info(f"teleop_joy: hold button {self.cfg.deadman_button} to drive; "
                               f"publishing on {self.cfg.topic}")

    def _apply(self, new: dict, changed: list) -> str | None:
        fixed = [n for n in changed if n in STARTUP_ONLY]
        if fixed:
            return f"{', '.join(fixed)}: {READ_AT_STARTUP}"
        self.cfg = self.joy.cfg = new[""]
        return None

    def _on_joy(self, msg: Joy) -> None:
        self._publish(self.joy.on_joy(msg.axes, msg.buttons, time.monotonic()))

    def _publish(self, cmd) -> None:
        if cmd is None:
            return
        stamp = self.get_clock().now().to_msg() if self.cfg.stamped else None
        self.pub.publish(twist_msg(cmd[0], cmd[1], self.cfg.stamped, stamp))


def main(args=None) -> int:
    return spin_main(JoyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
