"""sim/appearance.py: the floor's tiles and the walls' panels, in real PyBullet renders."""
import numpy as np
import pybullet as p

from world_model_planner.sim import appearance
from world_model_planner.sim.scenario import load_scenario
from world_model_planner.sim.world import CameraConfig, LidarConfig, SimWorld


def test_patterns_are_fixed_and_varied():
    a, b = appearance.floor_image(), appearance.floor_image()
    assert a.dtype == np.uint8 and a.shape[0] == a.shape[1] == int(appearance.PERIOD_M * appearance.PX_PER_M)
    assert np.array_equal(a, b)                                         # one world, not a draw
    px = int(appearance.TILE_M * appearance.PX_PER_M)
    tiles = a[px // 2::px, px // 2::px].reshape(-1, 3)                 # each tile's centre
    assert len(np.unique(tiles, axis=0)) > 100                         # tints times shades
    w = appearance.wall_image()
    assert w.shape[0] == appearance.WALL_BANDS * 16 and w.shape[1] == a.shape[1]
    bands = w.reshape(appearance.WALL_BANDS, 16, -1, 3)
    for i in range(appearance.WALL_BANDS):                              # no two walls alike
        for j in range(i):
            assert np.abs(bands[i, 8].astype(int) - bands[j, 8]).mean() > 5.0
    assert (bands[:, -1] < 90).all()                                    # the skirting board at the foot


def test_a_place_looks_like_itself_and_not_like_its_neighbours():
    """The same pose renders the same in another scenario and seed (patterns in world coordinates);
    0.5 m to the side, facing the same plain arena wall, it does not."""
    sc_open, sc_wall = load_scenario("open"), load_scenario("wall")
    pose = np.array([3.5, -1.0, 0.0])          # facing the east wall of both arenas, nothing between
    with SimWorld(sc_open, seed=0, camera=CameraConfig()) as w:
        here = w.camera.image(pose).astype(int)
        beside = w.camera.image(pose + [0.0, 0.5, 0.0]).astype(int)
        back = w.camera.image(pose + [-0.5, 0.0, 0.0]).astype(int)
    assert sc_open.arena == sc_wall.arena
    with SimWorld(sc_wall, seed=4, camera=CameraConfig()) as w:
        again = w.camera.image(pose).astype(int)
    assert np.abs(here - beside).mean() > 3.0 and np.abs(here - back).mean() > 3.0
    assert np.abs(here - again).mean() < 0.5                           # the box of `wall` is out of view


def test_the_look_is_built_only_where_something_looks(monkeypatch):
    """A lidar-only world draws nothing and writes no texture; a camera given later gets the look."""
    asked = []
    real = appearance._texture_path
    monkeypatch.setattr(appearance, "_texture_path", lambda name: asked.append(name) or real(name))
    with SimWorld(load_scenario("open"), seed=0, lidar=LidarConfig(beams=90)) as w:
        assert w.floor_visual is None and w.wall_visual is None and asked == []
        n = p.getNumBodies(physicsClientId=w.client)
        w.set_sensors(LidarConfig(beams=90), CameraConfig())
        assert w.floor_visual is not None and p.getNumBodies(physicsClientId=w.client) == n + 2
        assert asked == ["floor", "wall"]
        w.set_sensors(LidarConfig(beams=90), CameraConfig())                  # once only
        assert p.getNumBodies(physicsClientId=w.client) == n + 2
        floor = w.image()[-8:].reshape(-1, 3)                                  # the bottom rows: floor
        assert len(np.unique(floor, axis=0)) > 3                               # tiles, not one colour


def test_the_look_is_visual_only():
    """No collision shape: the lidar's rays and the robot's contacts do not see the tiles or panels."""
    with SimWorld(load_scenario("open"), seed=0, lidar=LidarConfig(beams=90), camera=CameraConfig()) as w:
        for body in (w.floor_visual, w.wall_visual):
            assert p.getCollisionShapeData(body, -1, physicsClientId=w.client) == ()
        before = w.scan()
        p.removeBody(w.floor_visual, physicsClientId=w.client)
        p.removeBody(w.wall_visual, physicsClientId=w.client)
        assert np.array_equal(before, w.scan())


def test_textures_go_to_the_cache_or_a_private_folder(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(appearance, "_paths", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = appearance._texture_path("floor")
    assert path.startswith(str(tmp_path / "cache" / "world_model_planner" / "textures"))
    assert np.array_equal(np.asarray(Image.open(path)), appearance.floor_image())
    assert [f.name for f in (tmp_path / "cache" / "world_model_planner" / "textures").iterdir()] == \
        [path.rsplit("/", 1)[1]]                                            # no temporary file left
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")                                                 # the cache cannot be made
    monkeypatch.setattr(appearance, "_paths", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    path = appearance._texture_path("wall")
    assert "wmp_textures_" in path and np.array_equal(np.asarray(Image.open(path)), appearance.wall_image())


def test_a_large_arena_keeps_its_floor_to_a_few_thousand_cells():
    assert appearance.cell_size(12.0) == appearance.CELL_M
    for side in (12.0, 50.0, 202.0, 4000.0):
        step = appearance.cell_size(side)
        assert appearance.PERIOD_M % step == 0                          # cells never straddle a period
        assert side / step <= appearance.MAX_CELLS or step == appearance.PERIOD_M
    cells = list(appearance._cells(-101.0, 101.0, appearance.cell_size(202.0)))
    assert len(cells) <= appearance.MAX_CELLS + 2
    assert all(k * appearance.PERIOD_M <= a < b <= (k + 1) * appearance.PERIOD_M for a, b, k in cells)
    assert cells[0][0] == -101.0 and cells[-1][1] == 101.0
    assert all(c[1] == d[0] for c, d in zip(cells, cells[1:]))          # contiguous


def test_the_look_leaves_the_physics_as_it_was():
    """The same commands in the same seeded world, with the look (a camera) and without: the same
    poses and contacts to the last bit (the visual bodies come after every physical one)."""
    runs = []
    for camera in (None, CameraConfig()):
        with SimWorld(load_scenario("u_trap"), seed=3, perturb=True, camera=camera) as w:
            rng = np.random.default_rng(0)
            for _ in range(60):
                w.step(rng.uniform(-0.3, 1.0), rng.uniform(-1.0, 1.0), 0.1)
            runs.append((w.true_pose().tolist(), w.collision_count, w.scan().tolist()))
    assert runs[0] == runs[1]
