#!/usr/bin/env python3
"""Simulation figures for the README.

1. Headless real-time factor with the lidar on: SimWorld stepped in 0.05 s control periods,
   a 180-beam scan every 0.1 s (as sim_node does), no ROS.
2. Lockstep ticks/s over real DDS: sim_node (lockstep) in its own process, and an instant
   controller here that answers every /odom with a TwistStamped carrying the /odom stamp.

    .venv/bin/python scripts/bench_sim.py [--scenario maze] [--seconds 10] [--ticks 2000]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from world_model_planner.core import diagnostics as diag
from world_model_planner.testing.domain import DomainLease, ros_env
from world_model_planner.testing.processes import NodeProcess


def bench_world(scenario: str, sim_seconds: float) -> float:
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.sim.world import SimWorld

    w = SimWorld(load_scenario(scenario))
    n = int(round(sim_seconds / 0.05))
    t0 = time.perf_counter()
    for i in range(n):
        w.step(0.6, 0.4 if (i // 40) % 2 else -0.4, 0.05)
        if i % 2 == 1:
            w.scan()
    wall = time.perf_counter() - t0
    w.close()
    return sim_seconds / wall


def _sim_node(scenario: str, params: list[str], domain: int, log_dir: Path) -> NodeProcess:
    """sim_node with ``scenario`` and ``-p`` parameters in ``domain``, logging to log_dir/sim_node.log."""
    args = ["-p", f"scenario:={scenario}"] + [a for p in params for a in ("-p", p)]
    log_dir.mkdir(parents=True, exist_ok=True)
    return NodeProcess.executable("sim_node", args, ros_env(domain), log_dir)


def bench_lockstep(scenario: str, ticks: int, domain: int, log_dir: Path) -> tuple[float, int, float]:
    import rclpy
    from geometry_msgs.msg import TwistStamped
    from nav_msgs.msg import Odometry

    proc = _sim_node(scenario, ["lockstep:=true", "lockstep_timeout_s:=5.0"], domain, log_dir)
    rclpy.init()
    node = rclpy.create_node("bench_instant_controller")
    pub = node.create_publisher(TwistStamped, "/cmd_vel", 10)
    state = {"n": 0, "t_first": None, "t_last": None, "stamp": None}

    def on_odom(msg: Odometry):
        cmd = TwistStamped()
        cmd.header.stamp = msg.header.stamp
        cmd.twist.linear.x = 0.6
        cmd.twist.angular.z = 0.4 if (state["n"] // 40) % 2 else -0.4
        pub.publish(cmd)
        state["n"] += 1
        now = time.perf_counter()
        if state["n"] == 50:          # skip discovery and warm-up
            state["t_first"], state["cpu_first"] = now, proc.cpu_s()
        state["t_last"] = now
        if state["n"] == ticks + 50:
            state["cpu_last"] = proc.cpu_s()

    node.create_subscription(Odometry, "/odom", on_odom, 10)
    try:
        deadline = time.monotonic() + 60 + ticks / 50
        while state["n"] < ticks + 50 and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        proc.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    measured = state["n"] - 50
    if measured <= 0 or state["t_first"] is None:
        raise RuntimeError("no lockstep ticks measured: sim_node did not publish /odom")
    cpu_ms = (state.get("cpu_last", state["cpu_first"]) - state["cpu_first"]) / measured * 1e3
    return measured / (state["t_last"] - state["t_first"]), measured, cpu_ms


def bench_node_realtime(scenario: str, domain: int, log_dir: Path, wall_s: float = 8.0) -> float:
    """sim_node in real-time mode asked for 100x: the real-time factor it reports on /diagnostics."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray

    proc = _sim_node(scenario, ["realtime_factor:=100.0"], domain, log_dir)
    rclpy.init()
    node = rclpy.create_node("bench_rtf")
    got = []
    node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: got.append(
        diag.find(m, diag.SIM) or {}), 10)
    try:
        deadline = time.monotonic() + wall_s
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        proc.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    values = [v for v in (diag.SIM.realtime_factor.read(d, finite=False) for d in got[len(got) // 2:]) if v is not None]
    if not values:
        raise RuntimeError("no /diagnostics from sim_node")
    return sorted(values)[len(values) // 2]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="maze")
    ap.add_argument("--seconds", type=float, default=20.0, help="simulated seconds for the RTF figure")
    ap.add_argument("--ticks", type=int, default=2000, help="lockstep ticks to time")
    ap.add_argument("--domain", type=int, default=0, help="ROS_DOMAIN_ID (default: a free one, leased)")
    ap.add_argument("--logs", default="", help="sim_node log directory (default: a temp dir)")
    args = ap.parse_args(argv)
    lease = None
    if not args.domain:
        lease = DomainLease()
        args.domain = lease.domain_id
    log_dir = Path(args.logs or tempfile.mkdtemp(prefix="wmp-bench-sim-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(ROS_DOMAIN_ID=str(args.domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    rtf = bench_world(args.scenario, args.seconds)
    print(f"headless real-time factor, lidar on (180 beams @10 Hz), scenario {args.scenario}: {rtf:.1f}x")
    node_rtf = bench_node_realtime(args.scenario, args.domain, log_dir / "realtime")
    print(f"sim_node real-time mode asked for 100x (lidar on, publishing over DDS): {node_rtf:.1f}x")
    tps, n, cpu_ms = bench_lockstep(args.scenario, args.ticks, args.domain, log_dir / "lockstep")
    print(f"lockstep, instant controller over DDS, 0.05 s control period: {tps:.0f} ticks/s "
          f"({n} ticks; = {tps * 0.05:.1f}x real time); sim_node CPU {cpu_ms:.2f} ms/tick "
          f"(= {1e3 / max(cpu_ms, 1e-9):.0f} ticks/s on a free core)")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if lease is not None:
        lease.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
