"""Fault injection, malformed scenario YAML (a missing field, a wrong type, an unknown robot, a start
inside an obstacle, a goal outside the arena) given to sim_node as a real process: at start-up,
and through ~/reset while a scenario runs.

load_scenario's refusals (file, field and expectation in the error, for these five and more) are
covered in test_scenario.py::test_bad_files_are_refused_with_file_field_and_expectation and
`wmp check-scenario` in test_scenario.py::test_check_scenario_cli_exit_codes.

Expected: at start-up sim_node exits with status 2 and one line naming the file and the field
(nothing is simulated); setting the ``scenario`` parameter to such a file is refused with that
message; on ~/reset (the file went bad after it was accepted) the reset is refused with that
message and the running scenario goes on untouched.
"""
from __future__ import annotations

import pytest
import yaml
from world_model_planner.testing.processes import REPO, NodeProcess
from world_model_planner.testing.scenarios import DELETE as _DELETE, with_changes as _with

pytest.importorskip("rclpy")

BAD = {
    "missing_field": (_with(start=_DELETE), "start"),
    "wrong_type": (_with(arena="big"), "arena"),
    "unknown_robot": (_with(robot="turtlebot"), "robot"),
    "start_in_obstacle": (_with(start={"x": 1.0, "y": 0.0}), "start"),
    "goal_outside_arena": (_with(goal={"x": 4.5, "y": 0.0}), "goal"),
}


@pytest.fixture
def bad_files(tmp_path):
    out = {}
    for kind, (data, field) in BAD.items():
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(data))
        out[kind] = (path, field)
    return out


def _sim(node_env, log_dir, scenario):
    log_dir.mkdir(exist_ok=True)
    return NodeProcess.executable("sim_node", ["--params-file", str(REPO / "config/sim.yaml"),
                                               "-p", f"scenario:={scenario}"], node_env, log_dir)


def test_sim_node_refuses_to_start_on_a_malformed_scenario(bad_files, node_env, tmp_path):
    sims = {kind: _sim(node_env, tmp_path / kind, path) for kind, (path, _) in bad_files.items()}
    try:
        for kind, sim in sims.items():
            path, field = bad_files[kind]
            code = sim.proc.wait(60)
            log = sim.log()
            # a string, not a tuple, so that pytest shows the whole tail (a native crash's stack too)
            assert code == 2, f"{kind}: exit status {code}; end of its log:\n{log[-4000:]}"
            line = next(ln for ln in log.splitlines() if ln.startswith("[error] sim_node:"))
            assert str(path) in line and field in line, (kind, line)
            assert "Traceback" not in log, log[-3000:]
    finally:
        for sim in sims.values():
            sim.stop()


def test_reset_to_a_malformed_scenario_is_refused_and_the_episode_goes_on(bad_files, node_env, probe, tmp_path):
    """Setting ``scenario`` to a bad file is refused at once (file and field in the reason); a
    file that goes bad after it was accepted is refused by ~/reset; the episode goes on."""
    from nav_msgs.msg import Odometry
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters
    from std_srvs.srv import Trigger

    def set_scenario(path):
        value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=str(path))
        req = SetParameters.Request(parameters=[Parameter(name="scenario", value=value)])
        return probe.call(SetParameters, "/sim_node/set_parameters", req).results[0]

    sim = _sim(node_env, tmp_path / "running", "open")
    try:
        probe.subscribe("/odom", Odometry)
        start = probe.wait_for("/odom", timeout=30.0, proc=sim)[-1]
        swap = tmp_path / "swap.yaml"
        for kind, (path, field) in bad_files.items():
            res = set_scenario(path)
            assert not res.successful and str(path) in res.reason and field in res.reason, (kind, res.reason)
            # accepted while good, then overwritten with the bad content: ~/reset refuses it
            swap.write_text((REPO / "config/scenarios/open.yaml").read_text())
            assert set_scenario(swap).successful, kind
            swap.write_text(path.read_text())
            res = probe.call(Trigger, "/sim_node/reset", Trigger.Request())
            assert not res.success, kind
            assert res.message.startswith("reset refused") and str(swap) in res.message and field in res.message, \
                (kind, res.message)
        # still the open scenario, still simulating: time goes on, the robot stays at its start
        t_last = probe.received("/odom")[-1].header.stamp.sec
        probe.clear("/odom")
        later = probe.wait_for("/odom", lambda ms: len(ms) >= 10, proc=sim)[-1]
        assert later.header.stamp.sec >= t_last
        assert abs(later.pose.pose.position.x - start.pose.pose.position.x) < 0.01
        assert sim.alive() and "Traceback" not in sim.log(), sim.log()[-3000:]
    finally:
        sim.stop()


def test_wmp_run_refuses_a_malformed_scenario_before_starting_anything(bad_files):
    from world_model_planner.testing.stack import explain, run_wmp

    for kind, (path, field) in bad_files.items():
        out = run_wmp(["run", "--scenario", str(path)], timeout_s=60)
        assert out.returncode == 2, (kind, explain(out))
        assert str(path) in out.stderr and f"field '{field}" in out.stderr, (kind, explain(out))
