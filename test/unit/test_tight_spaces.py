"""Tight spaces: the exact footprint, its padding, the clearance_speed critic, the map's memory
behind a lidar of less than 360 degrees, and a robot file's own planner tuning."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from world_model_planner.core.robot_config import RobotConfigError, load_robot, parse_robot, planner_params
from world_model_planner.planner_node.critics import CostContext, Critics, CriticsConfig, DistanceField, Footprint
from world_model_planner.planner_node.dynamics import Rollout
from world_model_planner.planner_node.subgoal import SubgoalConfig, SubgoalPlanner

L, W = 0.508, 0.43          # the Jackal


def _field(points) -> DistanceField:
    return DistanceField(np.asarray(points, dtype=float), (0.0, 0.0), size_m=4.0, res_m=0.01)


@pytest.mark.parametrize("point, expected", [((L / 2 + 0.10, 0.0), 0.10),       # ahead of the front edge
                                             ((0.0, W / 2 + 0.10), 0.10),       # beside the body
                                             ((L / 2 + 0.06, W / 2 + 0.08), 0.10)])  # off a corner
def test_exact_footprint_measures_the_rectangle(point, expected):
    field = _field([point])
    pose = torch.zeros(1, 3)
    exact = Footprint(L, W, 5, exact=True).distance(pose, field).item()
    circles = Footprint(L, W, 5).distance(pose, field).item()
    assert exact == pytest.approx(expected, abs=0.025)
    assert circles <= exact + 1e-6                       # the covering circles are never less cautious
    if point[1] == 0.0:
        assert circles < 0.0                             # ... and close a gap ahead that is 10 cm clear
    padded = Footprint(L, W, 5, exact=True, padding_m=0.05).distance(pose, field).item()
    assert padded == pytest.approx(exact - 0.05, abs=1e-5)


@pytest.mark.parametrize("spread", [1.0, 3.0])          # all well inside the grid; some past its edge
def test_footprint_distance_is_the_lookup_at_each_body_point(spread):
    """Footprint.distance (DistanceField.lookup_body, the planner's hot path) gives what
    DistanceField.lookup gives at the body points placed in the odom frame, the grid's outside
    included (far), for every footprint kind."""
    rng = np.random.default_rng(1)
    field = DistanceField(rng.uniform(-2.0, 2.0, (60, 2)), (0.3, -0.2), size_m=4.0, res_m=0.05, far_m=4.0)
    g = torch.Generator().manual_seed(0)
    poses = torch.cat([(torch.rand(64, 7, 2, generator=g) * 2 - 1) * spread + torch.tensor([0.3, -0.2]),
                       torch.rand(64, 7, 1, generator=g) * 7 - 3.5], -1)
    for fp in (Footprint(L, W, 5), Footprint(L, W, 5, exact=True, padding_m=0.05), Footprint(L, W, 1, round_base=True)):
        q = torch.as_tensor(fp.points, dtype=torch.float32)
        c, s = torch.cos(poses[..., 2:3]), torch.sin(poses[..., 2:3])
        at = torch.stack([poses[..., 0:1] + q[:, 0] * c - q[:, 1] * s, poses[..., 1:2] + q[:, 0] * s + q[:, 1] * c], -1)
        expected = (field.lookup(at) - torch.as_tensor(fp.inset, dtype=torch.float32)).amin(-1) - fp.padding
        torch.testing.assert_close(fp.distance(poses, field), expected, atol=1e-5, rtol=0)
        if spread > 2.5:
            assert (field.lookup(at) == field.far).any()         # the case past the edge was exercised


def _rect_distance(poses: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Brute force: signed distance (m) from each pose's L x W rectangle to a point, from the
    rectangle's edge sampled every millimetre (negative inside)."""
    xs, ys = np.linspace(-L / 2, L / 2, 509), np.linspace(-W / 2, W / 2, 431)
    edge = np.concatenate([np.stack([xs, np.full_like(xs, y)], 1) for y in (-W / 2, W / 2)]
                          + [np.stack([np.full_like(ys, x), ys], 1) for x in (-L / 2, L / 2)])   # (E, 2)
    out = np.empty(poses.shape[:-1])
    for i in np.ndindex(*poses.shape[:-1]):
        x, y, yaw = poses[i]
        c, s = math.cos(yaw), math.sin(yaw)
        lx, ly = c * (centre[i[1]][0] - x) + s * (centre[i[1]][1] - y), -s * (centre[i[1]][0] - x) + c * (centre[i[1]][1] - y)
        d = np.hypot(edge[:, 0] - lx, edge[:, 1] - ly).min()
        out[i] = -d if abs(lx) < L / 2 and abs(ly) < W / 2 else d
    return out


def test_moving_obstacle_clearance_against_the_exact_rectangle_and_the_covering_circles():
    """The tracked scene measures a mover (a disc extrapolated at constant velocity) against
    the rectangle itself for an exact footprint, ahead, beside, off a corner and inside the body
    alike; against the covering circles otherwise, which never read more clearance where the body
    is clear."""
    from world_model_planner.planner_node.dynamics import SysIdModel
    from world_model_planner.planner_node.sysid import default_sysid_path

    m = SysIdModel.from_file(default_sysid_path("jackal"), "cpu")
    g = torch.Generator().manual_seed(2)
    poses = torch.cat([torch.rand(24, 6, 2, generator=g) * 3, torch.rand(24, 6, 1, generator=g) * 6 - 3], -1)
    poses[0, :, :2] = torch.tensor([1.45, 1.05])          # the first mover's centre inside the body at step 1
    pos, vel = torch.tensor([[1.5, 1.0], [0.5, 2.5]]), torch.tensor([[-0.5, 0.2], [0.3, -0.6]])
    rad = torch.tensor([0.25, 0.3])
    t = torch.arange(1, 7, dtype=torch.float32) * m.dt_s
    at = (pos[None] + vel[None] * t[:, None, None]).numpy()                            # (H, M, 2)
    brute = np.minimum(_rect_distance(poses.numpy(), at[:, 0]) - 0.25, _rect_distance(poses.numpy(), at[:, 1]) - 0.3)
    exact = Footprint(L, W, 5, exact=True, padding_m=0.05)
    m.set_geometry(exact)
    got = m.clearance(poses, {"field": None, "movers": (pos, vel, rad)})
    np.testing.assert_allclose(got.numpy(), brute - 0.05, atol=2e-3)                    # padded too
    assert (got < -0.05).any() and (got > 0.5).any()
    m.set_geometry(Footprint(L, W, 5))
    circles = m.clearance(poses, {"field": None, "movers": (pos, vel, rad)})
    clear = got + 0.05 > 0                                  # where the body is clear of the discs
    assert (circles[clear] <= got[clear] + 0.05 + 1e-5).all() and (circles < got + 0.05 - 0.05).any()


def test_exact_footprint_reads_an_obstacle_inside_the_body_as_contact():
    inside = Footprint(L, W, 5, exact=True).distance(torch.zeros(1, 3), _field([(0.05, 0.02)])).item()
    assert inside < -0.1
    turned = torch.tensor([[0.0, 0.0, math.pi / 2]])      # the long axis now along y
    assert Footprint(L, W, 5, exact=True).distance(turned, _field([(0.0, L / 2 + 0.1)])).item() == \
        pytest.approx(0.1, abs=0.025)


def _gap_costs(ramp: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(the clearance critic's cost, lethal parts only; the body's closest clearance) of four ways
    through a 0.9 m long gap 6 cm wider than the Jackal, between two rows of points: every pose
    in it is inside the 5 cm padding."""
    cfg = CriticsConfig(critics=["clearance"], clearance_weight=0.0, footprint_length_m=L, footprint_width_m=W,
                        footprint_exact=True, footprint_padding_m=0.05, clearance_padding_ramp=ramp)
    xs = np.arange(-0.3, 0.6001, 0.01)
    field = _field([(x, side * (W / 2 + 0.03)) for x in xs for side in (1, -1)])
    H = 10
    poses = torch.zeros(4, H, 3)
    poses[0, :, 0] = torch.linspace(0.02, 0.2, H)         # centred, slow: 3 cm from each row all along
    poses[1, :, 0] = torch.linspace(0.15, 1.5, H)         # centred, fast: out of the gap after 5 steps
    poses[2, :, 0], poses[2, :, 1] = torch.linspace(0.02, 0.2, H), 0.02   # 1 cm from one row
    poses[3, :, 0], poses[3, :, 1] = torch.linspace(0.02, 0.2, H), 0.04   # the body overlaps a row
    ctx = CostContext(target=torch.tensor([5.0, 0.0]), start=torch.zeros(3), a0=torch.zeros(2), field=field)
    body = Footprint(L, W, 5, exact=True).distance(poses, field).amin(1)            # (4,) the body's closest
    return Critics(cfg).breakdown(torch.zeros(4, H, 2), Rollout(poses), ctx)["clearance"], body


def test_the_padding_is_graded_by_depth_and_does_not_reward_dashing_through_it():
    """In a gap narrower than the body and both paddings, every sequence is inside the padding.
    Graded (the default): the cost grows with the deepest step's depth into it, the same for a
    fast and a slow pass at the same depth, and the body's own contact stays lethal on top. With
    the padding's edge lethal (``clearance_padding_ramp`` false) every sequence is lethal alike
    and the contact-time term favours the one that dashes out soonest."""
    assert CriticsConfig().clearance_padding_ramp is True
    c, body = _gap_costs(ramp=True)
    assert 0.02 <= body[0] <= 0.035 and 0.005 <= body[2] <= 0.015 and body[3] < 0      # the geometry meant
    for k in (0, 2):                                         # 1000 x the deepest step's depth into the 5 cm
        assert c[k].item() == pytest.approx(1000 * (0.05 - body[k].item()) / 0.05, abs=1.0)
    assert 300 < c[0] < c[2] < 1000                          # graded: deeper costs more, neither is lethal
    assert c[1].item() == pytest.approx(c[0].item(), abs=1.0)                       # dashing gains nothing
    assert c[3].item() >= 2000 + 500 * 0.9                   # contact: lethal, the full ramp, contact time
    flat, _ = _gap_costs(ramp=False)
    assert (flat[:3] >= 1000).all() and flat[1] < flat[0] - 100 and flat[2] == pytest.approx(flat[0].item())


def test_clearance_speed_critic_charges_speed_near_obstacles_only():
    cfg = CriticsConfig(critics=["clearance", "clearance_speed"], clearance_weight=0.0, clearance_lethal_cost=0.0,
                        clearance_contact_time_cost=0.0, clearance_speed_enabled=True, clearance_speed_weight=1.0,
                        clearance_speed_min_mps=0.4, clearance_speed_gain_per_s=2.0, footprint_length_m=L,
                        footprint_width_m=W, footprint_exact=True)
    assert CriticsConfig().clearance_speed_enabled is False               # off unless a robot enables it
    field = _field([(0.0, W / 2 + 0.1)])                                   # 0.1 m beside the body
    poses = torch.zeros(3, 4, 3)
    poses[2, :, 1] = -1.5                                                  # 1.6 m away
    actions = torch.zeros(3, 4, 2)
    actions[0, :, 0], actions[1, :, 0], actions[2, :, 0] = 1.5, 0.5, 1.5   # fast near, slow near, fast far
    c = Critics(cfg).breakdown(actions, Rollout(poses), CostContext(target=torch.tensor([5.0, 0.0]),
                                                                      start=torch.zeros(3), a0=torch.zeros(2),
                                                                      field=field))["clearance_speed"]
    allowed = 0.4 + 2.0 * 0.1
    assert c[0].item() == pytest.approx((1.5 - allowed) ** 2, abs=0.02)
    assert c[1].item() == 0.0 and c[2].item() == 0.0


def test_the_map_remembers_obstacles_where_the_lidar_does_not_look():
    sp = SubgoalPlanner(SubgoalConfig(grid_size_m=10.0))
    ang = np.linspace(-math.pi, math.pi, 360, endpoint=False)
    scan = np.where(np.abs(ang) < 0.05, 1.03, np.inf)                      # one post 1.03 m ahead (+x)
    for _ in range(3):
        sp.integrate(np.array([0.0, 0.0, 0.0]), scan)
    lo, hi = -math.radians(135), math.radians(135)
    facing_away = sp.remembered_points(np.array([0.0, 0.0, math.pi]), 3.0, lo, hi)   # the post is behind now
    assert len(facing_away) and np.allclose(facing_away.mean(0), [1.0, 0.0], atol=0.1)
    # the corners of the post's cell: the nearest (1.0 m) is no farther than the return itself
    # (1.03 m), where the cell centre (1.05 m) would be; the field behind the lidar errs towards
    # the robot, not away
    assert np.linalg.norm(facing_away, axis=1).min() <= 1.03
    assert len(sp.remembered_points(np.array([0.0, 0.0, 0.0]), 3.0, lo, hi)) == 0     # in view: the scan has it


def test_a_robot_file_tunes_its_planner_and_the_jackal_does():
    tuned = planner_params(load_robot("jackal"))
    assert tuned["critics.footprint_exact"] is True and tuned["critics.clearance_speed_enabled"] is True
    assert "critics.clearance_speed_enabled" not in planner_params(load_robot("husky"))
    doc = {"name": "r", "limits": {"v_min_mps": -0.5, "v_max_mps": 1.0, "w_max_radps": 1.0, "accel_v_mps2": 1.0,
                                   "accel_w_radps2": 1.0},
           "footprint": {"length_m": 0.5, "width_m": 0.4, "radius_m": 0.33}}
    assert planner_params(parse_robot(dict(doc, planner={"mppi.v_max_mps": 0.7}), "r.yaml"))["mppi.v_max_mps"] == 0.7
    with pytest.raises(RobotConfigError, match=r"r.yaml: 'planner.Bad key': expected a planner parameter name"):
        parse_robot(dict(doc, planner={"Bad key": 1}), "r.yaml")
    assert planner_params(parse_robot(dict(doc, planner={"model_scene": False}), "r.yaml"))["model_scene"] is False
    with pytest.raises(RobotConfigError, match=r"'planner.mppi.v_max_mps': expected a finite number"):
        parse_robot(dict(doc, planner={"mppi.v_max_mps": float("nan")}), "r.yaml")


def test_every_robot_file_names_parameters_the_planner_node_declares():
    """The node refuses an unknown name at start-up; this catches it without starting one (a
    learned-planner setting written as nav.model_scene, the library's section, not the node's
    top-level model_scene)."""
    import dataclasses
    from pathlib import Path

    from world_model_planner.planner_node.config import SECTIONS, PlannerNodeConfig

    declared = {f.name for f in dataclasses.fields(PlannerNodeConfig)}
    declared |= {prefix + f.name for prefix, cls in SECTIONS for f in dataclasses.fields(cls)}
    files = sorted((Path(__file__).parents[2] / "config" / "robots").glob("*.yaml"))
    assert len(files) >= 3
    for f in files:
        names = set(planner_params(load_robot(f.stem)))
        assert names <= declared, (f.name, sorted(names - declared))
    assert load_robot("jackal").planner and ("model_scene", False) in load_robot("jackal").planner


def test_a_tracked_scene_keeps_what_the_map_remembers_behind_the_lidar():
    """classic_id (and a learned model's tracked scene) scores its predicted clearance against its
    own static field: behind a 270-degree lidar that field must hold the obstacles the map
    remembers, or a robot backing up takes the blind sector for free space (seen on BARN world
    231: the Jackal backed at 0.85 m/s into a post it had passed)."""
    from world_model_planner.core.sensor_check import ScanGeometry
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import PlannerConfig, make_navigator

    n = 271
    geom = ScanGeometry(-math.radians(135), math.radians(270) / (n - 1), 0.1, 30.0, n)
    ahead = np.where(np.abs(geom.angles) < 0.02, 1.03, np.inf)            # a post 1.03 m ahead (+x)
    nothing = np.full(n, np.inf)
    nav = make_navigator("classic_id", None, PlannerConfig(mppi=MPPIConfig(samples=32, horizon=8)), "cpu",
                         robot="jackal")
    assert nav.set_goal(0.0, 5.0)[0]
    for k in range(3):
        nav.step(np.zeros(3), np.zeros(2), ahead, 0.1 * k, geom=geom)
    post = torch.tensor([[1.03, 0.0]])
    seen = nav.model.scene_state()["field"].lookup(post).item()
    nav.step(np.array([0.0, 0.0, math.pi]), np.zeros(2), nothing, 0.3, geom=geom)   # turned: the post behind
    behind = nav.model.scene_state()["field"].lookup(post).item()
    assert seen < 0.1 and behind < 0.1, (seen, behind)


def test_clearing_the_map_keeps_what_a_partial_lidar_cannot_see_again():
    """The clear recovery forgets only the part of the map the lidar looks at now. Before, it
    forgot the whole disc: behind the Jackal's 270 degree lidar a post it had passed vanished from
    the map, so from the local field and from classic_id's scene, and the robot then backed into
    it (BARN world 231, seed 1, 512 samples)."""
    from world_model_planner.planner_node.grid import OccupancyGrid

    def grid_with_posts():
        g = OccupancyGrid(size_m=10.0, res_m=0.1)
        ang = np.linspace(-math.pi, math.pi, 360, endpoint=False)
        scan = np.where(np.abs(ang) < 0.02, 1.0, np.inf)                        # a post 1 m ahead
        for yaw in (0.0, math.pi):                                              # one ahead (+x), one behind
            for _ in range(3):
                g.integrate(np.array([0.0, 0.0, yaw]), scan)
        return g

    ahead, behind = (1.05, 0.05), (-0.95, 0.05)                                 # the posts' cells
    cell = lambda g, xy: g.logodds[tuple(g.to_cell(np.array(xy))[::-1])]      # noqa: E731
    g = grid_with_posts()
    assert cell(g, ahead) > 0.5 and cell(g, behind) > 0.5
    g.clear_disc((0.0, 0.0), 3.0, 0.0, (-math.radians(135), math.radians(135)))   # facing +x
    assert cell(g, ahead) == 0.0 and cell(g, behind) > 0.5
    g = grid_with_posts()
    g.clear_disc((0.0, 0.0), 3.0)                                               # a 360 degree lidar
    assert cell(g, ahead) == 0.0 and cell(g, behind) == 0.0


def test_the_clear_recovery_leaves_the_post_behind_in_the_navigators_memory():
    """Through the navigator: the robot, held still, stalls and runs ``clear``; the post it saw
    behind stays among the points its local field takes."""
    from world_model_planner.core.sensor_check import ScanGeometry
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import PlannerConfig, make_navigator

    cfg = PlannerConfig(mppi=MPPIConfig(samples=32, horizon=8))
    cfg.recovery.stall_time_s = 1.0
    nav = make_navigator("classic", None, cfg, "cpu")
    full = ScanGeometry(-math.pi, 2 * math.pi / 360, 0.1, 8.0, 360)
    ang = -math.pi + np.arange(360) * full.angle_increment
    post_ahead = np.where(np.abs(ang) < 0.02, 1.0, np.inf)
    nav.set_goal(5.0, 0.0)
    for k in range(3):                                   # facing -x: the post at (-1, 0) ahead
        nav.step(np.array([0.0, 0.0, math.pi]), np.zeros(2), post_ahead, 0.1 * k, geom=full)
    part = ScanGeometry(-math.radians(135), math.radians(270) / 539, 0.1, 8.0, 540)
    empty = np.full(540, np.inf)
    t = 0.3
    while not nav.recovery.log and t < 5.0:              # facing +x, held still: a stall
        nav.step(np.array([0.0, 0.0, 0.0]), np.zeros(2), empty, t, geom=part)
        t += 0.1
    assert [e.kind for e in nav.recovery.log][:1] == ["clear"]
    rem = nav._remembered(np.array([0.0, 0.0, 0.0]), part)
    assert rem is not None and len(rem) and np.linalg.norm(rem - [-1.0, 0.0], axis=1).min() < 0.1


def test_the_seen_sector_is_the_same_whichever_way_the_lidar_sweeps():
    from world_model_planner.planner_node.grid import in_sector, seen_sector

    inc = math.radians(270) / 539
    ccw = seen_sector(-math.radians(135), inc, 540)
    cw = seen_sector(math.radians(135), -inc, 540)                                   # mounted upside down
    assert ccw == pytest.approx(cw) and ccw[0] < ccw[1]
    assert seen_sector(-math.pi, 2 * math.pi / 360, 360) is None
    bearings = np.radians([0.0, 130.0, 140.0, 180.0, -140.0, -130.0, 360.0 + 10.0])
    assert in_sector(bearings, *ccw).tolist() == [True, True, False, False, False, True, True]
