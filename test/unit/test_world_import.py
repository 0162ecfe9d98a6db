"""sim.world_import and `wmp import-world`: BARN sample worlds, poses, scale, skipped geometry,
refused DTDs and entities, malformed XML with its line, BARN path files, `bench --barn` input."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from world_model_planner.app import cli
from world_model_planner.app.import_world_cli import barn_scenarios, import_world
from world_model_planner.core.safeio import InputError
from world_model_planner.sim import world_import as wi
from world_model_planner.sim.scenario import Box, Cylinder, load_scenario
from world_model_planner.sim.robots import ROBOTS

BARN = Path(__file__).resolve().parents[1] / "data" / "barn"
ROBOT = "jackal" if "jackal" in ROBOTS else "husky"


def _sdf(body: str) -> str:
    return f"<?xml version='1.0'?>\n<sdf version='1.6'>\n<world name='default'>\n{body}\n</world>\n</sdf>\n"


def _write(tmp_path: Path, text: str, name: str = "w.world") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("n, count, reference_m", [(1, 237, 12.43), (151, 302, 10.99), (299, 277, 10.94)])
def test_barn_samples_import(tmp_path, n, count, reference_m):
    out, skipped = import_world(BARN / f"world_{n}.world.gz", tmp_path / "s.yaml", robot=ROBOT, barn=True)
    sc = load_scenario(out)
    assert len(sc.obstacles) == count
    assert all(isinstance(o, Cylinder) and o.radius == pytest.approx(0.075) for o in sc.obstacles)
    assert skipped == ["ground_plane/link/collision: plane (only box, cylinder and sphere are imported)"]
    # BARN convention: start (-2.25, 3) facing +y, goal 10 m ahead, 1 m, 100 s; world = scenario + offset
    off = (sc.start.x + 2.25, sc.start.y - 3.0)
    assert (sc.goal.x - sc.start.x, sc.goal.y - sc.start.y) == pytest.approx((0.0, 10.0))
    assert sc.start.yaw == pytest.approx(math.pi / 2) and sc.goal.tolerance == 1.0 and sc.time_limit_s == 100.0
    assert sc.barn is not None and sc.barn.reference == f"path_{n}.npy"
    assert sc.barn.reference_length_m == pytest.approx(reference_m, abs=0.01)
    # the field's outer walls: cylinders at x = -0.075 and -4.425 from y = 0.075 up (world frame)
    centers = {(round(o.center[0] - off[0], 3), round(o.center[1] - off[1], 3)) for o in sc.obstacles}
    assert (-0.075, 0.075) in centers and (-4.425, 0.075) in centers
    # the arena holds every obstacle with the default 1 m margin
    assert sc.arena == pytest.approx((4.35 + 0.15 + 2.0, 13.0 + 2.0), abs=1e-6)


def test_barn_world_1_known_cylinder(tmp_path):
    world = wi.read_world(BARN / "world_1.world.gz")
    i = world.names.index("unit_cylinder_0/link/collision")
    assert world.obstacles[i] == Cylinder(center=(-0.075, 0.075), radius=0.075)


def test_poses_compose_and_scale_is_honoured(tmp_path):
    body = """
    <model name='post'>
      <static>1</static>
      <pose>1 2 0 0 0 1.5707963267948966</pose>
      <link name='l'><pose>1 0 0 0 0 0</pose>
        <collision name='c'><pose>0 0.5 0.25 0 0 0</pose>
          <geometry><cylinder><radius>0.5</radius><length>0.5</length></cylinder></geometry>
        </collision></link>
    </model>
    <model name='crate'>
      <static>1</static>
      <pose>-3 0 0.5 0 0 0.3</pose>
      <link name='l'><collision name='c'><pose>0 0 0 0 0 0.2</pose>
        <geometry><box><size>1 2 1</size></box></geometry></collision></link>
    </model>
    <model name='ball'><static>1</static><pose>0 -3 0.2 0 0 0</pose>
      <link name='l'><collision name='c'><geometry><sphere><radius>0.2</radius></sphere></geometry></collision></link>
    </model>
    <state world_name='default'>
      <model name='post'><pose>1 2 0 0 0 1.5707963267948966</pose><scale>2 2 1</scale></model>
      <model name='crate'><pose>-3 0 0.5 0 0 0.3</pose><scale>1.5 1 1</scale></model>
    </state>"""
    world = wi.read_world(_write(tmp_path, _sdf(body)))
    post, crate, ball = world.obstacles
    # model yaw 90 deg: link (1, 0) -> (0, 1); collision (0, 0.5) -> (-0.5, 0); radius x2
    assert post.center == pytest.approx((1 - 0.5, 2 + 1)) and post.radius == pytest.approx(1.0)
    assert isinstance(crate, Box) and crate.center == pytest.approx((-3, 0))
    assert crate.size == pytest.approx((1.5, 2.0)) and crate.yaw == pytest.approx(0.5)
    assert isinstance(ball, Cylinder) and ball.radius == pytest.approx(0.2)


def test_unsupported_geometry_is_listed_and_skipped(tmp_path):
    body = """
    <include><uri>model://cafe_table</uri><name>table</name></include>
    <actor name='walker'><skin><filename>walk.dae</filename></skin></actor>
    <model name='statue'><static>1</static><link name='l'><collision name='c'>
      <geometry><mesh><uri>model://statue/meshes/statue.dae</uri></mesh></geometry></collision></link></model>
    <model name='hill'><static>1</static><link name='l'><collision name='c'>
      <geometry><heightmap><uri>file://hill.png</uri></heightmap></geometry></collision></link></model>
    <model name='leaning'><static>1</static><pose>0 0 0.5 0.5 0 0</pose><link name='l'><collision name='c'>
      <geometry><cylinder><radius>0.1</radius><length>1</length></cylinder></geometry></collision></link></model>
    <model name='lamp'><static>1</static><pose>0 0 3 0 0 0</pose><link name='l'><collision name='c'>
      <geometry><sphere><radius>0.1</radius></sphere></geometry></collision></link></model>
    <model name='box'><static>1</static><link name='l'><collision name='c'>
      <geometry><box><size>1 1 1</size></box></geometry></collision></link></model>"""
    world = wi.read_world(_write(tmp_path, _sdf(body)))
    assert len(world.obstacles) == 1 and world.names == ["box/l/c"]
    text = "\n".join(world.skipped)
    for name in ("table", "walker", "statue/l/c: mesh model://statue/meshes/statue.dae",
                 "hill/l/c: heightmap", "leaning/l/c: cylinder tilted", "lamp/l/c: sphere"):
        assert name in text, text


def test_dtd_and_entities_are_refused(tmp_path):
    internal = "<?xml version='1.0'?>\n<!DOCTYPE sdf [<!ENTITY big 'xxxxxxxx'>]>\n<sdf><world>&big;</world></sdf>"
    external = ("<?xml version='1.0'?>\n<!DOCTYPE sdf [<!ENTITY ext SYSTEM 'file:///etc/passwd'>]>\n"
                "<sdf><world>&ext;</world></sdf>")
    doctype = "<?xml version='1.0'?>\n<!DOCTYPE sdf SYSTEM 'http://127.0.0.1:9/sdf.dtd'>\n<sdf><world/></sdf>"
    for i, text in enumerate((internal, external, doctype)):
        p = _write(tmp_path, text, f"bad{i}.world")
        with pytest.raises(wi.WorldImportError, match=r"refused: .*DTDs and entities are not accepted") as exc:
            wi.read_world(p)
        assert str(p) in str(exc.value) and "\n" not in str(exc.value)


def test_malformed_xml_names_file_and_line(tmp_path, capsys):
    text = _sdf("<model name='a'>\n<link name='l'>\n</model>")   # </link> missing: line 6
    p = _write(tmp_path, text)
    with pytest.raises(wi.WorldImportError, match=r"line 6, column \d+: malformed XML"):
        wi.read_world(p)
    rc = cli.main(["import-world", str(p), "--out", str(tmp_path / "s.yaml"), "--start", "0,0", "--goal", "1,0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and str(p) in err[0] and "line 6" in err[0]
    assert not (tmp_path / "s.yaml").exists()


def test_bad_values_name_the_element(tmp_path):
    body = """<model name='m'><static>1</static><link name='l'><collision name='c'>
      <geometry><cylinder><radius>-1</radius><length>1</length></cylinder></geometry></collision></link></model>"""
    with pytest.raises(wi.WorldImportError, match=r"m/l/c <cylinder><radius>: expected a positive number"):
        wi.read_world(_write(tmp_path, _sdf(body)))
    body = "<model name='m'><pose>1 2 nan 0 0 0</pose></model>"
    with pytest.raises(wi.WorldImportError, match=r"model 'm' <pose>: expected 6 finite numbers"):
        wi.read_world(_write(tmp_path, _sdf(body)))


def test_cli_writes_a_scenario_with_given_start_goal_and_arena(tmp_path, capsys):
    body = """<model name='wall'><static>1</static><pose>2 0 0.5 0 0 0</pose><link name='l'><collision name='c'>
      <geometry><box><size>0.2 3 1</size></box></geometry></collision></link></model>
      <model name='statue'><static>1</static><link name='l'><collision name='c'>
      <geometry><mesh><uri>model://statue</uri></mesh></geometry></collision></link></model>"""
    p = _write(tmp_path, _sdf(body), "My World.sdf")
    out = tmp_path / "s.yaml"
    rc = cli.main(["import-world", str(p), "--out", str(out), "--robot", "husky", "--start", "0,0,0",
                   "--goal", "4,0", "--tolerance", "0.4", "--time-limit", "30", "--arena=-2,-5,6,5"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "warning: skipped statue/l/c: mesh" in captured.err
    sc = load_scenario(out)
    assert sc.name == "my_world" and sc.arena == (8.0, 10.0) and sc.time_limit_s == 30.0 and sc.barn is None
    # world (x, y) = scenario + (2, 0): the arena's centre
    assert (sc.start.x, sc.goal.x, sc.goal.tolerance) == (-2.0, 2.0, 0.4)
    assert sc.obstacles == (Box(center=(0.0, 0.0), size=(0.2, 3.0), yaw=0.0),)


def test_barn_path_files(tmp_path):
    pts = wi.load_barn_path(BARN / "path_1.npy")
    assert pts.shape == (37, 2)
    # README: x = 0.15 i - 0.075 - 4.5, y = 0.15 j + 0.075 + 5; path_1 starts at grid (26, 0)
    assert pts[0] == pytest.approx((26 * 0.15 - 4.575, 5.075))
    # hand-computed: (-2.25, 3) -> (-2.325, 5.075) -> (-2.325, 9.425) -> (-2.25, 13)
    p = tmp_path / "path_7.npy"
    np.save(p, np.array([[15, 0], [15, 29]]))
    expected = math.hypot(0.075, 2.075) + 4.35 + math.hypot(0.075, 3.575)
    assert wi.barn_reference_length_m(wi.load_barn_path(p)) == pytest.approx(expected)
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)       # pickles refused
    with pytest.raises(wi.WorldImportError, match="not a .npy array"):
        wi.load_barn_path(p)
    np.save(p, np.zeros((4, 3)))
    with pytest.raises(wi.WorldImportError, match=r"expected an \(N, 2\) array.*got shape \(4, 3\)"):
        wi.load_barn_path(p)
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(wi.WorldImportError, match="junk.npy: not a .npy array"):
        wi.load_barn_path(tmp_path / "junk.npy")


def test_bench_barn_folder(tmp_path):
    files = barn_scenarios(BARN, ROBOT, tmp_path / "scenarios")
    assert [Path(f).name for f in files] == ["barn_world_1.yaml", "barn_world_151.yaml", "barn_world_236.yaml",
                                            "barn_world_245.yaml", "barn_world_299.yaml"]
    assert all(load_scenario(f).barn.reference_length_m > 10.0 for f in files)
    # a folder of scenarios without BARN rules is refused, naming the file
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "x.yaml").write_text((Path(files[0]).read_text()).replace("barn:", "# barn:"))
    with pytest.raises(InputError, match=r"x.yaml has no BARN rules"):
        barn_scenarios(plain, None, tmp_path / "out")
    with pytest.raises(InputError, match="expected a folder of BARN worlds"):
        barn_scenarios(tmp_path / "missing", None, tmp_path / "out")


def test_scenario_barn_field_is_validated(tmp_path):
    from world_model_planner.sim.scenario import ScenarioError, parse_scenario

    out, _ = import_world(BARN / "world_299.world.gz", tmp_path / "s.yaml", robot=ROBOT, barn=True)
    import yaml

    data = yaml.safe_load(out.read_text())
    for barn, field in (({"reference_length_m": -1}, "barn.reference_length_m"),
                        ({"reference_length_m": "far"}, "barn.reference_length_m"),
                        ({"speed": 2}, "barn.speed"), ([1, 2], "barn")):
        with pytest.raises(ScenarioError) as exc:
            parse_scenario(dict(data, barn=barn), source="s.yaml")
        assert exc.value.field == field
    assert parse_scenario(dict(data, barn={}), source="s.yaml").barn.reference_length_m is None
