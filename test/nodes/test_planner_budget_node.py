"""planner_node as a real process, learned planner, device auto, at a control rate it cannot
hold: the rollout path is measured and chosen at configure (logged), the adaptive budget shrinks
the samples (logged, reported on /diagnostics), commands keep coming, and switching the budget
off at runtime brings the configured samples back."""
from __future__ import annotations

import pytest
from world_model_planner.testing.processes import NodeProcess
from world_model_planner.testing.ros import set_params
from world_model_planner.testing.sensors import SensorFeed, publish_goal, status_values, wait_log

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped, TwistStamped  # noqa: E402

ARGS = ["-p", "autostart:=true", "-p", "planner:=hierarchical", "-p", "device:=auto", "-p", "torch_threads:=1",
        "-p", "trigger:=timer", "-p", "control_rate_hz:=200.0", "-p", "mppi.samples:=512",
        "-p", "budget.window:=3", "-p", "budget.min_samples:=32", "-p", "diagnostics_rate_hz:=20.0"]


def _planner(msgs) -> dict:
    return status_values(msgs, "planner")


def test_impossible_rate_reduces_the_budget_and_commands_keep_coming(node_env, probe, tmp_path):
    proc = NodeProcess.executable("planner_node", ARGS, node_env, tmp_path)
    feed = SensorFeed(probe)
    try:
        probe.subscribe("/cmd_vel_nav", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray)
        feed.start()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=30.0)
        publish_goal(probe, goal_pub, 3.0, 0.0)
        log = wait_log(proc, "planning budget reduced: 512 x 20 ->", timeout=30.0)
        assert "period 5.0 ms" in log
        assert "device auto: chose cpu " in log and "per tick's rollout at 512 x 20" in log
        probe.wait_for("/diagnostics", lambda ms: _planner(ms).get("budget_reduced") == "true", proc=proc)
        d = _planner(probe.received("/diagnostics"))
        # fewer samples, or (a cut of samples that did not pay is undone: budget.py) a shorter horizon
        samples, horizon = int(d["budget_samples"]), int(d["budget_horizon"])
        assert 32 <= samples <= 512 and horizon <= 20 and samples * horizon < 512 * 20, d
        assert float(d["period_ms"]) == pytest.approx(5.0) and float(d["tick_time_ms"]) > 0
        assert d["state"] == "planning" and d["device"].startswith("cpu")
        probe.clear("/cmd_vel_nav")
        msgs = probe.wait_for("/cmd_vel_nav", lambda ms: len(ms) >= 20, timeout=10.0, proc=proc)
        assert any(m.twist.linear.x > 0.05 for m in msgs)                   # still driving to the goal
        res = set_params(probe, "planner_node", budget__adaptive=False)     # applied at once
        assert res[0].successful, res[0].reason
        probe.clear("/diagnostics")
        probe.wait_for("/diagnostics", lambda ms: _planner(ms).get("budget_samples") == "512"
                       and _planner(ms).get("budget_reduced") == "false", proc=proc)
        res = set_params(probe, "planner_node", budget__headroom_ratio=2.0)  # above overrun_ratio: refused
        assert not res[0].successful and "headroom_ratio" in res[0].reason
    finally:
        feed.stop()
        proc.stop()
