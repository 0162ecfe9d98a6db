"""Goal pictures on disk: PNG (or JPEG) ↔ (H, W, 3) uint8 RGB, for `wmp run --goal-image` and
`wmp snapshot`. Pillow (a matplotlib dependency) decodes and encodes; nothing here trusts a
file's declared size: the file is read with a byte cap, and its pixel count is checked before
the pixels are decoded. Writes are atomic (temp file, then rename)."""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from world_model_planner.core.safeio import InputError, atomic_write_bytes, read_capped

#: Largest picture file read (bytes) and side (pixels): a goal picture is a camera frame.
MAX_PICTURE_BYTES = 32 * 1024 * 1024
MAX_PICTURE_SIDE = 4096


def load_picture(path: str | os.PathLike) -> np.ndarray:
    """The picture at ``path`` → (H, W, 3) uint8 RGB (alpha dropped, grey expanded). Raises
    InputError naming the file and the reason (missing, too large, not an image)."""
    from PIL import Image, UnidentifiedImageError

    data = read_capped(path, MAX_PICTURE_BYTES, "goal picture")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size                          # from the header, before any pixel is decoded
            if not (0 < w <= MAX_PICTURE_SIDE and 0 < h <= MAX_PICTURE_SIDE):
                raise InputError(f"{path}: a {w}x{h} picture; expected sides of 1..{MAX_PICTURE_SIDE} pixels")
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: not a readable picture ({type(exc).__name__}: {exc})") from None
    if rgb.shape != (h, w, 3):
        raise InputError(f"{path}: decoded to {rgb.shape}, expected ({h}, {w}, 3)")
    return rgb


def save_picture(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write ``rgb`` (H, W, 3) uint8 as a PNG at ``path``, atomically."""
    from PIL import Image

    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"picture: expected (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())
