"""planner_node: a thin lifecycle node around world_model_planner.planner_node.navigator.Navigator.

In: /goal_pose (any frame with a transform to odom), /waypoints (nav_msgs/Path), /odom, /scan,
/world_model/checkpoint, localization_topic and map_topic (when set); with a camera world model
camera_topic in place of /scan, and /goal_image (planner_node/node_camera.py). Out: /cmd_vel_nav, /plan,
/planner/global_path, /planner/rollouts, /diagnostics (name "planner"). Parameters: see
planner_node/config.py (declared once from the dataclasses) and config/planner.yaml.

Nothing in a message is trusted (world_model_planner.core.sensor_check): a sensor stamp too old or
from the future, odometry that is non-finite or implausible, and a LaserScan whose header or
ranges fail ``check_scan`` each stop the robot (zero command, reason in the diagnostics, a
throttled log line) until good data arrives. Valid scans are used with their own geometry.
Runtime parameter changes are applied at once or refused (config.live_change_refusal); goal
messages go through goals.GoalGate; checkpoint announcements must point into checkpoint_dirs.
"""
from __future__ import annotations

import collections
import time

import numpy as np
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from nav_msgs.msg import Odometry, Path
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import LaserScan
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray
from diagnostic_msgs.msg import DiagnosticArray

from world_model_planner.core import diagnostics as diag
from world_model_planner.core.rosconv import twist_msg, yaw_of
from world_model_planner.core.rosutil import LiveConfig, check_unknown_parameters, spin_main
from world_model_planner.core.safeio import clip
from world_model_planner.core.sensor_check import check_quaternion, stamp_age

from world_model_planner.planner_node import messages as m
from world_model_planner.planner_node.budget import AdaptiveBudget
from world_model_planner.planner_node.config import SECTIONS, PlannerNodeConfig, live_change_refusal
from world_model_planner.planner_node.goals import Goal, GoalGate
from world_model_planner.planner_node.localization import FrameEstimator, FrameGoal, FrameResolver
from world_model_planner.planner_node.node_camera import CameraInputsMixin
from world_model_planner.planner_node.node_checkpoint import CheckpointReloadMixin, checkpoint_callback
from world_model_planner.planner_node.node_frames import GoalFramesMixin
from world_model_planner.planner_node.prior_map import MapArrays
from world_model_planner.planner_node.waypoints import WaypointRoute
from world_model_planner.planner_node.navigator import PlannerConfig

_THROTTLE_S = 2.0


class PlannerNode(GoalFramesMixin, CameraInputsMixin, CheckpointReloadMixin, LifecycleNode):
    def __init__(self):
        super().__init__("planner_node")
        self._configured = False
        self.nav = None
        # every parameter is applied at once, or refused with the reason (config.CONFIGURE_ONLY)
        self._node_live = LiveConfig(self, {"": PlannerNodeConfig}, apply=self._apply_node_params)
        self._plan_live = LiveConfig(self, dict(SECTIONS), apply=self._apply_planner_params)
        check_unknown_parameters(self)
        nc = self.cfg.nav
        self._gate = GoalGate(self.p.min_goal_interval_s, nc.same_goal_tolerance_m, nc.same_goal_tolerance_rad)
        self._odom = self._scan = None    # (stamp_s, pose, vel, fault) / (stamp_s, ranges, pose, geom, fault)
        self._odom_hist = collections.deque(maxlen=40)
        self._scan_pose_t = None          # stamp of the odometry pose the latest scan is placed at
        self._new_scan = False
        self._camera, self._image = False, None      # camera world model; its latest frame (node_camera.py)
        self._depth = False                          # its depth as the scan (depth_topic)
        self._plan_ms = collections.deque(maxlen=20)
        self.budget: AdaptiveBudget | None = None      # samples x horizon against the period (budget.*)
        self._fused, self._matmul_dtype = True, None   # the rollout path device: auto chose (bf16 products)
        self._last = {"diag": 0.0, "markers": 0.0, "state": None, "path_plans": -1}
        self._active = False
        self._loader = None
        self._model_path = ""
        self._ents = []
        self._est = FrameEstimator(self.p.localization_pair_tolerance_s)
        self._frames = FrameResolver("odom", self._est)
        self._frame_goal: FrameGoal | None = None   # the goal as given, when not in odom
        self._route: WaypointRoute | None = None
        self._prior: MapArrays | None = None
        self._prior_note = "off"
        if self.p.autostart:
            self._boot = self.create_timer(0.01, self._autostart)

    @property
    def p(self) -> PlannerNodeConfig:
        return self._node_live[""]

    @property
    def cfg(self) -> PlannerConfig:
        return self._planner_config(self._plan_live.cfgs)

    @property
    def limits(self):
        return self._plan_live["sensors."]

    @staticmethod
    def _planner_config(cfgs: dict) -> PlannerConfig:
        return PlannerConfig(cfgs[""], cfgs["mppi."], cfgs["critics."], cfgs["subgoal."], cfgs["tracking."],
                             cfgs["recovery."], cfgs["caution."])

    def _autostart(self):
        self._boot.cancel()
        try:
            ok = self.trigger_configure() == TransitionCallbackReturn.SUCCESS
        except Exception as exc:  # noqa: BLE001 - Jazzy's rclpy raises where Kilted's logs
            self.get_logger().error(f"autostart: configure raised {type(exc).__name__}: {exc}")
            ok = False
        if not ok:
            self.get_logger().error("autostart: configure failed; staying unconfigured (fix the cause, "
                                    "then configure through the lifecycle services)")
            return
        try:
            self.trigger_activate()
        except Exception as exc:  # noqa: BLE001
            self.get_logger().error(f"autostart: activate raised {type(exc).__name__}: {exc}")

    # --- runtime parameters -------------------------------------------------------------------
    def _apply_node_params(self, new: dict, changed: list) -> str | None:
        why = live_change_refusal(changed, self._configured)
        if why is None:
            self._gate.min_interval_s = new[""].min_goal_interval_s
            self._est.pair_tolerance_s = new[""].localization_pair_tolerance_s
        return why

    def _apply_planner_params(self, new: dict, changed: list) -> str | None:
        why = live_change_refusal(changed, self._configured)
        if why is not None:
            return why
        cfg = self._planner_config(new)
        if self.budget is not None:
            self.budget.configure(new["budget."], *self._budget_sizes(cfg))
        if self.nav is not None:                   # takes effect at the next tick; control goes on
            self.nav.reconfigure(cfg, self.budget.current if self.budget is not None else None)
        self._gate.same_m, self._gate.same_rad = cfg.nav.same_goal_tolerance_m, cfg.nav.same_goal_tolerance_rad
        return None

    # --- lifecycle ----------------------------------------------------------------------------
    def on_configure(self, state):
        import torch

        from world_model_planner.planner_node.navigator import make_navigator
        from world_model_planner.core.runtime import pick_device

        try:
            if self.p.torch_threads:
                torch.set_num_threads(self.p.torch_threads)
            self.device = pick_device(self.p.device)
            # a checkpoint named explicitly must exist; only the shipped default may be absent
            self.nav = make_navigator(self.p.planner, self.p.model_path or None, self.cfg, self.device,
                                      missing_ok=not self.p.model_path, sysid_path=self.p.sysid_path or None,
                                      robot=self.p.robot)
            why = self.camera_refusal(self.p.scan, self.nav.model)
            if why:
                raise ValueError(why)
            self._fused, self._matmul_dtype = True, None
            if self.p.device.strip().lower() == "auto" and hasattr(getattr(self.nav.model, "model", None),
                                                                  "rollout_heads"):
                self._auto_device()
            samples, horizon, floor = self._budget_sizes(self.cfg)
            self.budget = AdaptiveBudget(self._plan_live["budget."], samples, horizon,
                                         1.0 / self.p.control_rate_hz, floor)
        except Exception as exc:  # noqa: BLE001 - refuse the transition with the reason
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._model_path = self.p.model_path
        self._gate.clear()
        self.get_logger().info(f"planner '{self.p.planner}' on {self.device}, model: {self.nav.model_desc}")
        cmd_type = TwistStamped if self.p.cmd_stamped else Twist
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub_cmd = self.create_publisher(cmd_type, "cmd_vel_nav", 10)
        self.pub_plan = self.create_publisher(Path, "plan", 10)
        self.pub_global = self.create_publisher(Path, "planner/global_path", 10)
        self.pub_markers = self.create_publisher(MarkerArray, "planner/rollouts", 2)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._ents = [self.pub_cmd, self.pub_plan, self.pub_global, self.pub_markers, self.pub_diag]
        self._subs = [
            self.create_subscription(PoseStamped, "goal_pose", self._on_goal, 10),
            self.create_subscription(Odometry, "odom", self._on_odom, 1),
            self.create_subscription(String, "/world_model/checkpoint", checkpoint_callback(self), latched),
            self.create_subscription(Path, "waypoints", self._on_waypoints, 10),
        ]
        self._setup_camera()                         # camera model: camera_topic; goal_image always
        if not self._camera:
            self._subs.append(self.create_subscription(LaserScan, "scan", self._on_scan, 1))
        self._setup_frames(latched)
        self._timer = self.create_timer(1.0 / self.p.control_rate_hz, self._on_timer)
        self._configured = True
        return TransitionCallbackReturn.SUCCESS

    def _auto_device(self):
        """device: auto with a learned model: time the rollout on each path, keep the fastest."""
        from world_model_planner.planner_node.device_choice import choose_device
        from world_model_planner.planner_node.navigator import make_navigator

        mc = self.cfg.mppi
        choice = choose_device(self.nav.model, mc.samples, mc.horizon, collision=self.nav.critics.reads_collision())
        if choice.device.type != self.device.type:
            self.nav = make_navigator(self.p.planner, self.p.model_path or None, self.cfg, choice.device,
                                      missing_ok=not self.p.model_path, robot=self.p.robot)
        self.device, self._fused, self._matmul_dtype = choice.device, choice.fused, choice.matmul_dtype
        self._use_chosen_path(self.nav.model.model)
        self.get_logger().info(choice.line(mc.samples, mc.horizon))

    def _use_chosen_path(self, world_model) -> None:
        """The path device: auto chose, for the configured model and each hot-reloaded one."""
        world_model.fused, world_model.matmul_dtype = self._fused, self._matmul_dtype

    def _budget_sizes(self, cfg) -> tuple[int, int, int]:
        """(configured samples, horizon, the samples floor the sampler needs) for the budget."""
        m = cfg.mppi
        return m.samples, m.horizon, (m.cem_elites + 1 if m.method == "cem" else 0)

    def _note_tick(self, tick_s: float):
        """A planning tick's wall time: the budget may change (logged once, one line)."""
        b = self.budget
        if b is None or self.nav is None:
            return
        was_behind = b.behind
        change = b.observe(tick_s)
        if change is not None:
            self.nav.set_budget(*change.new)
            # one call site per severity: rclpy refuses a call site whose severity changes
            if change.reduced or change.undone_from:
                self.get_logger().warning(change.line())
            else:
                self.get_logger().info(change.line())
            self._publish_diag(force=True)
        elif b.behind and not was_behind:
            self.get_logger().warning(
                f"planning falls behind: ticks overrun at {b.samples} x {b.horizon} samples x steps with nothing "
                f"left to take (floors, or reductions that did not pay): median {b.tick_s * 1e3:.1f} ms, "
                f"period {b.period_s * 1e3:.1f} ms", throttle_duration_sec=10.0)

    def on_activate(self, state):
        self._active = True
        self._publish_diag(force=True)
        return super().on_activate(state)

    def on_deactivate(self, state):
        self._active = False
        self._send(0.0, 0.0, self.get_clock().now().to_msg())
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def _teardown(self):
        self._active = False
        self._configured = False
        for s in getattr(self, "_subs", []):
            self.destroy_subscription(s)
        for p in self._ents:
            self.destroy_publisher(p)
        if getattr(self, "_timer", None) is not None:
            self.destroy_timer(self._timer)
        if getattr(self, "_tf_listener", None) is not None and hasattr(self._tf_listener, "unregister"):
            self._tf_listener.unregister()
        self._tf_listener = None
        self._route = self._frame_goal = None
        self._subs, self._ents, self._timer, self.nav = [], [], None, None
        self.budget = None

    # --- inputs -------------------------------------------------------------------------------
    def _on_goal(self, msg: PoseStamped):
        if self.nav is None:
            return
        frame = msg.header.frame_id
        odom_frame = getattr(self, "_odom_frame", "odom")
        q = msg.pose.orientation
        goal = Goal(msg.pose.position.x, msg.pose.position.y, yaw_of(q) if self.p.use_goal_yaw else None)
        self._route = None                           # a goal replaces a waypoint route
        if frame not in ("", odom_frame):            # kept in its own frame, re-expressed in odom
            return self._on_frame_goal(frame, goal, q)
        self._frame_goal = None
        problem = self.nav.goal_problem(goal.x, goal.y, goal.yaw)
        if self.p.use_goal_yaw and not problem:
            bad_q = check_quaternion(q.x, q.y, q.z, q.w)
            problem = bad_q and f"goal {bad_q}"
        if problem:                                  # refused at once: stopping is never delayed
            self._gate.clear()
            self._refuse_goal(self.nav.refuse(problem))
            return
        active = self.nav.goal is not None and self.nav.state not in ("refused", "idle")
        decision = self._gate.offer(goal, time.monotonic(), active)
        if decision == "defer":
            self.get_logger().info(
                f"goal ({goal.x:.2f}, {goal.y:.2f}) deferred: goals change faster than min_goal_interval_s="
                f"{self.p.min_goal_interval_s:g} s; the latest is applied when it has passed "
                f"({self._gate.deferred} deferred so far)", throttle_duration_sec=_THROTTLE_S)
        elif decision == "apply":
            self._apply_goal(goal)

    def _apply_goal(self, goal: Goal):
        ok, reason = self.nav.set_goal(goal.x, goal.y, goal.yaw)
        if ok:
            self.get_logger().info(f"goal accepted: ({goal.x:.2f}, {goal.y:.2f})")
            self._publish_diag(force=True)
        else:
            self._gate.clear()
            self._refuse_goal(reason)

    def _refuse_goal(self, reason: str):
        self.get_logger().warning(f"goal refused: {reason}")
        self._send(0.0, 0.0, self.get_clock().now().to_msg())
        self._publish_diag(force=True)

    def _on_odom(self, msg: Odometry):
        t, pose, vel, fault = m.odom_in(msg, self.limits)
        self._odom_frame = msg.header.frame_id or "odom"
        self._frames.odom_frame = self._odom_frame
        self._odom = (t, pose, vel, fault)
        if not fault:
            self._odom_hist.append((t, pose))
            self._est.add_odom(t, pose)
            if self.nav is not None:
                self.nav.note_pose(pose)
            self._rematch_scan(t, pose)
        if self._active and self.p.trigger == "odom":
            self._tick(msg.header.stamp, t)

    def _on_scan(self, msg: LaserScan):
        # the header is checked before any array is built from it (beam count, range_max, angles)
        t, geom, ranges, why = m.scan_in(msg, self.limits)
        if geom is None:
            self.get_logger().warning(f"scan refused, stopping: {why}", throttle_duration_sec=_THROTTLE_S)
            self._scan = (t, None, None, None, f"invalid scan: {why}")
            self._new_scan = False
            return
        self._keep_scan(t, ranges, geom)

    def _keep_scan(self, t: float, ranges, geom) -> None:
        """A checked scan (a lidar's, or a depth camera's) stamped ``t``, placed at the odometry
        pose nearest its stamp, for the next tick."""
        pose, self._scan_pose_t = None, None
        if self._odom_hist:
            self._scan_pose_t, pose = min(self._odom_hist, key=lambda e: abs(e[0] - t))
        self._scan = (t, ranges, pose, geom, "")
        self._new_scan = True

    def _rematch_scan(self, t: float, pose) -> None:
        """A scan not yet planned on takes this odometry pose if its stamp is nearer the scan's
        than the pose it was placed at: a scan can arrive before the odometry of its own time
        (the sim publishes /odom last), and placed at the pose of the tick before it would be off
        by a tick's travel and turn."""
        if not self._new_scan or self._scan is None or self._scan[1] is None:
            return
        ts = self._scan[0]
        if self._scan_pose_t is None or abs(t - ts) < abs(self._scan_pose_t - ts):
            self._scan = (ts, self._scan[1], pose, self._scan[3], self._scan[4])
            self._scan_pose_t = t

    # --- control ------------------------------------------------------------------------------
    def _on_timer(self):
        if not self._active:
            return
        goal = self._gate.due(time.monotonic())     # a deferred goal change whose time has come
        if goal is not None and self.nav is not None:
            self._apply_goal(goal)
        if self.nav is not None and self.nav.state == "waiting" and self._frame_goal is not None:
            self._pursue(self._frame_goal)           # its transform may have come; or time is up
        self._seed_prior()
        now = self.get_clock().now()
        if self.p.trigger == "timer":
            self._tick(now.to_msg(), now.nanoseconds * 1e-9)
        elif self._odom is not None:                 # watchdog: /odom stopped coming
            why = self._age_fault("/odom", now.nanoseconds * 1e-9, self._odom[0])
            if why:
                self.get_logger().warning(f"watchdog stopping: {why}", throttle_duration_sec=_THROTTLE_S)
                self._stop(why, now.to_msg())

    def _age_fault(self, topic: str, now_s: float, stamp_s: float) -> str:
        """Why data stamped ``stamp_s`` cannot be used now ('' when it can): too old, or from
        the future beyond sensors.future_tolerance_s (absolute age; stamps are not trusted)."""
        age, why = stamp_age(now_s, stamp_s, self.limits.future_tolerance_s)
        if why:
            return f"{topic} {why}"
        if age > self.p.max_sensor_age_s:
            return f"sensor data {age:.2f} s old on {topic} (max_sensor_age_s={self.p.max_sensor_age_s:g})"
        return ""

    def _stop(self, why: str, stamp):
        if self.nav is not None and self.nav.goal is not None and self.nav.state not in ("reached", "refused"):
            self.nav.state, self.nav.reason = "stopped", why
        self._send(0.0, 0.0, stamp)
        self._publish_diag()

    def _tick(self, stamp, t_s: float):
        if self.nav is None:
            return
        t0 = time.perf_counter()
        now_s = self.get_clock().now().nanoseconds * 1e-9
        if self.nav.state == "waiting":              # a goal waiting for its frame's transform
            self._send(0.0, 0.0, stamp)
            return self._publish_diag()
        sensors = ([(self.p.camera_topic, self._image)] + ([(self.p.depth_topic, self._scan)] if self._depth else [])
                   if self._camera else [("/scan", self._scan)])
        if self._odom is None or any(s is None for _, s in sensors):
            return self._stop(f"waiting for /odom and {' and '.join(t for t, _ in sensors)}", stamp)
        for topic, data in [("/odom", self._odom)] + sensors:
            why = data[-1] or self._age_fault(topic, now_s, data[0])
            if why:
                self.get_logger().warning(f"stopping: {why}", throttle_duration_sec=_THROTTLE_S)
                return self._stop(why, stamp)
        _, pose, vel, _ = self._odom
        if self._frame_goal is not None and self.nav.goal is not None:
            self._reexpress()
        try:
            if self._camera and not self._depth:
                cmd = self.nav.step(pose, vel, None, t_s, image=self._image[1])
            else:                                    # a lidar's scan, or the camera's depth as one
                _, ranges, scan_pose, geom, _ = self._scan
                new_scan, self._new_scan = self._new_scan, False
                if self._camera:                     # the depth's scan is taken at the camera's foot
                    scan_pose = self._depth_scan[3].sensor_pose(pose if scan_pose is None else scan_pose)
                cmd = self.nav.step(pose, vel, ranges, t_s, scan_pose=scan_pose, new_scan=new_scan, geom=geom,
                                    image=self._image[1] if self._camera else None)
        except Exception as exc:  # noqa: BLE001 - bad input (e.g. wrong beam count) must not end the node
            self.get_logger().error(f"planning failed, stopping: {type(exc).__name__}: {clip(str(exc), 300)}",
                                    throttle_duration_sec=5.0)
            return self._stop(f"planning failed: {clip(str(exc), 300)}", stamp)
        self._send(cmd.v, cmd.w, stamp)
        if self._route is not None and not self._route.done and cmd.state == "reached":
            self._waypoint_reached(t_s)
        if cmd.state == "planning":
            self._plan_ms.append(cmd.plan_ms)
            self._publish_plan(cmd, stamp)
            self._note_tick(time.perf_counter() - t0)
        self._last["best_cost"] = cmd.best_cost
        self._publish_diag()

    def _send(self, v: float, w: float, stamp):
        if getattr(self, "pub_cmd", None) is not None and self.context.ok():  # not during shutdown
            self.pub_cmd.publish(twist_msg(v, w, self.p.cmd_stamped, stamp, self.p.base_frame))

    def _publish_plan(self, cmd, stamp):
        frame = getattr(self, "_odom_frame", "odom")
        self.pub_plan.publish(m.plan_msg(cmd.best_traj, cmd.subgoals, frame, stamp))
        sp = self.nav.subgoals
        if sp is not None and sp.plan_count != self._last["path_plans"]:
            self._last["path_plans"] = sp.plan_count
            self.pub_global.publish(m.path_msg(cmd.path, frame, stamp))
        now = time.monotonic()
        if self.p.rollouts_rate_hz > 0 and now - self._last["markers"] >= 1.0 / self.p.rollouts_rate_hz:
            self._last["markers"] = now
            self.pub_markers.publish(m.rollouts_msg(cmd.sample_trajs, cmd.best_traj, cmd.subgoals, frame, stamp))

    def _publish_diag(self, force: bool = False):
        if self.nav is None or getattr(self, "pub_diag", None) is None:
            return
        now = time.monotonic()
        state = self.nav.state
        if not force and state == self._last["state"] and now - self._last["diag"] < 1.0 / self.p.diagnostics_rate_hz:
            return
        self._last["diag"], self._last["state"] = now, state
        ms = float(np.median(self._plan_ms)) if self._plan_ms else 0.0
        sp = self.nav.subgoals
        k = diag.PLANNER
        values = {k.state: state, k.plan_time_ms: f"{ms:.2f}", k.plan_hz: f"{1000.0 / ms:.1f}" if ms else "0",
                  k.best_cost: f"{self._last.get('best_cost', float('nan')):.3f}",
                  k.subgoals: sp.plan_count if sp is not None else 0, k.planner: self.p.planner,
                  k.model: self.nav.model_desc, k.reason: self.nav.reason,
                  k.goal_frame: self._frame_goal.frame if self._frame_goal is not None else
                  (self._frames.odom_frame if self.nav.goal is not None else ""),
                  k.waypoint: self._route.label() if self._route is not None else "",
                  k.waypoints_reached: len(self._route.events) if self._route is not None else 0,
                  k.waypoint_reached: self._last.get("waypoint_reached", ""), k.prior_map: self._prior_note,
                  k.device: f"{self.device}{'' if self._fused else ' (reference rollout)'}"
                            f"{'' if self._matmul_dtype is None else ' (bfloat16 products)'}"}
        b = self.budget
        if b is not None:
            values.update({k.budget_samples: b.samples, k.budget_horizon: b.horizon,
                           k.tick_time_ms: b.tick_s * 1e3, k.period_ms: b.period_s * 1e3,
                           k.budget_reduced: b.reduced, k.budget_behind: b.behind})
        values.update(self.nav.driving_status(k))
        level = {"refused": diag.WARN, "stopped": diag.WARN, "waiting": diag.WARN}.get(state, diag.OK)
        level = {"recovering": diag.WARN, "failed": diag.ERROR}.get(state, level)
        self.pub_diag.publish(diag.build(k, values, self.get_clock().now().to_msg(), level,
                                         self.nav.reason or state, hardware_id="planner_node"))


def main(args=None) -> int:
    return spin_main(PlannerNode, args)
