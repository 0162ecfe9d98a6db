"""Open-loop evaluation through the planner's model interface, against baselines.

From every evaluation start t (every ``stride`` rows, with max(horizons) rows following in the
same episode), each predictor gets the observation at t (and the history of the second before,
``world_model_node.history``) and the recorded commands cmd[t .. t+H-1], and is compared with
the recorded pose at t+k (position error, metres). What is measured is what the planner uses:
``planner_node.dynamics`` models, ``reset_state(pose, vel, scan, history)`` then
``rollout(state, actions (1, H, 2))``:

    model              LearnedModel over the checkpoint (open loop in latent space)
    unicycle           UnicycleModel: ideal kinematics integrating the commanded (v, w)
    constant_velocity  the measured (v, w) at t held for the whole horizon
    classic_id         SysIdModel (first-order lag + delay fitted on training data, constant-
                       velocity obstacle tracking); only when a fit is given

Result keys beyond the per-model pose errors:

``collision_auroc``: AUROC of the one-step collision logit (predict(encode(obs_t), cmd_t))
against the recorded contact flag of step t, over every row. ``collision_auroc_by_horizon``:
the rollout's collision probability at step k against the flag of step t+k-1.
``clearance_err_m``: on windows with a mover within 3 m (data label mover_dist_m), mean
|predicted - true| footprint clearance at 1 and 2 s (0 inside, capped at 2 m), true = the
footprint at the recorded future pose against the future scan; the model's Rollout.clearance_m,
classic_id's tracker ("constant_velocity_tracker") and the frozen current scan ("static_scan");
for a model with a scene head, also the two parts of its clearance alone ("model_scene_only",
"tracked_at_model_poses").
Both predictors measure the robot's own body here (``Footprint`` exact, or round for a round
base; ``set_geometry``, also on the sysid model passed in), not the covering circles a planner
may be configured with.
``adaptation``: windows starting 0-1.5 s after the robot enters lower-friction ground (data label
ground); the 1 s error of windows starting 0-0.5 s on it ("at_entry_m") vs 1-1.5 s on it
("after_1s_m") and their ratio (below 1: the predictor adapted); ``history_ablation``: the windows
1 s or more on it, rolled out with their own history and with the commands and velocities of the
second before the entry in its place (:func:`_history_ablation`; None for a model without history).
``measured_velocity``: the recorded body velocities (v, w) themselves integrated, as a perfect
command-to-velocity model would: what is left is odometry noise and motion that v and w do not
carry (sideways slip), which a model with a pose history can still predict.
``latent_forecast``: the predicted learned latent against the recorded step's encoding and against
h held, in full and outside the directions the robot's own motion moves it
(``world_model_node.latent_eval``).
``slices``: pose errors per slice (static, terrain, payload, latency, movers; they overlap).
``goal_latent``: how well latent distance ranks distance to a goal (:func:`goal_rank_correlation`):
Spearman rho between the latent distance of each row to a goal observation of the same
episode and the true distance of their poses (metres), pooled over all goal/row pairs and per
goal; for data with camera frames also the same rho for plain pixel distance (the baseline).

A camera model (``use_image``) is evaluated through :class:`CameraRollout` (the same
reset_state / rollout interface, fed the recorded frame at each start): the planner's
LearnedModel feeds no image.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from world_model_planner.world_model_node import latent_eval
from world_model_planner.world_model_node.data import Transitions
from world_model_planner.core.mathutil import wrap_angle
from world_model_planner.world_model_node.model import observation

HORIZONS_S = (0.5, 1.0, 2.0, 3.0)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half); None when a class is missing."""
    from scipy.stats import rankdata

    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def unicycle_rollout(pose0: np.ndarray, vw: np.ndarray, dt_s: float) -> np.ndarray:
    """pose0 (B, 3), vw (B, H, 2) held per step, exact arcs -> poses (B, H, 3)."""
    x, y, th = pose0[:, 0].astype(np.float64), pose0[:, 1].astype(np.float64), pose0[:, 2].astype(np.float64)
    out = np.zeros(vw.shape[:2] + (3,))
    for k in range(vw.shape[1]):
        v, w = vw[:, k, 0], vw[:, k, 1]
        dth = w * dt_s
        small = np.abs(dth) < 1e-6
        safe_w = np.where(small, 1.0, w)
        dx = np.where(small, v * dt_s * np.cos(th), v / safe_w * (np.sin(th + dth) - np.sin(th)))
        dy = np.where(small, v * dt_s * np.sin(th), -v / safe_w * (np.cos(th + dth) - np.cos(th)))
        x, y, th = x + dx, y + dy, th + dth
        out[:, k] = np.stack([x, y, th], -1)
    return out


def _accepts_history(fn) -> bool:
    import inspect

    try:
        return "history" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def load_sysid_model(dt_s: float, sysid_file=None, train_data: Transitions | None = None):
    """The classic_id baseline (planner_node.dynamics.SysIdModel) from a fit file or fitted on
    training data -> (model, note). A missing piece gives (None, a one-line reason)."""
    if sysid_file is None and train_data is None:
        return None, "no --sysid FILE or --train-data given"
    try:
        from world_model_planner.planner_node import sysid
        from world_model_planner.planner_node.dynamics import SysIdModel
    except ImportError as exc:
        return None, f"classic_id is not available in this install ({exc})"
    params = sysid.load(sysid_file) if sysid_file is not None else \
        sysid.fit_transitions(train_data, source="eval-model --train-data")
    if abs(float(params.dt_s) - dt_s) > 1e-6:
        raise ValueError(f"the sysid fit steps {params.dt_s} s, the data {dt_s} s")
    return SysIdModel(params), "fitted on the training data" if sysid_file is None else str(sysid_file)


class CameraRollout:
    """A camera model behind the planner's model interface, for evaluation: reset_state takes
    the camera frame too (image (S, S, 3) uint8); rollout gives poses and collision
    probabilities (no clearance: a camera model predicts no scene)."""

    needs_image = True

    def __init__(self, model):
        self.model = model
        self.device = model.device
        self.dt_s = float(model.dt_s)
        self.history_steps = int(model.history_steps)

    @torch.inference_mode()
    def reset_state(self, pose, vel, scan, history=None, image=None) -> torch.Tensor:
        if image is None:
            raise ValueError("this world model encodes camera images: reset_state needs image (S, S, 3)")
        img = torch.as_tensor(np.asarray(image))[None]
        obs = observation(np.asarray(pose, np.float32)[None], np.asarray(vel, np.float32)[None],
                          np.asarray(scan, np.float32)[None], img, history=history, channels_last=True)
        return self.model.encode(obs)

    @torch.inference_mode()
    def rollout(self, state: torch.Tensor, actions: torch.Tensor):
        from world_model_planner.planner_node.dynamics import Rollout

        z, logit, _ = self.model.rollout_heads(state, actions.to(self.device), clearance=False)
        return Rollout(poses=self.model.pose(z), collision_prob=torch.sigmoid(logit))


def _rollouts(pm, data: Transitions, starts: np.ndarray, cmds: np.ndarray, scene_windows: np.ndarray,
              hist=None):
    """One planner-interface model on each window: reset_state(pose, vel, scan[, history]) then
    rollout(state, recorded actions (1, H, 2)) -> poses (W, H, 3), clearance (W, H) or None
    (nan where not computed), collision prob (W, H) or None.

    The history (``pm.history_steps`` rows, only for models that read one) comes from
    ``history.history_from_rows``, or is ``hist`` (a batched History, one per window) where
    given. A model that tracks obstacles (``scene_update``, classic_id) first sees the scans of
    the second before each window in ``scene_windows`` (W,) bool, as its tracker would have on
    the robot."""
    from world_model_planner.world_model_node.eval_windows import scan_points
    from world_model_planner.world_model_node.history import History, history_from_rows

    k_hist = int(getattr(pm, "history_steps", 0) or 0)
    use_hist = k_hist > 0 and _accepts_history(pm.reset_state)
    if use_hist and hist is None:
        hist = history_from_rows(data.cmd, data.vel, data.episode, starts, k_hist, data.scan)
    tracks = hasattr(pm, "scene_update") and hasattr(pm, "tracker")
    rmax = float(data.meta.get("range_max_m") or 8.0)
    dev = getattr(pm, "device", torch.device("cpu"))
    poses, clear, coll = [], [], []
    for i, t in enumerate(starts):
        scene = tracks and bool(scene_windows[i])
        if scene:
            pm.tracker.reset()
            first = max(int(t) - 10, 0)
            for r in range(first, int(t) + 1):
                if data.episode[r] != data.episode[t]:
                    continue
                pts = scan_points(data.scan[r], data.pose[r], rmax)
                if r < t:
                    pm.tracker.update(float(data.t_s[r]), pts, data.pose[r][:2])
                else:
                    pm.scene_update(float(data.t_s[r]), pts, data.pose[r][:2])
        extra = {"image": data.image[t]} if getattr(pm, "needs_image", False) else {}
        if use_hist:
            h = History(hist.cmd[i], hist.vel[i], hist.valid[i], None if hist.scan is None else hist.scan[i])
            state = pm.reset_state(data.pose[t], data.vel[t], data.scan[t], history=h, **extra)
        else:
            state = pm.reset_state(data.pose[t], data.vel[t], data.scan[t], **extra)
        out = pm.rollout(state, torch.as_tensor(cmds[i][None], dtype=torch.float32, device=dev))
        poses.append(out.poses[0].detach().cpu().numpy())
        c = getattr(out, "clearance_m", None)
        clear.append(None if c is None or (tracks and not scene) else c[0].detach().cpu().numpy())
        coll.append(None if out.collision_prob is None else out.collision_prob[0].detach().cpu().numpy())
    h = cmds.shape[1]
    clear_a = None if all(c is None for c in clear) else \
        np.stack([np.full(h, np.nan) if c is None else c for c in clear])
    coll_a = None if any(c is None for c in coll) else np.stack(coll)
    return np.stack(poses), clear_a, coll_a


def _history_ablation(pm, data: Transitions, starts: np.ndarray, offs_s: np.ndarray, cmds: np.ndarray,
                      truth: np.ndarray, hist_steps: int, dt: float) -> dict | None:
    """What the second on the new ground taught the model: the adaptation windows that start at
    least 1 s after the entry, rolled out with their own history and again with the commands and
    velocities of the second before the entry in its place (the scans as recorded: only the
    dynamics signals are swapped). ``truth`` (W, 3) is each window's pose at its end. -> {windows,
    own_history_m, entry_history_m, ratio} (mean position error at the end; ratio below 1: the
    history on the new ground helped), or None for a model without a history."""
    from world_model_planner.world_model_node.history import History, history_from_rows

    if hist_steps <= 0 or not _accepts_history(pm.reset_state):
        return None
    sel = np.flatnonzero(offs_s >= 1.0 - 1e-9)
    if not len(sel):
        return {"windows": 0, "own_history_m": math.nan, "entry_history_m": math.nan, "ratio": math.nan}
    s = starts[sel]
    entry = s - np.round(offs_s[sel] / dt).astype(np.int64)
    own = history_from_rows(data.cmd, data.vel, data.episode, s, hist_steps, data.scan)
    before = history_from_rows(data.cmd, data.vel, data.episode, entry, hist_steps, data.scan)
    swapped = History(before.cmd, before.vel, before.valid & own.valid, own.scan)
    none = np.zeros(len(s), bool)
    errs = []
    for h in (own, swapped):
        p = _rollouts(pm, data, s, cmds[sel], none, hist=h)[0][:, -1]
        errs.append(float(np.linalg.norm(p[:, :2] - truth[sel, :2], axis=-1).mean()))
    return {"windows": int(len(s)), "own_history_m": errs[0], "entry_history_m": errs[1],
            "ratio": errs[0] / errs[1] if errs[1] > 0 else math.nan}


def _err_block(p: np.ndarray, truth: np.ndarray, steps: list[int]) -> dict:
    err = np.linalg.norm(p[..., :2] - truth[..., :2], axis=-1)                      # (W, H)
    yaw = np.abs(wrap_angle(p[..., 2] - truth[..., 2]))
    return {"pose_err_m": [float(err[:, s - 1].mean()) if len(err) else math.nan for s in steps],
            "yaw_err_rad": [float(yaw[:, s - 1].mean()) if len(err) else math.nan for s in steps],
            "pose_err_curve_m": [float(e) for e in err.mean(0)] if len(err) else []}


@torch.no_grad()
def evaluate(model, data: Transitions, horizons_s=HORIZONS_S, stride: int = 5, batch: int = 1024,
             sysid_model=None, clearance_horizons_s=(1.0, 2.0), adapt_horizon_s: float = 1.0) -> dict:
    """-> the eval dict (module docstring). ``model`` is a WorldModel; it is evaluated through
    the planner's LearnedModel, next to UnicycleModel, constant velocity and ``sysid_model``
    (classic_id, optional)."""
    from world_model_planner.planner_node.critics.field import Footprint
    from world_model_planner.planner_node.dynamics import LearnedModel, UnicycleModel
    from world_model_planner.sim.robots import ROBOTS
    from world_model_planner.world_model_node import eval_windows as ew
    from world_model_planner.world_model_node.draws import floor_ground

    dt = float(model.dt_s)
    data_dt = float(np.median(data.dt)) if len(data) else dt
    if abs(data_dt - dt) > 1e-3:
        raise ValueError(f"data rows are {data_dt:.3f} s apart, the model steps {dt:.3f} s")
    camera = bool(getattr(model.cfg, "use_image", False))
    if camera and data.image is None:
        raise ValueError("this world model encodes camera images and the data has none "
                         "(collect with `wmp collect --image`)")
    steps = [int(round(h / dt)) for h in horizons_s]
    hmax = max(steps)
    grid = data.window_starts(hmax)[::stride]
    if len(grid) == 0:
        raise ValueError(f"no episode has {hmax + 1} rows ({hmax * dt:.1f} s); cannot evaluate")
    ha = int(round(adapt_horizon_s / dt))
    starts = grid
    rows = starts[:, None] + np.arange(hmax + 1)                                   # (W, H+1)
    truth = data.pose[rows[:, 1:]]                                                 # (W, H, 3)
    cmds = data.cmd[rows[:, :-1]]                                                  # (W, H, 2)
    hist_steps = int(getattr(model, "history_steps", 0) or 0)
    models = {"model": CameraRollout(model) if camera else LearnedModel(model), "unicycle": UnicycleModel(dt)}
    if sysid_model is not None:
        models["classic_id"] = sysid_model
    robots = {str(e.get("robot") or "husky") for e in data.meta.get("episodes", {}).values()}   # wmp collect --robot
    name = robots.pop() if len(robots) == 1 else str(data.meta.get("robot", "husky"))
    spec = ROBOTS.get(name, ROBOTS["husky"])
    for pm in models.values():              # predicted clearance: the body itself, as the truth measures it
        if hasattr(pm, "set_geometry"):
            pm.set_geometry(Footprint(spec.length_m, spec.width_m, 5, round_base=spec.round, exact=not spec.round))
    near = ew.mover_windows(data.mover_dist_m, starts)
    pred, clear, coll = {}, {}, {}
    for name, pm in models.items():
        pred[name], clear[name], coll[name] = _rollouts(pm, data, starts, cmds, near)
    pred["constant_velocity"] = unicycle_rollout(data.pose[starts], np.repeat(data.vel[starts][:, None], hmax, 1), dt)
    names = ["model", "unicycle", "constant_velocity"] + (["classic_id"] if sysid_model is not None else [])

    out: dict = {"horizons_s": [float(h) for h in horizons_s], "models": names}
    for name in names:
        out[name] = _err_block(pred[name], truth, steps)
    # not a model: the recorded body velocities themselves (the mean of each step's two ends)
    # integrated, i.e. a perfect command-to-(v, w) model; odometry noise and sideways slip remain
    vel_mid = 0.5 * (data.vel[rows[:, :-1]] + data.vel[rows[:, 1:]])
    out["measured_velocity"] = _err_block(unicycle_rollout(data.pose[starts], vel_mid, dt), truth, steps)

    # collision: one step over all rows (encoder + predictor), and along the open-loop rollouts
    out["collision_auroc"] = _one_step_auroc(model, data, batch, hist_steps)
    cp = coll["model"]
    out["collision_auroc_by_horizon"] = [
        auroc(cp[:, s - 1], data.collision[starts + s - 1]) if cp is not None else None for s in steps]

    # footprint clearance near movers: truth = the future scan around the future pose
    rmax = float(data.meta.get("range_max_m") or 8.0)
    csteps = [int(round(h / dt)) for h in clearance_horizons_s if int(round(h / dt)) <= hmax]
    cl = {"horizons_s": [s * dt for s in csteps], "windows": int(near.sum()), "near_m": ew.MOVER_NEAR_M,
          "cap_m": ew.CLEARANCE_CAP_M}
    if near.any():
        idx = np.flatnonzero(near)
        true_c = np.zeros((len(idx), len(csteps)))
        static_c = np.zeros_like(true_c)
        for j, w in enumerate(idx):
            t = starts[w]
            now = ew.scan_points(data.scan[t], data.pose[t], rmax)
            for k, s in enumerate(csteps):
                fut = ew.scan_points(data.scan[t + s], data.pose[t + s], rmax)
                true_c[j, k] = ew.footprint_clearance(fut, data.pose[t + s], spec.length_m, spec.width_m)[0]
                static_c[j, k] = ew.footprint_clearance(now, data.pose[t + s], spec.length_m, spec.width_m)[0]
        cl["static_scan"] = [float(np.abs(static_c[:, k] - true_c[:, k]).mean()) for k in range(len(csteps))]
        for name, label in (("model", "model"), ("classic_id", "constant_velocity_tracker")):
            c = clear.get(name)
            if c is not None:
                c = np.clip(c[idx][:, [s - 1 for s in csteps]], 0.0, ew.CLEARANCE_CAP_M)   # 0 inside, as the truth
                cl[label] = [float(np.abs(c[:, k] - true_c[:, k]).mean()) for k in range(len(csteps))]
        lm = models["model"]
        if getattr(lm, "has_scene", False) and getattr(lm, "tracked_scene", False):
            # the model's clearance is the smaller of its own scene and the tracked scene at its poses: each alone
            for label, own, tracked in (("model_scene_only", True, False), ("tracked_at_model_poses", False, True)):
                part = LearnedModel(lm.model, tracked_scene=tracked)
                part.model_scene = own
                part.set_geometry(lm.footprint, lm.field_size_m, lm.field_res_m)
                c = _rollouts(part, data, starts[idx], cmds[idx], np.ones(len(idx), bool))[1]
                c = np.clip(c[:, [s - 1 for s in csteps]], 0.0, ew.CLEARANCE_CAP_M)
                cl[label] = [float(np.abs(c[:, k] - true_c[:, k]).mean()) for k in range(len(csteps))]
        cl["true_mean_m"] = [float(v) for v in true_c.mean(0)]
    out["clearance_err_m"] = cl

    # adaptation on new ground: 1 s error at entry (0-0.5 s on it) vs settled (1-1.5 s on it)
    ad_starts, ad_off = ew.adaptation_windows(data.ground, data.episode, ha, dt)
    ad = {"entries": int(len(ew.find_entries(data.ground, data.episode))), "windows": int(len(ad_starts)),
          "horizon_s": ha * dt}
    if len(ad_starts):
        arow = ad_starts[:, None] + np.arange(ha + 1)
        a_truth, a_cmds = data.pose[arow[:, -1]], data.cmd[arow[:, :-1]]
        a_pred = {name: _rollouts(pm, data, ad_starts, a_cmds, np.zeros(len(ad_starts), bool))[0][:, -1]
                  for name, pm in models.items()}
        a_pred["constant_velocity"] = unicycle_rollout(
            data.pose[ad_starts], np.repeat(data.vel[ad_starts][:, None], ha, 1), dt)[:, -1]
        for name in names:
            err = np.linalg.norm(a_pred[name][:, :2] - a_truth[:, :2], axis=-1)
            at = err[ad_off <= 0.5 + 1e-9]
            after = err[ad_off >= 1.0 - 1e-9]
            e0 = float(at.mean()) if len(at) else math.nan
            e1 = float(after.mean()) if len(after) else math.nan
            offs = np.unique(np.round(ad_off, 6))
            ad[name] = {"at_entry_m": e0, "after_1s_m": e1, "ratio": e1 / e0 if e0 > 0 else math.nan,
                        "by_offset_s": [[float(o), float(err[np.isclose(ad_off, o)].mean())] for o in offs]}
        ad["history_ablation"] = _history_ablation(models["model"], data, ad_starts, ad_off, a_cmds, a_truth,
                                                   hist_steps, dt)
    out["adaptation"] = ad

    # per-slice errors (grid windows), slices overlap
    masks = ew.slice_masks(data, starts, hmax, np.asarray(floor_ground(spec.name)))
    out["slices"] = {sl: {"windows": int(m.sum()),
                          **{name: _err_block(pred[name][m], truth[m], steps)["pose_err_m"] for name in names}}
                     for sl, m in masks.items()}
    out["goal_latent"] = goal_rank_correlation(model, data)
    out["latent_forecast"] = latent_eval.latent_forecast(model, data, starts, cmds, steps, hist_steps, batch)
    out["windows"] = int(len(starts))
    out["episodes"] = int(len(np.unique(data.episode[grid])))
    out["rows"] = len(data)
    out["collision_rate"] = float(data.collision.mean())
    out["dt_s"] = dt
    return out


def _one_step_auroc(model, data: Transitions, batch: int, hist_steps: int):
    """AUROC of the one-step collision logit over every row with a next row."""
    one = data.window_starts(1)
    if not len(one):
        return None
    dev = model.device
    logits = []
    for i in range(0, len(one), batch):
        r = one[i:i + batch]
        z1 = model.predict(latent_eval.encode_rows(model, data, r, hist_steps),
                           torch.as_tensor(data.cmd[r], device=dev))
        logits.append(model.collision_logit(z1).cpu().numpy())
    return auroc(np.concatenate(logits), data.collision[one])


@torch.no_grad()
def embed_goals(model, data: Transitions, rows: np.ndarray, batch: int = 512) -> np.ndarray:
    """rows (R,) -> (R, dh) the learned latent h of each row's observation taken alone, as a goal
    is given: the frame (and the scan, for a model that reads one) with zero velocity and no
    history, so two rows differ only in what the robot saw there."""
    out = []
    dev = model.device
    for i in range(0, len(rows), batch):
        r = rows[i:i + batch]
        img = data.image[r] if getattr(model.cfg, "use_image", False) else None
        obs = observation(data.pose[r], np.zeros((len(r), 2), np.float32), data.scan[r], img, channels_last=True)
        out.append(model.latent_h(model.encode(obs)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.cfg.h_dims), np.float32)


def goal_rank_correlation(model, data: Transitions, goal_every: int = 25, row_stride: int = 2,
                          min_rows: int = 10, heading_rad: float = math.pi / 4) -> dict:
    """Does latent distance rank distance to a goal? For goals every ``goal_every`` rows of each
    episode and the rows of the same episode (every ``row_stride``), Spearman rho between
    |h(row) - h(goal)| (:func:`embed_goals`) and |xy(row) - xy(goal)| metres: pooled over all
    pairs ("rho") and the mean of each goal's own rho ("rho_per_goal_mean", goals with at least
    ``min_rows`` rows). "rho_same_heading" is the per-goal mean over the rows heading within
    ``heading_rad`` of the goal's heading only (a forward camera there sees what the goal frame
    shows, closer or farther). With camera frames, "pixels_rho" and "pixels_rho_same_heading" are
    the same for the L2 distance of the frames themselves (8x8 block means), the baseline a
    latent has to beat."""
    from scipy.stats import spearmanr

    lat, true, pix, per_goal, per_goal_pix = [], [], [], [], []
    same_lat, same_pix = [], []
    has_img = data.image is not None
    n_goals = 0
    for ep in np.unique(data.episode):
        rows = np.flatnonzero(data.episode == ep)[::row_stride]
        goals = np.flatnonzero(data.episode == ep)[goal_every // 2::goal_every]
        if len(rows) < min_rows or not len(goals):
            continue
        emb = embed_goals(model, data, np.concatenate([rows, goals]))
        e_rows, e_goals = emb[:len(rows)], emb[len(rows):]
        if has_img:
            small = _blocks(data.image[np.concatenate([rows, goals])])
            p_rows, p_goals = small[:len(rows)], small[len(rows):]
        for j, g in enumerate(goals):
            d_lat = np.linalg.norm(e_rows - e_goals[j], axis=-1)
            d_true = np.linalg.norm(data.pose[rows, :2] - data.pose[g, :2], axis=-1)
            same = np.abs(wrap_angle(data.pose[rows, 2] - data.pose[g, 2])) < heading_rad
            lat.append(d_lat)
            true.append(d_true)
            _rho_into(per_goal, d_lat, d_true)
            if same.sum() >= min_rows:
                _rho_into(same_lat, d_lat[same], d_true[same])
            if has_img:
                d_pix = np.linalg.norm(p_rows - p_goals[j], axis=-1)
                pix.append(d_pix)
                _rho_into(per_goal_pix, d_pix, d_true)
                if same.sum() >= min_rows:
                    _rho_into(same_pix, d_pix[same], d_true[same])
            n_goals += 1
    if not n_goals:
        return {"goals": 0, "pairs": 0, "rho": None, "rho_per_goal_mean": None}
    lat_a, true_a = np.concatenate(lat), np.concatenate(true)
    out = {"goals": n_goals, "pairs": int(len(lat_a)), "goal_every": goal_every,
           "rho": float(spearmanr(lat_a, true_a)[0]) if np.ptp(lat_a) > 0 else None,
           "rho_per_goal_mean": float(np.mean(per_goal)) if per_goal else None,
           "rho_same_heading": float(np.mean(same_lat)) if same_lat else None}
    if has_img:
        pix_a = np.concatenate(pix)
        out["pixels_rho"] = float(spearmanr(pix_a, true_a)[0]) if np.ptp(pix_a) > 0 else None
        out["pixels_rho_per_goal_mean"] = float(np.mean(per_goal_pix)) if per_goal_pix else None
        out["pixels_rho_same_heading"] = float(np.mean(same_pix)) if same_pix else None
    return out


def _rho_into(out: list, a: np.ndarray, b: np.ndarray) -> None:
    """Append Spearman rho of a and b to ``out`` unless one of them is constant."""
    from scipy.stats import spearmanr

    if np.ptp(a) > 0 and np.ptp(b) > 0:
        out.append(float(spearmanr(a, b)[0]))


def _blocks(images: np.ndarray, block: int = 8) -> np.ndarray:
    """(R, S, S, 3) uint8 -> (R, (S/block)^2 * 3) float block means in [0, 1]."""
    r, s = images.shape[0], images.shape[1]
    b = max(1, s // block)
    x = images[:, :b * block, :b * block].astype(np.float32).reshape(r, b, block, b, block, 3) / 255.0
    return x.mean(axis=(2, 4)).reshape(r, -1)
