"""world_model_node: the learned world model's life outside the control loop (lifecycle node).

configure: load ``model_path`` (a missing, corrupt or oversized checkpoint fails the transition
with the reason in the log; the node stays up, unconfigured, and nothing reaches the robot). activate: subscribe
``odom`` (nav_msgs/Odometry), ``scan`` (sensor_msgs/LaserScan) and ``cmd_vel`` (the command
actually sent; TwistStamped, or Twist with ``cmd_vel_stamped: false``) and publish

- ``world_model/prediction`` (visualization_msgs/MarkerArray): the current command held for
  ``prediction_horizon_s``, rolled out through the model, in the odometry frame;
- ``/diagnostics`` status ``world_model``: ``surprise_1step_m``, ``surprise_1s_m``, ``checkpoint``;
- ``/world_model/checkpoint`` (std_msgs/String, reliable + transient_local): fine-tuned
  checkpoints, when ``online_finetune`` is on (planner_node hot-reloads them).

Every /odom, /scan and cmd_vel sample is checked first (``world_model_planner.core.sensor_check``,
bounds in the ``sensors.*`` parameters): a stamp from the future, a LaserScan header with
non-finite or absurd angles, increments or range limits, too many beams, too few valid beams,
or an implausible or non-finite pose, quaternion or velocity is skipped, logged (throttled) and
counted in the diagnostics (``rejected_odom``, ``rejected_scan``, ``rejected_cmd``,
``last_rejection``). A skipped sample never reaches the model or the online fine-tuning buffer
(a rejected scan also withdraws the previous one until a valid scan arrives). Scans of another
layout (beam count, angle_min, less than 360°) are projected onto the model's beams; beams the
lidar does not cover read as no return.

Parameters (``WorldModelNodeConfig``, ``sensors.*`` = ``SensorLimits``) may change at runtime and
are applied or refused, never acknowledged and ignored (:data:`AT_CONFIGURE`,
:data:`AT_ACTIVATE`); unknown keys in a params file stop the node with one line.

A callback that raises (a model error) is logged (throttled) and skipped; the node keeps running.

The math lives in :mod:`world_model_planner.world_model_node.monitor` and :mod:`world_model_planner.world_model_node.online`.
"""
from __future__ import annotations

import functools
import math
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import LaserScan
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from world_model_planner.core.rosconv import stamp_to_sec
from world_model_planner.core.rosutil import LiveConfig, check_unknown_parameters, spin_main
from world_model_planner.core.sensor_check import SensorLimits

from world_model_planner.world_model_node.node_config import WorldModelNodeConfig, resolve_checkpoint_dir, resolve_model_path
from world_model_planner.core import diagnostics as diag
from world_model_planner.core.rosconv import odom_arrays, scan_fields, twist_values
from world_model_planner.world_model_node.node_msgs import prediction_markers
from world_model_planner.world_model_node.sensors import SensorGate

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
CHECKPOINT_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Sensor streams: best effort (matches any publisher), a deep queue so a sim running several
# times faster than real time does not drop frames while this node is busy.
SENSOR_QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)
#: Parameters read when the model is loaded: a runtime change is applied by the next configure,
#: so it is accepted only while the node is unconfigured.
AT_CONFIGURE = ("model_path", "device", "torch_threads", "online_finetune", "finetune_steps",
                "finetune_batch_size", "finetune_horizon", "finetune_lr", "replay_capacity",
                "checkpoint_dir", "surprise_horizon_s", "max_gap_s")
#: Parameters read when the subscriptions are made: accepted only while the node is not active.
AT_ACTIVATE = ("cmd_vel_stamped",)


def _guarded(callback):
    """Log (throttled) and skip a callback that raises, instead of ending the node's spin."""
    @functools.wraps(callback)
    def wrapper(self, *args):
        try:
            return callback(self, *args)
        except Exception as exc:  # noqa: BLE001 - a bad message must not take the node down
            self.get_logger().error(f"{callback.__name__}: {type(exc).__name__}: {exc}",
                                    throttle_duration_sec=5.0)
    return wrapper


class WorldModelNode(LifecycleNode):
    def __init__(self):
        super().__init__("world_model_node")
        self.live = LiveConfig(self, {"": WorldModelNodeConfig, "sensors.": SensorLimits}, apply=self._apply)
        check_unknown_parameters(self)
        self.model = self.monitor = self.replay = self.finetuner = None
        self._subs, self._timers = [], []
        self._diag_timer = self._ft_timer = None
        self._frame_id = "odom"
        self._last_pred_t = -math.inf
        self._ft_status = "off"
        self.gate = SensorGate(self.live["sensors."])
        self._warned: dict[str, float] = {}   # input -> last warning (monotonic s)

    @property
    def cfg(self) -> WorldModelNodeConfig:
        return self.live[""]

    def _apply(self, new: dict, changed: list[str]) -> str | None:
        """Put a validated runtime parameter change into effect, or say why it cannot be."""
        if self.model is not None:
            late = [n for n in changed if n in AT_CONFIGURE]
            if late:
                return (f"{', '.join(late)} take(s) effect when the model is loaded: deactivate and clean "
                        "up the node (lifecycle), set it, then configure again")
        if self._subs:
            late = [n for n in changed if n in AT_ACTIVATE]
            if late:
                return f"{', '.join(late)} take(s) effect at activation: deactivate the node, set it, activate"
        self.gate.limits = new["sensors."]
        cfg = new[""]
        if self._diag_timer is not None and cfg.diagnostics_period_s != self.cfg.diagnostics_period_s:
            self._replace_timer("_diag_timer", cfg.diagnostics_period_s, self._on_diag_timer)
        if self._ft_timer is not None and cfg.finetune_period_s != self.cfg.finetune_period_s:
            self._replace_timer("_ft_timer", cfg.finetune_period_s, self._on_finetune_timer)
        return None

    def _replace_timer(self, attr: str, period_s: float, callback) -> None:
        old = getattr(self, attr)
        new = self.create_timer(period_s, callback)
        self._timers = [new if t is old else t for t in self._timers]
        self.destroy_timer(old)
        setattr(self, attr, new)

    # -- lifecycle -----------------------------------------------------------------------
    def on_configure(self, state) -> TransitionCallbackReturn:
        from world_model_planner.world_model_node.checkpoint import CheckpointError, load_checkpoint
        from world_model_planner.world_model_node.monitor import SurpriseMonitor

        path = resolve_model_path(self.cfg)
        if self.cfg.torch_threads:
            import torch

            torch.set_num_threads(self.cfg.torch_threads)
        try:
            model = load_checkpoint(path, device=self.cfg.device)
            if model.cfg.use_image:
                raise CheckpointError(f"{path}: image models are not supported by world_model_node "
                                      "(expected a proprio + scan model)")
        except CheckpointError as exc:
            self.get_logger().error(f"configure failed: cannot use world model checkpoint: {exc}")
            return FAILURE
        except Exception as exc:  # noqa: BLE001 - any other reason is logged too, never an empty log
            self.get_logger().error(f"configure failed: cannot use world model checkpoint {path}: "
                                    f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
            return FAILURE
        self.model = model
        self.monitor = SurpriseMonitor(model, self.cfg.surprise_horizon_s, self.cfg.max_gap_s)
        if self.cfg.online_finetune:
            from world_model_planner.world_model_node.online import OnlineFinetuner, ReplayBuffer

            self.replay = ReplayBuffer(self.cfg.replay_capacity)
            self.finetuner = OnlineFinetuner(
                resolve_checkpoint_dir(self.cfg), steps=self.cfg.finetune_steps,
                batch_size=self.cfg.finetune_batch_size, horizon=self.cfg.finetune_horizon,
                lr=self.cfg.finetune_lr)
            self._ft_status = "waiting for data"
        self._pred_pub = self.create_lifecycle_publisher(MarkerArray, "world_model/prediction", 1)
        self._diag_pub = self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", 10)
        self._ckpt_pub = self.create_lifecycle_publisher(String, "/world_model/checkpoint", CHECKPOINT_QOS)
        self.get_logger().info(f"loaded {path} ({model.cfg.scan_beams} beams, dt {model.dt_s} s, "
                               f"device {model.device}); online_finetune={self.cfg.online_finetune}")
        return SUCCESS

    def on_activate(self, state) -> TransitionCallbackReturn:
        cmd_type = TwistStamped if self.cfg.cmd_vel_stamped else Twist
        self._subs = [
            self.create_subscription(Odometry, "odom", self._on_odom, SENSOR_QOS),
            self.create_subscription(LaserScan, "scan", self._on_scan, SENSOR_QOS),
            self.create_subscription(cmd_type, "cmd_vel", self._on_cmd, 10),
        ]
        self._diag_timer = self.create_timer(self.cfg.diagnostics_period_s, self._on_diag_timer)
        self._timers = [self._diag_timer]
        if self.finetuner is not None:
            self._ft_timer = self.create_timer(self.cfg.finetune_period_s, self._on_finetune_timer)
            self._timers.append(self._ft_timer)
        return super().on_activate(state)

    def on_deactivate(self, state) -> TransitionCallbackReturn:
        for sub in self._subs:
            self.destroy_subscription(sub)
        for timer in self._timers:
            self.destroy_timer(timer)
        self._subs, self._timers = [], []
        self._diag_timer = self._ft_timer = None
        return super().on_deactivate(state)

    def on_cleanup(self, state) -> TransitionCallbackReturn:
        for pub in (self._pred_pub, self._diag_pub, self._ckpt_pub):
            self.destroy_lifecycle_publisher(pub)
        self.model = self.monitor = self.replay = self.finetuner = None
        self._ft_status = "off"
        return SUCCESS

    def on_shutdown(self, state) -> TransitionCallbackReturn:
        if self._subs:
            self.on_deactivate(state)
        if self.model is not None:
            self.on_cleanup(state)
        return SUCCESS

    # -- inputs --------------------------------------------------------------------------
    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    @_guarded
    def _on_odom(self, msg: Odometry) -> None:
        t_s, pose, vel = odom_arrays(msg)
        q = msg.pose.pose.orientation
        reason = self.gate.odom(t_s, (q.x, q.y, q.z, q.w), pose, vel, self._now_s())
        if reason:
            self._reject("odom", reason)
            return
        self._frame_id = msg.header.frame_id or self._frame_id
        if not self.monitor.add_odom(t_s, pose, vel):
            return
        if self.replay is not None:
            for prev, frame in self.monitor.new_transitions:
                self.replay.add_pair(prev, frame)
        self.monitor.new_transitions.clear()
        if t_s - self._last_pred_t >= 1.0 / self.cfg.prediction_rate_hz - 1e-6:
            self._last_pred_t = t_s
            pred = self.monitor.predict(self.cfg.prediction_horizon_s)
            self._pred_pub.publish(prediction_markers(pred, self._frame_id, msg.header.stamp))

    @_guarded
    def _on_scan(self, msg: LaserScan) -> None:
        scan, reason = self.gate.scan(*scan_fields(msg), stamp_to_sec(msg.header.stamp),
                                      self._now_s(), self.model.cfg.scan_beams)
        if scan is None:
            self.monitor.scan = None      # no frame is built on an older scan until a valid one comes
            self._reject("scan", reason)
            return
        self.monitor.add_scan(scan)

    @_guarded
    def _on_cmd(self, msg) -> None:
        t_s, v, w = twist_values(msg, self.cfg.cmd_vel_stamped)
        now_s = self._now_s()
        reason = self.gate.command(t_s, v, w, now_s)
        if reason:
            self._reject("cmd_vel", reason)
            return
        self.monitor.add_command(now_s if t_s is None else t_s, v, w)

    def _reject(self, what: str, reason: str) -> None:
        """Log a skipped sample: one warning per input per 5 s (wall), each input on its own."""
        now = time.monotonic()
        if now - self._warned.get(what, -math.inf) >= 5.0:
            self._warned[what] = now
            total = self.gate.rejected["cmd" if what == "cmd_vel" else what]
            self.get_logger().warning(f"skipping {what} sample: {reason} ({total} skipped so far)")

    # -- timers --------------------------------------------------------------------------
    @_guarded
    def _on_diag_timer(self) -> None:
        if self.finetuner is not None:
            self._collect_finetune()
        s = self.monitor.take_surprise()
        fresh = self.gate.take_new_rejections()
        if fresh:
            level, message = 1, f"{fresh} sensor sample(s) skipped: {self.gate.last_reason}"
        elif s["samples"] == 0:
            level, message = 1, "no data (waiting for odom, scan and cmd_vel)"
        elif s["surprise_1s_m"] > self.cfg.surprise_warn_m:
            level, message = 1, f"surprise_1s_m {s['surprise_1s_m']:.2f} m > {self.cfg.surprise_warn_m} m"
        else:
            level, message = 0, "ok"
        values = {**s, "checkpoint": getattr(self.model, "checkpoint_path", ""),
                  "online_finetune": self._ft_status, **self.gate.counters()}
        self._diag_pub.publish(diag.build(diag.WORLD_MODEL, values, self.get_clock().now().to_msg(),
                                          level, message, self.get_fully_qualified_name()))

    @_guarded
    def _on_finetune_timer(self) -> None:
        if self.finetuner.busy:
            return
        data = self.replay.transitions()
        if self.finetuner.start(self.model, data):
            self._ft_status = f"round {self.finetuner.rounds} running on {len(data)} rows"
        else:
            self._ft_status = f"waiting for data ({len(data)}/{self.finetuner.min_rows} rows)"

    def _collect_finetune(self) -> None:
        res = self.finetuner.result()
        if res is None:
            return
        if res.error:
            self._ft_status = f"round {self.finetuner.rounds} failed: {res.error}"
            self.get_logger().error(f"online fine-tuning failed: {res.error}")
            return
        verdict = "accepted" if res.accepted else "rejected"
        self._ft_status = (f"round {self.finetuner.rounds} {verdict}: held-out error "
                           f"{res.val_before:.3f} -> {res.val_after:.3f} m ({res.took_s:.1f} s)")
        self.get_logger().info(f"online fine-tuning {self._ft_status}")
        if res.accepted:
            self.model = res.model.to(self.model.device).eval()
            self.monitor.set_model(self.model)
            self._ckpt_pub.publish(String(data=res.path))
            self.get_logger().info(f"announced new checkpoint {res.path}")


def main(args=None) -> int:
    return spin_main(WorldModelNode, args)


if __name__ == "__main__":
    sys.exit(main())
