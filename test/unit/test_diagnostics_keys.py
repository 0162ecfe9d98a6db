"""core.diagnostics: the typed keys a node publishes with are the keys a reader parses with;
core.mathutil: one angle wrap for floats, arrays and tensors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from builtin_interfaces.msg import Time

from world_model_planner.core import diagnostics as diag
from world_model_planner.core.mathutil import quaternion_from_yaw, wrap_angle, yaw_from_quaternion


def test_published_values_read_back_by_the_same_keys():
    k = diag.SIM
    arr = diag.build(k, {k.collisions: 3, k.clearance_m: 0.4213, k.in_contact: True, k.scenario: "open"},
                     Time(sec=2), diag.WARN, "in contact", hardware_id="pybullet")
    st = arr.status[0]
    assert (st.name, st.hardware_id, st.level, st.message) == ("sim", "pybullet", diag.WARN.to_bytes(1, "little"),
                                                               "in contact")
    assert {kv.key: kv.value for kv in st.values} == {"collisions": "3", "clearance_m": "0.4213",
                                                      "in_contact": "true", "scenario": "open"}
    values = diag.find(arr, diag.SIM)
    assert k.collisions.read(values) == 3 and isinstance(k.collisions.read(values), int)
    assert k.clearance_m.read(values) == pytest.approx(0.4213)
    assert k.in_contact.read(values) is True
    assert k.scenario.read(values) == "open"
    assert diag.find(arr, diag.PLANNER) is None


def test_read_refuses_missing_garbled_and_non_finite_values():
    p = diag.PLANNER
    values = {"plan_hz": "nan", "best_cost": "oops", "subgoals": "2.0"}
    assert p.plan_hz.read(values) is None
    assert math.isinf(p.plan_hz.read({"plan_hz": "inf"}, finite=False))
    assert p.best_cost.read(values) is None
    assert p.subgoals.read(values) == 2
    assert p.state.read(values) is None


@pytest.mark.parametrize("name", ["sim", "sim_node", "/ns/sim_node", "bridge: sim"])
def test_status_found_under_its_node_name(name):
    assert diag.SIM.matches(name)
    assert not diag.PLANNER.matches(name)


def test_format_value_as_the_nodes_published_it():
    assert [diag.format_value(v) for v in (True, False, 1.23456, float("nan"), 7, "x")] == \
        ["true", "false", "1.2346", "nan", "7", "x"]


def test_wrap_angle_same_for_floats_arrays_and_tensors():
    a = np.array([-7.0, -math.pi, -1.0, 0.0, 3.5, math.pi, 10.0])
    want = np.array([math.atan2(math.sin(x), math.cos(x)) for x in a])
    want[np.isclose(want, math.pi)] = -math.pi        # [-pi, pi)
    np.testing.assert_allclose(wrap_angle(a), want, atol=1e-12)
    np.testing.assert_allclose([wrap_angle(float(x)) for x in a], want, atol=1e-12)
    np.testing.assert_allclose(wrap_angle(torch.tensor(a)).numpy(), want, atol=1e-12)


def test_yaw_quaternion_round_trip():
    for yaw in np.linspace(-3.1, 3.1, 13):
        assert yaw_from_quaternion(*quaternion_from_yaw(float(yaw))) == pytest.approx(yaw, abs=1e-12)
