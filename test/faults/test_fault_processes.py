"""Fault injection, processes: a real-time sim (sim_node, cmd_timeout_s 0.5 s) driven by
planner_node through cmd_mux, with world_model_node monitoring, all real processes.

- planner_node SIGKILLed mid-episode: the mux times the planner out (0.5 s) and sends zero, the
  robot brakes to a standstill; a restarted planner_node, given the goal again, drives again.
- world_model_node SIGKILLed: it is not in the control loop (the planner holds its own model), so
  driving goes on; a restarted world_model_node reports diagnostics again.
- sim ~/reset in the middle of a plan: /clock jumps back to 0 and the robot back to the start;
  planner_node, cmd_mux and world_model_node survive, and the planner drives to the goal again.
"""
from __future__ import annotations

import math
import time

import pytest
from world_model_planner.testing.sensors import no_traceback, stop_all, publish_goal, status_values, transition, wait_lifecycle, wait_log
from world_model_planner.testing.processes import REPO, NodeProcess

pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped, TwistStamped  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from world_model_planner.core.rosconv import stamp_to_sec

CMD_TIMEOUT_S = 0.5          # sim cmd_timeout_s and the mux's input timeouts (config/mux.yaml)
BRAKE_MPS2 = 1.5             # Husky linear acceleration limit
GOAL = (3.0, 0.0)


def _speed(o) -> float:
    return math.hypot(o.twist.twist.linear.x, o.twist.twist.angular.z)


class Stack:
    """sim_node (real time) + cmd_mux + planner_node (classic) + world_model_node, sim time."""

    def __init__(self, node_env, tmp_path, probe, ckpt_path):
        self.env, self.dir, self.probe, self.ckpt = node_env, tmp_path, probe, ckpt_path
        self.sim = NodeProcess.executable("sim_node", ["--params-file", str(REPO / "config/sim.yaml"),
                                                       "-p", "scenario:=open", "-p", f"cmd_timeout_s:={CMD_TIMEOUT_S}"],
                                          node_env, tmp_path)
        self.mux = NodeProcess.executable("cmd_mux", ["--params-file", str(REPO / "config/mux.yaml"),
                                                      "-p", "use_sim_time:=true"], node_env, tmp_path)
        self.planner = self.start_planner()
        self.wm = self.start_world_model()
        probe.subscribe("/odom", Odometry)
        probe.subscribe("/cmd_vel", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray)
        self.goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)

    def start_planner(self, n: int = 0) -> NodeProcess:
        d = self.dir / f"planner{n}"
        d.mkdir()
        return NodeProcess.executable("planner_node", [
            "-p", "use_sim_time:=true", "-p", "autostart:=true", "-p", "planner:=classic",
            "-p", "device:=cpu", "-p", "torch_threads:=1", "-p", "diagnostics_rate_hz:=10.0"], self.env, d)

    def start_world_model(self, n: int = 0) -> NodeProcess:
        d = self.dir / f"wm{n}"
        d.mkdir()
        wm = NodeProcess.executable("world_model_node", [
            "-p", "use_sim_time:=true", "-p", f"model_path:={self.ckpt}", "-p", "device:=cpu",
            "-p", "diagnostics_period_s:=0.5"], self.env, d)
        assert wait_lifecycle(self.probe, "world_model_node") == "unconfigured"
        assert transition(self.probe, "world_model_node", 1) and transition(self.probe, "world_model_node", 3), \
            wm.log()[-3000:]
        return wm

    def procs(self):
        return (self.sim, self.mux, self.planner, self.wm)

    def drive(self):
        """Send the goal until this planner_node accepted it (a killed planner's subscription
        stays matched until DDS notices), then wait until the robot drives faster than 0.3 m/s."""
        self.probe.wait_for_subscribers(self.goal_pub, timeout=30.0)
        deadline = time.monotonic() + 30.0
        while "goal accepted" not in self.planner.log():
            assert self.planner.alive(), self.planner.log()[-3000:]
            assert time.monotonic() < deadline, "planner_node took no goal in 30 s; its threads:\n" + self.planner.stacks()
            publish_goal(self.probe, self.goal_pub, *GOAL)
            time.sleep(0.5)
        return self.probe.wait_for("/odom", lambda ms: bool(ms) and ms[-1].twist.twist.linear.x > 0.3,
                                   timeout=30.0, proc=self.planner)[-1]

    def stop(self):
        stop_all(self.procs())


@pytest.fixture
def stack(node_env, tmp_path, probe, ckpt):  # noqa: F811
    s = Stack(node_env, tmp_path, probe, ckpt)
    try:
        yield s
    finally:
        s.stop()


@pytest.mark.slow
def test_planner_killed_robot_stops_restart_resumes_world_model_killed_driving_goes_on(stack, probe):
    moving = stack.drive()
    v_kill = moving.twist.twist.linear.x
    t_kill = stamp_to_sec(probe.received("/odom")[-1].header.stamp)
    stack.planner.kill()
    # the mux times the dead planner out and sends one zero command ...
    zero = probe.wait_for("/cmd_vel", lambda ms: bool(ms) and ms[-1].twist.linear.x == 0.0
                          and ms[-1].twist.angular.z == 0.0, timeout=10.0, proc=stack.sim)[-1]
    # ... and the robot brakes to a standstill and stays there
    still = probe.wait_for("/odom", lambda ms: stamp_to_sec(ms[-1].header.stamp) > t_kill and _speed(ms[-1]) < 0.01,
                           timeout=10.0, proc=stack.sim)[-1]
    stop_s = stamp_to_sec(still.header.stamp) - t_kill
    after = [o for o in probe.received("/odom") if t_kill <= stamp_to_sec(o.header.stamp) <= stamp_to_sec(still.header.stamp)]
    v_peak = max(o.twist.twist.linear.x for o in after)
    brake_s = max(stamp_to_sec(o.header.stamp) for o in after if o.twist.twist.linear.x >= v_peak - 0.02) - t_kill
    zero_s = stamp_to_sec(zero.header.stamp) - t_kill
    print(f"\nplanner SIGKILL at v={v_kill:.2f} m/s: zero command at +{zero_s:.2f} s, braking from "
          f"v={v_peak:.2f} m/s at +{brake_s:.2f} s, standstill at +{stop_s:.2f} s (sim time)")
    assert zero_s <= CMD_TIMEOUT_S + 0.15 and brake_s <= CMD_TIMEOUT_S + 0.15
    assert stop_s <= CMD_TIMEOUT_S + v_peak / BRAKE_MPS2 + 0.3
    x_still = still.pose.pose.position.x
    probe.wait_for("/odom", lambda ms: stamp_to_sec(ms[-1].header.stamp) > stamp_to_sec(still.header.stamp) + 1.0, proc=stack.sim)
    assert abs(probe.received("/odom")[-1].pose.pose.position.x - x_still) < 0.01
    assert all(p.alive() for p in (stack.sim, stack.mux, stack.wm))

    stack.planner = stack.start_planner(1)      # restart: it comes up, takes the goal, drives again
    stack.drive()

    t_wm = stamp_to_sec(probe.received("/odom")[-1].header.stamp)
    stack.wm.kill()
    probe.wait_for("/odom", lambda ms: stamp_to_sec(ms[-1].header.stamp) > t_wm + 1.0, proc=stack.sim)
    after = [o for o in probe.received("/odom") if stamp_to_sec(o.header.stamp) > t_wm]
    assert min(o.twist.twist.linear.x for o in after) > 0.2     # not in the control loop: driving goes on
    stack.wm = stack.start_world_model(1)
    probe.clear("/diagnostics")
    probe.wait_for("/diagnostics", lambda ms: status_values(ms, "world_model") != {}, timeout=20.0, proc=stack.wm)
    for p in stack.procs():
        assert p.alive() and no_traceback(p), p.log()[-3000:]


def test_sim_reset_mid_plan_clock_jumps_back_nodes_survive_and_drive_again(stack, probe):
    x0 = stack.drive().pose.pose.position.x
    probe.wait_for("/odom", lambda ms: ms[-1].pose.pose.position.x > x0 + 1.0, timeout=20.0, proc=stack.planner)
    t_before = stamp_to_sec(probe.received("/odom")[-1].header.stamp)
    x_before = probe.received("/odom")[-1].pose.pose.position.x
    res = probe.call(Trigger, "/sim_node/reset", Trigger.Request())
    assert res.success, res.message
    probe.clear("/odom")
    first = probe.wait_for("/odom", proc=stack.sim)[0]
    assert stamp_to_sec(first.header.stamp) < t_before            # /clock went backwards
    assert first.pose.pose.position.x < x_before - 0.3  # robot back at the start
    # the planner still has its goal and drives the robot there again
    probe.wait_for("/odom", lambda ms: bool(ms) and ms[-1].twist.twist.linear.x > 0.3, timeout=20.0,
                   proc=stack.planner)
    probe.wait_for("/odom", lambda ms: bool(ms) and ms[-1].pose.pose.position.x > first.pose.pose.position.x + 1.0,
                   timeout=20.0, proc=stack.planner)
    # world_model_node saw time run backwards, restarted its history, and keeps reporting
    probe.clear("/diagnostics")
    probe.wait_for("/diagnostics", lambda ms: status_values(ms, "world_model") != {}, timeout=20.0, proc=stack.wm)
    wait_log(stack.sim, "reset open")
    for p in stack.procs():
        assert p.alive() and no_traceback(p), p.log()[-3000:]
    # after the jump the mux's sim-time timeout still works: kill the planner, the robot stops
    t_kill = stamp_to_sec(probe.received("/odom")[-1].header.stamp)
    stack.planner.kill()
    still = probe.wait_for("/odom", lambda ms: stamp_to_sec(ms[-1].header.stamp) > t_kill and _speed(ms[-1]) < 0.01,
                           timeout=10.0, proc=stack.sim)[-1]
    print(f"\nafter the reset: planner SIGKILL → standstill at +{stamp_to_sec(still.header.stamp) - t_kill:.2f} s (sim time)")
    assert stamp_to_sec(still.header.stamp) - t_kill <= CMD_TIMEOUT_S + 1.0 / BRAKE_MPS2 + 0.3


def test_clock_jumping_backwards_planner_and_world_model_keep_going(node_env, probe, tmp_path, ckpt):  # noqa: F811
    """/clock (and the sensor stamps) jump 60 s back, as when a recording loops: planner_node plans
    on, its stale-data watchdog still stops the robot afterwards, world_model_node keeps reporting."""
    from world_model_planner.testing.sensors import SensorFeed, moving, zeros_after

    planner = NodeProcess.executable("planner_node", [
        "-p", "use_sim_time:=true", "-p", "autostart:=true", "-p", "planner:=classic", "-p", "device:=cpu",
        "-p", "torch_threads:=1", "-p", "diagnostics_rate_hz:=10.0"], node_env, tmp_path)
    wm = NodeProcess.executable("world_model_node", [
        "-p", "use_sim_time:=true", "-p", f"model_path:={ckpt}", "-p", "device:=cpu",
        "-p", "diagnostics_period_s:=0.5"], node_env, tmp_path)
    feed = SensorFeed(probe, sim_time_s=100.0).start()
    try:
        probe.subscribe("/cmd_vel_nav", TwistStamped)
        probe.subscribe("/diagnostics", DiagnosticArray)
        assert transition(probe, "world_model_node", 1) and transition(probe, "world_model_node", 3), wm.log()
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", 10)
        probe.wait_for_subscribers(goal_pub, timeout=30.0)
        publish_goal(probe, goal_pub, 3.0, 0.0)
        probe.wait_for("/cmd_vel_nav", lambda ms: any(moving(m) for m in ms), timeout=30.0, proc=planner)

        feed.sim_time_s = 40.0                                   # 60 s back
        probe.clear("/cmd_vel_nav")
        after = probe.wait_for("/cmd_vel_nav", lambda ms: sum(moving(m) and stamp_to_sec(m.header.stamp) < 60.0
                                                              for m in ms) >= 5, timeout=10.0, proc=planner)
        assert all(stamp_to_sec(m.header.stamp) < 60.0 for m in after[-5:])  # stamped with the new time
        probe.clear("/diagnostics")
        probe.wait_for("/diagnostics", lambda ms: any(
            st.name == "world_model" and stamp_to_sec(a.header.stamp) < 60.0 for a in ms for st in a.status),
            timeout=10.0, proc=wm)

        feed.sensors_on = False                                  # /clock goes on, sensors stop
        probe.clear("/cmd_vel_nav")
        probe.wait_for("/cmd_vel_nav", zeros_after(3), timeout=10.0, proc=planner)
        probe.wait_for("/diagnostics", lambda ms: status_values(ms, "planner").get("state") == "stopped",
                       proc=planner)
        for p in (planner, wm):
            assert p.alive() and no_traceback(p), p.log()[-3000:]
    finally:
        feed.stop()
        stop_all((planner, wm))
