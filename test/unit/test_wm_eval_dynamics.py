"""Collection with random dynamics (labels, determinism) and the dynamics evaluation: entries
onto slippery ground, the mover slice, footprint clearance, and eval-model end to end."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from world_model_planner.world_model_node import eval_windows as ew
from world_model_planner.world_model_node.collect import CollectConfig, random_scenario, run_episode
from world_model_planner.world_model_node.data import Transitions
from world_model_planner.world_model_node.draws import DrawConfig, draw_dynamics, floor_ground, ground_at

FLOOR = np.array(floor_ground("husky"))
ICE = np.array([0.1, 0.05, 0.01])
MUD = np.array([0.45, 0.4, 0.25])


# ------------------------------------------------------------------ window finders, synthetic data
def _ground(n_per_ep: int, segments: list[list[tuple[int, np.ndarray]]]):
    """Rows of episodes whose ground changes at given rows: segments[e] = [(row, ground), ...]."""
    g, ep = [], []
    for e, segs in enumerate(segments):
        cur = FLOOR
        for i in range(n_per_ep):
            for row, val in segs:
                if i == row:
                    cur = val
            g.append(cur)
            ep.append(e)
    return np.asarray(g, np.float32), np.asarray(ep, np.int32)


def test_entries_are_drops_in_friction_within_an_episode():
    # ep 0: floor -> ice at 10 -> floor at 30 -> mud at 35; ep 1 starts on ice (no entry), unknown rows
    g, ep = _ground(50, [[(10, ICE), (30, FLOOR), (35, MUD)], [(0, ICE)]])
    np.testing.assert_array_equal(ew.find_entries(g, ep), [10, 35])
    g[40:45] = np.nan                                         # unknown ground never makes an entry
    g[45:50] = ICE
    np.testing.assert_array_equal(ew.find_entries(g, ep), [10, 35])


def test_adaptation_windows_start_0_to_1_5_s_after_entry_while_on_the_new_ground():
    g, ep = _ground(60, [[(10, ICE), (20, FLOOR)], [(5, MUD)]])
    starts, offs = ew.adaptation_windows(g, ep, horizon=10, dt_s=0.1)
    # ep 0: on ice rows 10..19 only (left at 20): 10 windows; ep 1: mud from row 65 (5 + 60), 16 windows
    np.testing.assert_array_equal(starts, list(range(10, 20)) + list(range(65, 81)))
    np.testing.assert_allclose(offs, [0.1 * k for k in range(10)] + [0.1 * k for k in range(16)])
    # the horizon has to stay in the episode: with 50 steps ep 0's windows would cross into ep 1,
    # and ep 1 (rows 60..119) keeps starts up to 69
    starts, _ = ew.adaptation_windows(g, ep, horizon=50, dt_s=0.1)
    np.testing.assert_array_equal(starts, [65, 66, 67, 68, 69])


def _synthetic(n=40):
    rng = np.random.default_rng(0)
    f32 = np.float32
    return Transitions(pose=np.zeros((n, 3), f32), vel=np.zeros((n, 2), f32), scan=np.full((n, 8), 5.0, f32),
                       cmd=np.zeros((n, 2), f32), dt=np.full(n, 0.1, f32), collision=np.zeros(n, np.uint8),
                       episode=np.zeros(n, np.int32), t_s=np.arange(n, dtype=f32) * 0.1,
                       ground=np.tile(FLOOR, (n, 1)).astype(f32), payload_kg=np.zeros(n, f32),
                       latency_s=np.zeros(n, f32), mover_dist_m=np.full(n, np.inf, f32),
                       meta={"rng": int(rng.integers(10))})


def test_mover_slice_and_other_slices_read_the_labels():
    tr = _synthetic()
    tr.mover_dist_m[5] = 2.9         # near
    tr.mover_dist_m[6] = 3.1         # not near
    tr.mover_dist_m[7] = np.nan      # unknown: in no slice
    tr.payload_kg[8] = 80.0
    tr.latency_s[9] = 0.12
    tr.ground[14] = ICE              # inside the window of start 10 (horizon 5), not of start 2
    starts = np.array([2, 5, 6, 7, 8, 9, 10])
    np.testing.assert_array_equal(ew.mover_windows(tr.mover_dist_m, starts), [0, 1, 0, 0, 0, 0, 0])
    m = ew.slice_masks(tr, starts, 5, FLOOR)
    np.testing.assert_array_equal(m["movers"], [0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(m["payload"], [0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(m["latency"], [0, 0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(m["terrain"], [0, 0, 0, 0, 0, 1, 1])   # start 9's window reaches row 14
    np.testing.assert_array_equal(m["static"], [1, 0, 1, 0, 0, 0, 0])


def test_footprint_clearance_from_a_scan():
    # 8 beams from -pi; a return 2.0 m straight ahead (beam 4 = angle 0) and one 1.0 m to the left
    scan = np.full(8, np.inf)
    scan[4], scan[6] = 2.0, 1.0
    pts = ew.scan_points(scan, np.array([1.0, 0.0, 0.0]), range_max_m=8.0)
    np.testing.assert_allclose(sorted(map(tuple, np.round(pts, 6))), [(1.0, 1.0), (3.0, 0.0)], atol=1e-6)
    c = ew.footprint_clearance(pts, np.array([[1.0, 0.0, 0.0], [1.0, 0.0, math.pi / 2], [3.0, 0.0, 0.0]]),
                               length_m=1.0, width_m=0.6)
    # ahead: min(2.0 - 0.5, 1.0 - 0.3) = 0.7; turned 90 deg: the left point is 1.0 - 0.5 ahead = 0.5;
    # on top of the point: 0
    np.testing.assert_allclose(c, [0.7, 0.5, 0.0], atol=1e-9)
    assert ew.footprint_clearance(np.zeros((0, 2)), np.zeros((1, 3)), 1.0, 0.6)[0] == ew.CLEARANCE_CAP_M


# ------------------------------------------------------------------ collection with dynamics (PyBullet)
def test_dynamics_draws_are_seeded_and_fill_only_empty_fields():
    sc = random_scenario(np.random.default_rng(3))
    a, rec_a = draw_dynamics(sc, np.random.default_rng(7))
    b, rec_b = draw_dynamics(sc, np.random.default_rng(7))
    assert a == b and rec_a == rec_b
    assert 2 <= len(a.terrain) <= 5 and 0 <= a.payload_kg <= 150 and 0 <= a.latency_s <= 0.2 and len(a.movers) <= 5
    assert {r["preset"] for r in rec_a["terrain"]} <= {"ice", "wet_tiles", "grass", "mud", "gravel"}
    kept, rec = draw_dynamics(replace(sc, payload_kg=42.0), np.random.default_rng(7))
    assert kept.payload_kg == 42.0 and "payload_kg" not in rec
    # over many draws: payload, latency and movers both present and absent; a patch covers the start
    draws = [draw_dynamics(sc, np.random.default_rng(s), DrawConfig())[0] for s in range(40)]
    assert any(d.payload_kg > 0 for d in draws) and any(d.payload_kg == 0 for d in draws)
    assert any(d.latency_s > 0 for d in draws) and any(len(d.movers) >= 2 for d in draws)
    assert any((ground_at(d, d.start.x, d.start.y) != FLOOR).any() for d in draws)


def _checkerboard(scenario, side_m=1.0):
    from world_model_planner.sim.terrain import TerrainRegion

    hx, hy = scenario.arena[0] / 2, scenario.arena[1] / 2
    regs = []
    for i, x in enumerate(np.arange(-hx, hx, side_m)):
        for j, y in enumerate(np.arange(-hy, hy, side_m)):
            if (i + j) % 2 == 0:
                x1, y1 = min(x + side_m, hx), min(y + side_m, hy)
                regs.append(TerrainRegion(((x, y), (x1, y), (x1, y1), (x, y1)), *ICE, preset="ice"))
    return replace(scenario, terrain=tuple(regs))


def test_collection_records_ground_changes_payload_and_latency():
    from world_model_planner.sim.scenario import load_scenario

    sc = replace(_checkerboard(load_scenario("open")), payload_kg=60.0, latency_s=0.1)
    tr = run_episode(sc, 3, CollectConfig(episodes=1, episode_s=6.0, perturb=False), 0)
    assert (tr.payload_kg == 60.0).all() and np.allclose(tr.latency_s, 0.1) and np.isinf(tr.mover_dist_m).all()
    # every row's ground is the checkerboard square under the recorded pose (odometry = truth here)
    on_ice = np.array([(ground_at(sc, x, y) == ICE.astype(np.float32)).all() for x, y in tr.pose[:, :2]])
    np.testing.assert_array_equal((tr.ground == ICE.astype(np.float32)).all(1), on_ice)
    assert len(ew.find_entries(tr.ground, tr.episode)) >= 1      # it drove from the floor onto ice


def test_random_dynamics_collection_is_deterministic_per_seed(tmp_path):
    cfg = CollectConfig(episodes=1, episode_s=3.0, dynamics=1.0)
    sc = random_scenario(np.random.default_rng(12))
    a = run_episode(sc, 12, cfg, 0)
    b = run_episode(sc, 12, cfg, 0)
    for k in ("pose", "cmd", "ground", "payload_kg", "latency_s", "mover_dist_m"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    dyn = a.meta["episodes"]["0"]["dynamics"]
    assert dyn is not None and math.isclose(a.payload_kg[0], dyn["payload_kg"], rel_tol=1e-6)
    assert math.isclose(a.latency_s[0], dyn["latency_s"], rel_tol=1e-6, abs_tol=1e-7)
    if dyn["movers"]:
        assert np.isfinite(a.mover_dist_m).all() and (a.mover_dist_m > 0).all()
    c = run_episode(sc, 13, cfg, 0)
    assert c.meta["episodes"]["0"]["dynamics"] != dyn


# ------------------------------------------------------------------ eval-model end to end
@pytest.mark.slow
def test_eval_model_with_dynamics_end_to_end(tmp_path, capsys):
    from world_model_planner.app.cli import main as wmp

    data, model, out = tmp_path / "d", tmp_path / "m.pt", tmp_path / "e"
    assert wmp(["collect", "--scenario", "walkers,random", "--dynamics", "--episodes", "2", "--episode-s", "6",
                "--out", str(data), "--seed", "5", "--no-progress"]) == 0
    assert "(2 with random dynamics)" in capsys.readouterr().out
    assert wmp(["train", "--data", str(data), "--out", str(model), "--steps", "5", "--batch-size", "16",
                "--horizon", "3", "--no-progress"]) == 0
    assert wmp(["eval-model", "--model", str(model), "--data", str(data), "--train-data", str(data),
                "--json", str(out / "e.json"), "--plots", str(out), "--stride", "3"]) == 0
    text = capsys.readouterr().out
    assert "classic_id" in text and "per slice" in text
    r = json.loads((out / "e.json").read_text())
    assert r["models"] == ["model", "unicycle", "constant_velocity", "classic_id"]
    for name in r["models"]:
        assert len(r[name]["pose_err_m"]) == 4 and all(e >= 0 for e in r[name]["pose_err_m"])
    measured = r["measured_velocity"]["pose_err_m"]             # the velocities the robot really had
    assert all(m < u for m, u in zip(measured, r["unicycle"]["pose_err_m"])) and "(measured v, w integrated)" in text
    cl = r["clearance_err_m"]
    assert cl["windows"] > 0 and len(cl["static_scan"]) == 2 and len(cl["constant_velocity_tracker"]) == 2
    for part in ("model_scene_only", "tracked_at_model_poses"):     # the model's clearance, each part alone
        assert len(cl[part]) == 2 and all(e >= 0 for e in cl[part]) and part in text
    assert set(r["slices"]) == set(ew.SLICES) and r["slices"]["movers"]["windows"] == cl["windows"]
    assert r["classic_id_from"] == "fitted on the training data"
    assert (out / "error_vs_horizon.png").stat().st_size > 1000


def test_eval_model_refuses_both_sysid_sources(tmp_path, capsys):
    from world_model_planner.app.cli import main as wmp

    assert wmp(["eval-model", "--data", str(tmp_path), "--sysid", "a.json", "--train-data", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err


def test_dynamics_diagnosis_script_splits_the_error_where_it_comes_from(tmp_path, capsys):
    """scripts/dynamics_diagnosis.py on the committed held-out set (every 25th window): the
    recorded velocities integrated beat classic_id off contact, substituting the recorded
    forward speed closes most of classic_id's gap on dynamic ground, and the splits add up."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "dynamics_diagnosis.py"
    spec = importlib.util.spec_from_file_location("dynamics_diagnosis", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "d.json"
    assert mod.main(["--model", "models/husky_default.pt", "--data", "test/data/wm_eval", "--sysid",
                     "models/husky_sysid.json", "--stride", "25", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "by contact in the window" in text and "ground changes within the window" in text
    d = json.loads(out.read_text())
    assert d["windows"] == 80 and d["horizon_s"] == pytest.approx(2.0)
    for name, s in d["slices"].items():
        assert s["n_no_contact"] + s["n_contact"] == s["windows"] == s["n_ground_same"] + s["n_ground_changes"]
        assert s["no_contact_axes"]["measured_v_w"] < s["classic_id"]["no_contact"], name
        assert s["model_history_cut"] > 0
    terrain = d["slices"]["terrain"]
    axes = terrain["no_contact_axes"]
    assert axes["classic_id_true_v"] < 0.6 * terrain["classic_id"]["no_contact"] < axes["classic_id_true_w"]
    assert mod.main(["--model", "models/husky_default.pt", "--data", "test/data/wm_eval", "--sysid",
                     "models/husky_sysid.json", "--stride", "0"]) == 2
    assert mod.main(["--model", str(tmp_path / "none.pt"), "--data", "test/data/wm_eval", "--sysid",
                     "models/husky_sysid.json"]) == 2
    assert "dynamics_diagnosis:" in capsys.readouterr().err


def test_mover_clearance_script_separates_the_forecast_from_the_tracker():
    """scripts/mover_clearance.py on the committed held-out set (every 20th window): at the
    recorded future poses, constant velocity beats holding the movers still, and the velocity
    the tracks actually kept (hindsight) beats constant velocity; with the centre behind the
    surface the tracked discs carry no systematic offset from the scan, with the centroid (the
    default) they sit in front of it; bad input is refused."""
    import importlib.util
    from pathlib import Path

    from world_model_planner.world_model_node.data import load_dataset

    path = Path(__file__).resolve().parents[2] / "scripts" / "mover_clearance.py"
    spec = importlib.util.spec_from_file_location("mover_clearance", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from world_model_planner.planner_node.tracking import TrackerConfig

    data = load_dataset("test/data/wm_eval")
    d = mod.diagnose(data, "models/husky_sysid.json", stride=20, tracker_cfg=TrackerConfig(centre_behind_surface=True))
    assert d["windows"] >= 15 and d["tracked"] >= 10
    assert d["hindsight"]["err_m"] < d["tracker_cv"]["err_m"] < d["tracker_frozen"]["err_m"]
    assert abs(d["tracker_frozen"]["bias_m"]) < 0.05
    # the default tracker (centroid of the near-side returns) reads the clearance low: its margin
    assert mod.diagnose(data, "models/husky_sysid.json", stride=20)["tracker_frozen"]["bias_m"] < -0.04
    with pytest.raises(SystemExit) as bad:
        mod.main(["--data", "test/data/wm_eval", "--sysid", "models/husky_sysid.json", "--stride", "0"])
    assert bad.value.code == 2
    assert mod.main(["--data", "no/such/dir", "--sysid", "models/husky_sysid.json"]) == 2


def test_history_ablation_is_none_for_a_model_without_history_and_empty_without_settled_windows():
    from world_model_planner.planner_node.dynamics import UnicycleModel
    from world_model_planner.world_model_node.evaluate import _history_ablation

    tr = _synthetic()
    cmds, truth = np.zeros((3, 10, 2)), np.zeros((3, 3))
    starts, offs = np.array([5, 6, 7]), np.array([0.0, 0.5, 1.0])
    assert _history_ablation(UnicycleModel(0.1), tr, starts, offs, cmds, truth, 0, 0.1) is None

    class Remembers(UnicycleModel):                          # reads a history: the ablation applies
        history_steps = 10

        def reset_state(self, pose, vel, scan=None, history=None):
            return super().reset_state(pose, vel, scan)

    out = _history_ablation(Remembers(0.1), tr, starts, np.zeros(3), cmds, truth, 10, 0.1)
    assert out["windows"] == 0 and math.isnan(out["ratio"])
    out = _history_ablation(Remembers(0.1), tr, starts, offs, cmds, truth, 10, 0.1)
    assert out["windows"] == 1 and out["own_history_m"] == out["entry_history_m"] == 0.0
