"""Angles and planar frames: the one home for angle wrapping and yaw <-> quaternion.

Pure math (no rclpy, no message classes). Works on Python floats, numpy arrays and torch
tensors; torch is never imported here, so the ground floor stays light.
"""
from __future__ import annotations

import math

import numpy as np

TWO_PI = 2.0 * math.pi


def wrap_angle(a):
    """Wrap radians to [-pi, pi).

    ``a``: a float (returns a float), an array-like (returns an ndarray of the same shape) or a
    torch tensor (returns a tensor; differentiable almost everywhere).
    """
    if isinstance(a, (float, int)):
        return (a + math.pi) % TWO_PI - math.pi
    if _is_tensor(a):
        return (a + math.pi).remainder(TWO_PI) - math.pi
    return (np.asarray(a) + math.pi) % TWO_PI - math.pi


def angle_diff(a, b):
    """The signed difference ``a - b`` wrapped to [-pi, pi) (same types as :func:`wrap_angle`)."""
    return wrap_angle(a - b)


def yaw_from_quaternion(x: float, y: float, z: float, w: float) -> float:
    """Rotation about z (rad) of the unit quaternion (x, y, z, w) (REP-103, ZYX yaw)."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def quaternion_from_yaw(yaw: float) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation by ``yaw`` (rad) about z."""
    return 0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)


def _is_tensor(a) -> bool:
    return type(a).__module__.startswith("torch") and hasattr(a, "remainder")
