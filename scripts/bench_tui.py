#!/usr/bin/env python3
"""Frame time of the person's terminal map (teleop.tui) for the README.

A dynamics scenario (``walkers`` by default: five people) runs in SimWorld; every 0.1 s of
simulated time the map state gets the movers' poses, a 720-beam scan around the robot and the
path so far (a long one: ``--path-points``), as the session's console fills it. Measured per
frame and terminal size:

* ``render``: teleop.tui.render, the screen's lines from the state (what the console does at
  each redraw, apart from the terminal I/O);
* ``draw``: render plus TerminalView.draw (curses on a pseudo-terminal, the colour runs and
  the bytes curses writes), measured in a child process whose terminal is a pty (``--no-curses``
  leaves it out).

The session redraws at ``session_person.DRAW_HZ``; the achievable rate is 1 / (median frame time).
Last, the redraw rate the session's loop reaches: a PersonConsole on a real rclpy node (private
domain), stepped as the session's drive loop steps it, its draws counted for ``--loop-s`` seconds.

    .venv/bin/python scripts/bench_tui.py [--scenario walkers] [--frames 300] [--path-points 3000]
"""
from __future__ import annotations

import argparse
import math
import os
import pickle
import pty
import statistics
import sys
import time

import numpy as np

SIZES = ((24, 80), (60, 200))


def frames(scenario: str, n: int, path_points: int, beams: int) -> tuple:
    """The scenario and ``n`` frames of a driven episode: (pose, scan_xy, movers, path)."""
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.sim.sensors import LidarConfig
    from world_model_planner.sim.world import SimWorld
    from world_model_planner.teleop.tui import Mover

    sc = load_scenario(scenario)
    w = SimWorld(sc, lidar=LidarConfig(beams=beams))
    ax, ay = sc.arena
    # a long path so far: a slow spiral over the arena (the person has driven a while)
    s = np.linspace(0.0, 1.0, path_points)
    path = np.c_[0.4 * ax * s * np.cos(40 * s), 0.4 * ay * s * np.sin(40 * s)]
    out = []
    try:
        for i in range(n):
            for _ in range(2):                                  # 0.1 s of simulated time
                w.step(0.5, 0.3 * math.sin(i / 20.0), 0.05)
            x, y, yaw = (float(v) for v in w.pose())
            ranges = np.asarray(w.scan(), dtype=float)
            a = w.lidar_cfg.angle_min + w.lidar_cfg.angle_increment * np.arange(len(ranges))
            ok = np.isfinite(ranges)
            scan_xy = np.c_[x + ranges[ok] * np.cos(yaw + a[ok]), y + ranges[ok] * np.sin(yaw + a[ok])]
            movers = [Mover(m.kind, float(p[0]), float(p[1]), float(p[2]),
                            *((2 * m.radius, 2 * m.radius) if m.kind == "person" else m.size))
                      for m, p in zip(w.movers.specs, w.movers.poses())]
            out.append(((x, y, yaw), scan_xy, movers, np.vstack([path, [(x, y)]])))
    finally:
        w.close()
    return sc, out


def state_for(sc, frame, t: float):
    from world_model_planner.sim.robots import ROBOTS
    from world_model_planner.teleop.tui import MapState

    spec = ROBOTS[sc.robot]
    pose, scan_xy, movers, path = frame
    return MapState(sc, (spec.length_m, spec.width_m), title=f"{sc.name} · teleop · bench", pose=pose,
                    path=path, scan_xy=scan_xy, movers=movers, sim_time_s=t, time_left_s=60.0 - t,
                    speed_mps=0.5, collisions=0, interventions=1, command="v +0.50 w +0.00 [3/5]")


def time_render(sc, fr: list, rows: int, cols: int) -> list[float]:
    from world_model_planner.teleop.tui import render

    render(state_for(sc, fr[0], 0.0), rows, cols)              # the static layer is cached per size
    out = []
    for i, f in enumerate(fr):
        st = state_for(sc, f, 0.1 * i)
        t0 = time.perf_counter()
        lines = render(st, rows, cols)
        out.append(time.perf_counter() - t0)
        assert len(lines) == rows
    return out


def time_draw_in_pty(sc, fr: list, rows: int, cols: int) -> list[float]:
    """render + TerminalView.draw per frame, in a child whose terminal is a rows x cols pty."""
    import fcntl
    import struct
    import termios

    rfd, wfd = os.pipe()
    pid, master = pty.fork()
    if pid == 0:                                                # the child: curses on the pty
        os.close(rfd)
        code = 0
        try:
            os.environ["TERM"] = "xterm-256color"
            os.environ["LINES"], os.environ["COLUMNS"] = str(rows), str(cols)
            from world_model_planner.teleop.tui import TerminalView, render

            view = TerminalView()
            try:
                times = []
                for i, f in enumerate(fr):
                    st = state_for(sc, f, 0.1 * i)
                    t0 = time.perf_counter()
                    view.draw(render(st, *view.size()))
                    times.append(time.perf_counter() - t0)
                size = view.size()
            finally:
                view.close()
            os.write(wfd, pickle.dumps((size, times)))
        except BaseException as exc:  # noqa: BLE001 - reported by the parent
            os.write(wfd, pickle.dumps(("error", repr(exc))))
            code = 1
        os._exit(code)
    os.close(wfd)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    data = b""
    while True:                                                 # drain the terminal, collect the result
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    os.close(master)
    size, times = pickle.loads(data)
    if size == "error":
        raise RuntimeError(f"curses child: {times}")
    if tuple(size) != (rows, cols):
        print(f"  (the pty came up as {size[0]}x{size[1]})")
    return times


class _CountingView:
    """TerminalView's interface, counting draws (the loop's rate, without terminal I/O)."""

    def __init__(self, rows: int, cols: int):
        self.rows, self.cols, self.draws = rows, cols, []

    def size(self):
        return self.rows, self.cols

    def draw(self, lines):
        self.draws.append(time.monotonic())

    def keys(self):
        return []

    def close(self):
        pass


def session_loop_hz(scenario: str, rows: int, cols: int, seconds: float) -> float:
    """Redraws per second of PersonConsole stepped as session._drive_loop steps it (20 ms sleeps)."""
    import rclpy

    from world_model_planner.app.session_person import PersonConsole
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.testing.domain import DomainLease

    lease = DomainLease()
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx, domain_id=lease.domain_id)
    node = rclpy.create_node("bench_tui_loop", context=ctx)
    try:
        view = _CountingView(rows, cols)
        console = PersonConsole(node, load_scenario(scenario), "bench", view=view)
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            console.step(time.monotonic(), 60.0, 0)
            time.sleep(0.02)
        d = view.draws
        return (len(d) - 1) / (d[-1] - d[0])
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
        lease.release()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="walkers")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--path-points", type=int, default=3000)
    ap.add_argument("--beams", type=int, default=720)
    ap.add_argument("--no-curses", action="store_true", help="time render() only")
    ap.add_argument("--loop-s", type=float, default=3.0, help="seconds of the session-loop rate (0: skip)")
    a = ap.parse_args(argv)
    from world_model_planner.app.session_person import DRAW_HZ

    t0 = time.perf_counter()
    sc, fr = frames(a.scenario, a.frames, a.path_points, a.beams)
    print(f"scenario {sc.name}: {len(sc.movers)} movers, {a.beams}-beam scan, path of {a.path_points} points; "
          f"{len(fr)} frames simulated in {time.perf_counter() - t0:.1f} s; the session redraws at {DRAW_HZ:g} Hz")
    print(f"{'size':>8}  {'what':>13}  {'median ms':>9}  {'p95 ms':>7}  {'max ms':>7}  {'frames/s':>8}")
    for rows, cols in SIZES:
        runs = [("render", time_render(sc, fr, rows, cols))]
        if not a.no_curses:
            runs.append(("render+curses", time_draw_in_pty(sc, fr, rows, cols)))
        for what, ts in runs:
            ms = sorted(1e3 * t for t in ts)
            med = statistics.median(ms)
            print(f"{cols:>4}x{rows:<3}  {what:>13}  {med:9.2f}  {ms[int(0.95 * (len(ms) - 1))]:7.2f}  "
                  f"{ms[-1]:7.2f}  {1e3 / med:8.0f}")
    if a.loop_s > 0:
        for rows, cols in SIZES:
            hz = session_loop_hz(a.scenario, rows, cols, a.loop_s)
            print(f"session loop at {cols}x{rows}: {hz:.1f} redraws/s (target {DRAW_HZ:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
