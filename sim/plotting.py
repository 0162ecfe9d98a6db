"""Draw a scenario on a matplotlib Axes (for reports; use the Agg backend headless)."""
from __future__ import annotations

import math

from world_model_planner.sim.robots import ROBOTS
from world_model_planner.sim.scenario import Box, Scenario


def plain_text(*artists) -> None:
    """Draw these matplotlib texts (titles, labels, legend entries) literally: mathtext never
    parses them, so ``$``, ``\\``, ``_`` or ``^`` from a recording or a user cannot break a plot."""
    for a in artists:
        if a is not None and hasattr(a, "set_parse_math"):
            a.set_parse_math(False)


def plain_legend(ax, **kwargs):
    """``ax.legend(...)`` whose entries are drawn literally (see :func:`plain_text`)."""
    leg = ax.legend(**kwargs)
    if leg is not None:
        plain_text(*leg.get_texts())
    return leg


def draw_scenario(ax, scenario: Scenario, *, show_footprint: bool = True) -> None:
    """Arena walls, obstacles, start pose (with the robot footprint) and goal circle."""
    from matplotlib import patches

    sx, sy = scenario.arena
    ax.add_patch(patches.Rectangle((-sx / 2, -sy / 2), sx, sy, fill=False, lw=2.5, ec="0.35"))
    for ob in scenario.obstacles:
        if isinstance(ob, Box):
            ax.add_patch(patches.Polygon(ob.polygon(), closed=True, fc="#cc7333", ec="0.2", lw=0.8))
        else:
            ax.add_patch(patches.Circle(ob.center, ob.radius, fc="#3380cc", ec="0.2", lw=0.8))
    s, g = scenario.start, scenario.goal
    if show_footprint:
        poly = ROBOTS[scenario.robot].footprint_polygon(s.x, s.y, s.yaw)
        ax.add_patch(patches.Polygon(poly, closed=True, fill=False, ec="tab:green", lw=1.2))
    ax.annotate("", xy=(s.x + 0.7 * math.cos(s.yaw), s.y + 0.7 * math.sin(s.yaw)), xytext=(s.x, s.y),
                arrowprops=dict(arrowstyle="->", color="tab:green", lw=1.5))
    ax.plot([s.x], [s.y], "o", color="tab:green", label="start")
    ax.add_patch(patches.Circle((g.x, g.y), g.tolerance, fc="none", ec="tab:red", lw=1.5))
    ax.plot([g.x], [g.y], "*", color="tab:red", ms=12, label="goal")
    m = 0.3
    ax.set_xlim(-sx / 2 - m, sx / 2 + m)
    ax.set_ylim(-sy / 2 - m, sy / 2 + m)
    ax.set_aspect("equal")
    plain_text(ax.set_title(scenario.name))
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
