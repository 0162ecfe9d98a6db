"""Find the package's data (config/, launch/, models/) in a colcon install or a source tree.

A colcon install puts them under share/world_model_planner, found through ament_index.
An editable pip install does not install data_files, so the source tree is the fallback.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

PACKAGE = "world_model_planner"
_SOURCE_ROOT = Path(__file__).resolve().parents[2]   # world_model_planner/core/paths.py → the source tree


def share_dir() -> Path:
    """Directory that holds config/, launch/ and models/.

    ``WMP_SHARE_DIR`` overrides; then the source tree (when it has config/); then ament_index.
    """
    env = os.environ.get("WMP_SHARE_DIR")
    if env:
        return Path(env)
    if (_SOURCE_ROOT / "config").is_dir():
        return _SOURCE_ROOT
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except Exception as exc:  # PackageNotFoundError or ament_index missing
        raise FileNotFoundError(
            f"cannot find the {PACKAGE} data directory: no config/ beside the sources "
            f"({_SOURCE_ROOT}) and ament_index says: {exc}"
        ) from exc


def config_dir() -> Path:
    return share_dir() / "config"


def scenarios_dir() -> Path:
    return config_dir() / "scenarios"


def robots_dir() -> Path:
    return config_dir() / "robots"


def models_dir() -> Path:
    return share_dir() / "models"


def launch_dir() -> Path:
    return share_dir() / "launch"


def default_model_path(robot: str = "husky") -> Path:
    """The shipped world model for ``robot``: models/<robot>_default.pt (it may not exist)."""
    return models_dir() / f"{robot}_default.pt"


def file_stem(scenario: str) -> str:
    """A scenario's name or file as a file-name stem (logs, episode records, plots): the file's
    stem, with every run of characters other than letters, digits, ``_``, ``.`` and ``-`` as one
    ``_`` (a generated task's ``random+dyn:7`` gives ``random_dyn_7``; ``u_trap`` stays)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(scenario)).stem).strip("_") or "scenario"
