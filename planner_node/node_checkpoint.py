"""The planner node's checkpoint hot-reload (a mixin of planner_node.node.PlannerNode).

A path announced on /world_model/checkpoint is loaded only from under checkpoint_dirs, only for a
learned planner, and only when the checkpoint matches the robot and the node's sensor (lidar or
camera); a refused announcement names its sender where rclpy gives the publisher's GID. The
reload runs on its own thread and swaps the model atomically, so control never stops; a failed
reload keeps the running model and logs why.
"""
from __future__ import annotations

import threading

from std_msgs.msg import String

from world_model_planner.core.safeio import clip
from world_model_planner.planner_node.config import checkpoint_allowed, checkpoint_roots


class CheckpointReloadMixin:
    """Hot reload of announced checkpoints; needs ``p``, ``nav``, ``device``, ``_camera``,
    ``_use_chosen_path``, ``_model_path`` and ``_loader`` from the node."""

    def _on_checkpoint(self, msg: String, info=None):
        path = msg.data
        if self.nav is None or self.p.planner in ("classic", "classic_id") or path == self._model_path:
            return
        if not checkpoint_allowed(path, checkpoint_roots(self.p.checkpoint_dirs)):
            self.get_logger().warning(
                f"checkpoint announcement refused: {clip(path, 200)} is not under checkpoint_dirs "
                f"({', '.join(str(r) for r in checkpoint_roots(self.p.checkpoint_dirs))}); "
                f"sent on /world_model/checkpoint by {self._sender(info)}", throttle_duration_sec=1.0)
            return
        if self._loader is not None and self._loader.is_alive():
            self.get_logger().warning(f"checkpoint {clip(path, 200)} announced while a reload runs; it will be skipped")
            return
        self._loader = threading.Thread(target=self._reload, args=(path,), daemon=True)
        self._loader.start()

    def _sender(self, info) -> str:
        """Who published a message, from its MessageInfo's publisher GID (rclpy >= Iron)."""
        gid = (info or {}).get("publisher_gid") if isinstance(info, dict) else None
        if not gid:
            return "an unknown sender (this rclpy gives no publisher GID)"
        data = bytes(gid.get("data", b"") if isinstance(gid, dict) else gid)
        try:
            for ep in self.get_publishers_info_by_topic("/world_model/checkpoint"):
                if bytes(ep.endpoint_gid)[:len(data)] == data or data[:len(bytes(ep.endpoint_gid))] == bytes(ep.endpoint_gid):
                    ns = ep.node_namespace.rstrip("/")
                    return f"node {ns}/{ep.node_name} (publisher gid {data.hex()[:32]})"
        except Exception:  # noqa: BLE001 - naming the sender is best effort
            pass
        return f"publisher gid {data.hex()[:32]} (node unknown)"

    def _reload(self, path: str):
        from world_model_planner.planner_node.dynamics import LearnedModel

        try:
            from world_model_planner.world_model_node.checkpoint import robot_mismatch

            why = robot_mismatch(path, self.p.robot)
            if why:
                raise ValueError(why)
            model = LearnedModel.from_checkpoint(path, device=self.device)
            if bool(getattr(model, "needs_image", False)) != self._camera:
                reads, runs = ("a lidar scan", "a camera") if self._camera else ("camera frames", "a lidar")
                raise ValueError(f"it reads {reads} and the node was configured for {runs}; "
                                 "reconfigure the node (model_path) to switch")
            self._use_chosen_path(model.model)                  # the path device: auto chose
            self.nav.set_model(model, f"world model {path}")   # atomic swap; control never stops
            self._model_path = path
            self.get_logger().info(f"hot-reloaded world model {path}")
        except Exception as exc:  # noqa: BLE001 - keep the running model
            self.get_logger().error(f"checkpoint {clip(path, 200)} not loaded, keeping the current model: "
                                    f"{clip(str(exc), 300)}")


def checkpoint_callback(node):
    """The /world_model/checkpoint callback: with the MessageInfo (publisher GID) where this
    rclpy passes one to two-argument callbacks, message only where it does not (Humble)."""
    try:
        from rclpy.subscription import MessageInfo  # noqa: F401 - present where rclpy passes it
    except ImportError:
        return lambda msg: node._on_checkpoint(msg, None)
    return lambda msg, info: node._on_checkpoint(msg, info)
