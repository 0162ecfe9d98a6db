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


def test_movers_are_drawn_as_their_shapes_where_they_are():
    person = tui.Mover("person", -2.0, 2.0, 0.0, 0.5, 0.5)
    cart = tui.Mover("cart", 2.0, -2.0, math.pi / 2, 1.2, 0.6)
    st = _state("open", pose=(-3.5, 0.0, 0.0), movers=[person, cart])
    rows, cols = 48, 160
    lines = tui.render(st, rows, cols)
    g = tui.Grid(st.scenario.arena, rows - tui.STATUS_ROWS - tui.HEADER_ROWS, cols)

    def at(x, y):
        r, c = g.cell(x, y)
        return lines[r + tui.HEADER_ROWS][c]

    assert at(-2.0, 2.0) == tui.PERSON and at(2.0, -2.0) == tui.CART
    people, carts = _find(lines, tui.PERSON), _find(lines, tui.CART)
    # every drawn cell lies on its mover's footprint (half a cell of slack), none elsewhere
    for (r, c) in people:
        x, y = g.x0 + (c + 0.5) * g.mx, g.y1 - (r - tui.HEADER_ROWS + 0.5) * g.my
        assert math.hypot(x + 2.0, y - 2.0) <= 0.25 + 0.5 * g.my
    # the cart faces north: 1.2 m along y (rows), 0.6 m along x (columns)
    rows_c, cols_c = {r for r, _ in carts}, {c for _, c in carts}
    assert (max(rows_c) - min(rows_c) + 1) * g.my == pytest.approx(1.2, abs=g.my)
    assert (max(cols_c) - min(cols_c) + 1) * g.mx == pytest.approx(0.6, abs=g.mx)
    # a larger person covers more cells; one smaller than a cell still shows at its centre
    big = len(_find(tui.render(_state("open", movers=[person._replace(length=1.2, width=1.2)]), rows, cols),
                    tui.PERSON))
    tiny = _find(tui.render(_state("open", movers=[person._replace(length=0.01, width=0.01)]), rows, cols),
                 tui.PERSON)
    assert big > 3 * len(people) > 0 and len(tiny) == 1
    # the robot is drawn over a mover next to it
    st.movers = [person._replace(x=-3.5, y=0.0)]
    lines = tui.render(st, rows, cols)
    assert at(-3.5, 0.0) in tui.ARROWS and tui.PERSON not in "".join(lines)


def test_sim_movers_markers_become_map_movers():
    """sim_node's sim/movers message (sim_msgs.movers_msg) read back as the console reads it."""
    from world_model_planner.app.session_person import movers_from_markers
    from world_model_planner.sim import sim_msgs
    from world_model_planner.sim.movers import MoverSpec

    specs = [MoverSpec("person", 0.5, "loop", radius=0.3), MoverSpec("cart", 0.5, "loop", size=(1.0, 0.4))]
    msg = sim_msgs.movers_msg(1.0, specs, np.array([[1.0, 2.0, 0.0], [-1.0, -2.0, 0.5]]), "odom")
    movers, note = movers_from_markers(msg, {})
    assert note is None
    assert sorted(movers.values()) == [tui.Mover("cart", -1.0, -2.0, pytest.approx(0.5), 1.0, 0.4),
                                       tui.Mover("person", 1.0, 2.0, 0.0, pytest.approx(0.6), pytest.approx(0.6))]
    # the next message has one mover: the DELETEALL at its head leaves no stale one behind
    movers, _ = movers_from_markers(sim_msgs.movers_msg(1.1, specs[:1], np.zeros((1, 3)), "odom"), movers)
    assert list(movers.values()) == [tui.Mover("person", 0.0, 0.0, 0.0, pytest.approx(0.6), pytest.approx(0.6))]
    # a marker that is not finite is left out and named
    bad = sim_msgs.movers_msg(1.2, specs, np.array([[math.nan, 0.0, 0.0], [0.0, 0.0, 0.0]]), "odom")
    movers, note = movers_from_markers(bad, {})
    assert [m.kind for m in movers.values()] == ["cart"] and "markers[1].pose" in note and "finite" in note
