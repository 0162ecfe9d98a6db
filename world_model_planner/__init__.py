"""world_model_planner: planning through a learned JEPA-style world model, for ROS 2.

Floors (see ARCHITECTURE.md): ``core`` (ground: parameters, paths, ROS conversions, I/O, math)
← the domain packages ``sim``, ``teleop``, ``planner_node``, ``world_model_node`` ← ``app`` (CLI,
stack, launcher, episodes, sessions, reports, lifecycle manager). ``testing`` serves tests and
benchmarks.
"""
import os as _os

__version__ = "0.1.0"

# An installed package holds its domain subpackages (setup.py maps them in). In a source tree,
# an editable install or a colcon --symlink-install they sit beside this folder: look there too.
_HERE = _os.path.dirname(_os.path.abspath(__file__))
_ROOT = _os.path.dirname(_HERE)
if (not _os.path.isdir(_os.path.join(_HERE, "sim"))
        and _os.path.isfile(_os.path.join(_ROOT, "sim", "__init__.py"))
        and _os.path.isfile(_os.path.join(_ROOT, "package.xml"))):
    __path__.append(_ROOT)  # noqa: F821 - the package's own search path
