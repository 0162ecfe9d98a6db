"""`wmp import-world`: a Gazebo world (.world, .sdf, .gz of either) → a scenario YAML.

The reading is sim.world_import's; this module turns flags into its arguments, prints what was
skipped as warnings and writes the scenario atomically after validating it as `wmp run` would.
It also prepares BARN worlds for `wmp bench --barn DIR` (:func:`barn_scenarios`).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

#: Robot for --barn when none is given: the challenge's Jackal where the sim has it.
BARN_ROBOT = "jackal"
#: Most skipped items printed one per line; the rest are counted.
MAX_WARNINGS_SHOWN = 20


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import-world", help="Gazebo .world/.sdf (box, cylinder, sphere models) → scenario YAML",
        description="Read the static box, cylinder and sphere models of a Gazebo world (poses of "
                    "model, link and collision composed, scale honoured) into a scenario. Meshes, "
                    "heightmaps, plugins, actors and includes are listed and skipped. DTDs and "
                    "entities are refused. --barn applies the BARN Challenge's conventions.")
    p.add_argument("world", metavar="FILE.world|FILE.sdf", help="the world file (may be gzipped)")
    p.add_argument("--out", required=True, metavar="SCENARIO.yaml")
    p.add_argument("--name", default=None, help="scenario name (default: from the file name)")
    p.add_argument("--robot", default=None,
                   help=f"robot of the scenario (default: {BARN_ROBOT} with --barn, else husky)")
    p.add_argument("--start", default=None, metavar="X,Y,YAW",
                   help="start pose in the world frame (--start=-2,3,1.57 when X is negative)")
    p.add_argument("--goal", default=None, metavar="X,Y",
                   help="goal in the world frame (--goal=-2,13 when X is negative)")
    p.add_argument("--tolerance", type=float, default=None, metavar="M",
                   help="goal tolerance (default 0.3 m; 1 m with --barn)")
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="simulated seconds (default 60; 100 with --barn)")
    p.add_argument("--arena", default=None, metavar="XMIN,YMIN,XMAX,YMAX",
                   help="arena in the world frame (default: around the obstacles, start and goal); "
                        "write --arena=-5,-5,5,5 when XMIN is negative")
    p.add_argument("--margin", type=float, default=1.0, metavar="M",
                   help="space between the obstacles (and start, goal) and the arena's walls")
    p.add_argument("--barn", action="store_true",
                   help="BARN Challenge rules: start (-2.25, 3) facing +y, goal 10 m ahead, success "
                        "within 1 m, 100 s, a collision ends the episode as a failure, BARN score")
    p.add_argument("--barn-path", default=None, metavar="path_N.npy",
                   help="the BARN reference path (grid points) for the score's reference length "
                        "(default with --barn: path_N.npy beside a world_N.world, if present)")
    p.set_defaults(func=cmd_import_world)


def _numbers(text: str | None, n: tuple[int, ...], flag: str) -> list[float] | None:
    if text is None:
        return None
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) not in n or not all(math.isfinite(v) for v in vals):
        from world_model_planner.core.safeio import InputError, clip

        raise InputError(f"{flag} {clip(text, 60)}: expected {' or '.join(map(str, n))} "
                         "comma-separated finite numbers")
    return vals


def _default_robot(barn: bool) -> str:
    from world_model_planner.sim.robots import ROBOTS

    if barn and BARN_ROBOT in ROBOTS:
        return BARN_ROBOT
    return "husky"


def barn_path_beside(world: Path) -> Path | None:
    """path_N.npy beside world_N.world[.gz], or None."""
    import re

    m = re.match(r"world_(\d+)\.world(\.gz)?$", world.name)
    if not m:
        return None
    p = world.with_name(f"path_{m.group(1)}.npy")
    return p if p.is_file() else None


def import_world(world: str | Path, out: str | Path, *, name: str | None = None,
                 robot: str | None = None, start=None, goal=None, tolerance: float | None = None,
                 time_limit_s: float | None = None, arena=None, margin_m: float = 1.0,
                 barn: bool = False, barn_path: str | Path | None = None,
                 warn=None) -> tuple[Path, list[str]]:
    """Import ``world`` into the scenario file ``out``; return (out, skipped items).

    Raises InputError (WorldImportError, ScenarioError) on bad input; ``warn`` (callable) gets
    one line per skipped item."""
    import yaml

    from world_model_planner.core.safeio import InputError, atomic_write_text
    from world_model_planner.sim import world_import as wi
    from world_model_planner.sim.scenario import load_scenario, parse_scenario

    world = Path(world)
    if margin_m is None or not (math.isfinite(margin_m) and 0.0 <= margin_m <= 50.0):
        raise InputError(f"--margin {margin_m}: expected metres in [0, 50]")
    imported = wi.read_world(world)
    robot = robot or _default_robot(barn)
    barn_rules = None
    if barn:
        start = start or wi.BARN_START
        goal = goal or wi.BARN_GOAL
        tolerance = wi.BARN_TOLERANCE_M if tolerance is None else tolerance
        time_limit_s = wi.BARN_TIME_LIMIT_S if time_limit_s is None else time_limit_s
        path_file = Path(barn_path) if barn_path else barn_path_beside(world)
        barn_rules = {}
        if path_file is not None:
            pts = wi.load_barn_path(path_file)
            barn_rules = {"reference_length_m": round(wi.barn_reference_length_m(pts, start[:2], goal[:2]), 4),
                          "reference": path_file.name}
    elif barn_path:
        raise InputError("--barn-path: only with --barn")
    if start is None or goal is None:
        raise InputError("--start X,Y,YAW and --goal X,Y are required (or --barn for the BARN convention)")
    start = (float(start[0]), float(start[1]), float(start[2]) if len(start) > 2 else 0.0)
    data, _ = wi.scenario_data(
        imported, name=name or wi.scenario_name(world, "barn_" if barn else ""), robot=robot,
        start=start, goal=goal[:2], tolerance=0.3 if tolerance is None else tolerance,
        time_limit_s=60.0 if time_limit_s is None else time_limit_s, arena=arena,
        margin_m=margin_m, barn=barn_rules)
    parse_scenario(data, source=str(out))              # refuse before writing anything
    for item in imported.skipped:
        if warn is not None:
            warn(item)
    header = (f"# Scenario imported from {world.name} by `wmp import-world`"
              + (" (BARN Challenge rules)" if barn else "") + ".\n")
    obstacles = data.pop("obstacles")              # one flow-style line per obstacle
    text = header + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    text += "obstacles:\n" + "".join(
        "- " + yaml.safe_dump(ob, default_flow_style=True, width=1000).strip() + "\n" for ob in obstacles)
    data["obstacles"] = obstacles
    out = atomic_write_text(out, text)
    load_scenario(out)                                 # the file reads back as written
    return Path(out), imported.skipped


def cmd_import_world(args) -> int:
    from world_model_planner.core.cli_checks import out_file_problem
    from world_model_planner.sim.scenario import load_scenario

    why = out_file_problem(args.out, "--out")
    if why:
        print(f"wmp import-world: error: {why}", file=sys.stderr)
        return 2
    arena = _numbers(args.arena, (4,), "--arena")
    shown = []

    def warn(line: str) -> None:
        shown.append(line)
        if len(shown) <= MAX_WARNINGS_SHOWN:
            print(f"wmp import-world: warning: skipped {line}", file=sys.stderr)

    out, skipped = import_world(
        args.world, args.out, name=args.name, robot=args.robot,
        start=_numbers(args.start, (2, 3), "--start"), goal=_numbers(args.goal, (2,), "--goal"),
        tolerance=args.tolerance, time_limit_s=args.time_limit, arena=arena,
        margin_m=args.margin, barn=args.barn, barn_path=args.barn_path, warn=warn)
    if len(skipped) > MAX_WARNINGS_SHOWN:
        print(f"wmp import-world: warning: ... and {len(skipped) - MAX_WARNINGS_SHOWN} more skipped items",
              file=sys.stderr)
    sc = load_scenario(out)
    print(sc.summary())
    if sc.barn is not None:
        print("BARN rules; reference path " + (f"{sc.barn.reference_length_m:.2f} m from {sc.barn.reference}"
              if sc.barn.reference_length_m else "none: the score uses the shortest path on the true map"))
    print(f"wrote {out} ({len(sc.obstacles)} obstacles, {len(skipped)} items skipped)")
    return 0


def barn_scenarios(folder: str | Path, robot: str | None, out_dir: str | Path) -> list[str]:
    """Scenario files for `wmp bench --barn DIR`: every world_N.world[.gz] in ``folder`` imported
    under BARN rules into ``out_dir`` (with path_N.npy beside it as the reference), and every
    scenario .yaml in ``folder`` that carries BARN rules. Sorted by world number."""
    import re

    from world_model_planner.core.safeio import InputError
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.sim.world_import import scenario_name

    folder, out_dir = Path(folder), Path(out_dir)
    if not folder.is_dir():
        raise InputError(f"--barn {folder}: expected a folder of BARN worlds (world_N.world[.gz]) "
                         "or scenarios imported with `wmp import-world --barn`")

    def key(p: Path):
        m = re.search(r"(\d+)", p.name)
        return (int(m.group(1)) if m else -1, p.name)

    worlds = sorted([p for p in folder.iterdir() if re.match(r".+\.(world|sdf)(\.gz)?$", p.name)], key=key)
    yamls = sorted(folder.glob("*.yaml"), key=key)
    out: list[str] = []
    if worlds:
        out_dir.mkdir(parents=True, exist_ok=True)
    for w in worlds:
        target = out_dir / f"{scenario_name(w, 'barn_')}.yaml"    # file stem = scenario name
        import_world(w, target, robot=robot, barn=True)
        out.append(str(target))
    for y in yamls:
        sc = load_scenario(y)
        if sc.barn is None:
            raise InputError(f"--barn {folder}: {y.name} has no BARN rules (import it with "
                             "`wmp import-world --barn`)")
        if robot and sc.robot != robot:
            raise InputError(f"--barn {folder}: {y.name} is for the {sc.robot}, not the {robot} "
                             "(import the world again with --robot)")
        out.append(str(y))
    if not out:
        raise InputError(f"--barn {folder}: no world_N.world[.gz] and no BARN scenario .yaml in it")
    return out
