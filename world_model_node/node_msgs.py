"""Message ↔ array translation for world_model_node (message classes only, no node)."""
from __future__ import annotations

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from world_model_planner.world_model_node.monitor import Prediction


def prediction_markers(pred: Prediction, frame_id: str, stamp, lifetime_s: float = 1.0) -> MarkerArray:
    """The predicted trajectory as a LINE_STRIP (ns 'trajectory') and one sphere per model step
    coloured green → red by P(collision) (ns 'collision')."""
    life = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1.0) * 1e9))
    line = Marker(ns="trajectory", id=0, type=Marker.LINE_STRIP, action=Marker.ADD, lifetime=life)
    line.header.frame_id, line.header.stamp = frame_id, stamp
    line.pose.orientation.w = 1.0
    line.scale.x = 0.04
    line.color = ColorRGBA(r=0.2, g=0.6, b=1.0, a=0.9)
    line.points = [Point(x=float(x), y=float(y), z=0.05) for x, y, _ in pred.poses]
    dots = Marker(ns="collision", id=1, type=Marker.SPHERE_LIST, action=Marker.ADD, lifetime=life)
    dots.header.frame_id, dots.header.stamp = frame_id, stamp
    dots.pose.orientation.w = 1.0
    dots.scale.x = dots.scale.y = dots.scale.z = 0.08
    dots.points = [Point(x=float(x), y=float(y), z=0.05) for x, y, _ in pred.poses[1:]]
    dots.colors = [ColorRGBA(r=float(p), g=float(1.0 - p), b=0.0, a=0.9) for p in pred.collision_prob]
    return MarkerArray(markers=[line, dots])
