"""Golden test: the shipped models/husky_default.pt (and the classic_id fit models/husky_sysid.json)
on the committed held-out eval set.

test/data/wm_eval holds 18 episodes (14 s each) that training never saw: the built-in two_rooms
and maze and random layouts from seeds 900000+ (static), the same with random dynamics from seeds
910000+ (terrain, payload, latency, people and carts), and the dynamics-suite scenarios ramp_door,
walkers and cart_door from seeds 920000+. Training uses seeds 0-2019 and the scenarios open, wall,
u_trap, random, ice_bend, mud_field, heavy_stop and crossing. Regenerate the set with
``scripts/train_default_model.sh --eval-set``, the model with ``scripts/train_default_model.sh``.

The thresholds are what the shipped model measures, with a small margin, so that a regression
fails; the issue's targets and where the model falls short of them are in models/husky_default.md.
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

DATA = Path(__file__).parent.parent / "data" / "wm_eval"
MODEL = default_model_path()
SYSID = MODEL.parent / "husky_sysid.json"
HELD_OUT = {"two_rooms", "maze", "ramp_door", "walkers", "cart_door"}


@pytest.fixture(scope="module")
def result():
    model = load_checkpoint(MODEL, device="cpu")
    sysid, _ = load_sysid_model(model.dt_s, SYSID)
    return evaluate(model, load_dataset(DATA), sysid_model=sysid)


def test_shipped_model_about_halves_the_unicycle_error_on_unseen_static_layouts(result):
    i = result["horizons_s"].index(2.0)
    static = result["slices"]["static"]
    model_err, uni_err = static["model"][i], static["unicycle"][i]
    print(f"\nstatic windows ({static['windows']}), 2 s pose error: model {model_err:.3f} m, "
          f"unicycle {uni_err:.3f} m ({model_err / uni_err:.3f} x)")
    assert static["windows"] >= 100
    assert model_err <= 0.52 * uni_err        # measured 0.512 x (the target is 0.5 x)
    # better than both plain baselines at every horizon, over all windows
    for name in ("unicycle", "constant_velocity"):
        assert all(m < b for m, b in zip(result["model"]["pose_err_m"], result[name]["pose_err_m"]))


def test_shipped_model_beats_classic_id_where_the_dynamics_change(result):
    i = result["horizons_s"].index(2.0)
    for name in ("terrain", "payload", "latency", "movers"):
        sl = result["slices"][name]
        ratio = sl["model"][i] / sl["classic_id"][i]
        print(f"\n{name} ({sl['windows']} windows): 2 s error {sl['model'][i]:.3f} m vs classic_id "
              f"{sl['classic_id'][i]:.3f} m ({ratio:.2f} x)")
        assert sl["windows"] >= 50 and ratio <= 0.8         # measured 0.68-0.75 x


def test_shipped_model_predicts_collisions(result):
    by_h = dict(zip(result["horizons_s"], result["collision_auroc_by_horizon"]))
    print(f"\ncollision AUROC {result['collision_auroc']:.3f}; by horizon {by_h}")
    assert result["collision_auroc"] >= 0.95                 # measured 0.982
    assert by_h[1.0] >= 0.945                                # measured 0.951 (target >= 0.95)


def test_shipped_model_is_small_plain_data_and_never_trained_on_the_eval_set():
    assert MODEL.stat().st_size < 3 * 2**20
    blob = torch.load(MODEL, weights_only=True)
    assert blob["obs_spec"] == {"scan_beams": 180, "range_max_m": 8.0, "image": False, "image_size": 0}
    cfg = blob["config"]
    assert cfg["history_steps"] > 0 and cfg["scene_sectors"] > 0
    stats = blob["data_stats"]
    eval_meta = load_dataset(DATA).meta["episodes"].values()
    eval_named = {e["scenario"] for e in eval_meta if e["scenario"] != "random"}
    assert eval_named == HELD_OUT and not eval_named & set(stats["scenarios"])
    assert not {e["seed"] for e in eval_meta} & set(stats["seeds"])
    assert stats["dynamic_episodes"] > 0


def test_history_ablation_swaps_the_dynamics_history_of_the_settled_windows(result):
    from world_model_planner.world_model_node import eval_windows as ew

    data = load_dataset(DATA)
    ad = result["adaptation"]
    hx = ad["history_ablation"]
    _, offs = ew.adaptation_windows(data.ground, data.episode, int(round(ad["horizon_s"] / 0.1)), 0.1)
    print(f"\nadaptation: {hx}")
    assert hx["windows"] == int((offs >= 1.0 - 1e-9).sum()) > 0
    # with its own history these are the settled windows of the adaptation block, to the digit
    assert hx["own_history_m"] == pytest.approx(ad["model"]["after_1s_m"], rel=1e-6)
    # the model's online adaptation: after a second on the new ground its error is lower with
    # that second in its history than with the one it had at the entry (0.097 against 0.100 m;
    # on the larger sets of scripts/held_out_targets.py 0.095 / 0.099 and 0.112 / 0.115 m)
    assert hx["own_history_m"] < hx["entry_history_m"] - 1e-3
    assert hx["ratio"] == pytest.approx(hx["own_history_m"] / hx["entry_history_m"])


def test_held_out_targets_script_reads_each_target_from_the_evaluation(tmp_path, capsys):
    """scripts/held_out_targets.py on a replicate made of the committed set's three shards, one
    per part (its collection skipped: the parts are there): every ratio in its table is the one
    its own evaluation (eval.json, eval-model's result) gives, and the static one is the golden
    figure."""
    import importlib.util
    import json
    import shutil

    path = Path(__file__).resolve().parents[2] / "scripts" / "held_out_targets.py"
    spec = importlib.util.spec_from_file_location("held_out_targets", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # the folders load in name order, so the shards keep the committed set's order (and windows)
    counts = {}
    for part, shard in zip(("dynamic", "static", "suite"), sorted(DATA.glob("shard_*.npz"))):
        (tmp_path / "husky_r0" / part).mkdir(parents=True)
        shutil.copy(shard, tmp_path / "husky_r0" / part / shard.name)
        counts[part] = len(set(load_dataset(tmp_path / "husky_r0" / part).episode.tolist()))
    # a part with other than the protocol's number of episodes is refused, not evaluated
    with pytest.raises(SystemExit, match="episodes where 40 are expected"):
        mod.main(["--work", str(tmp_path), "--replicates", "1"])
    mod.PARTS = tuple((n, sc, ex, counts[n], seed) for n, sc, ex, _, seed in mod.PARTS)
    assert mod.main(["--work", str(tmp_path), "--replicates", "1"]) == 0
    out = capsys.readouterr().out
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:4]] for r in out.splitlines()
            if r.startswith("| ") and not r.startswith("| target")}
    res = json.loads((tmp_path / "husky_r0" / "eval.json").read_text())
    i = res["horizons_s"].index(2.0)
    st = res["slices"]["static"]
    want = {"static: 2 s error / unicycle (<= 0.5)": st["model"][i] / st["unicycle"][i],
            "collision AUROC at 1 s (>= 0.95)": res["collision_auroc_by_horizon"][res["horizons_s"].index(1.0)],
            "new ground: 1 s error after 1 s / at entry (<= 0.5)": res["adaptation"]["model"]["ratio"],
            "all windows: 2 s error / unicycle (the robots issue: <= 0.5)":
                res["model"]["pose_err_m"][i] / res["unicycle"]["pose_err_m"][i],
            "mover clearance at 1 s / constant velocity (<= 0.7)":
                res["clearance_err_m"]["model"][0] / res["clearance_err_m"]["constant_velocity_tracker"][0]}
    for name in ("terrain", "payload", "latency", "movers"):
        sl = res["slices"][name]
        want[f"{name}: 2 s error / classic_id (<= 0.5)"] = sl["model"][i] / sl["classic_id"][i]
    assert set(rows) == set(want)
    for name, value in want.items():
        rep, pooled = rows[name]
        assert rep == pooled == f"{value:.3f}", (name, rows[name], value)
    assert rows["static: 2 s error / unicycle (<= 0.5)"][0] == "0.512"      # the golden set's figure
    with pytest.raises(SystemExit):
        mod.main(["--work", str(tmp_path), "--replicates", "0"])
