"""Shards: `wmp collect` keeps every finished episode when the disk fills up (RLIMIT_FSIZE in a
subprocess) and leaves no partial shard; a directory with a corrupt or truncated shard still
trains and evaluates (the shard is skipped with a warning naming it), and one with no usable
shard is refused naming the file."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from world_model_planner.world_model_node.data import DataError, Transitions, load_dataset, save_shard

REPO = Path(__file__).resolve().parents[2]
WMP = str(Path(sys.executable).parent / "wmp")

FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from world_model_planner.app.cli import main
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # writes past the limit fail with EFBIG
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    sys.exit(main(sys.argv[2:]))
""")


def _tr(episode: int, n: int = 20, beams: int = 180, seed: int = 0) -> Transitions:
    rng = np.random.default_rng(seed + episode)
    f32 = np.float32
    return Transitions(pose=rng.normal(size=(n, 3)).astype(f32), vel=rng.normal(size=(n, 2)).astype(f32),
                       scan=rng.uniform(0.2, 8.0, (n, beams)).astype(f32), cmd=rng.normal(size=(n, 2)).astype(f32),
                       dt=np.full(n, 0.1, f32), collision=np.zeros(n, np.uint8), episode=np.full(n, episode, np.int32),
                       t_s=np.arange(n, dtype=f32) * 0.1,
                       meta={"range_max_m": 8.0, "scan_beams": beams,
                             "episodes": {str(episode): {"scenario": "open", "seed": episode}}})


def test_disk_full_during_collect_keeps_finished_episodes_and_no_partial_shard(tmp_path):
    out = tmp_path / "data"
    # one 2 s episode makes a ~7.5 kB shard, two ~12.6 kB: the disk "fills" during the second
    res = subprocess.run([sys.executable, "-c", FULL_DISK, "10000", "collect", "--scenario", "open",
                          "--episodes", "4", "--episode-s", "2", "--out", str(out), "--no-progress"],
                         capture_output=True, text=True, timeout=180, cwd=REPO)
    err = [ln for ln in res.stderr.splitlines() if not ln.startswith("pybullet build time")]
    assert res.returncode == 2, res.stderr[-3000:]
    assert len(err) == 1 and err[0].startswith("wmp collect: stopped after 1 of 4 episodes: File too large"), err
    assert "the 1 finished episode(s) are kept in 1 shard(s)" in err[0]
    assert sorted(os.listdir(out)) == ["shard_00000.npz"]          # no temporary, no partial shard
    kept = load_dataset(out)
    assert len(kept.episodes) == 1 and len(kept) == 20 and kept.scan.shape == (20, 180)


def test_a_corrupt_shard_is_skipped_with_a_warning_and_train_still_works(tmp_path, caplog):
    data = tmp_path / "data"
    save_shard(data / "shard_00000.npz", _tr(0, n=40))     # eval-model needs 3 s episodes
    save_shard(data / "shard_00001.npz", _tr(1, n=40))
    good = (data / "shard_00001.npz").read_bytes()
    (data / "shard_00001.npz").write_bytes(good[: len(good) // 2])          # truncated by a crash
    (data / "shard_00002.npz").write_bytes(b"")                             # zero bytes (full disk)
    (data / ".shard_00003.npz.x1y2.npz").write_bytes(b"PK\x03\x04partial")   # a killed writer's temporary
    with caplog.at_level(logging.WARNING, logger="world_model_planner.world_model_node.data"):
        tr = load_dataset(data)
    assert len(tr) == 40 and tr.episodes.tolist() == [0]
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and all(m.startswith("skipping ") for m in warned)
    assert str(data / "shard_00001.npz") in warned[0] and str(data / "shard_00002.npz") in warned[1]

    model = tmp_path / "m.pt"
    res = subprocess.run([WMP, "train", "--data", str(data), "--out", str(model), "--steps", "2", "--batch-size",
                          "4", "--horizon", "3", "--no-progress", "--device", "cpu"],
                         capture_output=True, text=True, timeout=180, cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and all(ln.startswith("wmp train: warning: skipping ") for ln in lines), lines
    assert "shard_00001.npz: not a readable transition shard" in lines[0] and "Traceback" not in res.stderr
    assert model.is_file()
    res = subprocess.run([WMP, "eval-model", "--model", str(model), "--data", str(data), "--device", "cpu",
                          "--stride", "5"], capture_output=True, text=True, timeout=180, cwd=REPO)
    assert res.returncode == 0 and res.stderr.count("wmp eval-model: warning: skipping") == 2, res.stderr[-3000:]


def test_a_directory_without_a_usable_shard_is_refused_naming_the_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "shard_00000.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"shard_00000.npz: not a readable transition shard.*no usable data left"):
        load_dataset(data)
    res = subprocess.run([WMP, "train", "--data", str(data), "--out", str(tmp_path / "m.pt"), "--steps", "1",
                          "--no-progress"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr[-2000:]
    assert res.stderr.startswith(f"wmp train: {data / 'shard_00000.npz'}: not a readable transition shard")


def test_a_failed_shard_write_leaves_the_previous_shard_and_no_temporary(tmp_path, monkeypatch):
    path = save_shard(tmp_path / "shard_00000.npz", _tr(0))
    before = path.read_bytes()

    def full_disk(file, **arrays):
        Path(file).write_bytes(b"PK\x03\x04partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full_disk)
    with pytest.raises(OSError):
        save_shard(path, _tr(1))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["shard_00000.npz"]


def test_collect_refuses_an_out_path_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    res = subprocess.run([WMP, "collect", "--scenario", "open", "--episodes", "1", "--out", str(f),
                          "--no-progress"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 2 and res.stderr.strip() == f"wmp collect: --out {f} is a file; expected a directory for the shards"


TRAIN_CAPPED = textwrap.dedent("""
    import sys
    import torch  # noqa: F401 - loaded before the cap: only what training does is capped
    from world_model_planner.app.cli import main
    from world_model_planner.testing.memory import cap_address_space, peak_rss_kib
    cap_address_space(headroom_bytes=400 << 20)
    base = peak_rss_kib()
    rc = main(sys.argv[1:])
    print("grew_mib", (peak_rss_kib() - base) / 1024)
    sys.exit(rc)
""")


def test_train_on_an_mcap_chunk_bomb_is_refused_within_a_memory_cap(tmp_path):
    """`wmp train --data rec.mcap` reads recordings through the bounded MCAP reader: a 1 GiB
    lz4 chunk is refused before it is decompressed."""
    from world_model_planner.testing.bombs import lz4_bomb, mcap_with_chunk

    n = 1 << 30
    bomb = tmp_path / "bomb.mcap"
    mcap_with_chunk(bomb, "lz4", lz4_bomb(n), n)
    res = subprocess.run([sys.executable, "-c", TRAIN_CAPPED, "train", "--data", str(bomb), "--out",
                          str(tmp_path / "m.pt"), "--steps", "1", "--no-progress"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 2, res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"wmp train: {bomb}: ") and "limit" in lines[0], lines
    grew = float(res.stdout.split("grew_mib")[-1])
    assert grew < 100, grew


def test_a_killed_collect_keeps_every_finished_episode(tmp_path):
    """kill -9 in the middle of a run: the shard on disk holds every episode finished before
    it (the open shard is rewritten atomically after each one) and loads cleanly."""
    import signal
    import time

    out = tmp_path / "data"
    proc = subprocess.Popen([WMP, "collect", "--scenario", "open", "--episodes", "40", "--episode-s", "2",
                             "--out", str(out), "--no-progress"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert time.monotonic() < deadline and proc.poll() is None, "no episode reached the disk"
            if (out / "shard_00000.npz").is_file():
                with np.load(out / "shard_00000.npz") as z:
                    if len(np.unique(z["episode"])) >= 2:
                        break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    visible = [n for n in os.listdir(out) if not n.startswith(".")]
    assert visible == ["shard_00000.npz"]          # a killed writer leaves at most a hidden temporary
    tr = load_dataset(out)
    assert len(tr.episodes) >= 2 and len(tr) == 20 * len(tr.episodes)
