"""Motion models the planner rolls action sequences through.

Every model shares one interface, so MPPI and the critics never know which one they drive:

    state = model.reset_state(pose (3,), vel (2,), scan (N,), history=None)
    out = model.rollout(state, actions)      # actions (B, H, 2) = (v m/s, w rad/s) per step
    out.poses (B, H, 3)  x, y, yaw after each step, odom frame
    out.collision_prob (B, H) or None        # P(contact during step), learned model only; None
                                             # with rollout(..., collision=False) (no critic scores it)
    out.clearance_m (B, H) or None           # predicted footprint clearance (m, <= 0 = contact) after each step
    out.latent (B, H, dh) or None            # the learned latent after each step, camera models only

A camera model (``LearnedModel.needs_image``) reads no scan: ``reset_state(pose, vel, None,
history, image=(S, S, 3) uint8)``; ``embed_goal(image)`` is a goal picture's latent (goal images).

``history`` is a ``world_model_node.history.History`` of the last ``model.history_steps`` steps
(commands, measured velocities, scans); the navigator passes it only to models whose
``history_steps`` is above 0.

``UnicycleModel`` is ideal kinematics (the ``classic`` planner, and the stand-in for tests).
``SysIdModel`` is the ``classic_id`` baseline: an identified first-order lag with a pure delay
per axis (planner_node.sysid), exact unicycle integration, and a predicted clearance from the
static scan points plus moving obstacles tracked and extrapolated at constant velocity
(planner_node.tracking). ``LearnedModel`` wraps a world_model_node ``WorldModel``: encode once
per tick (with the history, for models that read one), roll the latent forward, read poses, the
collision head and, for models with a scene head, the predicted clearance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from world_model_planner.core.mathutil import wrap_angle
from world_model_planner.world_model_node.model import observation


@dataclass
class Rollout:
    """poses: (B, H, 3) x, y, yaw per step; collision_prob: (B, H) in [0, 1] or None;
    clearance_m: (B, H) predicted footprint clearance (m; <= 0 = contact; the learned model's
    is >= 0, SysIdModel's is signed) or None; latent: (B, H, dh) the learned part of the latent
    after each step (camera models, for goal images) or None."""

    poses: torch.Tensor
    collision_prob: torch.Tensor | None = None
    clearance_m: torch.Tensor | None = None
    latent: torch.Tensor | None = None


def clean_scan(scan, range_max_m: float) -> np.ndarray:
    """(..., N) ranges: inf → range_max (no return), nan/negative → range_max (invalid, ignored)."""
    s = np.asarray(scan, dtype=np.float32).copy()
    bad = ~np.isfinite(s) | (s < 0)
    s[bad] = range_max_m
    return np.minimum(s, range_max_m)


def integrate_unicycle(pose0: torch.Tensor, v: torch.Tensor, w: torch.Tensor, dt_s: float) -> torch.Tensor:
    """pose0 (3,), v, w (B, H) constant over each step → poses (B, H, 3) after each step.

    Exact for constant (v, w) over a step (an arc: ds * sinc(dth/2) along the mid-step heading)
    and fully vectorised over the horizon (cumulative sums, no Python loop)."""
    dth = w * dt_s
    yaw_end = pose0[2] + torch.cumsum(dth, dim=1)                       # (B, H)
    yaw_start = yaw_end - dth
    half = 0.5 * dth
    small = half.abs() < 1e-4
    sinc = torch.where(small, 1.0 - half * half / 6.0, torch.sin(half) / torch.where(small, torch.ones_like(half), half))
    ds = v * dt_s * sinc
    mid = yaw_start + half
    x = pose0[0] + torch.cumsum(ds * torch.cos(mid), dim=1)
    y = pose0[1] + torch.cumsum(ds * torch.sin(mid), dim=1)
    return torch.stack([x, y, wrap_angle(yaw_end)], dim=-1)


class UnicycleModel:
    """Ideal unicycle kinematics: the commanded (v, w) is the velocity over each step.

    Integration is exact for constant (v, w) over a step and fully vectorised over the horizon
    (cumulative sums, no Python loop).
    """

    def __init__(self, dt_s: float = 0.1, device: torch.device | str = "cpu"):
        self.dt_s = float(dt_s)
        self.device = torch.device(device)

    def observe_scan(self, scan, geom=None, unseen_range_m: float = 1.0):
        """The scan as this model reads it: the unicycle does not read it."""
        return scan

    history_steps = 0

    def reset_state(self, pose, vel, scan=None, history=None) -> dict:
        """The history is ignored: ideal kinematics has no past."""
        return {"pose": torch.as_tensor(np.asarray(pose, dtype=np.float32), device=self.device)}

    @torch.inference_mode()
    def rollout(self, state: dict, actions: torch.Tensor, collision: bool = True) -> Rollout:
        """actions (B, H, 2) → Rollout(poses (B, H, 3), None)."""
        return Rollout(integrate_unicycle(state["pose"], actions[..., 0], actions[..., 1], self.dt_s), None)


class TrackedScene:
    """The scene as the scan shows it, for models that score a footprint at their predicted poses.

    ``scene_update(t_s, points, origin)`` feeds each scan's odom-frame returns to a
    ``tracking.Tracker``; the static ones make a local ``DistanceField``, the moving ones are
    extrapolated at constant velocity to each step's time. ``clearance`` is the footprint's
    signed distance to both (negative = overlap, so a critic can still tell a way out).
    """

    def _init_scene(self, tracker_cfg=None, footprint=None, field_size_m: float = 8.0,
                    field_res_m: float = 0.05) -> None:
        from world_model_planner.planner_node.tracking import Tracker

        self.tracker = Tracker(tracker_cfg)
        self.set_geometry(footprint, field_size_m, field_res_m)
        self._scene = None
        self._field = None
        self._t: float | None = None

    def set_geometry(self, footprint=None, field_size_m: float = 8.0, field_res_m: float = 0.05) -> None:
        """The footprint (critics.field.Footprint) and the static field's size and resolution (m)."""
        from world_model_planner.planner_node.critics.field import Footprint

        self.footprint = footprint or Footprint(0.99, 0.67, 5)
        self.field_size_m, self.field_res_m = float(field_size_m), float(field_res_m)

    def scene_update(self, t_s: float, points=None, origin=None, remembered=None) -> None:
        """The control tick's time; with ``points`` (K, 2) (odom-frame returns of a new scan
        taken at ``origin`` (2,)), also a tracker update and a new static field. ``remembered``
        (R, 2): obstacles the map holds where the scan does not look (behind a lidar of less
        than 360 degrees); they join the static field, not the tracker."""
        from world_model_planner.planner_node.critics.field import DistanceField

        self._t = float(t_s)
        if points is None:
            return
        self._scene = self.tracker.update(float(t_s), points, origin)
        static = self._scene.static_points
        if remembered is not None and len(remembered):
            static = np.concatenate([np.asarray(static, dtype=np.float64).reshape(-1, 2),
                                     np.asarray(remembered, dtype=np.float64).reshape(-1, 2)])
        self._field = DistanceField(static, np.asarray(origin, dtype=np.float64)[:2],
                                    self.field_size_m, self.field_res_m, self.device, far_m=self.field_size_m)

    def scene_state(self) -> dict:
        """{"field": the static DistanceField or None, "movers": (pos (M, 2) now, vel (M, 2),
        radius (M,)) tensors or None}, for ``clearance``."""
        movers, sc, dev = None, self._scene, self.device
        if sc is not None and len(sc.pos):
            lead = (self._t if self._t is not None else sc.t_s) - sc.t_s
            movers = (torch.as_tensor(sc.pos + sc.vel * lead, dtype=torch.float32, device=dev),   # (M, 2)
                      torch.as_tensor(sc.vel, dtype=torch.float32, device=dev),                 # (M, 2)
                      torch.as_tensor(sc.radius, dtype=torch.float32, device=dev))              # (M,)
        return {"field": self._field, "movers": movers}

    def clearance(self, poses: torch.Tensor, state: dict) -> torch.Tensor | None:
        """poses (B, H, 3) → (B, H) signed footprint clearance (m, negative = overlap, so a
        critic can still tell a way out) to the static points and the extrapolated moving
        obstacles, less the footprint's padding for both; None before any scan. ``state["footprint"]``,
        where present, is measured in place of ``self.footprint``."""
        return self.clearance_parts(poses, state)[0]

    def clearance_parts(self, poses: torch.Tensor, state: dict):
        """(``clearance``, the part of it to the moving obstacles alone (B, H) or None)."""
        field, movers = state["field"], state["movers"]
        if field is None and movers is None:
            return None, None
        fp = state.get("footprint") or self.footprint          # the goal approach may measure another
        d = fp.distance(poses, field) if field is not None else None
        dm = None
        if movers is not None:
            pos, vel, rad = movers
            h = poses.shape[1]
            t = torch.arange(1, h + 1, device=poses.device, dtype=poses.dtype) * self.dt_s
            at = pos[None] + vel[None] * t[:, None, None]                                 # (H, M, 2)
            dm = fp.mover_distance(poses, at, rad)                                          # (B, H)
            d = dm if d is None else torch.minimum(d, dm)
        return d, dm


def mover_within(pose, movers, radius_m: float) -> bool:
    """A tracked obstacle's edge within ``radius_m`` of the robot's centre; ``movers`` as in
    ``TrackedScene.scene_state`` (None: nothing tracked)."""
    if movers is None:
        return False
    pos, _, rad = movers
    xy = torch.as_tensor(np.asarray(pose, np.float32)[:2], device=pos.device)
    return bool(((pos - xy).norm(dim=-1) - rad <= float(radius_m)).any())


class SysIdModel(TrackedScene):
    """The ``classic_id`` baseline: identified velocity response + tracked moving obstacles.

    Velocity, per axis (v, w): ``u[t+1] = u[t] + clip(dt/tau * (gain * cmd[t - d] - u[t]),
    ±rate * dt)`` (``planner_node.sysid.SysIdParams``; the clip only where the fit found the
    base's rate limit). The first ``d`` commands of a rollout are the last ``d`` already sent
    (from the history; without one, the current velocity / gain held); the sampled actions act
    ``d`` steps later. Each step moves along an exact unicycle arc at the mean of its start and
    end velocities. Without a rate limit the recurrence is solved in closed form, so a rollout
    is one (B, H) x (H, H) product per axis; with one it runs step by step over (B,) vectors.

    Clearance: ``scene_update(t_s, points, origin)`` feeds each scan's odom-frame returns to a
    ``tracking.Tracker``; the static ones make a local ``DistanceField``, the moving ones are
    extrapolated at constant velocity to each step's time. ``Rollout.clearance_m`` (B, H) is
    the smaller of the footprint's signed distance to both (negative = overlap).
    """

    def __init__(self, params, device: torch.device | str = "cpu", tracker_cfg=None,
                 footprint=None, field_size_m: float = 8.0, field_res_m: float = 0.05):
        self.params = params
        self.dt_s = float(params.dt_s)
        self.device = torch.device(device)
        self.history_steps = int(params.history_steps)
        self._init_scene(tracker_cfg, footprint, field_size_m, field_res_m)
        self._lower: dict = {}

    @classmethod
    def from_file(cls, path, device=None, **kw) -> "SysIdModel":
        from world_model_planner.planner_node.sysid import load

        return cls(load(path), device or "cpu", **kw)

    def observe_scan(self, scan, geom=None, unseen_range_m: float = 1.0):
        """The scan as this model reads it: through ``scene_update`` points only."""
        return scan

    def _pending(self, name: str, v0: float, history) -> np.ndarray:
        """(d,) commands already sent that act during the first d steps of a rollout, oldest first."""
        a = self.params.axis(name)
        d, i = a.delay_steps, (0 if name == "v" else 1)
        held = np.full(d, v0 / a.gain)
        if history is None or d == 0 or history.steps < d:
            return held
        cmd, ok = np.asarray(history.cmd)[-d:, i], np.asarray(history.valid)[-d:]
        return np.where(ok, cmd, held)

    def reset_state(self, pose, vel, scan=None, history=None) -> dict:
        """pose (3,), vel (2,) measured; history: the last commands (for the delay) or None."""
        dev = self.device
        vel = np.asarray(vel, dtype=np.float64).reshape(2)
        state = {"pose": torch.as_tensor(np.asarray(pose, dtype=np.float32), device=dev),
                 "vel": torch.as_tensor(vel, dtype=torch.float32, device=dev),
                 "pending": [torch.as_tensor(self._pending(n, vel[i], history), dtype=torch.float32, device=dev)
                             for i, n in enumerate(("v", "w"))],
                 **self.scene_state()}
        return state

    def _response(self, name: str, u0: torch.Tensor, pending: torch.Tensor, cmd: torch.Tensor) -> torch.Tensor:
        """u0 () start velocity, pending (d,), cmd (B, H) → velocities (B, H) after each step."""
        a = self.params.axis(name)
        b, h = cmd.shape
        u = torch.cat([pending.expand(b, -1), cmd], dim=1)[:, :h]                        # (B, H) in force
        if math.isfinite(a.rate):
            out = torch.empty_like(u)
            vel = u0.expand(b).to(u.dtype)
            for j in range(h):
                vel = a.step(vel, a.gain * u[:, j], self.dt_s)
                out[:, j] = vel
            return out
        k = a.k(self.dt_s)
        key = (name, h, cmd.dtype, cmd.device)
        if key not in self._lower:
            j = torch.arange(h, device=cmd.device, dtype=torch.float64)
            expo = (j[:, None] - j[None, :]).clamp_min(0)
            lower = torch.where(j[:, None] >= j[None, :], (1 - k) ** expo * k * a.gain, torch.zeros_like(expo))
            decay = (1 - k) ** (j + 1)
            self._lower[key] = (lower.to(cmd.dtype), decay.to(cmd.dtype))
        lower, decay = self._lower[key]
        return u0 * decay + u @ lower.T

    @torch.inference_mode()
    def rollout(self, state: dict, actions: torch.Tensor, collision: bool = True) -> Rollout:
        """actions (B, H, 2) → Rollout(poses (B, H, 3), None, clearance_m (B, H) or None)."""
        v0, w0 = state["vel"][0], state["vel"][1]
        v = self._response("v", v0, state["pending"][0], actions[..., 0])                 # (B, H)
        w = self._response("w", w0, state["pending"][1], actions[..., 1])
        v_mid = 0.5 * (v + torch.cat([v0.expand(v.shape[0], 1), v[:, :-1]], dim=1))
        w_mid = 0.5 * (w + torch.cat([w0.expand(w.shape[0], 1), w[:, :-1]], dim=1))
        poses = integrate_unicycle(state["pose"], v_mid, w_mid, self.dt_s)
        return Rollout(poses, None, self.clearance(poses, state))


class LearnedModel(TrackedScene):
    """The learned world model behind the planner interface.

    ``model`` is a world_model_node ``WorldModel`` (encode / rollout / pose / collision_logit).
    The observation is built from the model's ``obs_spec`` (scan beams, range max). A camera
    model (``needs_image``: obs_spec image on, scan off) reads the camera frame instead of the
    scan: ``reset_state(..., image=)`` encodes it once per tick, the rollout stays in latent space
    and ``Rollout.latent`` carries the predicted learned latent (for a goal image's cost); it has
    no scan and so no tracked scene (``tracked_scene`` is off) unless a depth camera's scan feeds
    one (``scene_update``, then ``tracked_scene`` on); without it contact comes from the collision
    head alone. A model that reads both a scan and an image is refused.

    Clearance: the model's own scene prediction (``min_clearance``, for models with a scene
    head) and, with ``tracked_scene`` on (the default), the footprint at the model's predicted
    poses against the latest scan's static points and the tracked movers extrapolated at
    constant velocity (``TrackedScene``); ``Rollout.clearance_m`` is the smaller of the two, so
    the learned scene can add what the scan does not show but never hides an obstacle the scan
    shows.
    """

    def __init__(self, model, device: torch.device | str | None = None, tracked_scene: bool = True):
        self.model = model
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.dt_s = float(model.dt_s)
        self.tracked_scene = bool(tracked_scene)
        self.model_scene = True     # nav.model_scene: the model's own scene prediction in the clearance
        self.model_scene_near_m = 0.0   # nav.model_scene_near_movers_m: > 0, only with a mover this near
        self.collision_gate_m = 0.0     # nav.collision_mover_gate_m: > 0, the head only at poses this near a mover
        self._init_scene()
        spec = getattr(model, "obs_spec", None)
        self.beams = _spec_get(spec, ("scan_beams", "beams", "n_beams"), None)
        self.range_max_m = float(_spec_get(spec, ("scan_range_max", "range_max", "range_max_m"), 8.0))
        self.needs_image = bool(_spec_get(spec, ("image", "use_image", "image_on"), False))
        if self.needs_image and _spec_get(spec, ("scan",), True):
            raise ValueError("the planner feeds either a scan or a camera image; this checkpoint "
                             "expects both (obs_spec.image and obs_spec.scan are on)")
        if self.needs_image:
            self.beams, self.tracked_scene = None, False       # no scan: no scan layout, no tracked scene
            self.image_size = int(_spec_get(spec, ("image_size",), 64))

    @classmethod
    def from_checkpoint(cls, path: str, device=None) -> "LearnedModel":
        from world_model_planner.world_model_node.checkpoint import load_checkpoint

        return cls(load_checkpoint(path, device=device), device=device)

    def observe_scan(self, scan, geom=None, unseen_range_m: float = 1.0) -> np.ndarray:
        """(beams,) the scan on this model's beam layout (``beams`` over 360° from -π); None for
        a camera model, which reads no scan.

        A scan of another layout (other beam count, another angle_min or increment, less than
        360°) is projected with ``sensor_check.resample_scan`` (nearest beam). Beams of the
        layout that the lidar does not cover read as a return at ``unseen_range_m``: unseen
        space is treated as an obstacle nearby, never as free. Invalid beams (NaN) inside the
        covered arc stay NaN (``clean_scan`` reads them as no return, as before)."""
        if self.needs_image:
            return None
        scan = np.asarray(scan, dtype=np.float64).reshape(-1)
        if geom is None or self.beams is None:
            return scan
        n = int(self.beams)
        if geom.n == n and abs(geom.angle_min + math.pi) < 1e-4 and abs(geom.angle_increment - 2 * math.pi / n) < 1e-6:
            return scan
        from world_model_planner.core.sensor_check import resample_scan

        out = resample_scan(scan, geom, n, -math.pi)
        covered = ~np.isnan(resample_scan(np.zeros(geom.n), geom, n, -math.pi))
        out[~covered] = unseen_range_m
        return out

    @property
    def history_steps(self) -> int:
        """Steps of history the wrapped model reads (0: a model without history input)."""
        return int(getattr(self.model, "history_steps", 0) or 0)

    @property
    def has_scene(self) -> bool:
        """True when the wrapped model predicts the footprint clearance (``min_clearance``)."""
        return bool(getattr(self.model, "has_scene", False))

    def check_image(self, image) -> np.ndarray:
        """image (S, S, 3) uint8 RGB (S = the model's image_size) → itself as an array; anything
        else raises ValueError naming what was expected."""
        img = np.asarray(image)
        s = self.image_size
        if img.dtype != np.uint8 or img.shape != (s, s, 3):
            raise ValueError(f"camera image: expected ({s}, {s}, 3) uint8 RGB for this world model, "
                             f"got {img.shape} {img.dtype}")
        return img

    @torch.inference_mode()
    def embed_goal(self, image) -> torch.Tensor:
        """A goal picture (S, S, 3) uint8 → (dh,) its learned latent, embedded as a goal is given
        (world_model_node.evaluate.embed_goals): the frame alone, velocity zero, no history."""
        if not self.needs_image:
            raise ValueError("goal images need a camera world model; this one reads no image")
        img = torch.as_tensor(self.check_image(image), device=self.device)[None]
        zero = torch.zeros((1, 3), dtype=torch.float32, device=self.device)
        z = self.model.encode(observation(zero, zero[:, :2], None, img, channels_last=True))
        return self.model.latent_h(z)[0]

    def state_latent(self, state: dict) -> torch.Tensor:
        """(1, dh) the learned latent of the state ``reset_state`` encoded (the frame in view)."""
        return self.model.latent_h(state["z"])

    @torch.inference_mode()
    def _reset_camera(self, pose, vel, history, image) -> dict:
        if image is None:
            raise ValueError("this world model encodes camera images: reset_state needs image (S, S, 3) uint8")
        dev = self.device
        img = torch.as_tensor(self.check_image(image), device=dev)[None]
        hist = history if history is not None and self.history_steps > 0 else None
        obs = observation(torch.as_tensor(np.asarray(pose, np.float32), device=dev)[None],
                          torch.as_tensor(np.asarray(vel, np.float32), device=dev)[None],
                          None, img, history=hist, channels_last=True)
        state = {"z": self.model.encode(obs)}                              # (1, D)
        if self.tracked_scene:                 # a depth camera's scan feeds the scene (scene_update)
            state.update(self.scene_state())
        return state

    @torch.inference_mode()
    def reset_state(self, pose, vel, scan, history=None, image=None) -> dict:
        """pose (3,), vel (2,), scan (beams,), history: a History of ``history_steps`` rows (its
        scans, when present, on this model's beam layout) or None (then only the present).
        A camera model (``needs_image``) takes ``image`` (S, S, 3) uint8 and ignores ``scan``."""
        if self.needs_image:
            return self._reset_camera(pose, vel, history, image)
        scan = clean_scan(scan, self.range_max_m)
        if self.beams is not None and scan.shape[0] != int(self.beams):
            raise ValueError(f"scan has {scan.shape[0]} beams, the world model expects {self.beams}")
        dev = self.device
        args = (torch.as_tensor(np.asarray(pose, np.float32), device=dev)[None],
                torch.as_tensor(np.asarray(vel, np.float32), device=dev)[None],
                torch.as_tensor(scan, device=dev)[None])
        if history is not None and self.history_steps > 0:
            if history.scan is not None:
                history = type(history)(history.cmd, history.vel, history.valid,
                                        clean_scan(history.scan, self.range_max_m))
            obs = _observation_with_history(args, history, dev)
        else:
            obs = observation(*args)
        state = {"z": self.model.encode(obs)}                              # (1, D)
        if self.tracked_scene:
            state.update(self.scene_state())
            if self.model_scene_near_m > 0:
                state["model_scene"] = self._mover_near(pose, state["movers"])
        return state

    def _mover_near(self, pose, movers) -> bool:
        """A tracked moving obstacle's edge within ``model_scene_near_m`` of the robot's centre."""
        return mover_within(pose, movers, self.model_scene_near_m)

    @torch.inference_mode()
    def rollout(self, state: dict, actions: torch.Tensor, collision: bool = True) -> Rollout:
        """``collision``: evaluate the collision head (False where no critic scores it:
        collision_prob is then None)."""
        fused = getattr(self.model, "rollout_heads", None)                  # one fused pass where the model has it
        scene = self.has_scene and self.model_scene and state.get("model_scene", True)
        if fused is not None:
            z, logit, clear = fused(state["z"], actions, clearance=scene, reuse=True,   # z: read below only
                                    collision=collision)
        else:
            z = self.model.rollout(state["z"], actions)                      # (B, H, D)
            logit = self.model.collision_logit(z) if collision else None
            clear = self.model.min_clearance(z) if scene else None
        poses = self.model.pose(z)                                           # (B, H, 3)
        coll = torch.sigmoid(logit) if logit is not None else None           # (B, H)
        if clear is not None:                                                # (B, H), less the padding
            clear = clear.clamp_min(0.0) - self.footprint.padding
        if "field" in state:
            seen, dm = self.clearance_parts(poses, state)                  # (B, H) or None each
            if seen is not None:
                clear = seen if clear is None else torch.minimum(clear, seen)
            if coll is not None and self.collision_gate_m > 0 and state["field"] is not None:
                # the head only where movers are; the static field checks the rest
                coll = coll * (dm <= self.collision_gate_m) if dm is not None else torch.zeros_like(coll)
        if self.needs_image:
            return Rollout(poses, coll, clear, self.model.latent_h(z))
        return Rollout(poses, coll, clear)


def _observation_with_history(args: tuple, history, device) -> dict:
    """world_model_node.model.observation with the history keys (hist_cmd (1, K, 2), hist_vel
    (1, K, 2), hist_valid (1, K), hist_scan (1, K, N)); built here from the History where that
    observation() does not take a history yet."""
    try:
        return observation(*args, history=history)
    except TypeError:
        pass
    obs = observation(*args)

    def t(a, dtype=torch.float32):
        return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)[None]

    obs.update(hist_cmd=t(history.cmd), hist_vel=t(history.vel), hist_valid=t(history.valid, torch.bool))
    if history.scan is not None:
        obs["hist_scan"] = t(history.scan)
    return obs


def _spec_get(spec, names, default):
    if spec is None:
        return default
    for n in names:
        if isinstance(spec, dict) and n in spec:
            return spec[n]
        if hasattr(spec, n):
            return getattr(spec, n)
    return default


