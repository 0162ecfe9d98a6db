"""stack.py: the node wiring as data (no processes)."""
from __future__ import annotations

from pathlib import Path

import pytest

from world_model_planner.app import stack
from world_model_planner.app.stack import NodeSpec, format_param, robot_stack, sim_stack


def by_exe(specs):
    return {s.executable: s for s in specs}


def test_nodespec_ros_args_order_and_quoting():
    spec = NodeSpec("planner_node", "planner_node", "robot1",
                    ["/x/planner.yaml", {"planner": "flat", "use_sim_time": True}, {"planner": "classic"}],
                    [("cmd_vel_nav", "/cmd_vel")], lifecycle=True)
    assert spec.fqn == "/robot1/planner_node"
    assert spec.command("/bin") == [
        "/bin/planner_node", "--ros-args", "-r", "__node:=planner_node", "-r", "__ns:=/robot1",
        "--params-file", "/x/planner.yaml", "-p", "planner:=classic", "-p", "use_sim_time:=true",
        "-r", "cmd_vel_nav:=/cmd_vel"]
    kw = spec.launch_kwargs()
    assert kw["package"] == "world_model_planner" and kw["namespace"] == "robot1"
    assert kw["remappings"] == [("cmd_vel_nav", "/cmd_vel")]


@pytest.mark.parametrize("value,text", [(True, "true"), (3, "3"), (0.5, "0.5"), ("open", "open"),
                                        ("1.5", "'1.5'"), ("", "''"), ("on", "'on'"),
                                        (["a", "b"], "[a, b]")])
def test_format_param_is_yaml(value, text):
    assert format_param(value) == text


def test_sim_stack_wiring():
    specs = sim_stack("u_trap", planner="flat", seed=4, perturb=True, lockstep=True)
    nodes = by_exe(specs)
    assert list(nodes)[0] == "sim_node"
    sim = nodes["sim_node"].param_values()
    assert sim["scenario"] == "u_trap" and sim["seed"] == 4 and sim["perturb"] is True
    assert sim["lockstep"] is True and "use_sim_time" not in sim   # the sim owns the clock
    planner = nodes["planner_node"]
    assert planner.lifecycle and nodes["world_model_node"].lifecycle
    assert planner.param_values()["planner"] == "flat"
    assert planner.param_values()["trigger"] == "odom"
    assert planner.param_values()["use_sim_time"] is True
    model = planner.param_values()["model_path"]
    assert model == nodes["world_model_node"].param_values()["model_path"]
    assert Path(model).name == "husky_default.pt"
    if stack.has_mux():
        assert "cmd_mux" in nodes and planner.remappings == []
    else:
        assert ("cmd_vel_nav", "cmd_vel") in planner.remappings
    if stack.has_lifecycle_manager():
        mgr = nodes["lifecycle_manager"].param_values()
        assert mgr["node_names"] == ["world_model_node", "planner_node"] and mgr["autostart"]
    for s in specs:      # shipped parameter files come first, explicit values last
        files = s.param_files()
        assert all(Path(f).is_file() for f in files)
        if files:
            assert isinstance(s.parameters[-1], dict)


def test_sim_stack_scenario_file_is_absolute_and_user_params_file_is_applied(tmp_path):
    scen = tmp_path / "mine.yaml"
    scen.write_text("name: mine\n")
    user = tmp_path / "params.yaml"
    user.write_text("/**:\n  ros__parameters: {}\n")
    specs = sim_stack(str(scen), params_file=str(user), lockstep=False)
    nodes = by_exe(specs)
    assert nodes["sim_node"].param_values()["scenario"] == str(scen.resolve())
    assert "trigger" not in nodes["planner_node"].param_values()
    assert all(str(user) in s.param_files() for s in specs)


def test_robot_stack_remaps_topics_and_has_no_sim():
    specs = robot_stack(odom="/husky/odom", scan="/front/scan", cmd_vel="/husky/cmd_vel",
                        namespace="r1")
    nodes = by_exe(specs)
    assert "sim_node" not in nodes
    assert all(s.namespace == "r1" for s in specs)
    planner = nodes["planner_node"]
    assert ("odom", "/husky/odom") in planner.remappings
    assert ("scan", "/front/scan") in planner.remappings
    assert planner.param_values()["use_sim_time"] is False
    limits = planner.param_values()     # the robot file's limits reach the planner
    assert limits["mppi.v_max_mps"] == 1.0 and limits["mppi.w_max_radps"] == 1.5
    out = nodes.get("cmd_mux") or planner
    assert ("cmd_vel", "/husky/cmd_vel") in out.remappings or \
        ("cmd_vel_nav", "/husky/cmd_vel") in out.remappings
    assert ("cmd_vel", "/husky/cmd_vel") in nodes["world_model_node"].remappings


def test_unknown_planner_is_refused():
    with pytest.raises(ValueError, match="hierarchical"):
        sim_stack("open", planner="greedy")


def test_a_camera_model_turns_the_camera_on_and_leaves_the_world_model_node_out(tmp_path):
    from world_model_planner.core.paths import models_dir

    camera = str(models_dir() / "husky_camera.pt")
    for specs in (sim_stack(scenario="open", model=camera), robot_stack(model=camera)):
        by_exe = {s.executable: s for s in specs}
        assert stack.WORLD_MODEL not in by_exe, [s.executable for s in specs]
        assert by_exe[stack.PLANNER].param_values()["scan"] == "none"
        assert by_exe[stack.PLANNER].param_values()["model_path"] == camera
        if stack.MANAGER in by_exe:                   # it manages the planner alone
            assert by_exe[stack.MANAGER].param_values()["node_names"] == [by_exe[stack.PLANNER].name]
    assert {s.executable: s for s in sim_stack(scenario="open", model=camera)}[stack.SIM] \
        .param_values()["camera_enabled"] is True
    # a lidar model, a classic planner, or a file that is no checkpoint: the usual stack
    for specs in (sim_stack(scenario="open"), sim_stack(scenario="open", model=camera, planner="classic")):
        by_exe = {s.executable: s for s in specs}
        assert stack.WORLD_MODEL in by_exe and "scan" not in by_exe[stack.PLANNER].param_values()
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert stack.WORLD_MODEL in {s.executable for s in sim_stack(scenario="open", model=str(junk))}
