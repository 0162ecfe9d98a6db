"""Teleop comparison session: recorder + sim (real time) + mux (+ world model, planner, lifecycle
manager in planner/shared mode) + the person's input device.

    ros2 launch world_model_planner teleop_compare.launch.py mode:=teleop operator:=ada out:=ada
    ros2 launch world_model_planner teleop_compare.launch.py mode:=planner out:=planner

Give the goal with RViz's "2D Goal Pose" (/goal_pose, frame odom); stop with Ctrl-C (the recorder
closes the bag). Then: wmp compare planner ada --out report.html
input:=keyboard needs xterm, input:=joy the joy package (package.xml exec_depends); when one is
missing the launch stops with an error naming it.
`wmp session` runs the same nodes and also sends the goal and ends the session by itself.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from world_model_planner.app.launch_specs import (TELEOP_COMPARE_ARGUMENTS, input_device_problem,
                                                  teleop_compare_specs)


def _nodes(context, *args, **kwargs):
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in TELEOP_COMPARE_ARGUMENTS}
    why = input_device_problem(values)
    if why:
        raise RuntimeError(why)    # launch logs it and exits non-zero
    nodes = []
    for spec in teleop_compare_specs(values):
        kwargs = spec.launch_kwargs()
        if spec.executable == "teleop_keyboard":
            kwargs["prefix"] = "xterm -e"  # reads keys from its own terminal
        nodes.append(Node(**kwargs))
    return nodes


def generate_launch_description():
    arguments = [
        DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                              **({"choices": list(a.choices)} if a.choices else {}))
        for a in TELEOP_COMPARE_ARGUMENTS
    ]
    return LaunchDescription(arguments + [OpaqueFunction(function=_nodes)])
