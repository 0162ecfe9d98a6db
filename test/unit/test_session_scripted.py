"""The scripted operator: routes on the known map, and it reaches goals in a kinematic sim."""
import math

import numpy as np
import pytest

from world_model_planner.teleop.scripted import ScriptedConfig, ScriptedDriver, plan_route


def _drive(scenario, driver, dt=0.05, limit_s=60.0):
    x, y, th = scenario.start.x, scenario.start.y, scenario.start.yaw
    t, traj, cmds = 0.0, [], []
    while t < limit_s:
        driver.observe(t, (x, y, th))
        cmd = driver.command(t) or (0.0, 0.0)
        cmds.append(cmd)
        v, w = cmd
        x, y, th, t = x + v * dt * math.cos(th), y + v * dt * math.sin(th), th + w * dt, t + dt
        traj.append((t, x, y))
        if driver.done:
            break
    return np.array(traj), np.array(cmds)


@pytest.mark.parametrize("name", ["open", "u_trap", "two_rooms"])
def test_reaches_goal_around_obstacles(name):
    from world_model_planner.sim.scenario import load_scenario

    sc = load_scenario(name)
    route = plan_route(sc)
    assert np.allclose(route[0], (sc.start.x, sc.start.y)) and np.allclose(route[-1], (sc.goal.x, sc.goal.y))
    traj, cmds = _drive(sc, ScriptedDriver(route, (sc.goal.x, sc.goal.y), ScriptedConfig(seed=1)))
    assert math.hypot(traj[-1, 1] - sc.goal.x, traj[-1, 2] - sc.goal.y) <= sc.goal.tolerance
    assert all(sc.point_free(px, py) for _, px, py in traj[::5])
    assert cmds[:, 0].max() <= 0.6 + 4 * 0.05 and np.abs(cmds[:, 1]).max() <= 1.0


def test_noise_is_seeded_and_reaction_is_delayed():
    from world_model_planner.sim.scenario import load_scenario

    sc = load_scenario("open")
    route = plan_route(sc)
    a = _drive(sc, ScriptedDriver(route, (3.5, 0.0), ScriptedConfig(seed=3)))[1]
    b = _drive(sc, ScriptedDriver(route, (3.5, 0.0), ScriptedConfig(seed=3)))[1]
    c = _drive(sc, ScriptedDriver(route, (3.5, 0.0), ScriptedConfig(seed=4)))[1]
    assert np.array_equal(a, b) and not np.array_equal(a[: len(c)], c[: len(a)])
    d = ScriptedDriver(np.array([[0, 0], [5, 0]]), (5, 0), ScriptedConfig(reaction_s=0.3, noise_w_radps=0.0,
                                                                          noise_v_mps=0.0))
    d.observe(0.0, (0, 0, 0.0))
    d.observe(0.1, (0, 0, 1.0))             # turned left 1 rad: not noticed for 0.3 s
    assert d.command(0.1)[1] == pytest.approx(0.0)
    d.observe(0.35, (0, 0, 1.0))
    assert d.command(0.35)[1] == pytest.approx(0.0)  # still acting on the pose seen at t = 0
    d.observe(0.45, (0, 0, 1.0))
    assert d.command(0.45)[1] < -0.5         # 0.3 s after the turn it steers back


def test_takeover_windows_for_shared_mode():
    d = ScriptedDriver(np.array([[0, 0], [5, 0]]), (5, 0), takeover_windows=[(2.0, 1.5)])
    d.observe(10.0, (0, 0, 0))
    assert d.command(10.0) is None
    d.observe(12.5, (0, 0, 0))
    assert d.command(12.5) is not None and d.active(13.4) and not d.active(13.6)
