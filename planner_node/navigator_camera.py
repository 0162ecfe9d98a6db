"""The Navigator's camera-only path (a mixin of planner_node.navigator.Navigator): a camera
world model planning without a range sensor, and goals given as pictures.

Without a scan (``step(..., scan=None, image=frame)``) the planner aims straight at a pose goal
through odometry (no map, no distance field, no recovery), with the collision head in the cost
(``camera.collision_weight``); a goal picture (``set_goal_image``) is scored by the latent
distance to its embedding (``goal_image``). A camera model fed a depth camera's scan plans in
``Navigator._step`` instead, with ``_camera_critics_for(..., depth=True)``.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
import torch

from world_model_planner.planner_node.critics import Critics, CostContext

if TYPE_CHECKING:
    from world_model_planner.planner_node.navigator_config import Command


class CameraPlanning:
    """set_goal_image, the camera critics and the tick without a scan (uses the Navigator's
    cfg, model, mppi, recovery, goal state, history and _zero / _planned / _caution)."""

    def set_goal_image(self, image) -> tuple[bool, str]:
        """A goal given as a picture (S, S, 3) uint8 taken where the robot should go: embedded
        once with the camera model's encoder (goal_image.GoalImage, scored as cfg.camera says);
        replaces any pose goal. Refused (False, reason) for a model that reads no image or a
        malformed picture."""
        from world_model_planner.planner_node.goal_image import GoalImage

        try:
            if not getattr(self.model, "needs_image", False):
                raise ValueError(f"goal images need a camera world model; the planner runs {self.model_desc}")
            goal = GoalImage.from_image(self.model, image, self.cfg.camera)
        except ValueError as e:
            return False, self.refuse(f"goal image: {e}")
        self.mppi.reset()
        self._last_t = None
        self.goal, self.goal_yaw, self.goal_image = None, None, goal
        self.state, self.reason = "planning", ""
        self.recovery.reset()
        return True, ""

    def _check_frame(self, model, image):
        """The frame a camera model reads this tick → (frame, None), or (None, a zero Command
        that says why not: no frame, or one of the wrong size or type)."""
        if image is None:
            return None, self._zero("stopped", "camera only: no camera image this tick")
        try:
            return model.check_image(image), None
        except ValueError as e:
            return None, self._zero("stopped", str(e))

    def _camera_critics_for(self, goal_image: bool, depth: bool = False) -> Critics:
        """The critics for a camera model (``camera.collision_weight``, with a depth camera's scan
        ``camera.depth_collision_weight``; without the pose critics for a goal picture), rebuilt
        when the config or the case changes."""
        key = (self.cfg.critics, self.cfg.camera, goal_image, depth)
        if self._camera_critics is None or self._camera_critics[0] != key:
            from world_model_planner.planner_node.goal_image import camera_critics_config

            cc = camera_critics_config(self.cfg.critics, self.cfg.camera, goal_image, depth)
            self._camera_critics = (key, Critics(cc))
        return self._camera_critics[1]

    def _blind_reverse_limit(self, pose, dt_s: float) -> float:
        """The lowest speed the sampler may draw without a range sensor: reversing only back along
        the way the robot came (``camera.blind_reverse_m``), spread over the horizon. The way is
        the distance driven forward along the heading, tick by tick, less what was reversed; a
        step longer than a second at top speed (odometry reset, the robot carried) empties it."""
        m, last = self.cfg.mppi, getattr(self, "_blind_last", None)
        budget = getattr(self, "_blind_budget_m", 0.0)
        if last is not None:
            step = float(np.dot(pose[:2] - last[:2], [math.cos(last[2]), math.sin(last[2])]))
            jump = abs(step) > max(m.v_max_mps, -m.v_min_mps)           # more than a second at top speed
            turned = max(0.0, math.cos(float(pose[2] - last[2])))     # a turn points the way back elsewhere
            budget = 0.0 if jump else min(max(budget * turned + step, 0.0), self.cfg.camera.blind_reverse_m)
        self._blind_last, self._blind_budget_m = pose.copy(), budget
        return max(m.v_min_mps, -budget / (self.mppi.horizon * dt_s))   # the sampler's horizon, as resized

    def _step_camera(self, pose, vel, image, t_s) -> Command:
        """The control tick without a scan (see the module docstring)."""
        pose = np.asarray(pose, dtype=np.float64).reshape(-1)
        vel = np.asarray(vel, dtype=np.float64).reshape(-1)
        if pose.shape != (3,) or vel.shape != (2,) or not (np.isfinite(pose).all() and np.isfinite(vel).all()) \
                or not math.isfinite(t_s):
            return self._zero("stopped", f"non-finite or malformed input: pose={pose}, vel={vel}, t={t_s}")
        model = self.model
        if not getattr(model, "needs_image", False):
            return self._zero("stopped", f"no scan: planning without a lidar needs a camera world model "
                                         f"(the planner runs {self.model_desc})")
        image, refused = self._check_frame(model, image)
        if refused is not None:
            return refused
        self._pose = pose
        self._observe(t_s, vel, None)
        if self.goal is None and self.goal_image is None:
            return self._zero("refused" if self.state == "refused" else "idle")
        if self.state == "reached" or (self.goal is not None and self.reached(pose)):
            return self._zero("reached", "")
        if self.state == "failed":
            return self._zero("failed")
        t0 = time.perf_counter()
        if self.state in ("stopped", "recovering"):
            self.reason, self.state = "", "planning"
        if self._last_t is None or t_s < self._last_t:
            m = self.cfg.mppi
            self._last_cmd = np.clip(vel, [m.v_min_mps, -m.w_max_radps], [m.v_max_mps, m.w_max_radps])
            self.mppi.reset()
            shift = 0.0
        else:
            shift = (t_s - self._last_t) / model.dt_s
        self._last_t = t_s
        hist = self.history(t_s)
        try:
            state = model.reset_state(pose, vel, None, history=hist, image=image)
        except ValueError as e:
            return self._zero("stopped", str(e))
        dev, m = self.device, self.cfg.mppi
        self._caution(t_s, pose, model)
        self.mppi.lo[0] = self._blind_reverse_limit(pose, model.dt_s)
        target = self.goal if self.goal is not None else pose[:2]
        ctx = CostContext(
            target=torch.as_tensor(target, dtype=torch.float32, device=dev),
            start=torch.as_tensor(pose, dtype=torch.float32, device=dev),
            a0=torch.as_tensor(self._last_cmd, dtype=torch.float32, device=dev),
            final=True, goal_yaw=self.goal_yaw, field=None, path=None, goal_known=self.goal is not None,
            a_max=(max(m.v_max_mps, -m.v_min_mps), m.w_max_radps),
            d_max=(m.accel_v_mps2 * model.dt_s, m.accel_w_radps2 * model.dt_s), dt_s=model.dt_s)
        gi = self.goal_image
        critics = self._camera_critics_for(gi is not None)
        if gi is None:
            cost = lambda a, r: critics(a, r, ctx)                               # noqa: E731
        else:
            now = float(gi.distance(model.state_latent(state))[0])              # the frame in view
            self.goal_image_distance = now
            if 0 < gi.cfg.goal_image_reached_distance and now < gi.cfg.goal_image_reached_distance:
                return self._zero("reached", "")
            cost = lambda a, r: critics(a, r, ctx) + gi.cost(r.latent)          # noqa: E731
        coll = critics.reads_collision()
        res = self.mppi.plan(lambda a: model.rollout(state, a, collision=coll), cost, ctx.a0, shift_steps=shift)
        subgoals = np.asarray([self.goal]) if self.goal is not None else np.zeros((0, 2))
        return self._planned(res, t_s, pose, state, t0, subgoals, np.zeros((0, 2)))
