"""YAML alias bombs made here, parsed by the real loaders in a subprocess under a 512 MiB
address-space cap: the scenario loader (`wmp check-scenario`) and the robot-file loader refuse
them with one short line, fast. Before: a 298-byte bomb gave a 351 MB error message after
19 s and 1.7 GB (scenario), a 351 MB message after 16 s (robot file)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from world_model_planner.testing.bombs import alias_bomb

MEM_CAP = 512 << 20


_VICTIM = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
    kind, path = sys.argv[1], sys.argv[2]
    try:
        if kind == "scenario":
            from world_model_planner.sim.scenario import load_scenario
            load_scenario(path)
        else:
            from world_model_planner.core.robot_config import load_robot
            load_robot(path)
    except ValueError as exc:   # ScenarioError / RobotConfigError (both InputError)
        print(f"[error] {{exc}}", file=sys.stderr)
        sys.exit(2)
    sys.exit(0)
""").format(cap=MEM_CAP)


def _run(kind: str, path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _VICTIM, kind, str(path)], capture_output=True,
                          text=True, timeout=60)


def test_scenario_alias_bomb_is_refused_in_one_short_line(tmp_path):
    bomb = alias_bomb()
    assert len(bomb) < 320
    for field in ("name", "arena", "description", "obstacles"):
        path = tmp_path / f"bomb_{field}.yaml"
        doc = {"name": "t", "robot": "husky", "arena": "[10.0, 10.0]", "start": "{x: 0.0, y: 0.0}",
               "goal": "{x: 3.0, y: 0.0}"}
        doc[field] = bomb
        path.write_text("".join(f"{k}: {v}\n" for k, v in doc.items()))
        out = _run("scenario", path)
        assert out.returncode == 2, (field, out.returncode, out.stderr[-1500:])
        err = out.stderr.strip()
        assert "\n" not in err and len(err) < 400, (field, len(err), err[:500])
        assert str(path) in err and "(file)" in err and "YAML nodes" in err, err
        assert "Traceback" not in out.stderr


def test_scenario_bomb_via_the_cli_exits_nonzero_with_one_line(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(f"name: {alias_bomb()}\nrobot: husky\narena: [10, 10]\n"
                    "start: {x: 0, y: 0}\ngoal: {x: 3, y: 0}\n")
    from pathlib import Path

    wmp = Path(sys.executable).parent / "wmp"
    out = subprocess.run(["bash", "-c", f"ulimit -v {MEM_CAP // 1024}; exec {wmp} check-scenario {path}"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and out.stdout == "", out
    assert len(out.stderr) < 400 and out.stderr.count("\n") == 1, out.stderr[:500]


def test_robot_file_alias_bomb_is_refused_in_one_short_line(tmp_path):
    path = tmp_path / "robot.yaml"
    path.write_text(f"name: {alias_bomb()}\nlimits: {{}}\nfootprint: {{}}\n")
    out = _run("robot", path)
    assert out.returncode == 2, out.stderr[-1500:]
    err = out.stderr.strip()
    assert "\n" not in err and len(err) < 300 and "YAML nodes" in err, err[:500]
