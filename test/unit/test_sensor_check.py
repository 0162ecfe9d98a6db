"""world_model_planner.core.sensor_check: stamp ages, LaserScan header and range checks, resampling
onto a model's beam layout, odometry checks. Unit tests for the known cases, hypothesis for
"no input crashes, every answer is either usable data or a reason"."""
from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from world_model_planner.core.sensor_check import (ScanGeometry, SensorLimits, check_odom, check_quaternion,
                                              check_scan, resample_scan, stamp_age)

LIM = SensorLimits()
FULL = dict(angle_min=-math.pi, angle_max=math.pi - 2 * math.pi / 180, angle_increment=2 * math.pi / 180,
            range_min=0.05, range_max=8.0)


def scan(ranges, **over):
    h = {**FULL, **over}
    return check_scan(h["angle_min"], h["angle_max"], h["angle_increment"], h["range_min"], h["range_max"],
                      ranges, LIM)


# --- stamp_age ---------------------------------------------------------------------------------
def test_stamp_age_is_absolute_and_refuses_the_future():
    assert stamp_age(100.0, 99.5, 0.2) == (0.5, "")
    age, why = stamp_age(100.0, 100.1, 0.2)                   # slightly ahead: within tolerance
    assert why == "" and age == pytest.approx(0.1)
    age, why = stamp_age(100.0, 1e6, 0.2)                     # far in the future: refused
    assert "future" in why and age > 1e5
    assert stamp_age(100.0, math.nan, 0.2)[1] == "non-finite timestamp"
    assert stamp_age(math.inf, 1.0, 0.2)[1] == "non-finite timestamp"


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True),
       st.floats(0.0, 10.0))
def test_stamp_age_never_reports_future_data_as_fresh(now, stamp, tol):
    age, why = stamp_age(now, stamp, tol)
    assert age >= 0 or math.isnan(age) is False
    if not why:
        assert math.isfinite(now) and math.isfinite(stamp) and stamp - now <= tol
        assert age == pytest.approx(abs(now - stamp))


# --- check_scan: the headers ----------------------------------------------------------
@pytest.mark.parametrize("over, ranges, words", [
    ({"range_max": 0.0}, [1.0] * 180, "range_max"),
    ({"range_max": math.nan}, [1.0] * 180, "range_max is nan"),
    ({"angle_min": math.nan}, [1.0] * 180, "angle_min is nan"),
    ({"angle_increment": 0.0}, [1.0] * 180, "angle_increment is 0"),
    ({"range_max": 1e6}, [1.0] * 180, "exceeds max_range_m"),
    ({}, [-1.0] * 180, "beams are valid"),
    ({}, [math.nan] * 180, "beams are valid"),
    ({"angle_increment": 2 * math.pi / 100_000}, np.ones(100_000, np.float32), "max_beams"),
    ({"angle_increment": 0.1}, [1.0] * 180, "> 2π"),
    ({}, [], "no beams"),
])
def test_bad_scans_are_refused_with_a_reason(over, ranges, words):
    geom, r, why = scan(ranges, **over)
    assert geom is None and r is None and words in why


def test_big_scans_are_refused_before_their_ranges_are_read():
    class Huge:                                               # 10^9 "beams"; reading them would hang
        def __len__(self):
            return 10 ** 9

        def __iter__(self):
            raise AssertionError("ranges read")

        __array__ = __iter__

    t0 = time.perf_counter()
    geom, _, why = scan(Huge())
    assert geom is None and "max_beams" in why and time.perf_counter() - t0 < 0.01


def test_rep117_semantics_of_a_valid_scan():
    r = [1.0, math.inf, -math.inf, 20.0, math.nan, 0.01] + [2.0] * 174
    geom, out, why = scan(r)
    assert why == "" and geom.n == 180
    assert out[0] == 1.0 and out[1] == math.inf          # return; no return
    assert out[2] == 0.05                                   # -inf: closer than range_min
    assert out[3] == math.inf                               # beyond range_max: no return
    assert math.isnan(out[4]) and math.isnan(out[5])        # NaN and below range_min: invalid


@settings(max_examples=300, deadline=None)
@given(st.tuples(*[st.floats(allow_nan=True, allow_infinity=True, width=32)] * 5),
       st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=400))
def test_check_scan_never_crashes_and_answers_data_or_a_reason(header, ranges):
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # no overflow / invalid-value warnings either
        geom, r, why = check_scan(*header, ranges, LIM)
    if geom is None:
        assert r is None and why
    else:
        assert why == "" and r.shape == (len(ranges),) and geom.n == len(ranges)
        assert all(math.isfinite(v) for v in (geom.angle_min, geom.angle_increment, geom.range_min, geom.range_max))
        assert 0.0 <= geom.range_min < geom.range_max <= LIM.max_range_m
        ok = ~np.isnan(r)
        assert not (r[ok] < geom.range_min).any() and not np.isneginf(r).any()
        assert ok.mean() >= LIM.min_valid_fraction


# --- resample_scan ------------------------------------------------------------------------------
def test_resample_a_front_180_degree_scan_onto_a_360_degree_layout():
    n_in = 91                                               # -90°..+90° every 2°
    geom = ScanGeometry(-math.pi / 2, math.pi / 180 * 2, 0.05, 8.0, n_in)
    ranges = np.linspace(1.0, 2.0, n_in)
    out = resample_scan(ranges, geom, 180, -math.pi)
    ang = -math.pi + 2 * math.pi / 180 * np.arange(180)
    front = np.abs(ang) <= math.pi / 2 + 1e-9
    assert np.isnan(out[~front]).all()                      # behind the lidar: unknown, never free
    assert np.isfinite(out[front]).all()
    k = int(np.argmin(np.abs(ang)))                        # the beam straight ahead
    assert out[k] == pytest.approx(ranges[45])


def test_resample_identity_and_reversed_order():
    n = 180
    geom = ScanGeometry(-math.pi, 2 * math.pi / n, 0.05, 8.0, n)
    r = np.arange(n, dtype=float)
    assert np.array_equal(resample_scan(r, geom, n, -math.pi), r)
    # a lidar that sweeps clockwise: beam i at (π - inc) - i·inc, i.e. the same beams reversed
    inc = 2 * math.pi / n
    rev = ScanGeometry(math.pi - inc, -inc, 0.05, 8.0, n)
    assert np.array_equal(resample_scan(r[::-1].copy(), rev, n, -math.pi), r)


@settings(max_examples=200, deadline=None)
@given(st.floats(-2 * math.pi, 2 * math.pi), st.floats(1e-4, 1.0) | st.floats(-1.0, -1e-4),
       st.integers(1, 400), st.integers(1, 720))
def test_resample_never_crashes_and_takes_values_from_the_scan(angle_min, inc, n, n_out):
    if abs(inc) * (n - 1) > 2 * math.pi:
        n = max(1, int(2 * math.pi / abs(inc)))
    geom = ScanGeometry(angle_min, inc, 0.0, 8.0, n)
    r = np.arange(1, n + 1, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = resample_scan(r, geom, n_out, -math.pi)
    assert out.shape == (n_out,)
    got = out[~np.isnan(out)]
    assert np.isin(got, r).all()
    # coverage: a lidar of at least 360° leaves no output beam unknown
    if abs(inc) * n >= 2 * math.pi + 1e-9:
        assert not np.isnan(out).any()


def test_resample_tiny_increment_does_not_warn_or_crash():
    geom = ScanGeometry(0.0, 1e-300, 0.0, 8.0, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = resample_scan(np.ones(3), geom, 180, -math.pi)
    assert out.shape == (180,) and np.isnan(out).sum() >= 179


# --- odometry -----------------------------------------------------------------------------------
def test_check_odom_and_quaternion():
    assert check_odom([0, 0, 0], [0.5, 0.1], LIM) == ""
    assert "non-finite" in check_odom([math.nan, 0, 0], [0, 0], LIM)
    assert "max_speed" in check_odom([0, 0, 0], [1e3, 0], LIM)
    assert "max_position" in check_odom([1e9, 0, 0], [0, 0], LIM)
    assert check_quaternion(0, 0, 0, 1) == ""
    assert "norm" in check_quaternion(0, 0, 0, 0)
    assert "non-finite" in check_quaternion(math.nan, 0, 0, 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3),
       st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=2, max_size=2))
def test_check_odom_never_crashes(pose, vel):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        why = check_odom(pose, vel, LIM)
    if not why:
        assert all(math.isfinite(v) for v in pose + vel)


def test_ranges_that_are_not_numbers_are_refused():
    assert scan(["a"] * 180)[2] == "scan ranges are not numbers"
    assert scan(5)[2] == "scan ranges is not a sequence"
    assert "more than a full turn" in scan([1.0], angle_increment=1e10)[2]
