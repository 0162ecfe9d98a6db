"""``device: auto`` for a learned planner: time the rollout on each path, plan on the fastest.

At configure the planner node hands its ``LearnedModel`` to :func:`choose_device`, which times
``WorldModel.rollout_heads`` (the hot path of a tick: the rollout, and the collision head and the
predicted clearance where the planner uses them) at the configured samples x horizon on each
candidate path

    cpu fused       the fused rollout (world_model_node.fused), the default on a CPU; its per-step
                    update runs as one compiled loop where numba is installed
                    (world_model_node/step_kernel.py), which the log line names
    cpu fused bf16  the same with its matrix products in bf16 (``WorldModel.matmul_dtype``), the
                    latent integrated in float32, each layer one oneDNN call with its bias and
                    SiLU where the build has it (world_model_node/onednn.py; the log line says
                    which); timed only where the CPU has bf16 units
                    (:func:`cpu_has_bf16`: AVX512-BF16 or AMX on x86, BF16 on Arm), and kept only
                    where its poses at the horizon's end stay within ``BF16_POSE_TOLERANCE_M``
                    (mean) of the float32 path's on the timed actions
    cpu reference   the step-by-step reference rollout (``WorldModel.fused`` off)
    cuda            the model on the GPU, where one is present

with bounded repeats (``core.runtime.time_candidates``); the default path (CUDA where present,
else CPU fused) is kept unless another is more than 10 % faster. It returns a :class:`DeviceChoice`:
the device, whether the fused path is used, the products' dtype, the measured time per tick and
the log line.
A path that cannot run (an error on the GPU) is reported and never chosen. No rclpy.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from world_model_planner.core.runtime import cpu_has_bf16, fastest, time_candidates

#: candidate name -> (device, fused, the matrix products' dtype or None for the model's own)
PATHS = {"cpu fused": ("cpu", True, None), "cpu fused bf16": ("cpu", True, torch.bfloat16),
         "cpu reference": ("cpu", False, None), "cuda": ("cuda", True, None)}

#: the bf16 path is refused where its predicted positions at the horizon's end differ from the
#: float32 path's by more than this on average (metres; the shipped Husky model: 0.8 mm at
#: 512 x 20, 1.5 mm at 2048 x 30, against a 2 s prediction error of about 0.12 m)
BF16_POSE_TOLERANCE_M = 0.005


@dataclass
class DeviceChoice:
    """name: the chosen candidate (a key of PATHS); device and fused: how to plan; timings:
    candidate -> seconds per rollout, or the error text of a path that could not run."""

    name: str
    device: torch.device
    fused: bool
    timings: dict
    took_s: float = float("nan")
    matmul_dtype: torch.dtype | None = None
    note: str = ""                    # why a faster path was not taken, for the log line

    @property
    def tick_ms(self) -> float:
        return self.timings[self.name] * 1e3

    def line(self, samples: int, horizon: int) -> str:
        others = "; ".join(f"{k} {v * 1e3:.1f} ms" if isinstance(v, float) else
                           f"{k} {v}" if v.startswith("refused") else f"{k} failed: {v}"
                           for k, v in self.timings.items() if k != self.name)
        return (f"device auto: chose {self.name} ({self.tick_ms:.1f} ms per tick's rollout at {samples} x "
                f"{horizon}{'; ' + others if others else ''}; measured in {self.took_s:.2f} s)"
                f"{'; ' + self.note if self.note else ''}"
                f"{'; CPU step: ' + _cpu_step() if self.name.startswith('cpu fused') else ''}"
                f"{'; bf16 products: ' + _bf16_products() if self.name == 'cpu fused bf16' else ''}")


def _cpu_step() -> str:
    """How the fused CPU rollout updates its state each step, for the log line."""
    from world_model_planner.world_model_node import step_kernel

    return "compiled (numba)" if step_kernel.available() else f"PyTorch ({step_kernel.error()})"


def _bf16_products() -> str:
    """How the fused CPU rollout runs its bf16 products, for the log line."""
    from world_model_planner.world_model_node import onednn, step_kernel

    if not step_kernel.available():
        return "addmm + SiLU (no compiled step)"
    return "oneDNN fused linear + SiLU" if onednn.linear() is not None else f"addmm + SiLU ({onednn.error()})"


def rollout_paths(model, samples: int, horizon: int, cuda: bool, seed: int = 0,
                  collision: bool = True, bf16: bool | None = None) -> dict[str, Callable[[], object]]:
    """Candidate name -> a callable running one tick's rollout and heads of ``model`` (a
    LearnedModel) on that path, for ``samples`` x ``horizon`` random actions: the collision head
    with ``collision`` (whether a critic scores it), the predicted clearance where the model has a
    scene head and plans on it (``model_scene``), as ``LearnedModel.rollout`` does. ``bf16``:
    include the bf16 path (default: where :func:`cpu_has_bf16`)."""
    wm = model.model
    heads = {"collision": bool(collision),
             "clearance": bool(wm.has_scene and model.model_scene)}
    z0 = rest_latent(model)                                                                       # (1, D)
    gen = torch.Generator().manual_seed(seed)
    actions = torch.rand(samples, horizon, 2, generator=gen) * 2.0 - 1.0                          # (B, H, 2)
    if bf16 is None:
        bf16 = cpu_has_bf16()
    out = {}
    for name, (dev, fused, low) in PATHS.items():
        if dev == "cuda" and not cuda or low is torch.bfloat16 and not bf16:
            continue
        out[name] = _path(wm, z0, actions, torch.device(dev), fused, heads, low)
    return out


def rest_latent(model) -> torch.Tensor:
    """The latent (1, D) of ``model`` (a LearnedModel) for a robot at rest at the origin: an
    empty scan, or for a camera model a grey frame and no scan."""
    if getattr(model, "needs_image", False):
        s = int(model.image_size)
        return model.reset_state(np.zeros(3), np.zeros(2), None, image=np.full((s, s, 3), 128, np.uint8))["z"]
    beams = int(model.beams) if model.beams is not None else int(model.model.cfg.scan_beams)
    return model.reset_state(np.zeros(3), np.zeros(2), np.full(beams, model.range_max_m))["z"]


def _path(wm, z0: torch.Tensor, actions: torch.Tensor, device: torch.device, fused: bool, heads: dict,
          matmul_dtype: torch.dtype | None = None):
    state = {}

    def run():
        if "wm" not in state:              # the copy to another device is made on the first (untimed) call
            m = wm if next(wm.parameters()).device == device else copy.deepcopy(wm).to(device)
            state.update(wm=m, z0=z0.to(device), actions=actions.to(device))
        m = state["wm"]
        m.fused, m.matmul_dtype = fused, matmul_dtype
        try:
            with torch.inference_mode():
                out = m.rollout_heads(state["z0"], state["actions"], reuse=True, **heads)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        finally:
            m.__dict__.pop("fused", None)  # back to the class defaults (fused, the model's dtype)
            m.__dict__.pop("matmul_dtype", None)
        return out

    return run


def choose_device(model, samples: int, horizon: int, cuda: bool | None = None, repeats: int = 5,
                  max_s: float = 0.6, clock: Callable[[], float] = time.perf_counter,
                  paths: dict | None = None, collision: bool = True) -> DeviceChoice:
    """Time each path (``paths``: name -> callable, default ``rollout_paths``) and return the
    fastest. ``cuda``: include the GPU (default: where torch sees one), called once before the
    timing starts (its first call sets up the CUDA context, copies the model and records the
    rollout's CUDA graph: about half a second, which is not its speed). ``max_s``: the time
    shared by the timed calls (each path is also called once untimed, and timed at least once),
    so configure stays well under 1.5 s at 2048 x 30 on a 2-core CPU. ``collision``: whether the
    planner scores the collision head (timed only then). Sets the model's
    ``fused`` flag for the choice; the caller moves the model when the device differs."""
    start = clock()
    if cuda is None:
        cuda = torch.cuda.is_available()
    if paths is None:
        paths = rollout_paths(model, samples, horizon, cuda, collision=collision)
    for name, fn in paths.items():     # a GPU's first call (its context, the model's copy, the
        if PATHS.get(name, ("cpu",))[0] == "cuda":      # graph's recording) is set-up, not its speed
            try:
                fn()
            except Exception:  # noqa: BLE001 - time_candidates meets the same error and reports it
                pass
    timings = time_candidates(paths, repeats=repeats, max_s=max_s, clock=clock)
    prefer = "cuda" if "cuda" in timings else "cpu fused"
    name = fastest(timings, prefer=prefer, margin=0.1)
    note = ""
    if PATHS[name][2] is torch.bfloat16:
        dev_m = bf16_pose_deviation(paths[name], paths["cpu fused"])
        if not dev_m <= BF16_POSE_TOLERANCE_M:
            note = (f"{name} refused: its positions at the horizon's end differ from float32's by "
                    f"{dev_m * 1e3:.1f} mm on average (tolerance {BF16_POSE_TOLERANCE_M * 1e3:.1f} mm)")
            timings[name] = f"refused ({timings[name] * 1e3:.1f} ms, {dev_m * 1e3:.1f} mm from float32)"
            name = fastest(timings, prefer=prefer, margin=0.1)
        else:
            note = f"bf16 positions at the horizon's end {dev_m * 1e3:.2f} mm from float32's on average"
    dev, fused, low = PATHS[name]
    if not fused:
        model.model.fused = False
    model.model.matmul_dtype = low
    return DeviceChoice(name, torch.device(dev), fused, timings, clock() - start, low, note)


def bf16_pose_deviation(low_path: Callable[[], object], ref_path: Callable[[], object]) -> float:
    """Mean distance (m) between the positions two paths (``rollout_paths`` callables on the same
    actions) predict at the horizon's end."""
    z_low = low_path()[0][:, -1, :2].float().clone()
    z_ref = ref_path()[0][:, -1, :2].float()
    return float(torch.linalg.norm(z_low - z_ref, dim=-1).mean())
