"""Goals in any frame: planar transforms, odometry paired with a localization pose by timestamp,
the map → odom estimate, and goals kept fixed in their own frame. No rclpy.

A localization source (AMCL's /amcl_pose, slam_toolbox's /pose, the sim's localization pose)
says where the robot is in ``map`` at time t. Odometry says where it is in ``odom``. Paired at
the same t, the two give map → odom::

    T_map_odom = T_map_base(t) ∘ inverse(T_odom_base(t))

A goal is kept as given, in its own frame (:class:`FrameGoal`), and re-expressed in odom with
the latest transform (:meth:`FrameGoal.in_odom`): when localization corrects (map → odom
jumps), the goal moves in odom and stays where it was in the world.

Poses are (3,) arrays x, y, yaw: a pose of frame B in frame A is the transform A ← B.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from world_model_planner.core.mathutil import angle_diff, wrap_angle

Pose = np.ndarray  # (3,) x, y, yaw


# -- planar transforms -------------------------------------------------------------------------
def compose(a, b) -> Pose:
    """a ∘ b: the pose b (given in the frame a is expressed in) mapped through a. (3,)"""
    ax, ay, ayaw = (float(v) for v in a)
    bx, by, byaw = (float(v) for v in b)
    c, s = math.cos(ayaw), math.sin(ayaw)
    return np.array([ax + c * bx - s * by, ay + s * bx + c * by, wrap_angle(ayaw + byaw)])


def inverse(a) -> Pose:
    """The inverse transform of a: compose(a, inverse(a)) == identity. (3,)"""
    ax, ay, ayaw = (float(v) for v in a)
    c, s = math.cos(ayaw), math.sin(ayaw)
    return np.array([-c * ax - s * ay, s * ax - c * ay, wrap_angle(-ayaw)])


def apply_points(a, xy) -> np.ndarray:
    """(..., 2) points mapped through the transform a (3,)."""
    xy = np.asarray(xy, dtype=np.float64)
    c, s = math.cos(float(a[2])), math.sin(float(a[2]))
    rot = np.array([[c, -s], [s, c]])
    return xy @ rot.T + np.asarray(a[:2], dtype=np.float64)


def interpolate(p0, p1, f: float) -> Pose:
    """The pose a fraction f of the way from p0 to p1 (yaw along the shorter arc)."""
    p0, p1 = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
    xy = p0[:2] + f * (p1[:2] - p0[:2])
    return np.array([xy[0], xy[1], wrap_angle(p0[2] + f * angle_diff(p1[2], p0[2]))])


# -- odometry history --------------------------------------------------------------------------
class PoseHistory:
    """Recent odometry poses by stamp, for pairing a localization pose taken at time t."""

    def __init__(self, max_len: int = 400):
        self.max_len = int(max_len)
        self.t: list[float] = []
        self.poses: list[np.ndarray] = []

    def add(self, t_s: float, pose) -> None:
        """Append a pose; a stamp older than the newest clears the history (time went back)."""
        if self.t and t_s < self.t[-1]:
            self.t, self.poses = [], []
        self.t.append(float(t_s))
        self.poses.append(np.asarray(pose, dtype=np.float64).copy())
        if len(self.t) > self.max_len:
            del self.t[0], self.poses[0]

    def at(self, t_s: float, tolerance_s: float) -> tuple[Pose | None, str]:
        """(pose at ``t_s`` interpolated between the two samples around it, ''), or (None,
        why): no odometry yet, or ``t_s`` more than ``tolerance_s`` outside the samples or
        between two samples more than 2 x tolerance_s apart."""
        if not self.t:
            return None, "no odometry yet"
        if not math.isfinite(t_s):
            return None, f"stamp {t_s} is not finite"
        i = bisect.bisect_left(self.t, t_s)
        if i == 0:
            gap = self.t[0] - t_s
            if gap > tolerance_s:
                return None, (f"stamp {t_s:.3f} s is {gap:.3f} s older than the oldest odometry kept "
                              f"({self.t[0]:.3f} s; tolerance {tolerance_s:g} s)")
            return self.poses[0].copy(), ""
        if i == len(self.t):
            gap = t_s - self.t[-1]
            if gap > tolerance_s:
                return None, (f"stamp {t_s:.3f} s is {gap:.3f} s newer than the latest odometry "
                              f"({self.t[-1]:.3f} s; tolerance {tolerance_s:g} s)")
            return self.poses[-1].copy(), ""
        t0, t1 = self.t[i - 1], self.t[i]
        if t1 - t0 > 2.0 * tolerance_s:
            return None, f"no odometry within {tolerance_s:g} s of stamp {t_s:.3f} s"
        f = 0.0 if t1 <= t0 else (t_s - t0) / (t1 - t0)
        return interpolate(self.poses[i - 1], self.poses[i], f), ""


# -- frame → odom ------------------------------------------------------------------------------
class FrameEstimator:
    """frame → odom transforms from localization poses paired with odometry by timestamp.

    ``update(frame, t, pose)`` pairs a localization pose (the robot's pose in ``frame`` at
    stamp t) with the odometry at t and stores frame → odom; ``lookup(frame)`` returns the
    latest. ``version`` counts the updates (a caller re-expresses its goal when it changes)."""

    def __init__(self, pair_tolerance_s: float = 0.2):
        self.pair_tolerance_s = float(pair_tolerance_s)
        self.odom = PoseHistory()
        self.transforms: dict[str, Pose] = {}
        self.stamps: dict[str, float] = {}
        self.version = 0

    def add_odom(self, t_s: float, pose) -> None:
        self.odom.add(t_s, pose)

    def update(self, frame: str, t_s: float, pose) -> str:
        """Pair a localization pose (3,) in ``frame`` at ``t_s`` with odometry; '' when stored,
        else why not (non-finite values, no odometry near the stamp)."""
        pose = np.asarray(pose, dtype=np.float64).reshape(-1)
        if pose.shape != (3,) or not np.isfinite(pose).all():
            return f"localization pose has non-finite or malformed values {pose.tolist()}"
        odom, why = self.odom.at(t_s, self.pair_tolerance_s)
        if odom is None:
            return f"localization pose not paired with odometry: {why}"
        self.transforms[frame] = compose(pose, inverse(odom))
        self.stamps[frame] = float(t_s)
        self.version += 1
        return ""

    def lookup(self, frame: str) -> Pose | None:
        """The latest frame → odom transform (the pose of odom in ``frame``), or None."""
        tr = self.transforms.get(frame)
        return None if tr is None else tr.copy()


@dataclass
class FrameGoal:
    """A goal as given: x, y (m) and yaw (rad, or None) in ``frame``; ``received_s`` is the
    monotonic time it arrived (for the transform timeout)."""

    frame: str
    x: float
    y: float
    yaw: float | None = None
    received_s: float = 0.0

    def in_odom(self, frame_to_odom) -> tuple[float, float, float | None]:
        """(x, y, yaw) in odom, given the pose of odom in ``frame`` (``frame_to_odom``)."""
        odom_from_frame = inverse(frame_to_odom)
        p = compose(odom_from_frame, (self.x, self.y, self.yaw or 0.0))
        return float(p[0]), float(p[1]), (float(p[2]) if self.yaw is not None else None)


def no_transform_reason(frame: str, odom_frame: str, waited_s: float, source: str) -> str:
    """The refusal for a goal whose frame has no transform to odom after ``waited_s``."""
    return (f"no transform from goal frame '{frame}' to odom frame '{odom_frame}' within "
            f"{waited_s:.1f} s ({source})")


class FrameResolver:
    """frame → odom for goals: identity for the odom frame ('' too), the localization estimate
    where it knows the frame, else ``tf_lookup(frame)`` (tf2, where importable; returns the
    pose of odom in ``frame`` or None). ``source`` names them for refusal messages."""

    def __init__(self, odom_frame: str, estimator: FrameEstimator, tf_lookup=None, source: str = ""):
        self.odom_frame = odom_frame
        self.estimator = estimator
        self.tf_lookup = tf_lookup
        self.source = source

    def lookup(self, frame: str) -> Pose | None:
        if frame in ("", self.odom_frame):
            return np.zeros(3)
        tr = self.estimator.lookup(frame)
        if tr is None and self.tf_lookup is not None:
            tr = self.tf_lookup(frame)
        return tr

    def resolve(self, goal: FrameGoal, now_s: float, timeout_s: float):
        """("ok", (x, y, yaw) in odom) | ("wait", why) | ("refuse", why): a goal whose frame has
        no transform waits up to ``timeout_s`` after it was received, then is refused."""
        tr = self.lookup(goal.frame)
        if tr is not None:
            return "ok", goal.in_odom(tr)
        waited = now_s - goal.received_s
        if waited >= timeout_s:
            return "refuse", no_transform_reason(goal.frame, self.odom_frame, timeout_s, self.source)
        return "wait", f"waiting for a transform from '{goal.frame}' to '{self.odom_frame}' ({self.source})"
