"""The navigator's configuration (``PlannerConfig`` and its ``NavigatorConfig`` part), the planner
kinds and the ``Command`` one control tick returns. Re-exported from planner_node/navigator.py."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from world_model_planner.core.params import param, validate
from world_model_planner.planner_node.caution import CautionConfig
from world_model_planner.planner_node.critics import CriticsConfig
from world_model_planner.planner_node.goal_image import CameraPlanConfig
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.recovery import RecoveryConfig
from world_model_planner.planner_node.subgoal import SubgoalConfig
from world_model_planner.planner_node.tracking import TrackerConfig

KINDS = ("hierarchical", "flat", "classic", "classic_id")


@dataclass
class NavigatorConfig:
    goal_tolerance_m: float = param(0.3, "Default goal tolerance when a goal does not bring one (m).", range=(0.01, 10.0))
    yaw_tolerance_rad: float = param(0.4, "Heading tolerance when a goal yaw is given (rad).", range=(0.01, 3.2))
    max_goal_distance_m: float = param(25.0, "Goals farther than this from the robot are refused (m).", range=(0.1, 1000.0))
    map_range_max_m: float = param(10.0, "Longest range used to map and to build the local distance field "
                                   "(m); a scan's own range_max applies when shorter. Scan geometry "
                                   "(angle_min, angle_increment, range limits) comes from each checked "
                                   "scan header.", range=(0.5, 50.0))
    unseen_range_m: float = param(1.0, "Range fed to the learned model for beams of its layout that the lidar "
                                  "does not cover (a lidar of less than 360°): read as an obstacle this "
                                  "close, never as free space (m).", range=(0.05, 100.0))
    same_goal_tolerance_m: float = param(0.05, "A goal within this distance of the goal in force (and within "
                                         "same_goal_tolerance_rad in yaw) is a repeat and changes nothing (m).",
                                         range=(0.0, 10.0))
    same_goal_tolerance_rad: float = param(0.05, "Yaw tolerance of the repeat test (rad).", range=(0.0, 3.2))
    warm_start_keep_rad: float = param(0.5, "A new goal keeps the sampler's warm start when its bearing from "
                                       "the robot is within this of the previous goal's bearing; otherwise the "
                                       "plan restarts from zero (rad).", range=(0.0, 3.2))
    local_field_size_m: float = param(8.0, "Side of the local distance field built from the latest scan (m).", range=(1.0, 50.0))
    local_field_res_m: float = param(0.05, "Resolution of the local distance field (m).", range=(0.01, 0.5))
    drawn_rollouts: int = param(32, "Sampled trajectories returned for visualisation.", range=(0, 4096))
    tracked_scene: bool = param(True, "Learned planners (hierarchical, flat): score the footprint at the model's "
                                "predicted poses against the latest scan's static points and the tracked movers "
                                "(extrapolated at constant velocity) too, and take the smaller of that clearance and "
                                "the model's own scene prediction. Off: the model's scene prediction alone (the "
                                "last scan frozen in time for a model without a scene head).")
    model_scene: bool = param(True, "Learned planners: take the model's own scene prediction (its footprint "
                              "clearance head) into the clearance. Off: the tracked scene alone (with "
                              "tracked_scene off too, the last scan frozen in time); the Jackal's robot file "
                              "turns it off for BARN's dense cylinder fields, where the head's 16 sectors read "
                              "every gap as closed.")
    model_scene_near_movers_m: float = param(4.0, "Learned planners with model_scene on: take the model's scene "
                                             "prediction only while the tracker follows a moving obstacle within "
                                             "this distance of the robot (m, from the robot's centre to the "
                                             "obstacle's edge); elsewhere the tracked scene alone, the scan's "
                                             "static points at the model's predicted poses, which is exact for "
                                             "what does not move (a retrained model's scene head read a 1.2 m "
                                             "door as closed). 0: always, as before (with tracked_scene on).",
                                             range=(0.0, 1000.0))
    collision_near_movers_m: float = param(4.0, "Learned planners that track movers (tracked_scene on): score "
                                           "the model's collision head only while the tracker follows an "
                                           "obstacle within this distance of the robot (m, from the robot's "
                                           "centre to the obstacle's edge), or did within collision_hold_s; "
                                           "elsewhere contact is the footprint against the scan alone, exact "
                                           "for what does not move, and the rollout skips the head (a tick "
                                           "about a quarter shorter). 0: always. Near the goal "
                                           "goal_approach_m applies its own rule.", range=(0.0, 1000.0))
    collision_mover_gate_m: float = param(1.0, "Learned planners that track movers: count the collision "
                                         "head's contact probability only at predicted poses whose footprint "
                                         "is within this distance of a tracked moving obstacle extrapolated to "
                                         "that step (m); elsewhere the footprint against the scan alone, exact "
                                         "for what does not move (the head reads narrow doors as contact). "
                                         "0: wherever the head is scored.", range=(0.0, 1000.0))
    collision_hold_s: float = param(10.0, "With collision_near_movers_m > 0: keep scoring the collision head "
                                    "this long after the last tick with a tracked obstacle that near (s).",
                                    range=(0.0, 3600.0))
    goal_approach_m: float = param(1.0, "Within this distance of the final goal (m, from the robot's centre; "
                                   "0 = off) the clearance critics, the tracked scene and the stuck "
                                   "detector's route check measure the footprint's exact rectangle where the "
                                   "footprint is covering circles (which reach 0.25 m past the Husky's ends, "
                                   "so that a goal beside a wall reads as contact), and learned planners "
                                   "score the collision head only while the tracker follows an obstacle that "
                                   "near (the head reads an approach within 0.1 m of a wall as likely "
                                   "contact). Farther out the circles and the head keep their margin, which "
                                   "keeps the Husky off the cart in cart_door.", range=(0.0, 1000.0))
    history_gap_s: float = param(1.0, "A gap this long between control ticks (or time going backwards) "
                                 "clears the history of velocities, commands and scans passed to models "
                                 "that read one (s).", range=(0.01, 3600.0))

    def __post_init__(self):
        validate(self)


@dataclass
class PlannerConfig:
    """Everything a Navigator needs; each part is a documented, validated dataclass."""

    nav: NavigatorConfig = field(default_factory=NavigatorConfig)
    mppi: MPPIConfig = field(default_factory=MPPIConfig)
    critics: CriticsConfig = field(default_factory=CriticsConfig)
    subgoal: SubgoalConfig = field(default_factory=SubgoalConfig)
    tracking: TrackerConfig = field(default_factory=TrackerConfig)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    caution: CautionConfig = field(default_factory=CautionConfig)
    camera: CameraPlanConfig = field(default_factory=CameraPlanConfig)


@dataclass
class Command:
    """One control tick's output. v (m/s), w (rad/s); state
    idle|planning|recovering|reached|refused|stopped|failed;
    subgoals (K, 2) current subgoal then goal; path (P, 2) global path; best_traj (H, 3);
    sample_trajs (M, H, 3)."""

    v: float
    w: float
    state: str
    plan_ms: float = 0.0
    best_cost: float = float("nan")
    subgoals: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    best_traj: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    sample_trajs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3)))
    path: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    reason: str = ""
