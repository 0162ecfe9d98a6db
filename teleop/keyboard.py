"""`teleop_keyboard` / `wmp teleop`: drive from a terminal; publishes /cmd_vel_teleop.

Keys and behaviour: see world_model_planner.teleop.keymap. Parameters: KeyboardConfig (``--ros-args -p name:=value``);
at runtime, speeds, steps, rates, timeouts and frame_id apply at once, ``topic``, ``stamped``
and ``initial_step`` are refused (read at start-up only). An unknown or invalid parameter is
one line and exit 2. Needs a terminal on stdin (it switches it to cbreak mode and restores it
on exit); Ctrl-C publishes zero and exits 0.
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

from world_model_planner.teleop.keymap import HELP, KeyboardConfig, KeyDecoder, KeyTeleop, PublishGate


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
        self.pub = node.create_publisher(TwistStamped if cfg.stamped else Twist, cfg.topic, 10)

    def publish(self, v: float, w: float) -> None:
        from world_model_planner.core.rosconv import twist_msg

        stamp = self.node.get_clock().now().to_msg() if self.cfg.stamped else None
        self.pub.publish(twist_msg(v, w, self.cfg.stamped, stamp, self.cfg.frame_id))


def run_loop(node, live, fd: int, out=sys.stdout) -> None:
    """Read keys from ``fd`` and publish until q, Ctrl-C/Ctrl-D or end of input.

    ``live``: a KeyboardConfig, or a rosutil.LiveConfig whose runtime changes (speeds, steps,
    rates, timeouts, frame_id) take effect on the next pass of the loop."""
    import rclpy

    def current() -> KeyboardConfig:
        return live[""] if not isinstance(live, KeyboardConfig) else live

    cfg = current()
    tele, dec, gate = KeyTeleop(cfg), KeyDecoder(), PublishGate(cfg.stop_repeat_s)
    pub = KeyboardPublisher(node, cfg)
    period = 1.0 / cfg.rate_hz
    print(HELP, file=out, flush=True)
    print(f"publishing on {cfg.topic}; ready. {tele.status()}", file=out, flush=True)
    next_pub = last_key = time.monotonic()
    try:
        while rclpy.ok() and not tele.quit:
            if current() is not cfg:        # parameters changed at runtime
                cfg = tele.cfg = pub.cfg = current()
                gate.stop_repeat_s, period = cfg.stop_repeat_s, 1.0 / cfg.rate_hz
                tele.step = min(tele.step, cfg.speed_steps)
                print(f"parameters changed. {tele.status()}", file=out, flush=True)
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
        if rclpy.ok():
            pub.publish(0.0, 0.0)  # always leave the robot stopped
            print("quit: published zero", file=out, flush=True)
        else:
            print("quit: ROS already shut down; the mux's input timeout stops the robot",
                  file=out, flush=True)


def main(args=None) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from world_model_planner.core.rosutil import DESTROY_TIMEOUT_S, LiveConfig, check_unknown_parameters, spin_main

    stop = threading.Event()
    parts = {}

    def run(node) -> int:
        # The node (its /clock subscription under use_sim_time) spins in a thread; keys are read here.
        executor = parts["executor"] = SingleThreadedExecutor()
        executor.add_node(node)
        spinner = parts["spinner"] = threading.Thread(target=_spin, args=(executor, stop), daemon=True)
        live = LiveConfig(node, {"": KeyboardConfig}, apply=_apply)
        check_unknown_parameters(node)
        fd = sys.stdin.fileno()
        if not os.isatty(fd):
            print("teleop_keyboard: stdin is not a terminal; run it in a terminal "
                  "(keys are read one at a time)", file=sys.stderr)
            return 2
        spinner.start()
        with cbreak_terminal(fd):
            run_loop(node, live, fd)
        time.sleep(0.1)  # let the final zero leave before the context goes away
        return 0

    def halt(node) -> None:
        stop.set()
        if "spinner" in parts and parts["spinner"].is_alive():
            parts["spinner"].join(2.0)
        if "executor" in parts:
            parts["executor"].shutdown(timeout_sec=DESTROY_TIMEOUT_S)

    # Ctrl-C is handled here (KeyboardInterrupt), not by rclpy: the context must stay valid
    # until the final zero command has gone out. SIGTERM (a session or launch ending) likewise.
    _sigterm_as_interrupt()
    return spin_main(lambda: rclpy.create_node("teleop_keyboard"), args, run=run, stop=halt,
                     init_kwargs=_no_rclpy_signal_handler(), quiet_signals=False)


#: KeyboardConfig fields the loop cannot change while it runs.
STARTUP_ONLY = ("topic", "stamped", "initial_step")


def _apply(new: dict, changed: list) -> str | None:
    """Runtime parameter change: the loop reads the new config on its next pass."""
    from world_model_planner.core.rosutil import READ_AT_STARTUP

    fixed = [n for n in changed if n in STARTUP_ONLY]
    return f"{', '.join(fixed)}: {READ_AT_STARTUP}" if fixed else None


def _no_rclpy_signal_handler() -> dict:
    try:
        from rclpy.signals import SignalHandlerOptions
    except ImportError:  # older rclpy: its handler stays; the final publish is guarded
        return {}
    return {"signal_handler_options": SignalHandlerOptions.NO}


def _sigterm_as_interrupt() -> None:
    """SIGTERM ends the loop like Ctrl-C (final zero, terminal restored, exit 0)."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)
        # Ctrl-C even when started with SIGINT ignored (a background job of a non-interactive
        # shell inherits that, and Python then installs no KeyboardInterrupt handler)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _spin(executor, stop) -> None:
    import rclpy

    from world_model_planner.core.rosutil import shutdown_race

    while not stop.is_set() and rclpy.ok():
        try:
            executor.spin_once(timeout_sec=0.05)
        except Exception as exc:  # noqa: BLE001 - the context went away under the spin: the end
            if shutdown_race(exc):
                return
            raise


if __name__ == "__main__":
    raise SystemExit(main())
