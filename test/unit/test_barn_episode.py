"""One real episode on an imported BARN world: PyBullet and the classic planner in one process,
under the BARN rules (a collision ends it as a failure), scored by app.episode.finalize."""
from __future__ import annotations

from pathlib import Path

import pytest

from world_model_planner.sim.robots import ROBOTS

BARN = Path(__file__).resolve().parents[1] / "data" / "barn"
ROBOT = "jackal" if "jackal" in ROBOTS else "husky"


@pytest.mark.slow
def test_classic_planner_drives_barn_world_1(tmp_path):
    import torch

    from world_model_planner.app.episode import finalize
    from world_model_planner.app.import_world_cli import import_world
    from world_model_planner.core.robot_config import load_robot, planner_params
    from world_model_planner.core.sensor_check import ScanGeometry
    from world_model_planner.planner_node.mppi import MPPIConfig
    from world_model_planner.planner_node.navigator import PlannerConfig, make_navigator
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.sim.world import SimWorld

    torch.set_num_threads(1)
    out, _ = import_world(BARN / "world_1.world.gz", tmp_path / "w1.yaml", robot=ROBOT, barn=True)
    sc = load_scenario(out)
    cfg = PlannerConfig(mppi=MPPIConfig(samples=256, horizon=20))
    for key, value in planner_params(load_robot(ROBOT)).items():      # the robot's limits
        section, _, name = key.partition(".")
        if name and hasattr(getattr(cfg, section, None), name):
            setattr(getattr(cfg, section), name, value)
    nav = make_navigator("classic", None, cfg, "cpu")
    with SimWorld(sc, seed=0) as w:
        lc = w.lidar_cfg                                             # the robot's own lidar
        geom = ScanGeometry(lc.angle_min, lc.angle_increment, lc.range_min_m, lc.range_max_m, lc.beams)
        nav.set_goal(sc.goal.x, sc.goal.y, tolerance=0.8 * sc.goal.tolerance)
        t, traj = 0.0, [[0.0, *map(float, w.pose())]]
        while t < 40.0 and not w.goal_reached() and w.collision_count == 0:
            cmd = nav.step(w.pose(), w.velocity(), w.scan(), t, geom=geom)
            w.step(cmd.v, cmd.w, 0.1)
            t += 0.1
            traj.append([t, *map(float, w.pose())])
        rec = finalize({"scenario": sc.name, "planner": "classic", "seed": 0, "time_s": t,
                        "collisions": w.collision_count, "trajectory": traj}, sc)
    assert rec["collisions"] == 0 and rec["success"], (t, traj[-1])
    t_opt = sc.barn.reference_length_m / 2.0
    assert rec["barn_score"] == pytest.approx(t_opt / min(max(t, 2 * t_opt), 8 * t_opt), abs=1e-3)
    assert rec["barn_score"] > 0.2
