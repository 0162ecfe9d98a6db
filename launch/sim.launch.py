"""Simulation: sim_node (PyBullet) + world_model_node + planner_node + cmd_mux + lifecycle_manager.

    ros2 launch world_model_planner sim.launch.py scenario:=u_trap planner:=hierarchical

Then give a goal with RViz's "2D Goal Pose" (/goal_pose, frame odom). The nodes, parameters and
remappings come from world_model_planner.app.stack (the wiring `wmp run` and CI start too); the
lifecycle nodes are configured and activated by lifecycle_manager (autostart).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from world_model_planner.app.launch_args import SIM_ARGUMENTS, sim_specs


def _stack(context, *args, **kwargs):
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in SIM_ARGUMENTS}
    return [Node(**spec.launch_kwargs()) for spec in sim_specs(values)]


def generate_launch_description():
    arguments = [
        DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                              **({"choices": list(a.choices)} if a.choices else {}))
        for a in SIM_ARGUMENTS
    ]
    return LaunchDescription(arguments + [OpaqueFunction(function=_stack)])
