"""Driving direction: forward by default (after nav2_mppi_controller's PreferForwardCritic and
PathAngleCritic).

    prefer_forward  reverse distance over the horizon beyond a short free allowance
    path_angle      when the target lies far off the robot's heading (behind it), the mean
                    angle between each predicted heading and the direction to the target:
                    rotating towards it first beats reversing to it

Both are soft costs. When no collision-free sequence gains ground forward (a dead end, with the
clearance critic before it), prefer_forward is off, so the robot backs out at speed rather than
creeping back to keep the per-metre charge small. The sampler's forward probes (``mppi.forward_probes``)
make that test see forward options even while the plan reverses: without them every sample lies
around a reversing plan, none gains ground forward, and a free corridor reads as a dead end. A base that drives both ways (``allow_reverse`` in
the robot file) disables prefer_forward and lets path_angle accept either end of the body.
"""
from __future__ import annotations

import torch

from world_model_planner.core.params import param
from world_model_planner.planner_node.critics.base import Critic, CriticData


def _wrap(a: torch.Tensor) -> torch.Tensor:
    return torch.remainder(a + torch.pi, 2 * torch.pi) - torch.pi


class PreferForwardCritic(Critic):
    """Reverse distance (m) a sequence drives, less ``prefer_forward_free_m`` of short manoeuvre
    that costs nothing; zero near the final goal (``prefer_forward_goal_radius_m``)."""

    name = "prefer_forward"
    scores = "reverse distance over the horizon beyond a short free allowance"
    default_weight, weight_note = 8.0, " (per metre driven backwards)"
    PARAMS = {
        "prefer_forward_free_m": param(0.05, "Reverse distance per horizon that costs nothing (a short "
                                       "manoeuvre) (m).", range=(0.0, 10.0)),
        "prefer_forward_goal_radius_m": param(0.5, "Within this distance of the final goal the prefer_forward "
                                              "critic is off (small corrections may reverse) (m).",
                                              range=(0.0, 10.0)),
    }

    def initialize(self, cfg):
        super().initialize(cfg)
        self.free_m, self.goal_radius_m = cfg.prefer_forward_free_m, cfg.prefer_forward_goal_radius_m

    def raw(self, data: CriticData) -> torch.Tensor:
        ctx = data.ctx
        if ctx.final and float(torch.linalg.norm(ctx.start[:2] - ctx.target)) < self.goal_radius_m:
            return data.zeros()
        back = torch.relu(-data.actions[..., 0]).sum(1) * ctx.dt_s                 # (B,) m
        if data.in_collision is not None:
            # forward blocked (a dead end): no collision-free sequence gains ground forward. Then
            # reversing is the way out, and charging it per metre would only make it slow.
            ahead = (data.actions[..., 0].sum(1) * ctx.dt_s > self.free_m) & ~data.in_collision
            if not bool(ahead.any()):
                return data.zeros()
        return torch.relu(back - self.free_m)


class PathAngleCritic(Critic):
    """Active when the target (subgoal along the path, or the goal) is more than
    ``path_angle_max_rad`` off the current heading and farther than
    ``path_angle_min_distance_m``: mean |angle| between each predicted heading and the
    direction from that pose to the target (rad). With ``path_angle_reverse_ok`` either end of
    the body may face the target."""

    name = "path_angle"
    scores = "mean heading error to the target when the target lies far off the heading"
    default_weight, weight_note = 4.0, " (per rad)"
    PARAMS = {
        "path_angle_max_rad": param(0.8, "The path_angle critic acts when the target is more than this off the "
                                    "robot's heading (rad).", range=(0.0, 3.2)),
        "path_angle_min_distance_m": param(0.5, "The path_angle critic is off when the target is closer than "
                                           "this (m).", range=(0.0, 10.0)),
        "path_angle_reverse_ok": param(False, "Either end of the body may face the target (a base that drives "
                                       "both ways; set by allow_reverse in the robot file)."),
    }

    def initialize(self, cfg):
        super().initialize(cfg)
        self.max_rad, self.min_m = cfg.path_angle_max_rad, cfg.path_angle_min_distance_m
        self.reverse_ok = bool(cfg.path_angle_reverse_ok)

    def _err(self, xy: torch.Tensor, yaw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        d = target - xy
        e = _wrap(torch.atan2(d[..., 1], d[..., 0]) - yaw).abs()
        return torch.minimum(e, torch.pi - e) if self.reverse_ok else e

    def raw(self, data: CriticData) -> torch.Tensor:
        ctx = data.ctx
        start, target = ctx.start, ctx.target.to(ctx.start.dtype)
        if float(torch.linalg.norm(start[:2] - target)) < self.min_m or \
                float(self._err(start[:2], start[2], target)) <= self.max_rad:
            return data.zeros()
        poses = data.poses
        err = self._err(poses[..., :2], poses[..., 2], target)                       # (B, H)
        near = torch.linalg.norm(poses[..., :2] - target, dim=-1) < self.min_m
        return torch.where(near, torch.zeros_like(err), err).mean(1)
