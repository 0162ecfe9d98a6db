"""Robots the simulator knows: URDF, footprint, wheel geometry and command limits.

No PyBullet import here, so scenario validation stays cheap.

- **Husky** follows the Clearpath Husky A200 (footprint 0.99 x 0.67 m, top speed 1.0 m/s) and
  the Husky URDF shipped with pybullet_data (wheel collision radius, wheel spacing).
- **Jackal** follows the Clearpath Jackal UGV datasheet (external 508 x 430 x 250 mm, 17 kg,
  top speed 2.0 m/s) and clearpath's jackal_description URDF (wheel radius 0.098 m, width
  0.04 m, wheelbase 0.262 m, track 0.37559 m) and jackal_control's control.yaml (linear
  max_velocity 2.0 m/s, angular max_velocity 4.0 rad/s, skid-steer wheel_separation_multiplier 1.5).
- **TurtleBot 4** follows the TurtleBot 4 user manual's hardware specification (iRobot Create 3
  base 341.7 x 339.1 mm, round; standard model 3.9 kg; max linear speed 0.31 m/s, max angular
  speed 1.90 rad/s; RPLIDAR A1, 12 m range, on top; OAK-D camera) and the Create 3's
  diff-drive geometry (irobot_create_description: wheel separation 0.233 m, wheel radius
  0.03575 m; ground clearance 4.5 mm). The base is a two-wheel differential drive on
  frictionless ball casters front and rear.

- **Lidars:** each robot names the planar lidar it carries (:class:`LidarSpec`); the sim's lidar
  takes its beams, field of view and range limits from it. The Husky and the TurtleBot 4 keep the
  sim's generic 360-degree, 180-beam, 8 m scan (what their world models were trained on). The
  Jackal carries the BARN Challenge's sensor, a Hokuyo UST-10LX: Hokuyo's specification gives a
  270-degree scan at 0.25-degree resolution, 25 ms per scan, and ranges up to 30 m; the challenge's
  Gazebo model of it (jackal_description hokuyo_ust10, ``JACKAL_LASER_MODEL=ust10``) publishes 720
  samples over +-2.35619 rad with range limits 0.1-30 m, which the sim reproduces.
- **Cameras:** each robot names the forward RGB-D camera it carries (:class:`CameraSpec`): where
  it sits, where it looks and what it sees; the sim's camera renders from there.
  - Husky: the sim's generic camera (90 degrees, 0.45 m ahead, 0.6 m up, tilted down by
    atan(0.15)), which the shipped camera model was trained on.
  - TurtleBot 4: the OAK-D Pro of turtlebot4_description (standard model): camera bracket
    x -0.118 m plus the camera's 0.0584 m on the shell, so about 0.06 m behind the centre, about
    0.24 m up, level, under the tower's sensor plate. Colour (IMX378) field of view 66 x 54 degrees
    (Luxonis); the depth is registered to the colour frame. Shortest depth 0.35 m: depth = f B / d
    with the 95-pixel disparity search at 400P (f about 441 px, baseline 7.5 cm; Luxonis' stereo
    FAQ gives 70 cm at 800P).
  - Jackal: the Intel RealSense accessory of jackal_description on the front mount (mid mount
    0.184 m above base_link, itself 0.0655 m up; front mount 0.12 m ahead; lens frame 0.025 m
    further): x 0.145 m, level. Its Gazebo sensor: 87 x 58 degrees (the D435's depth), 0.105-8 m,
    colour and depth from one render. The lens sits 12.5 mm above the mount (half the D435's
    25 mm case), at z 0.262 m, just above the top plate, which fills the bottom of its view: the
    planner's depth scan drops points inside the footprint (planner_node/depth_scan.py).

The Husky loads pybullet_data's URDF; the Jackal and the TurtleBot 4 are generated from the
values here by :func:`urdf_text` (simple shapes: a box or cylinder chassis, cylinder wheels,
sphere casters), so the collision body is the footprint the planner is told about.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from world_model_planner.sim import geometry


@dataclass(frozen=True)
class BodySpec:
    """What :func:`urdf_text` builds: a chassis on wheel pairs (and optional ball casters).

    The chassis covers the footprint (length_m x width_m of the RobotSpec; a cylinder of
    diameter length_m when the robot is round) from ``clearance_m`` above the ground up to
    ``height_m``."""

    chassis_mass_kg: float
    height_m: float               # top of the chassis above the ground
    clearance_m: float            # underside of the chassis above the ground
    wheel_x_m: tuple[float, ...]  # x of each wheel pair (one left and one right wheel each)
    wheel_y_m: float              # y of the left wheels' centre plane (right: -wheel_y_m)
    wheel_width_m: float
    wheel_mass_kg: float
    caster_x_m: tuple[float, ...] = ()  # frictionless ball casters on the centre line
    caster_radius_m: float = 0.0
    # A tower on standoffs (the TurtleBot 4): > 0 draws the chassis as the base up to this height
    # and a plate ``plate_m`` thick at the top, open between, so a camera inside the tower sees
    # out. The collision shape stays the whole chassis, the footprint the planner checks.
    tower_base_top_m: float = 0.0
    plate_m: float = 0.012


@dataclass(frozen=True)
class LidarSpec:
    """The planar lidar a robot carries: beams spread evenly over ``fov_deg`` centred on the
    heading (first beam at -fov/2, last at +fov/2; over a full circle from -180 deg), measured
    from the base centre; returns closer than ``range_min_m`` or beyond ``range_max_m`` are not
    reported (+inf)."""

    model: str = "generic"
    beams: int = 180
    fov_deg: float = 360.0
    range_min_m: float = 0.05
    range_max_m: float = 8.0


@dataclass(frozen=True)
class CameraSpec:
    """The forward RGB-D camera a robot carries: a pinhole with square pixels looking along the
    heading, tilted down by ``pitch_deg``, at ``mount_x_m`` ahead of the base centre and
    ``mount_z_m`` above the ground; colour and depth from one render (depth registered to the
    colour frame). Depth nearer than ``range_min_m`` reads -inf, beyond ``range_max_m`` +inf
    (REP 117)."""

    model: str = "generic"
    hfov_deg: float = 90.0
    vfov_deg: float = 90.0
    mount_x_m: float = 0.45
    mount_z_m: float = 0.6
    pitch_deg: float = math.degrees(math.atan(0.15))
    range_min_m: float = 0.05
    range_max_m: float = 20.0

    def height_for(self, width: int) -> int:
        """The image height for ``width`` pixels across that keeps pixels square."""
        t = math.tan(math.radians(self.vfov_deg) / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)
        return max(1, int(round(width * t)))


#: The sim's generic camera (the Husky, and the camera model trained on it).
GENERIC_CAMERA = CameraSpec()
#: TurtleBot 4 (standard): OAK-D Pro under the sensor plate (turtlebot4_description; Luxonis).
OAKD_PRO_TB4 = CameraSpec(model="oakd_pro", hfov_deg=66.0, vfov_deg=54.0, mount_x_m=-0.06, mount_z_m=0.24,
                          pitch_deg=0.0, range_min_m=0.35, range_max_m=10.0)
#: Jackal: the RealSense accessory on the front mount (jackal_description intel_realsense).
REALSENSE_JACKAL = CameraSpec(model="realsense_d435", hfov_deg=87.0, vfov_deg=58.0, mount_x_m=0.145,
                              mount_z_m=0.262, pitch_deg=0.0, range_min_m=0.105, range_max_m=8.0)

#: The sim's generic scan (Husky, TurtleBot 4 and the learned models trained on them).
GENERIC_LIDAR = LidarSpec()
#: Hokuyo UST-10LX as the BARN Challenge's Jackal carries it: 270 deg and 30 m (maker), 720 samples
#: and 0.1-30 m (the challenge's Gazebo sensor). The scan rate stays the sim's (lidar_rate_hz).
UST10_LIDAR = LidarSpec(model="hokuyo_ust10", beams=720, fov_deg=270.0, range_min_m=0.1, range_max_m=30.0)


@dataclass(frozen=True)
class RobotSpec:
    name: str
    urdf: str                     # path relative to pybullet_data; "" = generated from ``body``
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
    payload_max_kg: float = 75.0  # the maker's rated payload (random payload draws scale with it)
    round: bool = False           # round base: the footprint is a circle of diameter length_m
    body: BodySpec | None = field(default=None, compare=False)  # for a generated URDF
    lidar: LidarSpec = GENERIC_LIDAR  # the planar lidar it carries
    camera: CameraSpec = GENERIC_CAMERA  # the forward RGB-D camera it carries

    def footprint_polygon(self, x: float, y: float, yaw: float) -> np.ndarray:
        """(K, 2) the footprint at (x, y, yaw): the rectangle, or for a round base a 24-gon
        around the circle (its edges touch the circle, so it never undercuts it)."""
        if not self.round:
            return geometry.rectangle(x, y, self.length_m, self.width_m, yaw)
        n = 24
        r = max(self.length_m, self.width_m) / 2.0 / math.cos(math.pi / n)
        a = yaw + np.arange(n) * (2.0 * math.pi / n)
        return np.column_stack([x + r * np.cos(a), y + r * np.sin(a)])


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
    payload_max_kg=75.0,          # Husky A200 datasheet: 75 kg
)

_FOUR_WHEELS = (("front_left_wheel", "rear_left_wheel"), ("front_right_wheel", "rear_right_wheel"))

JACKAL = RobotSpec(
    name="jackal",
    urdf="",
    length_m=0.508,               # datasheet: 508 x 430 mm
    width_m=0.43,
    radius_m=0.333,               # hypot(0.254, 0.215)
    wheel_radius_m=0.098,         # jackal_description wheel_radius
    track_m=0.37559,              # effective separation: the real robot's controller multiplies the
                                  # track by 1.5 (control.yaml) for its slip; here w tracks w_cmd on arcs
                                  # with the track itself (turning in place reaches ~0.83 w_cmd)
    v_limits=(-1.0, 2.0),         # control.yaml linear max_velocity 2.0 m/s
    w_limit=2.0,                  # control.yaml allows 4.0 rad/s; kept to what the base tracks here
    accel_mps2=2.0,
    alpha_radps2=4.0,
    wheel_torque_nm=8.0,
    wheel_friction=0.8,
    wheel_lateral_scale=0.25,
    left_wheels=_FOUR_WHEELS[0],
    right_wheels=_FOUR_WHEELS[1],
    payload_max_kg=20.0,          # datasheet: 20 kg
    lidar=UST10_LIDAR,            # the BARN Challenge's Jackal: 270-degree Hokuyo UST-10LX
    camera=REALSENSE_JACKAL,
    body=BodySpec(chassis_mass_kg=15.1,     # 17 kg robot less four 0.477 kg wheels
                  height_m=0.25, clearance_m=0.065,
                  wheel_x_m=(0.131, -0.131),  # wheelbase 0.262 m
                  wheel_y_m=0.37559 / 2.0, wheel_width_m=0.04, wheel_mass_kg=0.477),
)

TURTLEBOT4 = RobotSpec(
    name="turtlebot4",
    urdf="",
    length_m=0.342,               # Create 3 base, 341.7 x 339.1 mm: round, diameter 0.342 m
    width_m=0.342,
    radius_m=0.171,
    wheel_radius_m=0.03575,       # Create 3 wheel radius
    track_m=0.233,                # Create 3 wheel separation (differential drive: no scrub)
    v_limits=(-0.2, 0.31),        # TurtleBot 4 max linear speed 0.31 m/s (reverse kept slow)
    w_limit=1.9,                  # TurtleBot 4 max angular speed 1.90 rad/s
    accel_mps2=2.5,
    alpha_radps2=3.2,
    wheel_torque_nm=1.0,
    wheel_friction=0.9,
    wheel_lateral_scale=1.0,
    left_wheels=("left_wheel",),
    right_wheels=("right_wheel",),
    round=True,
    payload_max_kg=9.0,           # TurtleBot 4 specification: 9 kg
    camera=OAKD_PRO_TB4,
    body=BodySpec(chassis_mass_kg=3.6,      # 3.9 kg robot less the two wheels
                  height_m=0.351, clearance_m=0.0045 + 0.01,
                  tower_base_top_m=0.092,   # where turtlebot4_description seats the shell (about 0.09 m)
                  wheel_x_m=(0.0,), wheel_y_m=0.233 / 2.0, wheel_width_m=0.02, wheel_mass_kg=0.15,
                  caster_x_m=(0.12, -0.12), caster_radius_m=0.012),
)

ROBOTS: dict[str, RobotSpec] = {"husky": HUSKY, "jackal": JACKAL, "turtlebot4": TURTLEBOT4}


def _box_inertia(m: float, a: float, b: float, c: float) -> str:
    return (f'<inertia ixx="{m * (b * b + c * c) / 12:.6g}" ixy="0" ixz="0" '
            f'iyy="{m * (a * a + c * c) / 12:.6g}" iyz="0" izz="{m * (a * a + b * b) / 12:.6g}"/>')


def _cyl_inertia(m: float, r: float, h: float, axis: str = "z") -> str:
    """Solid cylinder of radius r and length h along ``axis`` (z or y)."""
    across, along = m * (3 * r * r + h * h) / 12, m * r * r / 2
    ixx = across
    iyy, izz = (along, across) if axis == "y" else (across, along)
    return f'<inertia ixx="{ixx:.6g}" ixy="0" ixz="0" iyy="{iyy:.6g}" iyz="0" izz="{izz:.6g}"/>'


def urdf_text(spec: RobotSpec) -> str:
    """A URDF for a robot with a ``body``: root link base_footprint on the ground under the
    base centre, chassis base_link, one continuous joint per wheel named as in the spec
    (axis +y), fixed sphere casters without friction."""
    b = spec.body
    if b is None:
        raise ValueError(f"robot {spec.name}: no body to generate a URDF from (urdf={spec.urdf!r})")
    h = b.height_m - b.clearance_m
    zc = b.clearance_m + h / 2.0
    if spec.round:
        r = spec.length_m / 2.0
        shape, inertia = f'<cylinder radius="{r}" length="{h:.6g}"/>', _cyl_inertia(b.chassis_mass_kg, r, h)
    else:
        shape = f'<box size="{spec.length_m} {spec.width_m} {h:.6g}"/>'
        inertia = _box_inertia(b.chassis_mass_kg, spec.length_m, spec.width_m, h)
    visual = f'<visual><geometry>{shape}</geometry><material name="body"/></visual>'
    if b.tower_base_top_m > 0.0:     # the base and the plate drawn, open between (collision: whole)
        if not (spec.round and b.clearance_m < b.tower_base_top_m < b.height_m - b.plate_m):
            raise ValueError(f"robot {spec.name}: a tower needs a round base with clearance_m < "
                             f"tower_base_top_m < height_m - plate_m")
        r = spec.length_m / 2.0
        hb = b.tower_base_top_m - b.clearance_m
        visual = "".join(
            f'<visual><origin xyz="0 0 {z - zc:.6g}"/><geometry><cylinder radius="{r}" length="{hh:.6g}"/>'
            f'</geometry><material name="body"/></visual>'
            for z, hh in ((b.clearance_m + hb / 2.0, hb), (b.height_m - b.plate_m / 2.0, b.plate_m)))
    rw = spec.wheel_radius_m
    parts = [
        f'<?xml version="1.0"?>\n<robot name="{spec.name}">',
        '<material name="body"><color rgba="0.85 0.75 0.1 1"/></material>',
        '<material name="tyre"><color rgba="0.1 0.1 0.1 1"/></material>',
        '<link name="base_footprint"><inertial><mass value="0.01"/>'
        '<inertia ixx="1e-5" ixy="0" ixz="0" iyy="1e-5" iyz="0" izz="1e-5"/></inertial></link>',
        f'<link name="base_link"><inertial><origin xyz="0 0 0"/><mass value="{b.chassis_mass_kg}"/>{inertia}'
        f'</inertial>{visual}'
        f'<collision><geometry>{shape}</geometry></collision></link>',
        f'<joint name="chassis_joint" type="fixed"><parent link="base_footprint"/><child link="base_link"/>'
        f'<origin xyz="0 0 {zc:.6g}" rpy="0 0 0"/></joint>',
    ]
    wheels = [(name, x, b.wheel_y_m) for name, x in zip(spec.left_wheels, b.wheel_x_m)] + \
             [(name, x, -b.wheel_y_m) for name, x in zip(spec.right_wheels, b.wheel_x_m)]
    for name, x, y in wheels:
        cyl = f'<cylinder radius="{rw}" length="{b.wheel_width_m}"/>'
        parts.append(
            f'<link name="{name}_link"><inertial><mass value="{b.wheel_mass_kg}"/>'
            f'{_cyl_inertia(b.wheel_mass_kg, rw, b.wheel_width_m, "y")}</inertial>'
            f'<visual><origin rpy="1.5707963 0 0"/><geometry>{cyl}</geometry><material name="tyre"/></visual>'
            f'<collision><origin rpy="1.5707963 0 0"/><geometry>{cyl}</geometry></collision></link>'
            f'<joint name="{name}" type="continuous"><parent link="base_link"/><child link="{name}_link"/>'
            f'<origin xyz="{x:.6g} {y:.6g} {rw - zc:.6g}" rpy="0 0 0"/><axis xyz="0 1 0"/></joint>')
    for k, x in enumerate(b.caster_x_m):
        rc = b.caster_radius_m
        parts.append(
            f'<link name="caster_{k}"><contact><lateral_friction value="0"/><rolling_friction value="0"/>'
            f'<spinning_friction value="0"/></contact><inertial><mass value="0.01"/>'
            f'<inertia ixx="1e-6" ixy="0" ixz="0" iyy="1e-6" iyz="0" izz="1e-6"/></inertial>'
            f'<collision><geometry><sphere radius="{rc}"/></geometry></collision></link>'
            f'<joint name="caster_{k}_joint" type="fixed"><parent link="base_link"/><child link="caster_{k}"/>'
            f'<origin xyz="{x:.6g} 0 {rc - zc:.6g}" rpy="0 0 0"/></joint>')
    parts.append("</robot>\n")
    return "\n".join(parts)
