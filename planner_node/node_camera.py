"""planner_node's camera inputs (a mixin of PlannerNode, planner_node/node.py): camera-only
planning and goal pictures, messages → the Navigator's camera path and nothing more.

- With a camera world model (``LearnedModel.needs_image``: trained with ``use_image`` and
  ``use_scan: false``) the node plans from odometry and the frames on ``camera_topic``; no
  /scan is subscribed. The camera's depth on ``depth_topic`` (unless '') becomes a scan
  (planner_node/depth_scan.py, ``depth.*``) for the subgoal map, the clearance critics and the
  recoveries; a depth frame that cannot be read, or is too old, stops the robot as a bad scan
  does. ``scan: none`` asks for exactly that and fails configure with any other
  model. A frame is centre-cropped and area-averaged to the model's image size
  (core.rosconv.image_rgb); a frame that cannot be read, or is older than ``max_sensor_age_s``,
  stops the robot with the reason, as a bad scan does.
- ``goal_image`` (sensor_msgs/Image): a picture taken where the robot should go. The camera
  model embeds it once and the planner minimises the latent distance to it
  (planner_node/goal_image.py). It replaces a pose goal and a waypoint route; a pose goal
  replaces it. Refused with the reason (log line, /diagnostics) without a camera model.
"""
from __future__ import annotations

from sensor_msgs.msg import Image

from world_model_planner.core.rosconv import depth_m, image_rgb, stamp_to_sec
from world_model_planner.planner_node.depth_scan import DepthScan, footprint_of

_THROTTLE_S = 2.0


class CameraInputsMixin:
    """Camera frames and goal pictures for PlannerNode (uses its nav, p, _subs, _refuse_goal,
    _publish_diag, _route, _frame_goal, _gate, _keep_scan)."""

    def _setup_camera(self) -> None:
        """Subscriptions for the model configure just loaded: the camera for a camera model;
        goal_image always (refused with the reason without a camera model)."""
        self._camera = bool(getattr(self.nav.model, "needs_image", False))
        self._depth = self._camera and bool(self.p.depth_topic.strip())
        self._image = None                     # (stamp_s, frame (S, S, 3) uint8 or None, fault)
        self._depth_scan = None                # (config, (h, w), footprint, DepthScan) for the latest depth
        if self._camera:
            self._subs.append(self.create_subscription(Image, self.p.camera_topic, self._on_image, 1))
            if self._depth:
                self._subs.append(self.create_subscription(Image, self.p.depth_topic, self._on_depth, 1))
                self.get_logger().info(f"camera world model: planning from odometry, {self.p.camera_topic} and "
                                       f"the depth on {self.p.depth_topic} as a scan (subgoal map, clearance, "
                                       "recoveries); no /scan")
            else:
                self.get_logger().info(f"camera world model: planning from odometry and {self.p.camera_topic}; "
                                       "no /scan and no depth_topic (the subgoal layer and the recoveries need "
                                       "a range sensor, so the planner aims straight at the goal)")
        self._subs.append(self.create_subscription(Image, "goal_image", self._on_goal_image, 1))

    @staticmethod
    def camera_refusal(scan: str, model) -> str:
        """Why ``scan`` cannot work with ``model`` ('' when it can)."""
        if scan == "none" and not getattr(model, "needs_image", False):
            return ("scan: none (camera only) needs a camera world model (trained with use_image and "
                    "use_scan: false, e.g. models/husky_camera.pt); set model_path to one")
        return ""

    def _on_image(self, msg: Image) -> None:
        t = stamp_to_sec(msg.header.stamp)
        try:
            frame = image_rgb(msg, self.nav.model.image_size)
        except ValueError as exc:
            why = str(exc)[:200]       # image_rgb quotes what it read (repr)
            self.get_logger().warning(f"camera image refused, stopping: {why}", throttle_duration_sec=_THROTTLE_S)
            self._image = (t, None, f"invalid camera image: {why}")
            return
        self._image = (t, frame, "")

    def _on_depth(self, msg: Image) -> None:
        """A depth frame → the scan it shows (planner_node/depth_scan.py), kept where a lidar's
        scan would be (``_scan``), placed at the odometry pose nearest its stamp."""
        t = stamp_to_sec(msg.header.stamp)
        try:
            depth = depth_m(msg)
            cfg, shape = self._plan_live["depth."], depth.shape
            body = footprint_of(self._plan_live["critics."])   # the robot's own body is no obstacle
            if self._depth_scan is None or self._depth_scan[:3] != (cfg, shape, body):
                self._depth_scan = (cfg, shape, body, DepthScan(cfg, shape[1], shape[0], footprint=body))
            scanner = self._depth_scan[3]
            ranges = scanner.scan(depth)
        except ValueError as exc:
            why = str(exc)[:200]
            self.get_logger().warning(f"depth image refused, stopping: {why}", throttle_duration_sec=_THROTTLE_S)
            self._scan, self._new_scan = (t, None, None, None, f"invalid depth image: {why}"), False
            return
        self._keep_scan(t, ranges, scanner.geom)

    def _on_goal_image(self, msg: Image) -> None:
        if self.nav is None:
            return
        try:
            frame = image_rgb(msg, getattr(self.nav.model, "image_size", 64))
        except ValueError as exc:
            self._refuse_goal(self.nav.refuse(f"goal image: {str(exc)[:200]}"))
            return
        ok, why = self.nav.set_goal_image(frame)
        if not ok:
            self._refuse_goal(why)
            return
        self._route = self._frame_goal = None        # a goal picture replaces a route or a frame goal
        self._gate.clear()
        self.get_logger().info(f"goal image accepted ({msg.width}x{msg.height} {str(msg.encoding)[:20]})")
        self._publish_diag(force=True)
