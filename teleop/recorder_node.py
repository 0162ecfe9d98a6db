"""`session_recorder` / `wmp record`: record a session's topics to MCAP (teleop.recorder).

Subscriptions are raw (CDR bytes go to the file unchanged). /odom, /scan and /clock are
subscribed best-effort (compatible with reliable and sensor-data publishers), the rest
reliable. SIGINT/SIGTERM close the file with its summary; a kill -9 loses at most
``flush_period_s``; a full disk stops the recording cleanly (exit status 3).
"""
from __future__ import annotations

import importlib
import signal
from dataclasses import dataclass

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from teleop.recorder import SESSION_TOPICS, SessionInfo, SessionWriter
from world_model_planner.params import ConfigError, param, validate
from world_model_planner.rosutil import declare_config, spin_main

_COMMAND_TOPICS = ("/cmd_vel", "/cmd_vel_teleop", "/cmd_vel_nav")


@dataclass
class RecorderConfig:
    out: str = param("", "Output .mcap file (required).")
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


class RecorderNode(Node):
    def __init__(self):
        super().__init__("session_recorder")
        self.cfg = c = declare_config(self, RecorderConfig)
        if not c.out:
            raise ConfigError("session_recorder parameter out: expected an output file path "
                              "(-p out:=session.mcap), got ''")
        info = SessionInfo(scenario=c.scenario, seed=c.seed, operator=c.operator, mode=c.mode)
        self.writer = SessionWriter(c.out, info, flush_period_s=c.flush_period_s)
        self._stopped = False
        for topic in c.topics:
            type_name = SESSION_TOPICS[topic]
            if topic in _COMMAND_TOPICS and not c.stamped_commands:
                type_name = "geometry_msgs/msg/Twist"
            qos = QoSProfile(depth=200, reliability=ReliabilityPolicy.BEST_EFFORT
                             if topic in c.best_effort_topics else ReliabilityPolicy.RELIABLE)
            self.create_subscription(_msg_class(type_name), topic,
                                     lambda data, t=topic, n=type_name: self._on_msg(t, n, data),
                                     qos, raw=True)
        self.create_timer(0.25, self._on_timer)
        self.get_logger().info(f"recording {len(c.topics)} topics to {c.out} "
                               f"(scenario={c.scenario!r} operator={c.operator!r} mode={c.mode})")

    def _on_msg(self, topic: str, type_name: str, data: bytes) -> None:
        if not self.writer.write_cdr(topic, type_name, data):
            self._check_failed()

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
        self.writer.close()
        total = sum(self.writer.counts.values())
        print(f"session_recorder: closed {self.cfg.out}: {total} messages "
              f"({', '.join(f'{k} {v}' for k, v in sorted(self.writer.counts.items()))})", flush=True)
        return super().destroy_node()


def _sigterm_as_interrupt(*_):
    raise KeyboardInterrupt


def main(args=None) -> int:
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    return spin_main(RecorderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
