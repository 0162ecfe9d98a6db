"""JEPA-style world model: encoder(obs) -> z, predictor(z, a) -> z', heads on z.

Latent layout (L = ``cmd_memory``, S = ``scene_sectors``, E = 5 + 2L + S, D = E + latent_dim - 5
= ``WorldModel.latent_dim``), the same for every batch shape ``(..., D)``::

    z[..., 0:3]        pose (x_m, y_m, yaw_rad) in the odom frame (yaw unwrapped along a rollout)
    z[..., 3:5]        body-frame velocity (v_mps, w_radps)
    z[..., 5:5+2L]     the last L commands (v_mps, w_radps pairs, oldest first): filled from the
                       history at encoding, shifted by one command each predictor step, so commands
                       already sent keep acting under command latency
    z[..., 5+2L:E]     the scene: footprint clearance per sector / scan_clip_m, in [0, 1]; exact
                       from the scan at encoding, then updated by the predictor (a learned residual
                       that starts as "the scene stays as it is")
    z[..., E:D]        h: learned egocentric code of (scan, velocity[, image][, history]); a camera
                       model (``use_scan`` False, S = 0) codes (velocity, image[, history])

With ``history_steps`` K > 0 the encoder also reads the last K steps of commands, measured
velocities and their residuals (what the ground, the payload and the latency do to the robot)
and ``scan_history`` past scans (how obstacles move); see
``world_model_planner.world_model_node.history``. With ``scene_sectors`` S > 0 every latent
carries the footprint clearance (metres / scan_clip_m) in S sectors around the robot.

Only ``h`` is learned from observations, and everything the predictor sees (h, velocity,
action) is body-frame, so the dynamics it learns do not depend on where the robot is or which
way it faces: the predictor outputs a body-frame pose increment that is composed onto the pose.
That is what lets a model trained on a few layouts steer anywhere in an unseen arena.

The predictor is a residual MLP around a mid-point unicycle step: it predicts the next
velocity (acceleration limits, stopping at walls) and a small correction to the kinematic pose
increment, the next scene and the next ``h``. ``h`` is trained in latent space against a target
encoder (see ``world_model_planner.world_model_node.losses``); pose, velocity, collision and the
scene are supervised.

The encoders (scan, image, observation) live in
``world_model_planner.world_model_node.encoders`` and the config in
``world_model_planner.world_model_node.model_config``; both are re-exported here.

Checkpoints written before history and the scene existed carry none of their config
fields; :meth:`WorldModelConfig.from_dict` reads those as switched off (``LEGACY_OFF``), so such
a model encodes, predicts and scores exactly as it did.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from world_model_planner.core.mathutil import wrap_angle

from world_model_planner.world_model_node.encoders import (  # noqa: F401 - re-exported
    EXPLICIT_DIMS, POSE_DIMS, VEL_DIMS, ImageEncoder, ObsEncoder, ScanEncoder, clean_scan, footprint_ranges, mlp)
from world_model_planner.world_model_node.fused import FusedRollout
from world_model_planner.world_model_node.model_config import LEGACY_OFF, WorldModelConfig  # noqa: F401 - re-exported


def observation(pose, vel, scan, image=None, history=None, *, channels_last: bool = False) -> dict:
    """The observation :meth:`WorldModel.encode` takes, built in this one place.

    pose (B, 3) x, y, yaw; vel (B, 2) v, w; scan (B, N) ranges; image (B, 3, S, S) RGB, or
    (B, S, S, 3) with ``channels_last``. Arrays or tensors; encode moves them to the model's
    device as float32 (uint8 images stay uint8) and reads a missing batch axis as B = 1.
    history: a ``world_model_node.history.History``, unbatched (K, ...) or batched (B, K, ...);
    it becomes hist_cmd (B, K, 2), hist_vel (B, K, 2), hist_valid (B, K) and, when it holds
    scans, hist_scan (B, K, N). A model without history ignores these keys.
    """
    obs = {"pose": pose, "vel": vel, "scan": scan}
    if image is not None:
        obs["image"] = image.permute(0, 3, 1, 2) if channels_last and torch.is_tensor(image) else \
            (image.transpose(0, 3, 1, 2) if channels_last else image)
    if history is not None:
        batched = history.cmd.ndim == 3
        for key, arr in (("hist_cmd", history.cmd), ("hist_vel", history.vel), ("hist_valid", history.valid),
                         ("hist_scan", history.scan)):
            if arr is not None:
                obs[key] = arr if batched else arr[None]
    return obs


class Predictor(nn.Module):
    """(z (B, D), a (B, 2)) -> z' (B, D): residual MLP around a mid-point unicycle step.

    It reads h, the velocity, the action, the command memory (the last L commands, which
    under latency are what still drives the robot) and the scene; it shifts ``a`` into the
    memory and adds a learned residual to the scene (clamped to [0, 1])."""

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.cfg = cfg
        self.mem, self.sectors, self.ex = cfg.cmd_memory, cfg.scene_sectors, cfg.explicit_dims
        self.clip_m = min(cfg.scan_clip_m, cfg.range_max_m)      # the scene's metres per unit
        dh = cfg.h_dims
        self.net = mlp([dh + 4 + 2 * self.mem + self.sectors] + [cfg.pred_hidden] * cfg.pred_layers
                       + [dh + 2 + 3 + self.sectors])
        with torch.no_grad():  # start close to "h constant, velocity constant, exact kinematics"
            self.net[-1].weight.mul_(0.1)
            self.net[-1].bias.zero_()
        self.register_buffer("vw_scale", torch.tensor([cfg.v_scale_mps, cfg.w_scale_radps]), persistent=False)
        self.register_buffer("mem_scale", self.vw_scale.repeat(self.mem), persistent=False)
        # the identified lag the velocity step starts from (lag_prior): per axis (v, w)
        self.register_buffer("lag_k", torch.tensor([cfg.lag_k_v, cfg.lag_k_w]), persistent=False)
        self.register_buffer("lag_gain", torch.tensor([cfg.lag_gain_v, cfg.lag_gain_w]), persistent=False)
        lim = [r * cfg.dt_s if r > 0 else math.inf for r in (cfg.lag_rate_v, cfg.lag_rate_w)]
        self.register_buffer("lag_lim", torch.tensor(lim), persistent=False)
        # sector centres (sector 0 starts behind the robot, counter-clockwise), for the ego-motion prior
        centres = -math.pi + (torch.arange(max(self.sectors, 1), dtype=torch.float32) + 0.5) * (
            2 * math.pi / max(self.sectors, 1))
        self.register_buffer("sector_cos", centres.cos(), persistent=False)
        self.register_buffer("sector_sin", centres.sin(), persistent=False)

    def ego_scene(self, scene: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, dyaw: torch.Tensor,
                  clip_m: float) -> torch.Tensor:
        """The scene (..., S) in [0, 1] as seen after the robot moves by (dx, dy, dyaw) in its
        own frame, if nothing else moved: each sector's clearance shortened by the translation
        towards it (sectors at the clip stay there: nothing is known beyond it), then the sectors
        turned by dyaw (linear interpolation between neighbours)."""
        s = self.sectors
        step = (dx.unsqueeze(-1) * self.sector_cos + dy.unsqueeze(-1) * self.sector_sin) / clip_m
        # a sector at the clip only says "at least clip_m away": it stays there (the residual learns more)
        moved = torch.where(scene < 1.0 - 1e-4, scene - step, scene)
        shift = dyaw.unsqueeze(-1) / (2 * math.pi / s)            # fractional sectors, counter-clockwise
        base = torch.floor(shift)
        frac = shift - base
        idx = (torch.arange(s, device=scene.device) + base.long()) % s                  # (..., S)
        lo = torch.gather(moved, -1, idx)
        hi = torch.gather(moved, -1, (idx + 1) % s)
        return lo * (1.0 - frac) + hi * frac

    def lag_columns(self) -> list[int | None]:
        """Per axis (v, w): the column of z holding the command in force under the lag prior's
        delay d (the memory's d-th newest pair), or None for d = 0 (the action itself)."""
        out = []
        for axis, d in enumerate((self.cfg.lag_delay_v, self.cfg.lag_delay_w)):
            out.append(None if d == 0 else EXPLICIT_DIMS + 2 * (self.mem - d) + axis)
        return out

    def lag_step(self, vel: torch.Tensor, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The lag prior's next velocity (..., 2): per axis ``u + clip(k (gain cmd[t - d] - u), +-rate dt)``
        (planner_node/sysid.py's model), the delayed command read from z's command memory."""
        cols = self.lag_columns()
        cmd = torch.stack([a[..., i] if c is None else z[..., c] for i, c in enumerate(cols)], dim=-1)
        change = (cmd * self.lag_gain - vel) * self.lag_k
        return vel + torch.maximum(torch.minimum(change, self.lag_lim), -self.lag_lim)

    def forward(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        dt = self.cfg.dt_s
        pose, vel = z[..., :POSE_DIMS], z[..., POSE_DIMS:EXPLICIT_DIMS]
        mem_end = EXPLICIT_DIMS + 2 * self.mem
        mem, scene, h = z[..., EXPLICIT_DIMS:mem_end], z[..., mem_end:self.ex], z[..., self.ex:]
        inputs = [h, vel / self.vw_scale, a / self.vw_scale]
        if self.mem:
            inputs.append(mem / self.mem_scale)
        if self.sectors:
            inputs.append(scene)
        out = self.net(torch.cat(inputs, dim=-1))
        dh_n = h.shape[-1]
        h_next = h + out[..., :dh_n]
        base = self.lag_step(vel, z, a) if self.cfg.lag_prior else vel
        vel_next = base + out[..., dh_n:dh_n + 2] * self.vw_scale
        corr = out[..., dh_n + 2:dh_n + 5] * dt  # (B, 3) body-frame correction (dx, dy, dyaw)
        v_mid = 0.5 * (vel[..., 0] + vel_next[..., 0])
        w_mid = 0.5 * (vel[..., 1] + vel_next[..., 1])
        dyaw = w_mid * dt + corr[..., 2]
        half = 0.5 * dyaw
        dx = v_mid * dt * torch.cos(half) + corr[..., 0]
        dy = v_mid * dt * torch.sin(half) + corr[..., 1]
        c, s = torch.cos(pose[..., 2]), torch.sin(pose[..., 2])
        pose_next = torch.stack([pose[..., 0] + c * dx - s * dy,
                                 pose[..., 1] + s * dx + c * dy,
                                 pose[..., 2] + dyaw], dim=-1)
        parts = [pose_next, vel_next]
        if self.mem:
            parts.append(torch.cat([mem[..., 2:], a], dim=-1))   # oldest out, a in
        if self.sectors:
            prior = self.ego_scene(scene, dx, dy, dyaw, self.clip_m) if self.cfg.scene_prior else scene
            parts.append((prior + out[..., dh_n + 5:]).clamp(0.0, 1.0))
        parts.append(h_next)
        return torch.cat(parts, dim=-1)


class WorldModel(nn.Module):
    """encode / predict / rollout / pose / velocity / collision_logit / clearance. See module docstring."""

    #: False runs the step-by-step reference computation even without autograd (benchmarks, debugging)
    fused: bool = True
    #: the fused path's matrix products in this dtype (torch.bfloat16), the latent kept in the
    #: model's own; None: the model's dtype throughout (world_model_node/fused.py)
    matmul_dtype: torch.dtype | None = None
    #: products of fewer rows than this stay in the model's dtype (None: FusedRollout.LOW_MIN_ROWS)
    matmul_min_rows: int | None = None
    #: on a GPU, ``rollout_heads(reuse=True)`` replays a recorded CUDA graph of the fused path
    #: (world_model_node/cuda_graphs.py); False runs it eagerly (benchmarks, debugging)
    cuda_graphs: bool = True
    #: the fused path's per-step state update on the CPU: "auto" runs it as one compiled loop
    #: (world_model_node/step_kernel.py) where numba is installed, "torch" as PyTorch operations
    step_kernel: str = "auto"
    #: the fused path's bf16 products on the CPU: "auto" runs each layer as one oneDNN call with
    #: its bias and SiLU (world_model_node/onednn.py) where the build has it, "torch" as addmm + SiLU
    product_kernel: str = "auto"

    def __init__(self, cfg: WorldModelConfig | None = None, encoder: ObsEncoder | None = None,
                 predictor: Predictor | None = None, collision_head: nn.Module | None = None):
        super().__init__()
        self.cfg = cfg or WorldModelConfig()
        self.encoder = encoder or ObsEncoder(self.cfg)
        self.predictor = predictor or Predictor(self.cfg)
        # the collision head sees velocity, scene and h (body frame), never the odom pose, and with
        # head_clearance the scene's minimum
        head_in = VEL_DIMS + self.cfg.scene_sectors + self.cfg.h_dims + int(self.cfg.head_reads_clearance)
        self.collision_head = collision_head or mlp([head_in, self.cfg.head_hidden, self.cfg.head_hidden, 1])
        #: where the scene (clearance per sector / scan_clip_m) sits in z
        self.scene_slice = slice(EXPLICIT_DIMS + 2 * self.cfg.cmd_memory, self.cfg.explicit_dims)

    # -- properties -------------------------------------------------------------------
    @property
    def dt_s(self) -> float:
        return self.cfg.dt_s

    @property
    def latent_dim(self) -> int:
        """D: width of z (pose, velocity, command memory, scene, h)."""
        return self.cfg.z_dims

    @property
    def history_steps(self) -> int:
        """K: history rows the encoder reads (0: the model ignores any history)."""
        return self.cfg.history_steps

    @property
    def has_scene(self) -> bool:
        """True when :meth:`clearance` / :meth:`min_clearance` predict the future scene."""
        return self.cfg.scene_sectors > 0

    @property
    def obs_spec(self) -> dict:
        """Observation layout this model was built for (compared when loading)."""
        spec = {"scan_beams": self.cfg.scan_beams, "range_max_m": self.cfg.range_max_m,
                "image": self.cfg.use_image, "image_size": self.cfg.image_size if self.cfg.use_image else 0}
        if not self.cfg.use_scan:   # a camera model: only then is the key there (older specs lack it)
            spec["scan"] = False
        return spec

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- roles ----------------------------------------------------------------------
    def _tensor(self, x, name: str, shape_tail: tuple) -> torch.Tensor:
        t = torch.as_tensor(x, device=self.device)
        if t.dtype != torch.uint8:
            t = t.to(torch.float32)
        if t.dim() == len(shape_tail):  # single observation -> batch of 1
            t = t.unsqueeze(0)
        if t.dim() != len(shape_tail) + 1 or tuple(t.shape[1:]) != shape_tail:
            raise ValueError(f"obs['{name}']: expected shape (B, {', '.join(map(str, shape_tail))}), "
                             f"got {tuple(t.shape)}")
        return t

    def _hist_tensor(self, x, name: str, tail: tuple, b: int) -> torch.Tensor:
        """(B, K', *tail) or (K', *tail) -> (B, K, *tail) float: the last K rows, invalid zeros
        in front when K' < K; a batch of 1 is broadcast to B."""
        t = torch.as_tensor(x, device=self.device)
        t = torch.nan_to_num(t.to(torch.float32), nan=0.0, posinf=0.0, neginf=0.0) if name != "hist_scan" \
            else t.to(torch.float32)
        if t.dim() == len(tail) + 1:
            t = t.unsqueeze(0)
        if t.dim() != len(tail) + 2 or tuple(t.shape[2:]) != tail or t.shape[0] not in (1, b) or t.shape[1] < 1:
            shown = ", ".join(map(str, tail))
            raise ValueError(f"obs['{name}']: expected shape (B, K, {shown}) with B {b} or 1, got {tuple(t.shape)}")
        k = self.cfg.history_steps
        if t.shape[1] >= k:
            t = t[:, t.shape[1] - k:]
        else:
            t = torch.cat([t.new_zeros(t.shape[0], k - t.shape[1], *tail), t], dim=1)
        return t.expand(b, *t.shape[1:])

    def history_inputs(self, obs: dict, b: int) -> dict | None:
        """The encoder's history dict (see :class:`ObsEncoder`) from obs' hist_* keys, or None
        when the model reads no history or obs carries none."""
        keys = ("hist_cmd", "hist_vel", "hist_valid")
        if not self.cfg.history_steps or not any(k in obs for k in keys):
            return None
        missing = [k for k in keys if k not in obs]
        if missing:
            raise ValueError(f"obs: missing {missing[0]!r} (history keys hist_cmd, hist_vel, hist_valid go together)")
        valid = self._hist_tensor(obs["hist_valid"], "hist_valid", (), b) != 0
        hist = {"cmd": self._hist_tensor(obs["hist_cmd"], "hist_cmd", (2,), b) * valid.unsqueeze(-1),
                "vel": self._hist_tensor(obs["hist_vel"], "hist_vel", (2,), b), "valid": valid,
                "scans": None, "scan_valid": None}
        if self.cfg.scan_history and obs.get("hist_scan") is not None:
            rows = list(self.cfg.scan_history_rows)
            scans = self._hist_tensor(obs["hist_scan"], "hist_scan", (self.cfg.scan_beams,), b)
            hist["scans"], hist["scan_valid"] = scans[:, rows], valid[:, rows]
        return hist

    def encode(self, obs: dict) -> torch.Tensor:
        """obs {"pose": (B,3), "vel": (B,2), "scan": (B,N)[, "image": (B,3,S,S)][, "hist_cmd": (B,K,2),
        "hist_vel": (B,K,2), "hist_valid": (B,K)[, "hist_scan": (B,K,N)]]} -> z (B, D).

        Missing history reads as "nothing known yet" (all rows invalid); see :func:`observation`.
        A camera model (``use_scan`` False) needs no "scan" and ignores one."""
        for key in ("pose", "vel", "scan") if self.cfg.use_scan else ("pose", "vel"):
            if key not in obs:
                raise ValueError(f"obs: missing '{key}' (expected keys pose, vel, scan[, image][, hist_*])")
        pose = self._tensor(obs["pose"], "pose", (3,))
        vel = self._tensor(obs["vel"], "vel", (2,))
        scan = self._tensor(obs["scan"], "scan", (self.cfg.scan_beams,)) if self.cfg.use_scan else None
        image = None
        if self.cfg.use_image:
            if "image" not in obs:
                raise ValueError("obs: missing 'image' (this model was trained with images)")
            s = self.cfg.image_size
            image = self._tensor(obs["image"], "image", (3, s, s))
        return self.encode_parts(pose, vel, scan, image, self.history_inputs(obs, pose.shape[0]))

    def encode_parts(self, pose: torch.Tensor, vel: torch.Tensor, scan: torch.Tensor | None,
                     image: torch.Tensor | None = None, hist: dict | None = None) -> torch.Tensor:
        """Checked tensors (B, 3), (B, 2), (B, N) (None for a camera model)[, image][, hist dict] -> z (B, D)."""
        parts = [pose, vel]
        mem = self.cfg.cmd_memory
        if mem:
            if hist is None:
                parts.append(vel.new_zeros(vel.shape[0], 2 * mem))
            else:
                parts.append((hist["cmd"][:, -mem:] * hist["valid"][:, -mem:, None]).flatten(1))
        if self.cfg.scene_sectors:
            parts.append(self.scene_target(scan) / self.encoder.scan.clip_m)
        parts.append(self.encoder(vel, scan, image, hist))
        return torch.cat(parts, dim=-1)

    def predict(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """z (B, D), a (B, 2) = (v_cmd, w_cmd) held for dt_s -> z' (B, D)."""
        return self.predictor(z, a)

    def rollout(self, z0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """z0 (B, D) or (1, D), actions (B, H, 2) -> z (B, H, D): z[:, k] after actions[:, k].

        Without autograd (planning, evaluation) this is the fused computation of
        ``world_model_node.fused`` (the same numbers within float32 rounding); with autograd
        (training) it is :meth:`rollout_reference`."""
        self._check_rollout(z0, actions)
        fused = self._fused(z0, actions)
        return fused.rollout(z0, actions).contiguous() if fused is not None else self.rollout_reference(z0, actions)

    def rollout_heads(self, z0: torch.Tensor, actions: torch.Tensor, clearance: bool = True, reuse: bool = False,
                      collision: bool = True):
        """The planner's hot path: z0 (B, D) or (1, D), actions (B, H, 2) -> (z (B, H, D),
        collision logit (B, H), or None without ``collision``, smallest predicted clearance
        (B, H) metres, or None without ``clearance`` or a scene head); what :meth:`rollout`,
        :meth:`collision_logit` and :meth:`min_clearance` give, fused where autograd is off.
        With ``reuse`` the fused path writes z into the buffer of the last call of the same
        shape (no allocation per tick): z is then valid until the next such call; the logit and
        the clearance are new tensors. On a GPU, with ``reuse`` and ``cuda_graphs``, the fused
        path is replayed as a recorded CUDA graph (world_model_node/cuda_graphs.py), with the
        same promise. A head not asked for is not evaluated (at 512 x 20 the collision head is
        about a quarter of the work)."""
        self._check_rollout(z0, actions)
        fused = self._fused(z0, actions)
        if fused is None:
            z = self.rollout_reference(z0, actions)
            return (z, self.collision_logit(z) if collision else None,
                    self.min_clearance(z) if clearance and self.has_scene else None)
        if reuse and self.cuda_graphs and z0.is_cuda:
            out = self._graphed(fused).run(z0, actions, collision, clearance and self.has_scene)
            if out is not None:                          # None: recording failed (logged), eager below
                return out
        z = fused.rollout(z0, actions, reuse=reuse)
        return (z, fused.collision_logit(z, fresh=True) if collision else None,
                fused.min_clearance(z) if clearance and self.has_scene else None)

    @staticmethod
    def _graphed(fused):
        """The CUDA-graph runner of ``fused``, made on first use."""
        graphed = getattr(fused, "graphed", None)
        if graphed is None:
            from world_model_planner.world_model_node.cuda_graphs import GraphedHeads

            graphed = fused.graphed = GraphedHeads(fused)
        return graphed

    def _check_rollout(self, z0: torch.Tensor, actions: torch.Tensor) -> None:
        if actions.dim() != 3 or actions.shape[-1] != 2 or actions.shape[1] < 1:
            raise ValueError(f"actions: expected (B, H, 2) with H >= 1, got {tuple(actions.shape)}")
        if z0.dim() != 2 or z0.shape[0] not in (1, actions.shape[0]):
            raise ValueError(f"z0: expected batch 1 or {actions.shape[0]}, got {z0.shape[0]}")

    def _fused(self, z0: torch.Tensor, actions: torch.Tensor):
        """The FusedRollout for these inputs, or None where the reference computation must run
        (autograd on, another dtype or device, a non-default predictor or head)."""
        if not self.fused or torch.is_grad_enabled() and (z0.requires_grad or actions.requires_grad
                                        or any(p.requires_grad for p in self.parameters())):
            return None
        fused = self.__dict__.get("_fused_rollout")
        if fused is None or fused.model is not self:
            fused = FusedRollout(self)
            fused.ok = fused.supported()
            self.__dict__["_fused_rollout"] = fused
        w = self.predictor.net[0].weight
        if not fused.ok or z0.dtype != w.dtype or z0.device != w.device or actions.device != w.device:
            return None
        return fused

    def rollout_reference(self, z0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """:meth:`rollout` step by step through the predictor (differentiable; the definition
        the fused computation is tested against)."""
        self._check_rollout(z0, actions)
        b, horizon = actions.shape[0], actions.shape[1]
        z = z0.expand(b, -1) if z0.shape[0] == 1 else z0
        out = []
        for k in range(horizon):
            z = self.predictor(z, actions[:, k])
            out.append(z)
        return torch.stack(out, dim=1)

    # -- heads ------------------------------------------------------------------------
    def pose(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., 3) x_m, y_m, yaw_rad (wrapped) in the odom frame."""
        p = z[..., :POSE_DIMS]
        return torch.cat([p[..., :2], wrap_angle(p[..., 2:3])], dim=-1)

    def velocity(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., 2) v_mps, w_radps body frame."""
        return z[..., POSE_DIMS:EXPLICIT_DIMS]

    def command_memory(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., L, 2): the last L commands (oldest first) the latent carries."""
        return z[..., EXPLICIT_DIMS:self.scene_slice.start].unflatten(-1, (self.cfg.cmd_memory, 2))

    def _head_input(self, z: torch.Tensor) -> torch.Tensor:
        vel_n = z[..., POSE_DIMS:EXPLICIT_DIMS] / self.predictor.vw_scale
        parts = [vel_n, z[..., self.scene_slice.start:]]                     # velocity, scene, h
        if self.cfg.head_reads_clearance:                                    # the smallest clearance, in [0, 1]
            parts.append(z[..., self.scene_slice].amin(dim=-1, keepdim=True).clamp(0.0, 1.0))
        return torch.cat(parts, dim=-1)

    def collision_logit(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (...): sigmoid = P(contact during the step that produced z)."""
        return self.collision_head(self._head_input(z)).squeeze(-1)

    def clearance(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., S) predicted footprint clearance per sector, metres in [0, scan_clip_m]
        (sectors as :meth:`ScanEncoder.sectors_m`). Only for a model with ``has_scene``."""
        if not self.has_scene:
            raise ValueError("this world model has no scene prediction (has_scene is False; scene_sectors 0)")
        return z[..., self.scene_slice].clamp(0.0, 1.0) * self.encoder.scan.clip_m

    def min_clearance(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (...) predicted smallest footprint clearance, metres (``has_scene`` only)."""
        return self.clearance(z).min(dim=-1).values

    def scene_target(self, scan: torch.Tensor) -> torch.Tensor:
        """(..., N) observed ranges -> (..., S) the sector clearances :meth:`clearance` predicts."""
        return self.encoder.scan.sectors_m(scan, self.cfg.scene_sectors)

    def latent_h(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., dh): the learned part of the latent."""
        return z[..., self.cfg.explicit_dims:]
