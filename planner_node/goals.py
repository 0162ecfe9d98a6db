"""How goal messages become goal changes: repeats ignored, changes rate-limited. No rclpy.

RViz and behaviour trees re-send the same goal many times a second. The rule:

- a goal equal to the one in force (or to the one waiting, see below) within ``same_m`` in
  position and ``same_rad`` in yaw is a repeat: it changes nothing (no reset of the sampler's
  warm start, no new path search);
- a different goal is applied at once when the last change is at least ``min_interval_s`` old;
- a different goal that comes sooner is *deferred*: it waits, and a later one replaces it, so
  the latest goal of a burst is applied when the interval has passed (never dropped forever);
- goals that cannot be valid (non-finite values) are not rate-limited: the caller refuses them
  at once (a refusal stops the robot, which is never worth delaying).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from world_model_planner.core.mathutil import angle_diff


@dataclass
class Goal:
    """x, y (m, odom frame); yaw (rad) or None."""

    x: float
    y: float
    yaw: float | None = None

    def same_as(self, other: "Goal | None", same_m: float, same_rad: float) -> bool:
        if other is None:
            return False
        if math.hypot(self.x - other.x, self.y - other.y) > same_m:
            return False
        if (self.yaw is None) != (other.yaw is None):
            return False
        if self.yaw is None:
            return True
        d = angle_diff(self.yaw, other.yaw)
        return abs(d) <= same_rad


class GoalGate:
    """Decides what each incoming goal does. ``offer`` → "repeat" | "apply" | "defer";
    ``due(now_s)`` → the deferred goal once it may be applied, else None."""

    def __init__(self, min_interval_s: float = 0.5, same_m: float = 0.05, same_rad: float = 0.05):
        self.min_interval_s, self.same_m, self.same_rad = min_interval_s, same_m, same_rad
        self.current: Goal | None = None          # the goal in force (as last applied)
        self.pending: Goal | None = None          # a deferred change, latest wins
        self.last_change_s: float | None = None
        self.deferred = 0                          # goals deferred so far (for a throttled log)

    def offer(self, goal: Goal, now_s: float, active: bool = True) -> str:
        """``active``: the goal in force is still being pursued (not refused or cancelled);
        repeating a goal that is no longer in force applies it again."""
        if active and goal.same_as(self.pending or self.current, self.same_m, self.same_rad):
            return "repeat"
        if active and self.pending is not None and goal.same_as(self.current, self.same_m, self.same_rad):
            self.pending = None                    # back to the goal in force: nothing to change
            return "repeat"
        if self.last_change_s is None or not active or now_s - self.last_change_s >= self.min_interval_s \
                or now_s < self.last_change_s:
            self.applied(goal, now_s)
            return "apply"
        self.pending = goal
        self.deferred += 1
        return "defer"

    def due(self, now_s: float) -> Goal | None:
        if self.pending is None:
            return None
        if self.last_change_s is not None and 0.0 <= now_s - self.last_change_s < self.min_interval_s:
            return None
        goal = self.pending
        self.applied(goal, now_s)
        return goal

    def applied(self, goal: Goal, now_s: float) -> None:
        self.current, self.pending, self.last_change_s = goal, None, now_s

    def clear(self) -> None:
        self.current = self.pending = None
