"""The rollout model behind each planner kind: ``load_model`` (unicycle, identified lag + delay,
or a world-model checkpoint checked against the robot). Re-exported from planner_node/navigator.py."""
from __future__ import annotations

import torch

from world_model_planner.planner_node.dynamics import LearnedModel, SysIdModel, UnicycleModel


def load_model(kind: str, model_path=None, device=None, missing_ok: bool = True, sysid_path=None,
               robot: str | None = None):
    """The rollout model for ``kind`` and a description. classic → UnicycleModel. classic_id →
    SysIdModel from ``sysid_path`` (default: the shipped models/<robot>_sysid.json, the Husky's
    where the robot has none; a missing or bad file is always an error). Otherwise the checkpoint at ``model_path`` (default: the
    shipped one). A checkpoint file that does not exist is an error unless ``missing_ok``: then
    the unicycle stands in and the description says so (a bad checkpoint file is always an error).
    ``robot``: the robot being driven; the default checkpoint is models/<robot>_default.pt, and a
    checkpoint whose data came from another robot is refused (ValueError with the reason)."""
    from pathlib import Path

    device = torch.device(device or "cpu")
    if kind == "classic":
        return UnicycleModel(0.1, device), "unicycle kinematics"
    if kind == "classic_id":
        from world_model_planner.planner_node.sysid import default_sysid_path

        spath = str(sysid_path or default_sysid_path(robot))
        model = SysIdModel.from_file(spath, device)
        return model, f"identified lag + delay {spath} ({model.params.brief()}) + obstacle tracking"
    path = model_path or None
    if path is None:
        from world_model_planner.core.paths import default_model_path

        path = str(default_model_path(robot or "husky"))
    if not Path(path).is_file():
        if not missing_ok:
            raise FileNotFoundError(f"world-model checkpoint {path} does not exist")
        return UnicycleModel(0.1, device), f"unicycle kinematics (no world-model checkpoint at {path})"
    if robot:
        from world_model_planner.world_model_node.checkpoint import robot_mismatch

        why = robot_mismatch(path, robot)
        if why:
            raise ValueError(why)
    model = LearnedModel.from_checkpoint(str(path), device=device)
    if model.device.type == "cpu":        # compile or load the step kernel now, not in the first tick (about 1-2 s)
        from world_model_planner.world_model_node import onednn, step_kernel

        step_kernel.get()
        onednn.linear()                   # and probe oneDNN's fused linear (bf16 products) once
    return model, f"world model {path}"
