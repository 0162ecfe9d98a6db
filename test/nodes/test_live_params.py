"""rosutil.LiveConfig and check_unknown_parameters on real rclpy nodes: a runtime parameter change
is applied or refused, never acknowledged and ignored; a params-file typo is an error."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from world_model_planner.core.params import ConfigError, param, validate


@dataclass
class _Limits:
    v_max_mps: float = param(1.0, "Speed limit.", range=(0.0, 2.0))
    mode: str = param("fast", "Mode.", choices=("fast", "slow"))

    def __post_init__(self):
        validate(self)


@pytest.fixture
def ctx(ros_domain):
    import rclpy

    c = rclpy.context.Context()
    rclpy.init(context=c, domain_id=ros_domain)
    yield c
    rclpy.try_shutdown(context=c)


def _node(ctx, name, **overrides):
    import rclpy

    return rclpy.create_node(name, context=ctx, parameter_overrides=[
        rclpy.parameter.Parameter(k, value=v) for k, v in overrides.items()])


def test_changes_are_applied_through_the_callback_or_refused_with_its_reason(ctx):
    from rclpy.parameter import Parameter

    from world_model_planner.core.rosutil import LiveConfig

    node = _node(ctx, "live")
    applied = []

    def apply(new, changed):
        if "lim.mode" in changed:
            return "mode is fixed while driving"
        applied.append(new["lim."].v_max_mps)
        return None

    live = LiveConfig(node, {"lim.": _Limits}, apply=apply)
    ok = node.set_parameters([Parameter("lim.v_max_mps", value=0.1)])[0]
    assert ok.successful and applied == [0.1] and live["lim."].v_max_mps == 0.1
    refused = node.set_parameters([Parameter("lim.mode", value="slow")])[0]
    assert not refused.successful and refused.reason == "mode is fixed while driving"
    assert live["lim."].mode == "fast" and node.get_parameter("lim.mode").value == "fast"
    invalid = node.set_parameters([Parameter("lim.mode", value="warp")])[0]
    assert not invalid.successful and "expected one of" in invalid.reason
    node.destroy_node()


def test_without_an_apply_hook_every_change_is_refused(ctx):
    from rclpy.parameter import Parameter

    from world_model_planner.core.rosutil import READ_AT_STARTUP, LiveConfig

    node = _node(ctx, "fixed")
    live = LiveConfig(node, {"": _Limits})
    res = node.set_parameters([Parameter("v_max_mps", value=0.5)])[0]
    assert not res.successful and res.reason == READ_AT_STARTUP
    assert live[""].v_max_mps == 1.0 and node.get_parameter("v_max_mps").value == 1.0
    node.destroy_node()


def test_unknown_and_badly_typed_overrides_are_one_line_errors(ctx):
    from world_model_planner.core.rosutil import LiveConfig, check_unknown_parameters, declare_config

    node = _node(ctx, "typo", v_max_mp=0.3, use_sim_time=False)
    LiveConfig(node, {"": _Limits})
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) 'v_max_mp'"):
        check_unknown_parameters(node)
    node.destroy_node()
    wrong = _node(ctx, "wrongtype", v_max_mps="fast")
    with pytest.raises(ConfigError) as err:
        declare_config(wrong, _Limits)
    assert "v_max_mps" in str(err.value) and "\n" not in str(err.value)
    wrong.destroy_node()
