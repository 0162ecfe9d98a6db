"""The episode record ends at the first odometry sample that meets the end condition, whichever
later sample the polling monitor happened to see (a loaded machine polls late)."""
from __future__ import annotations

from world_model_planner.app.episode import EpisodeLoop


def _loop(time_limit_s=3.0, goal=(3.5, 0.0), tol=0.3):
    loop = object.__new__(EpisodeLoop)        # the end rule needs no ROS graph
    loop.time_limit_s, loop.goal, loop.tol = time_limit_s, goal, tol
    return loop


TRAJ = [(round(0.05 * i, 3), 0.1 * i, 0.0, 0.0) for i in range(80)]   # 20 Hz, 2 m/s along x


def test_time_limit_ends_at_the_first_sample_past_the_limit_however_late_the_poll():
    loop = _loop()
    for seen in (3.0, 3.05, 3.2):
        assert loop._first_deciding(TRAJ, "time_limit", seen) == 3.0
    # float rounding of stamps: 2.9999999 counts as the limit
    assert _loop()._first_deciding([(0.0, 0, 0, 0), (2.9999999, 0, 0, 0), (3.05, 0, 0, 0)],
                                   "time_limit", 3.05) == 2.9999999


def test_reached_ends_at_the_first_sample_within_tolerance():
    loop = _loop()
    # x = 0.1 * i reaches 3.2 (3.5 - 0.3) at i = 32, t = 1.6
    assert loop._first_deciding(TRAJ, "reached", 2.0) == 1.6
    assert loop._first_deciding(TRAJ, "reached", 1.6) == 1.6


def test_other_reasons_and_missing_hits_keep_the_polled_sample():
    loop = _loop(time_limit_s=30.0)
    assert loop._first_deciding(TRAJ, "collision", 2.5) == 2.5
    assert loop._first_deciding(TRAJ, "time_limit", 2.5) == 2.5    # never reached: no later cut
    assert _loop(goal=(100.0, 0.0))._first_deciding(TRAJ, "reached", 1.0) == 1.0


def test_a_timed_out_episode_lasts_the_limit_even_when_the_sample_at_the_limit_was_dropped():
    loop = _loop()
    dropped = [p for p in TRAJ if p[0] != 3.0]                 # best-effort /odom lost t = 3.0
    t_end = loop._first_deciding(dropped, "time_limit", 3.1)
    assert t_end == 3.05
    kept = [p for p in dropped if p[0] <= t_end]
    assert loop._duration(kept, "time_limit") == 3.0
    assert loop._duration([p for p in TRAJ if p[0] <= 1.6], "reached") == 1.6
    # a record that stops short of the limit (the sim went quiet) keeps its last sample's time
    assert loop._duration([p for p in TRAJ if p[0] <= 2.0], "time_limit") == 2.0
