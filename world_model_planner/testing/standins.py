"""Stand-in world models for planner tests: a few lines of torch each, with the WorldModel
interface the planner's LearnedModel reads (encode, rollout, pose, collision_logit, min_clearance)."""
from __future__ import annotations

import torch


class SceneWorldModel(torch.nn.Module):
    """A tiny stand-in for a WorldModel with history input and a scene head: latent = (x, y, yaw,
    clearance); records the observation it encoded."""

    dt_s = 0.1
    history_steps = 3
    has_scene = True
    obs_spec = {"scan_beams": 180, "scan_range_max": 8.0}

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.obs = None

    def encode(self, obs):
        self.obs = obs
        return torch.cat([torch.as_tensor(obs["pose"]), torch.ones(1, 1)], -1)          # (1, 4)

    def rollout(self, z, actions):                                                       # (B, H, 4)
        b, h = actions.shape[:2]
        steps = torch.arange(1, h + 1, dtype=torch.float32)
        z = z.expand(b, h, 4).clone()
        z[..., 0] = z[..., 0] + torch.cumsum(actions[..., 0] * 0.1, 1)
        z[..., 3] = 1.0 - 0.1 * steps                                                   # closing in
        return z

    def pose(self, z):
        return z[..., :3]

    def collision_logit(self, z):
        return torch.full(z.shape[:-1], -10.0)

    def min_clearance(self, z):
        return z[..., 3]


class ContactEverywhereModel(SceneWorldModel):
    """Its collision head reads contact at every step (P = 1 - 5e-5)."""

    def collision_logit(self, z):
        return torch.full(z.shape[:-1], 10.0)
