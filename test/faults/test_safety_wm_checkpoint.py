"""Checkpoint loading is bounded: deflate bombs, lying zip headers, oversized archives and wrongly
typed configs are refused with one CheckpointError line naming the file, before anything expands;
and no byte string (random, truncated, mutated archive) crashes, hangs or allocates beyond a bound.

Bombs are made here, in the test, and the victim runs in a subprocess under RLIMIT_AS.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from world_model_planner.world_model_node.checkpoint import (CheckpointError, CheckpointLimits, load_checkpoint, read_checkpoint,
                                         save_checkpoint)
from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig
from world_model_planner.testing.bombs import deflate_bomb_pt

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / "husky_default.pt"
TINY = dict(scan_beams=16, scan_bins=8, latent_dim=16, enc_hidden=16, pred_hidden=16, head_hidden=8)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.pt", WorldModel(WorldModelConfig(**TINY)))


VICTIM = textwrap.dedent("""
    import json, sys, time
    from world_model_planner.testing.memory import cap_address_space, peak_rss_kib
    from world_model_planner.world_model_node.checkpoint import CheckpointError, load_checkpoint
    base = peak_rss_kib()
    cap_address_space(headroom_bytes=int(sys.argv[2]) * 2**20)
    t = time.monotonic()
    try:
        load_checkpoint(sys.argv[1], device="cpu")
        err = None
    except CheckpointError as exc:
        err = str(exc)
    except BaseException as exc:
        err = "UNEXPECTED " + type(exc).__name__ + ": " + str(exc)[:300]
    print(json.dumps({"error": err, "s": time.monotonic() - t,
                      "grew_mib": (peak_rss_kib() - base) / 1024}))
""")


def _victim(path: Path, headroom_mib: int = 400) -> dict:
    """load_checkpoint(path) in a fresh process allowed ``headroom_mib`` more address space."""
    res = subprocess.run([sys.executable, "-c", VICTIM, str(path), str(headroom_mib)], capture_output=True,
                         text=True, timeout=120, cwd=REPO)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_a_1mb_deflate_bomb_is_refused_before_it_expands(tmp_path):
    bomb = deflate_bomb_pt(tmp_path / "bomb.pt")
    assert bomb.stat().st_size < 1.2e6
    out = _victim(bomb)
    assert out["error"] is not None and out["error"].startswith(f"{bomb}: ")
    assert "declares 1073741824 bytes uncompressed" in out["error"], out
    assert "\n" not in out["error"]
    assert out["grew_mib"] < 50 and out["s"] < 5.0, out


def test_a_bomb_that_declares_a_small_size_is_caught_while_streaming(tmp_path):
    """Headers claim 1000 bytes (within every limit); the stream holds 1 GiB. Only the bytes
    actually read count: decompression stops at the declared size and the CRC refuses it."""
    bomb = deflate_bomb_pt(tmp_path / "liar.pt", declared=1000)
    out = _victim(bomb)
    assert out["error"] is not None and out["error"].startswith(f"{bomb}: ")
    assert "archive/data/0" in out["error"] and out["grew_mib"] < 50 and out["s"] < 5.0, out


def test_a_ratio_bomb_under_the_size_limits_is_refused(tmp_path):
    bomb = deflate_bomb_pt(tmp_path / "ratio.pt", uncompressed=1 << 24)      # 16 MiB from 16 KB
    with pytest.raises(CheckpointError, match=r"expands \d+x .*compression ratio limit 20.*bomb"):
        load_checkpoint(bomb, device="cpu")


@pytest.mark.parametrize("limit, match", [
    ({"max_members": 5}, r"archive has \d+ members \(limit 5\)"),
    ({"max_file_bytes": 10_000}, r"larger than the 10000 byte limit"),
    ({"max_total_bytes": 4096}, r"members declare more than 4096 bytes uncompressed"),
    ({"max_member_bytes": 1000}, r"member '.*data/\d+' declares \d+ bytes uncompressed \(limit 1000\)"),
    ({"max_pickle_bytes": 100}, r"member '.*data.pkl' declares \d+ bytes uncompressed \(limit 100\)"),
    ({"max_central_dir_bytes": 100}, r"zip central directory of \d+ bytes exceeds the 100 byte limit"),
])
def test_each_limit_refuses_with_a_line_that_names_the_file(tiny_ckpt, limit, match):
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(tiny_ckpt, device="cpu", limits=CheckpointLimits(**limit))
    assert str(info.value).startswith(f"{tiny_ckpt}: ") and "\n" not in str(info.value)


def test_the_shipped_model_loads_within_the_default_limits():
    model = load_checkpoint(SHIPPED, device="cpu")
    assert model.cfg.scan_beams == 180 and model.checkpoint_path == str(SHIPPED)


def test_a_checkpoint_not_in_zip_format_is_refused(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"format": "wmp-world-model"}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="not a zip archive"):
        load_checkpoint(path)


@pytest.mark.parametrize("field, value, expected", [
    ("latent_dim", 64.5, "WorldModelConfig.latent_dim: expected int, got 64.5"),
    ("scan_beams", True, "WorldModelConfig.scan_beams: expected int, got True"),
    ("use_image", 1, "WorldModelConfig.use_image: expected bool, got 1"),
    ("dt_s", "0.1", "WorldModelConfig.dt_s: expected float, got a str"),
    ("enc_hidden", 10**400, "WorldModelConfig.enc_hidden: expected a value in [8, 4096]"),
])
def test_config_values_are_checked_by_type_and_range(tiny_ckpt, tmp_path, field, value, expected):
    blob = torch.load(tiny_ckpt, weights_only=True)
    path = tmp_path / "bad.pt"
    torch.save(dict(blob, config=dict(blob["config"], **{field: value})), path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, device="cpu")
    msg = str(info.value)
    assert msg.startswith(f"{path}: invalid model config in checkpoint: {expected}"), msg
    assert "\n" not in msg and len(msg) < 400


def test_eval_model_refuses_a_float_latent_dim_with_exit_2_and_one_line(tiny_ckpt, tmp_path):
    blob = torch.load(tiny_ckpt, weights_only=True)
    path = tmp_path / "ld.pt"
    torch.save(dict(blob, config=dict(blob["config"], latent_dim=64.5)), path)
    res = subprocess.run([str(Path(sys.executable).parent / "wmp"), "eval-model", "--model", str(path),
                          "--data", str(REPO / "test" / "data" / "wm_eval"), "--device", "cpu"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.strip() == (f"wmp eval-model: {path}: invalid model config in checkpoint: "
                                  "WorldModelConfig.latent_dim: expected int, got 64.5")


# ------------------------------------------------------------------ property-based: no input crashes
def _only_checkpoint_error(path: Path) -> None:
    try:
        read_checkpoint(path)
    except CheckpointError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        return
    load_checkpoint(path, device="cpu")   # it parsed: building the model may refuse, never crash


_PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_PROPS
@given(data=st.binary(max_size=4096))
def test_random_bytes_give_a_clean_error(tmp_path, data):
    path = tmp_path / "random.pt"
    path.write_bytes(data)
    with pytest.raises(CheckpointError):
        read_checkpoint(path)


@_PROPS
@given(cut=st.floats(0.0, 1.0, exclude_max=True))
def test_truncated_archives_give_a_clean_error(tiny_ckpt, tmp_path, cut):
    data = tiny_ckpt.read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(CheckpointError):
        read_checkpoint(path)


@_PROPS
@given(edits=st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)),
                      min_size=1, max_size=8),
       tail=st.booleans())
def test_mutated_archives_give_a_clean_error_or_load(tiny_ckpt, tmp_path, edits, tail):
    """Bytes flipped anywhere, or (``tail``) in the zip directories at the end, where sizes,
    offsets and counts live: a clean CheckpointError or a loaded model, never anything else."""
    data = bytearray(tiny_ckpt.read_bytes())
    span = min(len(data), 2048) if tail else len(data)
    for where, xor in edits:
        data[len(data) - span + int(where * span)] ^= xor
    path = tmp_path / "mutated.pt"
    path.write_bytes(bytes(data))
    _only_checkpoint_error(path)


def test_checkpoint_writes_are_atomic_and_leave_no_temporary(tmp_path, monkeypatch):
    model = WorldModel(WorldModelConfig(**TINY))
    path = save_checkpoint(tmp_path / "m.pt", model)
    before = path.read_bytes()

    def full_disk(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError):
        save_checkpoint(path, model)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["m.pt"]
    assert oct(path.stat().st_mode & 0o777) == "0o644"
