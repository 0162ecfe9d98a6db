"""Recordings as hostile input (issue 10, item 8): truncated, empty, non-MCAP and damaged files,
zstd/lz4 chunk bombs, and property-based checks of the bounded MCAP loader.

The bombs are built here; the victim (load_session) runs in a subprocess under RLIMIT_AS.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from world_model_planner.teleop.session_data import load_session
from world_model_planner.core.mcap_io import McapLimits, McapScan, RecordingError
from world_model_planner.testing.bombs import lz4_bomb, mcap_with_chunk, zstd_bomb
from world_model_planner.testing.recordings import record

WMP = Path(sys.executable).parent / "wmp"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return record(tmp_path_factory.mktemp("rec") / "good.mcap")


def _wmp(*args, timeout=120):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([str(WMP), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env)


def _one_line_refusal(r):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


# -- CLI: files that are not recordings -------------------------------------------------------

@pytest.mark.parametrize("content, expect", [
    (b"", "empty file"),
    (b"PK\x03\x04 this is a zip, not a recording" * 20, "not an MCAP recording"),
    (bytes([137, 77, 67, 65]), "not an MCAP recording"),
])
def test_compare_refuses_files_that_are_not_recordings(tmp_path, content, expect):
    f = tmp_path / "bad.mcap"
    f.write_bytes(content)
    r = _wmp("compare", f, "--out", tmp_path / "r.html", "--no-model")
    _one_line_refusal(r)
    assert str(f) in r.stderr and expect in r.stderr
    assert not (tmp_path / "r.html").exists()


def test_compare_on_a_recording_cut_in_half_reports_what_it_recovered(good, tmp_path):
    data = good.read_bytes()
    half = tmp_path / "half.mcap"
    half.write_bytes(data[:len(data) // 2])
    full = load_session(good)
    part = load_session(half)
    n_full, n_part = len(full.odom), len(part.odom)
    print(f"\nfull: {n_full} odom; cut at {len(data) // 2} of {len(data)} bytes: {n_part} odom recovered; "
          f"{part.recovery}")
    assert 0.3 * n_full <= n_part < n_full
    assert (part.odom == full.odom[:n_part]).all()            # an unbroken prefix
    assert "incomplete recording" in part.recovery and "messages recovered" in part.recovery
    r = _wmp("compare", half, "--out", tmp_path / "r.html", "--no-model")
    assert r.returncode == 0, r.stderr
    assert "incomplete recording" in r.stderr and "Traceback" not in r.stderr
    assert "incomplete recording" in (tmp_path / "r.html").read_text()


def test_every_cut_of_a_recording_loads_a_prefix_or_is_refused_in_one_line(good):
    data = good.read_bytes()
    full = load_session(good)
    tmp = good.parent / "cut.mcap"
    last = -1
    for cut in range(0, len(data), max(1, len(data) // 60)):
        tmp.write_bytes(data[:cut])
        try:
            d = load_session(tmp)
        except RecordingError as exc:
            assert "\n" not in str(exc) and str(tmp) in str(exc)
            continue
        n = len(d.odom)
        assert (d.odom == full.odom[:n]).all()
        assert n >= last                       # more file, never fewer messages
        last = n
    assert last > 0


# -- decompression bombs ---------------------------------------------------------------------

VICTIM = textwrap.dedent("""
    import sys
    from world_model_planner.testing.memory import cap_address_space, peak_rss_kib
    cap_address_space(CAP_BYTES)
    from world_model_planner.teleop.session_data import load_session
    from world_model_planner.core.mcap_io import RecordingError
    try:
        load_session(sys.argv[1])
        print("LOADED")
    except RecordingError as exc:
        print("REFUSED", exc)
    print("maxrss_kib", peak_rss_kib())
""")

AS_LIMIT = 1 << 30          # 1 GiB of address space: the bombs expand to 2 GiB / 1 GiB


@pytest.mark.parametrize("kind, declared", [("zstd", "honest"), ("zstd", "lie"), ("lz4", "honest"),
                                            ("lz4", "lie")])
def test_chunk_bombs_are_refused_within_a_memory_cap(tmp_path, kind, declared):
    n = (2 << 30) if kind == "zstd" else (1 << 30)
    bomb = zstd_bomb(n) if kind == "zstd" else lz4_bomb(n)
    path = tmp_path / f"{kind}_bomb.mcap"
    mcap_with_chunk(path, kind, bomb, n if declared == "honest" else 4096)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", VICTIM.replace("CAP_BYTES", str(AS_LIMIT)), str(path)],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    wall = time.monotonic() - t0
    rss_mib = int(r.stdout.split("maxrss_kib")[-1]) / 1024 if "maxrss_kib" in r.stdout else None
    print(f"\n{kind} bomb {path.stat().st_size / 1024:.0f} KiB -> {n >> 20} MiB, declared {declared}: "
          f"{r.stdout.splitlines()[:1]} peak RSS {rss_mib} MiB in {wall:.1f} s")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("REFUSED") and str(path) in r.stdout
    assert rss_mib is not None and rss_mib < 400
    cli = _wmp("compare", path, "--out", tmp_path / "r.html", "--no-model")
    _one_line_refusal(cli)


def test_scan_limits_cap_total_decompressed_bytes(good):
    with pytest.raises(RecordingError, match="decompressed bytes"):
        list(McapScan(good, McapLimits(max_total_bytes=2048)).messages())


# -- property-based: random, truncated and mutated files ---------------------------------------

_GOOD_BYTES: dict = {}


def _good_bytes(tmp_dir: Path) -> bytes:
    if "b" not in _GOOD_BYTES:
        _GOOD_BYTES["b"] = record(tmp_dir / "hyp.mcap", n=60, chunk_every=6).read_bytes()
    return _GOOD_BYTES["b"]


def _load_bounded(path: Path) -> None:
    """load_session must return or raise RecordingError, fast and within bounded memory."""
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        load_session(path, McapLimits(max_chunk_bytes=1 << 20, max_total_bytes=8 << 20))
    except RecordingError as exc:
        assert "\n" not in str(exc)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.monotonic() - t0 < 5.0
    assert peak < 32 << 20, f"peak {peak} bytes"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=4096), st.booleans())
def test_random_bytes_never_crash_the_loader(tmp_path, blob, with_magic):
    p = tmp_path / "rand.mcap"
    p.write_bytes((bytes([137, 77, 67, 65, 80, 48, 13, 10]) if with_magic else b"") + blob)
    _load_bounded(p)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_truncated_and_mutated_recordings_never_crash_the_loader(tmp_path, data):
    raw = bytearray(_good_bytes(tmp_path))
    cut = data.draw(st.integers(0, len(raw)), label="cut")
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)),
                               max_size=8), label="edits")
    for pos, val in edits:
        raw[pos] = val
    p = tmp_path / "mut.mcap"
    p.write_bytes(bytes(raw[:cut]))
    _load_bounded(p)


@pytest.mark.parametrize("compression", ["NONE", "LZ4", "ZSTD"])
@pytest.mark.parametrize("chunked", [True, False])
def test_reader_reads_what_the_mcap_writer_writes(tmp_path, compression, chunked):
    """Other tools' recordings (any compression, chunked or not) read in full, metadata included."""
    from mcap.writer import CompressionType, Writer

    path = tmp_path / "w.mcap"
    with open(path, "wb") as f:
        w = Writer(f, compression=getattr(CompressionType, compression), use_chunking=chunked, chunk_size=200)
        w.start("ros2", "test")
        sid = w.register_schema("std_msgs/msg/Bool", "ros2msg", b"bool data")
        cid = w.register_channel("/mux/intervention", "cdr", sid)
        for i in range(50):
            w.add_message(cid, i, b"\x00\x01\x00\x00" + bytes([i % 2]), i)
        w.add_metadata("session", {"operator": "x"})
        w.finish()
    scan = McapScan(path)
    msgs = list(scan.messages())
    assert [m.data[4] for m in msgs] == [i % 2 for i in range(50)]
    assert scan.complete and scan.recovery_note() == "" and scan.metadata == {"session": {"operator": "x"}}
