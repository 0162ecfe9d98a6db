"""The simulated robot in PyBullet: a skid-steer Husky driven through its wheel motors.

Commands (v m/s, w rad/s) are clipped to the robot's limits, ramped by its onboard
controller's acceleration limits (as the Husky's own diff-drive controller does), turned
into wheel speeds and sent to velocity motors with a bounded torque. The motion itself comes
from the physics: tyre friction, inertia, slip, and walls that stop the robot.
"""
from __future__ import annotations

import contextlib
import math
import os

import numpy as np
import pybullet as p
import pybullet_data

from world_model_planner.sim.robots import RobotSpec


@contextlib.contextmanager
def quiet_stdout():
    """Silence PyBullet's C-level prints (URDF importer warnings) on fd 1 and 2."""
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


class DiffDriveRobot:
    """A robot body in a PyBullet client, with velocity-motor wheels."""

    def __init__(self, client: int, spec: RobotSpec, x: float, y: float, yaw: float):
        self.client, self.spec = client, spec
        with quiet_stdout():
            self.body = p.loadURDF(os.path.join(pybullet_data.getDataPath(), spec.urdf),
                                   [x, y, 0.0], p.getQuaternionFromEuler([0, 0, yaw]),
                                   flags=p.URDF_USE_IMPLICIT_CYLINDER,
                                   physicsClientId=client)
        names = {p.getJointInfo(self.body, j, physicsClientId=client)[1].decode(): j
                 for j in range(p.getNumJoints(self.body, physicsClientId=client))}
        self.left = [names[n] for n in spec.left_wheels]
        self.right = [names[n] for n in spec.right_wheels]
        for j in self.left + self.right:
            p.changeDynamics(self.body, j, lateralFriction=spec.wheel_friction,
                             anisotropicFriction=[1.0, spec.wheel_lateral_scale, 1.0],
                             physicsClientId=client)
        self.target = np.zeros(2)   # (v, w) the onboard controller is tracking now
        self.command = np.zeros(2)  # (v, w) last command received, clipped to limits
        self._sent: tuple[float, float] | None = None
        self._joints = self.left + self.right
        self._forces = [spec.wheel_torque_nm] * len(self._joints)

    def set_command(self, v: float, w: float) -> None:
        """Clip a command to the robot's limits; it is tracked from the next physics step."""
        if not (math.isfinite(v) and math.isfinite(w)):
            raise ValueError(f"command must be finite numbers, got v={v!r}, w={w!r}")
        s = self.spec
        self.command[:] = (min(max(v, s.v_limits[0]), s.v_limits[1]), min(max(w, -s.w_limit), s.w_limit))

    def apply(self, dt_s: float) -> None:
        """Advance the acceleration ramp by dt_s and set the wheel motor targets (when changed)."""
        s = self.spec
        dv_max, dw_max = s.accel_mps2 * dt_s, s.alpha_radps2 * dt_s
        v = float(self.target[0]) + min(max(float(self.command[0] - self.target[0]), -dv_max), dv_max)
        w = float(self.target[1]) + min(max(float(self.command[1] - self.target[1]), -dw_max), dw_max)
        self.target[:] = (v, w)
        if (v, w) == self._sent:
            return  # the motors keep their last targets
        self._sent = (v, w)
        left = (v - w * s.track_m / 2.0) / s.wheel_radius_m
        right = (v + w * s.track_m / 2.0) / s.wheel_radius_m
        speeds = [left] * len(self.left) + [right] * len(self.right)
        p.setJointMotorControlArray(self.body, self._joints, p.VELOCITY_CONTROL, targetVelocities=speeds,
                                    forces=self._forces, physicsClientId=self.client)

    def pose(self) -> np.ndarray:
        """(3,) x, y, yaw of the base in the world (== odom) frame."""
        pos, orn = p.getBasePositionAndOrientation(self.body, physicsClientId=self.client)
        yaw = p.getEulerFromQuaternion(orn)[2]
        return np.array([pos[0], pos[1], yaw])

    def velocity(self) -> np.ndarray:
        """(2,) forward speed (m/s, body frame) and yaw rate (rad/s)."""
        (vx, vy, _), (_, _, wz) = p.getBaseVelocity(self.body, physicsClientId=self.client)
        yaw = self.pose()[2]
        return np.array([vx * math.cos(yaw) + vy * math.sin(yaw), wz])

    def links(self) -> list[int]:
        return [-1] + list(range(p.getNumJoints(self.body, physicsClientId=self.client)))
