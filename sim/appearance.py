"""What the camera sees of the floor and the arena's walls: patterns fixed in the world frame.

A floor of one colour and walls of one colour look the same from every place along them: a
picture taken facing a plain wall 2 m away was the same pixel for pixel from 2 m to either side,
so no goal picture could say where it was taken. Real floors and walls are not like that (tiles,
panels, seams, stains). Here the floor is tiles of 0.5 m in a few muted tints, and each arena
wall's inner face is panels of 1 m with a skirting board, drawn from a fixed seed and laid in
world coordinates (the pattern repeats every ``PERIOD_M``), so a place looks the same in every
scenario, seed and run, and different from the places beside it. Only the look: collision shapes,
the lidar and the depth image do not change.

    floor_body(client, x0, x1, y0, y1)          # a textured quad over the floor, no collision
    wall_faces(client, [(axis, at, lo, hi, inward_sign), ...], height_m)

PyBullet takes a texture as a file: the two images are written once per process into the user's
cache folder (:func:`cache_dir`), or where that cannot be written into a private temporary folder
removed at exit.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import math
import os
import shutil
import tempfile

import numpy as np
import pybullet as p

from world_model_planner.sim.scenario import OBSTACLE_HEIGHT_M

PERIOD_M = 16.0            # the patterns repeat every 16 m along x and y
TILE_M = 0.5               # floor tile side (m)
PANEL_M = 1.0              # wall panel width (m)
PX_PER_M = 32              # texture resolution: 2 cm a pixel, finer than the 64x64 camera sees
SEED = 20261206            # the patterns' seed: a fixed world, not a per-episode draw
CELL_M = 0.5               # the meshes' cell size (m), grown for large arenas (cell_size)
MAX_CELLS = 96             # at most this many cells along a side (a 200 m arena: 4 m cells)
SKIRTING_M = 0.08          # dark band at the foot of each wall
SKIRTING = (0.30, 0.28, 0.27)

#: muted floor tints (RGB 0-1): concrete, beige, grey-blue, sand, pale green-grey
FLOOR_TINTS = np.array([[0.80, 0.78, 0.72], [0.70, 0.72, 0.74], [0.76, 0.70, 0.62],
                        [0.66, 0.68, 0.60], [0.84, 0.82, 0.80]])
#: wall panel tints: greys with a hint of colour, darker than the floor
WALL_TINTS = np.array([[0.55, 0.55, 0.60], [0.62, 0.58, 0.52], [0.50, 0.56, 0.58],
                       [0.60, 0.60, 0.56], [0.47, 0.50, 0.55], [0.64, 0.56, 0.58]])
#: the four arena walls (by the way they face) each read their own band of the wall texture
WALL_BANDS = 4

_paths: dict[str, str] = {}


def floor_image() -> np.ndarray:
    """(N, N, 3) uint8 over PERIOD_M x PERIOD_M, row r = y, column c = x (texture v, u)."""
    rng = np.random.default_rng(SEED)
    n = int(round(PERIOD_M / TILE_M))
    tint = FLOOR_TINTS[rng.integers(0, len(FLOOR_TINTS), (n, n))]
    shade = rng.uniform(0.86, 1.10, (n, n, 1))
    px = int(round(TILE_M * PX_PER_M))
    img = np.kron(tint * shade, np.ones((px, px, 1)))
    img[::px, :, :] *= 0.9          # seams between tiles
    img[:, ::px, :] *= 0.9
    return (np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)


def wall_image(height_px: int = 16) -> np.ndarray:
    """(WALL_BANDS * height_px, N, 3) uint8: one band per wall, panels of PANEL_M along u."""
    rng = np.random.default_rng(SEED + 1)
    n = int(round(PERIOD_M / PANEL_M))
    px = int(round(PANEL_M * PX_PER_M))
    bands = []
    for _ in range(WALL_BANDS):
        tint = WALL_TINTS[rng.integers(0, len(WALL_TINTS), n)] * rng.uniform(0.88, 1.08, (n, 1))
        row = np.kron(tint[None], np.ones((height_px, px, 1)))
        row[:, ::px, :] *= 0.75                                   # seams between panels
        row[-max(1, int(round(SKIRTING_M * height_px / OBSTACLE_HEIGHT_M))):] = SKIRTING   # at the foot
        bands.append(row)
    img = np.concatenate(bands, axis=0)
    return (np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)


def cache_dir() -> str:
    """Where the textures are written: $XDG_CACHE_HOME (or ~/.cache)/world_model_planner/textures."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "world_model_planner", "textures")


def _write_png(img: np.ndarray, folder: str, name: str) -> str:
    """``img`` as folder/name.png, written to a temporary file in the same folder then renamed,
    so a reader (another process writing the same image) never sees a partial file."""
    from PIL import Image

    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, f"{name}.png")
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".png", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(img).save(f, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _texture_path(name: str) -> str:
    """The image's PNG, written once per process (a few milliseconds) into :func:`cache_dir`
    under a name that holds the pattern's version, so a changed pattern is never read from an old
    file; where that folder cannot be written, into a private temporary folder removed at exit."""
    path = _paths.get(name)
    if path is not None and os.path.exists(path):
        return path
    img = floor_image() if name == "floor" else wall_image()
    stem = f"{name}_{hashlib.sha256(img.tobytes()).hexdigest()[:16]}"
    try:
        path = _write_png(img, cache_dir(), stem)
    except OSError:
        folder = tempfile.mkdtemp(prefix="wmp_textures_")
        atexit.register(shutil.rmtree, folder, True)
        path = _write_png(img, folder, stem)
    _paths[name] = path
    return path


def _textured_mesh(client: int, verts: list, uvs: list, normals: list, indices: list, name: str) -> int:
    vis = p.createVisualShape(p.GEOM_MESH, vertices=verts, indices=indices, uvs=uvs, normals=normals,
                              physicsClientId=client)
    body = p.createMultiBody(0, -1, vis, [0, 0, 0], physicsClientId=client)
    tex = p.loadTexture(_texture_path(name), physicsClientId=client)
    p.changeVisualShape(body, -1, textureUniqueId=tex, rgbaColor=[1, 1, 1, 1], physicsClientId=client)
    return body


def _cells(lo: float, hi: float, step: float):
    """[lo, hi] cut at multiples of ``step`` (which divides PERIOD_M): (a, b, k) with
    k * PERIOD_M <= a < b <= (k+1) * PERIOD_M. The renderer maps a texture across each triangle
    without perspective correction, so the floor is drawn as small cells, or its tiles would bend
    as the camera moves."""
    for j in range(math.floor(lo / step), math.ceil(hi / step)):
        a, b = max(lo, j * step), min(hi, (j + 1) * step)
        if b > a:
            yield a, b, math.floor((j * step + 1e-9) / PERIOD_M)


def cell_size(length_m: float) -> float:
    """The mesh cell for a side of ``length_m``: CELL_M, doubled until at most MAX_CELLS cells
    span it (so a large arena's floor stays a few thousand triangles; PERIOD_M stays a multiple)."""
    step = CELL_M
    while length_m / step > MAX_CELLS and step < PERIOD_M:
        step *= 2.0
    return step


def floor_body(client: int, x0: float, x1: float, y0: float, y1: float, z: float = 0.0002) -> int:
    """The tiled floor over [x0, x1] x [y0, y1] at height z, visual only (no collision)."""
    verts, uvs, idx = [], [], []
    step = cell_size(max(x1 - x0, y1 - y0))
    for ax, bx, kx in _cells(x0, x1, step):
        for ay, by, ky in _cells(y0, y1, step):
            b = len(verts)
            for x, y in ((ax, ay), (bx, ay), (bx, by), (ax, by)):
                verts.append([x, y, z])
                uvs.append([(x - kx * PERIOD_M) / PERIOD_M, (y - ky * PERIOD_M) / PERIOD_M])
            idx += [b, b + 1, b + 2, b, b + 2, b + 3]
    return _textured_mesh(client, verts, uvs, [[0.0, 0.0, 1.0]] * len(verts), idx, "floor")


def wall_faces(client: int, faces: list, height_m: float) -> int:
    """Panels on vertical wall faces, visual only. ``faces``: (axis, at, lo, hi, inward) with axis
    "x" for a face in the plane y = at running along x from lo to hi (or "y": x = at, along y), and
    inward = +1 or -1 the side the face looks to. Each face's band of the texture follows from its
    axis and inward side, so opposite walls do not repeat each other."""
    verts, uvs, norms, idx = [], [], [], []
    for axis, at, lo, hi, inward in faces:
        band = (0 if axis == "x" else 2) + (0 if inward > 0 else 1)
        v0, v1 = band / WALL_BANDS, (band + 1) / WALL_BANDS
        n = [0.0, float(inward), 0.0] if axis == "x" else [float(inward), 0.0, 0.0]
        for a, b, k in _cells(lo, hi, cell_size(hi - lo)):
            base = len(verts)
            for s, z in ((a, 0.0), (b, 0.0), (b, height_m), (a, height_m)):
                verts.append([s, at, z] if axis == "x" else [at, s, z])
                # the renderer reads v = 0 from the image's last row: the foot at v0, the top at v1
                uvs.append([(s - k * PERIOD_M) / PERIOD_M, v0 + (v1 - v0) * z / height_m])
                norms.append(n)
            idx += [base, base + 1, base + 2, base, base + 2, base + 3,     # both windings
                    base, base + 2, base + 1, base, base + 3, base + 2]
    return _textured_mesh(client, verts, uvs, norms, idx, "wall")
