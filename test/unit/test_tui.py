"""The terminal map (teleop.tui.render): fits 80x24, draws the world where it is, scales up."""
import math

import numpy as np
import pytest

from world_model_planner.sim.robots import ROBOTS
from world_model_planner.sim.scenario import load_scenario
from world_model_planner.teleop import tui


def _state(name, **kw):
    sc = load_scenario(name)
    spec = ROBOTS[sc.robot]
    return tui.MapState(sc, (spec.length_m, spec.width_m), title=f"{name} test", **kw)


def _find(lines, chars):
    return [(r, c) for r, line in enumerate(lines) for c, ch in enumerate(line) if ch in chars]


@pytest.mark.parametrize("rows,cols", [(24, 80), (40, 132), (24, 100)])
def test_screen_is_exactly_the_terminal_size(rows, cols):
    st = _state("u_trap", pose=(-3.0, 0.0, 0.0), time_left_s=42.0, interventions=2)
    lines = tui.render(st, rows, cols)
    assert len(lines) == rows and all(len(ln) == cols for ln in lines)
    status = lines[-2]
    goal = st.scenario.goal
    dist = math.hypot(goal.x + 3.0, goal.y)
    assert "time left 42.0s" in status and f"goal {dist:.2f}m" in status and "interventions 2" in status
    assert "q: quit" in lines[-1]


def test_world_is_drawn_where_it_is():
    st = _state("u_trap", pose=(-3.0, 0.0, 0.0), path=[(-4.0, 0.0), (-3.5, 0.0)],
                scan_xy=np.array([[0.0, 3.0]]))
    lines = tui.render(st, 24, 80)
    g = tui.Grid(st.scenario.arena, 24 - tui.STATUS_ROWS - tui.HEADER_ROWS, 80)

    def at(x, y):
        r, c = g.cell(x, y)
        return lines[r + tui.HEADER_ROWS][c]

    assert at(st.scenario.goal.x, st.scenario.goal.y) == tui.GOAL
    assert at(-3.0, 0.0) in tui.ARROWS and at(-3.0, 0.0) == "→"        # heading 0: east
    assert at(-4.0, 0.0) == tui.PATH
    assert at(0.0, 3.0) == tui.SCAN
    for ob in st.scenario.obstacles:                                   # every obstacle's centre
        assert at(*ob.center) == tui.OBSTACLE
    walls = _find(lines, tui.WALL)
    rows = {r for r, _ in walls}
    assert min(rows) == tui.HEADER_ROWS and max(rows) == 24 - tui.STATUS_ROWS - 1  # top and bottom walls
    # heading north: the arrow turns
    st.pose = (-3.0, 0.0, math.pi / 2)
    assert "↑" in "".join(tui.render(st, 24, 80))


def test_larger_terminal_gets_a_larger_map():
    st = _state("open", pose=(0.0, 0.0, 0.0))
    small = len(_find(tui.render(st, 24, 80), tui.ROBOT + tui.ARROWS))
    large = len(_find(tui.render(st, 48, 160), tui.ROBOT + tui.ARROWS))
    assert large >= 3 * small > 0


def test_banner_sits_in_the_middle_and_keys_map_to_the_keymap():
    import curses

    st = _state("open", banner="press any key to start", pose=(-3.5, 0.0, 0.0))
    lines = tui.render(st, 24, 80)
    banner = [r for r, line in enumerate(lines) if "press any key to start" in line]
    robot = {r for r, _ in _find(lines, tui.ROBOT + tui.ARROWS)}
    assert len(banner) == 1 and robot and min(abs(banner[0] - r) for r in robot) >= 3  # never over the robot
    assert tui.key_names([ord("w"), curses.KEY_LEFT, curses.KEY_RESIZE, ord(" "), ord("q"), ord("+")]) == \
        ["up", "left", "stop", "quit", "faster"]
