"""Training loop: random K-step windows, EMA target encoder, validation by episode, early stop.

Single process by default. Launched by ``torchrun`` (``LOCAL_RANK``/``WORLD_SIZE`` set and
WORLD_SIZE > 1; one machine with ``--nproc_per_node=N``, several with ``--nnodes`` and
``--rdzv-endpoint``) it runs DistributedDataParallel: one process per device (NCCL on GPUs,
gloo on CPU). Each step every rank draws the same global batch of ``batch_size`` windows (one
generator, seeded alike on every rank) and trains on its own contiguous ``batch_size / world``
of them, so the ranks read distinct windows and together exactly the single-process batch; DDP
averages the gradients, which equals the single-process gradient of the mean loss for every
per-window term. Only the VICReg anti-collapse terms (variance, covariance) are batch statistics
and are taken per rank, as DDP does without a synchronised batch statistic, so a run with them
on differs slightly from one process; with ``--no-vicreg`` the two agree to float rounding
(test/stack/test_train_torchrun.py). Rank 0 validates, logs and writes every file.

Resuming (``state_path``): every ``eval_every`` steps rank 0 writes the whole training state
(weights, target encoder, optimiser, schedule, sampling generator, best model, early-stop
counter) to ``state_path`` atomically; a run started with ``resume=True`` continues from it
(rank 0 reads it and hands it to the other ranks, so the file need not be on every machine)
and draws the same batches from there as the run it replaces (the metrics record the step it
continued from, ``resumed_at_step``, 0 for a fresh run).
"""
from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn

from world_model_planner.core.params import param, validate

from world_model_planner.world_model_node.augment import ImageAugment
from world_model_planner.world_model_node.data import Transitions, concat, mirror_transitions
from world_model_planner.world_model_node.losses import LossWeights, window_loss
from world_model_planner.world_model_node.model import WorldModel, WorldModelConfig
from world_model_planner.world_model_node.sampler import WindowSampler


@dataclass
class TrainConfig:
    """Optimisation settings (stored in the checkpoint under "train")."""

    steps: int = param(6000, "Maximum gradient steps.", range=(1, 10_000_000))
    epochs: float = param(0.0, "If > 0, steps = epochs x (training windows / batch_size).", range=(0.0, 1e6))
    batch_size: int = param(256, "Windows per gradient step (per process under DDP).", range=(2, 65536))
    horizon: int = param(15, "K: open-loop prediction steps per training window.", range=(1, 100))
    lr: float = param(2e-3, "Peak AdamW learning rate (cosine decay, 2% warm-up).", range=(1e-6, 1.0))
    weight_decay: float = param(1e-5, "AdamW weight decay.", range=(0.0, 1.0))
    ema_tau: float = param(0.99, "Target encoder EMA rate (0 = stop-gradient copy of the online encoder).",
                           range=(0.0, 1.0))
    val_fraction: float = param(0.15, "Fraction of episodes held out for validation.", range=(0.0, 0.9))
    eval_every: int = param(250, "Validate every this many steps.", range=(1, 1_000_000))
    patience: int = param(10, "Stop after this many validations without improvement.", range=(1, 10_000))
    time_budget_s: float = param(0.0, "Stop after this many wall seconds (0 = no limit).", range=(0.0, 1e7))
    seed: int = param(0, "Seed for initialisation, split and sampling.", range=(0, 2**31 - 1))
    device: str = param("auto", "'auto' (CUDA if present), 'cpu' or 'cuda[:N]'.")
    cpu_threads: int = param(1, "torch CPU threads (this small model trains fastest on 1, and 2+ "
                                "threads spin badly on a shared machine); 0 = torch default.",
                             range=(0, 1024))
    progress: bool = param(True, "Show a tqdm progress bar.")
    history_dropout: float = param(0.2, "Fraction of training windows whose start sees a cut history (only "
                                        "its newest 0..K-1 rows valid, as at start-up), so the model also "
                                        "works before a second of history exists.", range=(0.0, 1.0))
    augment: bool = param(True, "Augment camera images per training window (augment.ImageAugment: brightness, "
                                "contrast, white balance, a shift of a few pixels; every frame of a window "
                                "alike). No effect on models without images.")
    episode_group: int = param(1, "Windows drawn per episode in a training batch: 1 draws every window at "
                                  "random; G > 1 draws batch_size / G episodes and G windows of each, so that "
                                  "the place term (losses.LossWeights.place) has pairs of frames of one layout "
                                  "metres apart. batch_size must be a multiple of G.", range=(1, 4096))
    mirror: bool = param(False, "Also train on every training episode mirrored across the robot's heading "
                                "(data.mirror_transitions: y, yaw, yaw rates and the scan's beam order "
                                "flipped): twice the turns and layouts for a base that is the same on its "
                                "left and right. Validation stays on the recorded episodes.")

    def __post_init__(self):
        validate(self)
        if self.batch_size % self.episode_group:
            raise ValueError(f"episode_group {self.episode_group} must divide batch_size {self.batch_size}")


class _StepModule(nn.Module):
    """Wraps the loss so DDP sees one forward() that touches every trained parameter."""

    def __init__(self, model: WorldModel):
        super().__init__()
        self.model = model

    def forward(self, target, batch, weights, pos_weight):
        return window_loss(self.model, target, batch, weights, pos_weight)


def split_episodes(data: Transitions, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Episode ids -> (train ids, val ids); at least one of each when there are >= 2 episodes."""
    eps = np.array(sorted(data.episodes))
    rng = np.random.default_rng(seed)
    rng.shuffle(eps)
    n_val = int(round(len(eps) * val_fraction))
    if val_fraction > 0 and len(eps) >= 2:
        n_val = min(max(n_val, 1), len(eps) - 1)
    return np.sort(eps[n_val:]), np.sort(eps[:n_val])


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


@torch.no_grad()
def validate_model(model, target, sampler: WindowSampler, weights: LossWeights, pos_weight: float,
                   max_windows: int = 2048, batch: int = 512) -> dict:
    """Mean loss terms over (up to) max_windows fixed validation windows (a quarter of them, in
    batches of 64, for a camera model: every frame of a window goes through the CNN)."""
    model.eval()
    if sampler.image is not None:
        max_windows, batch = max(1, max_windows // 4), min(batch, 64)
    n = min(len(sampler.starts), max_windows)
    idx_all = torch.linspace(0, len(sampler.starts) - 1, n, device=sampler.starts.device).long()
    sums: dict = {}
    for i in range(0, n, batch):
        idx = idx_all[i:i + batch]
        _, terms = window_loss(model, target, sampler.batch(idx), weights, pos_weight)
        for key, v in terms.items():
            if key != "latent_std":
                sums[key] = sums.get(key, 0.0) + v * len(idx)
    model.train()
    out = {k: v / n for k, v in sums.items()}
    out["score"] = out["pose"] * weights.pose + out["velocity"] * weights.velocity + \
        out["collision"] * weights.collision + out.get("scene", 0.0) * weights.scene
    return out


def _rank_part(batch, lo: int, hi: int):
    """Rows lo:hi of every tensor in a (nested) batch dict; None stays None."""
    if isinstance(batch, dict):
        return {k: _rank_part(v, lo, hi) for k, v in batch.items()}
    return None if batch is None else batch[lo:hi]


def _save_state(path: str, state: dict) -> None:
    from world_model_planner.core.safeio import atomic_path

    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_state(path: str, distributed: bool, rank: int) -> dict | None:
    """The training state at ``path`` (rank 0 reads it and broadcasts it), or None if none."""
    state = None
    if rank == 0 and os.path.isfile(path):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - a damaged state file names itself
            raise ValueError(f"--resume: {path}: not a readable training state "
                             f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    if distributed:
        import torch.distributed as dist

        box = [state]
        dist.broadcast_object_list(box, 0)
        state = box[0]
    return state


def train(data: Transitions, model_cfg: WorldModelConfig | None = None, cfg: TrainConfig | None = None,
          weights: LossWeights | None = None, init_model: WorldModel | None = None,
          state_path: str | None = None, resume: bool = False,
          augment: ImageAugment | None = None, trainable: tuple[str, ...] = ()) -> tuple[WorldModel, dict]:
    """Train a world model on ``data``. Returns (best model on CPU, eval mode; metrics dict).

    augment: the image augmentation of a camera model (default ``ImageAugment()``; off with
    ``cfg.augment`` False or for a model without images).

    init_model: start from these weights (fine-tuning); its config replaces ``model_cfg``.
    trainable: with ``init_model``, the top-level modules that learn (e.g. ``("collision_head",)``:
    a head calibrated on the frozen model's own rollouts); the others stay as they were. Empty:
    all of them.
    state_path: where rank 0 keeps the resumable training state (every eval_every steps);
    resume: continue from it when it exists (see the module docstring).
    """
    from tqdm import tqdm

    from world_model_planner.core.runtime import pick_device, seed_everything

    cfg, weights = cfg or TrainConfig(), weights or LossWeights()
    if init_model is not None:
        model_cfg = init_model.cfg
    model_cfg = model_cfg or WorldModelConfig(scan_beams=int(data.scan.shape[1]),
                                              range_max_m=float(data.meta.get("range_max_m") or 8.0))
    if data.scan.shape[1] != model_cfg.scan_beams:
        raise ValueError(f"data has {data.scan.shape[1]} scan beams, model config expects {model_cfg.scan_beams}")
    world, rank, local_rank = _dist_info()
    distributed = world > 1
    if distributed:  # torchrun
        import torch.distributed as dist

        if cfg.batch_size % world:
            raise ValueError(f"batch_size {cfg.batch_size} is not divisible by the {world} torchrun processes: "
                             f"each rank trains on batch_size / WORLD_SIZE windows of the global batch")
        use_cuda = torch.cuda.is_available() and cfg.device != "cpu"
        dist.init_process_group("nccl" if use_cuda else "gloo")
        device = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
        if use_cuda:
            torch.cuda.set_device(device)
    else:
        device = pick_device(cfg.device)
    if device.type == "cpu" and cfg.cpu_threads > 0:
        torch.set_num_threads(cfg.cpu_threads)
    seed_everything(cfg.seed)
    train_ids, val_ids = split_episodes(data, cfg.val_fraction, cfg.seed)
    tr_data = data.select_episodes(train_ids)
    va_data = data.select_episodes(val_ids) if len(val_ids) else tr_data
    if cfg.mirror:                                       # validation stays on the recorded episodes
        tr_data = concat([tr_data, mirror_transitions(tr_data)])
    tr = WindowSampler.for_model(tr_data, cfg.horizon, device, model_cfg)
    va = WindowSampler.for_model(va_data, cfg.horizon, device, model_cfg)
    aug = (augment or ImageAugment()) if cfg.augment and model_cfg.use_image else None
    pos_weight = 1.0  # unweighted BCE: the planner reads sigmoid(logit) as a calibrated probability

    model = WorldModel(model_cfg)
    if init_model is not None:
        model.load_state_dict(init_model.state_dict())
    if trainable:
        names = {name for name, _ in model.named_children()}
        if init_model is None or not set(trainable) <= names:
            raise ValueError(f"trainable: expected a starting model and module names among {sorted(names)}, "
                             f"got {list(trainable)}")
        for name, part in model.named_children():
            part.requires_grad_(name in trainable)
    model = model.to(device).train()
    target = copy.deepcopy(model.encoder).requires_grad_(False)
    step_mod: nn.Module = _StepModule(model)
    if distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        step_mod = DDP(step_mod, device_ids=[local_rank] if device.type == "cuda" else None)
    steps = cfg.steps
    if cfg.epochs > 0:
        steps = max(1, int(cfg.epochs * len(tr.starts) / cfg.batch_size))
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    warm = max(1, steps // 50)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    gen = torch.Generator().manual_seed(cfg.seed)    # alike on every rank: one global batch per step
    part = cfg.batch_size // world
    lo, hi = rank * part, (rank + 1) * part          # this rank's windows of it
    best, best_state, bad, history, best_val = math.inf, None, 0, [], {}
    t0, last_terms, stopped, first = time.monotonic(), {}, "steps", 0
    state = _load_state(state_path, distributed, rank) if (resume and state_path) else None
    if state is not None:
        model.load_state_dict(state["model"])
        target.load_state_dict(state["target"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        first, best, bad, history = int(state["step"]), float(state["best"]), int(state["bad"]), state["history"]
        best_state, best_val = state["best_state"], state["best_val"]
        t0 -= float(state["elapsed_s"])
        if first >= steps:
            raise ValueError(f"--resume: {state_path} is already at step {first} of {steps}")
    bar = tqdm(range(first, steps), initial=first, total=steps, desc="train",
               disable=not cfg.progress or rank != 0, dynamic_ncols=True)
    step = first - 1
    for step in bar:
        batch = tr.sample(cfg.batch_size, gen, cfg.history_dropout, aug, cfg.episode_group)
        if distributed:
            batch = _rank_part(batch, lo, hi)
        loss, last_terms = step_mod(target, batch, weights, pos_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            for pt, po in zip(target.parameters(), model.encoder.parameters()):
                pt.mul_(cfg.ema_tau).add_(po.detach(), alpha=1.0 - cfg.ema_tau)
        last_step = step == steps - 1
        over_time = cfg.time_budget_s > 0 and time.monotonic() - t0 > cfg.time_budget_s
        if distributed and cfg.time_budget_s > 0:   # rank 0's clock decides, or the ranks part ways
            import torch.distributed as dist

            flag_t = torch.tensor([int(over_time)], device=device)
            dist.broadcast(flag_t, 0)
            over_time = bool(flag_t.item())
        if (step + 1) % cfg.eval_every == 0 or last_step or over_time:
            if rank == 0:
                v = validate_model(model, target, va, weights, pos_weight)
                std = last_terms["latent_std"]   # per learned dimension, over the batch's first frames
                history.append({"step": step + 1, "val_score": v["score"], "val_pose_err_final_m": v["pose_err_final_m"],
                                "latent_std_min": float(std.min()), "latent_std_mean": float(std.mean()),
                                "latent_std_max": float(std.max()),
                                "latent_std": [round(float(x), 4) for x in std]})
                bar.set_postfix(loss=f"{last_terms['loss']:.3f}", val=f"{v['score']:.4f}",
                                err=f"{v['pose_err_final_m']:.3f}m", std_min=f"{float(std.min()):.2f}",
                                std_mean=f"{float(std.mean()):.2f}")
                if v["score"] < best:
                    best, bad, best_val = v["score"], 0, v
                    best_state = {k: t.detach().cpu().clone() for k, t in model.state_dict().items()}
                else:
                    bad += 1
                if state_path and not last_step:
                    _save_state(state_path, {
                        "step": step + 1, "model": model.state_dict(), "target": target.state_dict(),
                        "opt": opt.state_dict(), "sched": sched.state_dict(), "gen": gen.get_state(),
                        "best": best, "bad": bad, "history": history, "best_state": best_state,
                        "best_val": best_val, "elapsed_s": time.monotonic() - t0,
                        "torch_rng": torch.get_rng_state()})
            flag = torch.tensor([1 if bad >= cfg.patience else 0], device=device)
            if distributed:
                import torch.distributed as dist

                dist.broadcast(flag, 0)
            if flag.item():
                stopped = "early_stop"
                break
        if over_time:
            stopped = "time_budget"
            break
    bar.close()
    final = WorldModel(model_cfg)
    final.load_state_dict(best_state if best_state is not None else model.state_dict())
    if not last_terms:   # resumed at the very end: nothing trained in this run
        raise ValueError("no training step ran")
    std = last_terms["latent_std"].cpu()
    metrics = {
        "steps_run": step + 1, "resumed_at_step": first, "stopped": stopped,
        "train_time_s": time.monotonic() - t0,
        "device": str(device), "world_size": world,
        "train_episodes": [int(e) for e in train_ids], "val_episodes": [int(e) for e in val_ids],
        "train_windows": int(len(tr.starts)), "mirrored": bool(cfg.mirror),
        "val": {k: float(v) for k, v in best_val.items()} if best_state is not None else {},
        "latent_std": [float(s) for s in std], "latent_std_min": float(std.min()),
        "latent_std_mean": float(std.mean()),
        "image_augment": asdict(aug) if aug is not None else None,
        "history": history, "collision_pos_weight": pos_weight,
    }
    if distributed:
        import torch.distributed as dist

        dist.destroy_process_group()
    return final.eval(), metrics


def train_config_dict(cfg: TrainConfig, weights: LossWeights, augment: ImageAugment | None = None) -> dict:
    out = {**asdict(cfg), "loss_weights": asdict(weights)}
    if augment is not None:
        out["image_augment"] = asdict(augment)
    return out


def with_head_clearance(model: WorldModel) -> WorldModel:
    """A copy of ``model`` whose collision head also reads the predicted smallest clearance
    (``head_clearance``), for fine-tuning a checkpoint made without it (``wmp train --init ...
    --head-clearance``): every weight is copied, the new input's weights start at zero, so the
    copy predicts what ``model`` predicts until it is trained. A model that already reads it is
    returned as it is; a model without a scene is refused (there is no clearance to read)."""
    if model.cfg.head_reads_clearance:
        return model
    if not model.has_scene:
        raise ValueError("head_clearance: this world model predicts no scene (scene_sectors 0)")
    cfg = replace(model.cfg, head_clearance=True)
    out = WorldModel(cfg).to(model.device)
    state = model.state_dict()
    first = "collision_head.0.weight"
    if first not in state:
        raise ValueError("head_clearance: expected the default collision head (an MLP whose first layer is "
                         "collision_head.0)")
    w = state[first]
    state[first] = torch.cat([w, w.new_zeros(w.shape[0], 1)], dim=1)
    out.load_state_dict(state)
    for name in ("data_stats", "metrics", "checkpoint_path"):
        if hasattr(model, name):
            setattr(out, name, getattr(model, name))
    return out.train(model.training)


def lag_prior_fields(data: Transitions, cfg: WorldModelConfig, given=None) -> tuple[dict, str]:
    """(The model-config fields of a lag prior, ``lag_prior`` and ``lag_*``, and the response's
    summary for the log). The response is fitted on ``data`` by planner_node/sysid.py (per axis:
    delay up to ``cfg.cmd_memory`` steps, lag, gain, rate limit; rows in contact left out), or,
    with ``given`` (the path of a `wmp sysid` JSON file), read from that file. ValueError where
    the data cannot identify it, the file is bad, a delay exceeds the command memory, or the
    response steps at another dt than the model."""
    from world_model_planner.planner_node import sysid

    if given is None:
        fit = sysid.fit_transitions(data, max_delay=min(sysid.MAX_DELAY_STEPS, cfg.cmd_memory),
                                    source="wmp train --lag-prior")
    else:
        fit = sysid.load(given)
        for name in ("v", "w"):
            if fit.axis(name).delay_steps > cfg.cmd_memory:
                raise ValueError(f"{given}: {name} delay {fit.axis(name).delay_steps} steps is beyond the "
                                 f"model's command memory ({cfg.cmd_memory} steps)")
    if abs(float(fit.dt_s) - cfg.dt_s) > 1e-6:
        raise ValueError(f"the {'data' if given is None else 'response'} steps {fit.dt_s} s, the model {cfg.dt_s} s")
    out = {"lag_prior": True}
    for name in ("v", "w"):
        a = fit.axis(name)
        out.update({f"lag_k_{name}": float(a.k(cfg.dt_s)), f"lag_gain_{name}": float(a.gain),
                    f"lag_delay_{name}": int(a.delay_steps),
                    f"lag_rate_{name}": float(a.rate) if math.isfinite(a.rate) else 0.0})
    return out, fit.summary()
