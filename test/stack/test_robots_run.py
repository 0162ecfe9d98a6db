"""`wmp run --robot R` over the real stack (sim_node, world_model_node, planner_node, mux and
lifecycle manager processes): the Jackal and the TurtleBot 4 reach the goal of the built-in
`open` scenario with the classic planner, and the flag's bad uses are refused up front."""
from __future__ import annotations

import json

import pytest

from world_model_planner.testing.stack import explain, needs_stack, run_wmp


@pytest.mark.slow
@needs_stack
@pytest.mark.parametrize("robot", ["jackal", "turtlebot4"])
def test_robot_reaches_the_open_goal_through_the_stack(tmp_path, robot):
    from world_model_planner.sim.robots import ROBOTS

    out = tmp_path / "episode.json"
    proc = run_wmp(["run", "--robot", robot, "--scenario", "open", "--planner", "classic", "--seed", "0",
                    "--json", str(out), "--log-dir", str(tmp_path / "logs")], timeout_s=420)
    assert proc.returncode == 0, explain(proc)
    rec = json.loads(out.read_text())
    assert rec["robot"] == robot and rec["scenario"] == "open"
    assert rec["success"] is True and rec["collisions"] == 0, explain(proc)
    # its own speed: no faster than the robot's top speed on average, and not crawling
    v_max = ROBOTS[robot].v_limits[1]
    mean_speed = rec["path_length_m"] / rec["time_s"]
    assert 0.3 * v_max < mean_speed <= v_max * 1.02, (robot, mean_speed)


def test_robot_flag_refuses_unknown_robots_and_other_robots_checkpoints(tmp_path):
    proc = run_wmp(["run", "--robot", "pr2", "--scenario", "open", "--planner", "classic"], timeout_s=180)
    assert proc.returncode == 2, explain(proc)
    assert "--robot 'pr2': expected one of husky, jackal, turtlebot4" in proc.stderr, explain(proc)
    proc = run_wmp(["bench", "--robot", "pr2", "--out", str(tmp_path / "b")], timeout_s=180)
    assert proc.returncode == 2 and "--robot 'pr2'" in proc.stderr, explain(proc)
    # the shipped world model learned the Husky: a learned planner will not drive the Jackal with it
    from world_model_planner.world_model_node.checkpoint import save_checkpoint
    from world_model_planner.testing.models import tiny_model

    husky = save_checkpoint(tmp_path / "husky.pt", tiny_model(), data_stats={"robots": ["husky"]})
    proc = run_wmp(["run", "--robot", "jackal", "--scenario", "open", "--planner", "flat",
                    "--model", str(husky)], timeout_s=180)
    assert proc.returncode == 2, explain(proc)
    assert "trained on husky data, not jackal" in proc.stderr and "ROBOT=jackal" in proc.stderr, explain(proc)
