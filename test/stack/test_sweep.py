"""Sweeps past one machine: `wmp bench/collect --ray` (a local Ray instance) give what a local run
gives, `--resume` after a kill loses no finished episode and repeats none, and `--ray` without
Ray installed names the install command."""
from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from world_model_planner.testing.stack import REPO, WMP, explain, needs_stack, run_wmp

needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason='the optional cluster extra is not installed here (pip install -e ".[cluster]"; .ci/run installs it)')

# Episode fields that depend only on the grid item, never on timing: the rest (trajectory, wall
# and CPU times, plan rate, path length, and shortest_path_m, which starts at the first odometry
# sample the monitor receives, noisy on a perturbed seed) varies between any two runs of the same seed.
DETERMINISTIC = ("scenario", "planner", "seed", "perturb", "goal", "time_limit_s", "time_s",
                 "end_reason", "success", "collisions", "scenario_source")
TINY = ["bench", "--scenarios", "open", "--seeds", "2", "--planners", "classic", "--time-limit", "3"]


@pytest.mark.parametrize("command", [TINY + ["--out", "OUT"],
                                     ["collect", "--scenario", "open", "--episodes", "1", "--out", "OUT"]])
def test_ray_flag_without_ray_names_the_install_command(tmp_path, command):
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in command] + ["--ray"]
    code = ("import sys; sys.modules['ray'] = None\n"          # `import ray` fails as if not installed
            "from world_model_planner.app.cli import main\n"
            f"sys.exit(main({argv!r}))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, explain(proc)
    assert 'pip install -e ".[cluster]"' in proc.stderr and "Traceback" not in proc.stderr, explain(proc)
    assert not (tmp_path / "out").exists()                     # refused before any work


@pytest.mark.slow
@needs_stack
@needs_ray
def test_bench_on_ray_matches_a_local_run_and_resumes(tmp_path):
    """Ray runs the grid; a local --resume then runs the "lost" episode 1 again, in this process's
    own stack: the same deterministic fields as Ray's run of it (one local run, not a second grid)."""
    on_ray = tmp_path / "ray"
    proc = run_wmp(TINY + ["--out", str(on_ray), "--ray", "--cpus-per-episode", "1"], timeout_s=480)
    assert proc.returncode == 0, explain(proc)
    b = json.loads((on_ray / "results.json").read_text())
    assert [e["seed"] for e in b["episodes"]] == [0, 1]        # grid order, whatever finished first
    row = "| open | classic | 2 | 0% |"                         # 3 s is too short to arrive
    assert row in (on_ray / "report.md").read_text()
    # per-episode records, written as each finished, are the ones in results.json
    for e in b["episodes"]:
        rec = json.loads((on_ray / "episodes" / f"open-classic-{e['seed']}.json").read_text())
        assert rec["seed"] == e["seed"] and rec["trajectory"] == e["trajectory"]

    # resume: episode 1 "lost" (its record gone), episode 0 kept: only episode 1 runs again, locally
    kept = on_ray / "episodes" / "open-classic-0.json"
    before = (kept.read_bytes(), kept.stat().st_mtime_ns)
    (on_ray / "episodes" / "open-classic-1.json").unlink()
    proc = run_wmp(TINY + ["--resume", str(on_ray)], timeout_s=480)
    assert proc.returncode == 0, explain(proc)
    assert "1 finished episode(s) kept, 1 to run" in proc.stderr, explain(proc)
    assert (kept.read_bytes(), kept.stat().st_mtime_ns) == before
    c = json.loads((on_ray / "results.json").read_text())
    assert [e["seed"] for e in c["episodes"]] == [0, 1]
    assert c["episodes"][0]["trajectory"] == b["episodes"][0]["trajectory"]
    local, remote = c["episodes"][1], b["episodes"][1]          # seed 1: run locally now, on Ray before
    assert set(local) == set(remote)
    assert {k: local[k] for k in DETERMINISTIC} == {k: remote[k] for k in DETERMINISTIC}
    assert [set(r) for r in c["summary"]] == [set(r) for r in b["summary"]]
    assert row in (on_ray / "report.md").read_text()


def _seeds(out) -> list[int]:
    seeds = []
    for path in sorted(out.glob("shard_*.npz")):
        with np.load(path) as z:
            seeds += [e["seed"] for e in json.loads(str(z["meta"]))["episodes"].values()]
    return seeds


COLLECT = ["collect", "--scenario", "open,random", "--episode-s", "2", "--seed", "40", "--no-progress"]


@pytest.mark.slow
@needs_ray
def test_collect_on_ray_stores_the_same_episodes_as_a_local_run_and_lists_a_failed_one(tmp_path):
    """The Ray leg calls the library (collect.collect) so that one of its tasks can fail: its
    scenario file is missing where the task runs (the CLI refuses a missing file before any
    episode, so it cannot reach a task through `wmp collect`). The failure is listed with its
    error, the other two episodes are stored, and they equal a local run's."""
    from world_model_planner.world_model_node.collect import CollectConfig, collect
    from world_model_planner.world_model_node.data import load_dataset

    local, on_ray = tmp_path / "local", tmp_path / "ray"
    proc = run_wmp(COLLECT + ["--episodes", "2", "--out", str(local)], timeout_s=300)
    assert proc.returncode == 0, explain(proc)
    missing = str(tmp_path / "not_on_this_node.yaml")
    summary = collect(["open", "random", missing], on_ray, CollectConfig(episodes=3, episode_s=2, seed=40),
                      progress=False, ray_address="", cpus=1.0)      # episode i: seed 40 + i, spec i % 3
    assert len(summary["failed"]) == 1, summary
    assert summary["failed"][0].startswith(f"{missing} seed 42: ScenarioError: "), summary   # which, and why
    assert "an existing scenario .yaml file" in summary["failed"][0], summary
    assert summary["episodes"] == 2 and len(summary["shards"]) == 1, summary

    a, b = load_dataset(local), load_dataset(on_ray)

    def by_seed(tr):
        seed_of = {int(k): v["seed"] for k, v in tr.meta["episodes"].items()}
        return {seed_of[int(ep)]: tr.episode == ep for ep in np.unique(tr.episode)}

    ra, rb = by_seed(a), by_seed(b)
    assert sorted(ra) == sorted(rb) == [40, 41]
    for seed in ra:         # Ray may finish them in any order; each episode's data is its seed's
        for field in ("pose", "vel", "scan", "cmd", "collision"):
            np.testing.assert_array_equal(getattr(a, field)[ra[seed]], getattr(b, field)[rb[seed]])


def test_collect_resume_after_a_kill_loses_none_and_repeats_none(tmp_path):
    out = tmp_path / "data"
    n = 16
    proc = subprocess.Popen([WMP, *COLLECT, "--episodes", str(n), "--out", str(out)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    stored: list[int] = []
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            stored = _seeds(out)
        except (OSError, ValueError, KeyError):
            stored = []       # no shard yet
        if len(stored) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    stored = _seeds(out)
    assert 2 <= len(stored) < n, f"killed after {len(stored)} of {n} episodes: expected mid-way"
    snapshot = tmp_path / "before"
    shutil.copytree(out, snapshot)
    done = run_wmp(COLLECT + ["--episodes", str(n), "--resume", str(out)], timeout_s=300)
    assert done.returncode == 0, explain(done)
    assert f"{len(stored)} finished episode(s) kept" in done.stdout, explain(done)
    seeds = _seeds(out)
    assert sorted(seeds) == list(range(40, 40 + n))             # none lost, none repeated
    for old in snapshot.glob("shard_*.npz"):                    # the shards written before stay
        assert (out / old.name).read_bytes() == old.read_bytes()
