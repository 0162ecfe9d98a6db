"""Fault injection, malformed sensor input: NaN/inf in /odom, /scan and /goal_pose, and a scan with
the wrong number of beams, sent to planner_node and world_model_node running as real processes.

Expected: both nodes keep running; the planner sends exactly zero commands while its input is
bad (and says why in its diagnostics), refuses bad goals with a log line, and drives again once
the input is good. A scan of another beam count is not bad input: the planner projects it onto
the model's beam layout through its angle_increment and keeps driving. Untrusted scan headers
and future stamps: test_safety_planner_sensors.py. Already covered elsewhere (not repeated): a NaN goal and an out-of-area goal
refused (test_planner_node.py::test_bad_goals_refused_with_log_line), NaN odom/cmd_vel and an
empty scan ignored by world_model_node (test_world_model_node.py::test_node_predicts_and_reports_surprise),
non-finite /cmd_vel at the sim (test_sim_node.py) and at the mux (test_mux_node.py).
"""
from __future__ import annotations

import time

import pytest
from world_model_planner.testing.sensors import (FAST_PLANNER, SensorFeed, is_zero, moving, no_traceback, publish_goal,
                           status_values, transition, wait_log, zeros_after)
from world_model_planner.testing.processes import NodeProcess

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped, TwistStamped  # noqa: E402


def _planner_state(probe):
    return status_values(probe.received("/diagnostics"), "planner")


def test_nan_inf_and_wrong_beam_count_give_zero_commands_and_nodes_survive(node_env, probe, tmp_path, ckpt):  # noqa: F811
    planner = NodeProcess.executable(
        "planner_node", [*FAST_PLANNER, "-p", "autostart:=true", "-p", "planner:=flat",
                         "-p", f"model_path:={ckpt}"], node_env, tmp_path)
    wm = NodeProcess.executable("world_model_node", ["-p", f"model_path:={ckpt}", "-p", "device:=cpu",
                                                     "-p", "diagnostics_period_s:=0.5"], node_env, tmp_path)
    feed = SensorFeed(probe)
    try:
        probe.subscribe("/cmd_vel_nav", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray)
        assert transition(probe, "world_model_node", 1) and transition(probe, "world_model_node", 3), wm.log()
        feed.start()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=30.0)
        publish_goal(probe, goal_pub, 3.0, 0.0)
        probe.wait_for("/cmd_vel_nav", lambda ms: any(moving(m) for m in ms), timeout=30.0, proc=planner)

        for kind, fault, reason in (("odom", "nan", "non-finite"), ("odom", "inf", "non-finite"),
                                    ("scan", "nan", "beams are valid")):
            probe.clear("/cmd_vel_nav")
            t_fault = time.monotonic()
            setattr(feed, f"{kind}_fault", fault)
            probe.wait_for("/cmd_vel_nav", lambda ms: any(is_zero(m) for m in ms), timeout=10.0, proc=planner)
            first_zero_ms = (time.monotonic() - t_fault) * 1e3
            probe.wait_for("/cmd_vel_nav", zeros_after(10), timeout=10.0, proc=planner)
            probe.wait_for("/diagnostics", lambda ms: status_values(ms, "planner").get("state") == "stopped",
                           proc=planner)
            assert reason in _planner_state(probe)["reason"], (kind, fault, _planner_state(probe))
            print(f"\n{kind} {fault}: first zero command after {first_zero_ms:.0f} ms (wall), "
                  f"reason: {_planner_state(probe)['reason'][:90]}")
            setattr(feed, f"{kind}_fault", None)       # good data again: the planner drives again
            probe.clear("/cmd_vel_nav")
            probe.wait_for("/cmd_vel_nav", lambda ms: any(moving(m) for m in ms), timeout=10.0, proc=planner)

        # another beam count (90 over 360°) is projected onto the model's 180-beam layout: it drives
        feed.scan_fault = "beams90"
        probe.clear("/cmd_vel_nav")
        probe.wait_for("/cmd_vel_nav", lambda ms: len(ms) >= 20, timeout=10.0, proc=planner)
        assert sum(moving(m) for m in probe.received("/cmd_vel_nav")[-20:]) >= 15
        assert _planner_state(probe).get("state") == "planning", _planner_state(probe)
        feed.scan_fault = None

        for bad in ((float("inf"), 0.0), (0.0, float("-inf")), (float("nan"), float("nan"))):
            publish_goal(probe, goal_pub, *bad)
            probe.wait_for("/diagnostics", lambda ms: status_values(ms, "planner").get("state") == "refused",
                           proc=planner)
            probe.clear("/cmd_vel_nav")
            probe.wait_for("/cmd_vel_nav", zeros_after(5), timeout=10.0, proc=planner)
            publish_goal(probe, goal_pub, 3.0, 0.0)   # a good goal is taken again
            probe.wait_for("/cmd_vel_nav", lambda ms: any(moving(m) for m in ms), timeout=10.0, proc=planner)
        log = wait_log(planner, "goal refused")
        assert "non-finite" in log

        # world_model_node saw the same faults: it warned (throttled) and kept publishing
        wm_log = wait_log(wm, "skipping odom sample: odometry has non-finite values")
        assert "skipping scan sample" in wm_log
        probe.clear("/diagnostics")
        probe.wait_for("/diagnostics", lambda ms: status_values(ms, "world_model") != {}, proc=wm)
        assert planner.alive() and wm.alive()
        assert no_traceback(planner), planner.log()[-3000:]
        assert no_traceback(wm), wm.log()[-3000:]
    finally:
        feed.stop()
        planner.stop()
        wm.stop()
