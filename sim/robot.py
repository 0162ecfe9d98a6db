"""The simulated robot in PyBullet: a wheeled base (skid-steer Husky or Jackal, differential-drive
TurtleBot 4; sim.robots) driven through its wheel motors.

Commands (v m/s, w rad/s) are clipped to the robot's limits, reach the motors ``latency_s``
later (a queue exact to the physics step), are ramped by the onboard controller's acceleration
limits (as the robots' own diff-drive controllers do), turned into wheel speeds and sent to
velocity motors with a bounded torque. The motion itself comes from the physics: tyre friction
(set per wheel by the ground under it, sim.terrain), inertia (a payload adds to the chassis
mass), slip, and walls that stop the robot.
"""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections import deque

import numpy as np
import pybullet as p
import pybullet_data

from world_model_planner.sim.robots import RobotSpec, urdf_text


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

    def __init__(self, client: int, spec: RobotSpec, x: float, y: float, yaw: float, z: float = 0.0):
        """Spawn at (x, y, yaw) with the wheels on ground at height z (a ramp's top)."""
        self.client, self.spec = client, spec
        self.body = load_robot_urdf(client, spec, [x, y, z], p.getQuaternionFromEuler([0, 0, yaw]))
        names = {p.getJointInfo(self.body, j, physicsClientId=client)[1].decode(): j
                 for j in range(p.getNumJoints(self.body, physicsClientId=client))}
        self.left = [names[n] for n in spec.left_wheels]
        self.right = [names[n] for n in spec.right_wheels]
        for j in self.left + self.right:
            p.changeDynamics(self.body, j, lateralFriction=spec.wheel_friction,
                             anisotropicFriction=[1.0, spec.wheel_lateral_scale, 1.0],
                             physicsClientId=client)
        self.target = np.zeros(2)   # (v, w) the onboard controller is tracking now
        self.command = np.zeros(2)  # (v, w) command reaching the motors now, clipped to limits
        self.requested = np.zeros(2)  # (v, w) last command received (before the latency)
        self._sent: tuple[float, float] | None = None
        self._joints = self.left + self.right
        self._forces = [spec.wheel_torque_nm] * len(self._joints)
        self.chassis = names_to_links(self.body, client)[spec.chassis_link]
        info = p.getDynamicsInfo(self.body, self.chassis, physicsClientId=client)
        self._chassis_mass, self._chassis_inertia = float(info[0]), tuple(info[2])
        self._empty_mass = sum(p.getDynamicsInfo(self.body, link, physicsClientId=client)[0]
                               for link in self.links())
        self.payload_kg = 0.0
        self.latency_steps = 0
        self._step = 0                # physics steps applied so far
        self._queue: deque = deque()  # (due physics step, (v, w)) not yet at the motors

    # -------------------------------------------------------------- configuration
    def wheels(self) -> list[int]:
        """Joint (== link) indices of the wheels, left then right."""
        return list(self._joints)

    def set_wheel_friction(self, wheel: int, longitudinal: float | None, lateral: float | None) -> None:
        """Tyre friction of one wheel on the ground under it (None, None: the robot's own tyres on
        the floor). The skid-steer scrub scale applies on top of lateral / longitudinal."""
        s = self.spec
        if longitudinal is None:
            longitudinal, ratio = s.wheel_friction, 1.0
        else:
            ratio = float(lateral) / float(longitudinal)
        p.changeDynamics(self.body, wheel, lateralFriction=float(longitudinal),
                         anisotropicFriction=[1.0, s.wheel_lateral_scale * ratio, 1.0],
                         physicsClientId=self.client)

    def set_payload(self, kg: float) -> None:
        """Carry ``kg`` on the chassis: its mass grows by kg and its inertia in proportion."""
        if not math.isfinite(kg) or kg < 0.0:
            raise ValueError(f"payload must be a finite number of kg >= 0, got {kg!r}")
        scale = (self._chassis_mass + kg) / self._chassis_mass
        p.changeDynamics(self.body, self.chassis, mass=self._chassis_mass + kg,
                         localInertiaDiagonal=[i * scale for i in self._chassis_inertia],
                         physicsClientId=self.client)
        self.payload_kg = float(kg)

    def total_mass_kg(self) -> float:
        return self._empty_mass + self.payload_kg

    def set_latency(self, latency_s: float, dt_s: float) -> None:
        """Commands reach the motors ``latency_s`` later, rounded to whole physics steps of dt_s."""
        if not math.isfinite(latency_s) or latency_s < 0.0:
            raise ValueError(f"latency must be a finite number of seconds >= 0, got {latency_s!r}")
        self.latency_steps = int(round(latency_s / dt_s))

    # -------------------------------------------------------------- driving
    def set_command(self, v: float, w: float) -> None:
        """Clip a command to the robot's limits; the motors track it from the physics step
        ``latency_steps`` after the next one (the next one when there is no latency)."""
        if not (math.isfinite(v) and math.isfinite(w)):
            raise ValueError(f"command must be finite numbers, got v={v!r}, w={w!r}")
        s = self.spec
        cmd = (min(max(v, s.v_limits[0]), s.v_limits[1]), min(max(w, -s.w_limit), s.w_limit))
        self.requested[:] = cmd
        if self.latency_steps == 0:
            self._queue.clear()
            self.command[:] = cmd
        else:
            self._queue.append((self._step + self.latency_steps, cmd))

    def apply(self, dt_s: float) -> None:
        """Deliver due commands, advance the acceleration ramp by dt_s and set the wheel motor
        targets (when changed)."""
        while self._queue and self._queue[0][0] <= self._step:
            self.command[:] = self._queue.popleft()[1]
        self._step += 1
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


def load_robot_urdf(client: int, spec: RobotSpec, position, orientation) -> int:
    """Load the robot's body: pybullet_data's URDF, or one generated from the spec
    (sim.robots.urdf_text), written to a private temporary directory for the loader."""
    flags = p.URDF_USE_IMPLICIT_CYLINDER
    if spec.urdf:
        with quiet_stdout():
            return p.loadURDF(os.path.join(pybullet_data.getDataPath(), spec.urdf), position, orientation,
                              flags=flags, physicsClientId=client)
    with tempfile.TemporaryDirectory(prefix="wmp-urdf-") as tmp:
        path = os.path.join(tmp, f"{spec.name}.urdf")
        with open(path, "w", encoding="utf-8") as f:
            f.write(urdf_text(spec))
        with quiet_stdout():
            return p.loadURDF(path, position, orientation, flags=flags, physicsClientId=client)


def names_to_links(body: int, client: int) -> dict[str, int]:
    """Link name -> link index (a link's index is its parent joint's)."""
    return {p.getJointInfo(body, j, physicsClientId=client)[12].decode(): j
            for j in range(p.getNumJoints(body, physicsClientId=client))}
