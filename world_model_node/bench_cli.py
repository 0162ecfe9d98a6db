"""`wmp bench-model`: time the world model's rollout and heads (fused, bf16 products, the
step-by-step reference), or, with --profile, where one control tick's time goes. Registered by
world_model_node/cli.py."""
from __future__ import annotations

import os

from world_model_planner.world_model_node.cli import _matmul_dtype, _refuse


def bench(args) -> int:
    import time

    import torch

    from world_model_planner.core.paths import default_model_path

    from world_model_planner.world_model_node.checkpoint import CheckpointError, load_checkpoint

    for name in ("batch", "horizon", "repeats", "ticks"):
        if getattr(args, name) < 1:
            return _refuse("bench-model", f"--{name}: expected >= 1, got {getattr(args, name)}")
    if args.robot is not None:
        from world_model_planner.core.robot_config import available_robots

        if args.robot not in available_robots():
            return _refuse("bench-model", f"--robot {args.robot[:60]!r}: expected one of {', '.join(available_robots())}")
    if args.threads:
        torch.set_num_threads(args.threads)
    from world_model_planner.core.runtime import cpu_description

    print(f"machine: {cpu_description()}; torch {torch.__version__}")
    if args.profile:
        return _bench_profile(args)
    try:
        model = load_checkpoint(args.model or default_model_path(args.robot or "husky"), device=args.device)
    except (CheckpointError, ValueError) as exc:
        return _refuse("bench-model", str(exc))
    model.matmul_dtype = _matmul_dtype(args.matmul_dtype, model.device)
    dev = model.device
    z0 = torch.zeros(1, model.latent_dim, device=dev)
    acts = torch.rand(args.batch, args.horizon, 2, device=dev) * 2 - 1

    def timed(fn):
        wall, cpu = [], []
        for i in range(args.repeats + 5):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t, c = time.perf_counter(), time.process_time()
            fn()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            if i >= 5:
                wall.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
        wall.sort()
        cpu.sort()
        return wall[len(wall) // 2], wall[int(len(wall) * 0.9)], cpu[len(cpu) // 2]

    def reference_heads():
        z = model.rollout_reference(z0, acts)
        return model.collision_logit(z), model.min_clearance(z) if model.has_scene else None

    print(f"load average {_load()}")
    with torch.inference_mode():
        z = model.rollout(z0, acts)
        for name, fn in (("rollout", lambda: model.rollout(z0, acts)),
                         ("rollout reference", lambda: model.rollout_reference(z0, acts)),
                         ("collision_logit", lambda: model.collision_logit(z)),
                         ("rollout+heads", lambda: model.rollout_heads(z0, acts)),
                         *((("rollout+heads graph", lambda: model.rollout_heads(z0, acts, reuse=True)),)
                           if dev.type == "cuda" else ()),
                         ("rollout+heads ref", reference_heads)):
            med, p90, cpu = timed(fn)
            low = "" if model.matmul_dtype is None or "ref" in name else ", bf16 products"
            print(f"{name:<19} B={args.batch} H={args.horizon} on {dev}{low} ({torch.get_num_threads()} threads): "
                  f"wall median {med:.2f} ms, p90 {p90:.2f} ms; process CPU median {cpu:.2f} ms")
    print(f"load average {_load()}")
    return 0


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _bench_profile(args) -> int:
    import torch

    from world_model_planner.planner_node.navigator import KINDS, make_navigator
    from world_model_planner.planner_node.robot_tuning import robot_planner_config
    from world_model_planner.planner_node.tick_profile import format_profile, profile_ticks
    from world_model_planner.world_model_node.checkpoint import CheckpointError

    kinds = [k.strip() for k in args.planners.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        return _refuse("bench-model", f"--planners: expected kinds from {', '.join(KINDS)}, got {args.planners!r}")
    try:          # the robot file's limits, footprint and planner section (the Husky's: the defaults)
        cfg = robot_planner_config(args.robot or "husky", args.batch, args.horizon)
    except ValueError as exc:
        return _refuse("bench-model", str(exc))
    cfg.recovery.enabled = False             # the robot stands still while ticks are timed: no stall recovery
    progress = None
    if not args.no_progress:
        from tqdm import tqdm

        def progress(it):
            return tqdm(it, desc="ticks", leave=False)
    for kind in kinds:
        try:
            nav = make_navigator(kind, args.model, cfg, device=None if args.device == "auto" else args.device,
                                 missing_ok=False, robot=args.robot)
        except (CheckpointError, OSError, ValueError) as exc:
            return _refuse("bench-model", f"{kind}: {exc}")
        wm = getattr(nav.model, "model", None)
        products = ""
        if args.matmul_dtype != "float32":
            if not hasattr(wm, "matmul_dtype"):
                return _refuse("bench-model", f"--matmul-dtype {args.matmul_dtype}: the {kind} planner has no "
                                              "world model to run it")
            wm.matmul_dtype = _matmul_dtype(args.matmul_dtype, getattr(wm, "device", None))
            products = f", {args.matmul_dtype} products"
        load = _load()
        try:
            result = profile_ticks(nav, args.ticks, progress=progress, messages=not args.no_messages, planner=kind)
        except RuntimeError as exc:
            return _refuse("bench-model", f"{kind}: {exc}")
        robot = f"{args.robot}: " if args.robot else ""
        print(format_profile(result, f"{robot}{kind} ({nav.model_desc}{products}), {args.batch} samples x {args.horizon} steps, "
                                     f"{torch.get_num_threads()} thread(s), {args.ticks} ticks; load average "
                                     f"{load} -> {_load()}"))
        print()
    return 0
