"""Episodes with goals in the map frame, a prior map and waypoints (`wmp run --goal-frame map`,
`--prior-map`, `--waypoints FILE.yaml`).

The sim then offsets map from the scenario's world by MAP_OFFSET (``map_offset``) and publishes
a localization pose in map (LOCALIZATION_TOPIC, a little noise); the planner pairs it with
/odom by stamp for map → odom (``localization_topic``). With ``--goal-frame map`` the scenario's
goal goes out in map; with ``--prior-map`` the planner seeds its grid from the sim's /map.
Waypoint files name a frame per pose (planner_node/waypoints.py): ``odom`` is the scenario's
coordinates, ``map`` the map's (the scenario moved by MAP_OFFSET). The route goes out on
/waypoints; each ``waypoint_reached`` the planner reports in /diagnostics becomes an event of
the episode record, and the episode ends when the last one is reached.
"""
from __future__ import annotations

import re
import threading

from world_model_planner.app.stack import PLANNER, SIM
from world_model_planner.core import diagnostics as diag

#: Pose (x m, y m, yaw rad) of the scenario's world in map for `wmp run --goal-frame map`.
MAP_OFFSET = (2.0, -1.0, 0.5)
LOCALIZATION_TOPIC = "/localization_pose"
GOAL_FRAMES = ("odom", "map")
_EVENT = re.compile(r"^(\d+)/(\d+) at (-?[0-9.]+) s$")


def frame_params(goal_frame: str = "odom", prior_map: bool = False, waypoints=None) -> dict[str, dict]:
    """Per-executable parameters for a map frame in the sim stack ({} when none is needed)."""
    if goal_frame not in GOAL_FRAMES:
        raise ValueError(f"goal frame: expected one of {GOAL_FRAMES}, got {goal_frame!r}")
    if goal_frame == "odom" and not prior_map and all(g.frame == "odom" for g in waypoints or []):
        return {}
    planner = {"localization_topic": LOCALIZATION_TOPIC}
    if prior_map:
        planner["prior_map"] = True
    return {SIM: {"map_offset": list(MAP_OFFSET), "localization_rate_hz": 5.0,
                  "localization_noise_xy_m": 0.01, "localization_noise_yaw_rad": 0.005}, PLANNER: planner}


def goal_in_frame(frame: str, x: float, y: float) -> tuple[float, float]:
    """The scenario point (x, y) in ``frame`` (odom: as it is; map: moved by MAP_OFFSET)."""
    if frame == "odom":
        return float(x), float(y)
    from world_model_planner.sim.localization import MapFrame

    return MapFrame(offset=MAP_OFFSET).to_map((x, y))


def route_path(route, t_s: float):
    """Waypoints (FrameGoal: frame, x, y, yaw or None) → nav_msgs/Path stamped t_s, each pose in
    its own frame; a waypoint's yaw becomes its orientation (none: the identity)."""
    from geometry_msgs.msg import PoseStamped
    from nav_msgs.msg import Path

    from world_model_planner.core.rosconv import sec_to_stamp, set_yaw

    path = Path()
    path.header.frame_id, path.header.stamp = "odom", sec_to_stamp(t_s)
    for g in route:
        ps = PoseStamped()
        ps.header.frame_id, ps.header.stamp = g.frame, path.header.stamp
        ps.pose.position.x, ps.pose.position.y = float(g.x), float(g.y)
        set_yaw(ps.pose.orientation, 0.0 if g.yaw is None else g.yaw)
        path.poses.append(ps)
    return path


class EpisodeFrames:
    """The episode's goal frame and route on the monitor's node: sends the goal (or the route)
    and collects the planner's ``waypoint_reached`` events from /diagnostics."""

    def __init__(self, node, goal_sender, goal_frame: str = "odom", waypoints=None):
        from diagnostic_msgs.msg import DiagnosticArray
        from nav_msgs.msg import Path

        self.goal_sender, self.goal_frame = goal_sender, goal_frame
        self.route = list(waypoints) if waypoints else None
        self._lock = threading.Lock()
        self.events: list[dict] = []
        self.prior_map = ""
        self._t0 = 0.0
        self._path_pub = node.create_publisher(Path, "/waypoints", 10) if self.route else None
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 50)

    def _on_diag(self, msg) -> None:
        values = diag.find(msg, diag.PLANNER)
        if values is None:
            return
        with self._lock:
            self.prior_map = diag.PLANNER.prior_map.read(values) or self.prior_map
            m = _EVENT.match(diag.PLANNER.waypoint_reached.read(values) or "")
            if m and self.route and not any(e["waypoint"] == int(m.group(1)) for e in self.events):
                self.events.append({"waypoint": int(m.group(1)), "of": int(m.group(2)),
                                    "t_s": round(float(m.group(3)) - self._t0, 3)})

    def send(self, scenario_goal, t_s: float, t0: float) -> None:
        """The route (on /waypoints) or the scenario's goal in the goal frame, stamped t_s."""
        self._t0 = t0
        if self.route is None:
            x, y = goal_in_frame(self.goal_frame, *scenario_goal)
            self.goal_sender.send(x, y, t_s, frame=self.goal_frame)
            return
        self._path_pub.publish(route_path(self.route, t_s))

    def all_reached(self) -> bool:
        with self._lock:
            return self.route is not None and len(self.events) >= len(self.route)

    def record(self) -> dict:
        """What the episode record says about frames, the prior map and the route."""
        with self._lock:
            rec = {"goal_frame": self.goal_frame, "prior_map": self.prior_map or None}
            if self.route is not None:
                rec["waypoints"] = [[g.frame, g.x, g.y] for g in self.route]
                rec["waypoint_events"] = [dict(e, event="waypoint_reached") for e in self.events]
                rec["waypoints_reached"] = len(self.events)
            return rec
