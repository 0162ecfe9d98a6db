"""Live prediction-error ("surprise") monitoring and predicted trajectories. No rclpy.

world_model_node feeds :class:`SurpriseMonitor` the robot's odometry, scans and the commands
actually sent, each with its time stamp (seconds, the stamps' clock). The monitor samples a
*frame* (pose, velocity, latest scan) every model step ``model.dt_s`` of data time, encodes it
once, and when the next frame arrives scores two predictions against the observed pose:

- ``surprise_1step_m``: |predict(z_k, a_k).xy - pose_{k+1}.xy|, one model step;
- ``surprise_1s_m``: the same for a rollout from the frame ``surprise_horizon_s`` earlier
  through every command sent since.

``a_k`` is the time-weighted mean of the (piecewise-constant) command over the step, so a
20 Hz command stream and a 10 Hz model agree. A model that reads history (``history_steps``
> 0) gets each frame's recent past from a :class:`~world_model_planner.world_model_node.history.HistoryBuffer`
fed with the same odometry, scans and commands. :meth:`SurpriseMonitor.predict` rolls the
current command out from the newest frame (what RViz shows on /world_model/prediction).

Shapes: pose (3,) x_m, y_m, yaw_rad odom frame; vel (2,) v_mps, w_radps; scan (N,) metres.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from world_model_planner.world_model_node.history import History, HistoryBuffer
from world_model_planner.world_model_node.model import observation


class CommandLog:
    """Piecewise-constant command history: (t_s, v_mps, w_radps), held until the next one."""

    def __init__(self, keep_s: float = 5.0):
        self.keep_s = keep_s
        self._t: list[float] = []
        self._a: list[tuple[float, float]] = []

    def add(self, t_s: float, v: float, w: float) -> None:
        if self._t and t_s < self._t[-1]:  # time went backwards (sim reset, bag loop)
            self._t, self._a = [], []
        self._t.append(t_s)
        self._a.append((float(v), float(w)))
        cut = bisect_right(self._t, t_s - self.keep_s) - 1
        if cut > 0:
            del self._t[:cut], self._a[:cut]

    def latest(self) -> tuple[float, float]:
        return self._a[-1] if self._a else (0.0, 0.0)

    def mean(self, t0: float, t1: float) -> tuple[float, float]:
        """Time-weighted mean command over [t0, t1); (0, 0) before the first command."""
        if t1 <= t0 or not self._t:
            return self.latest() if self._t and t1 <= t0 else (0.0, 0.0)
        i = max(bisect_right(self._t, t0) - 1, 0)
        acc_v = acc_w = 0.0
        while i < len(self._t) and self._t[i] < t1:
            start = max(self._t[i], t0)
            end = min(self._t[i + 1], t1) if i + 1 < len(self._t) else t1
            if end > start:
                acc_v += self._a[i][0] * (end - start)
                acc_w += self._a[i][1] * (end - start)
            i += 1
        return acc_v / (t1 - t0), acc_w / (t1 - t0)


@dataclass
class Frame:
    """One model-step sample. z: (D,) latent (None until encoded)."""

    t_s: float
    pose: np.ndarray
    vel: np.ndarray
    scan: np.ndarray
    z: torch.Tensor | None = None
    action: tuple[float, float] | None = None  # mean command from this frame to the next
    history: History | None = None             # the K steps before t_s (history models only)


@dataclass
class Prediction:
    """A rollout of one held command. poses (H+1, 3) from the current pose; collision_prob (H,)."""

    t_s: float
    command: tuple[float, float]
    poses: np.ndarray
    collision_prob: np.ndarray


class SurpriseMonitor:
    """Frames, surprise scores and predictions for one model (see module docstring)."""

    def __init__(self, model, surprise_horizon_s: float = 1.0, max_gap_s: float = 0.5):
        self.model = model
        self.steps_1s = max(1, int(round(surprise_horizon_s / model.dt_s)))
        self.max_gap_s = max_gap_s
        self.frames: deque[Frame] = deque(maxlen=self.steps_1s + 1)
        self.commands = CommandLog(keep_s=surprise_horizon_s + 5.0 * model.dt_s + max_gap_s)
        self.scan: np.ndarray | None = None
        self._err_1step: list[float] = []
        self._err_1s: list[float] = []
        self.new_transitions: list[tuple[Frame, Frame]] = []  # for a replay buffer; drained by the caller
        self.history = self._new_history(model)

    def _new_history(self, model) -> HistoryBuffer:
        # odometry and command stamps interleave slightly out of order: only a jump back over
        # max_gap_s (a reset) clears the history
        return HistoryBuffer(self._history_steps(model), model.dt_s, reorder_s=self.max_gap_s)

    @staticmethod
    def _history_steps(model) -> int:
        return int(getattr(model, "history_steps", 0) or 0)

    def set_model(self, model) -> None:
        """Swap in a new model (e.g. fine-tuned); cached latents are recomputed lazily. A model
        reading another history length starts a new history buffer (its frames keep none)."""
        if self._history_steps(model) != self.history.steps or model.dt_s != self.history.dt_s:
            self.history = self._new_history(model)
            for f in self.frames:
                f.history = None
        self.model = model
        for f in self.frames:
            f.z = None

    # -- inputs -------------------------------------------------------------------------
    def add_command(self, t_s: float, v: float, w: float) -> None:
        self.commands.add(t_s, v, w)
        if self.history.steps:
            self.history.commanded(t_s, (v, w))

    def add_scan(self, scan: np.ndarray) -> None:
        """scan (N,) in the model's layout (``world_model_planner.world_model_node.sensors.SensorGate.scan``)."""
        self.scan = np.asarray(scan, dtype=np.float32)

    def add_odom(self, t_s: float, pose, vel) -> bool:
        """Odometry at ``t_s``; returns True when it started a new frame (and scored it)."""
        if self.scan is None:
            return False
        if self.history.steps:   # every sample: the buffer resamples onto the model's step grid
            self.history.observe(t_s, vel, self.scan)
        last = self.frames[-1] if self.frames else None
        if last is not None:
            dt = t_s - last.t_s
            if dt < 0.0 or dt > self.max_gap_s:   # time jumped (reset) or data gap: start over
                self.frames.clear()
            elif dt < 0.95 * self.model.dt_s:
                return False
        frame = Frame(t_s, np.asarray(pose, dtype=np.float32), np.asarray(vel, dtype=np.float32),
                      self.scan.copy())
        if self.history.steps:
            frame.history = self.history.history(self.history.latest_t, int(frame.scan.shape[0]))
        if self.frames:
            prev = self.frames[-1]
            prev.action = self.commands.mean(prev.t_s, t_s)
            self.frames.append(frame)
            self._score()
            self.new_transitions.append((prev, frame))
            del self.new_transitions[:-1000]
        else:
            self.frames.append(frame)
        return True

    # -- outputs ------------------------------------------------------------------------
    def take_surprise(self) -> dict:
        """Mean errors since the last call (nan when none) and the number of samples."""
        out = {"surprise_1step_m": _mean(self._err_1step), "surprise_1s_m": _mean(self._err_1s),
               "samples": len(self._err_1step)}
        self._err_1step, self._err_1s = [], []
        return out

    @torch.no_grad()
    def predict(self, horizon_s: float = 2.0, command: tuple[float, float] | None = None) -> Prediction | None:
        """Roll ``command`` (default: the latest one sent) out for ``horizon_s`` from the
        newest frame. None before the first frame."""
        if not self.frames:
            return None
        frame = self.frames[-1]
        cmd = command if command is not None else self.commands.latest()
        steps = max(1, int(round(horizon_s / self.model.dt_s)))
        actions = torch.tensor([cmd], dtype=torch.float32, device=self.model.device).expand(steps, 2)
        z = self.model.rollout(self._z(frame).unsqueeze(0), actions.unsqueeze(0))[0]   # (H, D)
        poses = torch.cat([torch.as_tensor(frame.pose, device=z.device).unsqueeze(0),
                           self.model.pose(z)], dim=0)
        prob = torch.sigmoid(self.model.collision_logit(z))
        return Prediction(frame.t_s, (float(cmd[0]), float(cmd[1])),
                          poses.cpu().numpy(), prob.cpu().numpy())

    # -- internals ----------------------------------------------------------------------
    def _z(self, frame: Frame) -> torch.Tensor:
        if frame.z is None:
            obs = observation(torch.as_tensor(frame.pose), torch.as_tensor(frame.vel),
                              torch.as_tensor(frame.scan), history=frame.history)
            frame.z = self.model.encode(obs)[0]
        return frame.z

    @torch.no_grad()
    def _score(self) -> None:
        frames = list(self.frames)
        target = frames[-1].pose[:2]
        one = self.model.predict(self._z(frames[-2]).unsqueeze(0),
                                 _action_tensor([frames[-2].action], self.model.device))
        self._err_1step.append(_xy_err(self.model.pose(one)[0], target))
        if len(frames) >= self.steps_1s + 1:
            start = frames[-1 - self.steps_1s]
            acts = _action_tensor([f.action for f in frames[-1 - self.steps_1s:-1]], self.model.device)
            z = self.model.rollout(self._z(start).unsqueeze(0), acts.unsqueeze(0))
            self._err_1s.append(_xy_err(self.model.pose(z[0, -1]), target))


def _action_tensor(actions, device) -> torch.Tensor:
    return torch.tensor(actions, dtype=torch.float32, device=device)  # (K, 2)


def _xy_err(pose_pred: torch.Tensor, xy: np.ndarray) -> float:
    return float(np.hypot(*(pose_pred[:2].cpu().numpy() - xy)))


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")
