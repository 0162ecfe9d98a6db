#!/usr/bin/env python3
"""How much a goal picture says about where it was taken: the mean absolute difference (0-255 per
channel) between the picture at a scenario's goal and pictures taken from poses beside it, in
front of it and behind it, with the same heading. 0 means the two pictures are the same, and no
planner can tell those two places apart from the picture alone.

    python scripts/goal_picture_ambiguity.py --scenarios open,wall,two_rooms

Heading: along the line from the start to the goal, as ``camera_episodes.py --goal-images`` takes
its pictures, and the opposite way (facing back towards the start). The Husky's 64x64 camera.
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np

OFFSETS = ((0.0, 0.5), (0.0, -0.5), (0.0, 1.0), (0.0, -1.0), (0.0, 2.0), (0.0, -2.0), (0.5, 0.0), (-0.5, 0.0))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="open,wall,two_rooms", help="comma-separated built-in names")
    args = ap.parse_args(argv)
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.sim.world import CameraConfig, SimWorld

    cols = " | ".join(f"{'side' if a == 0 else 'ahead'} {b if a == 0 else a:+.1f} m" for a, b in OFFSETS)
    print(f"| scenario | picture facing | {cols} |")
    print("|---|---|" + "---|" * len(OFFSETS))
    for name in (n for n in args.scenarios.split(",") if n):
        sc = load_scenario(name)
        yaw0 = math.atan2(sc.goal.y - sc.start.y, sc.goal.x - sc.start.x)
        with SimWorld(sc, seed=0, camera=CameraConfig()) as w:
            for label, yaw in (("away from the start", yaw0), ("back to the start", yaw0 + math.pi)):
                c, s = math.cos(yaw), math.sin(yaw)

                def picture(ahead, side):
                    x = sc.goal.x + ahead * c - side * s
                    y = sc.goal.y + ahead * s + side * c
                    return w.camera.image(np.array([x, y, yaw])).astype(np.float64)

                ref = picture(0.0, 0.0)
                diffs = [float(np.abs(picture(a, b) - ref).mean()) for a, b in OFFSETS]
                print(f"| {name} | {label} | " + " | ".join(f"{d:.2f}" for d in diffs) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
