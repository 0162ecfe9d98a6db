"""Goal pictures on disk (core/pictures.py): PNG round trip, and refusals that name the file and
the reason: missing, not an image, a side past the limit (checked from the header, before the
pixels are decoded); `wmp run --goal-image` refuses a bad picture before any process starts."""
from __future__ import annotations

import numpy as np
import pytest

from world_model_planner.core.pictures import MAX_PICTURE_SIDE, load_picture, save_picture
from world_model_planner.core.safeio import InputError
from world_model_planner.testing.stack import explain, run_wmp


def test_png_round_trip_rgba_and_grey_become_rgb(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)
    path = save_picture(tmp_path / "goal.png", rgb)
    np.testing.assert_array_equal(load_picture(path), rgb)
    assert [p.name for p in tmp_path.iterdir()] == ["goal.png"]        # no temporary left behind
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)]), "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(load_picture(tmp_path / "a.png"), rgb)
    Image.fromarray(rgb[:, :, 0], "L").save(tmp_path / "g.png")
    np.testing.assert_array_equal(load_picture(tmp_path / "g.png"), np.repeat(rgb[:, :, :1], 3, axis=2))
    with pytest.raises(ValueError, match="uint8 RGB"):
        save_picture(tmp_path / "bad.png", rgb.astype(np.float32))


def test_bad_pictures_are_refused_with_the_file_and_the_reason(tmp_path):
    from PIL import Image

    with pytest.raises(InputError, match="not found"):
        load_picture(tmp_path / "nope.png")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(InputError, match="not a readable picture") as info:
        load_picture(junk)
    assert str(junk) in str(info.value)
    wide = tmp_path / "wide.png"
    Image.new("RGB", (MAX_PICTURE_SIDE + 1, 1)).save(wide)             # a few hundred bytes on disk
    with pytest.raises(InputError, match=f"a {MAX_PICTURE_SIDE + 1}x1 picture"):
        load_picture(wide)


def test_wmp_run_refuses_a_bad_goal_picture_before_starting(tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_text("not a picture")
    proc = run_wmp(["run", "--scenario", "open", "--goal-image", str(junk),
                    "--log-dir", str(tmp_path / "logs")], timeout_s=60)
    assert proc.returncode == 2, explain(proc)
    assert "--goal-image" in proc.stderr and str(junk) in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "logs").exists()                             # no process was started
