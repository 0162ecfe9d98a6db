"""A tiny analytic world for planner tests and measurements without PyBullet or ROS.

Axis-aligned boxes, a walled arena, exact ray-cast lidar (slab test, vectorised), and a
unicycle whose velocity follows the command with the acceleration limits. Not a substitute
for the sim: it exists so the planner's closed loop can be tested in about a second.
"""
from __future__ import annotations

import math

import numpy as np
from world_model_planner.core.mathutil import wrap_angle


class ToyWorld:
    """boxes: (K, 4) rows (x_min, y_min, x_max, y_max) in metres; arena half-size ``half_m``."""

    def __init__(self, boxes, half_m: float = 5.0, start=(0.0, 0.0, 0.0), beams: int = 180,
                 range_max_m: float = 8.0, radius_m: float = 0.4, accel=(1.5, 3.0), dt_s: float = 0.05):
        wall = 0.1
        h = half_m
        arena = [(-h - wall, -h - wall, h + wall, -h), (-h - wall, h, h + wall, h + wall),
                 (-h - wall, -h, -h, h), (h, -h, h + wall, h)]
        self.boxes = np.asarray(list(boxes) + arena, dtype=np.float64).reshape(-1, 4)
        self.pose = np.asarray(start, dtype=np.float64)
        self.vel = np.zeros(2)
        self.beams, self.range_max, self.radius = beams, range_max_m, radius_m
        self.accel, self.dt_s, self.t_s = np.asarray(accel), dt_s, 0.0
        self.collisions, self.in_contact = 0, False
        self.min_clearance_m = math.inf

    def scan(self) -> np.ndarray:
        """(beams,) ranges from the robot centre, inf where nothing is within range."""
        ang = self.pose[2] - math.pi + 2 * math.pi / self.beams * np.arange(self.beams)
        d = np.stack([np.cos(ang), np.sin(ang)], -1)[:, None, :]                  # (N, 1, 2)
        o = self.pose[:2]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / d
            t1 = (self.boxes[None, :, :2] - o) * inv                              # (N, K, 2)
            t2 = (self.boxes[None, :, 2:] - o) * inv
        tmin = np.nanmax(np.minimum(t1, t2), axis=-1)
        tmax = np.nanmin(np.maximum(t1, t2), axis=-1)
        hit = (tmax >= np.maximum(tmin, 0.0))
        t = np.where(hit, np.maximum(tmin, 0.0), np.inf).min(axis=1)
        return np.where(t < self.range_max, t, np.inf)

    def clearance_m(self) -> float:
        """Distance from the robot's circle to the nearest box (negative = overlap)."""
        p = self.pose[:2]
        q = np.clip(p, self.boxes[:, :2], self.boxes[:, 2:])
        return float(np.linalg.norm(q - p, axis=1).min() - self.radius)

    def step(self, v_cmd: float, w_cmd: float) -> None:
        dv = np.clip(np.array([v_cmd, w_cmd]) - self.vel, -self.accel * self.dt_s, self.accel * self.dt_s)
        self.vel = self.vel + dv
        prev = self.pose.copy()
        v, w = self.vel
        yaw = self.pose[2] + 0.5 * w * self.dt_s
        self.pose = self.pose + np.array([v * math.cos(yaw) * self.dt_s, v * math.sin(yaw) * self.dt_s, w * self.dt_s])
        self.pose[2] = wrap_angle(self.pose[2])
        c = self.clearance_m()
        if c < 0:  # blocked: stay put, count the contact onset
            self.pose, self.vel = prev, np.zeros(2)
            if not self.in_contact:
                self.collisions += 1
            self.in_contact = True
        else:
            self.in_contact = False
        self.min_clearance_m = min(self.min_clearance_m, max(c, 0.0))
        self.t_s += self.dt_s


def u_trap_boxes() -> list:
    """A U open towards -x around x≈1.5: the straight line start → goal runs into it."""
    return [(1.5, -1.6, 1.8, 1.6), (-0.5, 1.3, 1.8, 1.6), (-0.5, -1.6, 1.8, -1.3)]


def run_episode(nav, world: ToyWorld, goal, time_limit_s: float = 40.0, tolerance: float = 0.3,
                scan_every: int = 2) -> dict:
    """Closed loop: plan at every world step (20 Hz), scan at 10 Hz. Returns a result dict."""
    ok, reason = nav.set_goal(goal[0], goal[1], tolerance=tolerance)
    if not ok:
        raise ValueError(reason)
    scan, scan_pose, length, plan_ms = world.scan(), world.pose.copy(), 0.0, []
    k = 0
    while world.t_s < time_limit_s:
        new = k % scan_every == 0
        if new:
            scan, scan_pose = world.scan(), world.pose.copy()
        cmd = nav.step(world.pose, world.vel, scan, world.t_s, scan_pose=scan_pose, new_scan=new)
        if cmd.state == "reached":
            break
        plan_ms.append(cmd.plan_ms)
        prev = world.pose[:2].copy()
        world.step(cmd.v, cmd.w)
        length += float(np.linalg.norm(world.pose[:2] - prev))
        k += 1
    success = nav.state == "reached"
    return {"success": success, "time_s": world.t_s, "path_length_m": length,
            "collisions": world.collisions, "min_clearance_m": world.min_clearance_m,
            "plan_ms_median": float(np.median(plan_ms)) if plan_ms else 0.0}


def scenario_world(name_or_path: str, **kw) -> tuple[ToyWorld, tuple[float, float]]:
    """A ToyWorld from a scenario file (axis-aligned boxes; cylinders as their bounding
    squares; yawed boxes as their bounding boxes). Returns (world, goal_xy)."""
    from world_model_planner.sim.scenario import load_scenario

    sc = load_scenario(name_or_path)
    boxes = []
    for ob in sc.obstacles:
        if hasattr(ob, "size"):
            c, (sx, sy), yaw = np.asarray(ob.center), ob.size, getattr(ob, "yaw", 0.0)
            hx = 0.5 * (abs(sx * math.cos(yaw)) + abs(sy * math.sin(yaw)))
            hy = 0.5 * (abs(sx * math.sin(yaw)) + abs(sy * math.cos(yaw)))
        else:
            c, hx = np.asarray(ob.center), ob.radius
            hy = hx
        boxes.append((c[0] - hx, c[1] - hy, c[0] + hx, c[1] + hy))
    sx, sy = sc.arena
    w = ToyWorld(boxes, half_m=1.0, start=(sc.start.x, sc.start.y, sc.start.yaw), **kw)
    # replace the square arena with the scenario's rectangle
    t = 0.1
    w.boxes = np.asarray(boxes + [(-sx / 2 - t, -sy / 2 - t, sx / 2 + t, -sy / 2),
                                  (-sx / 2 - t, sy / 2, sx / 2 + t, sy / 2 + t),
                                  (-sx / 2 - t, -sy / 2, -sx / 2, sy / 2),
                                  (sx / 2, -sy / 2, sx / 2 + t, sy / 2)], dtype=np.float64).reshape(-1, 4)
    return w, (sc.goal.x, sc.goal.y)
