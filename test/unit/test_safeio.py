"""world_model_planner.core.safeio: bounded YAML, bounded error messages, atomic writes."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from world_model_planner.testing.bombs import alias_bomb_mapping as alias_bomb
from world_model_planner.core.safeio import (InputError, atomic_path, atomic_write_text, clip,
                                        load_yaml, read_capped)


def test_alias_bomb_is_refused_quickly_with_a_short_message():
    bomb = alias_bomb()
    assert len(bomb) < 1000
    with pytest.raises(InputError) as err:
        load_yaml(bomb, name="bomb.yaml")
    msg = str(err.value)
    assert "bomb.yaml" in msg and "aliases" in msg
    assert len(msg) < 300 and "\n" not in msg


def test_alias_bomb_stays_within_a_memory_cap():
    """Parsed in a subprocess limited to 1 GiB of address space: the refusal needs none of it."""
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        sys.path.insert(0, {os.getcwd()!r})
        from world_model_planner.core.safeio import load_yaml, InputError
        from world_model_planner.testing.bombs import alias_bomb_mapping as alias_bomb
        try:
            load_yaml(alias_bomb(12), name="bomb.yaml")
        except InputError as exc:
            print("refused:", exc)
            sys.exit(0)
        sys.exit(3)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused: bomb.yaml" in out.stdout


def test_small_aliases_still_work_and_caps_apply():
    doc = b"base: &b {x: 1, y: 2}\nother: *b\n"
    assert load_yaml(doc) == {"base": {"x": 1, "y": 2}, "other": {"x": 1, "y": 2}}
    with pytest.raises(InputError, match="byte limit"):
        load_yaml(b"a: 1\n" * 100, max_bytes=64)
    with pytest.raises(InputError, match="nesting"):
        load_yaml(b"[" * 200 + b"]" * 200)
    with pytest.raises(InputError, match="recursive alias"):
        load_yaml(b"&a [*a]")


def test_python_tags_are_refused():
    with pytest.raises(InputError, match="not valid YAML"):
        load_yaml(b"!!python/object/apply:os.system ['true']\n")


def test_read_capped_does_not_trust_the_file_size(tmp_path):
    p = tmp_path / "f.yaml"
    p.write_bytes(b"x" * 2048)
    with pytest.raises(InputError, match="larger than the 1024 byte limit"):
        read_capped(p, 1024)
    assert read_capped(p, 4096) == b"x" * 2048
    with pytest.raises(InputError, match="not found"):
        read_capped(tmp_path / "missing", 10)
    with pytest.raises(InputError, match="directory"):
        read_capped(tmp_path, 10)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_load_yaml_on_any_text_returns_or_refuses(text):
    try:
        load_yaml(text.encode("utf-8"), name="fuzz.yaml")
    except InputError as exc:
        assert str(exc).startswith("fuzz.yaml: ")
        assert len(str(exc)) < 400


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(max_size=5000), st.binary(max_size=5000), st.integers(),
                 st.lists(st.integers(), max_size=1000), st.floats()))
def test_clip_is_bounded(value):
    assert len(clip(value)) <= 120


def test_clip_huge_int_does_not_build_its_repr():
    assert "digits" in clip(10 ** 5000)


def test_atomic_write_replaces_whole_or_keeps_old(tmp_path):
    target = tmp_path / "out" / "report.md"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["report.md"]    # no stray temporary
    atomic_write_text(target, "new")
    assert target.read_text() == "new"


def test_atomic_path_keeps_the_suffix_for_format_sniffing_writers(tmp_path):
    import numpy as np

    target = tmp_path / "shard_000.npz"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".npz"
        np.savez(tmp, a=np.arange(3))
    assert list(np.load(target)["a"]) == [0, 1, 2]


def test_atomic_write_on_a_full_disk_keeps_the_old_file(tmp_path):
    """RLIMIT_FSIZE stands in for a full disk: the write fails, the old file is intact."""
    target = tmp_path / "episode.json"
    target.write_text('{"ok": true}')
    code = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        sys.path.insert(0, {os.getcwd()!r})
        from world_model_planner.core.safeio import atomic_write_bytes
        try:
            atomic_write_bytes({str(target)!r}, b"x" * 100000)
        except OSError as exc:
            print("failed:", exc.errno)
            sys.exit(0)
        sys.exit(3)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert target.read_text() == '{"ok": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["episode.json"]


def test_atomic_files_get_ordinary_permissions(tmp_path):
    target = atomic_write_text(tmp_path / "shared.json", "{}")
    mask = os.umask(0o022)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
