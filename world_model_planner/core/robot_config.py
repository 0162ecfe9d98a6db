"""Robot description files (config/robots/*.yaml) and their mapping onto planner parameters.

A robot file describes what the planner must respect on a real robot::

    name: husky                       # [a-z0-9_]+
    allow_reverse: false              # optional: the base drives both ways (rear sensing), so
                                      # reversing is as good as forward (default false:
                                      # forward preferred, reverse for short manoeuvres only)
    limits:
      v_min_mps: -0.5                 # most negative (reverse) linear speed, <= 0
      v_max_mps: 1.0                  # highest forward speed, > 0
      w_max_radps: 1.5                # largest |yaw rate|
      accel_v_mps2: 1.5               # linear acceleration limit
      accel_w_radps2: 3.0             # angular acceleration limit
    footprint:
      length_m: 0.99                  # along x (forward), centred on base_link
      width_m: 0.67                   # along y
      radius_m: 0.6                   # circumscribed radius (>= half the longer side)
      inflation_radius_m: 0.4         # optional: clearance the global path keeps from
                                      # obstacles (default: width_m / 2 + 0.065)
      shape: rectangle                # optional: rectangle (default) or round (a circle of
                                      # diameter max(length_m, width_m), e.g. the TurtleBot 4)
    planner:                          # optional: planner_node parameters tuned for this robot
      critics.footprint_exact: true   # (names as in docs/parameters.md: section.name; the
                                      # planner refuses unknown names and out-of-range values)

:func:`planner_params` turns it into planner_node parameter values (names from
planner_node's MPPIConfig, CriticsConfig and SubgoalConfig, with their ROS prefixes), which
robot.launch.py hands to the planner. No rclpy, no ROS.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from world_model_planner.core import paths
from world_model_planner.core.safeio import InputError, clip, is_file, load_yaml

#: Robot files are a few hundred bytes; these caps leave room and stop bombs.
ROBOT_MAX_BYTES = 64 * 1024
ROBOT_MAX_NODES = 1000


def _short(text, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


class RobotConfigError(InputError):
    """A robot file that cannot be used: names the file, the field and what was expected.

    One line; the bad value is quoted through ``safeio.clip`` (a bounded prefix)."""

    def __init__(self, source, field: str, expected: str, got=None):
        self.source, self.field = _short(source, 200), _short(field, 80)
        tail = f", got {clip(got)}" if got is not None else ""
        super().__init__(" ".join(f"{self.source}: '{self.field}': expected {expected}{tail}".split()))


@dataclass(frozen=True)
class RobotConfig:
    name: str
    v_min_mps: float
    v_max_mps: float
    w_max_radps: float
    accel_v_mps2: float
    accel_w_radps2: float
    length_m: float
    width_m: float
    radius_m: float
    inflation_radius_m: float
    source: str = ""
    round_base: bool = False          # footprint.shape: round
    allow_reverse: bool = False
    planner: tuple = ()               # ((planner parameter, value), ...) from the ``planner:`` section


# robot field -> planner_node ROS parameter (prefix + field of planner_node/config.py SECTIONS:
# MPPIConfig under "mppi.", CriticsConfig under "critics.", SubgoalConfig under "subgoal.")
PLANNER_PARAMS = {
    "name": "robot",
    "v_min_mps": "mppi.v_min_mps",
    "v_max_mps": "mppi.v_max_mps",
    "w_max_radps": "mppi.w_max_radps",
    "accel_v_mps2": "mppi.accel_v_mps2",
    "accel_w_radps2": "mppi.accel_w_radps2",
    "length_m": "critics.footprint_length_m",
    "width_m": "critics.footprint_width_m",
    "inflation_radius_m": "subgoal.inflation_radius_m",
    "round_base": "critics.footprint_round",
}

_LIMITS = {  # field: (low, high, what) — physical sanity bounds
    "v_min_mps": (-10.0, 0.0, "a number in [-10, 0] (m/s; reverse speed, 0 = no reversing)"),
    "v_max_mps": (1e-3, 10.0, "a number in (0, 10] (m/s)"),
    "w_max_radps": (1e-3, 20.0, "a number in (0, 20] (rad/s)"),
    "accel_v_mps2": (1e-3, 50.0, "a number in (0, 50] (m/s^2)"),
    "accel_w_radps2": (1e-3, 100.0, "a number in (0, 100] (rad/s^2)"),
}
_FOOTPRINT = {
    "length_m": (0.01, 10.0, "a number in (0, 10] (m)"),
    "width_m": (0.01, 10.0, "a number in (0, 10] (m)"),
    "radius_m": (0.005, 10.0, "a number in (0, 10] (m)"),
    "inflation_radius_m": (0.0, 10.0, "a number in [0, 10] (m)"),
}


def robot_file(name_or_path: str) -> Path:
    """'husky' → config/robots/husky.yaml; a path (with / or .yaml) is used as it is."""
    text = str(name_or_path)
    if "/" in text or text.endswith((".yaml", ".yml")):
        return Path(text).expanduser()
    return paths.robots_dir() / f"{text}.yaml"


def available_robots() -> list[str]:
    return sorted(p.stem for p in paths.robots_dir().glob("*.yaml"))


def load_robot(name_or_path: str) -> RobotConfig:
    """Read and validate a robot file (see module docstring). Raises RobotConfigError."""
    path = robot_file(name_or_path)
    if not is_file(path):
        raise RobotConfigError(path, "file", f"an existing robot YAML (shipped: {available_robots()})")
    try:
        doc = load_yaml(path, what="robot file", max_bytes=ROBOT_MAX_BYTES, max_nodes=ROBOT_MAX_NODES)
    except InputError as exc:
        text = str(exc)
        text = text[len(str(path)) + 2:] if text.startswith(f"{path}: ") else text
        raise RobotConfigError(path, "file", f"valid YAML ({text})") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise RobotConfigError(path, "file", f"valid YAML values ({type(exc).__name__}: "
                                             f"{clip(str(exc), 120)})") from None
    return parse_robot(doc, path)


def parse_robot(doc, source="<robot>") -> RobotConfig:
    if not isinstance(doc, dict):
        raise RobotConfigError(source, "(top level)", "a mapping with name, limits, footprint", doc)
    name = doc.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
        raise RobotConfigError(source, "name", "a string matching [a-z0-9_]+", name)
    values = {}
    for section, fields in (("limits", _LIMITS), ("footprint", _FOOTPRINT)):
        block = doc.get(section)
        if not isinstance(block, dict):
            raise RobotConfigError(source, section, f"a mapping with {sorted(fields)}", block)
        unknown = sorted(map(str, set(block) - set(fields) - ({"shape"} if section == "footprint" else set())))
        if unknown:
            raise RobotConfigError(source, f"{section}.{_short(unknown[0], 40)}", f"one of {sorted(fields)}")
        for key, (lo, hi, what) in fields.items():
            value = block.get(key)
            if value is None and key == "inflation_radius_m":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    (isinstance(value, int) and abs(value) > 10 ** 6) or \
                    not math.isfinite(value) or not lo <= value <= hi or (lo > 0 and value <= 0):
                raise RobotConfigError(source, f"{section}.{key}", what, value)
            values[key] = float(value)
    shape = doc["footprint"].get("shape", "rectangle")
    if shape not in ("rectangle", "round"):
        raise RobotConfigError(source, "footprint.shape", "rectangle or round", shape)
    values["round_base"] = shape == "round"
    values.setdefault("inflation_radius_m", round(values["width_m"] / 2.0 + 0.065, 3))
    half = max(values["length_m"], values["width_m"]) / 2.0  # a round robot: radius = half side
    if values["radius_m"] < half - 1e-3:
        raise RobotConfigError(source, "footprint.radius_m",
                               f"at least half the footprint's longer side ({half:.3f} m)",
                               values["radius_m"])
    allow_reverse = doc.get("allow_reverse", False)
    if not isinstance(allow_reverse, bool):
        raise RobotConfigError(source, "allow_reverse", "true or false", allow_reverse)
    return RobotConfig(name=name, source=str(source), allow_reverse=allow_reverse,
                       planner=_planner_section(doc.get("planner", {}), source), **values)


#: At most this many planner parameters in a robot file's ``planner:`` section.
PLANNER_SECTION_MAX = 64


def _planner_section(block, source) -> tuple:
    """The ``planner:`` section: {[section.]name: a number, true/false, a short string or a list of
    short strings} → ((name, value), ...). Whether the name exists and the value is in range is
    the planner's check (its parameter declarations), not this file's."""
    if block is None:
        return ()
    if not isinstance(block, dict) or len(block) > PLANNER_SECTION_MAX:
        raise RobotConfigError(source, "planner", f"a mapping of at most {PLANNER_SECTION_MAX} planner parameters "
                                                  "([section.]name: value)", block)
    out = []
    for key, value in block.items():
        if not isinstance(key, str) or not re.fullmatch(r"(?:[a-z_]{1,40}\.)?[a-z0-9_]{1,80}", key):
            raise RobotConfigError(source, f"planner.{_short(key, 40)}", "a planner parameter name, section.name "
                                                                         "(e.g. critics.footprint_exact) or a "
                                                                         "top-level one (e.g. model_scene)")
        ok = isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)
                                         and abs(value) <= 1e9) \
            or (isinstance(value, str) and len(value) <= 200) \
            or (isinstance(value, list) and len(value) <= 64 and all(isinstance(v, str) and len(v) <= 80
                                                                      for v in value))
        if not ok:
            raise RobotConfigError(source, f"planner.{key}", "a finite number, true/false, a string or a list of "
                                                             "strings", value)
        out.append((key, list(value) if isinstance(value, list) else value))
    return tuple(out)


def planner_params(robot: RobotConfig) -> dict:
    """planner_node parameter values for ``robot`` (see PLANNER_PARAMS)."""
    data = asdict(robot)
    out = {param: data[field] for field, param in PLANNER_PARAMS.items()}
    # direction: forward preferred unless the base drives both ways
    out.update({"critics.prefer_forward_enabled": not robot.allow_reverse,
                "critics.path_angle_reverse_ok": robot.allow_reverse})
    out.update(dict(robot.planner))          # the robot's own tuning last: it wins
    return out
