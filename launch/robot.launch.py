"""Real robot: world_model_node + planner_node + cmd_mux + lifecycle_manager, no simulator.

    ros2 launch world_model_planner robot.launch.py robot:=turtlebot4 \
        odom:=/odom scan:=/scan cmd_vel:=/cmd_vel

Velocity/acceleration limits and the footprint come from the robot file (config/robots/<robot>.yaml
or a path), mapped onto planner_node parameters by world_model_planner.core.robot_config. The nodes,
parameters and remappings come from world_model_planner.app.stack (the wiring CI starts too).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from world_model_planner.app.launch_args import ROBOT_ARGUMENTS, robot_specs


def _stack(context, *args, **kwargs):
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in ROBOT_ARGUMENTS}
    return [Node(**spec.launch_kwargs()) for spec in robot_specs(values)]


def generate_launch_description():
    arguments = [
        DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                              **({"choices": list(a.choices)} if a.choices else {}))
        for a in ROBOT_ARGUMENTS
    ]
    return LaunchDescription(arguments + [OpaqueFunction(function=_stack)])
