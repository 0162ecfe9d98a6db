"""world_model_planner: planning through a learned JEPA-style world model, for ROS 2.

Floors (see ARCHITECTURE.md): ``core`` (ground: parameters, paths, ROS conversions, I/O, math)
← the domain packages ``sim``, ``teleop``, ``planner_node``, ``world_model_node`` ← ``app`` (CLI,
stack, launcher, episodes, sessions, reports, lifecycle manager). ``testing`` serves tests and
benchmarks.
"""
import importlib.util as _ilu
import os as _os
import sys as _sys

__version__ = "0.1.0"

_DOMAIN = ("sim", "teleop", "planner_node", "world_model_node")
_HERE = _os.path.dirname(_os.path.abspath(__file__))
_ROOT = _os.path.dirname(_HERE)


class _SourceTreeFinder:
    """Finds ``world_model_planner.<domain>`` in the folder beside this one.

    An installed package holds its domain subpackages (setup.py maps them in). In a source tree,
    an editable install or a colcon --symlink-install they sit at the top of the tree, next to
    this folder; only those four names are mapped, nothing else at the top becomes importable,
    and they always come from the same tree as this package.
    """

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        prefix, _, name = fullname.partition(".")
        if prefix != __name__ or name not in _DOMAIN:
            return None
        init = _os.path.join(_ROOT, name, "__init__.py")
        if not _os.path.isfile(init):
            return None
        return _ilu.spec_from_file_location(fullname, init,
                                            submodule_search_locations=[_os.path.dirname(init)])


if (not _os.path.isdir(_os.path.join(_HERE, "sim"))
        and _os.path.isfile(_os.path.join(_ROOT, "package.xml"))
        and not any(isinstance(f, _SourceTreeFinder) or f is _SourceTreeFinder for f in _sys.meta_path)):
    _sys.meta_path.insert(0, _SourceTreeFinder)   # first: the domain comes from this same tree
