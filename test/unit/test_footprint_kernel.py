"""The footprint's clearance against the scan's distance field as one compiled pass per pose
(world_model_node/_kernels_numba.footprint_min, used by planner_node/critics/field.Footprint.
distance on the CPU): the same numbers as PyTorch's lookups, and a NaN pose never read as a place."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.planner_node.critics.field import DistanceField, Footprint
from world_model_planner.world_model_node import step_kernel

pytestmark = pytest.mark.skipif(not step_kernel.available(), reason=f"numba unavailable: {step_kernel.error()}")

FOOTPRINTS = {"exact": lambda: Footprint(0.508, 0.43, 5, exact=True, padding_m=0.05),
              "circles": lambda: Footprint(0.99, 0.67, 3),
              "round": lambda: Footprint(0.342, 0.339, 1, round_base=True)}


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """PyTorch's path on two threads is not deterministic here: the same call on the same inputs
    gave clearances 5e-5 m apart from one call to the next (grid_sample's CPU kernel), where on
    one thread, as the planner runs, it is. The reference is taken on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _both(fp, poses, field):
    fast = fp.distance(poses, field)
    fp.compiled = False
    try:
        slow = fp.distance(poses, field)
    finally:
        fp.compiled = True
    return fast, slow


@pytest.mark.parametrize("kind", sorted(FOOTPRINTS))
def test_the_compiled_pass_gives_pytorch_s_clearance(kind):
    rng = np.random.default_rng(7)
    fp = FOOTPRINTS[kind]()
    for size, res in ((8.0, 0.05), (10.0, 0.1), (3.0, 0.05)):
        field = DistanceField(rng.uniform(-4, 4, (200, 2)), (0.3, -0.2), size_m=size, res_m=res)
        # poses inside the grid, across its edge and well outside it (every point then reads far)
        xy = rng.uniform(-size * 0.7, size * 0.7, (256, 16, 2))
        poses = torch.tensor(np.concatenate([xy, rng.uniform(-4, 4, (256, 16, 1))], -1), dtype=torch.float32)
        fast, slow = _both(fp, poses, field)
        assert fast.shape == (256, 16) and fast.dtype == torch.float32
        worst = int((fast - slow).abs().argmax())
        assert torch.allclose(fast, slow, atol=2e-6, rtol=0), \
            (size, res, poses.reshape(-1, 3)[worst].tolist(), float(fast.reshape(-1)[worst]), float(slow.reshape(-1)[worst]))
        far = (fast > field.far - fp.radius - fp.padding - 1e-4).float().mean()
        assert 0.05 < float(far) < 0.95                       # both regimes were exercised
    # a pose exactly on a cell centre and one on the grid's last half cell (border clamp)
    field = DistanceField(np.array([[0.0, 0.0]]), (0.0, 0.0), size_m=2.0, res_m=0.1)
    edge = torch.tensor([[0.05, 0.05, 0.0], [0.97, -0.97, 1.0], [-0.99, 0.0, -2.0]], dtype=torch.float32)
    fast, slow = _both(fp, edge, field)
    assert torch.allclose(fast, slow, atol=2e-6, rtol=0)


def test_the_compiled_pass_gives_the_same_bits_every_call_on_any_thread_count():
    rng = np.random.default_rng(3)
    fp = FOOTPRINTS["exact"]()
    field = DistanceField(rng.uniform(-4, 4, (200, 2)), (0.0, 0.0), size_m=8.0, res_m=0.05)
    poses = torch.tensor(np.c_[rng.uniform(-5, 5, (4096, 2)), rng.uniform(-4, 4, 4096)], dtype=torch.float32)
    first = fp.distance(poses, field)
    for threads in (1, 2, 1):
        torch.set_num_threads(threads)
        assert torch.equal(fp.distance(poses, field), first)


def test_a_nan_pose_is_nan_on_both_paths_and_a_faraway_one_reads_far():
    fp = FOOTPRINTS["exact"]()
    field = DistanceField(np.array([[1.0, 0.0]]), (0.0, 0.0), size_m=4.0, res_m=0.05)
    poses = torch.tensor([[math.nan, 0.0, 0.0], [0.0, 0.0, math.inf], [math.inf, 0.0, 0.3],
                          [0.0, 0.0, 0.0]], dtype=torch.float32)
    fast, slow = _both(fp, poses, field)
    for d in (fast, slow):
        assert math.isnan(float(d[0])) and math.isnan(float(d[1]))
        assert float(d[2]) == pytest.approx(field.far - fp.radius - fp.padding)   # every point reads far
        assert float(d[3]) == pytest.approx(1.0 - 0.254 - 0.05, abs=0.03)  # the nose 0.254 m from a return 1 m ahead


def test_one_nan_pose_does_not_switch_off_the_grid_edge_test_for_the_others():
    """PyTorch's lookup skips the outside test when every pose is well inside the grid; a NaN pose
    made that bound NaN and skipped it for all, so poses past the edge read the border's value."""
    fp = FOOTPRINTS["round"]()
    field = DistanceField(np.array([[0.0, 0.0]]), (0.0, 0.0), size_m=2.0, res_m=0.1)
    poses = torch.tensor([[math.nan, 0.0, 0.0], [5.0, 0.0, 0.0]], dtype=torch.float32)
    fast, slow = _both(fp, poses, field)
    for d in (fast, slow):
        assert float(d[1]) == pytest.approx(field.far - fp.radius)


def test_the_planner_commands_the_same_with_either_path():
    """A Jackal-like exact footprint in a cluttered scan: the same MPPI seed plans the same
    command with the compiled pass as with PyTorch's lookups."""
    from world_model_planner.planner_node.dynamics import UnicycleModel
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import Navigator, PlannerConfig
    from world_model_planner.planner_node.recovery import RecoveryConfig
    from world_model_planner.planner_node.tick_profile import room_scan

    cmds = []
    for compiled in (True, False):
        Footprint.compiled = compiled
        try:
            torch.manual_seed(3)
            cfg = PlannerConfig(mppi=MPPIConfig(samples=128, horizon=12), recovery=RecoveryConfig(enabled=False))
            cfg.critics.footprint_exact, cfg.critics.footprint_length_m, cfg.critics.footprint_width_m = True, 0.508, 0.43
            nav = Navigator("classic", UnicycleModel(0.1), cfg)
            nav.set_goal(3.5, 0.0)
            pose = np.array([-2.0, 0.3, 0.2])
            out = [nav.step(pose, np.zeros(2), room_scan(pose), 0.05 * k, new_scan=k % 2 == 0) for k in range(6)]
            cmds.append([(c.v, c.w, c.best_cost) for c in out])
        finally:
            Footprint.compiled = True
    assert np.allclose(cmds[0], cmds[1], atol=1e-4, rtol=1e-5), cmds
