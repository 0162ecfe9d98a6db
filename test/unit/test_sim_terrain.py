"""Ground physics: terrain regions, ramps, payload and command latency (sim.terrain, sim.robot).

Real PyBullet through SimWorld, no ROS. The parsing tests check that each new scenario field is
refused with the file, the field and what was expected; the physics tests compare the same
command on different ground; the driver test drives the four ground scenarios with a slow
pure-pursuit driver and checks it arrives without touching anything.
"""
import math

import numpy as np
import pybullet as p
import pytest

from world_model_planner.sim.scenario import ScenarioError, load_scenario, parse_scenario
from world_model_planner.sim.terrain import PRESETS, RAMP_MAX_SLOPE_DEG
from world_model_planner.sim.world import PHYSICS_HZ, SimWorld


def scenario(**extra):
    data = dict(name="t", robot="husky", arena=[20.0, 20.0], start={"x": -8.0, "y": 0.0, "yaw": 0.0},
                goal={"x": 8.0, "y": 0.0})
    data.update(extra)
    return parse_scenario(data, source="test.yaml")


def everywhere(preset):
    return [{"preset": preset, "box": {"center": [0.0, 0.0], "size": [20.0, 20.0]}}]


# ----------------------------------------------------------------------------------- parsing

@pytest.mark.parametrize("extra, field, words", [
    ({"terrain": [{"preset": "lava", "box": {"center": [0, 0], "size": [2, 2]}}]}, "terrain[0].preset", "ice"),
    ({"terrain": [{"preset": "ice", "polygon": [[0, 0], [1, 0]]}]}, "terrain[0].polygon", "3 to 64"),
    ({"terrain": [{"preset": "ice", "polygon": [[0, 0], [2, 0], [1, 0.5], [2, 2], [0, 2]]}]},
     "terrain[0].polygon", "convex"),
    ({"terrain": [{"preset": "ice", "polygon": [[0, 0], [2, 2], [2, 0], [0, 2]]}]},   # self-crossing
     "terrain[0].polygon", "convex"),
    ({"terrain": [{"preset": "mud", "box": {"center": [9.5, 0], "size": [2, 2]}}]}, "terrain[0].box", "inside the arena"),
    ({"terrain": [{"preset": "mud", "polygon": [[0, 0], [30, 0], [0, 3]]}]}, "terrain[0].polygon", "inside the arena"),
    ({"terrain": [{"box": {"center": [0, 0], "size": [2, 2]}, "friction_longitudinal": 0.5,
                   "friction_lateral": 0.5}]}, "terrain[0].rolling_resistance", "required"),
    ({"terrain": [{"preset": "ice", "box": {"center": [0, 0], "size": [2, 2]}, "friction_lateral": 3.0}]},
     "terrain[0].friction_lateral", "[0.01, 2]"),
    ({"terrain": [{"preset": "ice"}]}, "terrain[0]", "exactly one of box"),
    ({"terrain": [{"preset": "ice", "box": {"center": [0, 0], "size": [1, 1]}, "colour": "red"}]},
     "terrain[0].colour", "no unknown keys"),
    ({"terrain": "ice"}, "terrain", "a list"),
    ({"terrain": [{"preset": "ice", "box": {"center": [0, 0], "size": [1, 1]}}] * 201}, "terrain", "at most 200"),
    ({"terrain": [{"preset": "ice", "polygon": [[0, 0], [1, "a"], [0, 1]]}]}, "terrain[0].polygon[1][1]",
     "a finite number"),
    ({"terrain": [{"preset": "mud", "box": {"center": [0, 0], "size": [1, 1]}, "sinkage_drag": -1}]},
     "terrain[0].sinkage_drag", "[0, 2]"),
    ({"ramps": [{"center": [0, 0], "length": 0.5, "width": 2, "height": 0.5}]}, "ramps[0].length",
     f"at most {RAMP_MAX_SLOPE_DEG:g} degrees"),
    ({"ramps": [{"center": [0, 0], "length": 3, "width": 2, "height": 2.0}]}, "ramps[0].height", "[0.02, 1]"),
    ({"ramps": [{"center": [8.5, 0], "length": 2, "width": 2, "height": 0.3}]}, "ramps[0]", "inside the arena"),
    ({"ramps": [{"center": [0, 0], "length": 2, "height": 0.3}]}, "ramps[0].width", "required"),
    ({"payload_kg": -5.0}, "payload_kg", "[0, 500]"),
    ({"latency_s": 2.5}, "latency_s", "[0, 1]"),
])
def test_bad_ground_fields_are_refused_with_file_and_field(extra, field, words):
    with pytest.raises(ScenarioError) as err:
        scenario(**extra)
    assert err.value.file == "test.yaml" and err.value.field == field, str(err.value)
    assert words in err.value.expected, str(err.value)


def test_presets_fill_in_and_explicit_keys_override_them():
    sc = scenario(terrain=[{"preset": "mud", "box": {"center": [0, 0], "size": [2, 2], "yaw": 0.3}},
                           {"preset": "ice", "polygon": [[0, 0], [1, 0], [0, 1]], "friction_lateral": 0.02},
                           {"polygon": [[0, 0], [0, 1], [1, 0]], "friction_longitudinal": 0.7,
                            "friction_lateral": 0.6, "rolling_resistance": 0.0}])
    mud, ice, custom = sc.terrain
    assert (mud.friction_longitudinal, mud.friction_lateral, mud.rolling_resistance) == PRESETS["mud"]
    assert len(mud.polygon) == 4
    assert ice.friction_lateral == 0.02 and ice.friction_longitudinal == PRESETS["ice"][0]
    assert custom.ground() == (0.7, 0.6, 0.0) and custom.preset == ""


def test_last_region_wins_and_the_floor_elsewhere():
    sc = scenario(terrain=[{"preset": "mud", "box": {"center": [0, 0], "size": [4, 4]}},
                           {"preset": "ice", "box": {"center": [1, 0], "size": [2, 2]}}])
    with SimWorld(sc) as w:
        assert w.ground_model.ground_at(-1.5, 0.0) == PRESETS["mud"]
        assert w.ground_model.ground_at(1.5, 0.5) == PRESETS["ice"]
        mu = w.spec.wheel_friction
        assert w.ground_model.ground_at(5.0, 5.0) == (mu, mu, 0.0)
        assert w.ground_under_robot() == (mu, mu, 0.0)


# ----------------------------------------------------------------------------------- physics

def circle_radius(points):
    """Least-squares circle through (K, 2) points: its radius (m)."""
    x, y = points[:, 0], points[:, 1]
    a = np.column_stack([2 * x, 2 * y, np.ones_like(x)])
    cx, cy, c = np.linalg.lstsq(a, x * x + y * y, rcond=None)[0]
    return math.sqrt(c + cx * cx + cy * cy)


def turn_radius(terrain, v, w):
    """Radius of the path driven at the command (v, w) once settled (2 s straight, 5 s turning)."""
    with SimWorld(scenario(terrain=terrain, start={"x": 0.0, "y": 0.0, "yaw": 0.0})) as world:
        world.step(v, 0.0, 2.0)
        path = []
        for _ in range(100):
            world.step(v, w, 0.05)
            path.append(world.true_pose()[:2])
        return circle_radius(np.array(path[40:]))


@pytest.mark.parametrize("v, w, factor", [(0.6, 0.3, 1.25), (0.8, 0.4, 1.5), (1.0, 0.5, 1.8)])
def test_ice_widens_the_turn_at_the_same_command(v, w, factor):
    floor, ice = turn_radius(None, v, w), turn_radius(everywhere("ice"), v, w)
    assert floor == pytest.approx(v / w, rel=0.3), floor      # the tyres hold: close to v / w
    assert ice > factor * floor, (floor, ice)                  # on ice the base slides wide


def top_speed(terrain, payload=0.0):
    with SimWorld(scenario(terrain=terrain, payload_kg=payload)) as w:
        w.step(1.0, 0.0, 5.0)
        return float(w.velocity()[0])


def test_mud_lowers_the_top_speed_and_grass_does_not():
    floor, mud, grass = top_speed(None), top_speed(everywhere("mud")), top_speed(everywhere("grass"))
    assert floor > 0.95, floor
    assert mud < 0.6 * floor, (floor, mud)
    assert grass > 0.9 * floor, (floor, grass)


def stopping_distance(payload, terrain=None):
    """Drive at 1 m/s, command 0: metres travelled until the base is still."""
    with SimWorld(scenario(payload_kg=payload, terrain=terrain)) as w:
        w.step(1.0, 0.0, 5.0)
        assert w.velocity()[0] > 0.85
        x0 = w.true_pose()[0]
        w.step(0.0, 0.0, 4.0)
        assert abs(w.velocity()[0]) < 0.02
        return float(w.true_pose()[0] - x0)


def test_payload_lengthens_the_stop_on_a_slippery_floor():
    empty, loaded = stopping_distance(0.0, everywhere("ice")), stopping_distance(80.0, everywhere("ice"))
    assert loaded > 1.15 * empty, (empty, loaded)
    # on the dry floor the controller's deceleration limit (1.5 m/s^2) sets it: v^2 / 2a
    dry = stopping_distance(0.0)
    assert dry == pytest.approx(1.0 / (2 * 1.5), abs=0.03), dry


def test_set_payload_changes_the_mass_mid_episode_and_refuses_negative():
    with SimWorld(scenario()) as w:
        m0 = w.robot.total_mass_kg()
        w.set_payload(100.0)
        assert w.payload_kg == 100.0 and w.robot.total_mass_kg() == pytest.approx(m0 + 100.0)
        chassis = p.getDynamicsInfo(w.robot.body, w.robot.chassis, physicsClientId=w.client)[0]
        assert chassis == pytest.approx(w.robot._chassis_mass + 100.0)
        with pytest.raises(ValueError, match="payload"):
            w.set_payload(-1.0)
        w.reset()
        assert w.payload_kg == 0.0


def first_motion_s(latency_s):
    """Simulated time from the first command until the base has moved 1 mm."""
    with SimWorld(scenario(latency_s=latency_s)) as w:
        x0 = w.true_pose()[0]
        while w.true_pose()[0] < x0 + 0.001:
            w.step(1.0, 0.0, 1.0 / PHYSICS_HZ)
            assert w.sim_time_s < 3.0
        return w.sim_time_s


@pytest.mark.parametrize("latency_s", [0.1, 0.25])
def test_latency_delays_the_first_motion_by_that_much(latency_s):
    base, delayed = first_motion_s(0.0), first_motion_s(latency_s)
    assert delayed - base == pytest.approx(latency_s, abs=1.5 / PHYSICS_HZ), (base, delayed)


def test_ramp_raises_the_base_and_the_drive_still_works():
    sc = scenario(start={"x": -6.0, "y": 0.0, "yaw": 0.0},
                  ramps=[{"center": [-3.0, 0.0], "length": 1.2, "width": 2.0, "height": 0.25, "top_length": 1.5}])
    with SimWorld(sc) as w:
        ahead = w.scan()[len(w.scan()) // 2]        # beam 0 rad: the ramp 1 m ahead, the far wall 16 m
        assert np.isinf(ahead), ahead               # the lidar does not see the ramp
        z0 = p.getBasePositionAndOrientation(w.robot.body, physicsClientId=w.client)[0][2]
        zs = []
        for _ in range(200):
            w.step(0.6, 0.0, 0.05)
            zs.append(p.getBasePositionAndOrientation(w.robot.body, physicsClientId=w.client)[0][2])
        assert max(zs) - z0 == pytest.approx(0.25, abs=0.04)        # up onto the top
        assert abs(zs[-1] - z0) < 0.02                              # and down again
        assert w.true_pose()[0] > -0.8 and w.collision_count == 0   # it got over, touching nothing


def test_the_camera_sees_terrain_regions():
    from world_model_planner.sim.world import CameraConfig

    ice = [{"preset": "ice", "box": {"center": [-6.0, 0.0], "size": [3.0, 3.0]}}]
    images = []
    for terrain in (None, ice):
        with SimWorld(scenario(terrain=terrain), camera=CameraConfig()) as w:
            images.append(w.image().astype(float))
    lower = slice(40, 64)                          # the floor ahead of the robot
    bluer = images[1][lower, :, 2] - images[1][lower, :, 0] - (images[0][lower, :, 2] - images[0][lower, :, 0])
    assert (bluer > 20).mean() > 0.2, (bluer > 20).mean()


def test_ramp_start_spawns_on_the_platform():
    w = SimWorld(load_scenario("ramp_door"))
    try:
        w.step(0.0, 0.0, 0.5)
        z = p.getBasePositionAndOrientation(w.robot.body, physicsClientId=w.client)[0][2]
        assert z > 0.15, z
    finally:
        w.close()


# ----------------------------------------------------------------------------------- scenarios

#: Careful waypoint routes: (x, y, speed m/s) per leg.
ROUTES = {
    "ice_bend": [(1.5, -2.5, 0.6), (4.9, -2.5, 0.25), (5.0, 2.5, 0.3)],
    "mud_field": [(5.0, 0.0, 0.6)],
    "ramp_door": [(4.5, 0.0, 0.4)],
    "heavy_stop": [(-0.5, 0.0, 0.8), (2.5, 0.0, 0.3)],
}


def drive(w, route, dt=0.05):
    """Slow pure pursuit along the route; turns on the spot when the heading is far off.
    Returns the simulated time at which the goal was reached (None if never)."""
    i = 0
    while w.sim_time_s < w.scenario.time_limit_s:
        if w.goal_reached():
            t = w.sim_time_s
            w.step(0.0, 0.0, 2.0)
            return t
        x, y, yaw = w.true_pose()
        tx, ty, speed = route[i]
        if i < len(route) - 1 and math.hypot(tx - x, ty - y) < 0.35:
            i += 1
            continue
        err = math.atan2(math.sin(math.atan2(ty - y, tx - x) - yaw), math.cos(math.atan2(ty - y, tx - x) - yaw))
        wcmd = max(-0.8, min(0.8, 1.5 * err))
        v = 0.0 if abs(err) > 0.5 else speed * math.cos(err)
        w.step(v, wcmd, dt)
    return None


@pytest.mark.slow   # 3-6 s each on 2 cores
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_careful_driver_reaches_each_ground_scenario_without_contact(name):
    with SimWorld(load_scenario(name)) as w:
        t = drive(w, ROUTES[name])
        assert t is not None, f"{name}: goal not reached, ended at {w.true_pose()}"
        assert w.collision_count == 0, f"{name}: {w.collision_count} collisions"
        assert t < 0.8 * w.scenario.time_limit_s, (name, t)


def brake_where_the_empty_robot_would(payload_kg):
    """heavy_stop at 1 m/s, braking 1^2 / (2 * 1.5) m before the goal (the empty robot's dry-floor
    stop): -> (collisions, gap from the robot's front to the wall face, m)."""
    import dataclasses

    sc = dataclasses.replace(load_scenario("heavy_stop"), payload_kg=payload_kg)
    with SimWorld(sc) as w:
        while w.true_pose()[0] < sc.goal.x - 1.0 / 3.0:
            w.step(1.0, 0.0, 0.05)
        w.step(0.0, 0.0, 4.0)
        wall_face = 3.5 - 0.15
        return w.collision_count, wall_face - (w.true_pose()[0] + w.spec.length_m / 2)


def test_heavy_stop_needs_the_loaded_robots_braking():
    hits_empty, gap_empty = brake_where_the_empty_robot_would(0.0)
    hits_loaded, gap_loaded = brake_where_the_empty_robot_would(120.0)
    assert hits_empty == 0 and gap_empty > 0.05, gap_empty
    assert hits_loaded >= 1 or gap_loaded < 0.02, gap_loaded


@pytest.mark.slow
def test_ice_bend_at_full_speed_slides_into_the_wall():
    with SimWorld(load_scenario("ice_bend")) as w:
        drive(w, [(5.0, -2.5, 1.0), (5.0, 2.5, 1.0)])
        assert w.collision_count >= 1
