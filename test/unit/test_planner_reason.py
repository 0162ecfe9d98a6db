"""The planner's diagnostics reason is the current one: a sensor fault's reason goes once the data
is back and planning resumes, and a reached goal carries none. No ROS."""
from __future__ import annotations

import numpy as np

from world_model_planner.planner_node.dynamics import UnicycleModel
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import Navigator, PlannerConfig

SCAN = np.full(180, np.inf)


def test_a_stop_reason_is_cleared_when_planning_resumes_and_when_the_goal_is_reached():
    nav = Navigator("classic", UnicycleModel(), PlannerConfig(mppi=MPPIConfig(samples=64, horizon=10)))
    ok, _ = nav.set_goal(2.0, 0.0, None)
    assert ok
    nav.step([0.0, 0, 0], [0.0, 0], SCAN, 0.0)
    nav.state, nav.reason = "stopped", "sensor data 0.70 s old on /odom (max_sensor_age_s=0.5)"  # as the node does
    cmd = nav.step([0.1, 0, 0], [0.3, 0], SCAN, 0.1)
    assert cmd.state == "planning" and nav.reason == "" and cmd.reason == ""
    nav.state, nav.reason = "stopped", "sensor data 0.70 s old on /odom (max_sensor_age_s=0.5)"
    cmd = nav.step([2.0, 0, 0], [0.0, 0], SCAN, 0.2)            # the data comes back at the goal
    assert cmd.state == "reached" and nav.reason == ""
