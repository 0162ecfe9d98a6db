"""The world model's sensor gate: every /odom, /scan and cmd_vel sample is checked with
``world_model_planner.core.sensor_check`` before it can reach the model, and skipped ones are counted.
No rclpy: the node passes plain values taken from the messages.

Rules (bounds from :class:`~world_model_planner.core.sensor_check.SensorLimits`):

- a header stamp that is unset (0), non-finite or more than ``future_tolerance_s`` ahead of the
  node clock is refused (a command without a stamp is timed on arrival instead);
- odometry: non-finite or implausible pose or speed, a quaternion that is not a unit quaternion;
- scans: the header and beam count are checked before the ranges are read, then the ranges
  follow REP-117 (``check_scan``); a usable scan is projected onto the model's ``n_beams``
  layout (-π + i·2π/n), beams the lidar does not cover are NaN (the model reads them as no return);
- commands: non-finite values.
"""
from __future__ import annotations

import math

import numpy as np

from world_model_planner.core.sensor_check import (SensorLimits, check_odom, check_scan,
                                              resample_scan, stamp_age)

INPUTS = ("odom", "scan", "cmd")


class SensorGate:
    """Checks samples against ``limits``; ``rejected`` counts the skipped ones per input."""

    def __init__(self, limits: SensorLimits):
        self.limits = limits
        self.rejected = {k: 0 for k in INPUTS}
        self.last_reason = ""
        self._new = 0

    def _stamp_reason(self, stamp_s: float, now_s: float) -> str:
        if stamp_s == 0.0:
            return "header stamp not set (0)"
        return stamp_age(now_s, stamp_s, self.limits.future_tolerance_s)[1]

    def _refuse(self, what: str, reason: str) -> str:
        self.rejected[what] += 1
        self._new += 1
        self.last_reason = f"{what}: {reason}"
        return reason

    def odom(self, stamp_s: float, quat, pose, vel, now_s: float) -> str:
        """Reason to skip an odometry sample (pose (3,) x, y, yaw; vel (2,) v, w), or ``""``."""
        reason = self._stamp_reason(stamp_s, now_s) or check_odom(pose, vel, self.limits, quat=quat)
        return self._refuse("odom", reason) if reason else ""

    def scan(self, angle_min, angle_max, angle_increment, range_min, range_max, ranges, stamp_s: float,
             now_s: float, n_beams: int) -> tuple[np.ndarray | None, str]:
        """(n_beams,) float32 ranges on the model's layout, or (None, reason to skip the scan)."""
        reason = self._stamp_reason(stamp_s, now_s)
        if not reason:
            geom, cleaned, reason = check_scan(angle_min, angle_max, angle_increment, range_min, range_max,
                                               ranges, self.limits)
        if reason:
            return None, self._refuse("scan", reason)
        return resample_scan(cleaned, geom, n_beams, -math.pi).astype(np.float32), ""

    def command(self, stamp_s: float | None, v: float, w: float, now_s: float) -> str:
        """Reason to skip a velocity command (stamp None: timed on arrival), or ``""``."""
        if not (math.isfinite(v) and math.isfinite(w)):
            return self._refuse("cmd", "non-finite velocity command")
        reason = self._stamp_reason(stamp_s, now_s) if stamp_s is not None else ""
        return self._refuse("cmd", reason) if reason else ""

    def take_new_rejections(self) -> int:
        """Samples skipped since the last call."""
        n, self._new = self._new, 0
        return n

    def counters(self) -> dict:
        """Diagnostics values: ``rejected_<input>`` totals and ``last_rejection``."""
        return {**{f"rejected_{k}": v for k, v in self.rejected.items()}, "last_rejection": self.last_reason}
