"""`teleop_keyboard` / `wmp teleop`: drive from a terminal; publishes /cmd_vel_teleop.

Keys and behaviour: see teleop.keymap. Parameters: KeyboardConfig (``--ros-args -p name:=value``).
Needs a terminal on stdin (it switches it to cbreak mode and restores it on exit).
"""
from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import threading
import time
import tty

from teleop.keymap import HELP, KeyboardConfig, KeyDecoder, KeyTeleop, PublishGate


@contextlib.contextmanager
def cbreak_terminal(fd: int):
    """Unbuffered key reads without echo; Ctrl-C still raises KeyboardInterrupt."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class KeyboardPublisher:
    """Turns (v, w) into TwistStamped/Twist messages on the configured topic."""

    def __init__(self, node, cfg: KeyboardConfig):
        from geometry_msgs.msg import Twist, TwistStamped

        self.node, self.cfg = node, cfg
        self._types = (Twist, TwistStamped)
        self.pub = node.create_publisher(TwistStamped if cfg.stamped else Twist, cfg.topic, 10)

    def publish(self, v: float, w: float) -> None:
        Twist, TwistStamped = self._types
        t = Twist()
        t.linear.x, t.angular.z = float(v), float(w)
        if self.cfg.stamped:
            msg = TwistStamped()
            msg.header.stamp = self.node.get_clock().now().to_msg()
            msg.header.frame_id = self.cfg.frame_id
            msg.twist = t
            self.pub.publish(msg)
        else:
            self.pub.publish(t)


def run_loop(node, cfg: KeyboardConfig, fd: int, out=sys.stdout) -> None:
    """Read keys from ``fd`` and publish until q, Ctrl-C/Ctrl-D or end of input."""
    import rclpy

    tele, dec, gate = KeyTeleop(cfg), KeyDecoder(), PublishGate(cfg.stop_repeat_s)
    pub = KeyboardPublisher(node, cfg)
    period = 1.0 / cfg.rate_hz
    print(HELP, file=out, flush=True)
    print(f"publishing on {cfg.topic}; ready. {tele.status()}", file=out, flush=True)
    next_pub = last_key = time.monotonic()
    try:
        while rclpy.ok() and not tele.quit:
            ready, _, _ = select.select([fd], [], [], max(0.0, min(period, next_pub - time.monotonic())))
            now = time.monotonic()
            if ready:
                data = os.read(fd, 64)
                keys = dec.feed(data) if data else ["quit"]
                before = (tele.command(), tele.step)
                for key in keys:
                    tele.press(key)
                last_key = now
                if (tele.command(), tele.step) != before:
                    print(tele.status(), file=out, flush=True)
                    if gate.should_publish(tele.command(), now):
                        pub.publish(*tele.command())
                    next_pub = now + period
            elif dec._buf:
                dec.flush_escape()
            if cfg.key_timeout_s > 0 and now - last_key > cfg.key_timeout_s and tele.command() != (0.0, 0.0):
                tele.press("stop")
                print("no key for %.1f s: stop. %s" % (cfg.key_timeout_s, tele.status()), file=out, flush=True)
            if now >= next_pub:
                if gate.should_publish(tele.command(), now):
                    pub.publish(*tele.command())
                next_pub = now + period
    finally:
        pub.publish(0.0, 0.0)  # always leave the robot stopped
        print("quit: published zero", file=out, flush=True)


def main(args=None) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    from world_model_planner.params import ConfigError
    from world_model_planner.rosutil import declare_config

    fd = sys.stdin.fileno()
    if not os.isatty(fd):
        print("teleop_keyboard: stdin is not a terminal; run it in a terminal "
              "(keys are read one at a time)", file=sys.stderr)
        return 2
    rclpy.init(args=args if args is not None else sys.argv)
    node = rclpy.create_node("teleop_keyboard")
    # The node (its /clock subscription under use_sim_time) spins in a thread; keys are read here.
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    stop = threading.Event()
    spinner = threading.Thread(target=_spin, args=(executor, stop), daemon=True)
    spinner.start()
    status = 0
    try:
        cfg = declare_config(node, KeyboardConfig)
        with cbreak_terminal(fd):
            run_loop(node, cfg, fd)
        time.sleep(0.1)  # let the final zero leave before the context goes away
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ConfigError as exc:
        print(f"[error] {exc}", file=sys.stderr)
        status = 2
    finally:
        stop.set()
        spinner.join(2.0)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return status


def _spin(executor, stop) -> None:
    import rclpy

    while not stop.is_set() and rclpy.ok():
        executor.spin_once(timeout_sec=0.05)


if __name__ == "__main__":
    raise SystemExit(main())
