"""launch/teleop_compare.launch.py without upstream launch: it compiles, uses only documented
launch/launch_ros names, and its nodes are the ones `wmp session` starts (plus the input device)."""
import ast
import py_compile

import pytest

from world_model_planner.app.launch_specs import TELEOP_COMPARE_ARGUMENTS, teleop_compare_specs
from world_model_planner.core import paths

DOCUMENTED = {"launch": {"LaunchDescription"},
              "launch.actions": {"DeclareLaunchArgument", "OpaqueFunction"},
              "launch.substitutions": {"LaunchConfiguration"},
              "launch_ros.actions": {"Node"}}


def test_compiles_and_uses_documented_api(tmp_path):
    path = paths.launch_dir() / "teleop_compare.launch.py"
    py_compile.compile(str(path), cfile=str(tmp_path / "x.pyc"), doraise=True)
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module.split(".")[0] in ("launch", "launch_ros"):
            assert {a.name for a in node.names} <= DOCUMENTED[node.module], node.module
    assert "generate_launch_description" in {f.name for f in tree.body if isinstance(f, ast.FunctionDef)}


def _values(**kw):
    v = {a.name: a.default for a in TELEOP_COMPARE_ARGUMENTS}
    v.update(kw)
    return v


@pytest.mark.parametrize("mode,inp,expected", [
    ("teleop", "keyboard", ["session_recorder", "sim_node", "cmd_mux", "teleop_keyboard"]),
    ("teleop", "joy", ["session_recorder", "sim_node", "cmd_mux", "joy_node", "teleop_joy"]),
    ("planner", "keyboard", ["session_recorder", "sim_node", "world_model_node", "planner_node",
                             "cmd_mux", "lifecycle_manager"]),
    ("shared", "none", ["session_recorder", "sim_node", "world_model_node", "planner_node",
                        "cmd_mux", "lifecycle_manager"]),
])
def test_nodes_per_mode(mode, inp, expected, tmp_path):
    specs = teleop_compare_specs(_values(mode=mode, input=inp, out=str(tmp_path / "s.mcap"), operator="ada"))
    assert [s.executable for s in specs] == expected
    rec = specs[0].param_values()
    assert rec["out"] == str(tmp_path / "s.mcap") and rec["mode"] == mode and rec["operator"] == "ada"
    sim = next(s for s in specs if s.executable == "sim_node").param_values()
    assert sim["lockstep"] is False                      # a person drives in real time
    for s in specs:
        kw = s.launch_kwargs()
        assert kw["executable"] == s.executable and kw["package"] in ("world_model_planner", "joy")


def test_shipped_parameter_files_match_the_configs():
    """config/mux.yaml and config/teleop.yaml name only real parameters, with valid values."""
    import dataclasses

    import yaml

    from world_model_planner.teleop.joymap import JoyConfig
    from world_model_planner.teleop.keymap import KeyboardConfig
    from world_model_planner.teleop.limiter import LimiterConfig
    from world_model_planner.teleop.mux import MuxConfig

    for fname, node, cls, section in (("mux.yaml", "cmd_mux", MuxConfig, None),
                                      ("mux.yaml", "cmd_mux", LimiterConfig, "limiter"),
                                      ("teleop.yaml", "teleop_keyboard", KeyboardConfig, None),
                                      ("teleop.yaml", "teleop_joy", JoyConfig, None)):
        values = yaml.safe_load((paths.config_dir() / fname).read_text())["/**/" + node]["ros__parameters"]
        values = values[section] if section else {k: v for k, v in values.items() if not isinstance(v, dict)}
        fields = {f.name for f in dataclasses.fields(cls)}
        assert set(values) <= fields, (fname, set(values) - fields)
        cls(**values)  # validates


def test_missing_input_device_tools_are_named():
    from world_model_planner.app.launch_specs import input_device_problem

    none = lambda _name: None          # noqa: E731 - nothing installed
    assert "xterm is not installed" in input_device_problem(_values(input="keyboard"), which=none)
    assert "joy, which is not installed" in input_device_problem(
        _values(input="joy"), which=none, has_package=lambda _p: False)
    assert input_device_problem(_values(input="joy"), which=none, has_package=lambda _p: True) is None
    assert input_device_problem(_values(mode="planner", input="keyboard"), which=none) is None
    assert input_device_problem(_values(input="keyboard"), which=lambda _n: "/usr/bin/xterm") is None
