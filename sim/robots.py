"""Robots the simulator knows: URDF, footprint, wheel geometry and command limits.

No PyBullet import here, so scenario validation stays cheap. Values for the Husky follow
the Clearpath Husky A200 (footprint 0.99 x 0.67 m, top speed 1.0 m/s) and the Husky URDF
shipped with pybullet_data (wheel collision radius, wheel spacing).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RobotSpec:
    name: str
    urdf: str                     # path relative to pybullet_data
    length_m: float               # footprint along x (forward)
    width_m: float                # footprint along y
    radius_m: float               # circumscribed radius used by planners
    wheel_radius_m: float         # effective rolling radius in the simulation
    track_m: float                # effective (skid-steer) wheel separation
    v_limits: tuple[float, float]  # (min, max) forward speed m/s
    w_limit: float                # |yaw rate| limit rad/s
    accel_mps2: float             # onboard controller acceleration limit
    alpha_radps2: float           # onboard controller angular acceleration limit
    wheel_torque_nm: float        # max motor torque per wheel (stall)
    wheel_friction: float         # friction coefficient of the tyres
    wheel_lateral_scale: float    # anisotropic friction along the wheel axle (skid-steer scrub)
    left_wheels: tuple[str, ...]
    right_wheels: tuple[str, ...]
    chassis_link: str = "base_link"   # the link a payload is added to


HUSKY = RobotSpec(
    name="husky",
    urdf="husky/husky.urdf",
    length_m=0.99,
    width_m=0.67,
    radius_m=0.6,
    wheel_radius_m=0.1778,
    track_m=0.555 * 1.3,  # skid-steer slip: effective separation, tuned so w tracks w_cmd
    v_limits=(-0.5, 1.0),
    w_limit=1.5,
    accel_mps2=1.5,
    alpha_radps2=3.0,
    wheel_torque_nm=40.0,
    wheel_friction=0.8,
    wheel_lateral_scale=0.25,
    left_wheels=("front_left_wheel", "rear_left_wheel"),
    right_wheels=("front_right_wheel", "rear_right_wheel"),
)

ROBOTS: dict[str, RobotSpec] = {"husky": HUSKY}
