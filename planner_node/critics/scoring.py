"""The critics of the cost (direction.py holds prefer_forward and path_angle). Poses always come
from the model's prediction (``data.poses``), never from a kinematic guess, so the same critics
score the learned model and the ideal unicycle."""
from __future__ import annotations

import torch

from world_model_planner.core.params import param
from world_model_planner.planner_node.critics.base import Critic, CriticData
from world_model_planner.planner_node.critics.field import Footprint


def _end_distance(data: CriticData) -> torch.Tensor:
    """(B,) distance (m) from the last predicted pose to the target."""
    return torch.linalg.norm(data.poses[:, -1, :2] - data.ctx.target, dim=-1)


class GoalCritic(Critic):
    name = "goal"
    scores = "distance from the last predicted pose to the target"
    default_weight, weight_note = 5.0, " (per metre)"

    def raw(self, data):
        return _end_distance(data)


class HeadingCritic(Critic):
    name = "heading"
    scores = "yaw error at the final goal, when a goal yaw is given"
    default_weight, weight_note = 2.0, " (per rad)"
    PARAMS = {"heading_radius_m": param(1.0, "Heading critic acts when the predicted end is this close to the goal.",
                                        range=(0.0, 10.0))}

    def initialize(self, cfg):
        super().initialize(cfg)
        self.radius_m = cfg.heading_radius_m

    def raw(self, data):
        ctx = data.ctx
        if ctx.goal_yaw is None or not ctx.final:
            return data.zeros()
        err = torch.remainder(data.poses[:, -1, 2] - ctx.goal_yaw + torch.pi, 2 * torch.pi) - torch.pi
        return torch.where(_end_distance(data) < self.radius_m, err.abs(), torch.zeros_like(err))


class CollisionCritic(Critic):
    name = "collision"
    scores = "P(any contact) from the model's collision head"
    default_weight = 100.0
    PARAMS = {"collision_combine": param(
        "any", "How the collision critic joins the head's per-step contact probabilities over the "
        "horizon: 'any' = 1 - prod(1 - p), P(any contact) were the steps independent; 'max' = the "
        "largest step's p, the bound P(any contact) >= max p, tight when contact at one step "
        "implies contact at its neighbours (a slow pass by a wall), where 'any' compounds one "
        "belief over every step and saturates near 1 for all samples.", choices=("any", "max"))}

    def initialize(self, cfg):
        super().initialize(cfg)
        self.combine = cfg.collision_combine

    def raw(self, data):
        if data.collision_prob is None:
            return data.zeros()
        p = data.collision_prob.clamp(0.0, 1.0)
        if self.combine == "max":
            return p.amax(dim=1)
        return 1.0 - torch.prod(1.0 - p, dim=1)                                 # P(any contact)


class ClearanceCritic(Critic):
    """Soft: mean violation of the margin around the footprint. Lethal: ``clearance_lethal_cost``
    when the footprint touches an obstacle, whatever the weight and power, plus
    ``clearance_contact_time_cost`` times the share of the horizon spent in contact for the
    sequences in contact from the first step (so that a robot already touching something picks
    the way out, not the push on).

    The clearance is the model's prediction (``data.predicted_clearance_m``: the scene as it
    will be at each step, moving obstacles included; contact when <= 0; the lethal cost scaled
    by how soon the first contact comes, with ``clearance_lethal_by_time``) when the rollout has
    one, else the footprint's signed distance to the latest scan's field (contact when < 0).
    Fills ``data.clearance_m`` and ``data.in_collision`` for the critics after it.

    With ``footprint_padding_m`` > 0 and ``clearance_padding_ramp`` (the default), the lethal
    cost and the contact-time term count only the body's own contact (clearance below minus the
    padding); inside the padding the cost rises from 0 at its edge to ``clearance_lethal_cost``
    at the body, taken at the deepest step of the sequence. In a gap narrower than the body and
    both paddings every sequence is inside the padding: a flat lethal cost would leave nothing to
    choose between them but progress, and the contact-time term would reward dashing through,
    while the depth keeps the one that stays farthest from the obstacles.

    Within ``clearance_near_goal_m`` of the final goal only contact counts: the soft margin
    would otherwise hold the robot off a goal closer to a wall than the margin."""

    name = "clearance"
    scores = "predicted clearance, or the latest scan, vs the predicted footprint"
    default_weight, weight_note = 3.0, " (soft margin part)"
    default_power, power_doc = 2.0, "Exponent of the clearance critic's margin violation."
    PARAMS = {
        "clearance_margin_m": param(0.3, "Soft margin beyond the footprint that still costs (m).", range=(0.0, 3.0)),
        "clearance_lethal_cost": param(1000.0, "Cost of a sequence whose predicted footprint touches an obstacle.",
                                       range=(0.0, 1e9)),
        "clearance_lethal_by_time": param(True, "With a predicted clearance (moving obstacles), scale the lethal "
                                         "cost by how soon the first contact comes (full at the first step, 1/H "
                                         "at the last), so that when every sequence meets a mover the one that "
                                         "meets it latest (e.g. stopping) wins."),
        "clearance_contact_time_cost": param(500.0, "For sequences in contact from the first step (the robot "
                                             "already against something): added cost times the share of the "
                                             "horizon spent in contact, so that the one that leaves contact soonest "
                                             "wins, not the one that pushes on toward the goal.", range=(0.0, 1e9)),
        "clearance_near_goal_m": param(0.5, "Within this distance of the final goal (the robot's centre, m) the "
                                      "soft margin costs nothing and only contact counts, so that a goal "
                                      "closer to a wall than the margin stays within reach (as nav2's "
                                      "near_goal_distance). 0: the margin everywhere.", range=(0.0, 100.0)),
        "clearance_padding_ramp": param(True, "With footprint_padding_m > 0: the lethal cost and the contact-time "
                                        "term count only the body's own contact, and inside the padding the cost "
                                        "rises with the deepest step's depth, from 0 at its edge to "
                                        "clearance_lethal_cost at the body (false: the padding's edge is lethal)."),
    }

    def initialize(self, cfg):
        super().initialize(cfg)
        self.margin_m, self.lethal_cost = cfg.clearance_margin_m, cfg.clearance_lethal_cost
        self.near_goal_m = float(cfg.clearance_near_goal_m)
        self.by_time = bool(cfg.clearance_lethal_by_time)
        self.contact_time_cost = float(cfg.clearance_contact_time_cost)
        self.footprint = Footprint.of(cfg)
        #: the padding graded as a ramp (0: its edge is lethal, as the body's)
        self.ramp_m = self.footprint.padding if bool(cfg.clearance_padding_ramp) else 0.0

    def raw(self, data):
        self._soon, self._touching, self._depth, self._hit = None, None, None, None
        ramp = self.ramp_m
        if data.predicted_clearance_m is not None:
            d = data.predicted_clearance_m                                      # (B, H), <= 0: contact
            touch = d <= -ramp
            hit = touch.any(1)
            if self.by_time:
                h = d.shape[1]
                first = torch.where(hit, touch.float().argmax(1), torch.full_like(hit, h, dtype=torch.long))
                self._soon = (h - first).float() / h                            # (B,) 1 = contact at step 1
        elif data.ctx.field is not None:
            d = (data.ctx.footprint or self.footprint).distance(data.poses, data.ctx.field)   # (B, H), signed
            touch = d < -ramp
            hit = touch.any(1)
        else:
            return data.zeros()
        if ramp > 0:                                                            # (B,) deepest step, 0..1
            self._depth = (torch.relu(-d).amax(1) / ramp).clamp(max=1.0)
        # only sequences already touching at the first step (the robot is against something now):
        # elsewhere the contact-time term would reward dashing past a mover over waiting for it
        self._touching = touch.float().mean(1) * touch[:, 0].float()            # (B,) share of steps in contact
        data.clearance_m = d
        data.in_collision = data.in_collision | (hit if ramp <= 0 else (d < 0).any(1))   # padding included
        self._hit = data.in_collision if ramp <= 0 else hit
        ctx = data.ctx
        if ctx.final and ctx.goal_known and self.near_goal_m > 0 and \
                float((ctx.start[:2] - ctx.target).norm()) <= self.near_goal_m:
            return data.zeros()                                                 # at the goal: contact only
        return (torch.relu(self.margin_m - d) / max(self.margin_m, 1e-6)).mean(1)

    def unweighted(self, data):
        if data.predicted_clearance_m is None and data.ctx.field is None:
            return None
        soon = getattr(self, "_soon", None)
        hit = getattr(self, "_hit", None)
        hit = data.in_collision if hit is None else hit
        lethal = self.lethal_cost * (soon if soon is not None else 1.0) * hit.float()
        touching = getattr(self, "_touching", None)
        if touching is not None and self.contact_time_cost > 0:
            lethal = lethal + self.contact_time_cost * touching
        depth = getattr(self, "_depth", None)
        if depth is not None:
            lethal = lethal + self.lethal_cost * depth
        return lethal


class EffortCritic(Critic):
    """Mean squared command scaled by the limits (weight, power), plus ``reverse_weight`` per
    m/s of mean backwards motion (its own weight, no power)."""

    name = "effort"
    scores = "mean squared normalised command"
    default_weight = 0.1
    PARAMS = {"reverse_weight": param(2.0, "Cost per m/s of mean backwards motion, added to the effort critic "
                                      "(not scaled by effort_weight or effort_power).", range=(0.0, 1e6))}

    def initialize(self, cfg):
        super().initialize(cfg)
        self.reverse_weight = cfg.reverse_weight

    def raw(self, data):
        a = data.actions
        a_max = torch.as_tensor(data.ctx.a_max, dtype=a.dtype, device=a.device)
        return ((a / a_max) ** 2).sum(-1).mean(1)

    def unweighted(self, data):
        return self.reverse_weight * torch.relu(-data.actions[..., 0]).mean(1)


class SmoothnessCritic(Critic):
    name = "smoothness"
    scores = "mean squared change between steps"
    default_weight = 0.3

    def raw(self, data):
        a = data.actions
        d_max = torch.as_tensor(data.ctx.d_max, dtype=a.dtype, device=a.device)
        prev = torch.cat([data.ctx.a0.expand(a.shape[0], 1, 2), a[:, :-1]], dim=1)
        return (((a - prev) / d_max) ** 2).sum(-1).mean(1)


class ProgressCritic(Critic):
    name = "progress"
    scores = "mean distance to target over the horizon, minus the current one"
    default_weight, weight_note = 2.0, " (per metre)"
    power_doc = "Exponent of the progress critic (applied to |value|, sign kept)."

    def raw(self, data):
        ctx = data.ctx
        d = torch.linalg.norm(data.poses[..., :2] - ctx.target, dim=-1).mean(1)
        return d - torch.linalg.norm(ctx.start[:2] - ctx.target)


class PathCritic(Critic):
    name = "path"
    scores = "mean distance of the predicted poses to the global path, when there is one"
    default_weight, weight_note = 2.0, " (per metre)"

    def raw(self, data):
        path, poses = data.ctx.path, data.poses
        if path is None or len(path) == 0:
            return data.zeros()
        pts = poses[..., :2].reshape(-1, 2)
        d = _nearest(pts, path)
        if d is None:
            d = torch.cdist(pts, path).min(-1).values                                   # (B*H,)
        return d.reshape(poses.shape[:2]).mean(1)


def _nearest(pts: torch.Tensor, path: torch.Tensor) -> torch.Tensor | None:
    """Each point's distance to the nearest path point as one compiled loop (numba; float32 on
    the CPU), or None where it does not apply (then ``cdist``, which at these sizes goes through
    a matrix product and is the less exact of the two: off by up to 1.5 mm on 10,240 points a few
    metres out, where this is within 1e-6 m of float64)."""
    if pts.device.type != "cpu" or pts.dtype != torch.float32 or path.dtype != torch.float32:
        return None
    from world_model_planner.world_model_node.step_kernel import get_nearest

    kernel = get_nearest()
    if kernel is None:
        return None
    out = torch.empty(pts.shape[0], dtype=torch.float32)
    kernel(pts.contiguous().numpy(), path.contiguous().numpy(), out.numpy())
    return out


class ClearanceSpeedCritic(Critic):
    """Speed that adapts to clearance: at each predicted step the speed |v| may reach
    ``clearance_speed_min_mps + clearance_speed_gain_per_s * clearance`` (the footprint clearance
    the ``clearance`` critic filled in, else the footprint's distance to the scan's field); the
    raw cost is the mean squared excess over that (per (m/s)^2). Off by default; robots that
    drive fast among close obstacles enable it (config/robots/jackal.yaml)."""

    name = "clearance_speed"
    scores = "speed above what the footprint clearance at each predicted step allows"
    default_weight, weight_note = 20.0, " (per (m/s)^2 of excess speed)"
    default_enabled = False
    PARAMS = {
        "clearance_speed_min_mps": param(0.4, "Speed allowed with the footprint touching (m/s).", range=(0.0, 10.0)),
        "clearance_speed_gain_per_s": param(2.5, "Extra speed allowed per metre of footprint clearance "
                                                 "(m/s per m).", range=(0.0, 100.0)),
    }

    def initialize(self, cfg):
        super().initialize(cfg)
        self.v0, self.gain = float(cfg.clearance_speed_min_mps), float(cfg.clearance_speed_gain_per_s)
        self.footprint = Footprint.of(cfg)

    def raw(self, data):
        d = data.clearance_m
        if d is None:
            if data.ctx.field is None:
                return data.zeros()
            d = (data.ctx.footprint or self.footprint).distance(data.poses, data.ctx.field)   # (B, H)
        allowed = self.v0 + self.gain * d.clamp(min=0.0)                       # (B, H) m/s
        return (torch.relu(data.actions[..., 0].abs() - allowed) ** 2).mean(1)
