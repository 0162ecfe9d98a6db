"""world_model_node: the learned world model's life outside the control loop (lifecycle node).

configure: load ``model_path`` (a missing or corrupt checkpoint fails the transition with the
reason; the node stays up, unconfigured, and nothing reaches the robot). activate: subscribe
``odom`` (nav_msgs/Odometry), ``scan`` (sensor_msgs/LaserScan) and ``cmd_vel`` (the command
actually sent; TwistStamped, or Twist with ``cmd_vel_stamped: false``) and publish

- ``world_model/prediction`` (visualization_msgs/MarkerArray): the current command held for
  ``prediction_horizon_s``, rolled out through the model, in the odometry frame;
- ``/diagnostics`` status ``world_model``: ``surprise_1step_m``, ``surprise_1s_m``, ``checkpoint``;
- ``/world_model/checkpoint`` (std_msgs/String, reliable + transient_local): fine-tuned
  checkpoints, when ``online_finetune`` is on (planner_node hot-reloads them).

A callback that raises (a malformed message, a model error) is logged (throttled) and
skipped; the node keeps running.

The math lives in :mod:`world_model_node.monitor` and :mod:`world_model_node.online`.
"""
from __future__ import annotations

import functools
import math
import sys
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import LaserScan
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from world_model_planner.rosutil import declare_config, spin_main

from .node_config import WorldModelNodeConfig, resolve_checkpoint_dir, resolve_model_path
from .node_msgs import diagnostics, odom_arrays, prediction_markers, twist_command

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
CHECKPOINT_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Sensor streams: best effort (matches any publisher), a deep queue so a sim running several
# times faster than real time does not drop frames while this node is busy.
SENSOR_QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)


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
        self.cfg = declare_config(self, WorldModelNodeConfig)
        self.model = self.monitor = self.replay = self.finetuner = None
        self._subs, self._timers = [], []
        self._frame_id = "odom"
        self._last_pred_t = -math.inf
        self._ft_status = "off"
        self._nan_warned: dict[str, float] = {}   # input -> last warning (monotonic s)

    # -- lifecycle -----------------------------------------------------------------------
    def on_configure(self, state) -> TransitionCallbackReturn:
        from .checkpoint import CheckpointError, load_checkpoint
        from .monitor import SurpriseMonitor

        path = resolve_model_path(self.cfg)
        if self.cfg.torch_threads:
            import torch

            torch.set_num_threads(self.cfg.torch_threads)
        try:
            model = load_checkpoint(path, device=self.cfg.device)
            if model.cfg.use_image:
                raise CheckpointError(f"{path}: image models are not supported by world_model_node "
                                      "(expected a proprio + scan model)")
        except (CheckpointError, RuntimeError, ValueError, OSError) as exc:
            self.get_logger().error(f"configure failed: cannot use world model checkpoint: {exc}")
            return FAILURE
        self.model = model
        self.monitor = SurpriseMonitor(model, self.cfg.surprise_horizon_s, self.cfg.max_gap_s)
        if self.cfg.online_finetune:
            from .online import OnlineFinetuner, ReplayBuffer

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
        self._timers = [self.create_timer(self.cfg.diagnostics_period_s, self._on_diag_timer)]
        if self.finetuner is not None:
            self._timers.append(self.create_timer(self.cfg.finetune_period_s, self._on_finetune_timer))
        return super().on_activate(state)

    def on_deactivate(self, state) -> TransitionCallbackReturn:
        for sub in self._subs:
            self.destroy_subscription(sub)
        for timer in self._timers:
            self.destroy_timer(timer)
        self._subs, self._timers = [], []
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
    @_guarded
    def _on_odom(self, msg: Odometry) -> None:
        t_s, pose, vel = odom_arrays(msg)
        if not (np.all(np.isfinite(pose)) and np.all(np.isfinite(vel)) and math.isfinite(t_s)):
            self._warn_nan("odom")
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
        from .monitor import resample_scan

        ranges = np.asarray(msg.ranges, dtype=np.float32)
        if np.isnan(ranges).any():  # REP-117 invalid readings: treated as no return
            self._warn_nan("scan (nan readings treated as no return)")
        cfg = self.model.cfg
        self.monitor.add_scan(resample_scan(ranges, msg.angle_min, msg.angle_increment,
                                            cfg.scan_beams, cfg.range_max_m))

    @_guarded
    def _on_cmd(self, msg) -> None:
        t_s, v, w = twist_command(msg, self.cfg.cmd_vel_stamped)
        if not (math.isfinite(v) and math.isfinite(w)):
            self._warn_nan("cmd_vel")
            return
        if t_s is None:
            t_s = self.get_clock().now().nanoseconds * 1e-9
        self.monitor.add_command(t_s, v, w)

    def _warn_nan(self, what: str) -> None:
        """One warning per input per 5 s (wall), each input throttled on its own."""
        now = time.monotonic()
        if now - self._nan_warned.get(what, -math.inf) >= 5.0:
            self._nan_warned[what] = now
            self.get_logger().warn(f"ignoring non-finite values in {what}")

    # -- timers --------------------------------------------------------------------------
    @_guarded
    def _on_diag_timer(self) -> None:
        if self.finetuner is not None:
            self._collect_finetune()
        s = self.monitor.take_surprise()
        if s["samples"] == 0:
            level, message = 1, "no data (waiting for odom, scan and cmd_vel)"
        elif s["surprise_1s_m"] > self.cfg.surprise_warn_m:
            level, message = 1, f"surprise_1s_m {s['surprise_1s_m']:.2f} m > {self.cfg.surprise_warn_m} m"
        else:
            level, message = 0, "ok"
        values = {**s, "checkpoint": getattr(self.model, "checkpoint_path", ""),
                  "online_finetune": self._ft_status}
        self._diag_pub.publish(diagnostics("world_model", level, message, values,
                                           self.get_clock().now().to_msg(),
                                           self.get_fully_qualified_name()))

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
