"""planner_node's goals in other frames, waypoint routes and the prior map (a mixin of
PlannerNode, planner_node/node.py): messages → the library classes of localization.py,
waypoints.py and prior_map.py, and nothing more.

- A goal whose frame is not odom is kept as given (localization.FrameGoal) and expressed in odom
  with the latest transform: the localization pose on ``localization_topic`` paired with /odom
  by stamp, else tf2 where importable. Without one within ``transform_timeout_s`` the goal is
  refused with the reason (state "waiting" and zero commands until then). Each tick the goal is
  re-expressed, so a map → odom correction moves it in odom and not in the world.
- /waypoints (nav_msgs/Path, poses in any frame) are pursued in order; each reached one is a
  ``waypoint_reached`` event (log line, /diagnostics keys waypoint_reached, waypoints_reached).
- ``prior_map``: the OccupancyGrid on ``map_topic`` seeds the subgoal grid once its frame's
  transform is known; the scans keep updating the grid.
"""
from __future__ import annotations

import math
import time

import numpy as np
from geometry_msgs.msg import PoseWithCovarianceStamped
from nav_msgs.msg import OccupancyGrid, Path

from world_model_planner.core.rosconv import stamp_to_sec, yaw_of
from world_model_planner.core.safeio import clip
from world_model_planner.core.sensor_check import check_quaternion

from world_model_planner.planner_node.goals import Goal
from world_model_planner.planner_node.localization import FrameGoal, FrameResolver
from world_model_planner.planner_node.prior_map import MapArrays, seed_grid
from world_model_planner.planner_node.waypoints import MAX_WAYPOINTS, WaypointRoute

_THROTTLE_S = 2.0


class GoalFramesMixin:
    """Goal frames, waypoints and the prior map for PlannerNode (uses its nav, p, _gate,
    _send, _refuse_goal, _publish_diag, _last, _subs)."""

    def _setup_frames(self, latched):
        """Transforms for goal frames: the localization pose (localization_topic, paired with
        /odom by stamp) and tf2 where importable; the prior map subscription."""
        sources, tf_lookup = [], None
        if self.p.localization_topic:
            self._subs.append(self.create_subscription(PoseWithCovarianceStamped, self.p.localization_topic,
                                                       self._on_localization, 10))
            sources.append(f"localization_topic '{self.p.localization_topic}'")
        try:
            import tf2_ros

            self._tf_buffer = tf2_ros.Buffer()
            self._tf_listener = tf2_ros.TransformListener(self._tf_buffer, self)
            tf_lookup = self._tf_lookup
            sources.append("tf2")
        except ImportError:
            self._tf_listener = None
        source = " or ".join(sources) or "no localization_topic is set and tf2_ros is not importable"
        self._frames = FrameResolver(getattr(self, "_odom_frame", "odom"), self._est, tf_lookup, source)
        self._prior, self._prior_note = None, "off"
        if self.p.prior_map:
            self._prior_note = f"waiting for {self.p.map_topic}"
            self._subs.append(self.create_subscription(OccupancyGrid, self.p.map_topic, self._on_map, latched))

    def _tf_lookup(self, frame: str):
        """The pose of odom in ``frame`` from tf2 (latest), or None."""
        from rclpy.time import Time

        try:
            tr = self._tf_buffer.lookup_transform(frame, self._frames.odom_frame, Time()).transform
        except Exception:  # noqa: BLE001 - tf2 raises several lookup errors; all mean "not known"
            return None
        return np.array([tr.translation.x, tr.translation.y, yaw_of(tr.rotation)])

    def _on_localization(self, msg: PoseWithCovarianceStamped):
        q, p = msg.pose.pose.orientation, msg.pose.pose.position
        bad_q = check_quaternion(q.x, q.y, q.z, q.w)
        frame = msg.header.frame_id
        why = f"orientation {bad_q}" if bad_q else ("" if frame else "header.frame_id is empty")
        if not why:
            why = self._est.update(frame, stamp_to_sec(msg.header.stamp), (p.x, p.y, yaw_of(q)))
        if why:
            self.get_logger().warning(f"{self.p.localization_topic}: pose skipped: {why}",
                                      throttle_duration_sec=_THROTTLE_S)
            return
        self._seed_prior()

    def _on_frame_goal(self, frame: str, goal: Goal, q):
        vals = [goal.x, goal.y] + ([goal.yaw] if goal.yaw is not None else [])
        problem = "" if all(math.isfinite(v) for v in vals) else \
            f"goal has non-finite values (x={goal.x}, y={goal.y}, yaw={goal.yaw})"
        if self.p.use_goal_yaw and not problem:
            bad_q = check_quaternion(q.x, q.y, q.z, q.w)
            problem = bad_q and f"goal {bad_q}"
        if problem:
            self._frame_goal = None
            self._gate.clear()
            return self._refuse_goal(self.nav.refuse(problem))
        cur = self._frame_goal
        if cur is not None and cur.frame == frame and self.nav.state not in ("refused", "idle") and \
                goal.same_as(Goal(cur.x, cur.y, cur.yaw), self._gate.same_m, self._gate.same_rad):
            return                                   # a repeat (RViz, behaviour trees) changes nothing
        self._gate.clear()
        self._pursue(FrameGoal(frame, goal.x, goal.y, goal.yaw, time.monotonic()))

    def _pursue(self, fg: FrameGoal):
        """Express ``fg`` in odom and pursue it; wait (stopped) for its transform up to
        transform_timeout_s, then refuse."""
        self._frame_goal = fg
        status, val = self._frames.resolve(fg, time.monotonic(), self.p.transform_timeout_s)
        if status == "ok":
            ok, reason = self.nav.set_goal(*val)
            if not ok:
                return self._refuse_frame_goal(reason)
            self.get_logger().info(f"goal accepted: ({fg.x:.2f}, {fg.y:.2f}) in '{fg.frame}' = "
                                   f"({val[0]:.2f}, {val[1]:.2f}) in '{self._frames.odom_frame}'"
                                   + (f" ({self._route.label()})" if self._route else ""))
            self._publish_diag(force=True)
            return
        if status == "refuse":
            return self._refuse_frame_goal(val)
        self.nav.cancel()
        self.nav.state, self.nav.reason = "waiting", val
        self._send(0.0, 0.0, self.get_clock().now().to_msg())
        self._publish_diag()

    def _refuse_frame_goal(self, reason: str):
        if self._route is not None:
            reason = f"{self._route.label()} refused: {reason}"
        self._route = self._frame_goal = None
        self._refuse_goal(self.nav.refuse(reason))

    def _reexpress(self):
        """Localization corrected map → odom: move the goal in odom so it stays put in its frame."""
        fg = self._frame_goal
        tr = self._frames.lookup(fg.frame)
        if tr is None or self.nav.state not in ("planning", "stopped", "reached"):
            return
        x, y, yaw = fg.in_odom(tr)
        if not self.nav.is_same_goal(x, y, yaw, self.nav.tolerance_m):
            ok, reason = self.nav.set_goal(x, y, yaw, self.nav.tolerance_m)
            if not ok:
                self._refuse_frame_goal(reason)

    def _on_waypoints(self, msg: Path):
        if self.nav is None:
            return
        n = len(msg.poses)
        self._gate.clear()
        if n == 0:                                   # an empty path cancels the route
            self._route = self._frame_goal = None
            self.nav.cancel()
            self._send(0.0, 0.0, self.get_clock().now().to_msg())
            self.get_logger().info("waypoints: empty path, route cancelled")
            return self._publish_diag(force=True)
        self._route = None
        if n > MAX_WAYPOINTS:
            return self._refuse_frame_goal(f"/waypoints: {n} poses, at most {MAX_WAYPOINTS} are taken")
        now, goals = time.monotonic(), []
        for i, ps in enumerate(msg.poses):
            p, q = ps.pose.position, ps.pose.orientation
            yaw = yaw_of(q) if self.p.use_goal_yaw else None
            if not all(math.isfinite(v) for v in [p.x, p.y] + ([yaw] if yaw is not None else [])):
                return self._refuse_frame_goal(f"/waypoints pose {i}: non-finite values (x={p.x}, y={p.y})")
            frame = ps.header.frame_id or msg.header.frame_id or self._frames.odom_frame
            goals.append(FrameGoal(frame, p.x, p.y, yaw, now))
        self._route = WaypointRoute(goals)
        self._last["waypoint_reached"] = ""
        self.get_logger().info(f"waypoints: {n} goals in frame(s) {sorted({g.frame for g in goals})}")
        self._pursue(goals[0])

    def _waypoint_reached(self, t_s: float):
        r = self._route
        i = r.index
        nxt = r.reached(t_s)
        self._last["waypoint_reached"] = f"{i + 1}/{len(r)} at {t_s:.2f} s"
        self.get_logger().info(f"waypoint_reached {i + 1}/{len(r)} at t={t_s:.2f} s")
        if nxt is None:
            return self._publish_diag(force=True)
        nxt.received_s = time.monotonic()
        self._pursue(nxt)

    def _on_map(self, msg: OccupancyGrid):
        i, o = msg.info, msg.info.origin
        try:
            prior = MapArrays.from_fields(msg.header.frame_id or "map", i.width, i.height, i.resolution,
                                          (o.position.x, o.position.y, yaw_of(o.orientation)), msg.data)
        except ValueError as exc:
            self._prior_note = f"refused: {clip(str(exc), 150)}"
            self.get_logger().warning(f"{self.p.map_topic}: prior map refused: {exc}")
            return
        self._prior = prior
        self._prior_note = f"waiting for a transform from '{prior.frame}' to '{self._frames.odom_frame}'"
        self._seed_prior()

    def _seed_prior(self):
        """Seed the subgoal grid from the prior map once its frame's transform is known."""
        if self._prior is None or self.nav is None:
            return
        if self.nav.subgoals is None:
            self._prior, self._prior_note = None, f"unused: the {self.p.planner} planner has no grid"
            return
        tr = self._frames.lookup(self._prior.frame)
        if tr is None:
            return
        n = seed_grid(self.nav.subgoals.grid, self._prior, tr)
        self.nav.subgoals.last_plan_t = None             # search again over the seeded grid
        self._prior_note = f"seeded {n} cells from '{self._prior.frame}'"
        self.get_logger().info(f"prior map: {self._prior_note}")
        self._prior = None
