"""Navigator: goal checks, stop on bad input, reached → zero, all kinds share one path,
and the learned model behind the planner interface."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.planner_node.dynamics import LearnedModel, SysIdModel, UnicycleModel
from world_model_planner.planner_node.mppi import MPPIConfig
from world_model_planner.planner_node.navigator import KINDS, Navigator, PlannerConfig, make_navigator
from world_model_planner.testing.standins import SceneWorldModel

SCAN = np.full(180, np.inf)


def small() -> PlannerConfig:
    return PlannerConfig(mppi=MPPIConfig(samples=64, horizon=10))


@pytest.mark.parametrize("goal, words", [
    ((math.nan, 0.0), "non-finite"), ((0.0, math.inf), "non-finite"),
    ((100.0, 0.0), "outside the known area"), ((12.0, 12.0), "max_goal_distance_m"),
])
def test_bad_goals_refused_with_reason(goal, words):
    cfg = small()
    cfg.nav.max_goal_distance_m = 10.0
    nav = Navigator("classic", UnicycleModel(), cfg)
    nav.step([0, 0, 0], [0, 0], SCAN, 0.0)                   # robot pose known → range check
    ok, reason = nav.set_goal(*goal)
    assert not ok and words in reason
    cmd = nav.step([0, 0, 0], [0, 0], SCAN, 0.05)
    assert (cmd.v, cmd.w, cmd.state) == (0.0, 0.0, "refused")


def test_nan_input_stops_then_recovers():
    nav = Navigator("classic", UnicycleModel(), small())
    assert nav.set_goal(2.0, 0.0) == (True, "")
    cmd = nav.step([math.nan, 0, 0], [0, 0], SCAN, 0.0)
    assert (cmd.v, cmd.w, cmd.state) == (0.0, 0.0, "stopped") and "non-finite" in cmd.reason
    cmd = nav.step([0, 0, 0], [0, 0], np.full(180, np.nan), 0.05)
    assert cmd.state == "stopped"
    cmd = nav.step([0, 0, 0], [0, 0], SCAN, 0.1)
    assert cmd.state == "planning" and cmd.v > 0


def test_goal_reached_gives_zero_and_stays():
    nav = Navigator("classic", UnicycleModel(), small())
    nav.set_goal(1.0, 0.0, tolerance=0.3)
    assert nav.step([0.8, 0.1, 0.0], [0.5, 0.0], SCAN, 0.0).state == "reached"
    cmd = nav.step([0.5, 0.0, 0.0], [0.0, 0.0], SCAN, 0.05)      # drifted: still reached
    assert (cmd.v, cmd.w, cmd.state) == (0.0, 0.0, "reached")
    nav.set_goal(1.0, 0.0, yaw=math.pi / 2, tolerance=0.3)
    assert nav.step([0.9, 0.0, 0.0], [0.0, 0.0], SCAN, 0.1).state == "planning"   # yaw not yet


def test_idle_without_goal():
    cmd = Navigator("flat", UnicycleModel(), small()).step([0, 0, 0], [0, 0], SCAN, 0.0)
    assert (cmd.v, cmd.w, cmd.state) == (0.0, 0.0, "idle")


@pytest.fixture
def random_checkpoint(tmp_path):
    from world_model_planner.world_model_node.checkpoint import save_checkpoint
    from world_model_planner.world_model_node.model import WorldModel

    torch.manual_seed(0)
    path = tmp_path / "wm.pt"
    save_checkpoint(str(path), WorldModel())
    return str(path)


@pytest.mark.parametrize("kind", KINDS)
def test_all_kinds_plan_through_one_path(kind, random_checkpoint):
    nav = make_navigator(kind, model_path=random_checkpoint, cfg=small(), device="cpu", missing_ok=False)
    expected = {"classic": UnicycleModel, "classic_id": SysIdModel}.get(kind, LearnedModel)
    assert isinstance(nav.model, expected)
    assert (nav.subgoals is None) == (kind == "flat")
    nav.set_goal(3.0, 0.0)
    scan = SCAN.copy()
    scan[85:95] = 1.5                                                  # something ahead
    cmd = nav.step([0, 0, 0], [0, 0], scan, 0.0)
    assert cmd.state == "planning" and math.isfinite(cmd.v) and math.isfinite(cmd.best_cost)
    assert cmd.best_traj.shape == (10, 3) and cmd.sample_trajs.shape[1:] == (10, 3)
    assert np.allclose(cmd.subgoals[-1], [3.0, 0.0])
    if kind != "flat":
        assert len(cmd.path) >= 2


def test_learned_model_rollout_shapes_and_collision_head(random_checkpoint):
    m = LearnedModel.from_checkpoint(random_checkpoint, device="cpu")
    state = m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN)
    out = m.rollout(state, torch.zeros(4, 7, 2))
    assert out.poses.shape == (4, 7, 3) and out.collision_prob.shape == (4, 7)
    assert ((out.collision_prob >= 0) & (out.collision_prob <= 1)).all()
    with pytest.raises(ValueError, match="beams"):
        m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], np.ones(90))
    acts = torch.rand(4, 7, 2)
    full, skipped = m.rollout(state, acts), m.rollout(state, acts, collision=False)
    assert skipped.collision_prob is None and full.collision_prob is not None
    assert torch.equal(skipped.poses, full.poses)


@pytest.mark.parametrize("weight", [0.0, 100.0])
def test_the_collision_head_runs_only_where_a_critic_scores_it(weight, random_checkpoint, monkeypatch):
    """A robot file that weighs the collision critic at 0 (the Jackal's) plans without the
    head, a quarter of the learned rollout's work at 512 x 20, and gets the same command."""
    from world_model_planner.planner_node.critics import Critics

    cfg = small()
    cfg.critics.collision_weight = weight
    cfg.nav.collision_near_movers_m = 0.0               # the head wherever a critic reads it
    asked = []

    def plan(force):
        if force:
            monkeypatch.setattr(Critics, "reads_collision", lambda self: True)
        torch.manual_seed(0)
        nav = make_navigator("hierarchical", model_path=random_checkpoint, cfg=cfg, device="cpu", missing_ok=False)
        rollout = nav.model.rollout

        def spy(state, actions, collision=True):
            asked.append(collision)
            return rollout(state, actions, collision=collision)

        nav.model.rollout = spy
        nav.set_goal(3.0, 0.0)
        scan = SCAN.copy()
        scan[85:95] = 1.5
        return nav.step([0, 0, 0], [0.2, 0], scan, 0.0)

    cmd = plan(force=False)
    assert asked and set(asked) == {weight != 0.0}
    if weight == 0.0:
        asked.clear()
        forced = plan(force=True)
        assert set(asked) == {True}
        assert (cmd.v, cmd.w) == (forced.v, forced.w) and cmd.best_cost == forced.best_cost


def test_missing_checkpoint_is_an_error_unless_allowed(tmp_path):
    with pytest.raises(FileNotFoundError):
        make_navigator("hierarchical", model_path=str(tmp_path / "none.pt"), device="cpu", missing_ok=False)
    nav = make_navigator("hierarchical", model_path=str(tmp_path / "none.pt"), device="cpu")
    assert isinstance(nav.model, UnicycleModel) and "no world-model checkpoint" in nav.model_desc


def test_shipped_planner_yaml_holds_every_default():
    import yaml

    from world_model_planner.planner_node.config import SECTIONS, PlannerNodeConfig, params_yaml
    from world_model_planner.core.paths import config_dir

    text = (config_dir() / "planner.yaml").read_text()
    assert text == params_yaml(), "config/planner.yaml is stale: regenerate it (command in its header)"
    params = yaml.safe_load(text)["/**/planner_node"]["ros__parameters"]
    PlannerNodeConfig(**{k: v for k, v in params.items() if k in PlannerNodeConfig.__dataclass_fields__})
    for prefix, cls in SECTIONS:
        section = params[prefix.rstrip(".")] if prefix else params
        cls(**{k: v for k, v in section.items() if not isinstance(v, dict) and k in cls.__dataclass_fields__})


def test_goal_range_checked_against_odometry_before_the_first_tick():
    cfg = small()
    cfg.nav.max_goal_distance_m = 10.0
    nav = Navigator("classic", UnicycleModel(), cfg)
    nav.note_pose([math.nan, 0.0, 0.0])                       # ignored
    nav.note_pose([0.0, 0.0, 0.0])                            # odometry only, no control tick yet
    ok, reason = nav.set_goal(12.0, 0.0)
    assert not ok and "max_goal_distance_m" in reason
    assert nav.set_goal(5.0, 0.0) == (True, "")


class _HistoryUnicycle(UnicycleModel):
    """The unicycle, reading a history of ``history_steps`` rows: records what it was given."""

    history_steps = 4

    def __init__(self):
        super().__init__(0.1)
        self.seen = []

    def reset_state(self, pose, vel, scan=None, history=None):
        self.seen.append(history)
        return super().reset_state(pose, vel, scan)


def test_navigator_passes_the_history_of_what_it_observed_and_commanded():
    model = _HistoryUnicycle()
    nav = Navigator("flat", model, small())
    nav.set_goal(3.0, 0.0)
    cmds, vels = {}, {}
    for k in range(11):                                           # 0.0 .. 1.0 s every 0.1 s
        t = round(0.1 * k, 3)
        vels[t] = (0.05 * k, -0.02 * k)
        cmd = nav.step([0.02 * k, 0, 0], vels[t], SCAN, t)
        cmds[t] = (cmd.v, cmd.w)
    h = model.seen[-1]
    assert h.cmd.shape == (4, 2) and h.vel.shape == (4, 2) and h.valid.shape == (4,)
    assert h.valid.all()
    for row, t in enumerate((0.6, 0.7, 0.8, 0.9)):                # oldest first, ending one step before t=1.0
        assert h.vel[row] == pytest.approx(vels[t], abs=1e-6)
        assert h.cmd[row] == pytest.approx(cmds[t], abs=1e-6)
    assert not model.seen[0].valid.any()                           # nothing observed before the first tick
    nav.step([0.2, 0, 0], (0.0, 0.0), SCAN, 5.0)                  # a 4 s gap: the old past is dropped
    assert not model.seen[-1].valid.any()
    plain = Navigator("classic", UnicycleModel(), small())        # a model without history input gets none
    assert plain.history(1.0) is None


def test_learned_model_reads_history_and_predicted_clearance():
    from world_model_planner.world_model_node.history import History

    wm = SceneWorldModel()
    m = LearnedModel(wm, device="cpu")
    assert m.history_steps == 3 and m.has_scene
    hist = History(np.ones((3, 2), np.float32), np.zeros((3, 2), np.float32), np.array([False, True, True]),
                   np.full((3, 180), np.inf, np.float32))
    state = m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN, history=hist)
    assert tuple(wm.obs["hist_cmd"].shape) == (1, 3, 2) and tuple(wm.obs["hist_scan"].shape) == (1, 3, 180)
    assert wm.obs["hist_valid"].tolist() == [[False, True, True]]
    assert torch.isfinite(torch.as_tensor(wm.obs["hist_scan"])).all()                   # no-return rows cleaned
    out = m.rollout(state, torch.zeros(5, 12, 2))
    assert out.clearance_m.shape == (5, 12)
    assert out.clearance_m[0, -1].item() == 0.0 and out.clearance_m[0, 0].item() == pytest.approx(0.9)
    # through the navigator: the predicted closing-in (contact at the last of 10 steps) scores
    # every plan lethal, weighted by how late the contact comes (1/10 of clearance_lethal_cost)
    cfg = small()
    cfg.nav.model_scene_near_movers_m = 0.0          # the head's scene always, no mover needed
    nav = Navigator("flat", m, cfg)
    nav.set_goal(2.0, 0.0)
    cmd = nav.step([0, 0, 0], [0, 0], SCAN, 0.0)
    assert cmd.best_cost >= 100.0
    nav.cfg.critics.clearance_lethal_by_time = False
    nav.reconfigure(nav.cfg)
    assert nav.step([0, 0, 0], [0, 0], SCAN, 0.1).best_cost >= 1000.0
    assert tuple(wm.obs["hist_cmd"].shape) == (1, 3, 2)


class _BlindSceneModel(SceneWorldModel):
    """Its scene head sees nothing: 5 m of clearance at every step, whatever the scan shows."""

    def rollout(self, z, actions):
        z = super().rollout(z, actions)
        z[..., 3] = 5.0
        return z


def test_learned_model_never_hides_an_obstacle_the_scan_shows():
    """With tracked_scene (the default) the learned planner scores the footprint at the model's
    predicted poses against the scan too, and keeps the smaller clearance: a wall 1.5 m ahead
    that the model's scene head misses still makes driving into it lethal, and a mover that
    the tracker saw coming closes the clearance as it comes. Off, the model alone decides."""
    from world_model_planner.planner_node.critics import Footprint

    wall = np.stack([np.full(41, 1.5), np.linspace(-2.0, 2.0, 41)], -1)               # x = 1.5
    m = LearnedModel(_BlindSceneModel(), device="cpu")
    m.set_geometry(Footprint(0.99, 0.67, 5), 8.0, 0.05)
    m.scene_update(0.0, wall, np.zeros(2))
    forward = torch.zeros(2, 10, 2)
    forward[0, :, 0] = 1.0                                                              # 1 m in 1 s
    state = m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN)
    clear = m.rollout(state, forward).clearance_m
    assert clear[0, -1].item() < 0.0 < clear[1, -1].item() < 1.0                        # into the wall / standing
    fp = m.footprint                                                                    # front circle to the wall
    assert clear[1, -1].item() == pytest.approx(1.5 - max(fp.offsets) - fp.radius, abs=0.06)
    m.tracked_scene = False
    alone = m.rollout(m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN), forward).clearance_m
    assert torch.all(alone == 5.0)
    # a mover: the tracker sees a person walk toward the robot; standing still, the clearance
    # shrinks along the horizon as the extrapolated person comes
    m.tracked_scene = True
    m2 = LearnedModel(_BlindSceneModel(), device="cpu")
    m2.set_geometry(Footprint(0.99, 0.67, 5), 8.0, 0.05)
    ring = 0.2 * np.stack([np.cos(np.linspace(0, 6.2, 12)), np.sin(np.linspace(0, 6.2, 12))], -1)
    for k in range(8):
        m2.scene_update(0.1 * k, ring + [4.0 - 0.1 * k, 0.0], np.zeros(2))              # 1 m/s toward -x
    still = m2.rollout(m2.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN), torch.zeros(1, 20, 2)).clearance_m[0]
    assert still[-1].item() < still[0].item() - 1.0
    # through the navigator: the parameter reaches the model, and it drives into no wall
    nav = Navigator("flat", LearnedModel(_BlindSceneModel(), device="cpu"), small())
    assert nav.model.tracked_scene
    nav.cfg.nav.tracked_scene = False
    nav.reconfigure(nav.cfg)
    assert not nav.model.tracked_scene


def test_model_scene_off_scores_the_tracked_scene_alone():
    """nav.model_scene off (the Jackal's robot file, for BARN): the model's scene head no longer
    enters the clearance, the scan's obstacles at the model's predicted poses still do."""
    from world_model_planner.planner_node.critics import Footprint

    wm = SceneWorldModel()                                   # its head: closing in to 0 m at step 10
    m = LearnedModel(wm, device="cpu")
    m.set_geometry(Footprint(0.99, 0.67, 5), 8.0, 0.05)
    m.scene_update(0.0, np.stack([np.full(41, 1.5), np.linspace(-2.0, 2.0, 41)], -1), np.zeros(2))   # x = 1.5
    still = torch.zeros(1, 10, 2)
    with_head = m.rollout(m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN), still).clearance_m[0]
    assert with_head[-1].item() == 0.0                                                  # the head's contact
    nav = Navigator("flat", m, small())
    nav.cfg.nav.model_scene = False
    nav.reconfigure(nav.cfg)                                  # applied, not just acknowledged
    assert m.model_scene is False
    alone = m.rollout(m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN), still).clearance_m[0]
    fp = m.footprint
    assert alone[-1].item() == pytest.approx(1.5 - max(fp.offsets) - fp.radius, abs=0.06)  # the wall only
    forward = torch.zeros(1, 10, 2)
    forward[0, :, 0] = 1.0
    assert m.rollout(m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN), forward).clearance_m[0, -1].item() < 0.0


def test_model_scene_near_movers_takes_the_head_only_with_a_mover_near():
    """nav.model_scene_near_movers_m > 0: the model's scene head enters the clearance only while
    the tracker follows a moving obstacle that near; with none (a wall alone, or a person far
    off) the clearance is the scan's at the predicted poses."""
    from world_model_planner.planner_node.critics import Footprint

    wall = np.stack([np.full(41, 1.5), np.linspace(-2.0, 2.0, 41)], -1)                 # x = 1.5
    ring = 0.2 * np.stack([np.cos(np.linspace(0, 6.2, 12)), np.sin(np.linspace(0, 6.2, 12))], -1)

    def clearance(near_m, person_x):
        m = LearnedModel(SceneWorldModel(), device="cpu")          # its head: closing in to 0 m at step 10
        m.set_geometry(Footprint(0.99, 0.67, 5), 8.0, 0.05)
        nav = Navigator("flat", m, small())
        nav.cfg.nav.model_scene_near_movers_m = near_m
        nav.reconfigure(nav.cfg)                                    # applied, not just acknowledged
        assert m.model_scene_near_m == near_m
        for k in range(8):                                          # a person walking along y at 1 m/s
            pts = np.vstack([wall, ring + [person_x, -3.0 + 0.1 * k]]) if person_x is not None else wall
            m.scene_update(0.1 * k, pts, np.zeros(2))
        return m.rollout(m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN), torch.zeros(1, 10, 2)).clearance_m[0, -1]

    fp = Footprint(0.99, 0.67, 5)
    wall_only = 1.5 - max(fp.offsets) - fp.radius
    assert clearance(0.0, None).item() == 0.0                       # always: the head's contact
    assert clearance(3.0, None).item() == pytest.approx(wall_only, abs=0.06)      # nothing moves
    assert clearance(3.0, -6.0).item() == pytest.approx(wall_only, abs=0.06)      # a person 6 m off
    assert clearance(3.0, -1.0).item() == 0.0                      # a person 2 m off: the head again


@pytest.mark.parametrize("approach_m, blocked", [(0.0, True), (1.0, False)])
def test_a_route_to_a_goal_facing_a_wall_is_open_to_the_goal_approach(approach_m, blocked):
    """The stuck detector's route check measures the goal approach's rectangle near the goal:
    a goal 0.5 m in front of a wall is closed to the circles (0.25 m past the body's front) and
    open to the body, so the approach does not read as a blocked route."""
    from world_model_planner.planner_node.critics import DistanceField

    cfg = small()
    cfg.nav.goal_approach_m = approach_m
    nav = Navigator("classic", UnicycleModel(), cfg)
    nav.set_goal(2.5, 0.0)
    nav._field = DistanceField(np.stack([np.full(81, 3.0), np.linspace(-2, 2, 81)], -1), (1.5, 0.0), 8.0, 0.05)
    path = np.stack([np.linspace(2.0, 2.5, 6), np.zeros(6)], -1)
    assert nav.route_blocked(np.array([2.0, 0.0, 0.0]), path) == blocked      # probes reach x = 2.3


def test_the_tracked_scene_measures_the_footprint_the_state_brings():
    """state["footprint"] (the goal approach's rectangle) replaces the model's own footprint in
    the tracked scene's clearance: 0.105 m short of a wall, the circles read contact."""
    from world_model_planner.planner_node.critics import Footprint

    m = make_navigator("classic_id", device="cpu", cfg=small()).model
    wall = np.stack([np.full(81, 0.6), np.linspace(-2, 2, 81)], -1)
    m.scene_update(0.0, wall, np.zeros(2))
    state = m.scene_state()
    pose = torch.zeros(1, 1, 3)
    assert m.clearance(pose, state).item() < 0.0
    state["footprint"] = Footprint(0.99, 0.67, 5, exact=True)
    assert m.clearance(pose, state).item() == pytest.approx(0.105, abs=0.03)


def test_the_padding_comes_off_the_models_scene_clearance_too():
    """The footprint's padding comes off every clearance the critics score, the model's scene
    head's as well as the scan's: a contact the head predicts (0 m) reads as minus the padding,
    and stays lethal to a clearance critic that grades the padding."""
    from world_model_planner.planner_node.critics import CostContext, Critics, CriticsConfig, Footprint

    still = torch.zeros(1, 10, 2)
    ends = []
    for pad in (0.0, 0.05):
        m = LearnedModel(SceneWorldModel(), device="cpu")        # its head: closing in to 0 m at step 10
        m.set_geometry(Footprint(0.99, 0.67, 5, padding_m=pad), 8.0, 0.05)
        roll = m.rollout(m.reset_state([0.0, 0.0, 0.0], [0.0, 0.0], SCAN), still)
        ends.append(roll.clearance_m[0, -1].item())
    assert ends == [0.0, pytest.approx(-0.05)]
    cfg = CriticsConfig(critics=["clearance"], clearance_weight=0.0, footprint_padding_m=0.05)
    cost = Critics(cfg).breakdown(still, roll, CostContext(target=torch.tensor([5.0, 0.0]), start=torch.zeros(3),
                                                           a0=torch.zeros(2)))["clearance"]
    # lethal at the last of 10 steps (scaled by time) + the full ramp
    assert cost.item() == pytest.approx(1000 / 10 + 1000, abs=1e-3)


def test_classic_id_with_a_bad_sysid_file_is_refused_naming_it(tmp_path):
    from world_model_planner.planner_node.sysid import SysIdError

    bad = tmp_path / "fit.json"
    bad.write_text('{"format": "world_model_planner.sysid", "version": 1, "dt_s": 0.1}')
    with pytest.raises(SysIdError, match=r"fit\.json: v: expected an object"):
        make_navigator("classic_id", sysid_path=str(bad), device="cpu")
    nav = make_navigator("classic_id", device="cpu", cfg=small())                  # the shipped fit
    assert isinstance(nav.model, SysIdModel) and "tau" in nav.model_desc


def _person_scan(pose, centre, radius=0.25, beams=180, range_max=8.0):
    """(beams,) ranges over 360° from -π in the robot frame at ``pose`` to one circle (exact)."""
    ang = pose[2] + np.linspace(-math.pi, math.pi, beams, endpoint=False)
    d = np.stack([np.cos(ang), np.sin(ang)], 1)
    f = np.asarray(pose[:2]) - np.asarray(centre)
    b = d @ f
    disc = b * b - (f @ f - radius * radius)
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    return np.where((disc >= 0) & (t > 0) & (t < range_max), t, np.inf)


def _drive_past_a_crossing_person(kind):
    """Closed loop at 10 Hz, ideal robot: the goal 5 m ahead, a person crossing the robot's line
    at x = 1.8 m, walking +y at 0.9 m/s from y = -2.2. Returns the smallest true distance (m)
    between the robot's centre and the person's centre over 3.2 s."""
    torch.manual_seed(0)
    nav = make_navigator(kind, cfg=PlannerConfig(mppi=MPPIConfig(samples=128, horizon=20)), device="cpu")
    nav.set_goal(5.0, 0.0)
    pose, vel = np.zeros(3), np.zeros(2)
    closest = np.inf
    for k in range(32):
        t = 0.1 * k
        person = np.array([1.8, -2.2 + 0.9 * t])
        closest = min(closest, float(np.linalg.norm(pose[:2] - person)))
        cmd = nav.step(pose, vel, _person_scan(pose, person), t)
        vel = np.array([cmd.v, cmd.w])
        pose = pose + np.array([cmd.v * math.cos(pose[2]) * 0.1, cmd.v * math.sin(pose[2]) * 0.1, cmd.w * 0.1])
    return closest


def test_classic_id_keeps_away_from_a_crossing_person_that_classic_meets():
    """The unicycle planner sees the person where they are; classic_id sees where they will be.
    Touching means centre distance below ~0.6 m (half the body length + the person's radius)."""
    meets = _drive_past_a_crossing_person("classic")
    avoids = _drive_past_a_crossing_person("classic_id")
    assert avoids > 0.75, f"classic_id came within {avoids:.2f} m of the person"
    assert avoids > meets + 0.2, f"classic {meets:.2f} m, classic_id {avoids:.2f} m"
