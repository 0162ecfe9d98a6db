"""`cmd_mux`: thin ROS node around teleop.mux.CommandMux.

Subscribes to each configured input (default /cmd_vel_teleop priority 100, /cmd_vel_nav
priority 10) and /estop (std_msgs/Bool); publishes /cmd_vel (TwistStamped, or Twist with
``output_stamped: false``) keeping the input's header stamp, so the simulator's lockstep mode
sees the controller's stamps.

Interventions (a person input taking over while the planner is active) are published on
/mux/intervention (std_msgs/Bool, true while the person holds control; reliable,
transient_local) and counted in /diagnostics (DiagnosticStatus name "cmd_mux", key
``interventions``), together with ``selected``, ``locked`` and ``rejected_nonfinite``.
"""
from __future__ import annotations

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist, TwistStamped
from std_msgs.msg import Bool

from teleop.mux import CommandMux, MuxConfig, MuxOutput
from world_model_planner.rosutil import declare_config, sec_to_stamp, spin_main, stamp_to_sec


def twist_to_tuple(t: Twist) -> tuple:
    return (t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z)


def tuple_to_twist(c) -> Twist:
    t = Twist()
    t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z = (float(x) for x in c)
    return t


class MuxNode(Node):
    def __init__(self):
        super().__init__("cmd_mux")
        self.cfg = declare_config(self, MuxConfig)
        self.mux = CommandMux(self.cfg)
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
        self.create_timer(1.0 / self.cfg.check_rate_hz, self._on_check)
        self.create_timer(1.0 / self.cfg.diagnostics_rate_hz, self._publish_diagnostics)
        self._intervention_sent = None
        self._publish_intervention()
        self.get_logger().info(
            "cmd_mux: " + ", ".join(f"{i.name}={i.topic} (prio {i.priority}, {i.timeout_s}s)"
                                    for i in self.mux.inputs.values()) + f" -> {self.cfg.output_topic}")

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
            self.get_logger().warning(f"rejected a non-finite command on {self.mux.inputs[name].topic}: {cmd}",
                                      throttle_duration_sec=1.0)

    def _on_estop(self, msg: Bool) -> None:
        was = self.mux.locked
        self._emit(self.mux.on_estop(msg.data, self._now()))
        if was != self.mux.locked:
            self.get_logger().warning("e-stop ENGAGED: output locked to zero" if self.mux.locked
                                      else "e-stop released")
            self._publish_diagnostics()

    def _on_check(self) -> None:
        self._emit(self.mux.tick(self._now()))

    def _emit(self, out: MuxOutput | None) -> None:
        if out is not None:
            twist = tuple_to_twist(out.cmd)
            if self.cfg.output_stamped:
                msg = TwistStamped()
                msg.header.frame_id = "base_link"
                msg.header.stamp = (sec_to_stamp(out.stamp_s) if out.stamp_s is not None
                                    else self.get_clock().now().to_msg())
                msg.twist = twist
            else:
                msg = twist
            self.pub.publish(msg)
        if self._intervention_sent != self.mux.intervention_active:
            self._publish_intervention()
            self._publish_diagnostics()

    def _publish_intervention(self) -> None:
        self._intervention_sent = self.mux.intervention_active
        self.pub_intervention.publish(Bool(data=self.mux.intervention_active))
        if self.mux.intervention_active:
            self.get_logger().info(f"intervention #{self.mux.interventions}: person took over")

    def _publish_diagnostics(self) -> None:
        m = self.mux
        st = DiagnosticStatus(name="cmd_mux", hardware_id="cmd_mux",
                              level=DiagnosticStatus.WARN if m.locked else DiagnosticStatus.OK,
                              message="locked (e-stop)" if m.locked else f"selected: {m.selected or 'none'}")
        st.values = [KeyValue(key=k, value=str(v)) for k, v in (
            ("selected", m.selected or "none"), ("locked", str(m.locked).lower()),
            ("interventions", m.interventions),
            ("intervention_active", str(m.intervention_active).lower()),
            ("rejected_nonfinite", m.rejected_total()))]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)


def main(args=None) -> int:
    return spin_main(MuxNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
