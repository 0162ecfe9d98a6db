"""Stuck detection and recovery: a small state machine (in the spirit of Nav2's behaviours).

Progress is the remaining length of the global path (the straight distance to the goal without
one) dropping by ``progress_min_m`` while the robot moves at least that far (a replan that only
shortens the path, the robot standing still, is not progress). When there has been none for
``stall_time_s`` the robot is stuck, and the recoveries run in order, one per stall:

    clear    forget the occupancy grid around the robot and sense it afresh (a phantom
             obstacle or a stale map), restart the sampler, replan; behind a lidar of less than
             360 degrees only the part it sees is forgotten (what lies behind cannot be sensed
             afresh, and backing up relies on it)
    backup   drive straight back ``backup_distance_m``, only where the latest scan shows the
             rear free (the backed-up footprint keeps ``backup_clearance_m``)
    rotate   turn in place ``rotate_angle_rad`` to re-scan, only where the turning footprint is free
    replan   search again over a wider window with the current route penalised, so that another
             way around (another homotopy) is preferred for ``detour_s``

A recovery that cannot run (rear not known free, no room to turn, no global path) is recorded
as ``skipped`` and the next one runs at once. Where the global path ahead is closed to the padded
footprint by the latest scan (``replan_when_blocked``; the navigator drives the path by pure
pursuit over the horizon and checks it: a gap the global grid let through that the footprint
does not), clear, backup and rotate cannot open it: they are skipped, without using up
attempts, and replan runs at once; once per stall site, so that where replan finds no other way
the usual sequence follows. Such a stall does not wait for ``stall_time_s``: ``blocked_stall_s``
without progress in front of a route closed by static obstacles is enough (a robot should not
stand for seconds before a gap its footprint cannot pass; a person or cart on the move, where the
planner's model tracks them, does not count, since it will clear the way). A recovery is ``resolved`` when progress resumes
before the next stall (the remaining path gets shorter than it was before the stall: regaining
the ground a backup gave up does not count; a new, longer route is measured from its own length,
once per recovery), ``failed`` when the next stall comes first. After progress the next stall
starts the sequence again at ``clear``, unless it comes within ``stall_site_m`` of the last
stall: then the recovery that seemed to resolve it did not, and the sequence goes on where it
stopped (a robot that stalls again and again at one narrow gap reaches ``replan`` instead of
turning in circles through clear, backup and rotate until its attempts run out). After ``max_attempts`` recoveries for one goal the navigator gives up: state
``failed`` with the reason. A robot slower than ``progress_min_m`` per ``stall_time_s`` that
keeps closing in (deep mud, a heavy load uphill) is creeping, not stuck: while its straight
distance to the goal keeps reaching new lows by ``creep_min_m`` within ``stall_time_s``, no stall
is declared (the straight distance, not the path: a replanned path can shrink while the robot
stands still, the distance cannot; a slow detour is not seen as creeping). Where the navigator
gives the commanded and measured speeds, a new low counts as creeping only if the ground held
the base back on the way to it (measured speed below ``creep_slip_ratio`` × commanded, on
average): a planner that itself inches towards a gap it dare not enter, at the speed it asks
for, is hesitating, and stalls as any robot that makes no progress; with ``creep_yield_radius_m``
set, near a tracked person or cart it is yielding, and creeps as before. A driven recovery
(backup, rotate) that the ground does not let happen (turning in place in mud) ends once it has
had the time it needs plus a second and done less than a quarter of it, rather than pushing
until ``action_timeout_s``. Every recovery is logged as ``{t, kind, outcome}``.

No rclpy, no torch: the navigator feeds it and carries out what it asks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from world_model_planner.core.params import param, validate

SEQUENCE = ("clear", "backup", "rotate", "replan")


@dataclass
class RecoveryConfig:
    enabled: bool = param(True, "Detect stalls (no progress along the global path) and run recoveries.")
    stall_time_s: float = param(5.0, "No progress for this long is a stall (s).", range=(0.5, 600.0))
    progress_min_m: float = param(0.25, "Progress: the remaining path shrinks by at least this much (m).",
                                  range=(0.01, 10.0))
    route_change_m: float = param(1.0, "A remaining path this much longer than the best so far is a new "
                                  "route: progress is measured from it (m).", range=(0.1, 100.0))
    clear_radius_m: float = param(3.0, "The clear recovery forgets the occupancy grid within this radius (m; "
                                  "behind a lidar of less than 360 degrees, only the part it sees).",
                                  range=(0.1, 50.0))
    backup_distance_m: float = param(0.6, "The backup recovery drives back this far (m).", range=(0.05, 5.0))
    backup_speed_mps: float = param(0.25, "Speed of the backup recovery (m/s).", range=(0.01, 2.0))
    backup_clearance_m: float = param(0.1, "The backed-up footprint must keep this clearance from the latest "
                                      "scan; otherwise the backup is skipped (m).", range=(0.0, 2.0))
    rotate_angle_rad: float = param(3.14, "The rotate recovery turns this far in place (rad).", range=(0.1, 12.6))
    rotate_speed_radps: float = param(1.0, "Yaw rate of the rotate recovery (rad/s).", range=(0.05, 10.0))
    action_timeout_s: float = param(8.0, "A backup or rotate that has not finished after this long ends (s).",
                                    range=(0.5, 120.0))
    detour_s: float = param(15.0, "How long the replan recovery keeps the old route penalised (s).",
                            range=(0.5, 600.0))
    detour_cost: float = param(20.0, "Extra cost per cell near the penalised route.", range=(0.0, 1e6))
    max_attempts: int = param(8, "Recoveries for one goal before giving up (state failed).",
                              range=(1, 100))
    stall_site_m: float = param(1.0, "A stall within this distance of the last one continues the sequence where "
                                "it stopped instead of starting again at clear (m); 0 = always start again.",
                                range=(0.0, 100.0))
    replan_when_blocked: bool = param(True, "At a stall where the global path ahead is closed to the padded "
                                      "footprint by the latest scan (pure pursuit of it over the horizon meets "
                                      "an obstacle), go straight to replan: clear, backup and rotate are "
                                      "recorded as skipped, since re-sensing cannot widen a gap. Once per "
                                      "stall site; a further stall there runs the usual sequence.")
    blocked_stall_s: float = param(1.5, "With replan_when_blocked: no progress for this long while the global "
                                   "path ahead is closed to the padded footprint by static obstacles (moving "
                                   "ones that the planner's model tracks do not count: they clear the way) is "
                                   "a stall already, without waiting for stall_time_s, so the robot does not "
                                   "stand before a gap it cannot pass (s); 0 = off. Not again at a stall site "
                                   "where replan ran so.", range=(0.0, 600.0))
    route_lookahead_m: float = param(0.5, "Look-ahead distance of the pure pursuit that checks the global "
                                     "path for replan_when_blocked (m).", range=(0.05, 10.0))
    creep_min_m: float = param(0.05, "Slow progress: the straight distance to the goal reaches a new low by "
                               "at least this much within stall_time_s: creeping, not stuck (m); 0 = off.",
                               range=(0.0, 10.0))
    creep_slip_ratio: float = param(0.5, "A new low counts as creeping only where the mean measured speed "
                                    "since the last one was below this fraction of the mean commanded speed "
                                    "(the ground holds the base back); a planner that inches forward at the "
                                    "speed it asks for is hesitating, not creeping. 1 = any commanded motion "
                                    "counts; used only where the navigator gives both speeds.",
                                    range=(0.0, 1.0))
    creep_yield_radius_m: float = param(0.0, "Within this distance of a moving obstacle that the planner's model "
                                        "tracks (0.2 m/s or faster: a person, a cart), slow closing-in counts as "
                                        "creeping whatever the speeds: the planner is yielding, not hesitating "
                                        "(m); 0 = never (the default: in dense clutter such as BARN's cylinder "
                                        "fields the tracker reports moving tracks near the robot in about a "
                                        "third of the ticks, which would undo the rule).",
                                        range=(0.0, 50.0))

    def __post_init__(self):
        validate(self)


@dataclass
class RecoveryEvent:
    t: float
    kind: str
    outcome: str = "pending"      # pending | resolved | failed | skipped | aborted

    def as_dict(self) -> dict:
        return {"t": round(self.t, 2), "kind": self.kind, "outcome": self.outcome}


class Recovery:
    """The state machine. ``progress(t, remaining_m)`` every tick; it answers None (plan as
    usual), a recovery kind to start, or ``"failed"``. While an action (backup, rotate) runs,
    the navigator asks ``action_command`` each tick instead."""

    def __init__(self, cfg: RecoveryConfig | None = None):
        self.cfg = cfg or RecoveryConfig()
        self.log: list[RecoveryEvent] = []
        self.reset()

    def reset(self) -> None:
        """A new goal: forget the progress baseline and the sequence (the log is kept)."""
        self._best: float | None = None
        self._since: float | None = None
        self._next = 0
        self._attempts = 0
        self._again = False                  # progress since the last stall: start the sequence again
        self._site = None                    # where the last stall was declared
        self._shortcut = None                # where replan_first last went straight to replan
        self._mark = None                    # where the robot was when progress was last measured
        self._creep = (math.inf, None)       # (least straight distance to the goal, when reached)
        self._push = [0.0, 0.0]              # sum of |commanded|, |measured| speed since the last new low
        self._rebase = True
        self.action: str | None = None
        self._action: dict = {}
        for e in self.log:
            if e.outcome == "pending":
                e.outcome = "aborted"

    @property
    def pending(self) -> RecoveryEvent | None:
        return self.log[-1] if self.log and self.log[-1].outcome == "pending" else None

    def counts(self) -> dict:
        """{fired, resolved, failed, skipped}: recoveries so far by outcome."""
        out = {"fired": 0, "resolved": 0, "failed": 0, "skipped": 0}
        for e in self.log:
            if e.outcome != "skipped":
                out["fired"] += 1
            if e.outcome in out:
                out[e.outcome] += 1
        return out

    def goal_reached(self) -> None:
        """The goal was reached: a pending recovery resolved the stall."""
        if self.pending is not None:
            self.pending.outcome = "resolved"

    # --- progress ------------------------------------------------------------------------------
    def progress(self, t_s: float, remaining_m: float, xy=None, direct_m: float | None = None,
                 blocked=None, speeds=None) -> str | None:
        """Feed the remaining path length at t_s, and when known the robot's position xy (then
        progress also needs it to have moved) and its straight distance to the goal direct_m
        (creeping); returns the recovery to start, 'failed', or None. ``blocked``: a callable
        answering whether the route ahead is closed to the footprint now, asked only after
        blocked_stall_s without progress (replan_when_blocked). ``speeds``: (commanded, measured)
        forward speed this tick (m/s); with them a new low of the straight distance counts as
        creeping only where the ground held the base back (creep_slip_ratio)."""
        c = self.cfg
        if not c.enabled or not math.isfinite(remaining_m) or self.action is not None:
            return None
        held = True                                          # speeds unknown: every new low creeps
        if speeds is not None:
            cmd_v, meas_v = (abs(float(x)) for x in speeds)
            if math.isfinite(cmd_v) and math.isfinite(meas_v):
                self._push[0] += cmd_v
                self._push[1] += meas_v
            held = self._push[1] < c.creep_slip_ratio * self._push[0]
        xy = None if xy is None else (float(xy[0]), float(xy[1]))
        direct = float(direct_m) if direct_m is not None and math.isfinite(direct_m) else None
        if self._since is None or t_s < self._since:
            self._best, self._since, self._mark = remaining_m, t_s, xy
            self._creep = (math.inf if direct is None else direct, t_s)
            self._push = [0.0, 0.0]
            return None
        if self._best is None:                               # after a recovery: the new baseline
            self._best, self._mark = remaining_m, xy
            return None
        if remaining_m <= self._best - c.progress_min_m and _moved(self._mark, xy, c.progress_min_m):
            self._best, self._since, self._mark = remaining_m, t_s, xy
            self._creep = (math.inf if direct is None else direct, t_s)
            self._push = [0.0, 0.0]
            if self.pending is not None:
                self.pending.outcome = "resolved"
            self._again = True
            return None
        if direct is not None and direct <= self._creep[0] - c.creep_min_m:
            # closing in, slowly: creeping where the ground held the base back, else hesitating
            self._creep = (direct, t_s if held else self._creep[1])
            self._push = [0.0, 0.0]
        if remaining_m > self._best + c.route_change_m and (self._attempts == 0 or self._rebase):
            self._best = remaining_m            # a new, longer route: measured from it (once per recovery)
            self._rebase = self._attempts == 0
        limit = c.stall_time_s
        if t_s - self._since < limit and self._early(t_s, xy, blocked):
            limit = c.blocked_stall_s                        # stopped before a way it cannot take
        if t_s - self._since < limit:
            return None
        if c.creep_min_m > 0 and self._creep[1] is not None and t_s - self._creep[1] < limit:
            return None
        if self.pending is not None:
            self.pending.outcome = "failed"
        if self._attempts >= c.max_attempts:
            return "failed"
        if self._again:
            self._again = False
            if not (c.stall_site_m > 0 and xy is not None and self._site is not None
                    and math.hypot(xy[0] - self._site[0], xy[1] - self._site[1]) <= c.stall_site_m):
                self._next = 0               # somewhere else (or unknown): from the start
        self._site = xy
        return self._start(t_s)

    def _early(self, t_s: float, xy, blocked) -> bool:
        """blocked_stall_s has passed without progress or creeping, replan has not yet gone
        first at this stall site, and the route ahead is closed (asked last: it costs a rollout)."""
        c = self.cfg
        if (blocked is None or not c.replan_when_blocked or not 0 < c.blocked_stall_s < c.stall_time_s
                or t_s - self._since < c.blocked_stall_s):
            return False
        if c.creep_min_m > 0 and self._creep[1] is not None and t_s - self._creep[1] < c.blocked_stall_s:
            return False
        if self._shortcut_near(xy):
            return False
        return bool(blocked())

    def _shortcut_near(self, xy) -> bool:
        """replan_first already went straight to replan at this stall site (within stall_site_m
        of xy; once per goal where positions are unknown)."""
        done = self._shortcut
        return done is not None and (xy is None or done == "unknown" or
                                     math.hypot(xy[0] - done[0], xy[1] - done[1]) <= self.cfg.stall_site_m)

    def _start(self, t_s: float) -> str:
        kind = SEQUENCE[self._next % len(SEQUENCE)]
        self._next += 1
        self._attempts += 1
        self._rebase = True
        self.log.append(RecoveryEvent(t_s, kind))
        self._since = t_s                    # the next stall is timed from here; progress still means
        return kind                          # beating the best before the stall (not regaining a backup)

    def replan_first(self, t_s: float) -> str | None:
        """The stall just declared is at a route closed to the footprint: skip clear, backup and
        rotate (uncounted) and answer the recovery to run instead (replan, or 'failed'); None
        where this was done already at this stall site (within stall_site_m; once per goal where
        positions are unknown): then the sequence runs as usual."""
        ev = self.pending
        if ev is None or ev.kind not in ("clear", "backup", "rotate"):
            return None
        site = self._site
        if self._shortcut_near(site):
            return None
        self._shortcut = site if site is not None else "unknown"
        kind = ev.kind
        while kind in ("clear", "backup", "rotate"):
            kind = self.skip(t_s, counted=False)
        return kind

    def skip(self, t_s: float, counted: bool = True) -> str:
        """The recovery just started cannot run: record it as skipped and start the next one
        (or answer 'failed' when the attempts are used up). ``counted=False``: it was passed
        over by choice (replan_when_blocked), and does not use up an attempt."""
        if self.pending is not None:
            self.pending.outcome = "skipped"
            if not counted:
                self._attempts -= 1
        self.action = None
        if self._attempts >= self.cfg.max_attempts:
            return "failed"
        return self._start(t_s)

    # --- actions -------------------------------------------------------------------------------
    def begin_action(self, kind: str, t_s: float, pose) -> None:
        """Start a driven recovery (backup or rotate) at pose (x, y, yaw)."""
        self.action = kind
        self._action = {"t0": t_s, "pose": [float(v) for v in pose[:3]], "turned": 0.0, "yaw": float(pose[2])}

    def action_command(self, t_s: float, pose) -> tuple[float, float] | None:
        """(v, w) for the running action, or None when it has finished (then planning resumes,
        and the stall timer restarts)."""
        if self.action is None:
            return None
        c, a = self.cfg, self._action
        x0, y0, _ = a["pose"]
        dyaw = math.remainder(float(pose[2]) - a["yaw"], 2 * math.pi)
        a["turned"] += abs(dyaw)
        a["yaw"] = float(pose[2])
        done = t_s - a["t0"] >= c.action_timeout_s or t_s < a["t0"]
        if self.action == "backup":
            share = math.hypot(pose[0] - x0, pose[1] - y0) / c.backup_distance_m
            need_s, cmd = c.backup_distance_m / c.backup_speed_mps, (-c.backup_speed_mps, 0.0)
        else:
            share = a["turned"] / c.rotate_angle_rad
            need_s, cmd = c.rotate_angle_rad / c.rotate_speed_radps, (0.0, c.rotate_speed_radps)
        # done; or the ground does not let it happen: its time and a second gone, not a quarter done
        done = done or share >= 1.0 or (t_s - a["t0"] >= need_s + 1.0 and share < 0.25)
        if done:
            self.end_action(t_s)
            return None
        return cmd

    def end_action(self, t_s: float) -> None:
        if self.action is not None:
            self._since = t_s
        self.action, self._action = None, {}


def pursuit_poses(path_xy, pose, speed: float, horizon: int, dt_s: float, lookahead_m: float,
                  w_max_radps: float) -> np.ndarray:
    """(horizon, 3) poses of a robot that follows ``path_xy`` (P, 2) from ``pose`` (x, y, yaw)
    at ``speed``: pure pursuit of the point ``lookahead_m`` ahead on the path, on ideal unicycle
    kinematics, turning in place first where that point lies more than 1 rad off the heading and
    stopping at the path's end. What replan_when_blocked checks the footprint along."""
    pts = np.asarray(path_xy, dtype=np.float64).reshape(-1, 2)
    x, y, th = (float(v) for v in pose[:3])
    out = np.tile([x, y, th], (horizon, 1))
    if len(pts) < 2:
        return out
    spacing = max(1e-3, float(np.median(np.hypot(*np.diff(pts, axis=0).T))))
    window = int(2.0 * lookahead_m / spacing) + 2      # the nearest point is sought this far on
    i = 0
    for k in range(horizon):
        near = pts[i:i + window]
        i += int(np.argmin(np.hypot(near[:, 0] - x, near[:, 1] - y)))
        d = np.hypot(pts[i:, 0] - x, pts[i:, 1] - y)
        ahead = np.nonzero(d >= lookahead_m)[0]
        j = i + (int(ahead[0]) if len(ahead) else len(d) - 1)
        dist = float(d[j - i])
        if not len(ahead) and dist < 0.05:
            v, w = 0.0, 0.0                                  # at the path's end
        else:
            alpha = math.remainder(math.atan2(pts[j, 1] - y, pts[j, 0] - x) - th, 2 * math.pi)
            if abs(alpha) > 1.0:
                v, w = 0.0, math.copysign(min(w_max_radps, 2.0 * abs(alpha)), alpha)
            else:
                v = float(speed) if len(ahead) else min(float(speed), dist / dt_s)
                w = max(-w_max_radps, min(w_max_radps, 2.0 * v * math.sin(alpha) / max(dist, 1e-3)))
        mid = th + 0.5 * w * dt_s
        x, y, th = x + v * math.cos(mid) * dt_s, y + v * math.sin(mid) * dt_s, th + w * dt_s
        out[k] = (x, y, th)
    return out


def _moved(mark, xy, dist_m: float) -> bool:
    """The robot is at least dist_m from mark (True when either position is unknown)."""
    return xy is None or mark is None or math.hypot(xy[0] - mark[0], xy[1] - mark[1]) >= dist_m


#: Entries of the recovery log carried in /diagnostics (the newest ones).
LOG_MAX = 32
_OUTCOMES = ("pending", "resolved", "failed", "skipped", "aborted")


def format_log(events, limit: int = LOG_MAX) -> str:
    """The newest ``limit`` events as 't:kind:outcome' joined by ';' (the /diagnostics value)."""
    return ";".join(f"{e.t:.2f}:{e.kind}:{e.outcome}" for e in list(events)[-limit:])


def parse_log(text: str, limit: int = LOG_MAX) -> list[dict]:
    """[{t, kind, outcome}] from ``format_log`` text; entries that do not parse are dropped, at
    most ``limit`` are read."""
    out = []
    for item in str(text or "").split(";")[:limit]:
        parts = item.split(":")
        if len(parts) != 3 or parts[1] not in SEQUENCE or parts[2] not in _OUTCOMES:
            continue
        try:
            t = float(parts[0])
        except ValueError:
            continue
        if math.isfinite(t):
            out.append({"t": t, "kind": parts[1], "outcome": parts[2]})
    return out
