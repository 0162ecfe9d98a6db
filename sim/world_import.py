"""Gazebo worlds (.world, .sdf, optionally gzipped) → scenario data; the BARN Challenge's rules.

What is read: every ``<model>`` (nested models too) whose links carry ``<collision>`` geometry
of the primitive kinds ``box``, ``cylinder`` and ``sphere``. Poses compose model → (nested
model →) link → collision (``<pose>x y z roll pitch yaw</pose>``, each relative to its parent);
a top-level model's pose and ``<scale>`` in the world's ``<state>`` block win over the model's
own, as in Gazebo. Boxes and cylinders must stand upright (roll and pitch of their axes within
``TILT_TOLERANCE_RAD``); a sphere becomes a cylinder of its radius. Primitives wholly above
``MAX_BOTTOM_M`` or below the ground are not in the robot's way and are skipped.

Everything else (meshes, heightmaps, planes, polylines, ``<include>``, actors, plugins, tilted
primitives, models without collision geometry) is listed in :attr:`ImportedWorld.skipped` by name
and why, and the CLI prints it as warnings.

Safety: the XML is parsed by defusedxml with DTDs forbidden (so no entity, internal or
external, is ever expanded); the file is read with a byte cap and a gzip file is decompressed
with the same cap. Malformed XML is reported with the file and the line.

The scenario frame is centred on the arena (sim.scenario arenas are centred on the origin):
``scenario = world - offset``; the offset is recorded in the description.

BARN (github Daffan/the-barn-challenge, its run.py): start (-2.25, 3) facing +y, goal 10 m
ahead, success within 1 m before 100 s without a collision; ``path_N.npy`` holds the reference
path as grid points (i, j) with x = 0.15 i - 0.075 - 4.5, y = 0.15 j + 0.075 + 5; the reference
length is the polyline start → points → goal. The score is core.metrics.barn_score.
"""
from __future__ import annotations

import gzip
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from world_model_planner.core.safeio import InputError, clip, read_capped

from world_model_planner.sim.scenario import Box, Cylinder

#: Most bytes of a world file (and of its decompressed text). BARN worlds are ~0.6 MB.
WORLD_MAX_BYTES = 32 * 1024 * 1024
#: Most primitives read from one file (the scenario format holds at most 5000 obstacles).
MAX_PRIMITIVES = 5000
#: Most elements visited in one file.
MAX_ELEMENTS = 2_000_000
#: An upright primitive's axis may lean this much (rad).
TILT_TOLERANCE_RAD = 0.02
#: A primitive whose bottom is above this height (m) is above the robot and skipped.
MAX_BOTTOM_M = 1.0
#: Default margin between the obstacles (and start, goal) and the arena walls (m).
DEFAULT_MARGIN_M = 1.0
_GEOMETRY_KINDS = ("box", "cylinder", "sphere", "mesh", "plane", "heightmap", "polyline",
                   "capsule", "ellipsoid", "image")

# -- BARN conventions (run.py of the-barn-challenge) ----------------------------------------
BARN_START = (-2.25, 3.0, math.pi / 2.0)   # x, y, yaw (run.py: 1.57)
BARN_GOAL = (-2.25, 13.0)                  # start + (0, 10)
BARN_TOLERANCE_M = 1.0
BARN_TIME_LIMIT_S = 100.0
BARN_SPEED_MPS = 2.0                       # t_opt = reference length / 2 m/s
BARN_CELL_M = 0.15                         # 2 x the cylinders' 0.075 m radius
BARN_PATH_MAX_BYTES = 1024 * 1024
BARN_PATH_MAX_POINTS = 10_000


class WorldImportError(InputError):
    """A world or path file that cannot be imported: one line naming the file and why."""


@dataclass
class ImportedWorld:
    """The obstacles of a world file in its own (world) frame, and what was skipped."""
    source: str
    obstacles: list = field(default_factory=list)      # sim.scenario Box / Cylinder, world frame
    names: list = field(default_factory=list)          # "model/link/collision" per obstacle
    skipped: list = field(default_factory=list)        # "name: why" per skipped item

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(xmin, ymin, xmax, ymax) of the obstacles' footprints, None without obstacles."""
        if not self.obstacles:
            return None
        lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
        for ob in self.obstacles:
            if isinstance(ob, Box):
                pts = ob.polygon()
                lo, hi = np.minimum(lo, pts.min(0)), np.maximum(hi, pts.max(0))
            else:
                c = np.asarray(ob.center)
                lo, hi = np.minimum(lo, c - ob.radius), np.maximum(hi, c + ob.radius)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


# ------------------------------------------------------------------------------ reading

def _read_text(path: Path) -> bytes:
    data = read_capped(path, WORLD_MAX_BYTES, "world file")
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                data = gz.read(WORLD_MAX_BYTES + 1)
        except (OSError, EOFError) as exc:
            raise WorldImportError(f"{path}: not a readable gzip file ({clip(str(exc), 120)})") from None
        if len(data) > WORLD_MAX_BYTES:
            raise WorldImportError(f"{path}: decompresses to more than {WORLD_MAX_BYTES} bytes")
    return data


def parse_xml(data: bytes, name: str):
    """The root element of ``data``, parsed by defusedxml with DTDs and entities refused."""
    import defusedxml
    import defusedxml.ElementTree as DET

    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DET.ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        reason = re.sub(r":\s*line \d+, column \d+$", "", str(exc))
        raise WorldImportError(f"{name}: line {line}, column {col}: malformed XML ({clip(reason, 120)})") from None
    except defusedxml.DTDForbidden:
        raise WorldImportError(f"{name}: refused: the file has a DTD (<!DOCTYPE ...>); "
                               "DTDs and entities are not accepted") from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise WorldImportError(f"{name}: refused: the file declares or references entities; "
                               "DTDs and entities are not accepted") from None


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el, tag: str):
    for c in el:
        if _local(c.tag) == tag:
            return c
    return None


def _children(el, tag: str):
    return [c for c in el if _local(c.tag) == tag]


class _Reader:
    def __init__(self, source: str):
        self.source = source
        self.count = 0

    def numbers(self, el, n: int, what: str) -> np.ndarray:
        text = (el.text or "").split() if el is not None else []
        try:
            vals = np.array([float(t) for t in text], dtype=float)
        except ValueError:
            vals = np.array([])
        if len(vals) != n or not np.isfinite(vals).all():
            raise WorldImportError(f"{self.source}: {what}: expected {n} finite numbers, "
                                   f"got {_nm(' '.join(text))!r}")
        return vals

    def pose(self, el, what: str) -> np.ndarray:
        """4x4 transform of a <pose> child of ``el`` (identity when absent)."""
        p = _child(el, "pose")
        if p is None or not (p.text or "").strip():
            return np.eye(4)
        v = self.numbers(p, 6, f"{what} <pose>")
        return transform(v)


def transform(pose6) -> np.ndarray:
    """4x4 homogeneous transform of x y z roll pitch yaw (SDF: R = Rz(yaw) Ry(pitch) Rx(roll))."""
    from scipy.spatial.transform import Rotation

    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("ZYX", [pose6[5], pose6[4], pose6[3]]).as_matrix()
    T[:3, 3] = pose6[:3]
    return T


def read_world(path: str | Path) -> ImportedWorld:
    """Read a .world/.sdf file (or .gz of one) → :class:`ImportedWorld` in the world frame.

    Raises WorldImportError (file + line for malformed XML, file + element for bad values)."""
    path = Path(path)
    root = parse_xml(_read_text(path), str(path))
    r = _Reader(str(path))
    out = ImportedWorld(source=str(path))
    if _local(root.tag) != "sdf":
        raise WorldImportError(f"{path}: expected an SDF document (<sdf> root), got <{_nm(_local(root.tag))}>")
    worlds = _children(root, "world")
    tops = []
    for w in worlds:
        tops += [(w, c) for c in w]
    if not worlds:                      # a bare model file (.sdf): models at the root
        tops = [(root, c) for c in root]
    state_pose, state_scale = {}, {}
    for w in worlds:
        for st in _children(w, "state"):
            for m in _children(st, "model"):
                name = m.get("name", "")
                if _child(m, "pose") is not None:
                    state_pose[name] = r.pose(m, f"<state> model '{_nm(name)}'")
                sc = _child(m, "scale")
                if sc is not None:
                    state_scale[name] = r.numbers(sc, 3, f"<state> model '{_nm(name)}' <scale>")
    for parent, el in tops:
        tag = _local(el.tag)
        name = el.get("name", "") or el.get("uri", "") or "?"
        if tag == "model":
            T = state_pose.get(el.get("name", ""))
            if T is None:
                T = r.pose(el, f"model '{_nm(name)}'")
            scale = state_scale.get(el.get("name", ""))
            if scale is None and _child(el, "scale") is not None:
                scale = r.numbers(_child(el, "scale"), 3, f"model '{_nm(name)}' <scale>")
            _model(r, el, T, np.ones(3) if scale is None else scale, _nm(name), out)
        elif tag == "include":
            uri = _child(el, "uri")
            what = _nm((uri.text or "").strip()) if uri is not None else "?"
            out.skipped.append(f"{_nm(_text(_child(el, 'name')) or what)}: <include> of {what} (not read)")
        elif tag in ("actor", "road", "population"):
            out.skipped.append(f"{_nm(name)}: <{tag}> (not imported)")
        elif tag == "plugin":
            out.skipped.append(f"{_nm(name)}: <plugin> {_nm(el.get('filename', ''))} (ignored)")
    return out


def _nm(value) -> str:
    """A name for messages: one line, at most 60 characters, unquoted."""
    text = " ".join(str(value).split())
    return text if len(text) <= 60 else text[:60] + "..."


def _text(el) -> str:
    return (el.text or "").strip() if el is not None else ""


def _model(r: _Reader, model, T_model: np.ndarray, scale: np.ndarray, name: str,
           out: ImportedWorld) -> None:
    r.count += 1
    if r.count > MAX_ELEMENTS:
        raise WorldImportError(f"{r.source}: more than {MAX_ELEMENTS} models and links")
    found = False
    for sub in _children(model, "model"):
        sub_name = f"{name}/{_nm(sub.get('name', '?'))}"
        _model(r, sub, T_model @ r.pose(sub, f"model '{sub_name}'"), scale, sub_name, out)
        found = True
    for inc in _children(model, "include"):
        out.skipped.append(f"{name}: <include> of {_nm(_text(_child(inc, 'uri')))} (not read)")
    for plug in _children(model, "plugin"):
        out.skipped.append(f"{name}: <plugin> {_nm(plug.get('filename', ''))} (ignored)")
    for link in _children(model, "link"):
        lname = f"{name}/{_nm(link.get('name', '?'))}"
        T_link = T_model @ r.pose(link, f"link '{lname}'")
        collisions = _children(link, "collision")
        if not collisions and _children(link, "visual"):
            out.skipped.append(f"{lname}: visual only, no <collision> (not an obstacle)")
        for col in collisions:
            cname = f"{lname}/{_nm(col.get('name', '?'))}"
            geo = _child(col, "geometry")
            kinds = [_local(g.tag) for g in geo] if geo is not None else []
            if not kinds:
                out.skipped.append(f"{cname}: no geometry")
                continue
            _primitive(r, geo[0], kinds[0], T_link @ r.pose(col, f"collision '{cname}'"),
                       scale, cname, out)
            found = True
    if not found and not _children(model, "link"):
        out.skipped.append(f"{name}: model without links")


def _primitive(r: _Reader, g, kind: str, T: np.ndarray, scale: np.ndarray, name: str,
               out: ImportedWorld) -> None:
    if kind not in ("box", "cylinder", "sphere"):
        shown = kind if kind in _GEOMETRY_KINDS else _nm(kind)
        extra = ""
        if kind == "mesh":
            extra = " " + _nm(_text(_child(g, "uri")))
        out.skipped.append(f"{name}: {shown}{extra} (only box, cylinder and sphere are imported)")
        return
    if len(out.obstacles) >= MAX_PRIMITIVES:
        raise WorldImportError(f"{r.source}: more than {MAX_PRIMITIVES} primitives (the scenario "
                               "format holds at most that many obstacles)")
    sx, sy, sz = (abs(float(s)) for s in scale)
    if min(sx, sy, sz) <= 0.0:
        raise WorldImportError(f"{r.source}: {name}: <scale>: expected positive factors, got {list(scale)}")
    axis = T[:3, 2]
    center = T[:3, 3]
    if kind == "sphere":
        rad = _positive(r, _child(g, "radius"), f"{name} <sphere><radius>")
        radius = rad * max(sx, sy)
        z_lo, z_hi = center[2] - rad * sz, center[2] + rad * sz
        ob = Cylinder(center=(float(center[0]), float(center[1])), radius=float(radius))
    else:
        tilt = math.acos(max(-1.0, min(1.0, abs(float(axis[2])))))
        if tilt > TILT_TOLERANCE_RAD:
            out.skipped.append(f"{name}: {kind} tilted {math.degrees(tilt):.0f} deg from upright (not imported)")
            return
        if kind == "cylinder":
            rad = _positive(r, _child(g, "radius"), f"{name} <cylinder><radius>")
            length = _positive(r, _child(g, "length"), f"{name} <cylinder><length>")
            if not math.isclose(sx, sy, rel_tol=1e-3):
                out.skipped.append(f"{name}: cylinder scaled unevenly ({sx:g} x {sy:g}): "
                                   "imported with the larger radius")
            radius = rad * max(sx, sy)
            half = length * sz / 2.0
            ob = Cylinder(center=(float(center[0]), float(center[1])), radius=float(radius))
        else:
            size = r.numbers(_child(g, "size"), 3, f"{name} <box><size>")
            if (size <= 0).any():
                raise WorldImportError(f"{r.source}: {name} <box><size>: expected 3 positive numbers, "
                                       f"got {size.tolist()}")
            size = size * np.array([sx, sy, sz])
            yaw = math.atan2(float(T[1, 0]), float(T[0, 0]))   # footprint: the box's x axis
            half = size[2] / 2.0
            ob = Box(center=(float(center[0]), float(center[1])), size=(float(size[0]), float(size[1])),
                     yaw=float(math.remainder(yaw, 2 * math.pi)))
        z_lo, z_hi = center[2] - half, center[2] + half
    if z_lo > MAX_BOTTOM_M or z_hi <= 0.0:
        out.skipped.append(f"{name}: {kind} spans z {z_lo:.2f}..{z_hi:.2f} m, "
                           f"{'above' if z_lo > MAX_BOTTOM_M else 'below'} the robot (not imported)")
        return
    out.obstacles.append(ob)
    out.names.append(name)


def _positive(r: _Reader, el, what: str) -> float:
    v = float(r.numbers(el, 1, what)[0])
    if v <= 0:
        raise WorldImportError(f"{r.source}: {what}: expected a positive number, got {v:g}")
    return v


# ------------------------------------------------------------------------------ BARN

def load_barn_path(path: str | Path) -> np.ndarray:
    """A BARN ``path_N.npy`` → (N, 2) world-frame points (m). Loaded without pickles; the
    array must be (N, 2) integer grid points (i, j)."""
    path = Path(path)
    data = read_capped(path, BARN_PATH_MAX_BYTES, "BARN path file")
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise WorldImportError(f"{path}: not a .npy array ({clip(str(exc), 120)})") from None
    if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[1] != 2 or \
            not 1 <= arr.shape[0] <= BARN_PATH_MAX_POINTS:
        raise WorldImportError(f"{path}: expected an (N, 2) array of grid points (i, j), "
                               f"1 <= N <= {BARN_PATH_MAX_POINTS}, got shape {getattr(arr, 'shape', '?')}")
    if arr.dtype.kind not in "iuf" or not np.isfinite(arr.astype(float)).all():
        raise WorldImportError(f"{path}: expected finite numeric grid points, got dtype {arr.dtype}")
    ij = arr.astype(float)
    if (np.abs(ij) > 1000).any():
        raise WorldImportError(f"{path}: grid points out of range (|i|, |j| <= 1000)")
    r = BARN_CELL_M / 2.0
    x = ij[:, 0] * BARN_CELL_M - r - 30 * BARN_CELL_M
    y = ij[:, 1] * BARN_CELL_M + r + 5.0
    return np.stack([x, y], axis=1)


def barn_reference_length_m(points: np.ndarray, start=BARN_START[:2], goal=BARN_GOAL) -> float:
    """Length of the polyline start → points → goal (m), as run.py measures the reference."""
    poly = np.vstack([np.asarray(start, float)[None, :2], np.asarray(points, float),
                      np.asarray(goal, float)[None, :2]])
    return float(np.linalg.norm(np.diff(poly, axis=0), axis=1).sum())


# ------------------------------------------------------------------------------ scenario

def scenario_name(path: str | Path, prefix: str = "") -> str:
    """A scenario name ([a-z0-9_]+, <= 64 chars) from a file name: world_1.world.gz → world_1."""
    stem = Path(path).name
    for suffix in (".gz", ".world", ".sdf", ".xml"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    name = re.sub(r"[^a-z0-9_]+", "_", (prefix + stem).lower()).strip("_") or "imported"
    return name[:64]


def scenario_data(world: ImportedWorld, *, name: str, robot: str, start, goal,
                  tolerance: float, time_limit_s: float, arena=None,
                  margin_m: float = DEFAULT_MARGIN_M, barn: dict | None = None) -> tuple[dict, tuple]:
    """The scenario as plain data (for YAML) and the offset (world = scenario + offset).

    ``start`` (x, y, yaw) and ``goal`` (x, y) are in the world frame. ``arena`` is
    (xmin, ymin, xmax, ymax) in the world frame, or None: the obstacles, start and goal with
    ``margin_m`` around them. Obstacles whose centre lies outside the arena are left out (and
    listed in ``world.skipped``)."""
    if arena is None:
        b = world.bounds()
        xs = [start[0], goal[0]] + ([b[0], b[2]] if b else [])
        ys = [start[1], goal[1]] + ([b[1], b[3]] if b else [])
        arena = (min(xs) - margin_m, min(ys) - margin_m, max(xs) + margin_m, max(ys) + margin_m)
    x0, y0, x1, y1 = (float(v) for v in arena)
    if not (x1 > x0 and y1 > y0):
        raise WorldImportError(f"arena ({x0:g}, {y0:g}, {x1:g}, {y1:g}): expected xmin < xmax and ymin < ymax")
    off = ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    obstacles = []
    for ob, oname in zip(world.obstacles, world.names):
        cx, cy = ob.center[0] - off[0], ob.center[1] - off[1]
        if not (abs(cx) < (x1 - x0) / 2 and abs(cy) < (y1 - y0) / 2):
            world.skipped.append(f"{oname}: centre outside the arena (left out)")
            continue
        if isinstance(ob, Box):
            obstacles.append({"box": {"center": [_r(cx), _r(cy)], "size": [_r(ob.size[0]), _r(ob.size[1])],
                                      "yaw": _r(ob.yaw)}})
        else:
            obstacles.append({"cylinder": {"center": [_r(cx), _r(cy)], "radius": _r(ob.radius)}})
    data = {
        "name": name,
        "robot": robot,
        "arena": [_r(x1 - x0), _r(y1 - y0)],
        "obstacles": obstacles,
        "start": {"x": _r(start[0] - off[0]), "y": _r(start[1] - off[1]), "yaw": _r(start[2])},
        "goal": {"x": _r(goal[0] - off[0]), "y": _r(goal[1] - off[1]), "tolerance": _r(tolerance)},
        "time_limit": _r(time_limit_s),
        "description": f"imported from {_nm(Path(world.source).name)}; world frame = scenario frame "
                       f"+ ({_r(off[0])}, {_r(off[1])})",
    }
    if barn is not None:
        data["barn"] = barn
    return data, off


def _r(v: float) -> float:
    return round(float(v), 6)


#: Grid of the fallback reference: fine enough for the gaps between 0.075 m cylinders.
REFERENCE_GRID_M = 0.05


def barn_reference(scenario) -> tuple[float, str]:
    """(reference length in m, where it comes from) for the BARN score of ``scenario``.

    The path file's length where the scenario has one; otherwise the shortest path on the true
    map (core.metrics.shortest_path_m on a 5 cm grid, obstacles inflated by half the robot's
    width, to the goal itself) — said so in the second element."""
    from types import SimpleNamespace

    from world_model_planner.core import metrics
    from world_model_planner.sim.robots import ROBOTS

    b = scenario.barn
    if b is not None and b.reference_length_m:
        return float(b.reference_length_m), f"path file {b.reference}" if b.reference else "given"
    g = scenario.goal
    flat = SimpleNamespace(arena=scenario.arena, obstacles=scenario.obstacles, start=scenario.start,
                           goal=SimpleNamespace(x=g.x, y=g.y, tolerance=0.0))
    length = metrics.shortest_path_m(flat, (scenario.start.x, scenario.start.y),
                                     resolution_m=REFERENCE_GRID_M,
                                     inflate_m=ROBOTS[scenario.robot].width_m / 2.0)
    return float(length), "shortest path on the true map (no path file)"
