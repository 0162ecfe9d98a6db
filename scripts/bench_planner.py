#!/usr/bin/env python3
"""Plan rate of each planner: full control ticks (map update, subgoal, MPPI, critics) on a
fixed scene, timed on this machine.

    python scripts/bench_planner.py --samples 512 --horizon 20 --threads 2

Wall times rise when other processes share the cores; the process CPU time of a tick (with one
torch thread, what the tick costs) stays steadier, and the load average is printed next to each row.

hierarchical/flat use the world model given by --model (default: the shipped checkpoint; where
none exists, a randomly initialised WorldModel of the default architecture, which costs the
same to run). classic uses ideal unicycle kinematics; classic_id the identified lag + delay model
(--sysid, default the shipped models/husky_sysid.json) with obstacle tracking and its predicted
clearance.

With --budget-hz the adaptive budget (planner_node.budget, default budget.* settings) runs as in
the node, against a control period of 1/budget-hz: each change is printed, and each row gives the
budget it settled at with the median tick before (the first window) and after (the last 20 ticks).

    python scripts/bench_planner.py --planners hierarchical --samples 2048 --horizon 30 --budget-hz 20
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--planners", default="hierarchical,flat,classic,classic_id")
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--horizon", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=1)
    ap.add_argument("--method", default="mppi", choices=("mppi", "cem"))
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                    help="torch.set_num_threads (default: 2, the CI machine's cores)")
    ap.add_argument("--ticks", type=int, default=100)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default=None, help="world-model checkpoint for hierarchical/flat")
    ap.add_argument("--sysid", default=None, help="sysid JSON for classic_id (default: the shipped fit)")
    ap.add_argument("--reference", action="store_true",
                    help="also time hierarchical/flat through the step-by-step reference rollout (WorldModel.fused "
                         "off), for a before/after comparison of the fused path")
    ap.add_argument("--bf16", action="store_true",
                    help="also time hierarchical/flat with the fused rollout's matrix products in bf16 (what "
                         "device: auto picks where the CPU has bf16 units and it is faster)")
    ap.add_argument("--eager", action="store_true",
                    help="on a GPU, also time hierarchical/flat without CUDA graphs (WorldModel.cuda_graphs off), "
                         "for a before/after comparison of the recorded rollout")
    ap.add_argument("--budget-hz", type=float, default=0.0,
                    help="run the adaptive budget against this control rate (0 = off, the configured budget)")
    args = ap.parse_args(argv)

    import torch

    from world_model_planner.planner_node.dynamics import LearnedModel, SysIdModel, UnicycleModel
    from world_model_planner.planner_node.sysid import default_sysid_path
    from world_model_planner.planner_node.budget import AdaptiveBudget, BudgetConfig
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import Navigator, PlannerConfig
    from world_model_planner.planner_node.recovery import RecoveryConfig
    from world_model_planner.testing.toyworld import ToyWorld, u_trap_boxes
    from world_model_planner.core.paths import default_model_path
    from world_model_planner.core.runtime import cpu_description, pick_device

    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    path = args.model or (str(default_model_path()) if default_model_path().is_file() else None)
    learned_desc = path or "random-init WorldModel (default architecture; speed only)"

    def learned():
        if path:
            return LearnedModel.from_checkpoint(path, device=device)
        from world_model_planner.world_model_node.model import WorldModel

        return LearnedModel(WorldModel().to(device).eval(), device=device)

    cfg = PlannerConfig(mppi=MPPIConfig(samples=args.samples, horizon=args.horizon,
                                        iterations=args.iterations, method=args.method),
                       # the robot stands still here while ticks are timed: no stall recovery
                       recovery=RecoveryConfig(enabled=False))
    print(f"machine: {cpu_description()}; torch {torch.__version__}")
    print(f"device {device}, torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}, "
          f"{args.samples} samples x {args.horizon} steps x {args.iterations} iteration(s), {args.method}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.budget_hz:
        print(f"adaptive budget against {args.budget_hz:g} Hz ({1000.0 / args.budget_hz:.1f} ms), {BudgetConfig()}")
        print("| planner | model | settled samples x steps | median ms before | median ms after | plan Hz after "
              "| load average after |")
        print("|---|---|---|---|---|---|---|")
    else:
        print("| planner | model | median ms | p90 ms | plan Hz (median) | process CPU ms (median) | load average after |")
        print("|---|---|---|---|---|---|---|")
    runs = []
    for kind in args.planners.split(","):
        runs.append((kind, True, None, True))
        if args.bf16 and kind in ("hierarchical", "flat"):
            runs.append((kind, True, torch.bfloat16, True))
        if args.eager and device.type == "cuda" and kind in ("hierarchical", "flat"):
            runs.append((kind, True, None, False))
        if args.reference and kind in ("hierarchical", "flat"):
            runs.append((kind, False, None, True))
    for kind, fused, low, graphs in runs:
        if kind == "classic":
            model, desc = UnicycleModel(0.1, device), "unicycle"
        elif kind == "classic_id":
            model = SysIdModel.from_file(args.sysid or default_sysid_path(), device)
            desc = "identified lag + delay, tracking"
        else:
            model, desc = learned(), learned_desc
            model.model.fused, model.model.matmul_dtype, model.model.cuda_graphs = fused, low, graphs
            desc += ("" if fused else " (reference rollout)") + ("" if low is None else " (bf16 products)")
            if device.type == "cuda":
                desc += " (CUDA graph)" if graphs and fused else " (eager)"
        nav = Navigator(kind, model, cfg, device)
        budget = AdaptiveBudget(BudgetConfig(), args.samples, args.horizon, 1.0 / args.budget_hz) \
            if args.budget_hz else None
        world = ToyWorld(u_trap_boxes(), start=(-2.0, 0.3, 0.2))
        nav.set_goal(4.0, 0.0)
        scan = world.scan()
        times, cpus = [], []
        for k in range(args.ticks + 10):
            t0, c0 = time.perf_counter(), time.process_time()
            cmd = nav.step(world.pose, world.vel, scan, 0.05 * k, new_scan=(k % 2 == 0))
            if device.type == "cuda":
                torch.cuda.synchronize()
            if k >= 10:
                times.append((time.perf_counter() - t0) * 1e3)
                cpus.append((time.process_time() - c0) * 1e3)
                change = budget.observe(times[-1] / 1e3) if budget is not None else None
                if change is not None:
                    nav.set_budget(*change.new)
                    print(f"  tick {k - 10}: {change.line()}", flush=True)
            if cmd.state != "planning":
                print(f"unexpected state {cmd.state}: {cmd.reason}", file=sys.stderr)
                return 1
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        if budget is not None:
            before, after = statistics.median(times[:budget.cfg.window]), statistics.median(times[-20:])
            print(f"| {kind} | {desc} | {budget.samples} x {budget.horizon} | {before:.1f} | {after:.1f} "
                  f"| {1000.0 / after:.1f} | {load} |", flush=True)
            continue
        times.sort()
        med, p90 = statistics.median(times), times[int(0.9 * (len(times) - 1))]
        print(f"| {kind} | {desc} | {med:.1f} | {p90:.1f} | {1000.0 / med:.1f} | {statistics.median(cpus):.1f} | {load} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
