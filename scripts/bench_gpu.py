#!/usr/bin/env python3
"""The world model on a GPU: rollout rate with and without CUDA graphs, the largest batch that
holds a control rate, training steps per second, and whether the GPU's numbers match the CPU's.

    python scripts/bench_gpu.py --data test/data/wm_eval --camera-data DIR_WITH_IMAGES

Prints Markdown tables:

1. rollout + heads (what one planning tick asks of the model) at --samples x --horizon, for the
   scan model (--model) and the camera model (--camera-model, with one frame's encoding): eager,
   replayed as a CUDA graph (world_model_node/cuda_graphs.py), and the graph with bf16 products;
2. the largest batch (doubling from --samples) whose graphed rollout + heads holds --hz;
3. training steps per second (`world_model_node.train.train`, the default batch) on the device
   for each model, on --data and --camera-data;
4. the scan model's held-out pose error and collision AUROC (`wmp eval-model`'s numbers)
   computed on the CPU and on the device, and their largest difference.

The full planner tick on the GPU is timed by scripts/bench_planner.py --device cuda. Without
CUDA it runs on the CPU (--device cpu), where graphs do not apply: a smoke test of the script.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time


def _timed(fn, device, repeats: int) -> float:
    """Median milliseconds of fn() over ``repeats`` calls after three warm-up calls."""
    import torch

    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _z0(model, device):
    """One encoded latent (1, D) of a robot at rest, and the LearnedModel around ``model``."""
    from world_model_planner.planner_node.device_choice import rest_latent
    from world_model_planner.planner_node.dynamics import LearnedModel

    lm = LearnedModel(model, device=device)
    return rest_latent(lm), lm


def rollout_rows(name, model, device, samples, horizon, repeats):
    import numpy as np
    import torch

    z0, lm = _z0(model, device)
    acts = torch.rand(samples, horizon, 2, device=device) * 2 - 1
    clearance = bool(model.has_scene)
    rows = []
    variants = [("eager", False, None)]
    if device.type == "cuda":
        variants += [("CUDA graph", True, None), ("CUDA graph, bf16 products", True, torch.bfloat16)]
    for label, graphs, low in variants:
        model.cuda_graphs, model.matmul_dtype = graphs, low
        with torch.inference_mode():
            ms = _timed(lambda: model.rollout_heads(z0, acts, clearance=clearance, reuse=True), device, repeats)
        rows.append(f"| {name} | rollout + heads, {label} | {samples} x {horizon} | {ms:.3f} | {1e3 / ms:.0f} |")
    model.cuda_graphs, model.matmul_dtype = True, None
    if lm.needs_image:
        s = int(lm.image_size)
        frame = np.full((s, s, 3), 128, np.uint8)
        ms = _timed(lambda: lm.reset_state(np.zeros(3), np.zeros(2), None, image=frame), device, repeats)
        rows.append(f"| {name} | encode one frame (per tick) | 1 | {ms:.3f} | {1e3 / ms:.0f} |")
    return rows


def largest_batch(model, device, horizon, start, hz, repeats, cap):
    import torch

    z0, _ = _z0(model, device)
    budget_ms, best, b, rows = 1e3 / hz, None, start, []
    while b <= cap:
        acts = torch.rand(b, horizon, 2, device=device) * 2 - 1
        try:
            with torch.inference_mode():
                ms = _timed(lambda: model.rollout_heads(z0, acts, clearance=bool(model.has_scene), reuse=True),
                            device, repeats)
        except torch.cuda.OutOfMemoryError:
            rows.append(f"| {b} x {horizon} | out of memory | |")
            break
        rows.append(f"| {b} x {horizon} | {ms:.2f} | {1e3 / ms:.0f} |")
        if ms > budget_ms:
            break
        best, b = b, b * 2
        del acts
        if device.type == "cuda":                  # free the last size's graph before the next
            model._fused_rollout.graphed.clear()
            torch.cuda.empty_cache()
    return best, rows


def train_rate(name, data, device, steps, model_cfg, batch_size, horizon):
    """One row: training steps per second of a fresh model of ``model_cfg`` (a shipped model's
    architecture) at its recipe's batch, from the training loop's own clock."""
    from world_model_planner.world_model_node.train import TrainConfig, train

    cfg = TrainConfig(steps=steps, device=str(device), progress=False, eval_every=steps, seed=0,
                      batch_size=batch_size, horizon=horizon)
    t0 = time.perf_counter()
    _, metrics = train(data, model_cfg, cfg)
    wall = time.perf_counter() - t0
    rate = metrics["steps_run"] / metrics["train_time_s"]
    return (f"| {name} | {device} | {cfg.batch_size} x {cfg.horizon} | {metrics['steps_run']} | "
            f"{rate:.1f} | {wall:.1f} |")


def same_on_both(model_path, data, device, sysid):
    from world_model_planner.world_model_node.checkpoint import load_checkpoint
    from world_model_planner.world_model_node.evaluate import evaluate, load_sysid_model

    out = {}
    for dev in ("cpu", str(device)):
        model = load_checkpoint(model_path, device=dev)
        sys_m = load_sysid_model(model.dt_s, sysid)[0] if sysid else None
        r = evaluate(model, data, sysid_model=sys_m)
        out[dev] = r
    return out


def _flat_numbers(d, prefix=""):
    """{dotted key: float} of every number in a nested eval dict."""
    items = {}
    if isinstance(d, dict):
        for k, v in d.items():
            items.update(_flat_numbers(v, f"{prefix}{k}."))
    elif isinstance(d, (list, tuple)):
        for i, v in enumerate(d):
            items.update(_flat_numbers(v, f"{prefix}{i}."))
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        items[prefix.rstrip(".")] = float(d)
    return items


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--model", default=None, help="scan world model (default: the shipped Husky model)")
    ap.add_argument("--camera-model", default=None, help="camera model (default: the shipped models/husky_camera.pt)")
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--horizon", type=int, default=30)
    ap.add_argument("--hz", type=float, default=50.0, help="control rate the batch sweep must hold")
    ap.add_argument("--max-batch", type=int, default=1 << 20)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--data", default=None, help="transitions for the training rate and the CPU/GPU comparison")
    ap.add_argument("--camera-data", default=None, help="transitions with camera frames, for the camera training rate")
    ap.add_argument("--sysid", default=None, help="classic_id fit for the comparison (default: none)")
    ap.add_argument("--train-steps", type=int, default=200)
    ap.add_argument("--sections", default="rollout,sweep,train,compare")
    args = ap.parse_args(argv)

    import torch

    from world_model_planner.core.paths import default_model_path
    from world_model_planner.core.runtime import pick_device
    from world_model_planner.world_model_node.checkpoint import load_checkpoint
    from world_model_planner.world_model_node.data import load_dataset

    device = pick_device(args.device)
    sections = set(args.sections.split(","))
    scan_path = args.model or str(default_model_path())
    cam_path = args.camera_model or str(default_model_path().with_name("husky_camera.pt"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}", flush=True)
    status = 0
    if "rollout" in sections:
        print("\n| model | what | samples x steps | median ms | per second |\n|---|---|---|---|---|")
        for label, path in (("scan (husky_default)", scan_path), ("camera (husky_camera)", cam_path)):
            model = load_checkpoint(path, device=device)
            for row in rollout_rows(label, model, device, args.samples, args.horizon, args.repeats):
                print(row, flush=True)
    if "sweep" in sections:
        model = load_checkpoint(scan_path, device=device)
        best, rows = largest_batch(model, device, args.horizon, args.samples, args.hz, max(10, args.repeats // 5),
                                   args.max_batch)
        print(f"\nscan model, rollout + heads (CUDA graph where on a GPU), batch doubling from {args.samples}:")
        print("| samples x steps | median ms | per second |\n|---|---|---|")
        print("\n".join(rows))
        print(f"largest batch holding {args.hz:g} Hz: {best} x {args.horizon}", flush=True)
    if "train" in sections:
        print("\n| model | device | batch x horizon | steps | steps/s | wall s |\n|---|---|---|---|---|---|")
        # the shipped models' architectures at their recipes' batches (train_default_model.sh,
        # train_camera_model.sh)
        if args.data:
            cfg = load_checkpoint(scan_path, device="cpu").cfg
            print(train_rate("scan (husky_default's architecture)", load_dataset(args.data), device,
                             args.train_steps, cfg, 256, 15), flush=True)
        if args.camera_data:
            cfg = load_checkpoint(cam_path, device="cpu").cfg
            print(train_rate("camera (husky_camera's architecture)", load_dataset(args.camera_data), device,
                             args.train_steps, cfg, 32, 10), flush=True)
    if "compare" in sections and args.data and device.type != "cpu":
        out = same_on_both(scan_path, load_dataset(args.data), device, args.sysid)
        a, b = _flat_numbers(out["cpu"]), _flat_numbers(out[str(device)])
        diffs = {k: abs(a[k] - b[k]) for k in a if k in b and a[k] == a[k] and b[k] == b[k]}
        worst = max(diffs, key=diffs.get) if diffs else None
        print(f"\neval-model on cpu and {device}: {len(diffs)} numbers compared; largest difference "
              f"{diffs[worst]:.2e} at {worst} ({a[worst]:.6g} vs {b[worst]:.6g})" if worst else "nothing compared")
        for key in sorted(k for k in a if k.endswith("2.0") or "auroc" in k)[:12]:
            if key in b:
                print(f"  {key}: cpu {a[key]:.6g}, {device} {b[key]:.6g}")
        if worst and diffs[worst] > 1e-3:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
