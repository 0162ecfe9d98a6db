"""Four planners in one code path.

    hierarchical  subgoal layer (scan grid + path search) → MPPI through the learned model
    flat          MPPI through the learned model, aimed straight at the goal
    classic       subgoal layer → the same MPPI through ideal unicycle kinematics (Nav2 MPPI analogue)
    classic_id    subgoal layer → the same MPPI through an identified lag + delay velocity model,
                  with moving obstacles tracked and extrapolated (the careful hand-written baseline)

The navigator keeps a ``HistoryBuffer`` of what it observed and commanded, and passes the last
``model.history_steps`` steps to ``model.reset_state`` for models that read a history.

``Navigator.step`` is the whole control tick: inputs checked, goal test, map update, subgoal,
one MPPI solve, a ``Command``. No rclpy.

Camera only (``step(..., scan=None, image=frame)`` with a camera world model,
``LearnedModel.needs_image``; planner_node/navigator_camera.py): hierarchical and flat both
plan flat to the pose goal through odometry (the subgoal grid needs a range sensor), with the
collision head in the cost and no distance field (the clearance critics have nothing to score);
a goal picture
(``set_goal_image``) is scored by the latent distance to its embedding (``goal_image``). No
recovery runs without a scan. With a depth camera (``step(..., scan=depth_scan, geom=...,
image=frame)``, the scan from ``depth_scan.DepthScan``) a camera model plans a pose goal as with
a lidar: the subgoal map, the distance field, the tracked scene at the model's predicted poses
and the recoveries all read the depth's scan, the rollout reads the frame, and the collision
head is weighed by ``camera.depth_collision_weight``.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from world_model_planner.core.mathutil import angle_diff
from world_model_planner.core.sensor_check import ScanGeometry

from world_model_planner.planner_node.caution import HeldBack, ModelCheck
from world_model_planner.planner_node.critics import Critics, CostContext, DistanceField, Footprint
from world_model_planner.planner_node.goals import Goal
from world_model_planner.planner_node.grid import seen_sector
from world_model_planner.planner_node.model_loading import load_model
from world_model_planner.planner_node.mppi import MPPI
from world_model_planner.planner_node.navigator_camera import CameraPlanning
from world_model_planner.planner_node.navigator_contact import ContactRules
from world_model_planner.planner_node.navigator_config import (  # noqa: F401 (re-exported)
    KINDS, Command, NavigatorConfig, PlannerConfig)
from world_model_planner.planner_node.navigator_recovery import RecoveryDriving
from world_model_planner.planner_node.recovery import Recovery, format_log
from world_model_planner.planner_node.subgoal import SubgoalPlanner, path_ahead
from world_model_planner.world_model_node.history import HistoryBuffer

__all__ = ["KINDS", "Command", "Navigator", "NavigatorConfig", "PlannerConfig", "load_model", "make_navigator"]

class Navigator(CameraPlanning, RecoveryDriving, ContactRules):
    """Goal → commands, for any of the KINDS (see module docstring)."""

    def __init__(self, kind: str, model, cfg: PlannerConfig | None = None, device=None,
                 model_desc: str = ""):
        if kind not in KINDS:
            raise ValueError(f"planner kind: expected one of {KINDS}, got {kind!r}")
        self.kind = kind
        self.cfg = cfg or PlannerConfig()
        self.device = torch.device(device or "cpu")
        self.model = model
        self.model_desc = model_desc or type(model).__name__
        self.mppi = MPPI(self.cfg.mppi, model.dt_s, self.device)
        self.critics = Critics(self.cfg.critics)
        self.subgoals = SubgoalPlanner(self.cfg.subgoal) if kind != "flat" else None
        self.recovery = Recovery(self.cfg.recovery)
        self.check = ModelCheck(self.cfg.caution, model.dt_s)     # the model's error → a speed limit
        self.held = HeldBack(self.cfg.caution)                     # progress falling short → a yaw-rate limit
        self.goal: np.ndarray | None = None          # (x, y)
        self.goal_yaw: float | None = None
        self.goal_image = None                       # goal_image.GoalImage, camera models only
        self.goal_image_distance = float("nan")      # latent distance of the frame in view to it
        self._camera_critics: tuple | None = None    # (key, Critics) for camera-only planning
        self.tolerance_m = self.cfg.nav.goal_tolerance_m
        self.state = "idle"
        self.reason = ""
        self._last_t: float | None = None
        self._last_cmd = np.zeros(2)
        self._pose: np.ndarray | None = None
        self._field: DistanceField | None = None
        self._field_key = None
        self._hist: HistoryBuffer | None = None
        self._exact_key, self._exact_fp = None, None     # the goal approach's exact footprint (cached)
        self._mover_seen_t: float | None = None          # last tick a tracked obstacle was near (collision head)
        self._hist_t: float | None = None
        self._fit_model()

    def _fit_model(self) -> None:
        """Size the history buffer for the model in use and hand it the body's geometry."""
        steps = int(getattr(self.model, "history_steps", 0) or 0)
        if steps <= 0:
            self._hist = None
        elif self._hist is None or self._hist.steps != steps or abs(self._hist.dt_s - self.model.dt_s) > 1e-9:
            self._hist, self._hist_t = HistoryBuffer(steps, self.model.dt_s), None
        self.check.warmup_s = steps * self.model.dt_s if steps > 0 else 0.0
        if hasattr(self.model, "set_geometry"):
            c, n = self.cfg.critics, self.cfg.nav
            self.model.set_geometry(Footprint.of(c), n.local_field_size_m, n.local_field_res_m)
        if hasattr(self.model, "tracker"):
            self.model.tracker.cfg = self.cfg.tracking
        if hasattr(self.model, "tracked_scene"):
            self.model.tracked_scene = bool(self.cfg.nav.tracked_scene)
        if hasattr(self.model, "model_scene"):
            self.model.model_scene = bool(self.cfg.nav.model_scene)
            self.model.model_scene_near_m = float(self.cfg.nav.model_scene_near_movers_m)
            self.model.collision_gate_m = float(self.cfg.nav.collision_mover_gate_m)

    # --- model hot swap ---------------------------------------------------------------------
    def set_model(self, model, desc: str = "") -> None:
        """Swap the rollout model (same dt_s required); takes effect at the next tick."""
        if abs(model.dt_s - self.model.dt_s) > 1e-9:
            raise ValueError(f"new model dt_s {model.dt_s} differs from the running {self.model.dt_s}")
        self.model, self.model_desc = model, desc or type(model).__name__
        self.check.reset()              # states planned through the old model are not checked by the new
        self._fit_model()
        if self.goal_image is not None:                 # an embedding is the old encoder's: not the new one's
            self.refuse("goal image: the world model was swapped; send the goal picture again")

    # --- goals ------------------------------------------------------------------------------
    def known_area(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) of the area the planner maps (odom frame)."""
        h = self.cfg.subgoal.grid_size_m / 2.0
        return (-h, h, -h, h)

    def goal_problem(self, x: float, y: float, yaw: float | None = None, tolerance: float | None = None) -> str:
        """Why a goal cannot be taken (NaN/inf, outside the known area, too far), or ''."""
        vals = [x, y] + ([yaw] if yaw is not None else []) + ([tolerance] if tolerance is not None else [])
        try:
            finite = all(math.isfinite(float(v)) for v in vals)
        except (TypeError, ValueError):
            finite = False
        if not finite:
            return f"goal has non-finite values (x={x}, y={y}, yaw={yaw}, tolerance={tolerance})"
        x0, x1, y0, y1 = self.known_area()
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            return (f"goal ({x:.2f}, {y:.2f}) is outside the known area "
                    f"x in [{x0:g}, {x1:g}], y in [{y0:g}, {y1:g}]")
        if self._pose is not None and math.hypot(x - self._pose[0], y - self._pose[1]) > self.cfg.nav.max_goal_distance_m:
            return (f"goal ({x:.2f}, {y:.2f}) is {math.hypot(x - self._pose[0], y - self._pose[1]):.1f} m away, "
                    f"more than max_goal_distance_m={self.cfg.nav.max_goal_distance_m:g}")
        if tolerance is not None and tolerance <= 0:
            return f"goal tolerance must be > 0, got {tolerance}"
        return ""

    def set_goal(self, x: float, y: float, yaw: float | None = None,
                 tolerance: float | None = None) -> tuple[bool, str]:
        """Accept a goal, or refuse it with a reason (see ``goal_problem``). A repeat of the goal
        being pursued changes nothing; a new goal keeps the warm start when it still applies."""
        reason = self.goal_problem(x, y, yaw, tolerance)
        if reason:
            return False, self.refuse(reason)
        if self.is_same_goal(x, y, yaw, tolerance):
            return True, ""                                 # a repeat changes nothing
        new = np.array([float(x), float(y)])
        if not self._keeps_warm_start(new):
            self.mppi.reset()
            self._last_t = None
        self.goal, self.goal_image = new, None
        self.goal_yaw = float(yaw) if yaw is not None else None
        self.tolerance_m = float(tolerance) if tolerance is not None else self.cfg.nav.goal_tolerance_m
        self.state, self.reason = "planning", ""
        self.recovery.reset()
        if self.subgoals is not None:
            self.subgoals.set_goal(self.goal)
        return True, ""

    def is_same_goal(self, x: float, y: float, yaw: float | None = None, tolerance: float | None = None) -> bool:
        """True when (x, y, yaw, tolerance) repeats the goal being pursued (within
        same_goal_tolerance_m / _rad); a repeat changes nothing."""
        if self.goal is None or self.state in ("refused", "idle"):
            return False
        c = self.cfg.nav
        if not Goal(x, y, yaw).same_as(Goal(self.goal[0], self.goal[1], self.goal_yaw),
                                       c.same_goal_tolerance_m, c.same_goal_tolerance_rad):
            return False
        tol = float(tolerance) if tolerance is not None else c.goal_tolerance_m
        return abs(tol - self.tolerance_m) <= 1e-9

    def _keeps_warm_start(self, new_goal: np.ndarray) -> bool:
        """The rule for a goal change: the last plan still applies when the robot is pursuing a
        goal and the new one lies in about the same direction (warm_start_keep_rad)."""
        if self.goal is None or self._pose is None or self.state not in ("planning", "stopped"):
            return False
        old = self.goal - self._pose[:2]
        new = new_goal - self._pose[:2]
        if np.linalg.norm(old) < 1e-6 or np.linalg.norm(new) < 1e-6:
            return False
        d = angle_diff(math.atan2(new[1], new[0]), math.atan2(old[1], old[0]))
        return abs(d) <= self.cfg.nav.warm_start_keep_rad

    def reconfigure(self, cfg: PlannerConfig, budget: tuple[int, int] | None = None) -> None:
        """Apply new limits at once, keeping control: the sampler is rebuilt with the new
        config (at ``budget`` = (samples, horizon) when given, see ``set_budget``) and keeps its
        warm start (clipped to the new limits) when the horizon is unchanged; critics and the
        subgoal layer read the new values from the next tick.
        The occupancy grid's size and resolution cannot change here (the caller refuses that)."""
        old_mean = self.mppi.mean
        self.cfg = cfg
        self.mppi = MPPI(cfg.mppi, self.model.dt_s, self.device)
        if budget is not None:
            self.mppi.resize(*budget)
        if old_mean.shape == self.mppi.mean.shape:
            self.mppi.mean = torch.maximum(torch.minimum(old_mean, self.mppi.hi), self.mppi.lo)
        self._last_cmd = np.clip(self._last_cmd, [cfg.mppi.v_min_mps, -cfg.mppi.w_max_radps],
                                 [cfg.mppi.v_max_mps, cfg.mppi.w_max_radps])
        self.critics = Critics(cfg.critics)
        self.recovery.cfg = cfg.recovery
        self.check.cfg = cfg.caution
        self.held.cfg = cfg.caution
        self._fit_model()
        if self.subgoals is not None:
            self.subgoals.reconfigure(cfg.subgoal)

    def set_budget(self, samples: int, horizon: int) -> None:
        """Plan with ``samples`` sequences of ``horizon`` steps from the next tick on (the
        adaptive budget); the warm start is cut or extended to the new horizon (MPPI.resize)."""
        self.mppi.resize(samples, horizon)

    def note_pose(self, pose) -> None:
        """Remember the latest odometry pose (3,) so goals are checked against it even before
        the first control tick; non-finite poses are ignored."""
        pose = np.asarray(pose, dtype=np.float64).reshape(-1)
        if pose.shape == (3,) and np.isfinite(pose).all():
            self._pose = pose

    def refuse(self, reason: str) -> str:
        """Drop the goal and hold state 'refused' (zero commands) until a new goal."""
        self.goal, self.state, self.reason = None, "refused", reason
        self.goal_image = None
        self._last_cmd = np.zeros(2)
        return reason

    def cancel(self) -> None:
        self.goal, self.state, self.reason = None, "idle", ""
        self.goal_image = None
        self.recovery.reset()

    # --- control tick -----------------------------------------------------------------------
    def _zero(self, state: str, reason: str = "") -> Command:
        self.state, self._last_cmd = state, np.zeros(2)
        if reason or state in ("reached", "idle"):   # no stale fault reason once the goal is reached
            self.reason = reason
        return Command(0.0, 0.0, state, reason=self.reason)

    def reached(self, pose) -> bool:
        if self.goal is None:
            return False
        if math.hypot(pose[0] - self.goal[0], pose[1] - self.goal[1]) > self.tolerance_m:
            return False
        if self.goal_yaw is None:
            return True
        return abs(angle_diff(pose[2], self.goal_yaw)) <= self.cfg.nav.yaw_tolerance_rad

    def default_geometry(self, n: int) -> ScanGeometry:
        """The geometry assumed for a scan given without one: n beams over 360° from -π."""
        return ScanGeometry(-math.pi, 2 * math.pi / n, 0.0, self.cfg.nav.map_range_max_m, n)

    def scan_points(self, scan, scan_pose, geom: ScanGeometry | None = None) -> np.ndarray:
        """(K, 2) odom-frame points of the returns of ``scan`` taken at ``scan_pose``; beam i
        points at ``geom.angle_min + i * geom.angle_increment`` in the robot frame."""
        r = np.asarray(scan, dtype=np.float64).reshape(-1)
        geom = geom or self.default_geometry(r.shape[0])
        ang = scan_pose[2] + geom.angles
        reach = min(geom.range_max, self.cfg.nav.map_range_max_m)
        ok = np.isfinite(r) & (r >= max(geom.range_min, 1e-3)) & (r < reach)
        return scan_pose[None, :2] + r[ok, None] * np.stack([np.cos(ang[ok]), np.sin(ang[ok])], -1)

    def _remembered(self, scan_pose, geom: ScanGeometry) -> np.ndarray | None:
        """(R, 2) the obstacles the map remembers where a lidar of less than 360 degrees does not
        look (within the local field), so that behind it is not taken for free space; None for a
        full-circle lidar or without a map. The local field and a tracked scene (classic_id, the
        learned planners) both take them."""
        sector = seen_sector(geom.angle_min, geom.angle_increment, geom.n)
        if self.subgoals is None or sector is None:
            return None
        return self.subgoals.remembered_points(scan_pose, self.cfg.nav.local_field_size_m / 2, *sector)

    def _local_path(self, path: np.ndarray, pose: np.ndarray, dev) -> torch.Tensor | None:
        """(P, 2) subgoal.path_ahead of the global path within the horizon's reach; None without one."""
        pts = path_ahead(path, pose[:2], self.mppi.horizon * self.model.dt_s * self.cfg.mppi.v_max_mps + 1.0)
        return None if pts is None else torch.as_tensor(pts, dtype=torch.float32, device=dev)

    def step(self, pose, vel, scan, t_s: float, scan_pose=None, new_scan: bool = True,
             geom: ScanGeometry | None = None, image=None) -> Command:
        """One tick. pose (3,) odom; vel (2,) body; scan (N,) m (inf = no return, nan = invalid);
        t_s seconds; scan_pose: pose when the scan was taken (default ``pose``); new_scan:
        integrate it; geom: the scan's checked geometry (default: N beams over 360° from -π).
        scan None or a camera world model: camera only, ``image`` (S, S, 3) uint8 the current
        frame, any scan unused (see the module docstring). The command returned (zero ones
        included) goes into the history at t_s."""
        camera = bool(getattr(self.model, "needs_image", False))
        if scan is None or (camera and self.goal_image is not None):
            cmd = self._step_camera(pose, vel, image, t_s)
        else:
            cmd = self._step(pose, vel, scan, t_s, scan_pose, new_scan, geom, image if camera else None)
        if self._hist is not None and math.isfinite(t_s):
            self._hist.commanded(t_s, (cmd.v, cmd.w))
        if math.isfinite(t_s):
            self.check.sent(t_s, cmd.v, cmd.w)
            self.held.sent(t_s, cmd.v)
        return cmd

    def _observe(self, t_s: float, vel: np.ndarray, scan: np.ndarray | None) -> None:
        """Feed the history buffer (cleared on a gap or when time goes backwards)."""
        if self._hist is None:
            return
        if self._hist_t is not None and not (0.0 <= t_s - self._hist_t <= self.cfg.nav.history_gap_s):
            self._hist.clear()
        self._hist_t = t_s
        self._hist.observe(t_s, vel, scan)

    def driving_status(self, k) -> dict:
        """/diagnostics values of the rules that shape the commands (``k``: the planner's keys):
        the model check's error and speed limit, the held-back rule and its yaw limit, the
        recoveries."""
        m, rec = self.cfg.mppi, self.recovery.counts()
        return {k.model_error_m: f"{self.check.error_m:.3f}",
                k.speed_limit_mps: f"{self.check.limit_mps(m.v_max_mps):.2f}",
                k.held_back: self.held.active, k.yaw_limit_radps: f"{self.held.w_limit(m.w_max_radps):.2f}",
                k.recoveries: rec["fired"], k.recoveries_resolved: rec["resolved"],
                k.recovery_log: format_log(self.recovery.log)}

    def history(self, t_s: float):
        """The History the model in use reads at t_s, or None (a model without history input)."""
        if self._hist is None:
            return None
        beams = getattr(self.model, "beams", None)
        return self._hist.history(t_s, int(beams) if beams is not None else None)

    def _step(self, pose, vel, scan, t_s, scan_pose, new_scan, geom, image=None) -> Command:
        pose = np.asarray(pose, dtype=np.float64).reshape(-1)
        vel = np.asarray(vel, dtype=np.float64).reshape(-1)
        if pose.shape != (3,) or vel.shape != (2,) or not (np.isfinite(pose).all() and np.isfinite(vel).all()) \
                or not math.isfinite(t_s):
            return self._zero("stopped", f"non-finite or malformed input: pose={pose}, vel={vel}, t={t_s}")
        scan = np.asarray(scan, dtype=np.float64).reshape(-1)
        if scan.size == 0 or np.isnan(scan).all():
            return self._zero("stopped", "scan has no valid beams")
        scan_pose = pose if scan_pose is None else np.asarray(scan_pose, dtype=np.float64)
        geom = geom or self.default_geometry(scan.shape[0])
        if geom.n != scan.shape[0]:
            return self._zero("stopped", f"scan has {scan.shape[0]} ranges for {geom.n} beams")
        self._pose = pose
        model = self.model  # one reference for the whole tick (hot swap safe)
        camera = bool(getattr(model, "needs_image", False))
        if camera:                                  # a depth camera's scan: the model reads the frame
            image, refused = self._check_frame(model, image)
            if refused is not None:
                return refused
        model_scan = None
        if self._hist is not None:
            model_scan = model.observe_scan(scan, geom, self.cfg.nav.unseen_range_m)
            self._observe(t_s, vel, model_scan if new_scan else None)
        points = behind = None
        if hasattr(model, "scene_update"):
            if new_scan:
                points, behind = self.scan_points(scan, scan_pose, geom), self._remembered(scan_pose, geom)
            model.scene_update(t_s, points, scan_pose[:2], remembered=behind)
        if self.goal is None:
            return self._zero("refused" if self.state == "refused" else "idle")
        if self.state == "reached" or self.reached(pose):
            self.recovery.goal_reached()
            self.recovery.end_action(t_s)
            return self._zero("reached", "")
        if self.state == "failed":
            return self._zero("failed")
        t0 = time.perf_counter()
        if self.state in ("stopped", "recovering"):
            self.reason = ""              # the fault that stopped it is over: planning again
            self.state = "planning"
        if self._last_t is None or t_s < self._last_t:
            self._last_cmd = np.clip(vel, [self.cfg.mppi.v_min_mps, -self.cfg.mppi.w_max_radps],
                                     [self.cfg.mppi.v_max_mps, self.cfg.mppi.w_max_radps])
            self.mppi.reset()
            shift = 0.0
        else:
            shift = (t_s - self._last_t) / self.model.dt_s
        self._last_t = t_s

        # high level
        target, subgoals = self.goal, np.asarray([self.goal])
        path = np.zeros((0, 2))
        if self.subgoals is not None:
            sp = self.subgoals
            if new_scan:
                sp.integrate(scan_pose, scan, angle_min=geom.angle_min, angle_increment=geom.angle_increment,
                             range_max_m=min(geom.range_max, self.cfg.nav.map_range_max_m))
            if sp.due(t_s) or (len(sp.path) and not sp.line_of_sight(pose[:2], sp.subgoal(pose[:2]))):
                sp.replan(pose[:2], t_s)
            target = sp.subgoal(pose[:2])
            subgoals = np.stack([target, self.goal])
            path = sp.path

        # low level
        if new_scan or self._field is None:
            pts = self.scan_points(scan, scan_pose, geom) if points is None else points
            if behind is None:
                behind = self._remembered(scan_pose, geom)
            if behind is not None:
                pts = np.concatenate([pts, behind])
            self._field = DistanceField(pts, pose[:2], self.cfg.nav.local_field_size_m, self.cfg.nav.local_field_res_m,
                                        self.device, far_m=self.cfg.nav.local_field_size_m)

        # stuck? (recovery.py)
        rec = self._recover(pose, vel, scan, scan_pose, geom, t_s, path)
        if rec is not None:
            return rec
        if self.subgoals is not None and not np.array_equal(path, self.subgoals.path):
            target = self.subgoals.subgoal(pose[:2])                  # a recovery replanned
            subgoals, path = np.stack([target, self.goal]), self.subgoals.path
        final = bool(np.allclose(target, self.goal))
        if model_scan is None:
            model_scan = model.observe_scan(scan, geom, self.cfg.nav.unseen_range_m)
        hist = self.history(t_s)
        if camera:
            state = model.reset_state(pose, vel, None, history=hist, image=image)
        else:
            state = (model.reset_state(pose, vel, model_scan, history=hist) if hist is not None
                     else model.reset_state(pose, vel, model_scan))
        dev = self.device
        m = self.cfg.mppi
        self._caution(t_s, pose, model)
        ctx = CostContext(
            target=torch.as_tensor(target, dtype=torch.float32, device=dev),
            start=torch.as_tensor(pose, dtype=torch.float32, device=dev),
            a0=torch.as_tensor(self._last_cmd, dtype=torch.float32, device=dev),
            final=final, goal_yaw=self.goal_yaw, field=self._field,
            path=self._local_path(path, pose, dev),
            a_max=(max(m.v_max_mps, -m.v_min_mps), m.w_max_radps),
            d_max=(m.accel_v_mps2 * model.dt_s, m.accel_w_radps2 * model.dt_s), dt_s=model.dt_s)
        critics = self._camera_critics_for(False, depth=True) if camera else self.critics
        coll = critics.reads_collision() and self._collision_head_on(pose, state, t_s)
        if final and self._approaching(pose):
            head = self._goal_approach(ctx, state, pose)     # sets the approach's footprint either way
            coll = coll and head
        res = self.mppi.plan(lambda a: model.rollout(state, a, collision=coll), lambda a, r: critics(a, r, ctx),
                             ctx.a0, shift_steps=shift)
        return self._planned(res, t_s, pose, state, t0, subgoals, np.asarray(path))

    def _caution(self, t_s: float, pose, model) -> None:
        """Score the model's last predictions (caution.py) and cap the sampler's speed to match."""
        m = self.cfg.mppi
        self.check.observe(t_s, pose, model)               # how wrong were the last predictions?
        self.mppi.hi[0] = min(m.v_max_mps, self.check.limit_mps(m.v_max_mps))
        self.mppi.lo[0] = m.v_min_mps                      # the camera-only tick may raise it
        self.held.observe(t_s, pose, m.v_max_mps)          # bogged down? then drive straighter
        w_max = self.held.w_limit(m.w_max_radps)
        self.mppi.hi[1], self.mppi.lo[1] = w_max, -w_max

    def _planned(self, res, t_s: float, pose, state, t0: float, subgoals, path) -> Command:
        """The command of one solved tick (or a stop when it is not finite); the state planned
        from goes to the model check."""
        v, w = (float(x) for x in res.action.cpu())
        if not (math.isfinite(v) and math.isfinite(w)):
            return self._zero("stopped", "planner produced a non-finite command")
        self._last_cmd = np.array([v, w])
        self.check.planned(t_s, pose, state)
        self.state = "planning"
        k = self.cfg.nav.drawn_rollouts
        samples = res.sample_poses[:k].cpu().numpy() if k else np.zeros((0, 0, 3))
        return Command(v, w, "planning", (time.perf_counter() - t0) * 1e3, res.best_cost, subgoals,
                       res.poses.cpu().numpy(), samples, path)


def make_navigator(kind: str = "hierarchical", model_path=None, cfg: PlannerConfig | None = None,
                   device=None, missing_ok: bool = True, sysid_path=None, robot: str | None = None) -> Navigator:
    """Build a Navigator of ``kind`` (hierarchical | flat | classic | classic_id). See ``load_model``."""
    if kind not in KINDS:
        raise ValueError(f"planner kind: expected one of {KINDS}, got {kind!r}")
    if device is None:
        from world_model_planner.core.runtime import pick_device

        device = pick_device()
    model, desc = load_model(kind, model_path, device, missing_ok, sysid_path, robot)
    return Navigator(kind, model, cfg, device, desc)
