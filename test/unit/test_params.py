"""The documented-parameter layer: validation, tables, and declaration as real ROS parameters."""
from dataclasses import dataclass

import pytest

from world_model_planner.core.params import ConfigError, markdown_table, param, validate


@dataclass
class _Cfg:
    rate_hz: float = param(10.0, "How often.", range=(0.1, 100.0))
    mode: str = param("a", "Which mode.", choices=("a", "b"))
    beams: int = param(180, "Beams.", range=(1, 4096))

    def __post_init__(self):
        validate(self)


def test_valid_defaults_and_bad_values():
    assert _Cfg().rate_hz == 10.0
    with pytest.raises(ConfigError, match=r"_Cfg.rate_hz: expected a value in \[0.1, 100.0\], got 0.0"):
        _Cfg(rate_hz=0.0)
    with pytest.raises(ConfigError, match="_Cfg.mode: expected one of"):
        _Cfg(mode="c")
    with pytest.raises(ConfigError, match="_Cfg.rate_hz"):
        _Cfg(rate_hz=float("nan"))


def test_markdown_table_lists_every_field():
    table = markdown_table(_Cfg)
    for name in ("rate_hz", "mode", "beams"):
        assert f"`{name}`" in table
    assert "How often." in table and "[0.1, 100.0]" in table


def test_declare_config_on_a_real_node(ros_domain):
    import rclpy

    from world_model_planner.core.rosutil import declare_config

    ctx = rclpy.context.Context()
    rclpy.init(context=ctx, domain_id=ros_domain)
    try:
        node = rclpy.create_node("p", context=ctx, parameter_overrides=[
            rclpy.parameter.Parameter("rate_hz", value=20.0)])
        cfg = declare_config(node, _Cfg)
        assert cfg.rate_hz == 20.0 and cfg.beams == 180
        desc = node.describe_parameter("rate_hz")
        assert desc.description == "How often."
        assert desc.floating_point_range[0].to_value == 100.0
        node.destroy_node()
        bad = rclpy.create_node("q", context=ctx, parameter_overrides=[
            rclpy.parameter.Parameter("mode", value="zzz")])
        with pytest.raises(ConfigError, match="node 'q' parameter"):
            declare_config(bad, _Cfg)
        bad.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)


def test_node_teardown_never_hangs():
    """spin_main gives destroy_node a deadline: a node whose teardown blocks is reported, not waited on."""
    import threading

    from world_model_planner.core.rosutil import _destroy_within

    class Quick:
        destroyed = False

        def destroy_node(self):
            Quick.destroyed = True

    class Stuck:
        def __init__(self):
            self.release = threading.Event()

        def destroy_node(self):
            self.release.wait()

    assert _destroy_within(Quick(), 2.0) and Quick.destroyed
    stuck = Stuck()
    assert _destroy_within(stuck, 0.2) is False
    stuck.release.set()
