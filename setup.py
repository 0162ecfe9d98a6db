"""ament_python package world_model_planner (also pip-installable for use without ROS)."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "world_model_planner"
# One import namespace: the domain folders at the top of the tree install as subpackages of
# world_model_planner (world_model_planner.sim, ...), so no generic top-level name such as `sim`
# or `teleop` lands in site-packages. In a source tree (an editable or symlink install)
# world_model_planner/__init__.py finds them beside itself.
DOMAIN = ["sim", "teleop", "planner_node", "world_model_node"]
FLOORS = ["core", "app", "testing"]


def _files(pattern):
    return [f for f in glob(pattern, recursive=True)]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE] + [f"{PACKAGE}.{f}" for f in FLOORS]
    + [f"{PACKAGE}.{d}" + (f".{sub}" if sub else "") for d in DOMAIN for sub in ["", *find_packages(d)]],
    package_dir={PACKAGE: PACKAGE, **{f"{PACKAGE}.{d}": d for d in DOMAIN}},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", _files("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", _files("config/*.yaml")),
        (f"share/{PACKAGE}/config/scenarios", _files("config/scenarios/*.yaml")),
        (f"share/{PACKAGE}/config/robots", _files("config/robots/*.yaml")),
        (f"share/{PACKAGE}/models", _files("models/*.pt") + _files("models/*.json") + _files("models/*.md")),
    ],
    install_requires=["setuptools"],
    # optional: `pip install -e ".[cluster]"` for `wmp bench/collect --ray` (core/cluster.py)
    extras_require={"cluster": ["ray==2.60.0"]},
    zip_safe=True,
    maintainer="world_model_planner maintainers",
    maintainer_email="maintainers@world-model-planner.invalid",
    description="Hierarchical planning through a learned JEPA-style world model for ROS 2.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "wmp = world_model_planner.app.cli:main",
            "sim_node = world_model_planner.sim.sim_node:main",
            "world_model_node = world_model_planner.world_model_node.node:main",
            "planner_node = world_model_planner.planner_node.node:main",
            "lifecycle_manager = world_model_planner.app.lifecycle_manager:main",
            "cmd_mux = world_model_planner.teleop.mux_node:main",
            "teleop_keyboard = world_model_planner.teleop.keyboard:main",
            "teleop_joy = world_model_planner.teleop.joy_node:main",
            "session_recorder = world_model_planner.teleop.recorder_node:main",
        ],
    },
)
