#!/usr/bin/env python3
"""How much a prior map shortens runs: each scenario and seed driven twice in one process
(SimWorld + a Navigator, no ROS), once from an empty grid and once with the grid seeded from the
scenario's map (planner_node.prior_map.seed_grid, as planner_node does with prior_map: true).
One row per episode pair, then the means.

    python scripts/prior_map_episodes.py --scenarios builtin --planner classic --seeds 2

Success = the sim's goal test; time in simulated seconds; path = driven length.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def run(sc, kind: str, seed: int, prior: bool, samples: int, horizon: int, lidar_range_m: float) -> dict:
    from world_model_planner.core.sensor_check import ScanGeometry
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import PlannerConfig, make_navigator
    from world_model_planner.planner_node.prior_map import MapArrays, seed_grid
    from world_model_planner.sim.localization import scenario_map
    from world_model_planner.sim.sensors import LidarConfig
    from world_model_planner.sim.world import SimWorld

    nav = make_navigator(kind, None, PlannerConfig(mppi=MPPIConfig(samples=samples, horizon=horizon)), "cpu")
    if prior:
        data, res, origin = scenario_map(sc)
        seed_grid(nav.subgoals.grid, MapArrays.from_fields("map", data.shape[1], data.shape[0], res, origin,
                                                           data.reshape(-1)), np.zeros(3))
    with SimWorld(sc, seed=seed, perturb=seed > 0, lidar=LidarConfig(range_max_m=lidar_range_m)) as w:
        nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.8 * sc.goal.tolerance)
        t, path, prev = 0.0, 0.0, w.true_pose()[:2].copy()
        while t < sc.time_limit_s and not w.goal_reached():
            cmd = nav.step(w.pose(), w.velocity(), w.scan(), t, geom=ScanGeometry(
                w.lidar_cfg.angle_min, w.lidar_cfg.angle_increment, 0.05, lidar_range_m, w.lidar_cfg.beams))
            w.step(cmd.v, cmd.w, 0.1)
            t += 0.1
            path += float(np.linalg.norm(w.true_pose()[:2] - prev))
            prev = w.true_pose()[:2].copy()
        return {"success": bool(w.goal_reached()), "time_s": t, "path_m": path, "collisions": w.collision_count}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="builtin", help="suite (builtin, dynamics, all) or comma-separated names")
    ap.add_argument("--planner", default="classic", choices=("hierarchical", "classic", "classic_id"))
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--lidar-range-m", type=float, default=8.0,
                    help="lidar range (m); the built-in arenas are about as large as the default 8 m")
    args = ap.parse_args(argv)

    import torch
    from tqdm import tqdm

    from world_model_planner.sim.scenario import SUITES, load_scenario, suite

    torch.set_num_threads(1)
    names = suite(args.scenarios) if args.scenarios in SUITES else [s for s in args.scenarios.split(",") if s]
    rows = []
    print("| scenario | seed | success (empty → prior) | time s (empty → prior) | path m (empty → prior) "
          "| collisions (empty → prior) |")
    print("|---|---|---|---|---|---|", flush=True)
    with tqdm(total=len(names) * args.seeds * 2, desc="episodes", file=sys.stderr) as bar:
        for name in names:
            sc = load_scenario(name)
            for seed in range(args.seeds):
                pair = []
                for prior in (False, True):
                    pair.append(run(sc, args.planner, seed, prior, args.samples, args.horizon, args.lidar_range_m))
                    bar.update()
                a, b = pair
                rows.append((name, seed, a, b))
                tqdm.write(f"| {name} | {seed} | {a['success']} → {b['success']} | {a['time_s']:.1f} → "
                           f"{b['time_s']:.1f} | {a['path_m']:.1f} → {b['path_m']:.1f} | "
                           f"{a['collisions']} → {b['collisions']} |", file=sys.stdout)
                sys.stdout.flush()
    both = [(a, b) for _, _, a, b in rows if a["success"] and b["success"]]
    if both:
        ta, tb = (sum(r[i]["time_s"] for r in both) for i in (0, 1))
        pa, pb = (sum(r[i]["path_m"] for r in both) for i in (0, 1))
        print(f"\n{len(both)} pairs both successful: time {ta / len(both):.1f} → {tb / len(both):.1f} s "
              f"({100 * (tb - ta) / ta:+.0f}%), path {pa / len(both):.1f} → {pb / len(both):.1f} m "
              f"({100 * (pb - pa) / pa:+.0f}%)")
    print(f"success: {sum(a['success'] for _, _, a, _ in rows)}/{len(rows)} empty, "
          f"{sum(b['success'] for _, _, _, b in rows)}/{len(rows)} with the prior map")
    return 0


if __name__ == "__main__":
    sys.exit(main())
