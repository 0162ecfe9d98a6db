"""The Navigator's recoveries (a mixin of Navigator, planner_node/navigator.py): the stall
detector's view of the path ahead, the recovery state machine's tick (planner_node/recovery.py
decides; this drives it and checks that a backup or a turn in place is free), and the yield
test near a tracked person or cart. No rclpy.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from world_model_planner.core.sensor_check import ScanGeometry
from world_model_planner.planner_node.grid import seen_sector
from world_model_planner.planner_node.navigator_config import Command
from world_model_planner.planner_node.recovery import pursuit_poses


class RecoveryDriving:
    """remaining_m, route_blocked and the recovery tick (uses the Navigator's cfg, goal, recovery,
    subgoals, model, mppi, critics, device, _field, _last_cmd, _zero and _local_path)."""

    def remaining_m(self, pose, path: np.ndarray) -> float:
        """Length of the global path still ahead of the robot (straight distance to the goal
        without a path): what the stall detector watches."""
        p = np.asarray(pose[:2], dtype=np.float64)
        if len(path) < 2:
            return float(np.linalg.norm(self.goal - p))
        i0 = int(np.argmin(np.linalg.norm(path - p, axis=1)))
        rest = path[i0:]
        return float(np.linalg.norm(rest[0] - p) + np.linalg.norm(np.diff(rest, axis=0), axis=1).sum())

    def _recover(self, pose, vel, scan, scan_pose, geom, t_s, path) -> Command | None:
        """Run the recovery state machine for this tick: a Command while a recovery drives
        (or when giving up), None to plan as usual."""
        r = self.recovery
        if r.action is not None:
            vw = r.action_command(t_s, pose)
            if vw is not None and r.action == "backup" and not self._rear_free(pose, geom, scan):
                r.end_action(t_s)                                      # something came up behind
                vw = None
            if vw is not None:
                return self._recovering(vw, f"recovery {r.action}")
            self._restart_plan(vel)
        seen = {}

        def blocked(static_only: bool = False) -> bool:                 # each asked at most once a tick
            if static_only not in seen:
                seen[static_only] = self.route_blocked(pose, path, static_only)
            return seen[static_only]
        # before stall_time_s only static obstacles count: a person or cart in the way moves on
        # the creep rule's evidence (commanded against measured speed), except near a tracked mover
        # with creep_yield_radius_m set, where slowing down is yielding
        speeds = None if self._mover_near(pose, r.cfg.creep_yield_radius_m) else (self._last_cmd[0], vel[0])
        kind = r.progress(t_s, self.remaining_m(pose, path), pose[:2], float(np.linalg.norm(self.goal - pose[:2])),
                          blocked=lambda: blocked(True), speeds=speeds)
        if kind in ("clear", "backup", "rotate") and r.cfg.replan_when_blocked and blocked():
            kind = r.replan_first(t_s) or kind                         # the way itself is too narrow
        while kind is not None:
            if kind == "failed":
                n = r.counts()
                return self._zero("failed", f"stuck: no progress along the path for "
                                            f"{r.cfg.stall_time_s:g} s after {len(r.log)} recoveries "
                                            f"({n['fired']} run, {n['skipped']} skipped)")
            if kind == "clear":
                self._restart_plan(vel)
                if self.subgoals is not None:
                    sp = self.subgoals
                    # only what the lidar sees again now: obstacles behind a lidar of less than
                    # 360 degrees cannot be sensed afresh, and forgetting them lets the robot back
                    # into a post it passed
                    sp.grid.clear_disc(scan_pose[:2], r.cfg.clear_radius_m, float(scan_pose[2]),
                                       seen_sector(geom.angle_min, geom.angle_increment, geom.n))
                    sp.integrate(scan_pose, scan, angle_min=geom.angle_min, angle_increment=geom.angle_increment,
                                 range_max_m=min(geom.range_max, self.cfg.nav.map_range_max_m))
                    sp.replan(pose[:2], t_s)
                return None
            if kind == "replan":
                if self.subgoals is None or len(self.subgoals.path) < 2:
                    kind = r.skip(t_s)
                    continue
                self.subgoals.detour(self.subgoals.path, t_s + r.cfg.detour_s, r.cfg.detour_cost)
                self.subgoals.replan(pose[:2], t_s)
                self._restart_plan(vel)
                return None
            ok = self._rear_free(pose, geom, scan) if kind == "backup" else self._turn_free(pose)
            if not ok:
                kind = r.skip(t_s)
                continue
            r.begin_action(kind, t_s, pose)
            vw = r.action_command(t_s, pose)
            return self._recovering(vw or (0.0, 0.0), f"recovery {kind}")
        return None

    YIELD_MOVING_MPS = 0.2   # a track slower than this is not a person or cart on the move

    def _mover_near(self, pose, radius_m: float) -> bool:
        """A moving obstacle that the model tracks (``scene_state``), at YIELD_MOVING_MPS or
        faster, is within radius_m of the robot now; False for models that track nothing."""
        if radius_m <= 0 or not hasattr(self.model, "scene_state"):
            return False
        movers = self.model.scene_state().get("movers")
        if movers is None or not len(movers[0]):
            return False
        gap = np.linalg.norm(movers[0].cpu().numpy() - np.asarray(pose[:2], dtype=np.float64), axis=1)
        moving = np.linalg.norm(movers[1].cpu().numpy(), axis=1) >= self.YIELD_MOVING_MPS
        return bool(((gap - movers[2].cpu().numpy() <= radius_m) & moving).any())

    def _rear_free(self, pose, geom: ScanGeometry, scan) -> bool:
        """True when the scan covers the robot's rear (a beam within 0.5 rad of straight back,
        none of them invalid) and shows no return in the strip the backup sweeps (footprint
        width plus backup_clearance_m on each side, backup_distance_m plus the clearance long)."""
        c, rc = self.cfg.critics, self.cfg.recovery
        ang = geom.angles
        back = np.abs(np.remainder(ang, 2 * math.pi) - math.pi) < 0.5
        r = np.asarray(scan, dtype=np.float64).reshape(-1)
        if not back.any() or np.isnan(r[back]).any() or self._field is None:
            return False
        m, res = rc.backup_clearance_m, self.cfg.nav.local_field_res_m
        xs = np.arange(-c.footprint_length_m / 2 - rc.backup_distance_m - m, -c.footprint_length_m / 2 + 1e-9, res)
        ys = np.arange(-c.footprint_width_m / 2 - m, c.footprint_width_m / 2 + m + 1e-9, res)
        gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
        cy, sy = math.cos(pose[2]), math.sin(pose[2])
        pts = np.stack([pose[0] + cy * gx - sy * gy, pose[1] + sy * gx + cy * gy], -1)
        d = self._field.lookup(torch.as_tensor(pts, dtype=torch.float32, device=self.device))
        return bool((d > 1.5 * res).all())

    def _turn_free(self, pose) -> bool:
        """True when the footprint turned in place through a full circle stays clear of the scan."""
        if self._field is None:
            return False
        yaws = pose[2] + np.linspace(0.0, 2 * math.pi, 24, endpoint=False)
        poses = np.stack([np.full_like(yaws, pose[0]), np.full_like(yaws, pose[1]), yaws], -1)
        d = self.critics.footprint_distance(torch.as_tensor(poses, dtype=torch.float32, device=self.device),
                                            self._field)
        return bool((d > 0.02).all())

    def route_blocked(self, pose, path: np.ndarray, static_only: bool = False) -> bool:
        """True when the global path ahead is closed to the footprint: driven by pure pursuit at
        probe_speed_mps over the planning horizon (ideal kinematics), the footprint with its
        padding meets the latest scan, closer than it is where the robot stands (a robot already
        inside its padding is not blocked by that alone). Re-sensing cannot open that way;
        another route can. ``static_only``: only the static part of the scan counts, where the
        model tracks moving obstacles (``scene_state``; a person or cart on the move will clear
        the way), else the whole scan."""
        field = self._field
        if static_only and hasattr(self.model, "scene_state"):
            static = self.model.scene_state().get("field")
            if static is not None:
                field = static
        if field is None or len(path) < 2:
            return False
        local = self._local_path(path, np.asarray(pose, dtype=np.float64), "cpu")
        if local is None or len(local) < 2:
            return False
        m = self.cfg.mppi
        speed = min(m.probe_speed_mps if m.probe_speed_mps > 0 else 0.3, m.v_max_mps)
        poses = pursuit_poses(local.numpy(), pose, speed, self.mppi.horizon, self.model.dt_s,
                              self.cfg.recovery.route_lookahead_m, m.w_max_radps)
        poses = np.concatenate([np.asarray(pose[:3], dtype=np.float64)[None], poses])
        d = self._route_clearance(torch.as_tensor(poses, dtype=torch.float32, device=self.device), field)
        return bool((d[1:] < min(0.0, float(d[0]) - 0.01)).any())

    def _route_clearance(self, poses: torch.Tensor, field) -> torch.Tensor:
        """(N,) footprint clearance of poses (N, 3): the configured footprint, and within
        nav.goal_approach_m of the goal the exact rectangle that the goal approach plans with."""
        d = self.critics.footprint_distance(poses, field)
        exact = self._approach_footprint()
        if exact is None or self.goal is None:
            return d
        goal = torch.as_tensor(np.asarray(self.goal[:2], dtype=np.float32), device=poses.device)
        near = (poses[:, :2] - goal).norm(dim=-1) <= self.cfg.nav.goal_approach_m
        return torch.where(near, exact.distance(poses, field), d) if bool(near.any()) else d

    def _recovering(self, vw, reason: str) -> Command:
        self.state, self.reason = "recovering", reason
        self._last_cmd = np.asarray(vw, dtype=np.float64)
        return Command(float(vw[0]), float(vw[1]), "recovering", reason=reason)

    def _restart_plan(self, vel) -> None:
        """The sampler starts afresh from the current velocity (after a recovery)."""
        self.mppi.reset()
        self._last_cmd = np.clip(vel, [self.cfg.mppi.v_min_mps, -self.cfg.mppi.w_max_radps],
                                 [self.cfg.mppi.v_max_mps, self.cfg.mppi.w_max_radps])
