"""scripts/bench_layer.py times the shipped model's predictor layers: one row per layer, its
shape read from the checkpoint, a time for every variant this build can run."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def test_bench_layer_prints_one_row_per_predictor_layer():
    from world_model_planner.world_model_node import onednn
    from world_model_planner.world_model_node.checkpoint import load_checkpoint

    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_layer.py"), "--rows", "8", "--repeats", "2"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    model = load_checkpoint(REPO / "models" / "husky_default.pt", device="cpu")
    shapes = [(m.in_features, m.out_features) for m in model.predictor.net if isinstance(m, torch.nn.Linear)]
    rows = re.findall(r"^\| (\d+) -> (\d+) \| (.*) \|$", proc.stdout, re.M)
    assert [(int(a), int(b)) for a, b, _ in rows] == shapes
    fused = onednn.linear() is not None
    for _, _, cells in rows:
        times = re.findall(r"([\d.]+) us", cells)
        assert len(times) == (4 if fused else 1) and all(float(t) > 0 for t in times), cells
    assert fused or "bf16 rows left out" in proc.stdout


def test_bench_layer_refuses_a_zero_batch_and_names_a_missing_model(tmp_path):
    script = str(REPO / "scripts" / "bench_layer.py")
    proc = subprocess.run([sys.executable, script, "--rows", "0"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "--rows and --repeats must be at least 1" in proc.stderr
    missing = tmp_path / "none.pt"
    proc = subprocess.run([sys.executable, script, "--model", str(missing)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and f"cannot load {missing}" in proc.stderr and "Traceback" not in proc.stderr
