#!/usr/bin/env python3
"""Quick planner comparison without ROS: SimWorld and a Navigator in one process, one control
tick per 0.1 s of simulated time (lockstep), one line per episode.

    python scripts/inprocess_episodes.py --scenarios dynamics --planners classic,classic_id --seeds 2

The numbers that count come from `wmp bench` (the real node processes); this loop is for fast
iteration on planners and critics. Success = the sim's goal test; collisions = the sim's count;
time ratio = time over the shortest path (true map) at the robot's top speed; reverse = metres
driven backwards; recoveries = fired (resolved). A summary line per planner follows the table.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="dynamics", help="suite (builtin, dynamics, all) or comma-separated names")
    ap.add_argument("--planners", default="classic,classic_id")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--model", default=None, help="world-model checkpoint for hierarchical/flat")
    ap.add_argument("--sysid", default=None, help="sysid JSON for classic_id")
    args = ap.parse_args(argv)

    import torch

    from world_model_planner.core import metrics
    from world_model_planner.core.robot_config import load_robot
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import PlannerConfig, make_navigator
    from world_model_planner.sim.scenario import SUITES, load_scenario, suite
    from world_model_planner.sim.world import SimWorld

    torch.set_num_threads(1)
    names = suite(args.scenarios) if args.scenarios in SUITES else [s for s in args.scenarios.split(",") if s]
    print("| scenario | planner | seed | success | time s | path m | time ratio | reverse m | recoveries "
          "| collisions | min clearance m |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for name in names:
        sc = load_scenario(name)
        for kind in args.planners.split(","):
            for seed in range(args.seeds):
                cfg = PlannerConfig(mppi=MPPIConfig(samples=args.samples, horizon=args.horizon))
                nav = make_navigator(kind, args.model, cfg, "cpu", sysid_path=args.sysid)
                with SimWorld(sc, seed=seed, perturb=seed > 0) as w:
                    nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.8 * sc.goal.tolerance)
                    t, min_clear, path, prev = 0.0, float("inf"), 0.0, w.pose()[:2].copy()
                    start, traj = w.true_pose()[:2].copy(), []
                    while t < sc.time_limit_s and not w.goal_reached():
                        cmd = nav.step(w.pose(), w.velocity(), w.scan(), t)
                        if cmd.state == "failed":
                            break
                        w.step(cmd.v, cmd.w, 0.1)
                        t += 0.1
                        min_clear = min(min_clear, w.clearance_m())
                        path += float(np.linalg.norm(w.pose()[:2] - prev))
                        prev = w.pose()[:2].copy()
                        traj.append((t, *w.true_pose()))
                    ok = w.goal_reached()
                    ratio = metrics.time_ratio(ok, t, metrics.shortest_path_m(sc, start),
                                               load_robot(sc.robot).v_max_mps)
                    rev = metrics.reverse_distance_m(traj)
                    n = nav.recovery.counts()
                    rows.append((kind, ok, ratio, rev, n, w.collision_count))
                    print(f"| {name} | {kind} | {seed} | {ok} | {t:.1f} | {path:.1f} | "
                          f"{'–' if ratio is None else f'{ratio:.2f}'} | {rev:.2f} | {n['fired']} ({n['resolved']}) | "
                          f"{w.collision_count} | {min_clear:.2f} |", flush=True)
    for kind in args.planners.split(","):
        r = [x for x in rows if x[0] == kind]
        if r:
            ratio = metrics.median_or_none(x[2] for x in r)
            print(f"{kind}: success {sum(x[1] for x in r)}/{len(r)}, median time ratio "
                  f"{'–' if ratio is None else f'{ratio:.2f}'}, median reverse {np.median([x[3] for x in r]):.2f} m "
                  f"(max {max(x[3] for x in r):.2f}), recoveries {sum(x[4]['fired'] for x in r)} fired / "
                  f"{sum(x[4]['resolved'] for x in r)} resolved, episodes with collisions "
                  f"{sum(1 for x in r if x[5])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
