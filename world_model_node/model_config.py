"""The world model's configuration: architecture and observation layout, stored in every
checkpoint (``WorldModelConfig``), and how a stored config that predates a field reads it
(``LEGACY_OFF``). Re-exported by ``world_model_planner.world_model_node.model``."""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

from world_model_planner.core.params import param, validate
from world_model_planner.core.safeio import clip

from world_model_planner.world_model_node.encoders import EXPLICIT_DIMS


@dataclass
class WorldModelConfig:
    """Architecture and observation layout of a world model (stored in every checkpoint)."""

    scan_beams: int = param(180, "Number of lidar beams the model expects (obs layout).", range=(2, 4096))
    range_max_m: float = param(8.0, "Lidar range_max; inf/nan/over-range readings become this.", range=(0.5, 100.0))
    scan_bins: int = param(60, "Scan is min-pooled to this many sectors before encoding.", range=(1, 720))
    scan_clip_m: float = param(3.0, "Clearances are clipped here and scaled to [0, 1] (near matters most).",
                               range=(0.2, 100.0))
    footprint_length_m: float = param(0.99, "Robot footprint along x; beam clearances are measured from "
                                            "its boundary (Husky 0.99).", range=(0.0, 10.0))
    footprint_width_m: float = param(0.67, "Robot footprint along y (Husky 0.67).", range=(0.0, 10.0))
    use_image: bool = param(False, "Encode a (3, image_size, image_size) RGB image (a small CNN, or pooled "
                                   "cells: image_pool).")
    use_scan: bool = param(True, "Read the lidar scan. False = a camera model: the encoder reads the image, "
                                 "velocity and command history only (needs scene_sectors 0, scan_history 0).")
    image_size: int = param(64, "Side of the square RGB image, pixels.", range=(16, 256))
    image_pool: int = param(0, "Image encoder: 0 = the small CNN; N > 0 = the frame averaged over N x N cells "
                               "(3 N^2 colours) and one linear layer, cheap enough to train on a CPU.",
                            range=(0, 64))
    latent_dim: int = param(64, "3 pose + 2 velocity + learned h (latent_dim - 5); the latent also carries "
                                "2 x cmd_memory command and scene_sectors scene values.", range=(8, 1024))
    enc_hidden: int = param(256, "Encoder MLP width.", range=(8, 4096))
    pred_hidden: int = param(128, "Predictor MLP width (the planner's hot path).", range=(8, 4096))
    pred_layers: int = param(2, "Hidden layers in the predictor MLP.", range=(1, 8))
    head_hidden: int = param(64, "Collision head MLP width.", range=(4, 1024))
    dt_s: float = param(0.1, "Duration of one model step, seconds.", range=(0.01, 1.0))
    v_scale_mps: float = param(1.0, "Linear velocity normalisation scale.", range=(0.01, 10.0))
    w_scale_radps: float = param(1.5, "Angular velocity normalisation scale.", range=(0.01, 20.0))
    history_steps: int = param(10, "K: past model steps of commands, measured velocities and scans the "
                                   "encoder reads (10 = 1 s at dt_s 0.1); 0 = no history.", range=(0, 100))
    h_reads_motion: bool = param(True, "The learned latent h reads the velocity and the command history beside "
                                       "the sensors. False: h reads the scan or the frame alone, so it says what "
                                       "the robot sees and nothing of how it moves (the velocity and the command "
                                       "memory stay in the latent's explicit part, which the predictor reads); "
                                       "a goal picture embedded at rest then compares with a frame seen while "
                                       "driving.")
    scan_history: int = param(3, "Past scans the encoder reads (every K // scan_history rows of the history, "
                                 "newest first) to see obstacles move; 0 = none.", range=(0, 20))
    cmd_memory: int = param(5, "L: last commands kept in the latent and shifted each predictor step, so "
                               "commands already sent act under latency up to L x dt_s; 0 = none.",
                            range=(0, 50))
    scene_sectors: int = param(16, "S: sectors of the predicted footprint clearance the latent carries "
                                   "(metres, clipped at scan_clip_m); 0 = no scene prediction.", range=(0, 360))
    scene_prior: bool = param(True, "Move the predicted scene with the robot's own predicted motion (sectors "
                                    "rotated by the yaw increment, clearances shortened by the translation "
                                    "towards each sector) before the learned residual, which then only has "
                                    "to learn how the obstacles move.")
    head_clearance: bool = param(False, "The collision head also reads the predicted smallest footprint clearance "
                                        "(the scene's minimum over sectors); ignored without a scene (scene_sectors "
                                        "0). Off: on the Jackal's held-out set it moved the 1 s AUROC by 0.000-0.002.")

    lag_prior: bool = param(False, "The predictor's velocity step starts from an identified lag (per axis: a "
                                   "first-order lag behind a delay, rate-limited; planner_node/sysid.py, fitted "
                                   "on the training data by `wmp train --lag-prior`) instead of \"velocity "
                                   "constant\", and the MLP learns the residual. Off: the residual is the whole "
                                   "velocity change.")
    lag_k_v: float = param(1.0, "Lag prior, v: share of the gap to the commanded speed closed per step (dt / tau, "
                                "at most 1).", range=(0.0, 1.0))
    lag_k_w: float = param(1.0, "Lag prior, w: share of the gap closed per step.", range=(0.0, 1.0))
    lag_gain_v: float = param(1.0, "Lag prior, v: steady-state speed per commanded speed.", range=(0.0, 10.0))
    lag_gain_w: float = param(1.0, "Lag prior, w: steady-state turn rate per commanded turn rate.", range=(0.0, 10.0))
    lag_delay_v: int = param(0, "Lag prior, v: command delay, model steps (at most cmd_memory).", range=(0, 50))
    lag_delay_w: int = param(0, "Lag prior, w: command delay, model steps (at most cmd_memory).", range=(0, 50))
    lag_rate_v: float = param(0.0, "Lag prior, v: largest change of v per second (m/s^2; 0 = no limit).",
                              range=(0.0, 1000.0))
    lag_rate_w: float = param(0.0, "Lag prior, w: largest change of w per second (rad/s^2; 0 = no limit).",
                              range=(0.0, 1000.0))

    def __post_init__(self):
        _check_types(self)
        validate(self)
        if self.latent_dim <= EXPLICIT_DIMS + 2:
            raise ValueError(f"WorldModelConfig.latent_dim: expected > {EXPLICIT_DIMS + 2}, got {self.latent_dim}")
        if self.scan_history > self.history_steps:
            raise ValueError(f"WorldModelConfig.scan_history: expected <= history_steps ({self.history_steps}), "
                             f"got {self.scan_history}")
        if self.cmd_memory > self.history_steps:
            raise ValueError(f"WorldModelConfig.cmd_memory: expected <= history_steps ({self.history_steps}), "
                             f"got {self.cmd_memory}")
        if not self.h_reads_motion and self.scan_history:
            raise ValueError(f"WorldModelConfig.scan_history: h_reads_motion false reads no history, so "
                             f"expected 0, got {self.scan_history}")
        if not self.use_scan and (self.scene_sectors or self.scan_history):
            raise ValueError(f"WorldModelConfig.use_scan: a model without the scan needs scene_sectors 0 and "
                             f"scan_history 0, got {self.scene_sectors} and {self.scan_history}")
        if self.image_pool > self.image_size:
            raise ValueError(f"WorldModelConfig.image_pool: expected <= image_size ({self.image_size}), "
                             f"got {self.image_pool}")
        if self.lag_prior and max(self.lag_delay_v, self.lag_delay_w) > self.cmd_memory:
            raise ValueError(f"WorldModelConfig.lag_delay_v/lag_delay_w: expected <= cmd_memory ({self.cmd_memory}), "
                             f"got {self.lag_delay_v} and {self.lag_delay_w}")
        if self.scan_bins > self.scan_beams:
            raise ValueError(f"WorldModelConfig.scan_bins: expected <= scan_beams ({self.scan_beams}), "
                             f"got {self.scan_bins}")

    @property
    def explicit_dims(self) -> int:
        """Latent dims before h: pose, velocity, the command memory and the scene (5 + 2L + S)."""
        return EXPLICIT_DIMS + 2 * self.cmd_memory + self.scene_sectors

    @property
    def h_dims(self) -> int:
        """Size of the learned code h."""
        return self.latent_dim - EXPLICIT_DIMS

    @property
    def z_dims(self) -> int:
        """Width of the whole latent z."""
        return self.explicit_dims + self.h_dims

    @property
    def scan_history_rows(self) -> tuple[int, ...]:
        """History rows (0 = oldest of K) whose scans the encoder reads, newest first."""
        stride = max(1, self.history_steps // max(self.scan_history, 1))
        return tuple(self.history_steps - stride * j for j in range(1, self.scan_history + 1))

    @property
    def head_reads_clearance(self) -> bool:
        """True when the collision head's last input is the predicted smallest clearance."""
        return bool(self.head_clearance and self.scene_sectors > 0)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "WorldModelConfig":
        """A stored config; fields it lacks take their ``LEGACY_OFF`` value (older checkpoints
        had no history and no scene head), the others their default."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k)[:40] for k in set(d) - names)
        if unknown:
            raise ValueError(f"WorldModelConfig: unknown fields {unknown[:10]}")
        return cls(**{**LEGACY_OFF, **d})


#: Values of the fields added with history, the scene head and the head's clearance input for a stored
#: config that lacks them.
LEGACY_OFF = {"history_steps": 0, "scan_history": 0, "cmd_memory": 0, "scene_sectors": 0, "scene_prior": False,
              "head_clearance": False}


def _check_types(cfg) -> None:
    """Each field holds its default's type (an int field an int, never 64.5 or True; a float
    field an int or a float; a bool field a bool): a one-line ValueError naming the field."""
    for f in dataclasses.fields(cfg):
        value, kind = getattr(cfg, f.name), type(f.default)
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            shown = clip(value, 40) if isinstance(value, (bool, int, float)) else f"a {type(value).__name__}"
            raise ValueError(f"{type(cfg).__name__}.{f.name}: expected {kind.__name__}, got {shown}")
        lo_hi = f.metadata.get("range")
        if lo_hi is not None and isinstance(value, numbers.Integral) and abs(int(value)).bit_length() > 62:
            raise ValueError(f"{type(cfg).__name__}.{f.name}: expected a value in [{lo_hi[0]}, {lo_hi[1]}], "
                             f"got {clip(value, 40)}")
