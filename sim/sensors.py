"""Sensors by PyBullet queries: a 2-D lidar (batched ray casting) and a small RGB-D camera."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pybullet as p

from world_model_planner.core.params import param, validate
from world_model_planner.sim.robots import GENERIC_CAMERA, CameraSpec, LidarSpec

#: Collision group of the robot's links; lidar rays use a mask that excludes it.
ROBOT_GROUP = 0x2
WORLD_GROUP = 0x1


@dataclass
class LidarConfig:
    """A planar lidar at the robot centre; ranges measured from the base centre."""
    beams: int = param(180, "number of beams", range=(4, 2048))
    fov_deg: float = param(360.0, "field of view in degrees, centred on the robot's heading",
                           range=(1.0, 360.0))
    range_max_m: float = param(8.0, "maximum range in metres; no return reads +inf", range=(0.5, 100.0))
    range_min_m: float = param(0.05, "minimum range in metres; a return closer than this reads +inf",
                               range=(0.0, 1.0))
    rate_hz: float = param(10.0, "scan rate in Hz", range=(0.5, 100.0))
    height_m: float = param(0.25, "height of the scan plane above the ground", range=(0.05, 0.45))
    noise_std_m: float = param(0.0, "Gaussian range noise (perturb=True uses at least 0.01 m)",
                               range=(0.0, 1.0))

    def __post_init__(self):
        validate(self)
        if self.range_min_m >= self.range_max_m:
            raise ValueError(f"LidarConfig.range_min_m: expected less than range_max_m ({self.range_max_m}), "
                             f"got {self.range_min_m}")

    @classmethod
    def of(cls, spec: LidarSpec, **overrides) -> "LidarConfig":
        """The lidar a robot carries (``RobotSpec.lidar``), with ``overrides`` of LidarConfig fields."""
        kw = {"beams": spec.beams, "fov_deg": spec.fov_deg, "range_min_m": spec.range_min_m,
              "range_max_m": spec.range_max_m}
        kw.update(overrides)
        return cls(**kw)

    @property
    def angle_min(self) -> float:
        return -math.pi if self.fov_deg >= 360.0 else -math.radians(self.fov_deg) / 2.0

    @property
    def angle_increment(self) -> float:
        if self.fov_deg >= 360.0:
            return 2.0 * math.pi / self.beams
        return math.radians(self.fov_deg) / (self.beams - 1)

    def angles(self) -> np.ndarray:
        """(beams,) beam angles in the base frame, radians."""
        return self.angle_min + self.angle_increment * np.arange(self.beams)


@dataclass
class CameraConfig:
    """The forward RGB-D camera's image size and rate; where it sits and what it sees come from
    the robot (``RobotSpec.camera``, sim/robots.py), unless ``spec`` names another camera."""
    width: int = param(64, "image width in pixels", range=(8, 512))
    height: int = param(0, "image height in pixels (0: from the width and the camera's fields of view, "
                           "square pixels)", range=(0, 512))
    rate_hz: float = param(10.0, "frame rate in Hz", range=(0.5, 60.0))
    spec: CameraSpec | None = None      # None: the robot's own camera

    def __post_init__(self):
        validate(self)
        if 0 < self.height < 8:
            raise ValueError(f"CameraConfig.height: expected 0 (from the fields of view) or 8..512, got {self.height}")

    def size(self, spec: CameraSpec) -> tuple[int, int]:
        """(width, height) of the images of ``spec`` at this setting."""
        return self.width, (self.height or spec.height_for(self.width))


class Lidar:
    """Casts ``beams`` horizontal rays in one p.rayTestBatch call."""

    def __init__(self, client: int, cfg: LidarConfig):
        self.client, self.cfg = client, cfg
        a = cfg.angles()
        self._cos, self._sin = np.cos(a), np.sin(a)

    def scan(self, pose: np.ndarray, rng: np.random.Generator | None = None,
             noise_std_m: float = 0.0) -> np.ndarray:
        """(beams,) float32 ranges from the base centre at ``pose`` (x, y, yaw); inf = no return."""
        x, y, yaw = pose
        c, s = math.cos(yaw), math.sin(yaw)
        dx = self._cos * c - self._sin * s
        dy = self._cos * s + self._sin * c
        z = self.cfg.height_m
        n, r = self.cfg.beams, self.cfg.range_max_m
        starts = np.column_stack([np.full(n, x), np.full(n, y), np.full(n, z)])
        ends = np.column_stack([x + dx * r, y + dy * r, np.full(n, z)])
        hits = p.rayTestBatch(starts.tolist(), ends.tolist(), collisionFilterMask=WORLD_GROUP, numThreads=1,
                              physicsClientId=self.client)
        frac = np.array([h[2] if h[0] >= 0 else np.inf for h in hits])
        ranges = frac * r
        ranges[ranges < self.cfg.range_min_m] = np.inf          # inside the minimum range: no return
        if noise_std_m > 0.0 and rng is not None:
            finite = np.isfinite(ranges)
            ranges[finite] += rng.normal(0.0, noise_std_m, int(finite.sum()))
            ranges[finite] = np.clip(ranges[finite], 0.0, r)
        return ranges.astype(np.float32)


class Camera:
    """RGB-D frames from the robot's forward camera (``spec``), looking along its heading."""

    NEAR_M, FAR_M = 0.01, 20.0         # the render's clip planes (m); depth past FAR_M reads inf (a near
                                       # plane further out would clip a plate under the lens and show
                                       # the floor through it)

    def __init__(self, client: int, cfg: CameraConfig, spec: CameraSpec = GENERIC_CAMERA):
        self.client, self.cfg = client, cfg
        self.spec = cfg.spec if cfg.spec is not None else spec
        self.width, self.height = cfg.size(self.spec)
        # square pixels: the vertical field of view follows from the horizontal one and the size
        t = math.tan(math.radians(self.spec.hfov_deg) / 2.0) * self.height / self.width
        self.vfov_deg = math.degrees(2.0 * math.atan(t))
        self._proj = p.computeProjectionMatrixFOV(self.vfov_deg, self.width / self.height, self.NEAR_M, self.FAR_M)
        th = math.radians(self.spec.pitch_deg)
        self._look = (math.cos(th), -math.sin(th))      # (ahead, up) of the optical axis

    def image(self, pose: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB."""
        return self.capture(pose)[0]

    def capture(self, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(RGB (H, W, 3) uint8, depth (H, W) float32 metres along the optical axis) from one
        render, as an RGB-D camera gives both. Depth reads +inf where nothing is within the far
        plane or the camera's ``range_max_m``, -inf nearer than its ``range_min_m`` (REP 117)."""
        x, y, yaw = pose
        c, s = math.cos(yaw), math.sin(yaw)
        sp = self.spec
        eye = [x + c * sp.mount_x_m, y + s * sp.mount_x_m, sp.mount_z_m]
        a, u = self._look
        target = [eye[0] + c * a, eye[1] + s * a, eye[2] + u]
        view = p.computeViewMatrix(eye, target, [0, 0, 1])
        _, _, rgba, buf, _ = p.getCameraImage(self.width, self.height, view, self._proj,
                                              renderer=p.ER_TINY_RENDERER, physicsClientId=self.client)
        shape = (self.height, self.width)
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(*shape, 4)[:, :, :3].copy()
        b = np.asarray(buf, dtype=np.float64).reshape(shape)         # OpenGL depth buffer in [0, 1]
        n, f = self.NEAR_M, self.FAR_M
        depth = (f * n / (f - (f - n) * b)).astype(np.float32)
        depth[(b >= 1.0 - 1e-7) | (depth > sp.range_max_m)] = np.inf   # nothing there, or beyond its range
        depth[depth < sp.range_min_m] = -np.inf                      # too near to measure
        return rgb, depth
