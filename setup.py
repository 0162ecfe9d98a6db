"""ament_python package world_model_planner (also pip-installable for use without ROS)."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "world_model_planner"


def _files(pattern):
    return [f for f in glob(pattern, recursive=True)]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", _files("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", _files("config/*.yaml")),
        (f"share/{PACKAGE}/config/scenarios", _files("config/scenarios/*.yaml")),
        (f"share/{PACKAGE}/config/robots", _files("config/robots/*.yaml")),
        (f"share/{PACKAGE}/models", _files("models/*.pt") + _files("models/*.md")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="world_model_planner maintainers",
    maintainer_email="maintainers@world-model-planner.invalid",
    description="Hierarchical planning through a learned JEPA-style world model for ROS 2.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "wmp = world_model_planner.cli:main",
            "sim_node = sim.sim_node:main",
            "world_model_node = world_model_node.node:main",
            "planner_node = planner_node.node:main",
            "lifecycle_manager = world_model_planner.lifecycle_manager:main",
            "cmd_mux = teleop.mux_node:main",
            "teleop_keyboard = teleop.keyboard:main",
            "teleop_joy = teleop.joy_node:main",
            "session_recorder = teleop.recorder_node:main",
        ],
    },
)
