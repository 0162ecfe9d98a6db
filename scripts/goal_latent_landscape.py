#!/usr/bin/env python3
"""What the camera world model's latent distance to a goal picture looks like around the place
the picture was taken, and what the model forecasts for it: the two things a planner that
minimises that distance (``planner_node/goal_image.py``) relies on.

    python scripts/goal_latent_landscape.py --scenario open --picture-at 3.5,3.5,0.785

Prints three tables, in real PyBullet with the camera model (default models/husky_camera.pt):

1. **Motion in the latent.** The picture's own frame embedded at rest (as a goal is embedded)
   against the same frame embedded under ``--motions`` drawn velocities and command histories
   (steady commands within the robot's limits with noise, the measured velocity 30-100 % of the
   command). "full" is the planner's distance; "motion out" leaves out the fewest principal
   directions of those embeddings that hold ``--share`` of their spread (their number is printed).
2. **The landscape.** The distance from frames taken behind the picture along its heading and to
   its side (the same heading), at rest in full and, under a drawn motion, with the motion
   directions out.
3. **The forecast.** From ``--start`` (default 2 m behind the picture), the distance the model
   predicts after ``--horizon`` steps of five steady commands, against the distance of the frame
   the sim's robot actually sees after driving each of them (embedded with the velocities and the
   commands it had), both with the motion directions out.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys

import numpy as np

BEHIND = (3.0, 2.0, 1.5, 1.0, 0.5, 0.25, 0.0)
SIDE = (-0.5, 0.0, 0.5)
COMMANDS = (("stop", 0.0, 0.0), ("0.5 m/s", 0.5, 0.0), ("1.0 m/s", 1.0, 0.0), ("0.5 m/s left", 0.5, 0.5),
            ("0.5 m/s right", 0.5, -0.5))


def _triple(text: str, name: str) -> list[float]:
    try:
        v = [float(x) for x in text.split(",")]
    except ValueError:
        v = []
    if len(v) != 3 or not all(math.isfinite(x) for x in v):
        raise SystemExit(f"{name}: expected three finite numbers X,Y,YAW, got {text!r}")
    return v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="open", help="scenario name or file")
    ap.add_argument("--picture-at", default="3.5,3.5,0.785", help="X,Y,YAW (m, m, rad) where the picture is taken")
    ap.add_argument("--start", default=None, help="X,Y,YAW of the forecast (default: 2 m behind the picture)")
    ap.add_argument("--model", default="models/husky_camera.pt", help="camera world-model checkpoint")
    ap.add_argument("--motions", type=int, default=96, help="drawn motions (>= 2)")
    ap.add_argument("--share", type=float, default=0.999, help="share of the motion spread left out (0..1)")
    ap.add_argument("--horizon", type=int, default=15, help="forecast steps (the model's dt each)")
    args = ap.parse_args(argv)
    gp = _triple(args.picture_at, "--picture-at")
    c, s = math.cos(gp[2]), math.sin(gp[2])
    start = _triple(args.start, "--start") if args.start else [gp[0] - 2.0 * c, gp[1] - 2.0 * s, gp[2]]
    if args.motions < 2 or not 0.0 <= args.share <= 1.0 or args.horizon < 1:
        ap.error("--motions >= 2, --share in 0..1 and --horizon >= 1 expected")

    import torch

    from world_model_planner.planner_node.dynamics import LearnedModel
    from world_model_planner.sim.scenario import Pose2D, load_scenario
    from world_model_planner.sim.world import CameraConfig, SimWorld
    from world_model_planner.world_model_node.checkpoint import CheckpointError, load_checkpoint
    from world_model_planner.world_model_node.latent_eval import motion_basis, motion_histories, project_out
    from world_model_planner.world_model_node.history import History
    from world_model_planner.world_model_node.model import observation

    torch.set_num_threads(1)
    try:
        model = LearnedModel(load_checkpoint(args.model, device="cpu"))
    except (CheckpointError, ValueError, OSError) as e:
        print(f"goal_latent_landscape: {args.model}: {e}", file=sys.stderr)
        return 2
    if not model.needs_image:
        print(f"goal_latent_landscape: {args.model} reads no camera image", file=sys.stderr)
        return 2
    K = model.history_steps
    sc = load_scenario(args.scenario)

    with SimWorld(sc, seed=0, camera=CameraConfig()) as w, torch.inference_mode():
        def frame(pose):
            return w.camera.image(np.asarray(pose, np.float64))

        def embed(images, vel, hist):
            n = len(images)
            img = torch.as_tensor(np.stack(images))
            obs = observation(torch.zeros((n, 3)), torch.as_tensor(vel, dtype=torch.float32), None, img,
                              history=hist, channels_last=True)
            return model.model.latent_h(model.model.encode(obs))

        picture = frame(gp)
        goal = model.embed_goal(picture)
        vel, hist = motion_histories(args.motions, K)
        moving = embed([picture] * args.motions, vel, hist)
        basis = motion_basis(moving, args.share)                     # (dh, k)

        def dist(h, out: bool):
            return torch.linalg.norm(project_out(h - goal, basis) if out else h - goal, dim=-1)

        full, out = dist(moving[1:], False), dist(moving[1:], True)
        print(f"picture at {gp[0]:.2f},{gp[1]:.2f},{gp[2]:.3f} in {args.scenario}; model {args.model}; latent "
              f"{goal.shape[0]} dims, {basis.shape[1]} motion directions hold {args.share:g} of the motion spread")
        print("\n| the picture's own frame under motion | full | motion out |\n|---|---|---|")
        print(f"| distance to its at-rest embedding, mean ± sd over {args.motions - 1} motions | "
              f"{full.mean():.2f} ± {full.std():.2f} | {out.mean():.2f} ± {out.std():.2f} |")

        print("\n| metres behind the picture | " + " | ".join(f"{d:+.2f} m to the side" for d in SIDE)
              + " |\n|---|" + "---|" * len(SIDE))
        g = np.random.default_rng(1)
        for back in BEHIND:
            cells = []
            for side in SIDE:
                p = [gp[0] - back * c - side * s, gp[1] - back * s + side * c, gp[2]]
                f = frame(p)
                rest = float(dist(model.embed_goal(f), False))             # at rest, as a goal is embedded
                i = int(g.integers(1, args.motions))
                h1 = History(hist.cmd[i:i + 1], hist.vel[i:i + 1], hist.valid[i:i + 1])
                mov = float(dist(embed([f], vel[i:i + 1], h1), True)[0])
                cells.append(f"{rest:.2f} / {mov:.2f}")
            print(f"| {back:.2f} | " + " | ".join(cells) + " |")
        print("(each cell: at rest, full / under a drawn motion, motion out)")

        print(f"\nforecast from {start[0]:.2f},{start[1]:.2f},{start[2]:.3f} ({math.dist(start[:2], gp[:2]):.2f} m "
              f"from the picture), {args.horizon} steps of {model.dt_s:g} s, motion out:")
        print("\n| command | predicted distance | distance of the frame the robot then sees | robot's distance "
              "to the picture |\n|---|---|---|---|")
        there_sc = dataclasses.replace(sc, start=Pose2D(*start))
        rest_hist = History(np.zeros((K, 2), np.float32), np.zeros((K, 2), np.float32), np.ones(K, bool))
        for label, v, om in COMMANDS:
            st = model.reset_state(np.asarray(start), np.zeros(2, np.float32), None, history=rest_hist,
                                   image=frame(start))
            acts = torch.tensor([[v, om]], dtype=torch.float32)[:, None, :].expand(1, args.horizon, 2).contiguous()
            pred = float(dist(model.rollout(st, acts, collision=False).latent[0, -1], True))
            cmds, vels = [], []
            with SimWorld(there_sc, seed=0, perturb=False) as drive:
                for _ in range(args.horizon):
                    drive.step(v, om, model.dt_s)
                    cmds.append((v, om))
                    vels.append(tuple(drive.velocity()))
                end = drive.true_pose()
            ch = np.asarray(([(0.0, 0.0)] * K + cmds)[-K:], np.float32)
            vh = np.asarray(([(0.0, 0.0)] * K + vels)[-K:], np.float32)
            seen = embed([frame(end)], vh[-1:], History(ch[None], vh[None], np.ones((1, K), bool)))
            there = float(np.hypot(*(np.asarray(end[:2]) - gp[:2])))
            print(f"| {label} | {pred:.2f} | {float(dist(seen[0], True)):.2f} | {there:.2f} m |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
