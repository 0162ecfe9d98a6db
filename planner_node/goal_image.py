"""Goals given as pictures: "go to where this photo was taken" (after DINO-WM and V-JEPA 2-AC).

The goal picture is embedded once with the camera world model's encoder, as a goal is given
(the frame alone, velocity zero, no history: ``LearnedModel.embed_goal``). Each control tick
the sampled action sequences are rolled out in latent space, and ``GoalImage.cost`` scores the
distance between the predicted learned latent and the goal's: at the end of the horizon, plus
a share of its mean along the horizon (``goal_image_along``). No pixel is reconstructed.

There is no pose to reach, so the pose critics (goal, heading, progress, path, path_angle)
have nothing to aim at; the navigator scores a goal image with the other critics (collision,
effort, smoothness, ...) plus this cost (``camera_critics_config``).

Honest limits (models/husky_camera.md): the camera model's latent ranks distance to a goal
about as well as plain pixel distance does (Spearman 0.29 vs 0.28 pooled; 0.53 over the rows
heading like the goal). ``scripts/camera_episodes.py --goal-images`` measures what that gives.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from world_model_planner.core.params import param, validate

#: critics that score a pose target: off for a goal image, which has none
POSE_CRITICS = ("goal", "heading", "progress", "path", "path_angle")


@dataclass
class CameraPlanConfig:
    """Camera-only planning (no scan): the collision head's weight and how a goal picture is scored."""

    collision_weight: float = param(20.0, "Weight of the collision critic when planning from the camera alone "
                                    "(replaces critics.collision_weight there): the camera model's collision "
                                    "head reads a robot at rest as likely in contact, and at 40 or more the "
                                    "planner would not leave the start of the open scenario.", range=(0.0, 1e6))
    depth_collision_weight: float = param(0.0, "Weight of the collision critic for a camera model fed a depth "
                                          "camera's scan (planner_node.depth_scan; replaces "
                                          "critics.collision_weight there): the footprint clearance to what the "
                                          "depth image shows scores contact, and the head's false alarms (it "
                                          "reads open floor as likely contact) made the robot spin at the start "
                                          "of the open scenario at 20.", range=(0.0, 1e6))
    blind_reverse_m: float = param(1.0, "Camera only, no depth (RGB), where nothing behind the robot is seen: it "
                                   "may reverse only back along the way it came, at most this far (m; the "
                                   "distance driven forward, less what it has reversed since). "
                                   "0: never reverse. Reversing freely, a goal picture that looked like the "
                                   "start's own view had the robot back into the wall behind it; never "
                                   "reversing, it could not back off the wall in front.", range=(0.0, 100.0))
    goal_image_weight: float = param(10.0, "Weight of the latent distance to the goal picture's embedding "
                                     "(per unit of latent L2 distance).", range=(0.0, 1e6))
    goal_image_along: float = param(0.5, "Share of the mean latent distance along the horizon added to the "
                                    "distance at its end (0: the end only).", range=(0.0, 10.0))
    goal_image_reached_distance: float = param(0.0, "The goal picture counts as reached when the current "
                                               "frame's latent distance to it is below this (0: never; the "
                                               "latent does not yet tell 0.5 m from 2 m reliably).",
                                               range=(0.0, 1e6))

    def __post_init__(self):
        validate(self)


class GoalImage:
    """A goal picture's embedding ``h`` (dh,) and the cost of predicted latents against it."""

    def __init__(self, h: torch.Tensor, cfg: CameraPlanConfig | None = None):
        if h.dim() != 1 or not torch.isfinite(h).all():
            raise ValueError(f"goal embedding: expected a finite (dh,) vector, got shape {tuple(h.shape)}")
        self.h = h
        self.cfg = cfg or CameraPlanConfig()

    @classmethod
    def from_image(cls, model, image, cfg: CameraPlanConfig | None = None) -> "GoalImage":
        """Embed ``image`` (S, S, 3) uint8 once with ``model`` (a camera ``LearnedModel``)."""
        return cls(model.embed_goal(image), cfg)

    def distance(self, latent: torch.Tensor) -> torch.Tensor:
        """latent (..., dh) → (...) L2 distance to the goal embedding."""
        return torch.linalg.norm(latent - self.h.to(latent.device), dim=-1)

    def cost(self, latent: torch.Tensor) -> torch.Tensor:
        """latent (B, H, dh) predicted along each sequence → (B,) weighted cost: distance at the
        last step + ``goal_image_along`` × the mean distance over the horizon."""
        d = self.distance(latent)                                                  # (B, H)
        return self.cfg.goal_image_weight * (d[:, -1] + self.cfg.goal_image_along * d.mean(1))


def camera_critics_config(critics_cfg, cfg: CameraPlanConfig, goal_image: bool, depth: bool = False):
    """The critics config for camera-only planning: the collision weight of ``cfg`` (with a depth
    camera's scan ``depth_collision_weight``); for a goal picture also without the pose critics
    (POSE_CRITICS)."""
    keep = [n for n in critics_cfg.critics if not (goal_image and n in POSE_CRITICS)]
    weight = cfg.depth_collision_weight if depth else cfg.collision_weight
    return dataclasses.replace(critics_cfg, critics=keep, collision_weight=weight)
