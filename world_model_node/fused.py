"""The planner's hot path: a world model's rollout and heads as one fused computation.

``FusedRollout(model).run(z0, actions)`` gives what ``model.rollout`` followed by
``model.collision_logit`` and ``model.min_clearance`` give, without the per-step overhead of
the reference computation (``Predictor.forward`` step by step):

- the predictor's first layer reads the latent z as it is laid out: the input scalings
  (velocity, command memory) are folded into its weights and the columns of inputs it does
  not read (the pose) are zero, so no input is concatenated or divided per step;
- the action's part of the first layer (and its bias) is one matrix product over all
  ``(B, H)`` actions before the loop;
- the output layer's rows for the velocity and the pose correction carry their scales
  (``vw_scale``, ``dt_s``);
- each step writes the next latent straight into its slot of a preallocated time-major
  (H, B, D) result, contiguous per step (no ``torch.cat`` / ``torch.stack``); the rollout is
  returned as its (B, H, D) view; activations run in place;
- the scene's ego-motion prior turns the sectors with one gather on the scene repeated twice
  (no per-sector remainder);
- on the CPU, the state update between a step's products (everything but the products and
  their activations) is one compiled loop where numba is installed (world_model_node/
  step_kernel.py; ``WorldModel.step_kernel``), else about thirty PyTorch operations;
- the collision head runs once on the stacked (B * H, D) latents, its first layer folded like
  the predictor's (a head that reads the smallest clearance gets it as one rank-one update);
  the smallest clearance is clamped and scaled after the minimum (the same numbers: both are
  monotone).

With ``matmul_dtype`` ``torch.bfloat16`` (``WorldModel.matmul_dtype``; ``device: auto`` picks it
where it is measurably faster, on CPUs with bf16 units such as AMX) the matrix products of the
predictor and the collision head run in bf16 on bf16 copies of the folded weights, while the
latent itself (pose, velocity, scene, h) and its integration stay in the model's float32: each
step's input is rounded to bf16 for the products and their output widened back before it is
added to the state. A pose integrated in bf16 would lose centimetres at a few metres from the
origin; this way only the step's increments carry bf16 rounding (``test/unit/test_wm_fused.py``
bounds the difference; ``wmp eval-model --matmul-dtype bfloat16`` measures it on held-out data).
With the compiled step, each bf16 layer is one call of oneDNN's fused linear where the build has
it (world_model_node/onednn.py; ``WorldModel.product_kernel``): the bias and the SiLU are applied
to the float32 accumulator before the one rounding to bf16, and the first layer reads the step's
action beside the latent (the kernel's bf16 copy is two columns wider), so the actions' part is no
separate product (``_onednn_layers``).

The folded weights are built once per parameter version (cached; an optimiser step or a
``load_state_dict`` makes a new set). Results equal the reference within float32 rounding
(test/unit/test_wm_fused.py states the tolerance). The fused path needs the default
architecture (Linear / SiLU MLPs for the predictor and the collision head) and runs without
autograd; ``supported`` says whether it applies, and ``WorldModel`` falls back to the reference
computation where it does not.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from world_model_planner.world_model_node.encoders import EXPLICIT_DIMS, POSE_DIMS


def _silu_mlp_layers(net: nn.Module) -> list[nn.Linear] | None:
    """The Linear layers of a Sequential that alternates Linear and SiLU (at least two Linear
    layers, ending in one), or None for any other module."""
    if not isinstance(net, nn.Sequential) or len(net) % 2 != 1:
        return None
    layers = list(net)
    for i, layer in enumerate(layers):
        if not isinstance(layer, nn.Linear if i % 2 == 0 else nn.SiLU) or (i % 2 == 0 and layer.bias is None):
            return None
    return layers[0::2] if len(layers) >= 3 else None


class FusedRollout:
    """Fused rollout + heads of one ``WorldModel`` (see the module docstring)."""

    def __init__(self, model):
        self.model = model
        self._key = None
        self._w: dict = {}
        self._low: dict = {}              # matmul dtype -> the folded matrices and biases in it
        self._bufs: dict = {}
        self._shadow = None               # (zs, its bf16 copy from the step kernel) of the last rollout
        cfg = model.cfg
        self.mem, self.sectors, self.ex = cfg.cmd_memory, cfg.scene_sectors, cfg.explicit_dims
        self.dh = cfg.h_dims

    # -- applicability -------------------------------------------------------------------
    def supported(self) -> bool:
        """True when the model has the default predictor and collision-head architecture."""
        from world_model_planner.world_model_node.model import Predictor

        m = self.model
        return (type(m.predictor) is Predictor and _silu_mlp_layers(m.predictor.net) is not None
                and _silu_mlp_layers(m.collision_head) is not None)

    def _params(self) -> list[torch.Tensor]:
        """The predictor's and the collision head's weights and biases as the layers hold them now
        (read from the layers each call, so a replaced parameter or layer is seen; walking the
        modules with ``parameters()`` cost about 0.4 ms a tick)."""
        mods = (*self.model.predictor.net, *self.model.collision_head)
        key = tuple(map(id, mods))
        if getattr(self, "_layers_of", None) != key:
            self._layers = [m for m in mods if isinstance(m, nn.Linear)]
            self._layers_of = key
        return [t for layer in self._layers for t in (layer.weight, layer.bias)]

    # -- folded weights ------------------------------------------------------------------
    def weights(self) -> dict:
        """The folded weights for the parameters as they are now (rebuilt when any changed)."""
        params = self._params()
        key = tuple((id(p), p.data_ptr(), p._version, p.dtype, p.device) for p in params)
        if key != self._key:
            with torch.no_grad():
                self._w = self._fold()
            self._low = {}
            self._key = key
        return self._w

    def low_weights(self, dtype: torch.dtype) -> dict:
        """The matrices and biases of :meth:`weights` in ``dtype`` (for the products only)."""
        w = self.weights()
        if dtype not in self._low:
            cast = {k: w[k].to(dtype) for k in ("w1z", "w1a", "b1", "wo", "bo", "c1", "cb1")}
            cast["hidden"] = [(a.to(dtype), b.to(dtype)) for a, b in w["hidden"]]
            cast["chidden"] = [(a.to(dtype), b.to(dtype)) for a, b in w["chidden"]]
            cast["c1min"] = None if w["c1min"] is None else w["c1min"].to(dtype)
            # the head's first layer for the wide copy (_onednn_layers): zero rows for the actions
            cast["c1w"] = torch.cat([cast["c1"], cast["c1"].new_zeros(2, cast["c1"].shape[1])])
            self._low[dtype] = cast
        return self._low[dtype]

    def _onednn(self, low: torch.dtype | None, device: torch.device):
        """oneDNN's fused linear (world_model_node/onednn.py) for bf16 products where it applies
        (on the CPU, ``model.product_kernel`` not "torch", the build has it), else None (addmm +
        SiLU)."""
        if low is not torch.bfloat16 or device.type != "cpu" \
                or getattr(self.model, "product_kernel", "auto") == "torch":
            return None
        from world_model_planner.world_model_node import onednn

        return onednn.linear()

    def onednn_weights(self, dtype: torch.dtype) -> dict:
        """The predictor's layers of :meth:`low_weights` laid out for oneDNN's linear (out, in),
        the first over the latent followed by the action, [w1z; w1a]."""
        low = self.low_weights(dtype)
        if "onednn" not in low:
            t = lambda a: a.t().contiguous()                          # noqa: E731
            low["onednn"] = {"w1": t(torch.cat([low["w1z"], low["w1a"]])),
                             "hidden": [(t(a), b) for a, b in low["hidden"]], "wo": t(low["wo"])}
        return low["onednn"]

    #: ``matmul_dtype`` applies to products of at least this many rows (sequences in a rollout,
    #: latents in the collision head); smaller ones stay in the model's dtype. Converting to and
    #: from bf16 costs more than the products save there: on the development CPU (AMX) rollout +
    #: heads over 20 steps took 3.9 against 1.9 ms for 1 sequence, 6.9 against 5.3 for 128, the
    #: same at 256 and 14.4 against 16.4 at 512. The planner's one-sequence rollouts (the chosen
    #: plan, the caution check) are the small ones. ``WorldModel.matmul_min_rows`` overrides it
    #: (``wmp eval-model --matmul-dtype bfloat16`` sets 1: its windows are rolled out one by one).
    LOW_MIN_ROWS = 256

    def _matmul_dtype(self, dtype: torch.dtype, rows: int) -> torch.dtype | None:
        """The products' dtype for ``rows`` rows where it differs from the state's ``dtype``, else None."""
        low = getattr(self.model, "matmul_dtype", None)
        least = getattr(self.model, "matmul_min_rows", None)
        least = self.LOW_MIN_ROWS if least is None else least
        return low if low is not None and low != dtype and rows >= least else None

    def _fold(self) -> dict:
        m, p = self.model, self.model.predictor
        dh, mem, s, ex = self.dh, self.mem, self.sectors, self.ex
        layers = _silu_mlp_layers(p.net)
        w1, b1 = layers[0].weight, layers[0].bias                    # (hid, dh + 4 + 2L + S)
        hid, dtype, dev = w1.shape[0], w1.dtype, w1.device
        d = ex + dh
        vs = p.vw_scale.to(dtype)
        w1z = torch.zeros(hid, d, dtype=dtype, device=dev)            # reads z as laid out
        w1z[:, POSE_DIMS:EXPLICIT_DIMS] = w1[:, dh:dh + 2] / vs
        if mem:
            w1z[:, EXPLICIT_DIMS:EXPLICIT_DIMS + 2 * mem] = w1[:, dh + 4:dh + 4 + 2 * mem] / p.mem_scale.to(dtype)
        if s:
            w1z[:, EXPLICIT_DIMS + 2 * mem:ex] = w1[:, dh + 4 + 2 * mem:]
        w1z[:, ex:] = w1[:, :dh]
        w1a = w1[:, dh + 2:dh + 4] / vs                               # (hid, 2)
        # output rows reordered (corr x, corr y, corr yaw, velocity 2, scene S, h) and scaled
        # (corr by dt_s, velocity by vw_scale): the pose correction is then one complex number
        wo, bo = layers[-1].weight, layers[-1].bias                   # rows: h, velocity 2, corr 3, scene S
        order = torch.cat([torch.arange(dh + 2, dh + 5), torch.arange(dh, dh + 2),
                           torch.arange(dh + 5, dh + 5 + s), torch.arange(0, dh)]).to(dev)
        scale = torch.ones(wo.shape[0], dtype=dtype, device=dev)
        scale[:3] = m.cfg.dt_s
        scale[3:5] = vs
        wo, bo = wo[order] * scale[:, None], bo[order] * scale
        if wo.shape[0] % 2:                   # an even width keeps (corr x, corr y) viewable as complex
            wo, bo = torch.cat([wo, wo.new_zeros(1, hid)]), torch.cat([bo, bo.new_zeros(1)])
        # the collision head reads (velocity / vw_scale, scene, h): z's columns from the scene on
        heads = _silu_mlp_layers(m.collision_head)
        c1 = heads[0].weight                                          # (hh, 2 + S + dh [+ 1])
        c1min = None
        if m.cfg.head_reads_clearance:                                # its last input: the scene's minimum
            c1, c1min = c1[:, :-1], c1[:, -1].detach().clone()
        c1z = torch.zeros(c1.shape[0], d, dtype=dtype, device=dev)
        c1z[:, POSE_DIMS:EXPLICIT_DIMS] = c1[:, :2] / vs
        c1z[:, EXPLICIT_DIMS + 2 * mem:] = c1[:, 2:]
        sectors = max(s, 1)
        step_per_m = 1.0 / p.clip_m
        return {
            "w1z": w1z.t().contiguous(), "w1a": w1a.t().contiguous(), "b1": b1.detach().clone(),
            "hidden": [(lin.weight.t().contiguous(), lin.bias.detach().clone()) for lin in layers[1:-1]],
            "wo": wo.t().contiguous(), "bo": bo,
            "c1": c1z.t().contiguous(), "cb1": heads[0].bias.detach().clone(), "c1min": c1min,
            "chidden": [(lin.weight.t().contiguous(), lin.bias.detach().clone()) for lin in heads[1:]],
            # ego-motion prior: (dx, dy) (B, 2) @ (2, S) = translation towards each sector, scene units
            "towards": torch.stack([p.sector_cos, p.sector_sin]).to(dtype) * step_per_m,
            # gather indices of the sectors and their counter-clockwise neighbours, (2S,)
            "sector_idx": torch.cat([torch.arange(sectors), torch.arange(1, sectors + 1)]).to(dev),
            "per_rad": sectors / (2 * math.pi),
        }

    # -- the computation -----------------------------------------------------------------
    def _buffers(self, z0: torch.Tensor, horizon: int, b: int, hid: int, reuse: bool, a_dtype: torch.dtype,
                 low: torch.dtype | None = None, wide: bool = False):
        """(zs (H, B, D), a_in (H * B, hid) in ``a_dtype``, motion (H + 1, B, 3): each step's yaw
        increment and body-frame motion, low_zs (H, B, D) in ``low`` or None: the step kernel's
        copy of zs for the products): kept from the last call of the same shape with ``reuse``
        (no allocation in the tick), new ones otherwise. ``wide`` (oneDNN's products): low_zs is
        (H, B, D + 2), each row followed by the next step's action, and in place of a_in the first
        step's input (B, D + 2) in ``low``."""
        d = z0.shape[-1]
        key = (horizon, b, d, hid, z0.dtype, a_dtype, z0.device, low, wide)
        if reuse and key in self._bufs:
            return self._bufs[key]
        bufs = (z0.new_empty(horizon, b, d),
                z0.new_empty(b, d + 2, dtype=low) if wide else z0.new_empty(horizon * b, hid, dtype=a_dtype),
                z0.new_empty(horizon + 1, b, 3),
                None if low is None else z0.new_empty(horizon, b, d + 2 if wide else d, dtype=low))
        if reuse:
            if len(self._bufs) >= 4:
                self._bufs.clear()
            self._bufs[key] = bufs
        return bufs

    def _kernel(self, z0: torch.Tensor, actions: torch.Tensor):
        """The compiled step (world_model_node/step_kernel.py) where it applies: float32 on the
        CPU, ``model.step_kernel`` not "torch", numba present; else None (the PyTorch step)."""
        if getattr(self.model, "step_kernel", "auto") == "torch" or z0.dtype != torch.float32 \
                or z0.device.type != "cpu" or actions.device.type != "cpu":
            return None
        from world_model_planner.world_model_node import step_kernel

        return step_kernel.get()

    def _kernel_consts(self, w: dict) -> dict:
        """The step kernel's constant arrays for the weights ``w`` (rebuilt with them)."""
        if getattr(self, "_kc_for", None) is not w:
            cfg, pr = self.model.cfg, self.model.predictor
            lag_cols = np.array([-1 if c is None else c for c in pr.lag_columns()], np.int64) if cfg.lag_prior \
                else np.array([-1, -1], np.int64)
            lag_c = (torch.stack([pr.lag_gain, pr.lag_k, pr.lag_lim]).float().cpu().numpy() if cfg.lag_prior
                     else np.zeros((3, 2), np.float32))
            self._kc = {"towards": w["towards"].float().cpu().numpy().copy(),
                        "consts": np.array([0.5 * cfg.dt_s, w["per_rad"]], np.float32),
                        "lag_cols": lag_cols, "lag_c": np.ascontiguousarray(lag_c, np.float32)}
            self._kc_for = w
        return self._kc

    def rollout(self, z0: torch.Tensor, actions: torch.Tensor, reuse: bool = False) -> torch.Tensor:
        """z0 (B, D) or (1, D), actions (B, H, 2) -> z (B, H, D), as ``WorldModel.rollout``
        (already checked by the caller); a view of a time-major (H, B, D) buffer. With ``reuse``
        the buffer is the one of the last call of this shape, so the result is only valid until
        the next such call.

        Nothing in a step reads the pose or the command memory except through known inputs, so
        neither is carried step by step: the memory of every step is written from the actions
        before the loop (one gather), and the pose is integrated after it from each step's
        body-frame motion and yaw increment (two running sums over the horizon, in the order the
        step-by-step model adds them)."""
        w = self.weights()
        b, horizon = actions.shape[0], actions.shape[1]
        low = self._matmul_dtype(z0.dtype, b)
        mm = self.low_weights(low) if low is not None else w          # the products' weights
        mem, s, ex = self.mem, self.sectors, self.ex
        m0 = EXPLICIT_DIMS + 2 * mem                                  # scene start
        half_dt = 0.5 * self.model.cfg.dt_s
        acts = actions.to(z0.dtype).transpose(0, 1).contiguous()      # (H, B, 2)
        # time-major: each step's (B, D) is contiguous
        kernel = self._kernel(z0, actions)
        onednn = self._onednn(low, z0.device) if kernel is not None else None
        zs, a_buf, motion, low_zs = self._buffers(z0, horizon, b, w["b1"].shape[0], reuse, mm["b1"].dtype,
                                                  low if kernel is not None else None, wide=onednn is not None)
        self._shadow = None
        if onednn is not None:                # each layer one oneDNN call, the action read beside the latent
            layers, x0 = self._onednn_layers(onednn, z0, acts, a_buf, low_zs, low)
        else:                                 # addmm + SiLU, the actions' part as one product first
            a_in = torch.addmm(mm["b1"], acts.view(horizon * b, 2).to(mm["b1"].dtype), mm["w1a"],
                               out=a_buf).view(horizon, b, -1)
            layers = functools.partial(self._addmm_layers, a_in, mm)
            x0 = (z0 if low is None else z0.to(low)).expand(b, -1)
        if kernel is not None:                # the kernel writes the memory and zeroes the pose itself
            self._rollout_kernel(kernel, layers, x0, z0, acts, zs, motion, low_zs, w, low)
            self._integrate_pose(z0, zs, motion)
            if low_zs is not None:            # the collision head reads the kernel's bf16 copy (_logit)
                self._shadow = (zs, low_zs)
            return zs.transpose(0, 1)
        if mem:                               # step k's memory: the last L of (z0's memory, actions)
            seq = torch.cat([z0[:, EXPLICIT_DIMS:m0].view(-1, mem, 2).transpose(0, 1).expand(mem, b, 2), acts])
            zs[:, :, EXPLICIT_DIMS:m0] = seq[self._windows(mem, horizon, z0.device)].permute(0, 2, 1, 3).flatten(2)
        zs[:, :, :POSE_DIMS] = 0.0            # written after the loop; read before that with zero weights only
        dyaw_all, body = motion[1:, :, 0], motion[1:, :, 1:3]         # (H, B), (H, B, 2)
        z = z0.expand(b, -1)
        prior = s and self.model.cfg.scene_prior
        lag = self.model.cfg.lag_prior
        if lag:                                                       # the identified lag's constants
            pr = self.model.predictor
            lag_cols, lag_cmd = pr.lag_columns(), z0.new_empty(b, 2)
            lag_gain, lag_k, lag_lim = pr.lag_gain.to(z0.dtype), pr.lag_k.to(z0.dtype), pr.lag_lim.to(z0.dtype)
            lag_neg = -lag_lim
        ones = z0.new_ones(b)
        for k in range(horizon):
            x = F.silu(torch.addmm(a_in[k], z if low is None else z.to(low), mm["w1z"]), inplace=True)
            for wt, bias in mm["hidden"]:
                x = F.silu(torch.addmm(bias, x, wt), inplace=True)
            out = torch.addmm(mm["bo"], x, mm["wo"])                 # (B, 5 + S + dh [+ 1]): corr 3, vel 2, scene, h
            if low is not None:
                out = out.to(z0.dtype)                                # the state is integrated in its own dtype
            zk = zs[k]
            vel, vel_next = z[:, POSE_DIMS:EXPLICIT_DIMS], zk[:, POSE_DIMS:EXPLICIT_DIMS]
            if lag:                   # velocity = the lag's step + the residual (Predictor.lag_step)
                for i, c in enumerate(lag_cols):
                    lag_cmd[:, i] = acts[k][:, i] if c is None else z[:, c]
                change = lag_cmd.mul_(lag_gain).sub_(vel).mul_(lag_k)
                torch.maximum(torch.minimum(change, lag_lim, out=change), lag_neg, out=change)
                torch.add(vel, change, out=vel_next).add_(out[:, 3:5])
            else:
                torch.add(vel, out[:, 3:5], out=vel_next)
            mid = torch.add(vel, vel_next).mul_(half_dt)             # (B, 2) v_mid dt, w_mid dt
            dyaw = torch.add(mid[:, 1], out[:, 2], out=dyaw_all[k])  # the yaw increment
            half = torch.view_as_real(torch.polar(ones, dyaw * 0.5))  # (B, 2) cos, sin of half of it
            step = torch.addcmul(out[:, 0:2], half, mid[:, 0:1], out=body[k])   # body-frame dx, dy
            if s:
                scene = z[:, m0:ex]
                if prior:
                    scene = self._ego_scene(scene, step, dyaw, w)
                torch.add(scene, out[:, 5:5 + s], out=zk[:, m0:ex]).clamp_(0.0, 1.0)
            torch.add(z[:, ex:], out[:, 5 + s:5 + s + self.dh], out=zk[:, ex:])
            z = zk
        self._integrate_pose(z0, zs, motion)
        return zs.transpose(0, 1)

    def _rollout_kernel(self, kernel, layers, x_in, z0, acts, zs, motion, low_zs, w, low) -> None:
        """The loop of :meth:`rollout` with the compiled step (``step_kernel.run``): the products
        in PyTorch (``layers(k, x)``: step k's output layer from its input x; ``x_in``: the first
        step's input), the state update (the command memory shifted by the step's action too) in
        the kernel. With ``low`` (bf16 products) the kernel reads the output layer's bf16 result
        as it is and writes each new latent's bf16 copy into ``low_zs``, the next step's input
        (and the collision head's, see :meth:`_logit`)."""
        from world_model_planner.world_model_node import step_kernel

        m0 = EXPLICIT_DIMS + 2 * self.mem
        bits = int(low is not None)
        dims = np.array([m0, self.ex, self.sectors, self.dh, int(bool(self.sectors and self.model.cfg.scene_prior)),
                         bits, bits, int(bool(self.model.cfg.lag_prior)), self.mem], np.int64)
        step_kernel.run(kernel, layers, x_in, z0, acts, zs, motion, low_zs, self._kernel_consts(w), dims,
                        w["bo"].shape[0], self.sectors)

    @staticmethod
    def _addmm_layers(a_in, mm, k, x):
        """Step k's products as addmm + SiLU, the first layer's action part ``a_in[k]`` computed
        before the loop."""
        x = F.silu(torch.addmm(a_in[k], x, mm["w1z"]), inplace=True)
        for wt, bias in mm["hidden"]:
            x = F.silu(torch.addmm(bias, x, wt), inplace=True)
        return torch.addmm(mm["bo"], x, mm["wo"])

    def _onednn_layers(self, op, z0, acts, in0, low_zs, low):
        """Step products as oneDNN's fused linear (``op``, world_model_node/onednn.py), the bias
        and the SiLU applied before the single rounding to bf16 -> (layers(k, x), the first step's
        input). The first layer reads the action beside the latent, so there is no a_in: each row
        of ``low_zs`` (H, B, D + 2) is the kernel's bf16 copy of the latent (D columns, written by
        the kernel) followed by the next step's action (written here; zero after the last step,
        where the collision head's zero columns read it); ``in0`` (B, D + 2) is the first step's
        input. A non-finite action also makes the step before it non-finite in the head (a zero
        weight times it); that sequence is non-finite from there on anyway."""
        d = z0.shape[-1]
        ow, mm = self.onednn_weights(low), self.low_weights(low)
        low_zs[:-1, :, d:] = acts[1:]
        low_zs[-1, :, d:] = 0.0
        in0[:, :d] = z0
        in0[:, d:] = acts[0]

        def layers(k, x):
            x = op(x, ow["w1"], mm["b1"], "swish", [], "")
            for wt, bias in ow["hidden"]:
                x = op(x, wt, bias, "swish", [], "")
            return op(x, ow["wo"], mm["bo"], "none", [], "")

        return layers, in0

    @staticmethod
    def _integrate_pose(z0: torch.Tensor, zs: torch.Tensor, motion: torch.Tensor) -> None:
        """Write the poses into zs (H, B, D) from motion (H + 1, B, 3): row 0 is overwritten with
        the start (yaw, x, y), rows 1.. hold each step's yaw increment and body-frame (dx, dy).
        The yaw is the running sum of the increments from the start's; each step's motion turns
        by the yaw before it and is summed onto the start's position."""
        motion[0, :, 0] = z0[:, 2]
        yaw = torch.cumsum(motion[:, :, 0], dim=0)                   # (H + 1, B): start, after each step
        zs[:, :, 2] = yaw[1:]
        turn = torch.polar(torch.ones_like(yaw[:-1]), yaw[:-1])     # (H, B) e^(i yaw before the step)
        world = torch.view_as_complex(motion[1:, :, 1:3].contiguous()) * turn
        xy = motion[:, :, 1:3]
        xy[0] = z0[:, 0:2]
        xy[1:] = torch.view_as_real(world)
        zs[:, :, 0:2] = torch.cumsum(xy, dim=0)[1:]

    @staticmethod
    @functools.lru_cache(maxsize=16)
    def _windows(mem: int, horizon: int, device) -> torch.Tensor:
        """(H, L) indices into (z0's L memory pairs, then the H actions): step k's memory after
        the step (the last L commands up to and including action k)."""
        return torch.arange(horizon, device=device)[:, None] + torch.arange(1, mem + 1, device=device)[None]

    def _ego_scene(self, scene: torch.Tensor, dxy: torch.Tensor, dyaw: torch.Tensor, w: dict) -> torch.Tensor:
        """``Predictor.ego_scene`` on (B, S): one gather of each sector and its neighbour from the
        scene repeated twice (no per-sector remainder), then one interpolation."""
        s = self.sectors
        step = dxy @ w["towards"]                                     # (B, S)
        moved = torch.where(scene < 1.0 - 1e-4, scene - step, scene)
        shift = dyaw * w["per_rad"]
        base = torch.floor(shift)
        # integer remainder: a non-finite turn (a NaN action) gives a valid index and a NaN sample
        idx = w["sector_idx"] + torch.remainder(base.long(), s).unsqueeze(-1)        # (B, 2S) in [0, 2S)
        both = torch.gather(torch.cat([moved, moved], dim=-1), -1, idx)
        return torch.lerp(both[:, :s], both[:, s:], (shift - base).unsqueeze(-1))

    def collision_logit(self, z: torch.Tensor, fresh: bool = False) -> torch.Tensor:
        """(B, H, D) -> (B, H), as ``WorldModel.collision_logit``, in one pass over B * H rows.
        ``fresh``: z is what :meth:`rollout` has just returned, unchanged since (as in
        ``WorldModel.rollout_heads``), so with bf16 products the head may read the step kernel's
        bf16 copy of it in place of converting it."""
        if z.dim() == 3 and not z.is_contiguous() and z.transpose(0, 1).is_contiguous():
            return self._logit(z.transpose(0, 1), fresh).transpose(0, 1)    # time-major, as rollout gives it
        return self._logit(z)

    def _logit(self, z: torch.Tensor, fresh: bool = False) -> torch.Tensor:
        flat = z.reshape(-1, z.shape[-1])
        low = self._matmul_dtype(z.dtype, flat.shape[0])
        w = self.low_weights(low) if low is not None else self.weights()
        inp = flat if low is None else self._low_copy(z, flat, low, fresh)
        wide = inp.shape[-1] != flat.shape[-1]                      # the rollout's copy with its actions
        # addmm + SiLU here even where the rollout's layers are oneDNN's fused ones: over the
        # (B * H) latents those were 0.2-0.3 ms slower a tick (their outputs are allocated anew)
        x = torch.addmm(w["cb1"], inp, w["c1w" if wide else "c1"])
        if w["c1min"] is not None:
            m0 = EXPLICIT_DIMS + 2 * self.mem
            smallest = flat[:, m0:self.ex].amin(dim=-1, keepdim=True).clamp_(0.0, 1.0)
            x.addmm_(smallest.to(x.dtype), w["c1min"].unsqueeze(0))
        x = F.silu(x, inplace=True)
        last = len(w["chidden"]) - 1
        for i, (wt, bias) in enumerate(w["chidden"]):
            x = torch.addmm(bias, x, wt)
            if i < last:
                x = F.silu(x, inplace=True)
        return x.view(z.shape[:-1]).to(z.dtype)

    def _low_copy(self, z: torch.Tensor, flat: torch.Tensor, low: torch.dtype, fresh: bool) -> torch.Tensor:
        """``flat`` in ``low``: with ``fresh``, the step kernel's copy where ``z`` is the last
        rollout's latents (the same buffer and layout), else a conversion. The copy holds zeros
        where the pose is and the memory converted: the head reads neither (its first layer's
        columns there are zero). With oneDNN's products the copy is wide, (N, D + 2): each row
        followed by an action, which the head's "c1w" reads with zero weights."""
        sh = self._shadow
        if (fresh and sh is not None and sh[1].dtype == low and z.data_ptr() == sh[0].data_ptr()
                and z.shape == sh[0].shape and z.stride() == sh[0].stride()):
            return sh[1].view(-1, sh[1].shape[-1])
        return flat.to(low)

    def min_clearance(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (...) metres, as ``WorldModel.min_clearance`` (minimum first, then the clamp
        and the scale: the same numbers, on S times fewer values)."""
        m0 = EXPLICIT_DIMS + 2 * self.mem
        return z[..., m0:self.ex].amin(dim=-1).clamp(0.0, 1.0) * self.model.encoder.scan.clip_m
