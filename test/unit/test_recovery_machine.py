"""The recovery state machine and the navigator's part in it (issue 13), in one process (real
PyBullet SimWorld + Navigator, no ROS): the sequence of recoveries, skipped, resolved or given up;
a stall again at the same place; the route checks that call a closed corridor a stall; what is
not a stall (slow progress, yielding to a mover, turning in mud); and a backup only into a known
free rear."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.core.sensor_check import ScanGeometry
from world_model_planner.planner_node.dynamics import UnicycleModel
from world_model_planner.planner_node.navigator import Navigator
from world_model_planner.planner_node.recovery import Recovery, RecoveryConfig
from world_model_planner.sim.scenario import parse_scenario
from world_model_planner.sim.world import SimWorld
from world_model_planner.testing.driving import case, small_cfg


def test_recovery_sequence_skip_resolve_and_give_up():
    r = Recovery(RecoveryConfig(stall_time_s=1.0, progress_min_m=0.2, max_attempts=5))
    assert r.progress(0.0, 10.0) is None and r.progress(0.9, 10.0) is None
    assert r.progress(1.0, 10.0) == "clear"
    assert r.progress(1.1, 10.0) is None and r.progress(2.2, 10.0) == "backup"
    assert r.skip(2.2) == "rotate"                          # rear not free: next one at once
    assert r.log[0].outcome == "failed" and r.log[1].outcome == "skipped"
    assert r.progress(2.3, 10.4) is None                    # regaining the backup's ground is no progress
    assert r.progress(2.5, 9.7) is None and r.log[2].outcome == "resolved"   # beating the best before the stall
    assert r.progress(4.0, 9.7) == "clear"                  # the sequence restarts
    assert r.progress(4.1, 9.75) is None
    assert r.progress(5.0, 9.7) == "backup"                 # timed from the recovery's start
    assert r.progress(5.1, 9.7) is None and r.progress(6.0, 9.7) == "failed"   # 5 for this goal: give up
    assert r.counts() == {"fired": 4, "resolved": 1, "failed": 3, "skipped": 1}
    r2 = Recovery(RecoveryConfig(stall_time_s=1.0, progress_min_m=0.2))
    assert r2.progress(0.0, 10.0) is None
    assert r2.progress(0.5, 12.0) is None                   # a new, longer route: measured from it ...
    assert r2.progress(0.9, 11.7) is None and r2.progress(1.6, 11.7) is None   # ... progress at 0.9
    assert r2.progress(2.0, 11.7) == "clear"


def test_a_stall_again_at_the_same_place_goes_on_with_the_sequence():
    """Progress resets the sequence only for a stall somewhere else: a robot that stalls again
    within stall_site_m of the last stall (a rotate that seemed to resolve it, then the same
    narrow gap) gets the next recovery, and reaches replan; a stall elsewhere starts at clear."""
    def stall_twice(second_xy, **cfg):
        r = Recovery(RecoveryConfig(stall_time_s=1.0, progress_min_m=0.2, **cfg))
        here = (0.0, 0.0)
        assert r.progress(0.0, 10.0, here) is None and r.progress(1.0, 10.0, here) == "clear"
        assert r.progress(2.0, 10.0, here) == "backup"
        assert r.skip(2.0) == "rotate"
        moved = (0.3, 0.0)                                   # the rotate "resolves": 0.3 m on, path shorter
        assert r.progress(2.5, 9.7, moved) is None and r.log[-1].outcome == "resolved"
        return r, r.progress(4.0, 9.7, second_xy)            # no progress since: the next stall
    r, kind = stall_twice((0.4, 0.1))
    assert kind == "replan" and [e.kind for e in r.log] == ["clear", "backup", "rotate", "replan"]
    r, kind = stall_twice((2.5, 0.0))                         # 2.5 m from the last stall: a new place
    assert kind == "clear"
    r, kind = stall_twice((0.4, 0.1), stall_site_m=0.0)       # the rule off: always from the start
    assert kind == "clear"
    r, kind = stall_twice(None)                               # position unknown: from the start
    assert kind == "clear"


def test_route_check_sees_a_closed_corridor_not_an_open_one():
    """Navigator.route_blocked (what replan_when_blocked asks at a stall): the global path down an
    open corridor is not blocked; with a box across the corridor the path through it is."""
    def first_tick(obstacles):
        sc = case(obstacles, (-4.5, 0.0, 0.0), (4.5, 0.0), arena=(12.0, 2.4), name="corridor")
        nav = Navigator("classic", UnicycleModel(0.1), small_cfg())
        with SimWorld(sc) as w:
            nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.24)
            for i in range(30):                              # to 2 m from the box, if there is one
                cmd = nav.step(w.pose(), w.velocity(), w.scan(), 0.1 * i)
                w.step(cmd.v, cmd.w, 0.1)
            pose = w.pose()
            return nav.route_blocked(pose, nav.subgoals.path), pose
    open_, pose = first_tick([])
    assert not open_ and pose[0] > -4.0                      # it drove, and the way on is open
    closed, pose = first_tick([{"box": {"center": [-1.5, 0.0], "size": [0.3, 2.4], "yaw": 0.0}}])
    assert closed and pose[0] < -2.0, pose


def test_the_early_route_check_counts_static_obstacles_only():
    """blocked_stall_s asks route_blocked(static_only=True): where the model tracks movers
    (scene_state), only its static field counts, so a person or cart crossing the route does
    not make the robot give the route up; without a tracking model the whole scan counts."""
    from world_model_planner.planner_node.critics.field import DistanceField

    sc = case([{"box": {"center": [-1.5, 0.0], "size": [0.3, 2.4], "yaw": 0.0}}],
                   (-4.5, 0.0, 0.0), (4.5, 0.0), arena=(12.0, 2.4), name="corridor")
    nav = Navigator("classic", UnicycleModel(0.1), small_cfg())
    with SimWorld(sc) as w:
        nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.24)
        for i in range(30):
            cmd = nav.step(w.pose(), w.velocity(), w.scan(), 0.1 * i)
            w.step(cmd.v, cmd.w, 0.1)
        pose, path = w.pose(), nav.subgoals.path
    assert not hasattr(nav.model, "scene_state")             # the unicycle tracks nothing
    assert nav.route_blocked(pose, path) and nav.route_blocked(pose, path, static_only=True)
    walls = np.stack([np.linspace(-6, 6, 241), np.full(241, 1.2)], -1)
    walls = np.concatenate([walls, walls * [1, -1]])

    def tracking(static_points):                             # a model whose tracker saw these as static
        field = DistanceField(static_points, pose[:2], 8.0, 0.05)
        nav.model.scene_state = lambda: {"field": field, "movers": None}
    tracking(walls)                                          # the box is a mover: only the walls are static
    assert nav.route_blocked(pose, path) and not nav.route_blocked(pose, path, static_only=True)
    box = np.stack([np.full(25, -1.5), np.linspace(-1.2, 1.2, 25)], -1)
    tracking(np.concatenate([walls, box]))                   # standing still, the box is static
    assert nav.route_blocked(pose, path, static_only=True)


def test_slow_but_progressing_robot_is_not_stalled():
    """A robot that keeps closing in at 0.04 m/s (deep mud, a heavy load uphill: slower than
    progress_min_m per stall_time_s) is creeping, not stuck: no recovery, never failed. Without
    the creep rule it stalls every few seconds, each stall fires a recovery, and the eighth
    gives up on it while it is still getting closer."""
    def run(**cfg):
        r = Recovery(RecoveryConfig(**cfg))                  # 5 s, 0.25 m, 8 attempts
        asked = []
        for i in range(2400):                               # 240 s, 9.6 m straight at the goal
            x = 0.004 * i
            asked.append(r.progress(0.1 * i, 10.0 - x, (x, 0.0), 10.0 - x))
        return r, asked
    r, asked = run()
    assert set(asked) == {None} and not r.log
    old, asked = run(creep_min_m=0.0)
    assert "failed" in asked and len(old.log) == old.cfg.max_attempts
    # creeping is measured on the straight distance: a stalled robot whose replanned path
    # shrinks and grows again, or that rocks on the spot, still stalls after stall_time_s
    stuck = Recovery(RecoveryConfig())
    for i in range(51):
        kind = stuck.progress(0.1 * i, 6.0 - 0.2 * (i % 2), (0.02 * (i % 2), 0.0), 4.0 - 0.02 * (i % 2))
    assert kind == "clear"
    # with the speeds given: the base held back by the ground (0.5 m/s asked, 0.04 m/s made) creeps;
    # a planner inching at the speed it asks for (0.04 m/s asked and made) hesitates, and stalls
    # after stall_time_s as a robot standing still would
    def run_speeds(cmd_v, cfg=RecoveryConfig()):
        r, asked = Recovery(cfg), []
        for i in range(600):
            x = 0.004 * i
            asked.append(r.progress(0.1 * i, 10.0 - x, (x, 0.0), 10.0 - x, speeds=(cmd_v, 0.04)))
        return r, asked
    r, asked = run_speeds(0.5)
    assert set(asked) == {None} and not r.log
    r, asked = run_speeds(0.04)
    assert asked.index("clear") == 50                        # 5.0 s: stall_time_s, as without creep
    r, asked = run_speeds(0.04, RecoveryConfig(creep_slip_ratio=1.0))   # the bound: equal speeds do not hold back
    assert "clear" in asked
    r, asked = run_speeds(0.05, RecoveryConfig(creep_slip_ratio=1.0))   # 0.04 < 1.0 x 0.05: held back
    assert set(asked) == {None}
    still = Recovery(RecoveryConfig(stall_time_s=1.0))      # a replan shortens the path, the robot stands
    assert still.progress(0.0, 10.0, (0.0, 0.0), 8.0) is None and still.progress(0.5, 9.0, (0.0, 0.0), 8.0) is None
    assert still.progress(1.0, 9.0, (0.0, 0.0), 8.0) == "clear"   # not progress: it has not moved


def test_the_navigator_gives_the_recovery_its_commanded_and_measured_speeds():
    """The creep rule's evidence: each tick the recovery sees the command sent the tick before
    and the forward speed measured now (real PyBullet base, classic planner)."""
    sc = case([], (-4.0, 0.0, 0.0), (4.0, 0.0), name="open")
    nav = Navigator("classic", UnicycleModel(0.1), small_cfg())
    seen, inner = [], nav.recovery.progress

    def progress(*a, **kw):
        seen.append(kw.get("speeds"))
        return inner(*a, **kw)
    nav.recovery.progress = progress
    sent, measured = [0.0], []
    with SimWorld(sc) as w:
        nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.24)
        for i in range(15):
            measured.append(float(w.velocity()[0]))
            cmd = nav.step(w.pose(), w.velocity(), w.scan(), 0.1 * i)
            w.step(cmd.v, cmd.w, 0.1)
            sent.append(cmd.v)
    assert len(seen) == 15 and all(x is not None for x in seen)
    assert [float(c) for c, _ in seen][1:] == pytest.approx(sent[1:15], abs=1e-9)
    assert [float(m) for _, m in seen] == pytest.approx(measured, abs=1e-9)
    assert max(sent) > 0.3 and max(measured) > 0.3               # it drove: the speeds are not all zero


def test_near_a_tracked_mover_slow_closing_in_is_yielding():
    """Within recovery.creep_yield_radius_m (set; 0, the default, is off) of a moving obstacle the
    model tracks, the navigator gives the recovery no speeds: slowing for a person or cart is
    yielding and creeps as before."""
    nav = Navigator("classic", UnicycleModel(0.1), small_cfg(creep_yield_radius_m=3.0))
    assert not nav._mover_near((0.0, 0.0, 0.0), 3.0)                    # a model that tracks nothing

    def t(a):
        return torch.as_tensor(a, dtype=torch.float32)
    person = {"field": None, "movers": (t([[2.5, 0.0]]), t([[0.0, 0.5]]), t([0.25]))}   # walking at 0.5 m/s
    nav.model.scene_state = lambda: person
    assert nav._mover_near((0.0, 0.0, 0.0), 3.0)                        # 2.25 m from its edge
    assert not nav._mover_near((0.0, 0.0, 0.0), 2.0) and not nav._mover_near((0.0, 0.0, 0.0), 0.0)
    assert not nav._mover_near((-3.0, 0.0, 0.0), 3.0)
    standing = {"field": None, "movers": (t([[2.5, 0.0]]), t([[0.05, 0.0]]), t([0.25]))}
    nav.model.scene_state = lambda: standing                            # a track barely moving (a post
    assert not nav._mover_near((0.0, 0.0, 0.0), 3.0)                   # seen from a moving robot)
    nav.model.scene_state = lambda: person
    seen, inner = [], nav.recovery.progress

    def progress(*a, **kw):
        seen.append(kw.get("speeds"))
        return inner(*a, **kw)
    nav.recovery.progress = progress
    sc = case([], (0.0, 0.0, 0.0), (4.0, 0.0), name="open")
    with SimWorld(sc) as w:
        nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.24)
        nav.step(w.pose(), w.velocity(), w.scan(), 0.0)
        assert seen == [None]                                           # near the person: no speeds
        person["movers"] = None
        nav.step(w.pose(), w.velocity(), w.scan(), 0.1)
        assert seen[-1] is not None                                     # nobody near: the speeds
        person["movers"] = (t([[2.5, 0.0]]), t([[0.0, 0.5]]), t([0.25]))
        nav.recovery.cfg.creep_yield_radius_m = 0.0                     # off: the speeds, person or not
        nav.step(w.pose(), w.velocity(), w.scan(), 0.2)
        assert seen[-1] is not None


def test_turning_in_place_in_mud_ends_early():
    """In mud the tyres cannot skid the base round (about 0.05 rad/s for 1 rad/s asked, real
    PyBullet ground model): the rotate recovery stops once it has had its time and a second,
    not after action_timeout_s; a backup, which mud allows, runs its full distance."""
    sc = parse_scenario({"name": "mud", "robot": "husky", "arena": [10.0, 10.0],
                         "terrain": [{"preset": "mud", "box": {"center": [0.0, 0.0], "size": [6.0, 6.0]}}],
                         "start": {"x": 0.0, "y": 0.0, "yaw": 0.0}, "goal": {"x": 4.0, "y": 4.0, "tolerance": 0.3},
                         "time_limit": 60})
    cfg = RecoveryConfig(action_timeout_s=8.0)
    for kind in ("rotate", "backup"):
        r = Recovery(cfg)
        with SimWorld(sc) as w:
            r.begin_action(kind, 0.0, w.pose())
            t = 0.0
            while (vw := r.action_command(t, w.pose())) is not None and t < 20.0:
                w.step(vw[0], vw[1], 0.05)
                t += 0.05
            moved = float(np.hypot(*w.pose()[:2]))
        if kind == "rotate":
            assert 4.0 <= t <= 4.5, t                            # pi / 1 rad/s + 1 s, not 8 s
        else:
            assert moved >= cfg.backup_distance_m - 0.02 and t < 4.0, (t, moved)


def test_backup_needs_a_known_free_rear():
    """Backup runs only where the scan covers the rear and shows it free."""
    nav = Navigator("classic", UnicycleModel(0.1), small_cfg())
    nav.set_goal(3.0, 0.0)
    free = np.full(180, np.inf)
    nav.step([0, 0, 0], [0, 0], free, 0.0)
    geom = nav.default_geometry(180)
    assert nav._rear_free(np.zeros(3), geom, free)
    wall = free.copy()
    wall[:3] = wall[-3:] = 0.7                              # a return 0.7 m straight behind
    nav.step([0, 0, 0], [0, 0], wall, 0.1)
    assert not nav._rear_free(np.zeros(3), geom, wall)
    front = ScanGeometry(-math.pi / 2, math.pi / 90, 0.0, 10.0, 90)   # a 180° lidar cannot see the rear
    assert not nav._rear_free(np.zeros(3), front, np.full(90, np.inf))


def test_a_closed_route_is_a_stall_after_blocked_stall_s():
    """replan_when_blocked with blocked_stall_s: no progress for blocked_stall_s in front of a
    route closed to the footprint is a stall already (the route is asked only from then on);
    an open route waits for stall_time_s; not again at the site where replan went first, nor
    while creeping towards the goal, nor with the rule off."""
    asked = []

    def route(closed):
        def blocked():
            asked.append(closed)
            return closed
        return blocked
    r = Recovery(RecoveryConfig(stall_time_s=5.0, blocked_stall_s=1.5, progress_min_m=0.2))
    here = (0.0, 0.0)
    assert r.progress(0.0, 10.0, here, 8.0, route(True)) is None
    assert r.progress(1.4, 10.0, here, 8.0, route(True)) is None and asked == []   # not asked before 1.5 s
    assert r.progress(1.5, 10.0, here, 8.0, route(True)) == "clear" and asked == [True]
    assert r.replan_first(1.5) == "replan"
    assert [(e.kind, e.outcome) for e in r.log] == [("clear", "skipped"), ("backup", "skipped"),
                                                    ("rotate", "skipped"), ("replan", "pending")]
    # replan went first here: a further stall at this site waits for stall_time_s
    assert r.progress(3.5, 10.0, (0.1, 0.0), 8.0, route(True)) is None
    assert r.progress(6.5, 10.0, (0.1, 0.0), 8.0, route(True)) == "clear"
    assert r.replan_first(6.5) is None

    open_ = Recovery(RecoveryConfig(stall_time_s=5.0, blocked_stall_s=1.5, progress_min_m=0.2))
    assert open_.progress(0.0, 10.0, here, 8.0, route(False)) is None
    assert all(open_.progress(t, 10.0, here, 8.0, route(False)) is None for t in (1.5, 2.5, 4.9))
    assert open_.progress(5.0, 10.0, here, 8.0, route(False)) == "clear"

    creep = Recovery(RecoveryConfig(stall_time_s=5.0, blocked_stall_s=1.5, progress_min_m=0.2, creep_min_m=0.05))
    assert creep.progress(0.0, 10.0, here, 8.0, route(True)) is None
    assert creep.progress(1.0, 10.0, here, 7.9, route(True)) is None     # closing in, slowly
    assert creep.progress(2.0, 10.0, here, 7.9, route(True)) is None     # 1.0 s since the last new low
    assert creep.progress(2.5, 10.0, here, 7.9, route(True)) == "clear"  # 1.5 s since: stalled
    # inching at the speed asked for is not creeping: closed route, stall at blocked_stall_s
    inch = Recovery(RecoveryConfig(stall_time_s=5.0, blocked_stall_s=1.5, progress_min_m=0.2, creep_min_m=0.05))
    assert inch.progress(0.0, 10.0, here, 8.0, route(True), speeds=(0.06, 0.06)) is None
    assert inch.progress(1.0, 10.0, here, 7.9, route(True), speeds=(0.06, 0.06)) is None
    assert inch.progress(1.5, 10.0, here, 7.9, route(True), speeds=(0.06, 0.06)) == "clear"

    for off in ({"blocked_stall_s": 0.0}, {"replan_when_blocked": False}):
        r = Recovery(RecoveryConfig(stall_time_s=5.0, progress_min_m=0.2, **off))
        assert r.progress(0.0, 10.0, here, 8.0, route(True)) is None
        assert r.progress(4.9, 10.0, here, 8.0, route(True)) is None
        assert r.progress(5.0, 10.0, here, 8.0, route(True)) == "clear"
    with pytest.raises(ValueError, match="blocked_stall_s"):
        RecoveryConfig(blocked_stall_s=-1.0)
