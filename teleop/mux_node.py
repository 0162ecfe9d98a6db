"""`cmd_mux`: thin ROS node around world_model_planner.teleop.mux.CommandMux.

Subscribes to each configured input (default /cmd_vel_teleop priority 100, /cmd_vel_nav
priority 10) and /estop (std_msgs/Bool); publishes /cmd_vel (TwistStamped, or Twist with
``output_stamped: false``) keeping the input's header stamp, so the simulator's lockstep mode
sees the controller's stamps.

Interventions (a person input taking over while the planner is active) are published on
/mux/intervention (std_msgs/Bool, true while the person holds control; reliable,
transient_local) and counted in /diagnostics (DiagnosticStatus name "cmd_mux", key
``interventions``), together with ``selected``, ``locked``, ``rejected_nonfinite`` and
``limited`` (commands changed by the limiter).

The last stage before the output is world_model_planner.teleop.limiter.VelocityLimiter (parameters ``limiter.*``):
velocity and acceleration limits, non-finite commands refused (zero), and its own timeout,
checked by the ``check_rate_hz`` timer on the node clock.

Runtime parameter changes (``ros2 param set``): priorities, timeouts, person/autonomy inputs,
rates and every ``limiter.*`` limit are applied at once; topics, names and message types are
refused with the reason (read at start-up only).
"""
from __future__ import annotations

import math

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from std_msgs.msg import Bool

from world_model_planner.core import diagnostics as diag
from world_model_planner.teleop.limiter import Limited, LimiterConfig, VelocityLimiter
from world_model_planner.teleop.mux import CommandMux, MuxConfig, MuxOutput
from world_model_planner.core.rosconv import sec_to_stamp, stamp_to_sec
from world_model_planner.core.rosutil import READ_AT_STARTUP, LiveConfig, check_unknown_parameters, spin_main

#: MuxConfig fields that need new subscriptions or publishers: refused at runtime.
STARTUP_ONLY = ("input_names", "input_topics", "output_topic", "estop_topic", "input_stamped",
                "output_stamped")


def twist_to_tuple(t: Twist) -> tuple:
    return (t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z)


def tuple_to_twist(c) -> Twist:
    t = Twist()
    t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z = (float(x) for x in c)
    return t


class MuxNode(Node):
    def __init__(self):
        super().__init__("cmd_mux")
        self.live = LiveConfig(self, {"": MuxConfig, "limiter.": LimiterConfig}, apply=self._apply)
        self.cfg = self.live[""]
        self.mux = CommandMux(self.cfg)
        self.limiter = VelocityLimiter(self.live["limiter."])
        check_unknown_parameters(self)
        out_type = TwistStamped if self.cfg.output_stamped else Twist
        self.pub = self.create_publisher(out_type, self.cfg.output_topic, 10)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub_intervention = self.create_publisher(Bool, "/mux/intervention", latched)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        in_type = TwistStamped if self.cfg.input_stamped else Twist
        for name, topic in zip(self.cfg.input_names, self.cfg.input_topics):
            self.create_subscription(in_type, topic, lambda m, n=name: self._on_input(n, m), 10)
        self.create_subscription(Bool, self.cfg.estop_topic, self._on_estop, 10)
        self._check_timer = self.create_timer(1.0 / self.cfg.check_rate_hz, self._on_check)
        self._diag_timer = self.create_timer(1.0 / self.cfg.diagnostics_rate_hz, self._publish_diagnostics)
        self._intervention_sent = None
        self._publish_intervention()
        lim = self.limiter.cfg
        self.get_logger().info(
            "cmd_mux: " + ", ".join(f"{i.name}={self._resolved(i.topic)} (prio {i.priority}, {i.timeout_s}s)"
                                    for i in self.mux.inputs.values())
            + f" -> {self._resolved(self.cfg.output_topic)}; "
            f"limits v [{lim.v_min_mps:g}, {lim.v_max_mps:g}] m/s, |w| <= {lim.w_max_radps:g} rad/s, "
            f"accel {lim.accel_v_mps2:g} m/s^2 / {lim.accel_w_radps2:g} rad/s^2, timeout {lim.timeout_s:g} s")

    def _resolved(self, topic: str) -> str:
        """The topic's name after namespaces and remaps (what `ros2 topic list` shows)."""
        try:
            return self.resolve_topic_name(topic)
        except Exception:  # noqa: BLE001 - an rclpy without resolve_topic_name: the configured name
            return topic

    def _apply(self, new: dict, changed: list) -> str | None:
        """Runtime parameter change: apply it, or return why it is refused."""
        fixed = [n for n in changed if n in STARTUP_ONLY]
        if fixed:
            return f"{', '.join(fixed)}: {READ_AT_STARTUP}"
        cfg = new[""]
        self.mux.reconfigure(cfg)
        self.limiter.cfg = new["limiter."]
        if cfg.check_rate_hz != self.cfg.check_rate_hz:
            self.destroy_timer(self._check_timer)
            self._check_timer = self.create_timer(1.0 / cfg.check_rate_hz, self._on_check)
        if cfg.diagnostics_rate_hz != self.cfg.diagnostics_rate_hz:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = self.create_timer(1.0 / cfg.diagnostics_rate_hz, self._publish_diagnostics)
        self.cfg = cfg
        return None

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_input(self, name: str, msg) -> None:
        if self.cfg.input_stamped:
            cmd, stamp = twist_to_tuple(msg.twist), stamp_to_sec(msg.header.stamp)
        else:
            cmd, stamp = twist_to_tuple(msg), None
        before = self.mux.inputs[name].rejected
        self._emit(self.mux.on_command(name, cmd, stamp, self._now()))
        if self.mux.inputs[name].rejected > before:
            self.get_logger().warning(f"rejected a non-finite command on {self.mux.inputs[name].topic}: "
                                      f"{cmd}", throttle_duration_sec=1.0)

    def _on_estop(self, msg: Bool) -> None:
        was = self.mux.locked
        self._emit(self.mux.on_estop(msg.data, self._now()))
        if was != self.mux.locked:
            self.get_logger().warning("e-stop ENGAGED: output locked to zero" if self.mux.locked
                                      else "e-stop released")
            self._publish_diagnostics()

    def _on_check(self) -> None:
        now = self._now()
        self._emit(self.mux.tick(now))
        limited = self.limiter.tick(now)   # the limiter's own timeout
        if limited is not None:
            self._publish(limited, None)

    def _emit(self, out: MuxOutput | None) -> None:
        if out is not None:
            now = self._now()
            if out.source == "estop":
                limited = self.limiter.stop(now)
            elif out.source == "rejected":   # NaN/inf from the input in control: zero at once
                limited = self.limiter.stop(now, "non-finite command refused: stopping")
            else:
                limited = self.limiter.command(out.cmd, now)
            self._publish(limited, out.stamp_s)
        if self._intervention_sent != self.mux.intervention_active:
            self._publish_intervention()
            self._publish_diagnostics()

    def _publish(self, limited: Limited, stamp_s: float | None) -> None:
        """Publish the limiter's output, keeping the input's stamp (None: now)."""
        if limited.reason not in ("", "e-stop", "acceleration-limited"):  # a normal ramp is not news
            self.get_logger().warning(f"limiter: {limited.reason}", throttle_duration_sec=1.0)
        twist = tuple_to_twist(limited.cmd)
        if self.cfg.output_stamped:
            msg = TwistStamped()
            msg.header.frame_id = "base_link"
            msg.header.stamp = (sec_to_stamp(stamp_s) if stamp_s is not None and math.isfinite(stamp_s)
                                and stamp_s >= 0 else self.get_clock().now().to_msg())
            msg.twist = twist
        else:
            msg = twist
        self.pub.publish(msg)

    def _publish_intervention(self) -> None:
        self._intervention_sent = self.mux.intervention_active
        self.pub_intervention.publish(Bool(data=self.mux.intervention_active))
        if self.mux.intervention_active:
            self.get_logger().info(f"intervention #{self.mux.interventions}: person took over")

    def _publish_diagnostics(self) -> None:
        m = self.mux
        k = diag.CMD_MUX
        values = {k.selected: m.selected or "none", k.locked: bool(m.locked),
                  k.interventions: m.interventions, k.intervention_active: bool(m.intervention_active),
                  k.rejected_nonfinite: m.rejected_total(), k.limited: self.limiter.clamped,
                  k.limiter_refused: self.limiter.refused}
        self.pub_diag.publish(diag.build(
            k, values, self.get_clock().now().to_msg(), diag.WARN if m.locked else diag.OK,
            "locked (e-stop)" if m.locked else f"selected: {m.selected or 'none'}", hardware_id="cmd_mux"))


def main(args=None) -> int:
    return spin_main(MuxNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
