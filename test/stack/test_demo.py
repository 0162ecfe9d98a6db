"""`wmp demo`: report with table and PNGs, exit status, and the missing-model message."""
from __future__ import annotations

import os

import pytest

from world_model_planner.testing.stack import REPO, explain, needs_stack, run_wmp


@pytest.mark.slow
@needs_stack
def test_demo_on_open_writes_report(tmp_path):
    out = tmp_path / "demo"
    proc = run_wmp(["demo", "--scenarios", "open", "--out", str(out)], timeout_s=150)
    assert proc.returncode == 0, explain(proc)
    assert "[1/1] open" in proc.stderr and "reached" in proc.stderr, explain(proc)
    report = (out / "report.md").read_text()
    assert "| open | hierarchical | 0 | yes |" in report
    assert "![open](open.png)" in report
    assert (out / "open.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "results.json").is_file()


def test_demo_without_shipped_model_names_the_command(tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    os.symlink(REPO / "config", share / "config")
    (share / "models").mkdir()
    env = dict(os.environ, WMP_SHARE_DIR=str(share))
    proc = run_wmp(["demo", "--out", str(tmp_path / "demo")], timeout_s=60, env=env)
    assert proc.returncode == 2, explain(proc)
    assert "husky_default.pt" in proc.stderr and "train_default_model.sh" in proc.stderr, explain(proc)
