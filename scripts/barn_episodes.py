#!/usr/bin/env python3
"""BARN worlds without ROS: SimWorld and a Navigator in one process under the BARN rules
(a collision ends the episode as a failure; success within the goal tolerance before the time
limit), one line per episode with its BARN score, then the success rate and mean score.

    python scripts/barn_episodes.py --barn ../shared/barn --worlds 1,151,299 --robot jackal --seeds 1

The worlds are imported as `wmp import-world --barn` does (path_N.npy beside world_N.world as
the reference path). Metrics come from app.episode.finalize, as in `wmp bench --barn`; the numbers
of record come from `wmp bench --barn DIR` over the real node processes. It plans as the planner
node does (mppi.samples 512 × 20 steps, the robot file's planner section), at a control period of
0.1 s (`--period`; the sim node's is 0.05 s, which gave the same mean on the 20 held-out worlds).
Each line also gives the median wall time of the planner's tick (one torch thread), the number
to compare between versions of the planner on the same machine.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def apply_overrides(cfg, overrides=(), prog: str = "barn_episodes"):
    """``cfg`` (PlannerConfig) with each "[section.]name=value" of ``overrides`` set
    (planner_node.robot_tuning.apply_overrides); a bad one exits naming it."""
    from world_model_planner.planner_node.robot_tuning import apply_overrides as apply

    try:
        return apply(cfg, overrides)
    except ValueError as exc:
        raise SystemExit(f"{prog}: --set {exc}") from None


_REPORTED: set = set()                  # (robot, parameter) already reported as not applying in process


def planner_config(robot: str, samples: int | None, horizon: int, overrides=(), prog: str = "barn_episodes"):
    """PlannerConfig with the robot file's limits and footprint, as the planner node gets them,
    then ``overrides`` ("[section.]name=value", e.g. mppi.v_max_mps=1.0; a top-level node
    parameter such as model_scene is PlannerConfig.nav's); a bad override exits naming it."""
    from world_model_planner.planner_node.robot_tuning import robot_planner_config

    skipped: list[str] = []
    try:
        cfg = robot_planner_config(robot, samples, horizon, overrides, not_applied=skipped)
    except ValueError as exc:
        raise SystemExit(f"{prog}: --set {exc}") from None
    for key in skipped:                 # a node-only parameter (e.g. control_rate_hz): not planned here
        if (robot, key) not in _REPORTED:   # once a run, not once an episode
            _REPORTED.add((robot, key))
            print(f"{prog}: robot file parameter {key!r} does not apply in process", file=sys.stderr)
    return cfg


def episode(sc, kind: str, seed: int, cfg, lidar=None, period: float = 0.1, model: str | None = None,
            scan_every: int = 1) -> dict:
    """One episode under the BARN rules; a scan every ``scan_every`` control ticks (the stack: the
    sim node's lidar at 10 Hz against 20 Hz control), planned at the pose it was taken at."""
    from world_model_planner.app.episode import finalize
    from world_model_planner.core import metrics
    from world_model_planner.core.sensor_check import ScanGeometry
    from world_model_planner.planner_node.navigator import make_navigator
    from world_model_planner.sim.world import SimWorld

    nav = make_navigator(kind, model, cfg, "cpu", robot=sc.robot)   # None: the robot's own model; its sysid fit
    wall0 = time.monotonic()
    with SimWorld(sc, seed=seed, perturb=seed > 0, lidar=lidar) as w:
        lc = w.lidar_cfg                       # the robot's own lidar unless --lidar-beams says otherwise
        geom = ScanGeometry(lc.angle_min, lc.angle_increment, lc.range_min_m, lc.range_max_m, lc.beams)
        nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.8 * sc.goal.tolerance)
        t, traj, reason = 0.0, [], "time_limit"
        p = w.pose()
        traj.append([0.0, float(p[0]), float(p[1]), float(p[2])])
        tick, tick_ms = 0, []
        while t < sc.time_limit_s - 1e-9:
            new_scan = tick % scan_every == 0
            if new_scan:
                scan, scan_pose = w.scan(), w.pose()
            t0 = time.perf_counter()
            cmd = nav.step(w.pose(), w.velocity(), scan, t, geom=geom, scan_pose=scan_pose, new_scan=new_scan)
            tick_ms.append((time.perf_counter() - t0) * 1e3)
            tick += 1
            w.step(cmd.v, cmd.w, period)
            t += period
            p = w.pose()
            traj.append([round(t, 3), float(p[0]), float(p[1]), float(p[2])])
            if w.collision_count > 0:
                reason = "collision"
                break
            if metrics.reached(p[:2], (sc.goal.x, sc.goal.y), sc.goal.tolerance):   # on odometry, as wmp bench
                reason = "reached"
                break
        rec = {"scenario": sc.name, "planner": kind, "seed": seed, "time_s": round(t, 3),
               "collisions": w.collision_count, "end_reason": reason, "trajectory": traj,
               "wall_s": round(time.monotonic() - wall0, 1),
               "tick_ms": round(float(np.median(tick_ms)), 1) if tick_ms else float("nan")}
    return finalize(rec, sc)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--barn", required=True, help="folder with world_N.world[.gz] and path_N.npy")
    ap.add_argument("--worlds", default="1,151,299", help="comma-separated world numbers")
    ap.add_argument("--robot", default="jackal")
    ap.add_argument("--planners", default="classic")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--samples", type=int, default=None,
                    help="MPPI samples per tick (default: the planner node's, mppi.samples = 512)")
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--period", type=float, default=0.1,
                    help="control period, s (the sim node's control_period_s is 0.05)")
    ap.add_argument("--scan-hz", type=float, default=None,
                    help="scans per simulated second (default: one per control tick; the stack: 10 Hz, "
                         "with --period 0.05)")
    ap.add_argument("--lidar-beams", type=int, default=None,
                    help="beams of the simulated lidar (default: the robot's own, sim/robots.py; the Jackal's "
                         "Hokuyo UST-10: 720 over 270 deg)")
    ap.add_argument("--set", action="append", default=[], metavar="[SECTION.]NAME=VALUE",
                    help="planner parameter override, e.g. mppi.v_max_mps=1.0 or model_scene=true (repeatable)")
    ap.add_argument("--model", default=None, help="world-model checkpoint for hierarchical/flat (default: the "
                    "robot's own, models/<robot>_default.pt)")
    ap.add_argument("--lidar-fov", type=float, default=None, help="its field of view, degrees (with --lidar-beams; "
                    "default: the robot's)")
    args = ap.parse_args(argv)
    if not 0.0 < args.period <= 1.0:
        ap.error(f"--period: expected a control period in (0, 1] s, got {args.period}")
    if args.scan_hz is not None and not args.scan_hz > 0:
        ap.error(f"--scan-hz: a positive rate expected, got {args.scan_hz}")
    scan_every = 1 if args.scan_hz is None else max(1, round(1.0 / (args.period * args.scan_hz)))

    import torch
    from tqdm import tqdm

    from world_model_planner.app.import_world_cli import import_world
    from world_model_planner.sim.scenario import load_scenario

    torch.set_num_threads(1)
    folder = Path(args.barn)
    scratch = tempfile.TemporaryDirectory(prefix="barn-")      # the imported scenarios; removed at exit
    tmp = Path(scratch.name)
    scenarios = []
    for n in (s.strip() for s in args.worlds.split(",") if s.strip()):
        world = next((p for p in (folder / f"world_{n}.world", folder / f"world_{n}.world.gz",
                                  folder / "more" / f"world_{n}.world.gz") if p.is_file()), None)
        if world is None:
            print(f"barn_episodes: no world_{n}.world[.gz] in {folder}", file=sys.stderr)
            return 2
        out, _ = import_world(world, tmp / f"world_{n}.yaml", robot=args.robot, barn=True)
        scenarios.append(load_scenario(out))
    lidar = None
    if args.lidar_beams:
        from world_model_planner.sim.robots import ROBOTS
        from world_model_planner.sim.sensors import LidarConfig

        own = ROBOTS[args.robot].lidar
        lidar = LidarConfig.of(own, beams=args.lidar_beams, fov_deg=args.lidar_fov or own.fov_deg)
    rows = []
    grid = [(sc, k, s) for sc in scenarios for k in args.planners.split(",") for s in range(args.seeds)]
    print("| world | planner | seed | success | end | time s | path m | reference m | BARN score | wall s | tick ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for sc, kind, seed in tqdm(grid, desc="barn", unit="episode", file=sys.stderr):
        r = episode(sc, kind, seed, planner_config(args.robot, args.samples, args.horizon, args.set), lidar,
                    args.period, args.model, scan_every)
        rows.append(r)
        tqdm.write(f"| {sc.name} | {kind} | {seed} | {r['success']} | {r['end_reason']} | {r['time_s']:.1f} | "
                   f"{r['path_length_m']:.1f} | {r['barn_reference_m']:.2f} | {r['barn_score']:.3f} | "
                   f"{r['wall_s']:.0f} | {r['tick_ms']:.1f} |")
    ok = np.mean([bool(r["success"]) for r in rows])
    score = np.mean([r["barn_score"] for r in rows])
    ticks = np.median([r["tick_ms"] for r in rows])
    print(f"\n{len(rows)} episodes ({args.robot}, {args.planners}): success {ok:.0%}, mean BARN score {score:.3f}, "
          f"median planner tick {ticks:.1f} ms (torch threads {torch.get_num_threads()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
