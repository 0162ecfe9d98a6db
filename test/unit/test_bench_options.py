"""wmp run/bench options: the planner kinds and scenario suites the CLI offers are the ones
the planner, the stack and the scenario module know; suites expand through sim.scenario.suite."""
from __future__ import annotations

import pytest

from world_model_planner.app import stack, stack_cli
from world_model_planner.planner_node.config import PlannerNodeConfig
from world_model_planner.planner_node.navigator import KINDS
from world_model_planner.sim import scenario


def test_planner_kinds_agree_everywhere():
    assert stack_cli.PLANNERS == stack.PLANNERS == KINDS
    assert "classic_id" in KINDS
    PlannerNodeConfig(planner="classic_id")
    assert tuple(stack_cli.SUITES) == tuple(scenario.SUITES)


def test_scenario_suites_expand_and_names_pass_through(capsys):
    dyn = scenario.suite("dynamics")
    got = stack_cli._scenario_list(["open,wall", "open"])
    assert got == ["open", "wall"]
    if not dyn:
        pytest.skip("no dynamics scenario file is present yet")
    loadable = []
    for name in dyn:
        try:
            scenario.load_scenario(name)
            loadable.append(name)
        except (scenario.ScenarioError, ValueError):
            pass
    if loadable != dyn:
        pytest.skip(f"dynamics scenarios that do not parse yet: {sorted(set(dyn) - set(loadable))}")
    assert stack_cli._scenario_list(["dynamics"]) == dyn
    assert stack_cli._scenario_list(["all"]) == scenario.suite("builtin") + [n for n in dyn if n not in
                                                                              scenario.suite("builtin")]


def test_bad_scenarios_and_planners_are_refused(tmp_path, capsys):
    from world_model_planner.app.cli import main

    assert stack_cli._scenario_list(["no_such_scenario"]) is None
    assert "no_such_scenario" in capsys.readouterr().err
    assert stack_cli._scenario_list([","]) is None
    assert main(["bench", "--scenarios", "open", "--planners", "classic,nope", "--out", str(tmp_path / "b")]) == 2
    assert "--planners" in capsys.readouterr().err


def test_a_bad_sysid_file_is_refused_before_any_episode(tmp_path, capsys):
    bad = tmp_path / "fit.json"
    bad.write_text("[]")
    why = stack_cli._sysid_problem(str(bad), ["classic_id"])
    assert why and "fit.json" in why and "expected a JSON object" in why
    assert stack_cli._sysid_problem(None, ["classic"]) is None
    assert stack_cli._sysid_problem(None, ["classic_id"]) is None          # the shipped fit loads
