"""CUDA graphs for the planner's hot path on a GPU.

On a GPU the fused rollout (``world_model_node.fused``) is bound by kernel launches, not by
arithmetic: each of the H steps launches about twenty small kernels (three matrix products,
activations, the pose integration, the scene), so 4096 x 30 costs the same few milliseconds as
64 x 30. :class:`GraphedHeads` records one rollout and its heads as a CUDA graph per shape and
replays it: the whole hot path becomes one launch, with the inputs copied into the graph's
static tensors first.

A graph holds the addresses of the tensors it was recorded with, so it is recorded again where
any of them could have moved:

- a new shape (samples x horizon, as the adaptive budget changes it), dtype, device, products'
  dtype or set of heads: one graph each, at most ``MAX_GRAPHS`` kept;
- new weights (an optimiser step, ``load_state_dict``, a hot reload): the folded weights are
  rebuilt (``FusedRollout.weights``) and every graph recorded with the old ones is dropped.

Recording needs a CUDA device and a few warm-up runs on a side stream (cuBLAS sets up its
workspace on the first product); a recording that fails (an old driver, a sanitiser) is logged
once by the caller through ``failed`` and that model then runs eagerly, with the same numbers.
The replayed numbers are those of the eager fused path (the same kernels on the same inputs);
``test/unit/test_cuda_graphs.py`` checks that on a GPU.

What the graph gives back: z (B, H, D) is the graph's static output, valid until the next call
of the same shape (what ``WorldModel.rollout_heads(reuse=True)`` promises); the collision logit
and the clearance are copied out, so they stay valid like the eager path's.
"""
from __future__ import annotations

import logging

import torch

_log = logging.getLogger(__name__)

#: graphs kept per model (each holds its own memory pool; a budget change adds one shape)
MAX_GRAPHS = 4
#: eager runs on a side stream before recording (lazy cuBLAS / allocator set-up happens there)
WARMUP_RUNS = 2


class GraphedHeads:
    """Rollout + heads of one ``FusedRollout`` as replayed CUDA graphs (module docstring)."""

    def __init__(self, fused):
        self.fused = fused
        self._graphs: dict = {}
        self._weights_key = None
        self.failed: str | None = None        # why recording failed; the model then runs eagerly
        self.recorded = 0                     # graphs recorded so far (tests, diagnostics)

    def run(self, z0: torch.Tensor, actions: torch.Tensor, collision: bool, clearance: bool):
        """(z, logit or None, clearance or None) as ``WorldModel.rollout_heads(reuse=True)``, or
        None where recording failed (now or before): the caller then runs the eager path."""
        if self.failed is not None:
            return None
        fused = self.fused
        fused.weights()                                   # rebuilt here, outside any recording
        low = fused._matmul_dtype(z0.dtype, actions.shape[0])
        if fused.model.matmul_dtype is not None:
            fused.low_weights(fused.model.matmul_dtype)   # the heads' rows may reach the bf16 threshold
        if fused._key != self._weights_key:               # new weights: the graphs read the old ones
            self.clear()
            self._weights_key = fused._key
        key = (tuple(z0.shape), tuple(actions.shape), z0.dtype, actions.dtype, low, bool(collision),
               bool(clearance), z0.device)
        entry = self._graphs.get(key)
        if entry is None:
            try:
                entry = self._record(z0, actions, collision, clearance)
            except RuntimeError as exc:                   # CUDA refused the recording
                self.failed = f"{type(exc).__name__}: {exc}"
                _log.warning("CUDA graph recording failed, the rollout runs eagerly from now on: %s", self.failed)
                if z0.is_cuda:
                    torch.cuda.synchronize(z0.device)
                return None
            if len(self._graphs) >= MAX_GRAPHS:
                self.clear()
            self._graphs[key] = entry
        graph, static_z0, static_actions, (z, logit, clear) = entry
        static_z0.copy_(z0)
        static_actions.copy_(actions)
        graph.replay()
        return (z, None if logit is None else logit.clone(), None if clear is None else clear.clone())

    def clear(self) -> None:
        """Drop every recorded graph (and the memory pools they hold)."""
        self._graphs.clear()

    def _record(self, z0: torch.Tensor, actions: torch.Tensor, collision: bool, clearance: bool):
        fused = self.fused
        with torch.inference_mode(False):                 # plain tensors: copy_ works in any mode
            static_z0 = torch.empty_like(z0)
            static_actions = torch.empty_like(actions)
        static_z0.copy_(z0)
        static_actions.copy_(actions)

        def body():
            z = fused.rollout(static_z0, static_actions)  # buffers from the graph's own pool
            return (z, fused.collision_logit(z) if collision else None,
                    fused.min_clearance(z) if clearance else None)

        device = z0.device
        side = torch.cuda.Stream(device=device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_RUNS):
                body()
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: another thread of the process (a node's executor loading a checkpoint)
        # may use CUDA while this one records, without failing the recording
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            outs = body()
        self.recorded += 1
        return graph, static_z0, static_actions, outs
