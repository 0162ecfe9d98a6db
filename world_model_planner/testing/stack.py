"""`wmp` as a real process, for the end-to-end tests (test/stack) and fault tests that run it."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from world_model_planner.testing.processes import REPO

WMP = str(Path(sys.executable).parent / "wmp")


def _missing() -> list[str]:
    mods = {"sim_node": "world_model_planner.sim.sim_node", "planner_node": "world_model_planner.planner_node.node",
            "world_model_node": "world_model_planner.world_model_node.node"}
    return [exe for exe, mod in mods.items() if importlib.util.find_spec(mod) is None]


needs_stack = pytest.mark.skipif(
    bool(_missing()) and not os.environ.get("WMP_BIN_DIR"), reason=f"node executables not in this checkout: {_missing()}")


def run_wmp(args: list[str], timeout_s: float, env: dict | None = None) -> subprocess.CompletedProcess:
    """`wmp ARGS` as a real process; its output is kept for the failure message."""
    full_env = dict(os.environ if env is None else env)
    full_env.update({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "PYTHONUNBUFFERED": "1"})
    return subprocess.run([WMP, *args], cwd=REPO, env=full_env, capture_output=True, text=True,
                          timeout=timeout_s)


def explain(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
