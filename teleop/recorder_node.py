"""`session_recorder` / `wmp record`: record a session's topics to MCAP (world_model_planner.teleop.recorder).

Subscriptions are raw (CDR bytes go to the file unchanged). /odom, /scan and /clock are
subscribed best-effort (compatible with reliable and sensor-data publishers), the rest
reliable. SIGINT/SIGTERM close the file with its summary; a kill -9 loses at most
``flush_period_s``; a full disk stops the recording cleanly (exit status 3).

Every message is recorded as it came (a recording is evidence), but stamped messages, /odom and
/scan are also checked (world_model_planner.teleop.recorder.RecordingValidator, bounds ``sensors.*``); invalid ones
are counted on /diagnostics (status ``session_recorder``, WARN), logged (the first per topic),
and written to the ``validation`` metadata record at close. At runtime ``flush_period_s`` and
``sensors.*`` may change (applied at once); every other parameter is refused (read at start-up).
Unknown parameters in a params file are an error naming them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from world_model_planner.teleop.recorder import SESSION_TOPICS, RecordingValidator, SessionInfo, SessionWriter
from world_model_planner.core.params import ConfigError, param, validate
from world_model_planner.core.rosutil import (READ_AT_STARTUP, LiveConfig, check_unknown_parameters,
                                         spin_main)
from world_model_planner.core.safeio import clip
from world_model_planner.core.sensor_check import SensorLimits

_COMMAND_TOPICS = ("/cmd_vel", "/cmd_vel_teleop", "/cmd_vel_nav")


@dataclass
class RecorderConfig:
    out: str = param("", "Output rosbag2 directory, created (required); a name ending in .mcap writes one "
                          "MCAP storage file instead.")
    scenario: str = param("", "Metadata: scenario name or file.")
    seed: int = param(0, "Metadata: sim seed.", range=(0, 2**31 - 1))
    operator: str = param("", "Metadata: who drives (name, 'scripted', 'planner').")
    mode: str = param("teleop", "Metadata: who drives.", choices=("teleop", "planner", "shared"))
    topics: list = param(list(SESSION_TOPICS), "Topics to record (types from the session table).")
    best_effort_topics: list = param(["/odom", "/scan", "/clock"],
                                     "Topics subscribed best-effort (the rest reliable).")
    stamped_commands: bool = param(True, "Command topics carry TwistStamped (false: Twist).")
    flush_period_s: float = param(1.0, "Close a chunk this often; bounds the loss on a crash (s).",
                                  range=(0.05, 60.0))

    def __post_init__(self):
        validate(self)
        unknown = [t for t in self.topics if t not in SESSION_TOPICS]
        if unknown:
            raise ConfigError(f"RecorderConfig.topics: expected topics from {list(SESSION_TOPICS)}, "
                              f"got unknown {unknown}")


def _msg_class(type_name: str):
    pkg, _, name = type_name.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


# Topics whose messages are deserialized for checking (stamps; /odom and /scan contents too).
_CHECKED = ("/odom", "/scan", "/goal_pose", *_COMMAND_TOPICS)
_LIVE_FIELDS = ("flush_period_s",)   # RecorderConfig fields applied at runtime


class RecorderNode(Node):
    def __init__(self):
        super().__init__("session_recorder")
        self.writer = None
        self.live = LiveConfig(self, {"": RecorderConfig, "sensors.": SensorLimits}, apply=self._apply)
        self.cfg = c = self.live[""]
        if not c.out:
            raise ConfigError("session_recorder parameter out: expected an output bag directory "
                              "(-p out:=session) or .mcap file, got ''")
        check_unknown_parameters(self)
        self.validator = RecordingValidator(self.live["sensors."])
        info = SessionInfo(scenario=c.scenario, seed=c.seed, operator=c.operator, mode=c.mode)
        try:
            self.writer = SessionWriter(c.out, info, flush_period_s=c.flush_period_s,
                                        best_effort_topics=c.best_effort_topics)
        except OSError as exc:
            raise ConfigError(f"session_recorder parameter out: cannot write {clip(c.out, 200)}: "
                              f"{exc.strerror or exc}") from None
        self._stopped = False
        self._warned: set[str] = set()
        for topic in c.topics:
            type_name = SESSION_TOPICS[topic]
            if topic in _COMMAND_TOPICS and not c.stamped_commands:
                type_name = "geometry_msgs/msg/Twist"
            qos = QoSProfile(depth=200, reliability=ReliabilityPolicy.BEST_EFFORT
                             if topic in c.best_effort_topics else ReliabilityPolicy.RELIABLE)
            cls = _msg_class(type_name)
            self.create_subscription(cls, topic,
                                     lambda data, t=topic, n=type_name, k=cls: self._on_msg(t, n, k, data),
                                     qos, raw=True)
        from diagnostic_msgs.msg import DiagnosticArray

        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(0.25, self._on_timer)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f"recording {len(c.topics)} topics to {c.out} "
                               f"(scenario={c.scenario!r} operator={c.operator!r} mode={c.mode})")

    def _apply(self, new: dict, changed: list) -> str | None:
        """Runtime parameter changes: flush_period_s and sensors.* apply at once; the rest are
        read at start-up (the file is open, the subscriptions made)."""
        fixed = [n for n in changed if not n.startswith("sensors.") and n not in _LIVE_FIELDS]
        if fixed:
            return f"{', '.join(fixed)}: {READ_AT_STARTUP}"
        self.cfg = new[""]
        if self.writer is not None:
            self.writer.flush_period_s = self.cfg.flush_period_s
        if getattr(self, "validator", None) is not None:
            self.validator.limits = new["sensors."]
        return None

    def _on_msg(self, topic: str, type_name: str, cls, data: bytes) -> None:
        if not self.writer.write_cdr(topic, type_name, data):   # recorded as it came, always
            self._check_failed()
        if topic in _CHECKED:
            self._check(topic, cls, data)

    def _check(self, topic: str, cls, data: bytes) -> None:
        from rclpy.serialization import deserialize_message

        try:
            msg = deserialize_message(data, cls)
            why = self.validator.check(topic, msg, self.get_clock().now().nanoseconds * 1e-9)
        except Exception as exc:  # noqa: BLE001 - an undecodable or absurd message is invalid
            self.validator.invalid[topic] = self.validator.invalid.get(topic, 0) + 1
            why = self.validator.last_reason = f"{topic}: {clip(str(exc) or type(exc).__name__, 120)}"
        if why and topic not in self._warned:
            self._warned.add(topic)
            self.get_logger().warning(f"invalid {topic} recorded and flagged: {why} "
                                   "(further ones are counted on /diagnostics)")

    def _publish_diagnostics(self) -> None:
        from world_model_planner.core import diagnostics as diag

        v = self.validator
        bad = v.invalid_total
        values = {**v.metadata(), diag.SESSION_RECORDER.messages: sum(self.writer.counts.values())}
        self._diag_pub.publish(diag.build(
            diag.SESSION_RECORDER, values, self.get_clock().now().to_msg(), diag.WARN if bad else diag.OK,
            f"{bad} invalid messages recorded; last: {v.last_reason}"[:250] if bad else "recording",
            hardware_id="session_recorder"))

    def _on_timer(self) -> None:
        self.writer.maybe_flush()
        self._check_failed()

    def _check_failed(self) -> None:
        if self.writer.failed and not self._stopped:
            self._stopped = True
            self.get_logger().error(f"{self.writer.failed}; {self.cfg.out} is readable up to the "
                                    "last flush. Exiting.")
            raise SystemExit(3)

    def destroy_node(self):
        if self.writer is not None:
            self.writer.add_metadata("validation", self.validator.metadata())
            self.writer.close()
            total = sum(self.writer.counts.values())
            print(f"session_recorder: closed {self.cfg.out}: {total} messages "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(self.writer.counts.items()))}); "
                  f"{self.validator.invalid_total} invalid flagged", flush=True)
        return super().destroy_node()


def main(args=None) -> int:
    return spin_main(RecorderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
