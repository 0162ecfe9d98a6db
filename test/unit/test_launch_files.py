"""launch/*.launch.py without upstream launch: they compile, use only the documented launch /
launch_ros API, declare the issue's arguments, and build their nodes from the same
world_model_planner.app.stack NodeSpecs that `wmp run` and the CI process tests start. Robot files
are validated and map onto parameters the planner really declares."""
from __future__ import annotations

import ast
import dataclasses
import py_compile
from pathlib import Path

import pytest
import yaml

from world_model_planner.core import paths
from world_model_planner.app.launch_args import ROBOT_ARGUMENTS, SIM_ARGUMENTS, robot_specs, sim_specs
from world_model_planner.core.robot_config import (PLANNER_PARAMS, RobotConfigError, load_robot,
                                              parse_robot, planner_params)
from world_model_planner.app.stack import has_mux, robot_stack, sim_stack

LAUNCH = {"sim": paths.launch_dir() / "sim.launch.py", "robot": paths.launch_dir() / "robot.launch.py"}
# The documented names these files may use (launch / launch_ros user API).
DOCUMENTED = {
    "launch": {"LaunchDescription"},
    "launch.actions": {"DeclareLaunchArgument", "OpaqueFunction", "IncludeLaunchDescription",
                       "GroupAction", "SetEnvironmentVariable"},
    "launch.substitutions": {"LaunchConfiguration", "PathJoinSubstitution"},
    "launch.launch_description_sources": {"PythonLaunchDescriptionSource"},
    "launch_ros.actions": {"Node", "LifecycleNode", "PushRosNamespace"},
    "launch_ros.substitutions": {"FindPackageShare"},
}


def _imports(path: Path) -> dict[str, set[str]]:
    tree = ast.parse(path.read_text(), str(path))
    out: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            out.setdefault(node.module, set()).update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                out.setdefault(a.name, set())
    return out


@pytest.mark.parametrize("kind", sorted(LAUNCH))
def test_launch_file_compiles_and_uses_documented_api_only(kind, tmp_path):
    path = LAUNCH[kind]
    py_compile.compile(str(path), cfile=str(tmp_path / "x.pyc"), doraise=True)
    imports = _imports(path)
    for module, names in imports.items():
        if module.split(".")[0] in ("launch", "launch_ros"):
            assert module in DOCUMENTED and names <= DOCUMENTED[module], (module, names)
    assert imports["world_model_planner.app.launch_args"] == {f"{kind.upper()}_ARGUMENTS", f"{kind}_specs"}
    tree = ast.parse(path.read_text())
    funcs = {f.name for f in tree.body if isinstance(f, ast.FunctionDef)}
    assert "generate_launch_description" in funcs
    assert "OpaqueFunction" in path.read_text() and "launch_kwargs()" in path.read_text()


def test_arguments_match_the_issue():
    sim = {a.name: a.default for a in SIM_ARGUMENTS}
    assert set(sim) == {"scenario", "planner", "model", "gui", "lockstep", "use_sim_time",
                        "namespace", "params_file"}
    assert sim["use_sim_time"] == "true"
    robot = {a.name: a.default for a in ROBOT_ARGUMENTS}
    assert {"odom", "scan", "image", "cmd_vel", "robot"} <= set(robot) and "scenario" not in robot
    assert robot["use_sim_time"] == "false"


def _as_data(specs):
    return [dataclasses.asdict(s) for s in specs]


def test_sim_launch_builds_the_stack_description():
    assert _as_data(sim_specs({})) == _as_data(sim_stack("open", planner="hierarchical", lockstep=False))
    values = {"scenario": "u_trap", "planner": "flat", "gui": "false", "lockstep": "true",
              "use_sim_time": "true", "namespace": "r1", "model": "/m/x.pt"}
    specs = sim_specs(values)
    assert _as_data(specs) == _as_data(sim_stack("u_trap", planner="flat", lockstep=True,
                                                 namespace="r1", model="/m/x.pt"))
    names = [s.executable for s in specs]
    assert names[0] == "sim_node" and "world_model_node" in names and "planner_node" in names
    assert "lifecycle_manager" in names
    mgr = next(s for s in specs if s.executable == "lifecycle_manager").param_values()
    assert mgr["autostart"] is True
    assert mgr["node_names"] == [s.name for s in specs if s.lifecycle]
    with pytest.raises(ValueError, match="lockstep.*'true', 'false'"):
        sim_specs({"lockstep": "maybe"})
    with pytest.raises(ValueError, match="unknown launch argument"):
        sim_specs({"scenery": "open"})
    with pytest.raises(ValueError, match="planner"):
        sim_specs({"planner": "greedy"})


def test_robot_launch_maps_topics_and_robot_limits():
    values = {"robot": "turtlebot4", "odom": "/tb/odom", "scan": "/tb/scan", "cmd_vel": "/tb/cmd_vel"}
    specs = robot_specs(values)
    tb = load_robot("turtlebot4")
    extra = {"world_model_node": {"cmd_vel_stamped": True}}
    extra.update({"cmd_mux": {"output_stamped": True}} if has_mux() else {})
    planner_extra = dict(planner_params(tb), **({} if has_mux() else {"cmd_stamped": True}))
    expected = robot_stack(robot_yaml=str(paths.robots_dir() / "turtlebot4.yaml"), odom="/tb/odom",
                           scan="/tb/scan", cmd_vel="/tb/cmd_vel",
                           extra={"planner_node": planner_extra, **extra})
    assert _as_data(specs) == _as_data(expected)
    nodes = {s.executable: s for s in specs}
    twist = {s.executable: s.param_values() for s in robot_specs(dict(values, cmd_vel_stamped="false"))}
    assert twist["world_model_node"]["cmd_vel_stamped"] is False
    assert (twist["cmd_mux"]["output_stamped"] if has_mux() else twist["planner_node"]["cmd_stamped"]) is False
    assert "sim_node" not in nodes
    planner = nodes["planner_node"].param_values()
    assert planner["mppi.v_max_mps"] == 0.31 and planner["mppi.w_max_radps"] == 1.9
    assert planner["critics.footprint_length_m"] == 0.342 and planner["use_sim_time"] is False
    assert ("odom", "/tb/odom") in nodes["world_model_node"].remappings
    with pytest.raises(RobotConfigError, match="robot YAML"):
        robot_specs({"robot": "no_such_robot"})


def test_shipped_robot_files():
    husky = load_robot("husky")
    assert (husky.v_min_mps, husky.v_max_mps, husky.w_max_radps) == (-0.5, 1.0, 1.5)
    assert (husky.accel_v_mps2, husky.accel_w_radps2) == (1.5, 3.0)
    assert (husky.length_m, husky.width_m, husky.radius_m) == (0.99, 0.67, 0.6)
    tb = load_robot("turtlebot4")
    assert tb.v_max_mps == pytest.approx(0.31) and tb.w_max_radps == pytest.approx(1.9)
    assert tb.radius_m == pytest.approx(0.17, abs=0.01)


def test_robot_file_errors_name_file_field_and_expectation(tmp_path):
    doc = yaml.safe_load((paths.robots_dir() / "husky.yaml").read_text())
    bad = dict(doc, limits=dict(doc["limits"], v_max_mps=-1.0))
    with pytest.raises(RobotConfigError, match=r"x.yaml: 'limits.v_max_mps': expected a number in \(0, 10\]"):
        parse_robot(bad, "x.yaml")
    with pytest.raises(RobotConfigError, match="limits.top_speed"):
        parse_robot(dict(doc, limits=dict(doc["limits"], top_speed=2.0)), "x.yaml")
    with pytest.raises(RobotConfigError, match="footprint.radius_m"):
        parse_robot(dict(doc, footprint=dict(doc["footprint"], radius_m=0.2)), "x.yaml")
    with pytest.raises(RobotConfigError, match="'name'"):
        parse_robot(dict(doc, name="Husky A200"), "x.yaml")
    f = tmp_path / "r.yaml"
    f.write_text("name: [unclosed\n")
    with pytest.raises(RobotConfigError, match="valid YAML"):
        load_robot(str(f))


def test_robot_parameters_are_planner_parameters():
    """Every parameter a robot file sets is a documented planner_node ROS parameter
    (prefix + field of the planner's config sections), within the planner's own ranges."""
    config = pytest.importorskip("world_model_planner.planner_node.config", reason="planner_node not in this checkout")
    declared = {prefix + f.name: f for prefix, cls in config.SECTIONS for f in dataclasses.fields(cls)}
    declared.update({f.name: f for f in dataclasses.fields(config.PlannerNodeConfig)})   # the robot's name
    assert set(PLANNER_PARAMS.values()) <= set(declared), set(PLANNER_PARAMS.values()) - set(declared)
    for robot in ("husky", "jackal", "turtlebot4"):
        for name, value in planner_params(load_robot(robot)).items():
            if isinstance(value, str):                  # the robot's name
                assert name == "robot" and value == robot
                continue
            if name == "critics.footprint_round":       # a switch: the TurtleBot 4's round base
                assert value is (robot == "turtlebot4") and isinstance(declared[name].default, bool)
                continue
            if isinstance(value, bool):                 # a switch (allow_reverse): no range
                assert isinstance(declared[name].default, bool), (robot, name, value)
                continue
            lo, hi = declared[name].metadata["range"]
            assert lo <= value <= hi, (robot, name, value)


def test_a_camera_model_gets_the_cameras_depth_where_there_is_one():
    camera_model = str(paths.models_dir() / "husky_camera.pt")
    sim = {s.executable: s.param_values() for s in sim_stack("wall", model=camera_model)}
    assert sim["sim_node"]["camera_enabled"] is True and "world_model_node" not in sim
    assert sim["planner_node"]["scan"] == "none"
    assert sim["planner_node"]["depth_topic"] == "camera/depth/image_raw"      # the sim's RGB-D camera
    robot = {s.executable: s.param_values()
             for s in robot_specs({"model": camera_model, "depth": "/oakd/stereo/image_raw"})}
    assert robot["planner_node"]["scan"] == "none" and robot["planner_node"]["depth_topic"] == "/oakd/stereo/image_raw"
    rgb_only = {s.executable: s.param_values() for s in robot_specs({"model": camera_model})}
    assert "depth_topic" not in rgb_only["planner_node"]                        # the planner's default: ''
    lidar = {s.executable: s.param_values() for s in robot_specs({"depth": "/oakd/stereo/image_raw"})}
    assert "depth_topic" not in lidar["planner_node"] and "scan" not in lidar["planner_node"]
