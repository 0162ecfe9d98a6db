"""SimWorld: a scenario built in PyBullet, stepped at 240 Hz, with lidar, odometry, an
optional camera, collision counting and clearance.

    w = SimWorld(load_scenario("u_trap"), seed=0)
    w.step(0.5, 0.0, 0.05)          # v m/s, w rad/s, for 0.05 s (12 physics steps)
    w.pose(), w.velocity(), w.scan(), w.collision_count, w.clearance_m()

No rclpy here; sim_node wraps this class.
"""
from __future__ import annotations

import math

import numpy as np
import pybullet as p

from world_model_planner.sim import appearance
from world_model_planner.sim.movers import MoverSet
from world_model_planner.sim.robot import DiffDriveRobot
from world_model_planner.sim.terrain import GroundModel
from world_model_planner.sim.robots import ROBOTS
from world_model_planner.sim.scenario import OBSTACLE_HEIGHT_M, Box, Pose2D, Scenario
from world_model_planner.sim.sensors import ROBOT_GROUP, WORLD_GROUP, Camera, CameraConfig, Lidar, LidarConfig
from world_model_planner.core.mathutil import wrap_angle

__all__ = ["SimWorld", "LidarConfig", "CameraConfig"]

PHYSICS_HZ = 240.0
WALL_THICKNESS_M = 0.2
_GROUND_GROUP = 0x4
_ALL = 0xFFFF
#: A contact that follows the previous one within this gap is the same collision.
CONTACT_GAP_S = 0.1
#: Contact points farther apart than this (m) are Bullet's look-ahead, not a touch.
CONTACT_DISTANCE_M = 0.001
#: perturb=True: start pose offsets and sensor noise.
PERTURB_XY_M, PERTURB_YAW_RAD = 0.2, 0.2
LIDAR_NOISE_M = 0.01
DEPTH_NOISE_FRACTION = 0.01   # perturbed runs: depth noise, a fraction of the range (1 sigma)
ODOM_NOISE = {"xy_m": 0.005, "yaw_rad": 0.005, "v_mps": 0.01, "w_radps": 0.01}

_COLOURS = {"wall": [0.55, 0.55, 0.6, 1], "box": [0.8, 0.45, 0.2, 1], "cylinder": [0.2, 0.5, 0.8, 1]}


class SimWorld:
    """One scenario in its own PyBullet client (DIRECT, or GUI when ``gui=True``)."""

    def __init__(self, scenario: Scenario, seed: int = 0, lidar: LidarConfig | None = None,
                 camera: CameraConfig | None = None, gui: bool = False, perturb: bool = False):
        self.scenario = scenario
        self.spec = ROBOTS[scenario.robot]
        self.lidar_cfg = lidar if lidar is not None else LidarConfig.of(self.spec.lidar)   # the robot's own
        self.camera_cfg = camera
        self.perturb = perturb
        self.gui = bool(gui)
        self.seed = int(seed)
        self.client = p.connect(p.GUI if gui else p.DIRECT)
        if gui:
            p.configureDebugVisualizer(p.COV_ENABLE_GUI, 0, physicsClientId=self.client)
        self.reset(seed)

    # ------------------------------------------------------------------ building
    def reset(self, seed: int | None = None) -> None:
        """Rebuild the scenario from scratch (deterministic for a given seed)."""
        if seed is not None:
            self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        c = self.client
        p.resetSimulation(physicsClientId=c)
        p.setGravity(0, 0, -9.81, physicsClientId=c)
        p.setPhysicsEngineParameter(fixedTimeStep=1.0 / PHYSICS_HZ, deterministicOverlappingPairs=1,
                                    physicsClientId=c)
        self.ground = self._build_ground()
        p.setCollisionFilterGroupMask(self.ground, -1, _GROUND_GROUP, _ALL, physicsClientId=c)
        self.obstacle_bodies: list[int] = []
        self._build_walls()
        for ob in self.scenario.obstacles:
            self.obstacle_bodies.append(self._add_obstacle(ob))
        self.start = self._start_pose()
        self.robot = DiffDriveRobot(c, self.spec, self.start.x, self.start.y, self.start.yaw,
                                    self._start_height())
        for link in self.robot.links():
            p.setCollisionFilterGroupMask(self.robot.body, link, ROBOT_GROUP, _ALL, physicsClientId=c)
        self.robot.set_payload(self.scenario.payload_kg)
        self.robot.set_latency(self.scenario.latency_s, 1.0 / PHYSICS_HZ)
        self.ground_model = GroundModel(c, self.scenario, self.robot, self.ground, _GROUND_GROUP, _ALL)
        self.movers = MoverSet(c, self.scenario.movers, self.scenario, self.rng, WORLD_GROUP, _ALL,
                               robot_body=self.robot.body)
        self._obstacle_set = set(self.obstacle_bodies) | set(self.movers.bodies)
        self.lidar = Lidar(c, self.lidar_cfg)
        self.camera = Camera(c, self.camera_cfg, self.spec.camera) if self.camera_cfg is not None else None
        self.floor_visual = self.wall_visual = None
        if self.camera is not None or self.gui:
            self._build_look()
        self.sim_time_s = 0.0
        self.physics_steps = 0
        self.collision_count = 0
        self.in_contact = False
        self._last_contact_s = -math.inf
        self._sample_odom_noise()

    def _build_ground(self) -> int:
        """An infinite collision plane (much cheaper than a mesh), with no visual: the floor that
        a camera sees is drawn by :meth:`_build_look`."""
        c = self.client
        sx, sy = self.scenario.arena
        col = p.createCollisionShape(p.GEOM_PLANE, physicsClientId=c)
        body = p.createMultiBody(0, col, -1, [0, 0, 0], physicsClientId=c)
        p.changeDynamics(body, -1, lateralFriction=1.0, physicsClientId=c)
        return body

    def _build_look(self) -> None:
        """The floor's tiles and the arena walls' panels (sim/appearance.py): visual-only bodies,
        made after every physical one so that the physical bodies keep their ids (the contact
        solver's order follows them). Only where something looks: a camera or the GUI (a lidar
        sim writes no texture file and draws nothing)."""
        c = self.client
        sx, sy = self.scenario.arena
        self.floor_visual = appearance.floor_body(c, -sx / 2 - 1, sx / 2 + 1, -sy / 2 - 1, sy / 2 + 1)
        e, h = 0.001, OBSTACLE_HEIGHT_M          # the panels 1 mm inside each wall's inner face
        self.wall_visual = appearance.wall_faces(c, [
            ("x", sy / 2 - e, -sx / 2, sx / 2, -1), ("x", -sy / 2 + e, -sx / 2, sx / 2, +1),
            ("y", sx / 2 - e, -sy / 2, sy / 2, -1), ("y", -sx / 2 + e, -sy / 2, sy / 2, +1)], h)

    def _box_body(self, half: list[float], pos: list[float], yaw: float, colour) -> int:
        c = self.client
        col = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=c)
        vis = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=colour, physicsClientId=c)
        body = p.createMultiBody(0, col, vis, pos, p.getQuaternionFromEuler([0, 0, yaw]), physicsClientId=c)
        p.setCollisionFilterGroupMask(body, -1, WORLD_GROUP, _ALL, physicsClientId=c)
        return body

    def _build_walls(self) -> None:
        sx, sy = self.scenario.arena
        t, h = WALL_THICKNESS_M, OBSTACLE_HEIGHT_M / 2
        for pos, half in (([0, sy / 2 + t / 2, h], [sx / 2 + t, t / 2, h]),
                          ([0, -sy / 2 - t / 2, h], [sx / 2 + t, t / 2, h]),
                          ([sx / 2 + t / 2, 0, h], [t / 2, sy / 2 + t, h]),
                          ([-sx / 2 - t / 2, 0, h], [t / 2, sy / 2 + t, h])):
            self.obstacle_bodies.append(self._box_body(half, pos, 0.0, _COLOURS["wall"]))

    def _add_obstacle(self, ob) -> int:
        h = OBSTACLE_HEIGHT_M / 2
        if isinstance(ob, Box):
            return self._box_body([ob.size[0] / 2, ob.size[1] / 2, h], [ob.center[0], ob.center[1], h],
                                  ob.yaw, _COLOURS["box"])
        c = self.client
        col = p.createCollisionShape(p.GEOM_CYLINDER, radius=ob.radius, height=2 * h, physicsClientId=c)
        vis = p.createVisualShape(p.GEOM_CYLINDER, radius=ob.radius, length=2 * h,
                                  rgbaColor=_COLOURS["cylinder"], physicsClientId=c)
        body = p.createMultiBody(0, col, vis, [ob.center[0], ob.center[1], h], physicsClientId=c)
        p.setCollisionFilterGroupMask(body, -1, WORLD_GROUP, _ALL, physicsClientId=c)
        return body

    def _start_pose(self) -> Pose2D:
        """The scenario start, or with perturb a seeded collision-free offset of it."""
        s = self.scenario.start
        if not self.perturb:
            return s
        for _ in range(50):
            dx, dy = self.rng.uniform(-PERTURB_XY_M, PERTURB_XY_M, 2)
            dyaw = self.rng.uniform(-PERTURB_YAW_RAD, PERTURB_YAW_RAD)
            cand = Pose2D(s.x + dx, s.y + dy, s.yaw + dyaw)
            if self.scenario.footprint_clearance_m(cand.x, cand.y, cand.yaw) >= 0.05:
                return cand
        return s

    def set_payload(self, kg: float) -> None:
        """Change the mass carried on the base now (kg >= 0; ValueError otherwise). A reset goes
        back to the scenario's payload_kg."""
        self.robot.set_payload(float(kg))

    @property
    def payload_kg(self) -> float:
        return self.robot.payload_kg

    @property
    def latency_s(self) -> float:
        """Delay between a command and the motors, whole physics steps."""
        return self.robot.latency_steps / PHYSICS_HZ

    def ground_under_robot(self) -> tuple[float, float, float]:
        """(friction_longitudinal, friction_lateral, rolling_resistance) under the base centre."""
        x, y, _ = self.true_pose()
        return self.ground_model.ground_at(float(x), float(y))

    def _start_height(self) -> float:
        """Ground height under the start footprint (a robot starting on a ramp or platform)."""
        s = self.start
        pts = self.spec.footprint_polygon(s.x, s.y, s.yaw)
        return max([0.0] + [r.height_at(float(x), float(y)) for r in self.scenario.ramps
                            for x, y in (*pts, (s.x, s.y))])

    def set_sensors(self, lidar: LidarConfig, camera: CameraConfig | None) -> None:
        """Replace the lidar and camera configuration; applies from the next scan or frame."""
        self.lidar_cfg, self.camera_cfg = lidar, camera
        self.lidar = Lidar(self.client, lidar)
        self.camera = Camera(self.client, camera, self.spec.camera) if camera is not None else None
        if self.camera is not None and self.floor_visual is None:
            self._build_look()

    # ------------------------------------------------------------------ stepping
    def step(self, v_cmd: float, w_cmd: float, duration_s: float) -> None:
        """Drive with (v_cmd m/s, w_cmd rad/s), clipped to the robot's limits, for duration_s.

        The command reaches the motors the scenario's latency_s later. duration_s is rounded to
        whole physics steps (1/240 s). Raises ValueError on non-finite commands.
        """
        self.robot.set_command(float(v_cmd), float(w_cmd))
        n = max(1, int(round(duration_s * PHYSICS_HZ)))
        dt = 1.0 / PHYSICS_HZ
        c = self.client
        for _ in range(n):
            self.movers.step(dt, self.sim_time_s)
            self.ground_model.apply(dt)
            self.robot.apply(dt)
            p.stepSimulation(physicsClientId=c)
            self.physics_steps += 1
            self.sim_time_s = self.physics_steps / PHYSICS_HZ
            self._update_contacts()
        self._sample_odom_noise()

    def _update_contacts(self) -> None:
        # Bullet also reports speculative contacts a few mm apart: count only real touching.
        touching = any(cp[2] in self._obstacle_set and cp[8] <= CONTACT_DISTANCE_M for cp in
                       p.getContactPoints(bodyA=self.robot.body, physicsClientId=self.client))
        if touching:
            if self.sim_time_s - self._last_contact_s > CONTACT_GAP_S:
                self.collision_count += 1
            self._last_contact_s = self.sim_time_s
        self.in_contact = touching

    def _sample_odom_noise(self) -> None:
        if self.perturb:
            n = ODOM_NOISE
            self._pose_noise = self.rng.normal(0.0, [n["xy_m"], n["xy_m"], n["yaw_rad"]])
            self._vel_noise = self.rng.normal(0.0, [n["v_mps"], n["w_radps"]])
        else:
            self._pose_noise, self._vel_noise = np.zeros(3), np.zeros(2)

    # ------------------------------------------------------------------ observations
    def true_pose(self) -> np.ndarray:
        """(3,) ground-truth x, y, yaw in the world (== odom) frame."""
        return self.robot.pose()

    def pose(self) -> np.ndarray:
        """(3,) odometry x, y, yaw (ground truth, plus noise when perturb=True)."""
        pose = self.robot.pose() + self._pose_noise
        pose[2] = wrap_angle(pose[2])
        return pose

    def velocity(self) -> np.ndarray:
        """(2,) body-frame forward speed m/s and yaw rate rad/s (plus noise when perturb=True)."""
        return self.robot.velocity() + self._vel_noise

    def command(self) -> np.ndarray:
        """(2,) the command the motors track now (after the latency), clipped to the robot's limits."""
        return self.robot.command.copy()

    def scan(self) -> np.ndarray:
        """(beams,) float32 ranges from the base centre (inf where no return)."""
        noise = max(self.lidar_cfg.noise_std_m, LIDAR_NOISE_M if self.perturb else 0.0)
        return self.lidar.scan(self.true_pose(), self.rng, noise)

    def image(self) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB from the front camera, or None when the camera is off."""
        return None if self.camera is None else self.camera.image(self.true_pose())

    def rgbd(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(RGB (H, W, 3) uint8, depth (H, W) float32 metres) from one render of the front
        camera, or None when the camera is off. With ``perturb`` the depth gets Gaussian noise
        of 1 % of the range (stereo depth grows noisier with distance)."""
        if self.camera is None:
            return None
        rgb, depth = self.camera.capture(self.true_pose())
        if self.perturb:
            fin = np.isfinite(depth)
            depth[fin] *= (1.0 + self.rng.normal(0.0, DEPTH_NOISE_FRACTION, int(fin.sum()))).astype(np.float32)
        return rgb, depth

    def clearance_m(self, max_m: float = 10.0) -> float:
        """Smallest distance between the robot's collision shapes and any wall or obstacle
        (0 when touching; ``max_m`` when nothing is that close)."""
        best = max_m
        for body in (*self.obstacle_bodies, *self.movers.bodies):
            for cp in p.getClosestPoints(self.robot.body, body, max_m, physicsClientId=self.client):
                best = min(best, cp[8])
        return max(0.0, best)

    def goal_distance_m(self) -> float:
        x, y, _ = self.true_pose()
        return math.hypot(self.scenario.goal.x - x, self.scenario.goal.y - y)

    def goal_reached(self) -> bool:
        return self.goal_distance_m() <= self.scenario.goal.tolerance

    def follow_camera(self, distance_m: float = 3.0, pitch_deg: float = -35.0) -> None:
        """GUI only: a chase camera behind the robot, looking along its heading."""
        x, y, yaw = self.true_pose()
        p.resetDebugVisualizerCamera(distance_m, math.degrees(yaw) - 90.0, pitch_deg, [x, y, 0.2],
                                     physicsClientId=self.client)

    def close(self) -> None:
        if self.client is not None and p.isConnected(self.client):
            p.disconnect(self.client)
        self.client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
