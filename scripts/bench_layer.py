#!/usr/bin/env python3
"""Where one predictor layer's time goes: the product against the activation.

    python scripts/bench_layer.py [--model models/husky_default.pt] [--rows 512] [--repeats 3000]

Times each linear layer of the model's predictor MLP at the planner's batch (``--rows`` sampled
sequences, one torch thread) in these variants (the model's last layer has no activation; its
row shows what one would cost there):

    f32 addmm + silu      float32 product, bias and SiLU as two calls (the float32 path)
    bf16 fused swish      oneDNN's product with bias and SiLU as one call (the bf16 path's hidden layers)
    bf16 fused none       the same call without the activation (the bf16 path's output layer)
    bf16 silu alone       SiLU over the layer's bf16 output, on its own

Prints microseconds per call (the median of five rounds of ``--repeats`` calls), so the cost of
the activation can be read off against the product's. Needs a CPU build of PyTorch with oneDNN;
without its fused operator the bf16 rows are left out, with the reason. No ROS, no sim.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _time_us(fn, repeats: int) -> float:
    for _ in range(min(100, repeats)):
        fn()
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeats):
            fn()
        rounds.append((time.perf_counter() - t) / repeats * 1e6)
    return statistics.median(rounds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "husky_default.pt"))
    ap.add_argument("--rows", type=int, default=512, help="rows of each product (the sampled sequences)")
    ap.add_argument("--repeats", type=int, default=3000, help="calls per timing round")
    args = ap.parse_args(argv)
    if args.rows < 1 or args.repeats < 1:
        ap.error("--rows and --repeats must be at least 1")

    import torch
    import torch.nn.functional as F

    from world_model_planner.world_model_node import onednn
    from world_model_planner.world_model_node.checkpoint import CheckpointError, load_checkpoint

    torch.set_num_threads(1)
    try:
        model = load_checkpoint(args.model, device="cpu")
    except (OSError, CheckpointError) as exc:
        print(f"bench_layer: cannot load {args.model}: {exc}", file=sys.stderr)
        return 2
    layers = [m for m in model.predictor.net if isinstance(m, torch.nn.Linear)]
    op = onednn.linear()
    print(f"{Path(args.model).name}: predictor layers {[tuple(m.weight.shape[::-1]) for m in layers]}, "
          f"{args.rows} rows, 1 thread, torch {torch.__version__}")
    if op is None:
        print(f"bf16 rows left out: {onednn.error()}")
    print("| layer (in -> out) | f32 addmm + silu | bf16 fused swish | bf16 fused none | bf16 silu alone |")
    print("|---|---|---|---|---|")
    g = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for lin in layers:
            n_in, n_out = lin.in_features, lin.out_features
            x = torch.randn(args.rows, n_in, generator=g)
            wt, b = lin.weight.detach().t().contiguous(), lin.bias.detach().clone()
            row = [_time_us(lambda: F.silu(torch.addmm(b, x, wt), inplace=True), args.repeats)]
            if op is not None:
                xl, wl, bl = x.to(torch.bfloat16), lin.weight.detach().to(torch.bfloat16), b.to(torch.bfloat16)
                y = op(xl, wl, bl, "none", [], "")
                row += [_time_us(lambda: op(xl, wl, bl, "swish", [], ""), args.repeats),
                        _time_us(lambda: op(xl, wl, bl, "none", [], ""), args.repeats),
                        _time_us(lambda: F.silu(y, inplace=True), args.repeats)]
            cells = " | ".join(f"{v:.1f} us" for v in row) + " | –" * (4 - len(row))
            print(f"| {n_in} -> {n_out} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
