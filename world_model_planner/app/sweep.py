"""The episode grid of `wmp bench`, run here (threads) or on Ray, resumable.

Every finished episode is written at once, atomically, to ``OUT/episodes/<scenario>-<planner>-
<seed>.json`` (the episode record of ``wmp run --json``), so a killed sweep keeps every episode
that ended before the kill. ``resume=True`` reads those files first and runs only the rest: an
episode whose file is missing, unreadable or records a stack failure (``error``) runs again,
every other one is kept as it is and not repeated. The caller writes results.json and the
tables from the returned records, in grid order, as a local run does.

With Ray (``ray_address`` not None) each episode is one task declaring ``cpus`` CPUs
(core.cluster); a task that dies is listed as a failed episode and the sweep goes on. The
episode's node logs go to ``log_dir`` on whichever machine ran it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

from world_model_planner.core.safeio import InputError, read_capped

MAX_EPISODE_BYTES = 64 * 1024 * 1024   # an episode record (trajectory included) is far below this


def episode_key(scenario: str, planner: str, seed: int) -> str:
    from world_model_planner.core.paths import file_stem

    return f"{file_stem(scenario)}-{planner}-{seed}"


def episode_file(out: Path, key: str) -> Path:
    return Path(out) / "episodes" / f"{key}.json"


def finished_episodes(out: Path, keys: list[str]) -> dict[str, dict]:
    """The records of ``keys`` already finished in ``out`` (stack failures and unreadable
    files are left out, so they run again)."""
    done = {}
    for key in keys:
        path = episode_file(out, key)
        if not path.is_file():
            continue
        try:
            rec = json.loads(read_capped(path, MAX_EPISODE_BYTES, "episode record"))
        except (InputError, ValueError, UnicodeDecodeError) as exc:
            print(f"wmp: warning: --resume: {path}: {exc}; running the episode again", file=sys.stderr)
            continue
        if isinstance(rec, dict) and not rec.get("error") and "scenario" in rec:
            done[key] = rec
    return done


def _bench_task(kwargs: dict) -> dict:
    """One bench episode (a Ray task or a thread): stack_cli._episode with these arguments."""
    from world_model_planner.app.stack_cli import _episode

    return _episode(**kwargs)


def _failed(item: tuple, exc: BaseException) -> dict:
    from world_model_planner.core.cluster import error_text

    scenario, planner, seed = item
    return {"scenario": Path(scenario).stem, "planner": planner, "seed": seed, "success": False,
            "error": error_text(exc, 500)}


def run_grid(grid: list[tuple[str, str, int]], episode_kwargs: Callable[[tuple], dict], out: Path, *,
             jobs: int = 1, ray_address: str | None = None, cpus: float = 1.5, resume: bool = False,
             desc: str = "bench") -> list[dict]:
    """Run every (scenario, planner, seed) of ``grid`` -> records in grid order.

    ``episode_kwargs(item)``: the keyword arguments of stack_cli._episode for one item.
    ``ray_address``: None runs here with ``jobs`` threads; "" starts a local Ray instance;
    anything else joins that cluster (core.cluster.RaySession). Raises core.cluster.ClusterError
    when Ray is missing or unreachable, before any episode runs."""
    from tqdm import tqdm

    from world_model_planner.app.episode import write_episode_json

    out = Path(out)
    keys = [episode_key(*item) for item in grid]
    records = finished_episodes(out, keys) if resume else {}
    todo = [i for i, k in enumerate(keys) if k not in records]
    bar = tqdm(total=len(grid), initial=len(grid) - len(todo), desc=desc, unit="episode", file=sys.stderr)
    if resume and records:
        bar.write(f"{desc}: resuming in {out}: {len(records)} finished episode(s) kept, {len(todo)} to run",
                  file=sys.stderr)

    def finish(i: int, rec: dict) -> None:
        records[keys[i]] = rec
        write_episode_json(episode_file(out, keys[i]), rec)     # atomic, at once
        bar.set_postfix_str(f"{rec['scenario']}/{rec['planner']}/{rec['seed']}: "
                            + ("error" if rec.get("error") else "ok" if rec.get("success") else "fail"))
        bar.update(1)

    try:
        if ray_address is not None:
            from world_model_planner.core.cluster import RaySession, run_tasks

            with RaySession(ray_address) as ray:
                task_jobs = [(episode_kwargs(grid[i]),) for i in todo]
                for j, rec, exc in run_tasks(ray, _bench_task, task_jobs, cpus):
                    finish(todo[j], rec if exc is None else _failed(grid[todo[j]], exc))
        else:
            from concurrent.futures import ThreadPoolExecutor, as_completed

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(_bench_task, episode_kwargs(grid[i])): i for i in todo}
                for fut in as_completed(futures):
                    i = futures[fut]
                    exc = fut.exception()
                    finish(i, fut.result() if exc is None else _failed(grid[i], exc))
    finally:
        bar.close()
    return [records[k] for k in keys]
