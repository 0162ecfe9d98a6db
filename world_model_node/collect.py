"""Data collection: drive SimWorld in-process (lockstep, no ROS) with an exploration policy.

Scenarios: a built-in name (the dynamics suite's included), a YAML path, or ``random`` (a fresh
random arena with random boxes and cylinders per episode, so the model does not tune to the
built-in maps). Every episode starts at a random collision-free pose (random layouts and
built-ins alike).

Random dynamics (``CollectConfig.dynamics`` = p): each episode, with probability p, gets terrain
patches, a payload, a command latency and movers drawn by ``draws.draw_dynamics`` from its own
seeded stream (an episode's data depends on its seed and p only, never on the worker count).
Every row records the ground-truth labels (data.LABELS) and the episode's meta records the draws.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from world_model_planner.core.params import param, validate
from world_model_planner.core.rosconv import square_frame

from world_model_planner.world_model_node.data import FORMAT_VERSION, IMAGE_SIZE, Transitions, save_shard

V_LIM, W_LIM = (-0.5, 1.0), (-1.5, 1.5)  # Husky limits (config/robots/husky.yaml)

# mode: (probability, duration range s)
MODES = {"ou": (0.40, (2.0, 6.0)), "straight": (0.22, (1.5, 5.0)), "stop": (0.08, (0.5, 1.5)),
         "reverse": (0.15, (0.8, 2.5)), "spin": (0.15, (0.8, 2.5))}


class ExplorationPolicy:
    """Smooth random commands with turning, stopping, reversing and straight runs into things.

    Switches between modes: Ornstein-Uhlenbeck wandering, straight runs at a random speed
    (the main source of contact with obstacles), stops, reversing arcs and spins. Each mode
    gives a target; the command follows it either as a step or through a first-order filter,
    so the data holds both abrupt and smooth command changes.
    """

    def __init__(self, rng: np.random.Generator, dt_s: float = 0.1, v_lim=V_LIM, w_lim=W_LIM):
        self.rng, self.dt, self.v_lim, self.w_lim = rng, dt_s, v_lim, w_lim
        self.cmd = np.zeros(2)
        self.ou = np.zeros(2)
        self.contact_s = 0.0
        self.contact_patience_s = 1.0
        self._new_mode()

    def _new_mode(self, names: list[str] | None = None) -> None:
        names = names or list(MODES)
        probs = np.array([MODES[n][0] for n in names])
        self.mode = names[self.rng.choice(len(names), p=probs / probs.sum())]
        lo, hi = MODES[self.mode][1]
        self.left_s = self.rng.uniform(lo, hi)
        self.alpha = 1.0 if self.rng.random() < 0.35 else self.rng.uniform(0.15, 0.5)
        r = self.rng
        if self.mode == "straight":
            self.target = np.array([r.uniform(min(0.4, 0.5 * self.v_lim[1]), self.v_lim[1]), r.normal(0.0, 0.1)])
        elif self.mode == "stop":
            self.target = np.zeros(2)
        elif self.mode == "reverse":
            self.target = np.array([r.uniform(self.v_lim[0], -0.15), r.uniform(-0.8, 0.8)])
        elif self.mode == "spin":
            self.target = np.array([r.uniform(-0.1, 0.3), r.choice([-1, 1]) * r.uniform(0.6, self.w_lim[1])])
        else:
            self.target = None

    def act(self, in_contact: bool = False) -> np.ndarray:
        """-> (2,) (v_cmd, w_cmd) for the next dt_s. After pushing against something for a
        random 0.2-0.8 s it backs off (reverse or spin), so contact is sampled, not camped on."""
        self.left_s -= self.dt
        self.contact_s = self.contact_s + self.dt if in_contact else 0.0
        if self.contact_s > self.contact_patience_s:
            self._new_mode(["reverse", "spin"] if self.cmd[0] >= 0 else ["straight", "spin"])
            self.contact_s, self.contact_patience_s = 0.0, self.rng.uniform(0.2, 0.8)
            self.ou[:] = 0.0
        elif self.left_s <= 0:
            self._new_mode()
        if self.target is None:  # OU around a forward-biased mean
            mean, theta, sigma = np.array([0.45, 0.0]), 1.0, np.array([0.6, 1.2])
            self.ou += theta * (mean - self.ou) * self.dt + sigma * math.sqrt(self.dt) * self.rng.normal(size=2)
            target = self.ou
        else:
            target = self.target
        self.cmd = self.cmd + self.alpha * (target - self.cmd)
        self.cmd = np.clip(self.cmd, [self.v_lim[0], self.w_lim[0]], [self.v_lim[1], self.w_lim[1]])
        return self.cmd.copy()


def robot_limits(robot: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """(v_lim, w_lim) of the exploration policy for a simulated robot (its command limits)."""
    from world_model_planner.sim.robots import ROBOTS

    spec = ROBOTS[robot]
    return tuple(spec.v_limits), (-spec.w_limit, spec.w_limit)


def random_scenario(rng: np.random.Generator, name: str = "random", robot: str = "husky"):
    """A random walled arena (6-12 m a side) with 2-10 random boxes and cylinders."""
    from world_model_planner.sim.scenario import Goal, Pose2D, Scenario

    sx, sy = rng.uniform(6.0, 12.0, 2)
    obstacles = _clutter(rng, sx, sy, int(rng.integers(2, 11)), box_share=0.6, box_long_m=2.5, radius_m=0.6)
    sc = Scenario(name=name, robot=robot, arena=(float(sx), float(sy)), obstacles=tuple(obstacles),
                  start=Pose2D(0.0, 0.0, 0.0), goal=Goal(0.0, 0.0, 0.3), time_limit_s=60.0)
    return sc


def _clutter(rng: np.random.Generator, sx: float, sy: float, count: int, box_share: float, box_long_m: float,
             radius_m: float) -> list:
    """``count`` boxes (0.2-``box_long_m`` x 0.2-1.0 m, any yaw) and cylinders (radius 0.15-``radius_m``)
    at random in the arena, a box with probability ``box_share`` (the draws in a fixed order: the
    shipped models' training layouts depend on it)."""
    from world_model_planner.sim.scenario import Box, Cylinder

    out = []
    for _ in range(count):
        cx, cy = rng.uniform(-sx / 2, sx / 2), rng.uniform(-sy / 2, sy / 2)
        if rng.random() < box_share:
            out.append(Box(center=(float(cx), float(cy)),
                           size=(float(rng.uniform(0.2, box_long_m)), float(rng.uniform(0.2, 1.0))),
                           yaw=float(rng.uniform(-math.pi, math.pi))))
        else:
            out.append(Cylinder(center=(float(cx), float(cy)), radius=float(rng.uniform(0.15, radius_m))))
    return out


def random_rooms_scenario(rng: np.random.Generator, name: str = "random_rooms", robot: str = "husky"):
    """A random walled arena (6-12 m a side) cut into rooms by 1-2 straight walls (0.1-0.3 m
    thick, along either axis, at least 1.5 m from the arena's edges and 2 m from a parallel one),
    each with 1-2 doors 0.8-2.0 m wide, plus 0-4 random boxes and cylinders: walls, doorways
    and corners that boxes in the open do not show a base."""
    from world_model_planner.sim.scenario import Box, Goal, Pose2D, Scenario

    sx, sy = (float(v) for v in rng.uniform(6.0, 12.0, 2))
    obstacles, placed = [], {0: [], 1: []}            # axis (0: a wall across x, at some x) -> positions
    for _ in range(int(rng.integers(1, 3))):
        axis = int(rng.integers(0, 2))
        across, along = (sx, sy) if axis == 0 else (sy, sx)   # the wall stands at a position across, spans along
        lo, hi = -across / 2 + 1.5, across / 2 - 1.5
        at = float(rng.uniform(lo, hi))
        if any(abs(at - q) < 2.0 for q in placed[axis]):
            continue
        placed[axis].append(at)
        thick = float(rng.uniform(0.1, 0.3))
        # doors: gaps along the wall, kept 0.3 m from its ends and from each other
        doors = []
        for _ in range(int(rng.integers(1, 3))):
            width = float(rng.uniform(0.8, 2.0))
            centre = float(rng.uniform(-along / 2 + 0.3 + width / 2, along / 2 - 0.3 - width / 2))
            if all(abs(centre - c) > (width + w) / 2 + 0.3 for c, w in doors):
                doors.append((centre, width))
        edges = [-along / 2] + [e for c, w in sorted(doors) for e in (c - w / 2, c + w / 2)] + [along / 2]
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a < 0.05:
                continue
            mid, length = (a + b) / 2, b - a
            centre, size = ((at, mid), (thick, length)) if axis == 0 else ((mid, at), (length, thick))
            obstacles.append(Box(center=(float(centre[0]), float(centre[1])),
                                 size=(float(size[0]), float(size[1]))))
    obstacles += _clutter(rng, sx, sy, int(rng.integers(0, 5)), box_share=0.5, box_long_m=1.5, radius_m=0.5)
    return Scenario(name=name, robot=robot, arena=(sx, sy), obstacles=tuple(obstacles),
                    start=Pose2D(0.0, 0.0, 0.0), goal=Goal(0.0, 0.0, 0.3), time_limit_s=60.0)


#: generated layouts ``wmp collect --scenario`` takes by name, beside built-in names and YAML files
RANDOM_LAYOUTS = {"random": random_scenario, "random_rooms": random_rooms_scenario}


def random_start(scenario, rng: np.random.Generator, clearance_m: float = 0.25):
    """A random collision-free start pose inside the arena (None if none found)."""
    from world_model_planner.sim.scenario import Pose2D

    sx, sy = scenario.arena
    for _ in range(300):
        x, y = rng.uniform(-sx / 2 + 0.5, sx / 2 - 0.5), rng.uniform(-sy / 2 + 0.5, sy / 2 - 0.5)
        yaw = rng.uniform(-math.pi, math.pi)
        if scenario.footprint_clearance_m(x, y, yaw) >= clearance_m:
            return Pose2D(float(x), float(y), float(yaw))
    return None


def reachable(scenario, start, goal, inflate_m: float = 0.35, resolution_m: float = 0.1) -> bool:
    """True when a disc of ``inflate_m`` can drive from ``start`` to ``goal`` (x, y) through the
    scenario's static obstacles (8-connected cells of core.metrics.occupancy_grid)."""
    from scipy import ndimage

    from world_model_planner.core.metrics import grid_resolution_m, occupancy_grid

    res = grid_resolution_m(scenario.arena, resolution_m)
    grid, origin = occupancy_grid(scenario, res, inflate_m)
    labels, _ = ndimage.label(~grid, structure=np.ones((3, 3), bool))
    ny, nx = grid.shape

    def label_at(p):
        j, i = int((p[0] - origin[0]) / res), int((p[1] - origin[1]) / res)
        return int(labels[i, j]) if 0 <= i < ny and 0 <= j < nx else 0

    a, b = label_at((start.x, start.y)), label_at((goal.x, goal.y))
    return a > 0 and a == b


def random_task(seed: int, layout: str = "random", dynamics: bool = False, robot: str = "husky",
                distance_m: tuple[float, float] = (3.0, 8.0), time_limit_s: float = 60.0,
                tolerance_m: float = 0.3):
    """A navigation task no model or planner was tuned on: a ``layout`` of RANDOM_LAYOUTS drawn
    from ``seed``, a start and a goal ``distance_m`` apart in a straight line, both clear of
    obstacles by 0.4 m and joined by a path a disc of 0.35 m fits through; with ``dynamics``, the
    terrain patches, payload, latency and movers of collection's draws
    (world_model_node.draws.draw_dynamics: patches usually just ahead of the start, movers at
    least 2 m from it). -> Scenario named ``<layout>:<seed>`` (``+dyn`` with dynamics)."""
    from world_model_planner.sim.scenario import Goal

    if layout not in RANDOM_LAYOUTS:
        raise ValueError(f"random layout {layout!r}: expected one of {sorted(RANDOM_LAYOUTS)}")
    rng = np.random.default_rng(seed)
    name = f"{layout}{'+dyn' if dynamics else ''}:{seed}"
    for _ in range(1000):
        sc = RANDOM_LAYOUTS[layout](rng, name=name, robot=robot)
        start, goal = random_start(sc, rng, 0.4), random_start(sc, rng, 0.4)
        if start is None or goal is None:
            continue
        if not distance_m[0] <= math.hypot(goal.x - start.x, goal.y - start.y) <= distance_m[1]:
            continue
        if not reachable(sc, start, goal):
            continue
        sc = replace(sc, start=start, goal=Goal(goal.x, goal.y, tolerance_m), time_limit_s=time_limit_s)
        if dynamics:
            from world_model_planner.world_model_node.draws import draw_dynamics

            sc, _ = draw_dynamics(sc, rng)
        return sc
    raise RuntimeError(f"random task {name}: no start and goal {distance_m} m apart found in 1000 layouts")


@dataclass
class CollectConfig:
    """Settings of ``wmp collect``."""

    episodes: int = param(20, "Number of episodes.", range=(1, 1_000_000))
    episode_s: float = param(30.0, "Simulated seconds per episode.", range=(0.5, 3600.0))
    dt_s: float = param(0.1, "Seconds per stored row (one world-model step).", range=(0.01, 1.0))
    seed: int = param(0, "Base seed; episode i uses seed + i.", range=(0, 2**31 - 1))
    episodes_per_shard: int = param(25, "Episodes per shard file.", range=(1, 100_000))
    image: bool = param(False, "Also record 64x64 RGB camera frames.")
    workers: int = param(1, "Parallel simulator processes (results do not depend on it).", range=(1, 256))
    perturb: bool = param(True, "Sensor and odometry noise in the sim (SimWorld perturb).")
    robot: str = param("husky", "Robot driven (sim.robots.ROBOTS), in place of each scenario's; recorded in "
                                "every episode's meta, so a checkpoint knows its robot.",
                       choices=("husky", "jackal", "turtlebot4"))
    dynamics: float = param(0.0, "Probability that an episode gets random terrain patches, payload, "
                                 "latency and movers (world_model_node.draws).", range=(0.0, 1.0))

    def __post_init__(self):
        validate(self)


def _scenario_for(spec: str, rng: np.random.Generator, robot: str = "husky"):
    from world_model_planner.sim.scenario import load_scenario

    if spec in RANDOM_LAYOUTS:
        return RANDOM_LAYOUTS[spec](rng, robot=robot)
    return load_scenario(spec, robot=robot)


def run_episode(scenario, seed: int, cfg: CollectConfig, episode_id: int) -> Transitions:
    """One episode of exploration in ``scenario`` (random start) -> Transitions (T rows)."""
    from world_model_planner.sim.world import CameraConfig, SimWorld

    from world_model_planner.world_model_node.draws import draw_dynamics, ground_at, nearest_mover_m

    rng = np.random.default_rng(seed + 1_000_003)
    start = random_start(scenario, rng)
    if start is not None:
        scenario = replace(scenario, start=start)
    dyn_rng = np.random.default_rng(seed + 2_000_003)   # its own stream: static episodes stay as they were
    drawn = None
    if dyn_rng.random() < cfg.dynamics:
        scenario, drawn = draw_dynamics(scenario, dyn_rng)
    policy = ExplorationPolicy(rng, cfg.dt_s, *robot_limits(scenario.robot))
    n = int(round(cfg.episode_s / cfg.dt_s))
    rows = {k: [] for k in ("pose", "vel", "scan", "cmd", "dt", "collision", "t_s", "image", "ground",
                            "mover_dist_m")}
    world = SimWorld(scenario, seed=seed, camera=CameraConfig() if cfg.image else None, perturb=cfg.perturb)
    sim_ground = getattr(world.ground_model, "ground_at", None)
    try:
        half = cfg.dt_s / 2  # two control periods per model step, as sim_node steps
        touched_last = False
        for i in range(n):
            rows["pose"].append(world.pose())
            rows["vel"].append(world.velocity())
            rows["scan"].append(world.scan())
            x, y, _ = world.true_pose()
            rows["ground"].append(sim_ground(x, y) if sim_ground else ground_at(scenario, x, y))
            rows["mover_dist_m"].append(nearest_mover_m(x, y, world.movers.states(), len(scenario.movers)))
            if cfg.image:
                rows["image"].append(square_frame(world.image(), IMAGE_SIZE))   # as planner_node reads it
            a = policy.act(in_contact=touched_last)
            count0, touched = world.collision_count, False
            for _ in range(2):
                world.step(float(a[0]), float(a[1]), half)
                touched = touched or world.in_contact
            rows["cmd"].append(a)
            rows["dt"].append(cfg.dt_s)
            touched_last = bool(touched or world.collision_count > count0)
            rows["collision"].append(int(touched_last))
            rows["t_s"].append(i * cfg.dt_s)
    finally:
        world.close()
    f32 = np.float32
    return Transitions(
        pose=np.asarray(rows["pose"], f32), vel=np.asarray(rows["vel"], f32),
        scan=np.asarray(rows["scan"], f32), cmd=np.asarray(rows["cmd"], f32), dt=np.asarray(rows["dt"], f32),
        collision=np.asarray(rows["collision"], np.uint8), episode=np.full(n, episode_id, np.int32),
        t_s=np.asarray(rows["t_s"], f32), image=np.asarray(rows["image"], np.uint8) if cfg.image else None,
        ground=np.asarray(rows["ground"], f32).reshape(n, 3), payload_kg=np.full(n, scenario.payload_kg, f32),
        latency_s=np.full(n, scenario.latency_s, f32), mover_dist_m=np.asarray(rows["mover_dist_m"], f32),
        meta={"episodes": {str(episode_id): {"scenario": scenario.name, "seed": seed, "dynamics": drawn,
                                             "robot": scenario.robot}}})


def _episode_job(job) -> Transitions:
    spec, seed, cfg, episode_id = job
    return run_episode(_scenario_for(spec, np.random.default_rng(seed), cfg.robot), seed, cfg, episode_id)


class CollectError(RuntimeError):
    """Collection stopped (a full disk, a failed episode); ``summary`` describes what was kept."""

    def __init__(self, message: str, summary: dict):
        super().__init__(message)
        self.summary = summary


def finished_seeds(out_dir) -> set[int]:
    """Seeds of the episodes already stored in the shards of ``out_dir`` (their meta); a shard
    that cannot be read raises CollectError (resuming past it would hide it)."""
    import json

    seeds: set[int] = set()
    for path in sorted(Path(out_dir).glob("shard_*.npz")):
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
            seeds.update(int(e["seed"]) for e in meta["episodes"].values())
        except Exception as exc:  # noqa: BLE001 - a truncated zip, bad JSON, a meta without seeds
            raise CollectError(f"--resume: {path}: not a readable shard with episode seeds "
                               f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
                               f"move it out of {out_dir} and resume again",
                               {"episodes": 0, "rows": 0, "collision_rate": 0.0, "shards": []}) from None
    return seeds


def collect(scenarios: list[str], out_dir, cfg: CollectConfig, progress: bool = True,
            resume: bool = False, ray_address: str | None = None, cpus: float = 1.0) -> dict:
    """Collect cfg.episodes episodes cycling through ``scenarios``; write shards into out_dir.

    ``resume``: skip the episodes (by seed: episode i has seed cfg.seed + i) already stored in
    out_dir's shards, so a killed collection continues where it stopped and repeats none.
    ``ray_address``: None runs here (``cfg.workers`` processes); "" or an address runs every
    episode as a Ray task declaring ``cpus`` CPUs (core.cluster), stored as each one finishes;
    there an episode that fails is listed in the summary's ``failed`` and the others go on.

    Every finished episode is on disk at once: the open shard is rewritten atomically after each
    episode (up to ``episodes_per_shard`` episodes, then the next shard starts). A failure (a
    full disk, a crash, a kill) therefore keeps every episode finished before it and never
    leaves a partial shard. Returns a summary {"episodes", "rows", "collision_rate",
    "shards": [paths]}; raises CollectError (with that summary, counting only what was
    kept) when an episode or a write fails.
    """
    from tqdm import tqdm

    from world_model_planner.sim.sensors import LidarConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lidar = LidarConfig()
    base_meta = {"format_version": FORMAT_VERSION, "dt_s": cfg.dt_s, "range_max_m": lidar.range_max_m,
                 "scan_beams": lidar.beams, "source": "wmp collect"}
    existing = sorted(out.glob("shard_*.npz"))
    shard_idx = len(existing)
    episode_base = shard_idx * cfg.episodes_per_shard * 1000  # ids stay unique when appending
    pending: list[Transitions] = []
    shards, rows, hits, kept = [], 0, 0, 0

    def write_open_shard():
        """(Re)write the open shard with every pending episode; start a new one when it is full."""
        nonlocal shard_idx, pending, kept
        from world_model_planner.world_model_node.data import concat

        tr = concat(pending)
        tr.meta = {**base_meta, "episodes": tr.meta["episodes"]}
        path = str(save_shard(out / f"shard_{shard_idx:05d}.npz", tr))
        if path not in shards:
            shards.append(path)
        kept += 1
        if len(pending) >= cfg.episodes_per_shard:
            shard_idx += 1
            pending = []

    done = finished_seeds(out) if resume else set()
    jobs = [(scenarios[i % len(scenarios)], cfg.seed + i, cfg, episode_base + i) for i in range(cfg.episodes)
            if cfg.seed + i not in done]
    pool = session = None
    failed: list[str] = []
    if ray_address is not None:
        from world_model_planner.core.cluster import RaySession, error_text, run_tasks

        session = RaySession(ray_address)
        results = run_tasks(session.__enter__(), _episode_job, [(job,) for job in jobs], cpus)
    elif cfg.workers > 1:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(cfg.workers)
        results = ((i, tr, None) for i, tr in enumerate(pool.imap(_episode_job, jobs)))  # in order
    else:
        results = ((i, tr, None) for i, tr in enumerate(map(_episode_job, jobs)))
    bar = tqdm(results, total=cfg.episodes, initial=cfg.episodes - len(jobs), desc="collect", unit="ep",
               disable=not progress, dynamic_ncols=True)
    kept_rows = kept_hits = 0
    n_dyn = 0
    try:
        for j, tr, exc in bar:
            if exc is not None:   # a Ray task failed: listed, the others go on
                failed.append(f"{jobs[j][0]} seed {jobs[j][1]}: {error_text(exc, 200)}")
                bar.write(f"collect: episode {failed[-1]}", file=sys.stderr)
                continue
            ep_meta = next(iter(tr.meta["episodes"].values()))
            sc_name = ep_meta["scenario"]
            n_dyn += bool(ep_meta.get("dynamics"))
            rows += len(tr)
            hits += int(tr.collision.sum())
            pending.append(tr)
            bar.set_postfix(scenario=sc_name, rows=rows, coll=f"{hits / max(rows, 1):.1%}", dynamic=n_dyn)
            write_open_shard()
            kept_rows, kept_hits = rows, hits
    except Exception as exc:  # noqa: BLE001 - report what was kept, then stop
        summary = {"episodes": kept, "rows": kept_rows, "collision_rate": kept_hits / max(kept_rows, 1),
                   "shards": shards}
        why = f"{exc.strerror} ({exc.filename or out})" if isinstance(exc, OSError) and exc.strerror \
            else f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        raise CollectError(f"stopped after {kept} of {cfg.episodes} episodes: {why}; the {kept} finished "
                           f"episode(s) are kept in {len(shards)} shard(s) in {out}", summary) from None
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
        if session is not None:
            session.__exit__(None, None, None)
    return {"episodes": kept, "rows": rows, "collision_rate": hits / max(rows, 1), "shards": shards,
            "dynamic_episodes": n_dyn, "skipped": len(done & {cfg.seed + i for i in range(cfg.episodes)}),
            "failed": failed}
