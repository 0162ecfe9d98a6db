"""Moving obstacles (world_model_planner.sim.movers) in real PyBullet: every scenario field refused
with file and field, movers on the lidar, never through walls or obstacles, speed limits, start
delays, yielding, contacts counted, determinism, and a careful driver through the three mover
scenarios (crossing, walkers, cart_door)."""
from __future__ import annotations

import copy
import math

import numpy as np
import pybullet as p
import pytest
import yaml

from world_model_planner.core.mathutil import wrap_angle
from world_model_planner.sim import geometry
from world_model_planner.sim.movers import MAX_MOVERS, YIELD_MARGIN_M, MoverSpec
from world_model_planner.sim.scenario import Box, ScenarioError, load_scenario, parse_scenario
from world_model_planner.sim.world import PHYSICS_HZ, SimWorld

PERSON = {"kind": "person", "speed": 1.0, "path": "back_and_forth", "waypoints": [[0.0, -2.0], [0.0, 2.0]]}
BASE = {"name": "t_movers", "robot": "husky", "arena": [10.0, 6.0],
        "obstacles": [{"box": {"center": [2.0, 1.5], "size": [1.0, 1.0]}},
                      {"cylinder": {"center": [-1.5, 2.0], "radius": 0.4}}],
        "start": {"x": -3.5, "y": 0.0, "yaw": 0.0}, "goal": {"x": 4.0, "y": 0.0}}


def scenario(*movers, **changes):
    d = copy.deepcopy(BASE)
    d.update(changes)
    d["movers"] = list(movers)
    return parse_scenario(d, source="movers_case.yaml")


def person(**changes):
    return {**copy.deepcopy(PERSON), **changes}


#: Around the box on three sides; closed into a loop, the last segment goes through it.
U_AROUND_BOX = [[1.0, 2.5], [1.0, 0.0], [3.0, 0.0], [3.0, 1.2]]


def walker(**changes):
    d = {"kind": "person", "speed": 1.0, "path": "random_walk", "area": {"center": [0.0, 0.0], "size": [4.0, 4.0]}}
    return {**d, **changes}


# ------------------------------------------------------------------------------- parsing

BAD = [
    ({"movers": "people"}, "movers", "a list of movers"),
    ({"movers": [person()] * (MAX_MOVERS + 1)}, "movers", f"at most {MAX_MOVERS}"),
    ({"movers": [7]}, "movers[0]", "a mapping"),
    ({"movers": [{k: v for k, v in PERSON.items() if k != "kind"}]}, "movers[0].kind", "required"),
    ({"movers": [person(colour="red")]}, "movers[0].colour", "no unknown keys"),
    ({"movers": [person(kind="robot")]}, "movers[0].kind", "person, cart"),
    ({"movers": [person(path="zigzag")]}, "movers[0].path", "loop, back_and_forth, random_walk"),
    ({"movers": [person(radius=0.05)]}, "movers[0].radius", "[0.1, 0.6]"),
    ({"movers": [person(radius=0.7)]}, "movers[0].radius", "[0.1, 0.6]"),
    ({"movers": [person(kind="cart", radius=0.3)]}, "movers[0].radius", "only a person"),
    ({"movers": [person(size=[0.5, 0.5])]}, "movers[0].size", "only a cart"),
    ({"movers": [person(kind="cart", size=[0.1, 0.5])]}, "movers[0].size[0]", "[0.2, 2]"),
    ({"movers": [person(kind="cart", size=[0.5, 2.5])]}, "movers[0].size[1]", "[0.2, 2]"),
    ({"movers": [person(kind="cart", size=0.5)]}, "movers[0].size", "two numbers"),
    ({"movers": [person(speed=0)]}, "movers[0].speed", "> 0"),
    ({"movers": [person(speed=3.5)]}, "movers[0].speed", "[0, 3]"),
    ({"movers": [person(speed="fast")]}, "movers[0].speed", "finite number"),
    ({"movers": [person(speed=float("nan"))]}, "movers[0].speed", "finite number"),
    ({"movers": [person(start_delay_s=-1)]}, "movers[0].start_delay_s", "[0, 600]"),
    ({"movers": [person(start_delay_s=601)]}, "movers[0].start_delay_s", "[0, 600]"),
    ({"movers": [{k: v for k, v in PERSON.items() if k != "waypoints"}]}, "movers[0].waypoints", "required"),
    ({"movers": [person(waypoints=[[0.0, 0.0]])]}, "movers[0].waypoints", "2..64 points"),
    ({"movers": [person(waypoints=[[0.0, 0.1 * k] for k in range(65)])]}, "movers[0].waypoints", "2..64"),
    ({"movers": [person(waypoints=[[0.0, 0.0], [6.0, 0.0]])]}, "movers[0].waypoints[1][0]", "inside the arena"),
    ({"movers": [person(waypoints=[[0.0, 0.0], [0.0, 2.9]])]}, "movers[0].waypoints[1][1]", "inside the arena"),
    ({"movers": [person(waypoints=[[1.0, 1.0], [1.0, 1.0]])]}, "movers[0].waypoints", "two different points"),
    ({"movers": [person(waypoints=[[2.0, -2.0], [2.0, 2.5]])]}, "movers[0].waypoints[0]", "clear of obstacles[0]"),
    # swept by the radius: the segment itself passes 0.3 m beside the box's edge
    ({"movers": [person(radius=0.35, waypoints=[[2.8, -2.0], [2.8, 2.5]])]}, "movers[0].waypoints[0]",
     "clear of obstacles[0]"),
    # a loop closes its last waypoint back to its first one, through the box
    ({"movers": [person(path="loop", waypoints=U_AROUND_BOX)]},
     "movers[0].waypoints[3]", "waypoints[3] to waypoints[0]"),
    ({"movers": [walker(area=None)]}, "movers[0].area", "a mapping"),
    ({"movers": [{k: v for k, v in walker().items() if k != "area"}]}, "movers[0].area", "required"),
    ({"movers": [walker(waypoints=[[0, 0], [1, 1]])]}, "movers[0].waypoints", "no 'waypoints' for path random_walk"),
    ({"movers": [person(area={"center": [0, 0], "size": [1, 1]})]}, "movers[0].area", "takes 'waypoints'"),
    ({"movers": [walker(area={"center": [4.0, 0.0], "size": [3.0, 2.0]})]}, "movers[0].area", "inside the arena"),
    ({"movers": [walker(area={"center": [0.0, 0.0], "size": [0.0, 2.0]})]}, "movers[0].area.size[0]", "[0.1, 10]"),
    ({"movers": [walker(area={"center": [2.0, 1.5], "size": [2.0, 2.0]})]}, "movers[0].area.center", "clear of walls"),
    ({"movers": [walker(area={"center": [0, 0]})]}, "movers[0].area.size", "required"),
]


@pytest.mark.parametrize("changes,field,expected", BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_bad_movers_are_refused_with_file_field_and_expectation(changes, field, expected):
    d = copy.deepcopy(BASE)
    d.update(changes)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(d, source="movers_case.yaml")
    assert err.value.file == "movers_case.yaml"
    assert err.value.field == field
    assert expected in err.value.expected
    assert "\n" not in str(err.value)


def test_a_file_with_a_path_through_a_wall_is_refused_naming_the_file(tmp_path):
    d = copy.deepcopy(BASE)
    d["obstacles"].append({"box": {"center": [-1.0, -1.0], "size": [0.2, 4.0]}})   # a wall, y -3 .. 1
    d["movers"] = [person(kind="cart", size=[0.8, 0.5], path="back_and_forth",
                          waypoints=[[-3.0, -2.0], [-2.0, -2.0], [0.5, -2.0]])]  # 2nd leg through the wall
    path = tmp_path / "bad_movers.yaml"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(path))
    assert str(err.value).startswith(f"{path}: field 'movers[0].waypoints[1]': ")
    assert "clear of obstacles[2]" in str(err.value)
    d["movers"][0]["waypoints"][2] = [-3.0, 0.5]                                      # around it: fine
    path.write_text(yaml.safe_dump(d))
    assert load_scenario(str(path)).movers[0].waypoints[2] == (-3.0, 0.5)


def test_good_movers_parse_with_defaults():
    sc = scenario(person(), walker(kind="cart", size=[0.8, 0.5], speed=0.5, start_delay_s=3))
    a, b = sc.movers
    assert a == MoverSpec("person", 1.0, "back_and_forth", waypoints=((0.0, -2.0), (0.0, 2.0)))
    assert b.area == ((0.0, 0.0), (4.0, 4.0)) and b.start_delay_s == 3.0
    assert b.extent_m == pytest.approx(0.5 * math.hypot(0.8, 0.5))
    assert scenario(person(waypoints=U_AROUND_BOX)).movers[0].waypoints[-1] == (3.0, 1.2)   # not closed
    for n in ("crossing", "walkers", "cart_door"):
        assert load_scenario(n).movers


# ------------------------------------------------------------------------------- motion

def run(world: SimWorld, seconds: float, every_s: float = 0.1, v: float = 0.0, w: float = 0.0):
    """Step the world; (samples, M, 4) mover states every ``every_s``."""
    out = []
    for _ in range(int(round(seconds / every_s))):
        world.step(v, w, every_s)
        out.append(world.movers.states())
    return np.array(out)


def disc_clearance(sc, x: float, y: float, r: float) -> float:
    """Independent check: distance from a disc to the scenario's walls and obstacles."""
    best = min(sc.arena[0] / 2 - abs(x), sc.arena[1] / 2 - abs(y)) - r
    for ob in sc.obstacles:
        if isinstance(ob, Box):
            d = geometry.polygon_circle_distance(ob.polygon(), np.array([x, y]), r)
        else:
            d = math.hypot(x - ob.center[0], y - ob.center[1]) - ob.radius - r
        best = min(best, d)
    return best


def test_a_person_appears_on_the_scan_and_the_reading_follows_it():
    sc = scenario(person(waypoints=[[0.0, 0.0], [3.0, 0.0]], speed=0.8), arena=[10.0, 10.0], obstacles=[],
                  start={"x": -2.0, "y": 0.0, "yaw": 0.0})
    with SimWorld(sc) as w:
        ahead = int(np.argmin(np.abs(w.lidar_cfg.angles())))     # the beam along the heading
        w.step(0.0, 0.0, 0.05)
        x0 = w.movers.states()[0, 0]
        r0 = w.scan()[ahead]
        assert r0 == pytest.approx(x0 - w.true_pose()[0] - 0.25, abs=0.02)
        w.step(0.0, 0.0, 1.0)
        x1 = w.movers.states()[0, 0]
        assert x1 - x0 == pytest.approx(0.8, abs=0.01)
        assert w.scan()[ahead] == pytest.approx(r0 + 0.8, abs=0.02)
        # the nearest thing to the robot is the person (walls are >= 2.5 m away)
        assert w.clearance_m() == pytest.approx(x1 - w.true_pose()[0] - 0.25 - 0.495, abs=0.08)


def test_random_walkers_stay_in_free_space_and_their_area_for_60_s():
    area = {"center": [0.0, 0.5], "size": [9.0, 4.6]}       # reaches the top wall, the box and the pillar
    sc = scenario(walker(area=area, speed=1.5), walker(area=area, speed=3.0, radius=0.5),
                  walker(kind="cart", size=[1.2, 0.6], area=area, speed=0.8),
                  start={"x": -4.2, "y": -2.3, "yaw": 0.0})
    with SimWorld(sc, seed=3) as w:
        states = run(w, 60.0, every_s=0.1)
        # PyBullet's own answer: no mover body ever touches a wall or an obstacle body
        for body in w.movers.bodies:
            for ob in w.obstacle_bodies:
                assert not p.getClosestPoints(body, ob, 0.0, physicsClientId=w.client)
        assert w.collision_count == 0
    ext = [m.extent_m for m in sc.movers]
    for k, m in enumerate(sc.movers):
        xy = states[:, k, :2]
        assert np.all(np.abs(xy - [0.0, 0.5]) <= [4.5 + 1e-9, 2.3 + 1e-9])
        worst = min(disc_clearance(sc, x, y, ext[k]) for x, y in xy)
        assert worst >= 0.0, f"mover {k} came {worst:.3f} m into a wall or obstacle"
        step = np.hypot(*np.diff(xy, axis=0).T)
        assert step.max() <= m.speed * 0.1 + 1e-9           # never faster than its speed
        assert step.sum() > 0.5 * m.speed * 60.0            # and it does walk (turns, not stuck)
        assert np.ptp(xy[:, 0]) > 2.0 and np.ptp(xy[:, 1]) > 1.0


def test_path_speed_limit_and_start_delay():
    sc = scenario(person(path="loop", speed=1.2, waypoints=[[-1.0, -2.0], [1.0, -2.0], [1.0, 0.5], [-0.5, 0.5]],
                         start_delay_s=2.0))
    with SimWorld(sc) as w:
        states = run(w, 8.0, every_s=1.0 / PHYSICS_HZ)
    t = np.arange(1, len(states) + 1) / PHYSICS_HZ
    xy = states[:, 0, :2]
    waiting = t < 2.0 - 1e-9
    assert np.all(xy[waiting] == [-1.0, -2.0]) and np.all(states[waiting, 0, 2:] == 0.0)
    assert not np.allclose(xy[t > 2.1], [-1.0, -2.0])
    speeds = np.hypot(*np.diff(xy, axis=0).T) * PHYSICS_HZ
    assert speeds.max() <= 1.2 + 1e-6
    assert np.hypot(*states[:, 0, 2:].T).max() <= 1.2 + 1e-6
    assert np.median(speeds[t[1:] > 2.1]) == pytest.approx(1.2, abs=1e-6)   # full speed between corners
    moved = np.hypot(*np.diff(xy[t > 2.0 - 1e-9], axis=0).T).sum()
    assert moved == pytest.approx(1.2 * 6.0, abs=0.05)                     # 6 s of walking


def test_a_cart_faces_its_direction_of_travel_and_is_seen_above_the_scan_plane():
    sc = scenario(person(kind="cart", size=[1.0, 0.5], path="loop", speed=0.9,
                         waypoints=[[-1.0, -2.0], [1.0, -2.0], [1.0, 0.5], [-0.5, 0.5]]))
    with SimWorld(sc) as w:
        body = w.movers.bodies[0]
        lo, hi = p.getAABB(body, physicsClientId=w.client)
        assert lo[2] <= w.lidar_cfg.height_m <= hi[2] and hi[2] >= 0.9
        headings = []
        for _ in range(40):
            w.step(0.0, 0.0, 0.25)
            x, y, vx, vy = w.movers.states()[0]
            _, q = p.getBasePositionAndOrientation(body, physicsClientId=w.client)
            yaw = p.getEulerFromQuaternion(q)[2]
            if min(math.hypot(x - a, y - b) for a, b in sc.movers[0].waypoints) > 0.9 / PHYSICS_HZ:  # not at a corner
                assert abs(wrap_angle(yaw - math.atan2(vy, vx))) < 1e-6
            headings.append(round(yaw, 3))
        assert len(set(headings)) >= 4                   # it went round all four sides


def test_a_person_walking_into_the_standing_robot_waits_then_turns_back():
    # back and forth through the robot's position: it stops beside the robot, never touches it
    sc = scenario(person(speed=1.0, waypoints=[[-3.5, -2.5], [-3.5, 2.5]]), start={"x": -3.5, "y": 0.0, "yaw": 0.0})
    with SimWorld(sc) as w:
        states = run(w, 8.0, every_s=0.05)
        assert w.collision_count == 0
        assert w.clearance_m() > 0.0
    y = states[:, 0, 1]
    robot_edge = -0.335
    closest = y.max()
    assert robot_edge - 0.25 - YIELD_MARGIN_M - 0.02 <= closest <= robot_edge - 0.25
    first = int(np.argmax(y >= closest - 1e-9))
    assert y[first:first + 80].min() < closest - 1.0      # gave way within 4 s: walked back down


def test_driving_into_a_mover_counts_a_collision():
    person_ahead = person(speed=0.5, waypoints=[[3.0, 0.0], [0.5, 0.0]])   # walks towards the robot's route
    with SimWorld(scenario(person_ahead)) as w:
        for _ in range(100):                              # 5 s straight at 0.8 m/s: into the person
            w.step(0.8, 0.0, 0.05)
        assert w.collision_count >= 1
        assert w.clearance_m() < 0.01
    with SimWorld(scenario()) as w:                       # the same drive without it: no contact
        for _ in range(100):
            w.step(0.8, 0.0, 0.05)
        assert w.collision_count == 0


def test_same_seed_same_motion_other_seed_other_walk():
    sc = scenario(walker(), walker(kind="cart", speed=0.7), person())
    with SimWorld(sc, seed=5) as a:
        sa = run(a, 10.0)
        a.reset(5)
        again = run(a, 10.0)
    with SimWorld(sc, seed=5) as b:
        sb = run(b, 10.0)
    with SimWorld(sc, seed=6) as c:
        sc6 = run(c, 10.0)
    assert np.array_equal(sa, sb) and np.array_equal(sa, again)
    assert not np.allclose(sa[:, :2], sc6[:, :2])          # the walkers differ
    assert np.array_equal(sa[:, 2], sc6[:, 2])            # the path mover does not depend on it


# ------------------------------------------------------------------------------- a careful driver

ROUTES = {"crossing": [(5.8, 0.0)],
          "walkers": [(5.0, 0.0)],
          "cart_door": [(-1.2, 0.0), (1.2, 0.0), (4.5, 0.0)]}


def careful_drive(w: SimWorld, route, v_max: float = 0.5, stop_ahead_m: float = 0.5, dt: float = 0.1,
                  blind: bool = False):
    """Pure pursuit along ``route`` at v_max; stops (and waits) while the scan shows anything in
    the footprint's lane within ``stop_ahead_m`` of its front. ``blind``: never stops, and
    gives up at the first contact. Returns (minimum clearance m, control ticks spent waiting)."""
    half_l, half_w = w.spec.length_m / 2, w.spec.width_m / 2
    angles = w.lidar_cfg.angles()
    k, min_clear, waits = 0, math.inf, 0
    while w.sim_time_s < w.scenario.time_limit_s and not w.goal_reached():
        if blind and w.collision_count:
            break
        x, y, yaw = w.pose()
        tx, ty = route[k]
        if k < len(route) - 1 and math.hypot(tx - x, ty - y) < 0.4:
            k += 1
            tx, ty = route[k]
        err = wrap_angle(math.atan2(ty - y, tx - x) - yaw)
        omega = max(-1.0, min(1.0, 2.0 * err))
        v = v_max * max(0.0, math.cos(err)) ** 4 if abs(err) < 0.8 else 0.0
        r = w.scan()
        r = np.where(np.isfinite(r), r, 1e3)
        px, py = r * np.cos(angles), r * np.sin(angles)
        lane = (px > half_l) & (px < half_l + stop_ahead_m) & (np.abs(py) < half_w + 0.1)
        if lane.any() and not blind:
            v, omega, waits = 0.0, 0.0, waits + 1
        w.step(v, omega, dt)
        min_clear = min(min_clear, w.clearance_m(max_m=1.0))
    return min_clear, waits


@pytest.mark.parametrize("name", list(ROUTES))
def test_a_careful_driver_reaches_the_goal_without_contact(name):
    sc = load_scenario(name)
    with SimWorld(sc, seed=0) as w:
        min_clear, waits = careful_drive(w, ROUTES[name])
        assert w.goal_reached(), f"{name}: stopped at {w.true_pose().round(2)} after {w.sim_time_s:.1f} s"
        assert w.collision_count == 0
        assert min_clear > 0.0
        assert w.sim_time_s < sc.time_limit_s
        assert waits > 0                       # someone did step into its lane


@pytest.mark.parametrize("name", ["crossing", "cart_door"])
def test_the_movers_cut_the_route_a_driver_that_ignores_them_hits_one(name):
    with SimWorld(load_scenario(name), seed=0) as w:
        careful_drive(w, ROUTES[name], blind=True)
        assert w.collision_count >= 1
        touching = {cp[2] for cp in p.getContactPoints(bodyA=w.robot.body, physicsClientId=w.client)
                    if cp[8] <= 0.001}
        assert touching & set(w.movers.bodies)            # the contact is with a mover
        assert not touching & set(w.obstacle_bodies)      # and not with a wall
