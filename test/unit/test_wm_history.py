"""World model history and scene head: encoding with and without the recent past, the command
memory, the training windows' histories, and two tiny training runs on synthetic Transitions
whose ground truth only history explains (per-episode velocity gain, as on ice or with a load)
and where the future scene changes (driving toward a wall)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.world_model_node.data import Transitions
from world_model_planner.world_model_node.history import History, HistoryBuffer, history_from_rows
from world_model_planner.world_model_node.losses import LossWeights
from world_model_planner.world_model_node.model import LEGACY_OFF, WorldModel, WorldModelConfig, observation
from world_model_planner.world_model_node.monitor import SurpriseMonitor
from world_model_planner.world_model_node.sampler import WindowSampler
from world_model_planner.world_model_node.train import TrainConfig, train

BEAMS = 36
TINY = dict(scan_beams=BEAMS, scan_bins=12, latent_dim=32, enc_hidden=64, pred_hidden=64, head_hidden=32)


def _model(seed=0, **cfg):
    torch.manual_seed(seed)
    return WorldModel(WorldModelConfig(**{**TINY, **cfg})).eval()


def _obs(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"pose": torch.randn(b, 3, generator=g), "vel": torch.randn(b, 2, generator=g) * 0.3,
            "scan": torch.rand(b, BEAMS, generator=g) * 8.0}


def _history(b=3, k=10, seed=1, valid=True) -> History:
    rng = np.random.default_rng(seed)
    return History(cmd=rng.uniform(-1, 1, (b, k, 2)).astype(np.float32),
                   vel=rng.uniform(-1, 1, (b, k, 2)).astype(np.float32),
                   valid=np.full((b, k), valid),
                   scan=rng.uniform(0.5, 8.0, (b, k, BEAMS)).astype(np.float32))


def _episode_rows(pose, vel, scan, cmd, ep):
    n = len(cmd)
    return dict(pose=np.asarray(pose, np.float32), vel=np.asarray(vel, np.float32),
                scan=np.asarray(scan, np.float32), cmd=np.asarray(cmd, np.float32),
                dt=np.full(n, 0.1, np.float32), collision=np.zeros(n, np.uint8),
                episode=np.full(n, ep, np.int32), t_s=(np.arange(n) * 0.1).astype(np.float32))


def _transitions(parts: list[dict]) -> Transitions:
    keys = ("pose", "vel", "scan", "cmd", "dt", "collision", "episode", "t_s")
    return Transitions(**{k: np.concatenate([p[k] for p in parts]) for k in keys},
                       meta={"dt_s": 0.1, "range_max_m": 8.0, "scan_beams": BEAMS})


def _step_pose(pose, v, w, dt=0.1):
    x, y, yaw = pose
    return (x + v * dt * math.cos(yaw + 0.5 * w * dt), y + v * dt * math.sin(yaw + 0.5 * w * dt), yaw + w * dt)


# -- encoding -------------------------------------------------------------------------------

def test_encode_without_history_equals_an_all_invalid_history_and_a_real_history_changes_h():
    m = _model()
    obs = _obs()
    z_none = m.encode(obs)
    empty = History.empty(10, BEAMS)
    z_empty = m.encode(observation(obs["pose"], obs["vel"], obs["scan"], history=empty))  # batch-1 history
    torch.testing.assert_close(z_empty, z_none)
    z_hist = m.encode(observation(obs["pose"], obs["vel"], obs["scan"], history=_history()))
    assert z_hist.shape == z_none.shape == (3, m.latent_dim)
    torch.testing.assert_close(z_hist[:, :5], z_none[:, :5])                  # pose, velocity pass through
    assert (m.latent_h(z_hist) - m.latent_h(z_none)).abs().max() > 1e-3      # h reads the history
    # rows marked invalid count for nothing, whatever they hold
    junk = _history(valid=False)
    z_junk = m.encode(observation(obs["pose"], obs["vel"], obs["scan"], history=junk))
    torch.testing.assert_close(z_junk, z_none)


def test_a_model_without_history_ignores_it_and_old_layout_is_unchanged():
    m = _model(**LEGACY_OFF)
    assert m.history_steps == 0 and not m.has_scene
    obs = _obs()
    z = m.encode(obs)
    assert z.shape == (3, 32) and m.latent_dim == 32 and m.latent_h(z).shape == (3, 27)
    torch.testing.assert_close(m.encode(observation(obs["pose"], obs["vel"], obs["scan"], history=_history())), z)
    with pytest.raises(ValueError, match="no scene prediction"):
        m.clearance(z)


def test_observation_builds_history_keys_batched_and_unbatched():
    h = _history(b=3)
    one = History(h.cmd[0], h.vel[0], h.valid[0], h.scan[0])
    obs1 = observation(np.zeros(3), np.zeros(2), np.zeros(BEAMS), history=one)
    assert obs1["hist_cmd"].shape == (1, 10, 2) and obs1["hist_valid"].shape == (1, 10)
    assert obs1["hist_scan"].shape == (1, 10, BEAMS)
    obs3 = observation(np.zeros((3, 3)), np.zeros((3, 2)), np.zeros((3, BEAMS)), history=h)
    assert obs3["hist_cmd"].shape == (3, 10, 2) and obs3["hist_scan"].shape == (3, 10, BEAMS)
    no_scan = observation(np.zeros(3), np.zeros(2), np.zeros(BEAMS), history=History(h.cmd[0], h.vel[0], h.valid[0]))
    assert "hist_scan" not in no_scan
    m = _model()
    d = m.latent_dim
    assert m.encode(obs1).shape == (1, d) and m.encode(obs3).shape == (3, d) and m.encode(no_scan).shape == (1, d)
    # each batch row is encoded with its own history
    z3 = m.encode(obs3)
    z_row1 = m.encode(observation(np.zeros(3), np.zeros(2), np.zeros(BEAMS),
                                  history=History(h.cmd[1], h.vel[1], h.valid[1], h.scan[1])))
    torch.testing.assert_close(z3[1:2], z_row1, atol=1e-5, rtol=0)


def test_longer_and_shorter_histories_are_cut_or_padded_and_bad_shapes_refused():
    m = _model()
    obs = _obs(b=1)
    h = _history(b=1, k=14)
    long = m.encode(observation(obs["pose"], obs["vel"], obs["scan"], history=h))
    last10 = History(h.cmd[:, 4:], h.vel[:, 4:], h.valid[:, 4:], h.scan[:, 4:])
    torch.testing.assert_close(long, m.encode(observation(obs["pose"], obs["vel"], obs["scan"], history=last10)))
    short = History(h.cmd[:, -4:], h.vel[:, -4:], h.valid[:, -4:], h.scan[:, -4:])
    padded = History(np.concatenate([np.zeros((1, 6, 2), np.float32), short.cmd], 1),
                     np.concatenate([np.zeros((1, 6, 2), np.float32), short.vel], 1),
                     np.concatenate([np.zeros((1, 6), bool), short.valid], 1),
                     np.concatenate([np.zeros((1, 6, BEAMS), np.float32), short.scan], 1))
    torch.testing.assert_close(m.encode(observation(obs["pose"], obs["vel"], obs["scan"], history=short)),
                               m.encode(observation(obs["pose"], obs["vel"], obs["scan"], history=padded)))
    bad = observation(obs["pose"], obs["vel"], obs["scan"], history=h)
    bad["hist_cmd"] = np.zeros((1, 10, 3))
    with pytest.raises(ValueError, match=r"obs\['hist_cmd'\]: expected shape \(B, K, 2\)"):
        m.encode(bad)
    partial = {k: v for k, v in bad.items() if k != "hist_vel"}
    with pytest.raises(ValueError, match="missing 'hist_vel'"):
        m.encode(partial)


def test_command_memory_holds_the_last_commands_and_shifts_in_each_action():
    m = _model(cmd_memory=3)
    obs = _obs(b=2)
    h = _history(b=2)
    h.valid[1, -2] = False                       # an invalid row reads as no command
    z0 = m.encode(observation(obs["pose"], obs["vel"], obs["scan"], history=h))
    mem = m.command_memory(z0)
    expect = torch.as_tensor(h.cmd[:, -3:] * h.valid[:, -3:, None])
    torch.testing.assert_close(mem, expect)
    acts = torch.rand(2, 4, 2)
    zs = m.rollout(z0, acts)
    torch.testing.assert_close(m.command_memory(zs[:, 0]), torch.cat([expect[:, 1:], acts[:, :1]], 1))
    torch.testing.assert_close(m.command_memory(zs[:, 3]), acts[:, 1:4])


def test_clearance_shapes_and_range():
    m = _model(scene_sectors=8)
    z = m.rollout(m.encode(_obs(b=4)), torch.rand(4, 6, 2))
    c, mc = m.clearance(z), m.min_clearance(z)
    assert m.has_scene and c.shape == (4, 6, 8) and mc.shape == (4, 6)
    assert float(c.detach().min()) >= 0.0 and float(c.detach().max()) <= m.cfg.scan_clip_m
    torch.testing.assert_close(mc, c.min(-1).values)
    # at encoding the scene is the scan's, exactly; the untrained predictor keeps it about as it is
    obs = _obs(b=4)
    z0 = m.encode(obs)
    torch.testing.assert_close(m.clearance(z0), m.scene_target(obs["scan"]), atol=1e-5, rtol=0)
    drift = (m.clearance(m.rollout(z0, torch.rand(4, 3, 2))[:, -1]) - m.clearance(z0)).abs().max()
    assert float(drift) < 0.5
    # the scene target: a wall 1 m ahead of the footprint's front edge, open elsewhere
    th = -math.pi + torch.arange(BEAMS) * (2 * math.pi / BEAMS)
    scan = torch.where(th.cos() > 0.05, (1.0 + 0.495) / th.cos().clamp(min=0.05), torch.tensor(8.0))
    tgt = m.scene_target(scan)
    assert tgt.shape == (8,) and float(tgt.min()) == pytest.approx(1.0, abs=1e-4)
    assert float(tgt[0]) == pytest.approx(m.cfg.scan_clip_m)     # sector 0 looks behind: open


def test_scene_prior_moves_the_scene_with_the_robot():
    m = _model(scene_sectors=8)
    p, clip_m = m.predictor, m.encoder.scan.clip_m
    scene = torch.ones(1, 8)
    scene[0, 4] = 0.5                    # sector 4 (centre +pi/8, ahead-left) 1.5 m away; the rest at the clip
    z = lambda v: torch.tensor([v])      # noqa: E731
    ahead = p.ego_scene(scene, z(0.3), z(0.0), z(0.0), clip_m) * clip_m
    assert float(ahead[0, 4]) == pytest.approx(1.5 - 0.3 * math.cos(math.pi / 8), abs=1e-5)
    assert torch.all(ahead[0, torch.arange(8) != 4] == clip_m)      # "at least clip_m" stays so
    sideways = p.ego_scene(scene, z(0.0), z(0.3), z(0.0), clip_m) * clip_m
    assert float(sideways[0, 4]) == pytest.approx(1.5 - 0.3 * math.sin(math.pi / 8), abs=1e-5)
    # turning left by one sector: the obstacle moves one sector to the right (clockwise)
    turned = p.ego_scene(scene, z(0.0), z(0.0), z(2 * math.pi / 8), clip_m)
    assert int(turned[0].argmin()) == 3 and float(turned[0, 3]) == pytest.approx(0.5, abs=1e-5)
    half = p.ego_scene(scene, z(0.0), z(0.0), z(-math.pi / 8), clip_m)   # half a sector right
    assert float(half[0, 4]) == pytest.approx(0.75, abs=1e-5) and float(half[0, 5]) == pytest.approx(0.75, abs=1e-5)
    # an untrained predictor driving straight at 1 m/s sees the obstacle ahead come closer
    scan = torch.full((1, BEAMS), 8.0)
    scan[0, BEAMS // 2] = 2.0 + 0.495                  # a post 2 m in front of the footprint
    z0 = m.encode(observation(torch.zeros(1, 3), torch.tensor([[1.0, 0.0]]), scan))
    front = m.clearance(m.rollout(z0, torch.tensor([[[1.0, 0.0]] * 5])))[0, :, 4]
    assert float(front[-1]) < float(front[0]) < 2.0
    off = _model(scene_sectors=8, scene_prior=False)
    assert "scene_prior" in LEGACY_OFF and not WorldModelConfig.from_dict(
        {k: v for k, v in off.cfg.to_dict().items() if k != "scene_prior"}).scene_prior


def test_config_checks_and_legacy_defaults_name_the_field():
    with pytest.raises(ValueError, match="scan_history: expected <= history_steps"):
        WorldModelConfig(history_steps=2, scan_history=3)
    with pytest.raises(ValueError, match="cmd_memory: expected <= history_steps"):
        WorldModelConfig(history_steps=0, scan_history=0, cmd_memory=1)
    assert WorldModelConfig(latent_dim=16).z_dims == 16 + 2 * 5 + 16   # commands and scene come on top
    new = WorldModelConfig()
    assert (new.history_steps, new.scan_history, new.cmd_memory, new.scene_sectors) == (10, 3, 5, 16)
    assert new.scan_history_rows == (7, 4, 1)
    old = {k: v for k, v in new.to_dict().items() if k not in LEGACY_OFF}
    assert WorldModelConfig.from_dict(old) == WorldModelConfig(**LEGACY_OFF)
    assert WorldModelConfig.from_dict(new.to_dict()) == new


# -- training windows ---------------------------------------------------------------------

def _random_rows(n_eps=3, steps=30, seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for e in range(n_eps):
        parts.append(_episode_rows(rng.normal(size=(steps, 3)), rng.normal(size=(steps, 2)),
                                   rng.uniform(0.5, 8, (steps, BEAMS)), rng.normal(size=(steps, 2)), e + 10))
    return _transitions(parts)


def test_window_sampler_histories_match_history_from_rows_and_dropout_cuts_only_the_start():
    data = _random_rows()
    cfg = WorldModelConfig(**TINY)
    s = WindowSampler.for_model(data, 5, torch.device("cpu"), cfg)
    idx = torch.arange(len(s.starts))
    b = s.batch(idx)
    rows = (s.starts[idx].unsqueeze(1) + s.offsets).numpy()                 # (B, 6)
    ref = history_from_rows(data.cmd, data.vel, data.episode, rows.reshape(-1), 10, data.scan)
    np.testing.assert_array_equal(b["hist"]["valid"].reshape(-1, 10).numpy(), ref.valid)
    np.testing.assert_allclose(b["hist"]["cmd"].reshape(-1, 10, 2).numpy(), ref.cmd)
    np.testing.assert_allclose(b["hist"]["vel"].reshape(-1, 10, 2).numpy(), ref.vel)
    sel = list(cfg.scan_history_rows)
    valid_sel = ref.valid[:, sel]
    got = b["hist"]["scans"].reshape(-1, len(sel), BEAMS).numpy()
    np.testing.assert_allclose(got[valid_sel], ref.scan[:, sel][valid_sel])
    assert valid_sel.any() and not valid_sel.all()                           # episode starts are in there
    # dropout: some windows' first row keeps only its newest rows; later rows are untouched
    gen = torch.Generator().manual_seed(0)
    d = s.batch(idx, history_dropout=1.0, gen=gen)
    v0, full0 = d["hist"]["valid"][:, 0], b["hist"]["valid"][:, 0]
    assert torch.all(v0 <= full0) and (v0.sum() < full0.sum())
    assert torch.equal(d["hist"]["valid"][:, 1:], b["hist"]["valid"][:, 1:])
    kept = v0.int()
    assert torch.all(kept[:, 1:] >= kept[:, :-1])                           # only the oldest rows are cut
    assert torch.all(d["hist"]["cmd"][:, 0][~v0] == 0)


# -- what history buys: a per-episode velocity gain ------------------------------------------

def _gain_episode(ep, gain, rng, steps=50):
    pose, v, w = (0.0, 0.0, 0.0), 0.0, 0.0
    poses, vels, cmds = [], [], []
    for t in range(steps):
        if t % 5 == 0:
            cv, cw = rng.uniform(-0.4, 1.0), rng.uniform(-1.0, 1.0)
        poses.append(pose)
        vels.append((v, w))
        cmds.append((cv, cw))
        v2, w2 = v + 0.6 * (gain * cv - v), w + 0.6 * (gain * cw - w)
        pose = _step_pose(pose, 0.5 * (v + v2), 0.5 * (w + w2))
        v, w = v2, w2
    return _episode_rows(poses, vels, np.full((steps, BEAMS), 8.0), cmds, ep)


def _vel_error(model, data, eps, horizon=8):
    """Mean |predicted - true| velocity after ``horizon`` open-loop steps, from rows with a full history."""
    rows = [r for r in range(len(data)) if data.episode[r] in eps and r >= 10
            and data.episode[r - 10] == data.episode[r] and r + horizon < len(data)
            and data.episode[r + horizon] == data.episode[r]]
    rows = np.array(rows)
    hist = history_from_rows(data.cmd, data.vel, data.episode, rows, model.history_steps, data.scan) \
        if model.history_steps else None
    obs = observation(data.pose[rows], data.vel[rows], data.scan[rows], history=hist)
    acts = torch.as_tensor(np.stack([data.cmd[rows + k] for k in range(horizon)], 1))
    with torch.no_grad():
        z = model.rollout(model.encode(obs), acts)
    return float((model.velocity(z[:, -1]) - torch.as_tensor(data.vel[rows + horizon])).abs().mean())


@pytest.mark.slow
def test_history_model_fits_a_per_episode_velocity_gain_that_a_model_without_history_cannot():
    rng = np.random.default_rng(0)
    data = _transitions([_gain_episode(e, 0.35 if e % 2 else 1.0, rng) for e in range(24)])
    cfg = TrainConfig(steps=300, batch_size=64, horizon=8, lr=5e-3, eval_every=300, patience=10,
                      val_fraction=0.25, progress=False, seed=0, history_dropout=0.0)
    # the dynamics terms only: at this budget the JEPA terms would take most of the capacity
    w = LossWeights(latent=0.0, variance=0.0, covariance=0.0, pose=1.0, velocity=1.0, collision=0.0, scene=0.0)
    base = dict(TINY, scene_sectors=0)
    with_h, met = train(data, WorldModelConfig(**base, history_steps=10, scan_history=0, cmd_memory=2), cfg, w)
    without, _ = train(data, WorldModelConfig(**{**base, **LEGACY_OFF}), cfg, w)
    val = set(met["val_episodes"])
    err_h, err_0 = _vel_error(with_h, data, val), _vel_error(without, data, val)
    print(f"\nheld-out velocity error after 0.8 s: with history {err_h:.3f}, without {err_0:.3f}")
    assert err_h < 0.7 * err_0


def _latency_episode(ep, rng, delay=3, steps=50):
    """The robot answers the command sent ``delay`` steps ago (0.3 s of command latency)."""
    pose, v, w = (0.0, 0.0, 0.0), 0.0, 0.0
    poses, vels, cmds = [], [], []
    for t in range(steps):
        if t % 4 == 0:
            cv, cw = rng.uniform(-0.4, 1.0), rng.uniform(-1.0, 1.0)
        poses.append(pose)
        vels.append((v, w))
        cmds.append((cv, cw))
        acting = cmds[t - delay] if t >= delay else (0.0, 0.0)
        v2, w2 = v + 0.6 * (acting[0] - v), w + 0.6 * (acting[1] - w)
        pose = _step_pose(pose, 0.5 * (v + v2), 0.5 * (w + w2))
        v, w = v2, w2
    return _episode_rows(poses, vels, np.full((steps, BEAMS), 8.0), cmds, ep)


@pytest.mark.slow
def test_command_memory_predicts_the_response_to_commands_already_sent_under_latency():
    rng = np.random.default_rng(0)
    data = _transitions([_latency_episode(e, rng) for e in range(24)])
    cfg = TrainConfig(steps=200, batch_size=64, horizon=8, lr=5e-3, eval_every=200, patience=10,
                      val_fraction=0.25, progress=False, seed=0, history_dropout=0.0)
    w = LossWeights(latent=0.0, variance=0.0, covariance=0.0, pose=1.0, velocity=1.0, collision=0.0, scene=0.0)
    base = dict(TINY, scene_sectors=0, history_steps=10, scan_history=0)
    with_mem, met = train(data, WorldModelConfig(**base, cmd_memory=4), cfg, w)
    without, _ = train(data, WorldModelConfig(**base, cmd_memory=0), cfg, w)
    val = set(met["val_episodes"])
    err_m, err_0 = _vel_error(with_mem, data, val, horizon=3), _vel_error(without, data, val, horizon=3)
    print(f"\nheld-out velocity error 0.3 s ahead under 0.3 s latency: command memory {err_m:.3f}, "
          f"history alone {err_0:.3f}")
    assert err_m < 0.5 * err_0


# -- what the scene head buys: clearance that shrinks toward a wall --------------------------

WALL_X = 3.0


def _wall_scan(x):
    th = -math.pi + np.arange(BEAMS) * (2 * math.pi / BEAMS)
    c = np.cos(th)
    return np.where(c > 0.05, (WALL_X - x) / np.maximum(c, 0.05), 8.0).clip(0, 8.0)


def _wall_episode(ep, rng, steps=40):
    x, v = rng.uniform(-1.0, 1.8), 0.0
    poses, vels, scans, cmds = [], [], [], []
    for t in range(steps):
        if t % 8 == 0:
            cv = rng.uniform(-0.5, 0.8)
        if WALL_X - x - 0.495 < 0.4:     # never touch the wall
            cv = -0.3
        poses.append((x, 0.0, 0.0))
        vels.append((v, 0.0))
        scans.append(_wall_scan(x))
        cmds.append((cv, 0.0))
        v2 = v + 0.6 * (cv - v)
        x += 0.5 * (v + v2) * 0.1
        v = v2
    return _episode_rows(poses, vels, scans, cmds, ep)


def test_scene_head_learns_clearance_that_shrinks_when_driving_toward_a_wall():
    rng = np.random.default_rng(1)
    data = _transitions([_wall_episode(e, rng) for e in range(30)])
    cfg = TrainConfig(steps=150, batch_size=64, horizon=6, lr=3e-3, eval_every=150, patience=10,
                      val_fraction=0.0, progress=False, seed=0)
    model, _ = train(data, WorldModelConfig(**TINY, scene_sectors=8), cfg, LossWeights())
    x0 = 0.2                                              # front clearance 3 - 0.2 - 0.495 = 2.3 m
    obs = observation(np.array([x0, 0.0, 0.0]), np.zeros(2), _wall_scan(x0))
    ahead = torch.tensor([[[0.6, 0.0]] * 10, [[-0.4, 0.0]] * 10])
    with torch.no_grad():
        mc = model.min_clearance(model.rollout(model.encode(obs), ahead))    # (2, 10)
    # ground truth with the same velocity response
    truth = []
    for cv in (0.6, -0.4):
        x, v, row = x0, 0.0, []
        for _ in range(10):
            v2 = v + 0.6 * (cv - v)
            x += 0.5 * (v + v2) * 0.1
            v = v2
            row.append(min(WALL_X - x - 0.495, 3.0))
        truth.append(row)
    truth = torch.tensor(truth)
    print(f"\npredicted min clearance ahead {mc[0, ::3].tolist()}, truth {truth[0, ::3].tolist()}")
    assert float(mc[0, -1]) < float(mc[0, 0]) - 0.3          # driving at the wall: clearance shrinks
    assert float(mc[1, -1]) > float(mc[0, -1]) + 0.3         # backing away keeps it larger
    assert float((mc - truth).abs().mean()) < 0.3


# -- the monitor reads history for a history model --------------------------------------------

def test_monitor_encodes_frames_with_their_history():
    m = _model()
    mon = SurpriseMonitor(m)
    assert isinstance(mon.history, HistoryBuffer) and mon.history.steps == 10
    scan = np.full(BEAMS, 5.0, np.float32)
    for i in range(25):                       # 2.5 s at 10 Hz, commands at 20 Hz stamped a bit ahead
        t = i * 0.1
        mon.add_command(t, 0.5, 0.0)
        mon.add_command(t + 0.05, 0.5, 0.1)
        mon.add_scan(scan)
        mon.add_odom(t + 0.001, np.array([0.05 * i, 0.0, 0.0]), np.array([0.5, 0.0]))
    frame = mon.frames[-1]
    assert frame.history is not None and frame.history.valid.all()
    np.testing.assert_allclose(frame.history.cmd[-1], [0.5, 0.1])
    mon._z(frame)
    expect = m.encode(observation(frame.pose, frame.vel, frame.scan, history=frame.history))[0]
    torch.testing.assert_close(frame.z, expect)
    assert (frame.z - m.encode(observation(frame.pose, frame.vel, frame.scan))[0]).abs().max() > 1e-4
    pred = mon.predict(1.0)
    assert pred is not None and pred.poses.shape == (11, 3)
    legacy = SurpriseMonitor(_model(**LEGACY_OFF))
    assert legacy.history.steps == 0


def test_online_finetuning_of_a_history_model_trains_on_replayed_histories(tmp_path):
    """The replay buffer's rows become windows whose histories come from the rows before them."""
    import copy

    from world_model_planner.world_model_node.online import OnlineFinetuner, ReplayBuffer

    m = _model()
    mon, replay = SurpriseMonitor(m), ReplayBuffer()
    scan = np.full(BEAMS, 5.0, np.float32)
    x, v = 0.0, 0.0
    for i in range(80):                           # 8 s; the robot answers at 40% of the command
        t, cmd = i * 0.1, 0.8 if (i // 10) % 2 else 0.2
        mon.add_command(t, cmd, 0.0)
        mon.add_scan(scan)
        mon.add_odom(t + 0.001, np.array([x, 0.0, 0.0]), np.array([v, 0.0]))
        for prev, frame in mon.new_transitions:
            replay.add_pair(prev, frame)
        mon.new_transitions.clear()
        v += 0.5 * (0.4 * cmd - v)
        x += v * 0.1
    data = replay.transitions()
    sampler = WindowSampler.for_model(data, 5, torch.device("cpu"), m.cfg)
    batch = sampler.batch(torch.arange(len(sampler.starts)))
    assert batch["hist"]["valid"][:, 0].float().mean() > 0.8           # most windows see a full second
    ft = OnlineFinetuner(tmp_path, steps=5, batch_size=16, horizon=5)
    res = ft.finetune(copy.deepcopy(m), data, tmp_path / "ft.pt")
    assert math.isfinite(res.val_before) and math.isfinite(res.val_after) and res.steps == 5
