#!/usr/bin/env python3
"""Quick planner comparison without ROS: SimWorld and a Navigator in one process, one control
tick per 0.1 s of simulated time (lockstep), one line per episode. ``--control-hz 20 --scan-hz 10``
ticks as the stack does (odometry at 20 Hz, a new scan every other tick).

    python scripts/inprocess_episodes.py --scenarios dynamics --planners classic,classic_id --seeds 2

Each scenario drives its own robot (``robot:``, the Husky unless it says otherwise; --robot for
another) and plans as
that robot's planner node would: its robot file's limits, footprint and planner section, its
shipped model and `classic_id` fit unless --model / --sysid name others.

The numbers that count come from `wmp bench` (the real node processes); this loop is for fast
iteration on planners and critics. Success = the sim's goal test; collisions = the sim's count;
time ratio = time over the shortest path (true map) at the robot's top speed; reverse = metres
driven backwards; recoveries = fired (resolved). A summary line per planner follows the table,
then the stall and recovery report: stalls = spells of at least stall_time_s without progress
along the global path, watched here independently of the planner's detector (the same rule:
the remaining path shrinks by progress_min_m; a new route longer by route_change_m is measured
from its own length; a spell in which the straight distance to the goal still reaches new lows
by creep_min_m, the ground holding the base back on the way, is creeping, counted apart, and
becomes a stall when that stops); a stall is
covered when a recovery started during it and resolved when progress resumed (or the goal was
reached) after one; then recoveries by kind and outcome, and the reverse distance per episode.
"""
from __future__ import annotations

import argparse
import copy
import sys

import numpy as np


class StallWatch:
    """Stalls seen from outside the planner: spells of at least ``stall_time_s`` in which the
    remaining path did not shrink by ``progress_min_m`` (a new route longer by ``route_change_m``
    restarts the measure). A spell in which the straight distance to the goal still reached a new
    low by ``creep_min_m`` within ``stall_time_s``, its measured speed below ``creep_slip_ratio``
    × the commanded on the way there (or near a mover the planner tracks: yielding), is creeping,
    not a stall (the planner's rule for a robot that keeps closing in slowly); it becomes a stall
    when that stops too."""

    def __init__(self, cfg):
        self.cfg, self.best, self.since, self.stalls = cfg, None, 0.0, []
        self.low, self.low_t = float("inf"), 0.0
        self.events_since = 0        # recoveries logged when the spell without progress began
        self.push = [0.0, 0.0]       # sum of |commanded|, |measured| speed since the last new low

    def update(self, t: float, remaining: float, n_events: int, direct: float | None = None,
               speeds: tuple[float, float] | None = None) -> None:
        c = self.cfg
        if not np.isfinite(remaining):
            return
        if speeds is not None:
            self.push[0] += abs(speeds[0])
            self.push[1] += abs(speeds[1])
        held = speeds is None or self.push[1] < c.creep_slip_ratio * self.push[0]
        if self.best is None or remaining > self.best + c.route_change_m:
            self.best = remaining
        if remaining <= self.best - c.progress_min_m:
            self.best, self.since, self.events_since = remaining, t, n_events
            self.low, self.low_t = (float("inf") if direct is None else direct), t
            self.push = [0.0, 0.0]
            if self.stalls and self.stalls[-1]["end"] is None:
                self.stalls[-1]["end"] = "progress"
            return
        if direct is not None and direct <= self.low - c.creep_min_m:
            self.low, self.low_t = direct, (t if held else self.low_t)
            self.push = [0.0, 0.0]
        if t - self.since < c.stall_time_s:
            return
        creeping = c.creep_min_m > 0 and t - self.low_t < c.stall_time_s
        last = self.stalls[-1] if self.stalls else None
        if last is None or (last["end"] is not None and last["t"] < self.since):
            # covered = a recovery started anywhere in the spell without progress (the planner's
            # detector also needs the robot to have moved, so its clock can start a little earlier)
            self.stalls.append({"t": t, "events0": self.events_since, "end": None, "creeping": creeping})
        elif last["end"] is None and last["creeping"] and not creeping:
            last.update(t=t, creeping=False)                        # creeping has stopped: a stall

    def close(self, reached: bool, n_events: int) -> list[dict]:
        if self.stalls and self.stalls[-1]["end"] is None:
            self.stalls[-1]["end"] = "goal" if reached else "open"
        for i, st in enumerate(self.stalls):
            st["events1"] = self.stalls[i + 1]["events0"] if i + 1 < len(self.stalls) else n_events
        return self.stalls


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="dynamics",
                    help="suite (builtin, dynamics, all), comma-separated names (generated tasks too: "
                         "random:SEED, random_rooms+dyn:SEED), or none (with --random)")
    ap.add_argument("--planners", default="classic,classic_id")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seeds first-seed .. first-seed + seeds - 1 (seed 0 unperturbed, the others perturbed)")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--robot", default=None, metavar="NAME",
                    help="drive this robot (husky, jackal, turtlebot4) in place of each scenario's own, as wmp bench --robot")
    ap.add_argument("--model", default=None,
                    help="world-model checkpoint for hierarchical/flat (default: the scenario robot's shipped model)")
    ap.add_argument("--sysid", default=None, help="sysid JSON for classic_id (default: the scenario robot's fit)")
    ap.add_argument("--set", action="append", default=[], metavar="[SECTION.]NAME=VALUE",
                    help="a planner parameter for every episode, as the node names it (e.g. model_scene=false, "
                         "mppi.samples=512); repeatable")
    ap.add_argument("--bf16", action="store_true",
                    help="hierarchical/flat: the fused rollout's matrix products in bf16 (what device: auto picks "
                         "where the CPU has bf16 units and it is faster)")
    ap.add_argument("--control-hz", type=float, default=10.0,
                    help="control ticks per simulated second (the stack: 20, odometry-triggered)")
    ap.add_argument("--scan-hz", type=float, default=None,
                    help="scans per simulated second (default: one per tick; the stack: 10)")
    ap.add_argument("--random", type=int, default=0,
                    help="also N random tasks no planner or model was tuned on (world_model_node.collect."
                         "random_task: a start and a goal 3-8 m apart in a fresh layout), one per seed "
                         "from --random-seed, named as --scenarios would take them (random:SEED, "
                         "random_rooms+dyn:SEED, ...); each runs with --seeds perturbations")
    ap.add_argument("--random-seed", type=int, default=700000,
                    help="first seed of the random tasks (the shipped models' data use seeds below 10,000 "
                         "and 900,000-929,999)")
    ap.add_argument("--random-layout", default="random", choices=("random", "random_rooms"),
                    help="random: boxes and cylinders in a walled arena; random_rooms: rooms joined by doors")
    ap.add_argument("--random-dynamics", action="store_true",
                    help="the random tasks also get collection's terrain patches, payload, latency and movers")
    args = ap.parse_args(argv)
    if args.random < 0 or args.random_seed < 0 or args.random_seed + args.random > 10**9:
        ap.error(f"--random {args.random} --random-seed {args.random_seed}: expected numbers >= 0, "
                 f"the seeds below 10^9")
    if args.first_seed < 0 or args.seeds < 1:
        ap.error(f"--first-seed {args.first_seed} --seeds {args.seeds}: expected first-seed >= 0 and seeds >= 1")
    if not args.control_hz > 0 or (args.scan_hz is not None and not args.scan_hz > 0):
        ap.error(f"--control-hz and --scan-hz: a positive rate expected, got {args.control_hz}, {args.scan_hz}")

    import torch

    from world_model_planner.core import metrics
    from world_model_planner.core.robot_config import load_robot
    from world_model_planner.planner_node.navigator import make_navigator
    from world_model_planner.sim.scenario import SUITES, load_scenario, suite
    from world_model_planner.sim.world import SimWorld

    from barn_episodes import planner_config        # scripts/ is on sys.path when run as a script

    torch.set_num_threads(1)
    dt = 1.0 / args.control_hz
    scan_every = 1 if args.scan_hz is None else max(1, round(args.control_hz / args.scan_hz))
    names = suite(args.scenarios) if args.scenarios in SUITES else \
        [s for s in args.scenarios.split(",") if s and s != "none"]
    names += [f"{args.random_layout}{'+dyn' if args.random_dynamics else ''}:{args.random_seed + i}"
              for i in range(args.random)]
    print("| scenario | planner | seed | success | time s | path m | time ratio | reverse m | recoveries "
          "| collisions | min clearance m |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for name in names:
        sc = load_scenario(name, robot=args.robot)
        # the scenario's robot: its file's limits and footprint (read once), its model and fit unless given
        robot_cfg = planner_config(sc.robot, args.samples, args.horizon, args.set, "inprocess_episodes")
        for kind in args.planners.split(","):
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                cfg = copy.deepcopy(robot_cfg)           # each navigator its own, as before
                nav = make_navigator(kind, args.model, cfg, "cpu", sysid_path=args.sysid, robot=sc.robot)
                if args.bf16 and hasattr(getattr(nav.model, "model", None), "matmul_dtype"):
                    nav.model.model.matmul_dtype = torch.bfloat16
                with SimWorld(sc, seed=seed, perturb=seed > 0) as w:
                    nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.8 * sc.goal.tolerance)
                    t, min_clear, path, prev = 0.0, float("inf"), 0.0, w.pose()[:2].copy()
                    start, traj = w.true_pose()[:2].copy(), []
                    watch, tick, last_v = StallWatch(cfg.recovery), 0, 0.0
                    while t < sc.time_limit_s and not w.goal_reached():
                        new_scan = tick % scan_every == 0
                        if new_scan:                    # a scan and the pose it was taken at
                            scan, scan_pose = w.scan(), w.pose()
                        pose = w.pose()
                        cmd = nav.step(pose, w.velocity(), scan, t, scan_pose=scan_pose, new_scan=new_scan)
                        # the watcher sees what the planner saw this tick: the pose before the step
                        gpath = nav.subgoals.path if nav.subgoals is not None else np.zeros((0, 2))
                        watch.update(t, nav.remaining_m(pose, gpath), len(nav.recovery.log),
                                     float(np.hypot(sc.goal.x - pose[0], sc.goal.y - pose[1])),
                                     None if nav._mover_near(pose, cfg.recovery.creep_yield_radius_m)
                                     else (last_v, float(w.velocity()[0])))
                        last_v = cmd.v
                        if cmd.state == "failed":
                            break
                        w.step(cmd.v, cmd.w, dt)
                        t, tick = t + dt, tick + 1
                        min_clear = min(min_clear, w.clearance_m())
                        path += float(np.linalg.norm(w.pose()[:2] - prev))
                        prev = w.pose()[:2].copy()
                        traj.append((t, *w.true_pose()))
                    ok = w.goal_reached()
                    events = [e.as_dict() for e in nav.recovery.log]
                    stalls = watch.close(ok, len(events))
                    ratio = metrics.time_ratio(ok, t, metrics.shortest_path_m(sc, start),
                                               load_robot(sc.robot).v_max_mps)
                    rev = metrics.reverse_distance_m(traj)
                    n = nav.recovery.counts()
                    rows.append((kind, ok, ratio, rev, n, w.collision_count, events, stalls, name, seed))
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
    recovery_report(rows, args.planners.split(","))
    return 0


def recovery_report(rows, planners) -> None:
    """Stalls (covered by a recovery, resolved), recoveries by kind and outcome, reverse metres."""
    from world_model_planner.planner_node.recovery import SEQUENCE

    outcomes = ("resolved", "failed", "skipped", "aborted", "pending")
    print("\n| planner | stalls | covered by a recovery | resolved after one | ended open "
          "| creeping spells (no stall) |")
    print("|---|---|---|---|---|---|")
    for kind in planners:
        st = [(x, s) for x in rows if x[0] == kind for s in x[7] if not s["creeping"]]
        creep = [(x, s) for x in rows if x[0] == kind for s in x[7] if s["creeping"]]
        covered = [(x, s) for x, s in st if s["events1"] > s["events0"]]
        resolved = [s for _, s in covered if s["end"] in ("progress", "goal")]
        print(f"| {kind} | {len(st)} | {len(covered)} | {len(resolved)} | "
              f"{sum(1 for _, s in st if s['end'] == 'open')} | {len(creep)} |")
        for x, s in creep:
            print(f"  creeping spell: {x[8]} seed {x[9]} t={s['t']:.1f} s, ended {s['end']}")
        for x, s in st:
            if s["events1"] <= s["events0"]:
                print(f"  uncovered stall: {x[8]} seed {x[9]} t={s['t']:.1f} s, ended {s['end']}")
    print("\n| planner | kind | " + " | ".join(outcomes) + " |")
    print("|---|---|" + "---|" * len(outcomes))
    for kind in planners:
        ev = [e for x in rows if x[0] == kind for e in x[6]]
        for k in SEQUENCE:
            print(f"| {kind} | {k} | " + " | ".join(str(sum(1 for e in ev if e["kind"] == k and e["outcome"] == o))
                                                 for o in outcomes) + " |")
    print("\n| planner | reverse m: median | p90 | max | episodes > 1 m |")
    print("|---|---|---|---|---|")
    for kind in planners:
        rev = np.array([x[3] for x in rows if x[0] == kind])
        if rev.size:
            over = [f"{x[8]}/{x[9]}" for x in rows if x[0] == kind and x[3] > 1.0]
            print(f"| {kind} | {np.median(rev):.2f} | {np.percentile(rev, 90):.2f} | {rev.max():.2f} | "
                  f"{len(over)} {' '.join(over)} |")


if __name__ == "__main__":
    sys.exit(main())
