"""A live top-down map of a session in the terminal (curses), for driving over ssh or in tmux.

:func:`render` is pure: a :class:`MapState` and a terminal size in, the screen's lines out
(one character per cell, a cell is twice as high as it is wide). It draws the arena's walls,
the obstacles, the goal and its tolerance, the path so far, the current scan, the movers
(people as discs of "●", carts as boxes of "■", each its own size; from sim_node's sim/movers),
and the robot's footprint with an arrow for its heading; then the status line (time
left, distance to goal, speed, collisions, interventions in shared mode) and a key line.
A banner (the start gate, the countdown, the end) sits over the map, away from the robot.

:class:`TerminalView` draws those lines with curses, which sends only the cells that changed
(no flicker), and reads keys without blocking. 80x24 is the smallest size laid out; a larger
terminal gets a larger map. No rclpy here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

WALL, OBSTACLE, FREE, PATH, SCAN, GOAL, GOAL_AREA, ROBOT = "█", "▓", " ", "·", "•", "◎", "░", "▒"
PERSON, CART = "●", "■"
ARROWS = "→↗↑↖←↙↓↘"
MIN_ROWS, MIN_COLS = 24, 80
#: Rows under the map: the status line and the key line; one header line above it.
STATUS_ROWS, HEADER_ROWS = 2, 1


class Mover(NamedTuple):
    """A mover's footprint in the map's frame: a person is a disc (``length`` = ``width`` = its
    diameter), a cart a box ``length`` along its heading ``yaw`` and ``width`` across (m, rad)."""

    kind: str          # "person" | "cart"
    x: float
    y: float
    yaw: float
    length: float
    width: float


@dataclass
class MapState:
    """What the map shows; the session fills it from /odom, /scan, /diagnostics and the mux."""

    scenario: object                     # sim.scenario.Scenario
    footprint: tuple[float, float]       # robot length, width (m)
    title: str = ""
    pose: tuple[float, float, float] | None = None
    path: object = field(default_factory=list)        # [(x, y)] or an (N, 2) array
    scan_xy: np.ndarray | None = None                  # (N, 2) world frame
    movers: list = field(default_factory=list)         # [Mover]
    sim_time_s: float = 0.0
    time_left_s: float | None = None
    speed_mps: float = 0.0
    collisions: int = 0
    interventions: int | None = None                   # shared mode only
    command: str = ""
    banner: str = ""
    note: str = ""                                     # a problem with an input, in the header
    keys: str = "wasd/arrows: drive  space: stop  +/-: speed  q: quit"


class Grid:
    """Metres to cells: the arena fitted into ``rows`` x ``cols`` with square-looking cells."""

    def __init__(self, arena: tuple[float, float], rows: int, cols: int):
        ax, ay = float(arena[0]), float(arena[1])
        self.rows, self.cols = rows, cols
        # metres per column (a row is 2 columns high); one cell of margin each side for the walls
        self.mx = max(ax / max(cols - 2, 1), ay / (2 * max(rows - 2, 1)))
        self.my = 2 * self.mx
        self.x0 = -ax / 2 - (cols * self.mx - ax) / 2
        self.y1 = ay / 2 + (rows * self.my - ay) / 2

    def cell(self, x: float, y: float) -> tuple[int, int] | None:
        c, r = math.floor((x - self.x0) / self.mx), math.floor((self.y1 - y) / self.my)
        return (r, c) if 0 <= r < self.rows and 0 <= c < self.cols else None

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) arrays of cell-centre x and y."""
        xs = self.x0 + (np.arange(self.cols) + 0.5) * self.mx
        ys = self.y1 - (np.arange(self.rows) + 0.5) * self.my
        return np.meshgrid(xs, ys)


def _in_box(X, Y, cx, cy, sx, sy, yaw, pad=0.0):
    c, s = math.cos(yaw), math.sin(yaw)
    dx, dy = X - cx, Y - cy
    u, v = c * dx + s * dy, -s * dx + c * dy
    return (np.abs(u) <= sx / 2 + pad) & (np.abs(v) <= sy / 2 + pad)


def _base(scenario, map_rows: int, cols: int) -> tuple["Grid", np.ndarray]:
    """The grid and the static layer (walls, obstacles, goal area) for a scenario and size;
    the last few are kept, so a frame only draws what moves."""
    key = (id(scenario), map_rows, cols)
    hit = _BASE_CACHE.get(key)
    if hit is not None and hit[0] is scenario:
        return hit[1], hit[2]
    sc = scenario
    g = Grid(sc.arena, map_rows, cols)
    X, Y = g.centres()
    canvas = np.full((map_rows, cols), FREE, dtype="<U1")
    ax, ay = sc.arena
    # walls: the cells just outside the arena, one cell thick
    inside = (np.abs(X) <= ax / 2) & (np.abs(Y) <= ay / 2)
    near = (np.abs(X) <= ax / 2 + g.mx) & (np.abs(Y) <= ay / 2 + g.my)
    canvas[near & ~inside] = WALL
    half = 0.5 * min(g.mx, g.my)
    for ob in sc.obstacles:
        if hasattr(ob, "radius"):
            hit_ = np.hypot(X - ob.center[0], Y - ob.center[1]) <= ob.radius + half
        else:
            hit_ = _in_box(X, Y, ob.center[0], ob.center[1], ob.size[0], ob.size[1], ob.yaw, half)
        canvas[hit_] = OBSTACLE
    goal = sc.goal
    canvas[(np.hypot(X - goal.x, Y - goal.y) <= goal.tolerance) & (canvas == FREE)] = GOAL_AREA
    if len(_BASE_CACHE) > 8:
        _BASE_CACHE.clear()
    _BASE_CACHE[key] = (scenario, g, canvas)
    return g, canvas


_BASE_CACHE: dict = {}


def _cells(g: "Grid", xy) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the finite points of ``xy`` (N, 2) that fall on the grid."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    c = np.floor((xy[:, 0] - g.x0) / g.mx).astype(int)
    r = np.floor((g.y1 - xy[:, 1]) / g.my).astype(int)
    ok = (r >= 0) & (r < g.rows) & (c >= 0) & (c < g.cols)
    return r[ok], c[ok]


def _footprint(g: "Grid", x: float, y: float, yaw: float, length: float, width: float, disc: bool = False):
    """The window (r0, c0) and the mask of the cells whose centre lies inside a box (or, with
    ``disc``, a disc of diameter ``length``) at (x, y, yaw); None when it is off the grid."""
    reach = 0.5 * (length if disc else math.hypot(length, width))
    r0, r1 = max(int((g.y1 - y - reach) / g.my), 0), min(int((g.y1 - y + reach) / g.my) + 1, g.rows)
    c0, c1 = max(int((x - reach - g.x0) / g.mx), 0), min(int((x + reach - g.x0) / g.mx) + 1, g.cols)
    if r1 <= r0 or c1 <= c0:
        return None
    X, Y = np.meshgrid(g.x0 + (np.arange(c0, c1) + 0.5) * g.mx, g.y1 - (np.arange(r0, r1) + 0.5) * g.my)
    mask = np.hypot(X - x, Y - y) <= reach if disc else _in_box(X, Y, x, y, length, width, yaw)
    return r0, c0, mask


def render(state: MapState, rows: int, cols: int) -> list[str]:
    """The screen as ``rows`` strings of ``cols`` characters (at least 24 x 80 is laid out)."""
    rows, cols = max(rows, 3), max(cols, 20)
    map_rows = max(1, rows - STATUS_ROWS - HEADER_ROWS)
    sc = state.scenario
    g, base = _base(sc, map_rows, cols)
    canvas = base.copy()
    goal = sc.goal
    if len(state.path):
        r, c = _cells(g, state.path)
        keep = (base[r, c] == FREE) | (base[r, c] == GOAL_AREA)
        canvas[r[keep], c[keep]] = PATH
    if state.scan_xy is not None and len(state.scan_xy):
        r, c = _cells(g, state.scan_xy)
        keep = base[r, c] != WALL
        canvas[r[keep], c[keep]] = SCAN
    for m in state.movers:         # each its own shape and size; at least its centre cell
        person = m.kind == "person"
        glyph = PERSON if person else CART
        fp = _footprint(g, m.x, m.y, m.yaw, m.length, m.width, disc=person)
        if fp is not None:
            r0, c0, mask = fp
            canvas[r0:r0 + mask.shape[0], c0:c0 + mask.shape[1]][mask] = glyph
        at = g.cell(m.x, m.y)
        if at:
            canvas[at] = glyph
    rc = g.cell(goal.x, goal.y)
    if rc:
        canvas[rc] = GOAL
    if state.pose is not None:
        x, y, yaw = state.pose
        fp = _footprint(g, x, y, yaw, state.footprint[0], state.footprint[1])
        if fp is not None:
            r0, c0, mask = fp
            canvas[r0:r0 + mask.shape[0], c0:c0 + mask.shape[1]][mask] = ROBOT
        nose = g.cell(x + 0.5 * state.footprint[0] * math.cos(yaw),
                      y + 0.5 * state.footprint[0] * math.sin(yaw))
        centre = g.cell(x, y)
        arrow = ARROWS[int(round((yaw % (2 * math.pi)) / (math.pi / 4))) % 8]
        for at in (centre, nose):
            if at:
                canvas[at] = arrow
    lines = [_fit(state.title + f"   sim {state.sim_time_s:6.1f} s" + (f"   {state.note}" if state.note else ""),
                  cols)]
    lines += [str(r) for r in np.ascontiguousarray(canvas).view(f"<U{cols}").ravel()]
    if state.banner:   # a quarter from the top or the bottom, away from the robot
        robot_row = g.cell(*state.pose[:2])[0] if state.pose is not None and g.cell(*state.pose[:2]) else 0
        row = map_rows // 4 if robot_row >= map_rows // 2 else map_rows - 1 - map_rows // 4
        _overlay(lines, HEADER_ROWS + row, state.banner, cols)
    lines.append(_fit(status_line(state), cols))
    lines.append(_fit(state.keys + (f"   {state.command}" if state.command else ""), cols))
    return lines[:rows]


def status_line(state: MapState) -> str:
    sc = state.scenario
    parts = ["time left " + ("--" if state.time_left_s is None else f"{max(state.time_left_s, 0):.1f}s")]
    if state.pose is not None:
        parts.append(f"goal {math.hypot(sc.goal.x - state.pose[0], sc.goal.y - state.pose[1]):.2f}m")
    parts.append(f"speed {state.speed_mps:+.2f}m/s")
    parts.append(f"collisions {state.collisions}")
    if state.interventions is not None:
        parts.append(f"interventions {state.interventions}")
    return "  ".join(parts)


def _fit(text: str, cols: int) -> str:
    return text[:cols].ljust(cols)


def _overlay(lines: list[str], row: int, text: str, cols: int) -> None:
    text = f"  {text}  "[:cols]
    start = max(0, (cols - len(text)) // 2)
    for r, t in ((row - 1, " " * len(text)), (row, text), (row + 1, " " * len(text))):
        if 0 <= r < len(lines):
            lines[r] = lines[r][:start] + t + lines[r][start + len(t):]


#: glyph -> colour class for the curses view
_COLOURS = {WALL: 1, OBSTACLE: 2, SCAN: 3, GOAL: 4, GOAL_AREA: 4, ROBOT: 5, PATH: 6, PERSON: 7, CART: 7,
            **{a: 5 for a in ARROWS}}


class TerminalView:
    """curses on this terminal: ``draw(lines)``, ``keys()`` without blocking; restores the
    terminal on ``close()`` (also after an exception)."""

    def __init__(self):
        import curses

        self._curses = curses
        self.scr = curses.initscr()
        try:
            curses.noecho()
            curses.cbreak()
            self.scr.keypad(True)
            self.scr.nodelay(True)
            try:
                curses.curs_set(0)
            except curses.error:
                pass
            self.colour = curses.has_colors()
            if self.colour:
                curses.start_color()
                try:
                    curses.use_default_colors()
                    bg = -1
                except curses.error:
                    bg = curses.COLOR_BLACK
                for n, fg in ((1, curses.COLOR_WHITE), (2, curses.COLOR_YELLOW), (3, curses.COLOR_RED),
                              (4, curses.COLOR_GREEN), (5, curses.COLOR_CYAN), (6, curses.COLOR_BLUE),
                              (7, curses.COLOR_MAGENTA)):
                    curses.init_pair(n, fg, bg)
        except Exception:
            self.close()
            raise
        self.closed = False

    def size(self) -> tuple[int, int]:
        return self.scr.getmaxyx()

    def draw(self, lines: list[str]) -> None:
        curses = self._curses
        rows, cols = self.scr.getmaxyx()
        self.scr.erase()
        for r, line in enumerate(lines[:rows]):
            line = line[:cols - 1] if r == rows - 1 else line[:cols]  # never write the last cell
            c = 0
            for run, attr in _runs(line):
                try:
                    self.scr.addstr(r, c, run, curses.color_pair(attr) if (attr and self.colour) else 0)
                except curses.error:
                    pass
                c += len(run)
        self.scr.refresh()   # curses sends only what changed since the last frame

    def keys(self) -> list:
        """Keys typed since the last call: curses key codes (ints)."""
        out = []
        while True:
            k = self.scr.getch()
            if k == -1:
                return out
            out.append(k)

    def close(self) -> None:
        curses = self._curses
        if getattr(self, "closed", False):
            return
        self.closed = True
        try:
            self.scr.keypad(False)
            curses.nocbreak()
            curses.echo()
        finally:
            curses.endwin()


def _runs(line: str):
    """(text, colour class) runs of a line."""
    start, cur = 0, _COLOURS.get(line[:1], 0)
    for i, ch in enumerate(line):
        a = _COLOURS.get(ch, 0)
        if a != cur:
            yield line[start:i], cur
            start, cur = i, a
    if start < len(line):
        yield line[start:], cur


def key_names(codes: list) -> list[str]:
    """curses key codes -> keymap key names (teleop.keymap): arrows, letters, digits, q."""
    import curses

    from world_model_planner.teleop.keymap import KeyDecoder

    arrows = {curses.KEY_UP: "up", curses.KEY_DOWN: "down", curses.KEY_LEFT: "left",
              curses.KEY_RIGHT: "right"}
    out: list[str] = []
    dec = KeyDecoder()
    for k in codes:
        if k == getattr(curses, "KEY_RESIZE", None):
            continue          # the terminal changed size: the next frame is laid out for it
        if k in arrows:
            out.append(arrows[k])
        elif 0 <= k < 256 and k != 27:
            out += dec.feed(bytes([k]))
        else:
            out.append("unknown")
    return out
