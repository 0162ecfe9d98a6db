"""planner_node as a real process: the critics.critics list is a ROS string-array parameter,
read from the shipped config/planner.yaml, changed at runtime (applied through the navigator's
reconfigure), and refused with the unknown name when it names no critic."""
from __future__ import annotations

import pytest
from world_model_planner.testing.processes import NodeProcess

pytest.importorskip("rclpy")

from rcl_interfaces.srv import GetParameters, SetParameters  # noqa: E402
from rclpy.parameter import Parameter, parameter_value_to_python  # noqa: E402

from world_model_planner.core.paths import config_dir  # noqa: E402
from world_model_planner.planner_node.critics import DEFAULT_CRITICS  # noqa: E402

ARGS = ["--params-file", str(config_dir() / "planner.yaml"), "-p", "mppi.samples:=128", "-p", "torch_threads:=1",
        "-p", "device:=cpu", "-p", "autostart:=true", "-p", "planner:=classic"]


def _set(probe, **values):
    req = SetParameters.Request(parameters=[Parameter(k.replace("__", "."), value=v).to_parameter_msg()
                                            for k, v in values.items()])
    # Resending is safe: each request here sets the same values or is refused the same way.
    res = probe.call(SetParameters, "/planner_node/set_parameters", req, timeout=20.0, resend_after=3.0)
    return [(r.successful, r.reason) for r in res.results]


def _get(probe, name):
    res = probe.call(GetParameters, "/planner_node/get_parameters", GetParameters.Request(names=[name]), timeout=20.0)
    return parameter_value_to_python(res.values[0])


def test_critics_list_from_yaml_changed_live_and_unknown_names_refused(node_env, probe, tmp_path):
    proc = NodeProcess.executable("planner_node", ARGS, node_env, tmp_path)
    try:
        assert list(_get(probe, "critics.critics")) == list(DEFAULT_CRITICS), proc.log()
        ok, reason = _set(probe, critics__critics=["goal", "obstacle"])[0]
        assert not ok and "'obstacle'" in reason, reason
        assert _set(probe, critics__critics=["goal", "clearance", "effort"], critics__goal_weight=7.0) == \
            [(True, "")] * 2
        assert list(_get(probe, "critics.critics")) == ["goal", "clearance", "effort"]
        assert proc.alive(), proc.log()
        assert "Traceback" not in proc.log(), proc.log()
    finally:
        proc.stop()
