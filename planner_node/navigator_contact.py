"""How the Navigator checks contact this tick (a mixin of Navigator, planner_node/navigator.py):
whether the learned collision head is scored (only near tracked obstacles, ``nav.
collision_near_movers_m`` and ``nav.collision_hold_s``) and the goal approach (``nav.
goal_approach_m``: the footprint's exact rectangle in place of covering circles near the goal).
No rclpy.
"""
from __future__ import annotations

import math

from world_model_planner.planner_node.critics import Footprint
from world_model_planner.planner_node.dynamics import mover_within


def _scan_checks_contact(state) -> bool:
    """The rollout's state tracks obstacles and has a static field to check contact against (a
    model that tracks nothing, one before its first scan or a camera without depth has not:
    there the collision head is all that sees contact)."""
    return isinstance(state, dict) and "movers" in state and state.get("field") is not None


class ContactRules:
    """_collision_head_on, _approaching, _approach_footprint and _goal_approach (use the
    Navigator's cfg and goal; _exact_key, _exact_fp and _mover_seen_t are set in its __init__)."""

    def _collision_head_on(self, pose, state, t_s: float) -> bool:
        """nav.collision_near_movers_m > 0: the collision head only while the model's tracker
        follows an obstacle that near, or did within the last nav.collision_hold_s (a cart that
        stops to let the robot by turns static in the tracker); a model that tracks nothing, or
        has no static field to check contact against, keeps the head."""
        radius = self.cfg.nav.collision_near_movers_m
        if radius <= 0 or not _scan_checks_contact(state):
            return True
        if mover_within(pose, state["movers"], radius):
            self._mover_seen_t = t_s
            return True
        seen = self._mover_seen_t
        return seen is not None and 0.0 <= t_s - seen <= self.cfg.nav.collision_hold_s

    def _approaching(self, pose) -> bool:
        """Within nav.goal_approach_m of the final goal."""
        r = self.cfg.nav.goal_approach_m
        return r > 0 and self.goal is not None and \
            math.hypot(self.goal[0] - pose[0], self.goal[1] - pose[1]) <= r

    def _approach_footprint(self) -> Footprint | None:
        """The exact rectangle the goal approach measures, where nav.goal_approach_m is on and
        the configured footprint is covering circles; else None (a round or exact footprint is
        already the body)."""
        c = self.cfg.critics
        if self.cfg.nav.goal_approach_m <= 0 or c.footprint_round or c.footprint_exact:
            return None
        key = (c.footprint_length_m, c.footprint_width_m, c.footprint_padding_m)
        if self._exact_key != key:
            self._exact_key = key
            self._exact_fp = Footprint(c.footprint_length_m, c.footprint_width_m, c.footprint_circles,
                                       exact=True, padding_m=c.footprint_padding_m)
        return self._exact_fp

    def _goal_approach(self, ctx, state, pose) -> bool:
        """The goal approach (nav.goal_approach_m): covering circles give way to the exact
        rectangle in the critics (``ctx.footprint``) and the tracked scene (``state["footprint"]``).
        Returns whether the collision head may still be scored: only with a tracked obstacle
        within the approach radius (a model that tracks nothing, or has no static field to check
        contact against, keeps it)."""
        exact = self._approach_footprint()
        if exact is not None:
            ctx.footprint = exact
            if isinstance(state, dict):
                state["footprint"] = exact
        if not _scan_checks_contact(state):
            return True
        return mover_within(pose, state["movers"], self.cfg.nav.goal_approach_m)
