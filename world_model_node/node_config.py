"""Parameters of world_model_node, declared once (ROS parameters come from these fields).
No rclpy: the README table is ``markdown_table(WorldModelNodeConfig)``."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from world_model_planner.core.params import ConfigError, param, validate


@dataclass
class WorldModelNodeConfig:
    """world_model_node: surprise monitoring, predicted trajectories, online fine-tuning."""

    model_path: str = param("", "World-model checkpoint to load on configure ('' = the shipped "
                                "models/husky_default.pt).")
    device: str = param("auto", "Torch device: 'auto' (CUDA if present), 'cpu' or 'cuda[:N]'.")
    torch_threads: int = param(1, "torch.set_num_threads for this process (0 = torch's default); "
                                  "1 leaves the cores to the planner.", range=(0, 256))
    cmd_vel_stamped: bool = param(True, "cmd_vel is geometry_msgs/TwistStamped (false: Twist).")
    prediction_horizon_s: float = param(2.0, "How long the current command is held in the "
                                             "predicted trajectory.", range=(0.1, 20.0))
    prediction_rate_hz: float = param(5.0, "Rate of /world_model/prediction (data time).",
                                      range=(0.1, 50.0))
    surprise_horizon_s: float = param(1.0, "Horizon of the long surprise (surprise_1s_m).",
                                      range=(0.1, 10.0))
    surprise_warn_m: float = param(0.5, "surprise_1s_m above this makes the diagnostic WARN.",
                                   range=(0.0, 100.0))
    diagnostics_period_s: float = param(1.0, "Period of the /diagnostics status 'world_model'.",
                                        range=(0.05, 60.0))
    max_gap_s: float = param(0.5, "A gap in /odom longer than this restarts the history.",
                             range=(0.05, 10.0))
    online_finetune: bool = param(False, "Fine-tune the model online from a replay buffer and "
                                         "announce accepted checkpoints.")
    finetune_period_s: float = param(30.0, "Seconds between fine-tuning rounds.", range=(1.0, 86400.0))
    finetune_steps: int = param(20, "Gradient steps per round.", range=(1, 100000))
    finetune_batch_size: int = param(32, "Windows per gradient step.", range=(2, 4096))
    finetune_horizon: int = param(5, "Open-loop model steps per training window.", range=(1, 50))
    finetune_lr: float = param(1e-4, "AdamW learning rate of online fine-tuning.", range=(1e-7, 1.0))
    replay_capacity: int = param(6000, "Model steps kept in the replay buffer (10 min at 0.1 s).",
                                 range=(20, 1000000))
    checkpoint_dir: str = param("", "Where fine-tuned checkpoints are written ('' = "
                                    "$ROS_HOME/world_model_planner/checkpoints, ~/.ros by default).")

    def __post_init__(self):
        validate(self)
        dev = self.device.lower()
        if not (dev in ("auto", "cpu") or dev.startswith("cuda")):
            raise ConfigError(f"WorldModelNodeConfig.device: expected 'auto', 'cpu' or 'cuda[:N]', "
                              f"got {self.device!r}")


def resolve_model_path(cfg: WorldModelNodeConfig) -> Path:
    from world_model_planner.core.paths import default_model_path

    return Path(cfg.model_path).expanduser() if cfg.model_path else default_model_path()


def resolve_checkpoint_dir(cfg: WorldModelNodeConfig) -> Path:
    if cfg.checkpoint_dir:
        return Path(cfg.checkpoint_dir).expanduser()
    ros_home = os.environ.get("ROS_HOME") or os.path.join(os.path.expanduser("~"), ".ros")
    return Path(ros_home) / "world_model_planner" / "checkpoints"
