"""`wmp run --goal-frame map --prior-map --waypoints FILE`: the whole path through the real stack
(sim with a map offset and a localization pose, planner pairing it with odometry, the sim's /map
as a prior), waypoints visited in order with their events in the episode JSON; and
`wmp run --goal-frame map` with the scenario's single goal sent in map."""
from __future__ import annotations

import json
import math

import pytest

from world_model_planner.testing.stack import explain, needs_stack, run_wmp

SCENARIO = """name: small_wall
robot: husky
arena: [7.0, 5.0]
obstacles:
  - box: {center: [0.0, 0.0], size: [0.4, 2.4]}
start: {x: -2.0, y: 0.0, yaw: 0.0}
goal: {x: 2.0, y: 0.0, tolerance: 0.3}
time_limit: 30.0
"""

OPEN = """name: small_open
robot: husky
arena: [6.0, 4.0]
obstacles: []
start: {x: -1.5, y: 0.0, yaw: 0.0}
goal: {x: 1.5, y: 0.0, tolerance: 0.3}
time_limit: 20.0
"""


@pytest.mark.slow
@needs_stack
def test_wmp_run_single_goal_in_map_frame(tmp_path):
    """The goal goes out in map, offset (2, -1, 0.5) from odom: read as an odom goal it would lie
    1.8 m from the scenario's goal, beyond the arena's wall, and the episode (judged on odometry)
    would time out."""
    scen = tmp_path / "small_open.yaml"
    scen.write_text(OPEN)
    out = tmp_path / "episode.json"
    proc = run_wmp(["run", "--scenario", str(scen), "--planner", "classic", "--goal-frame", "map",
                    "--json", str(out), "--log-dir", str(tmp_path / "logs")], timeout_s=120)
    assert proc.returncode == 0, explain(proc)
    rec = json.loads(out.read_text())
    assert rec["goal_frame"] == "map" and "waypoints" not in rec, rec.get("goal_frame")
    assert rec["end_reason"] == "reached" and rec["success"] is True, explain(proc)
    # within the goal's 0.3 m tolerance (the record keeps millimetres: the last sample can sit on the
    # edge), not the 1.8 m an odom-frame reading would leave
    assert rec["final_distance_m"] <= 0.3 + 1e-3 and rec["collisions"] == 0, (rec["final_distance_m"],
                                                                            rec["collisions"])


@pytest.mark.slow
@needs_stack
def test_wmp_run_map_frame_prior_map_and_waypoints(tmp_path):
    from world_model_planner.app.episode_frames import goal_in_frame

    scen = tmp_path / "small_wall.yaml"
    scen.write_text(SCENARIO)
    mx, my = goal_in_frame("map", 1.5, 1.8)              # the second waypoint given in map
    wp = tmp_path / "wp.yaml"
    wp.write_text(f"frame: odom\nwaypoints:\n  - {{x: -1.0, y: 1.8}}\n  - {{x: {mx:.4f}, y: {my:.4f}, frame: map}}\n"
                  "  - [2.0, 0.0]\n")
    out = tmp_path / "episode.json"
    proc = run_wmp(["run", "--scenario", str(scen), "--planner", "classic", "--goal-frame", "map", "--prior-map",
                    "--waypoints", str(wp), "--json", str(out), "--log-dir", str(tmp_path / "logs")],
                   timeout_s=180)
    assert proc.returncode == 0, explain(proc)
    rec = json.loads(out.read_text())
    assert rec["goal_frame"] == "map" and rec["prior_map"].startswith("seeded"), rec.get("prior_map")
    assert rec["end_reason"] == "waypoints_reached" and rec["success"] is True, explain(proc)
    events = rec["waypoint_events"]
    assert [e["waypoint"] for e in events] == [1, 2, 3] and all(e["event"] == "waypoint_reached" for e in events)
    assert events[0]["t_s"] < events[1]["t_s"] < events[2]["t_s"]
    # at each event the robot (odometry = the scenario's coordinates here) is at that waypoint
    traj = rec["trajectory"]
    for e, (x, y) in zip(events, [(-1.0, 1.8), (1.5, 1.8), (2.0, 0.0)]):
        t, px, py, _ = min(traj, key=lambda p: abs(p[0] - e["t_s"]))
        assert math.hypot(px - x, py - y) < 0.4, (e, px, py)
    assert rec["collisions"] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("waypoints:\n  - {x: 1.0}\n")
    proc = run_wmp(["run", "--scenario", str(scen), "--waypoints", str(bad)], timeout_s=60)
    assert proc.returncode == 2 and "waypoints[0]" in proc.stderr, explain(proc)
