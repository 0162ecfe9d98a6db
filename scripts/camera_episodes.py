#!/usr/bin/env python3
"""Camera-only navigation without ROS: SimWorld and a Navigator in one process, no lidar, one
control tick per 0.1 s of simulated time, one line per episode.

    python scripts/camera_episodes.py --scenarios open,wall --seeds 3
    python scripts/camera_episodes.py --scenarios open,wall,u_trap,two_rooms,maze --seeds 10 --depth \
        --planner hierarchical --samples 512 --horizon 20
    python scripts/camera_episodes.py --scenarios none --random 20 --seeds 1 --depth --planner hierarchical
    python scripts/camera_episodes.py --scenarios none --goal-images open --seeds 3

With ``--depth`` the navigator also gets the camera's depth image as a scan
(planner_node.depth_scan: an RGB-D camera), which feeds its map, distance field and recoveries;
``--lidar`` runs the same episodes with the sim's lidar and the shipped lidar model instead (the
control); ``--random N`` adds N random layouts no model was trained on.

Pose goals (``--scenarios``): the navigator gets odometry and the 64x64 camera frame only
(``step(pose, vel, None, t, image=frame)``) and the scenario's goal as a pose; success = the
sim's goal test. Goal images (``--goal-images``): the goal is the camera frame rendered at the
scenario's goal position, facing along the line from the start to the goal (``--picture-at
X,Y,YAW``: there instead); the robot starts at the scenario's start (perturbed for seeds above
0) and gets no pose goal; success = the robot
came within ``--reach-m`` of where the picture was taken (the episode stops there, as the sim's
goal test stops a pose episode: the planner itself does not declare a picture reached). The
``image0`` rows are the control: the same planner with the goal picture's weight at 0 (what
collision, effort and smoothness alone do). collisions = the sim's count; plan ms = median
time of a control tick's solve.
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np


def run_episode(sc, seed: int, args, goal_image_weight: float | None = None) -> dict:
    """One episode; ``goal_image_weight`` None = a pose goal, else a goal picture of that weight."""
    import torch

    from world_model_planner.planner_node.depth_scan import DepthScan, DepthScanConfig, footprint_of
    from world_model_planner.planner_node.goal_image import CameraPlanConfig
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import PlannerConfig, make_navigator
    from world_model_planner.sim.world import CameraConfig, SimWorld

    torch.manual_seed(seed)
    cfg = PlannerConfig(mppi=MPPIConfig(samples=args.samples, horizon=args.horizon),
                        camera=CameraPlanConfig(collision_weight=args.collision_weight,
                                                goal_image_weight=goal_image_weight or 0.0))
    if args.lidar:                     # the control: the same planner with the lidar and its model
        nav = make_navigator(args.planner, None, cfg, "cpu", missing_ok=False)
    else:
        nav = make_navigator(args.planner, args.model, cfg, "cpu", missing_ok=False)
    depth = None
    limit = sc.time_limit_s if args.time_limit is None else args.time_limit
    with SimWorld(sc, seed=seed, perturb=seed > 0, camera=CameraConfig()) as w:
        if args.depth and not args.lidar and goal_image_weight is None:
            depth = DepthScan(DepthScanConfig(), w.camera.width, w.camera.height,
                              footprint=footprint_of(cfg.critics))      # its own body is no obstacle
        goal_xy = np.array([sc.goal.x, sc.goal.y] if args.picture_at is None else args.picture_at[:2])
        if goal_image_weight is None:
            ok, why = nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.8 * sc.goal.tolerance)
        else:
            start = w.true_pose()
            yaw = math.atan2(goal_xy[1] - start[1], goal_xy[0] - start[0]) if args.picture_at is None \
                else args.picture_at[2]
            picture = w.camera.image(np.array([goal_xy[0], goal_xy[1], yaw]))
            ok, why = nav.set_goal_image(picture)
        if not ok:
            raise SystemExit(f"goal refused: {why}")
        t, min_clear, path, prev, plan_ms, dists = 0.0, float("inf"), 0.0, w.pose()[:2].copy(), [], []
        best = float("inf")
        while t < limit:
            if goal_image_weight is None and w.goal_reached():
                break
            if args.lidar:
                cmd = nav.step(w.pose(), w.velocity(), w.scan(), t)
            elif depth is None:
                cmd = nav.step(w.pose(), w.velocity(), None, t, image=w.image())
            else:
                rgb, d = w.rgbd()
                pose = w.pose()
                cmd = nav.step(pose, w.velocity(), depth.scan(d), t, scan_pose=depth.sensor_pose(pose),
                               geom=depth.geom, image=rgb)
            if cmd.state in ("failed", "stopped"):
                print(f"  stopped: {cmd.reason}", file=sys.stderr)
                break
            if cmd.plan_ms:
                plan_ms.append(cmd.plan_ms)
            w.step(cmd.v, cmd.w, 0.1)
            t += 0.1
            min_clear = min(min_clear, w.clearance_m())
            path += float(np.linalg.norm(w.pose()[:2] - prev))
            prev = w.pose()[:2].copy()
            d = float(np.linalg.norm(w.true_pose()[:2] - goal_xy))
            best = min(best, d)
            if goal_image_weight is not None:
                dists.append(nav.goal_image_distance)
                if d <= args.reach_m:
                    break
        final = float(np.linalg.norm(w.true_pose()[:2] - goal_xy))
        success = w.goal_reached() if goal_image_weight is None else best <= args.reach_m
        return {"success": bool(success), "time_s": t, "path_m": path, "collisions": w.collision_count,
                "min_clearance_m": min_clear, "final_m": final, "closest_m": best,
                "plan_ms": float(np.median(plan_ms)) if plan_ms else float("nan"),
                "latent": (dists[0], dists[-1]) if dists else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="open,wall", help="comma-separated built-in names for pose goals "
                                                             "('none': no pose-goal episodes)")
    ap.add_argument("--goal-images", default="", help="comma-separated built-in names for goal-image episodes")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--random", type=int, default=0,
                    help="pose goals also in N random layouts (world_model_node.collect.random_task: 2-10 "
                         "boxes and cylinders in a 6-12 m arena; start and goal 3-8 m apart and joined by a "
                         "free path, 60 s limit)")
    ap.add_argument("--random-seed", type=int, default=5000, help="first seed of the random layouts")
    ap.add_argument("--lidar", action="store_true",
                    help="the control: plan with the sim's lidar and the shipped lidar model instead")
    ap.add_argument("--depth", action="store_true",
                    help="pose goals: the camera's depth image as a scan too (planner_node.depth_scan: the "
                         "subgoal map and the clearance critics), as an RGB-D camera gives it")
    ap.add_argument("--planner", default="flat", choices=("flat", "hierarchical"))
    ap.add_argument("--model", default="models/husky_camera.pt", help="camera world-model checkpoint")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--horizon", type=int, default=15)
    ap.add_argument("--weight", type=float, default=10.0, help="goal-image latent-distance weight")
    ap.add_argument("--collision-weight", type=float, default=20.0, help="collision critic weight, camera only")
    ap.add_argument("--reach-m", type=float, default=0.5, help="goal images: success within this of the picture's pose")
    ap.add_argument("--time-limit", type=float, default=None, help="simulated seconds (default: the scenario's)")
    ap.add_argument("--picture-at", default=None,
                    help="goal images: X,Y,YAW (m, m, rad) where the picture is taken "
                         "(default: the scenario's goal, facing away from the start)")
    args = ap.parse_args(argv)
    if args.picture_at is not None:
        try:
            args.picture_at = [float(v) for v in args.picture_at.split(",")]
        except ValueError:
            args.picture_at = []
        if len(args.picture_at) != 3 or not all(math.isfinite(v) for v in args.picture_at):
            ap.error(f"--picture-at: expected three finite numbers X,Y,YAW, got {args.picture_at!r}")
    if args.seeds < 1 or args.samples < 2 or args.horizon < 1 or not args.reach_m > 0:
        ap.error("--seeds >= 1, --samples >= 2, --horizon >= 1 and --reach-m > 0 expected")

    import torch

    from world_model_planner.sim.scenario import load_scenario

    torch.set_num_threads(1)
    jobs = [(n, "pose", None) for n in args.scenarios.split(",") if n and n != "none"]
    for n in (x for x in args.goal_images.split(",") if x):
        jobs += [(n, "image", args.weight), (n, "image0", 0.0)]
    print("| scenario | goal | seed | success | time s | path m | collisions | min clearance m | final m "
          "| closest m | latent dist start→end | plan ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    jobs += [(f"random:{args.random_seed + i}", "pose", None) for i in range(args.random)]
    for name, mode, weight in jobs:
        sc = load_scenario(name)                       # random:SEED too (world_model_node.collect.random_task)
        for seed in range(args.seeds):
            r = run_episode(sc, seed, args, weight)
            rows.append((name, mode, r))
            lat = "–" if r["latent"] is None else f"{r['latent'][0]:.2f}→{r['latent'][1]:.2f}"
            print(f"| {name} | {mode} | {seed} | {r['success']} | {r['time_s']:.1f} | {r['path_m']:.1f} | "
                  f"{r['collisions']} | {r['min_clearance_m']:.2f} | {r['final_m']:.2f} | {r['closest_m']:.2f} | "
                  f"{lat} | {r['plan_ms']:.0f} |", flush=True)
    for mode in ("pose", "image", "image0"):
        r = [x[2] for x in rows if x[1] == mode]
        if r:
            print(f"{mode}: success {sum(x['success'] for x in r)}/{len(r)}, episodes with collisions "
                  f"{sum(1 for x in r if x['collisions'])}, median time {np.median([x['time_s'] for x in r]):.1f} s, "
                  f"median plan {np.nanmedian([x['plan_ms'] for x in r]):.0f} ms "
                  f"({args.samples} x {args.horizon}, 1 thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
