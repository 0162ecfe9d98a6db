"""Golden test of the other robots' shipped world models: models/<robot>_default.pt (and the
classic_id fit models/<robot>_sysid.json) on that robot's own committed held-out set,
test/data/wm_eval_<robot>, made by ``ROBOT=<robot> scripts/train_default_model.sh --eval-set``:
the same 18 held-out episodes as the Husky's (two_rooms, maze and random layouts from seeds
900000+, the same with random dynamics from 910000+, ramp_door, walkers and cart_door from
920000+), driven as that robot. Training never sees those scenarios or seeds.

The robots issue asks each shipped model for a 2 s pose error at most 0.5 x the unicycle's and a
collision AUROC of at least 0.95 on its own held-out data. Where a model meets a target the test
asserts the target; where it does not, it asserts what the model measures, with a small margin, so
that a regression fails, and the model's card and the README say the target is not met (the
TurtleBot 4's pose error, whose base the unicycle already predicts within 3.3 cm at 2 s).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from world_model_planner.core.paths import default_model_path
from world_model_planner.world_model_node.checkpoint import load_checkpoint
from world_model_planner.world_model_node.data import load_dataset
from world_model_planner.world_model_node.evaluate import evaluate, load_sysid_model

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent.parent / "data"
HELD_OUT = {"two_rooms", "maze", "ramp_door", "walkers", "cart_door"}
# robot: (2 s pose error / the unicycle's at most, AUROC one step ahead, AUROC at 1 s at least)
ROBOTS = {
    "jackal": (0.5, 0.984, 0.95),        # measured 0.35 x, 0.989 and 0.963
    "turtlebot4": (0.95, 0.99, 0.99),    # measured 0.91 x (target 0.5 x: not met), 1.000 and 1.000
}


@pytest.fixture(scope="module", params=sorted(ROBOTS))
def measured(request):
    robot = request.param
    model_path = default_model_path(robot)
    data = load_dataset(DATA / f"wm_eval_{robot}")
    model = load_checkpoint(model_path, device="cpu")
    sysid, _ = load_sysid_model(model.dt_s, model_path.parent / f"{robot}_sysid.json")
    return robot, model_path, data, evaluate(model, data, sysid_model=sysid)


def test_robot_model_halves_the_unicycle_error_on_its_held_out_data(measured):
    robot, _, _, result = measured
    i = result["horizons_s"].index(2.0)
    model_err, uni_err = result["model"]["pose_err_m"][i], result["unicycle"]["pose_err_m"][i]
    print(f"\n{robot}: 2 s pose error model {model_err:.3f} m, unicycle {uni_err:.3f} m "
          f"({model_err / uni_err:.2f} x)")
    assert result["windows"] >= 300
    assert model_err <= ROBOTS[robot][0] * uni_err
    assert all(m < b for m, b in zip(result["model"]["pose_err_m"], result["constant_velocity"]["pose_err_m"]))
    if ROBOTS[robot][0] <= 0.5:                            # a model that halves the unicycle's error
        for name in ("unicycle", "classic_id"):           # beats both at every horizon
            assert all(m < b for m, b in zip(result["model"]["pose_err_m"], result[name]["pose_err_m"])), name


def test_robot_model_predicts_collisions(measured):
    robot, _, _, result = measured
    _, one_step, at_1s = ROBOTS[robot]
    by_h = dict(zip(result["horizons_s"], result["collision_auroc_by_horizon"]))
    print(f"\n{robot}: collision AUROC {result['collision_auroc']:.3f}; by horizon {by_h}")
    assert result["collision_auroc"] >= max(one_step, 0.95)
    assert by_h[1.0] >= at_1s


def test_robot_model_knows_its_robot_and_never_saw_the_held_out_set(measured):
    robot, model_path, data, _ = measured
    blob = torch.load(model_path, weights_only=True)
    stats = blob["data_stats"]
    assert stats["robots"] == [robot]
    eval_meta = data.meta["episodes"].values()
    assert {e["scenario"] for e in eval_meta if e["scenario"] != "random"} == HELD_OUT
    assert not HELD_OUT & set(stats["scenarios"])
    assert not {e["seed"] for e in eval_meta} & set(stats["seeds"])
    assert {e["robot"] for e in eval_meta} == {robot}
