"""Validation of sensor data at every entry (planner, world model, recorder), without rclpy.

Nothing in a message header is trusted:

- :func:`stamp_age` measures age as the *absolute* difference to the node clock and refuses
  stamps from the future beyond a tolerance, so one message stamped far ahead can no longer
  keep stale data "fresh".
- :func:`check_scan` checks a LaserScan's geometry (angles, increment, range limits, beam count)
  against sane bounds before any array is built from it, and classifies the ranges following
  REP-117 (+inf: no return; -inf: object closer than range_min; NaN, negatives and values
  outside [range_min, range_max]: invalid). A scan whose valid share is too small is refused:
  invalid scans mean stop.
- :func:`check_odom` checks that a pose and a velocity are finite and physically plausible.

Each check returns a value and a reason; the reason is ``""`` when the data is usable.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from world_model_planner.core.params import param, validate

TWO_PI = 2.0 * math.pi


@dataclasses.dataclass
class SensorLimits:
    """Bounds applied to every incoming /odom and /scan."""

    future_tolerance_s: float = param(
        0.2, "A sensor stamp further ahead of the node clock than this is refused (s).", range=(0.0, 10.0))
    max_beams: int = param(
        8192, "Most beams a LaserScan may carry; larger scans are refused unread.", range=(1, 1_000_000))
    max_range_m: float = param(
        200.0, "Largest range_max accepted in a LaserScan header (m).", range=(0.1, 10_000.0))
    min_valid_fraction: float = param(
        0.5, "Share of beams that must be valid (finite in range, or +inf = no return) for a scan "
             "to be used; below it the scan is refused and the robot stops.", range=(0.0, 1.0))
    max_speed_mps: float = param(
        20.0, "Odometry speeds above this (m/s, rad/s) are refused as implausible.", range=(0.1, 1000.0))
    max_position_m: float = param(
        1.0e5, "Odometry positions beyond this distance from the origin are refused (m).", range=(1.0, 1.0e9))

    def __post_init__(self):
        validate(self)


def stamp_age(now_s: float, stamp_s: float, future_tolerance_s: float) -> tuple[float, str]:
    """(age in s, reason). Age is ``|now - stamp|``; a stamp more than ``future_tolerance_s``
    ahead of ``now`` or a non-finite stamp is refused with a reason."""
    if not (math.isfinite(now_s) and math.isfinite(stamp_s)):
        return math.inf, "non-finite timestamp"
    d = now_s - stamp_s
    if d < -future_tolerance_s:
        return -d, f"stamp {-d:.3f} s in the future (tolerance {future_tolerance_s:g} s)"
    return abs(d), ""


@dataclasses.dataclass
class ScanGeometry:
    """The checked geometry of a LaserScan: beam i points at ``angle_min + i * angle_increment``."""

    angle_min: float
    angle_increment: float
    range_min: float
    range_max: float
    n: int

    @property
    def angles(self) -> np.ndarray:
        """(n,) beam angles in the sensor frame (rad)."""
        return self.angle_min + self.angle_increment * np.arange(self.n)

    @property
    def covers_full_circle(self) -> bool:
        """True when the beams cover 360° (within one increment)."""
        return abs(abs(self.angle_increment) * self.n - TWO_PI) <= abs(self.angle_increment) + 1e-6


def check_scan_header(angle_min, angle_max, angle_increment, range_min, range_max, n: int,
                      limits: SensorLimits) -> tuple[ScanGeometry | None, str]:
    """Check a LaserScan's header fields and beam count before touching its ranges."""
    vals = {"angle_min": angle_min, "angle_max": angle_max, "angle_increment": angle_increment,
            "range_min": range_min, "range_max": range_max}
    for k, v in vals.items():
        try:
            fv = float(v)
        except (TypeError, ValueError):
            return None, f"scan {k} is not a number"
        if not math.isfinite(fv):
            return None, f"scan {k} is {fv} (must be finite)"
        vals[k] = fv
    if n < 1:
        return None, "scan has no beams"
    if n > limits.max_beams:
        return None, f"scan has {n} beams (more than max_beams={limits.max_beams})"
    if not -TWO_PI <= vals["angle_min"] <= TWO_PI or not -TWO_PI <= vals["angle_max"] <= TWO_PI:
        return None, "scan angle_min/angle_max outside [-2π, 2π]"
    inc = vals["angle_increment"]
    if inc == 0.0:
        return None, "scan angle_increment is 0"
    if abs(inc) > TWO_PI:
        return None, f"scan angle_increment {inc:g} is more than a full turn"
    if abs(inc) * (n - 1) > TWO_PI + 1e-3:
        return None, (f"scan spans {abs(inc) * (n - 1):.3f} rad (> 2π): angle_increment {inc:g} "
                      f"does not fit {n} beams")
    if not 0.0 <= vals["range_min"] < vals["range_max"]:
        return None, (f"scan range_min={vals['range_min']:g} / range_max={vals['range_max']:g} "
                      "(need 0 <= range_min < range_max)")
    if vals["range_max"] > limits.max_range_m:
        return None, f"scan range_max={vals['range_max']:g} m exceeds max_range_m={limits.max_range_m:g}"
    return ScanGeometry(vals["angle_min"], inc, vals["range_min"], vals["range_max"], n), ""


def clean_ranges(ranges, geom: ScanGeometry, limits: SensorLimits) -> tuple[np.ndarray | None, str]:
    """(n,) ranges with REP-117 semantics made explicit, or (None, reason).

    Returns float64 ranges where +inf means no return, beyond-range_max returns become +inf,
    -inf ("too close") becomes range_min, and invalid beams (NaN, negative, below range_min)
    are NaN. Refused when fewer than ``min_valid_fraction`` of the beams are valid.
    """
    try:
        r = np.asarray(ranges, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None, "scan ranges are not numbers"
    if r.size != geom.n:
        return None, f"scan has {r.size} ranges for {geom.n} beams"
    out = r.copy()
    too_close = np.isneginf(r)
    no_return = np.isposinf(r) | (np.isfinite(r) & (r > geom.range_max))
    in_range = np.isfinite(r) & (r >= geom.range_min) & (r <= geom.range_max)
    valid = too_close | no_return | in_range
    out[no_return] = np.inf
    out[too_close] = geom.range_min
    out[~valid] = np.nan
    frac = float(valid.mean()) if r.size else 0.0
    if frac < limits.min_valid_fraction:
        return None, (f"only {100 * frac:.0f}% of {r.size} beams are valid "
                      f"(min_valid_fraction={limits.min_valid_fraction:g})")
    return out, ""


def check_scan(angle_min, angle_max, angle_increment, range_min, range_max, ranges,
               limits: SensorLimits) -> tuple[ScanGeometry | None, np.ndarray | None, str]:
    """Header check, then :func:`clean_ranges`. Returns (geometry, ranges, reason)."""
    try:
        n = len(ranges)
    except TypeError:
        return None, None, "scan ranges is not a sequence"
    geom, why = check_scan_header(angle_min, angle_max, angle_increment, range_min, range_max, n, limits)
    if geom is None:
        return None, None, why
    r, why = clean_ranges(ranges, geom, limits)
    return (geom if r is not None else None), r, why


def resample_scan(ranges: np.ndarray, geom: ScanGeometry, n_out: int, angle_min_out: float = -math.pi
                  ) -> np.ndarray:
    """Project a checked scan onto ``n_out`` beams evenly spaced over 360° from ``angle_min_out``.

    Each output beam takes the nearest input beam within half an input increment; output beams
    that no input beam covers (a lidar of less than 360°) are NaN (unknown), never "free".
    Returns (n_out,) float64.
    """
    out_ang = angle_min_out + TWO_PI / n_out * np.arange(n_out)
    step = abs(geom.angle_increment)
    # angle of each output beam past the first input beam, along the sweep, in [-step/2, 2π - step/2)
    d = (out_ang - geom.angle_min) * (1.0 if geom.angle_increment > 0 else -1.0)
    d = np.mod(d + step / 2.0, TWO_PI) - step / 2.0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        f = d / step                                                # fractional input index
    ok = np.isfinite(f) & (f > -1.0) & (f < geom.n)
    cand = np.zeros(n_out, dtype=np.int64)
    cand[ok] = np.rint(f[ok]).astype(np.int64)
    fill = ok & (cand >= 0) & (cand < geom.n) & (np.abs(f - cand) <= 0.5 + 1e-9)
    best = np.full(n_out, np.nan)
    best[fill] = np.asarray(ranges, dtype=np.float64)[cand[fill]]
    return best


def check_odom(pose, vel, limits: SensorLimits, quat=None) -> str:
    """Reason an odometry sample (pose (3,) x, y, yaw; vel (2,) v, w; optionally the orientation
    quaternion (x, y, z, w) the yaw came from, checked first) is unusable, or ``""``."""
    if quat is not None:
        why = check_quaternion(*quat)
        if why:
            return why
    p = np.asarray(pose, dtype=np.float64).reshape(-1)
    v = np.asarray(vel, dtype=np.float64).reshape(-1)
    if not (np.isfinite(p).all() and np.isfinite(v).all()):
        return "odometry has non-finite values"
    if math.hypot(p[0], p[1]) > limits.max_position_m:
        return f"odometry position {math.hypot(p[0], p[1]):.3g} m from the origin exceeds max_position_m"
    if np.abs(v).max(initial=0.0) > limits.max_speed_mps:
        return f"odometry speed {np.abs(v).max():.3g} exceeds max_speed_mps={limits.max_speed_mps:g}"
    return ""


def check_quaternion(x: float, y: float, z: float, w: float) -> str:
    """Reason a quaternion is unusable (non-finite or far from unit norm), or ``""``."""
    q = (x, y, z, w)
    if not all(math.isfinite(c) for c in q):
        return "orientation quaternion has non-finite values"
    norm = math.sqrt(sum(c * c for c in q))
    if not 0.9 <= norm <= 1.1:
        return f"orientation quaternion norm {norm:.3g} (expected 1)"
    return ""
