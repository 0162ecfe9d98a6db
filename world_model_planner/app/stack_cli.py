"""`wmp run`, `wmp bench`, `wmp demo`: episodes over the real stack (node processes).

Each episode starts sim_node (lockstep), world_model_node, planner_node, the command mux and
the lifecycle manager as processes (world_model_planner.app.stack describes them) in a private
ROS domain, sends the scenario's goal and records the episode (world_model_planner.app.episode).
"""
from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path

from world_model_planner.core.paths import file_stem

MAKE_MODEL_HINT = "scripts/train_default_model.sh"  # the world-model area's one command for it
# kept in step with app.stack.PLANNERS and sim.scenario.SUITES (test_bench_options checks; importing
# them here would load the sim and the stack for `wmp --help`)
PLANNERS = ("hierarchical", "flat", "classic", "classic_id")
SUITES = ("builtin", "dynamics", "all")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="one episode: sim (lockstep) + world model + planner as ROS node processes",
        description="Run one episode over the real stack and print (or write) the episode JSON. "
                    "Exits 0 whether or not the goal was reached; non-zero only on errors.")
    p.add_argument("--scenario", default="open", help="built-in name or scenario YAML file")
    _robot_flag(p)
    p.add_argument("--planner", default="hierarchical", choices=list(PLANNERS),
                   help="hierarchical, flat (both through the world model), classic (unicycle kinematics) "
                        "or classic_id (identified lag + delay model, tracked moving obstacles)")
    p.add_argument("--sysid", default=None, metavar="FILE.json",
                   help="classic_id's velocity model (default: the shipped models/ROBOT_sysid.json, the Husky's "
                        "for a robot without one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--perturb", action="store_true",
                   help="seed-dependent start-pose perturbation and sensor noise (as wmp bench)")
    p.add_argument("--model", default=None, help="world-model checkpoint (default: shipped model)")
    p.add_argument("--json", default=None, metavar="OUT", help="write the episode JSON here")
    p.add_argument("--gui", action="store_true", help="show the PyBullet window")
    p.add_argument("--time-limit", type=float, default=None,
                   help="simulated seconds (default: the scenario's time_limit)")
    p.add_argument("--log-dir", default=None, help="node logs (default: a temporary directory)")
    p.add_argument("--goal-frame", default="odom", choices=["odom", "map"],
                   help="frame of the goal sent; map: the sim offsets map from the scenario (map_offset "
                        "2, -1, 0.5) and publishes a localization pose, which the planner pairs with /odom")
    p.add_argument("--prior-map", action="store_true",
                   help="the planner seeds its grid from the sim's /map (the scans keep updating it)")
    p.add_argument("--waypoints", default=None, metavar="FILE.yaml",
                   help="visit these waypoints in order instead of the scenario's goal (frame per pose: "
                        "odom = scenario coordinates, map = the map's); events in the episode JSON")
    p.add_argument("--goal-image", default=None, metavar="PICTURE.png",
                   help="send this picture on /goal_image instead of the goal pose (`wmp snapshot` takes one); "
                        "needs a camera world model (--model models/husky_camera.pt). Success is still the "
                        "scenario's goal: put it where the picture was taken")
    p.set_defaults(func=cmd_run)

    b = subparsers.add_parser(
        "bench", help="grid of scenarios x planners x seeds; JSON, Markdown table, PNGs",
        description="Run every (scenario, planner, seed) episode. Seeds perturb the start pose "
                    "and add sensor noise. Writes DIR/results.json, DIR/report.md and "
                    "DIR/<scenario>.png.")
    b.add_argument("--scenarios", nargs="+", default=["builtin"],
                   help=f"suites ({', '.join(SUITES)}), scenario names or YAML files, space- or comma-separated; "
                        "builtin = the static scenarios, dynamics = terrain, ramps, payload, latency and "
                        "moving people, all = both")
    _robot_flag(b)
    b.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per scenario and planner")
    b.add_argument("--planners", default="hierarchical,flat,classic",
                   help=f"comma-separated list of {', '.join(PLANNERS)}")
    b.add_argument("--model", default=None)
    b.add_argument("--sysid", default=None, metavar="FILE.json",
                   help="classic_id's velocity model (default: the shipped models/ROBOT_sysid.json, the Husky's "
                        "for a robot without one)")
    b.add_argument("--out", default=None, metavar="DIR", help="output directory (required unless --resume)")
    b.add_argument("--jobs", type=int, default=1, help="episodes in parallel (own ROS domain each)")
    b.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run every episode as a Ray task: on the cluster at ADDRESS (HOST:PORT or auto), "
                        "or on a local Ray instance when no ADDRESS is given (needs the cluster extra: "
                        "pip install -e \".[cluster]\")")
    b.add_argument("--cpus-per-episode", type=float, default=1.5, metavar="N",
                   help="CPUs each Ray task declares (default 1.5: what one stack needs)")
    b.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the sweep in DIR: keep its finished episodes (DIR/episodes/*.json), "
                        "run only the others")
    b.add_argument("--time-limit", type=float, default=None)
    b.add_argument("--barn", default=None, metavar="DIR",
                   help="BARN Challenge worlds instead of --scenarios: every world_N.world[.gz] in DIR "
                        "(imported under BARN rules into OUT/scenarios, path_N.npy beside it as the "
                        "reference) and every scenario .yaml made by `wmp import-world --barn`")
    b.set_defaults(func=cmd_bench)

    d = subparsers.add_parser(
        "demo", help="the main demo: the full stack on every built-in scenario, with a report",
        description="Full stack, headless, shipped model, every built-in scenario in turn; "
                    "writes a Markdown report with trajectory PNGs. Exits 0 only if every goal "
                    "was reached.")
    d.add_argument("--gui", action="store_true", help="show the PyBullet window")
    d.add_argument("--out", default="runs/demo", metavar="DIR")
    d.add_argument("--planner", default="hierarchical", choices=list(PLANNERS))
    d.add_argument("--scenarios", nargs="+", default=["builtin"])
    _robot_flag(d)
    d.add_argument("--model", default=None)
    d.add_argument("--jobs", type=int, default=None,
                   help="episodes in parallel, each in its own ROS domain (default: one per 4 "
                        "CPU cores, so 1 on 2 cores)")
    d.set_defaults(func=cmd_demo)


# -- shared ------------------------------------------------------------------------------

def _err(msg: str) -> None:
    print(f"wmp: error: {msg}", file=sys.stderr)


def _robot_flag(parser) -> None:
    parser.add_argument("--robot", default=None, metavar="NAME",
                        help="robot in place of each scenario's robot: husky, jackal or turtlebot4 "
                             "(its config/robots/NAME.yaml sets the planner's limits and footprint)")


def _robot_problem(robot: str | None) -> str | None:
    """Why ``--robot`` cannot be simulated (one line), or None (also when not given)."""
    if robot is None:
        return None
    from world_model_planner.core.robot_config import available_robots
    from world_model_planner.sim.robots import ROBOTS

    known = sorted(set(ROBOTS) & set(available_robots()))
    if robot not in known:
        return f"--robot {clip_arg(robot)}: expected one of {', '.join(known)} (a simulated robot with a robot file)"
    return None


def clip_arg(text: str, limit: int = 60) -> str:
    text = repr(str(text))
    return text if len(text) <= limit else text[:limit] + "..."


def _model_robot_problem(model: str, planners, scenarios, robot: str | None) -> str | None:
    """Why the learned planners in ``planners`` cannot drive the robots of ``scenarios``
    (``robot`` in place of theirs) with ``model``, or None."""
    learned = [p for p in planners if p in ("hierarchical", "flat")]
    if not learned:
        return None
    from world_model_planner.sim.scenario import load_scenario
    from world_model_planner.world_model_node.checkpoint import CheckpointError, robot_mismatch

    robots = sorted({robot} if robot else {load_scenario(s).robot for s in scenarios})
    for r in robots:
        try:
            why = robot_mismatch(model, r)
        except CheckpointError as exc:
            return str(exc)
        if why:
            return f"--planner {learned[0]}: {why}"
    return None


def _check_model(model: str | None, robot: str | None = None) -> str | None:
    """The model path, or None after printing why it is unusable."""
    from world_model_planner.app.stack import resolve_model

    path = Path(resolve_model(model, robot))
    if not path.is_file():
        if model:
            _err(f"model file not found: {path}")
        else:
            _err(f"the shipped world model {path} is missing; make it with `{MAKE_MODEL_HINT}` "
                 f"(or pass --model FILE)")
        return None
    return str(path)


def _sysid_problem(path: str | None, planners, robot: str | None = None) -> str | None:
    """Why classic_id's velocity model (``path`` or the one shipped for ``robot``) cannot be
    used, when a planner in ``planners`` needs it; None when it can (or none needs it)."""
    if "classic_id" not in planners and not path:
        return None
    from world_model_planner.planner_node import sysid

    target = path or str(sysid.default_sysid_path(robot))
    try:
        sysid.load(target)
    except sysid.InputError as exc:
        hint = "" if path else " (make it with `wmp sysid --data DIR --out FILE.json` and pass --sysid FILE.json)"
        return f"--sysid: {exc}{hint}"
    return None


def _gui_ok(requested: bool) -> bool:
    """--gui where a display exists; otherwise say so and run headless."""
    if requested and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("wmp: --gui: no display (DISPLAY is not set); running headless", file=sys.stderr)
        return False
    return requested


def _scenario_list(items: list[str], robot: str | None = None) -> list[str] | None:
    """Suites expanded (sim.scenario.suite), names and files as given, each checked by loading it
    (with ``robot`` in place of its own, when given)."""
    from world_model_planner.sim.scenario import SUITES as SCENARIO_SUITES
    from world_model_planner.sim.scenario import ScenarioError, load_scenario, suite

    out: list[str] = []
    for item in (part.strip() for it in items for part in it.split(",")):
        if item in SCENARIO_SUITES:
            names = suite(item)
            if not names:
                _err(f"--scenarios {item}: no scenario of this suite is present in config/scenarios")
                return None
            out += [n for n in names if n not in out]
        elif item and item not in out:
            out.append(item)
    if not out:
        _err("--scenarios: expected at least one suite, scenario name or YAML file")
        return None
    try:
        for s in out:
            load_scenario(s, robot=robot)
    except (ScenarioError, FileNotFoundError, ValueError) as exc:
        _err(str(exc))
        return None
    return out


def _command_line() -> str:
    return "wmp " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _summary(e: dict) -> str:
    if e.get("error"):
        return f"ERROR: {e['error'].splitlines()[0]}"
    hz = e.get("plan_hz_median")
    why = {"time_limit": "time limit", "wall_time_limit": "wall-clock limit: the planner "
           "could not keep up with the lockstep sim", "refused": "the planner refused the goal",
           "collision": "collision: under BARN rules the episode ends"}
    return (f"{'reached' if e['success'] else 'NOT reached (' + why.get(e['end_reason'], e['end_reason']) + ')'} "
            f"in {e['time_s']:.1f} s sim / {e['wall_s']:.0f} s wall, path {e['path_length_m']:.1f} m "
            f"(SPL {e['spl']:.2f}"
            + ("" if e.get("barn_score") is None else f", BARN score {e['barn_score']:.3f}")
            + f"), {e['collisions']} collisions, "
            f"plan {'–' if hz is None else f'{hz:.0f}'} Hz")


def _episode(scenario: str, planner: str, seed: int, model: str, perturb: bool,
             gui: bool = False, time_limit: float | None = None, log_dir: str | None = None,
             on_progress=None, sysid: str | None = None, robot: str | None = None,
             frames: dict | None = None) -> dict:
    """One episode; a stack failure becomes an episode record with ``error``."""
    from world_model_planner.app.episode import EpisodeConfig, run_episode
    from world_model_planner.app.launcher import StackError

    cfg = EpisodeConfig(scenario=scenario, robot=robot, planner=planner, seed=seed, model=model, sysid=sysid,
                        perturb=perturb, gui=gui, time_limit_s=time_limit, log_dir=log_dir, **(frames or {}))
    try:
        return run_episode(cfg, on_progress)
    except StackError as exc:
        return {"scenario": Path(scenario).stem, "planner": planner, "seed": seed,
                "success": False, "error": str(exc)}


class ProgressLine:
    """A single live status line (rewritten in place on a terminal)."""

    def __init__(self, prefix: str, stream=sys.stderr):
        self.prefix, self.stream, self.tty = prefix, stream, stream.isatty()
        self._last = 0.0

    def __call__(self, p: dict) -> None:
        line = (f"{self.prefix} t={p['t_s']:5.1f}/{p['time_limit_s']:.0f} s  "
                f"goal {p['distance_m']:5.2f} m  {p['state'] or 'starting'}")
        if self.tty:
            self.stream.write("\r\033[K" + line)
            self.stream.flush()
        elif time.monotonic() - self._last > 5.0:
            self._last = time.monotonic()
            print(line, file=self.stream, flush=True)

    def done(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        print(f"{self.prefix} {text}", file=self.stream, flush=True)


# -- commands ----------------------------------------------------------------------------

def _path_problems(args, outs_dir=(), outs_file=()) -> str | None:
    """The first problem with the output paths of ``args`` (attribute, flag), or None."""
    from world_model_planner.core.cli_checks import out_dir_problem, out_file_problem

    for attr, flag in outs_dir:
        if getattr(args, attr, None):
            why = out_dir_problem(getattr(args, attr), flag)
            if why:
                return why
    for attr, flag in outs_file:
        if getattr(args, attr, None):
            why = out_file_problem(getattr(args, attr), flag)
            if why:
                return why
    if getattr(args, "time_limit", None) is not None and not 0 < args.time_limit <= 86400:
        return f"--time-limit {args.time_limit}: expected simulated seconds in (0, 86400]"
    return None


def cmd_run(args) -> int:
    from world_model_planner.sim.scenario import ScenarioError, load_scenario

    why = _path_problems(args, [("log_dir", "--log-dir")], [("json", "--json")])
    if why:
        _err(why)
        return 2
    why = _robot_problem(args.robot)
    if why:
        _err(why)
        return 2
    try:
        load_scenario(args.scenario, robot=args.robot)
    except (ScenarioError, FileNotFoundError, ValueError) as exc:
        _err(str(exc))
        return 2
    from world_model_planner.core.pictures import load_picture
    from world_model_planner.core.safeio import InputError
    from world_model_planner.planner_node.waypoints import load_waypoints

    for flag, path, load in (("--waypoints", args.waypoints, load_waypoints),
                             ("--goal-image", args.goal_image, load_picture)):
        try:
            if path:
                load(path)                  # refused here, before any process starts
        except InputError as exc:
            _err(f"{flag}: {exc}")
            return 2
    if args.goal_image and args.waypoints:
        _err("--goal-image and --waypoints: give one kind of goal")
        return 2
    model = _check_model(args.model, args.robot)
    why = _sysid_problem(args.sysid, [args.planner], args.robot) or \
        (model and _model_robot_problem(model, [args.planner], [args.scenario], args.robot))
    if why:
        _err(why)
    if model is None or why:
        return 2
    progress = ProgressLine(f"[{Path(args.scenario).stem} {args.planner} seed {args.seed}]")
    rec = _episode(args.scenario, args.planner, args.seed, model, args.perturb, _gui_ok(args.gui),
                   args.time_limit, args.log_dir, progress, sysid=args.sysid, robot=args.robot,
                   frames={"goal_frame": args.goal_frame, "prior_map": args.prior_map,
                           "waypoints": args.waypoints, "goal_image": args.goal_image})
    progress.done(_summary(rec))
    if args.json:
        from world_model_planner.app.episode import write_episode_json

        write_episode_json(args.json, rec)          # atomic; metric failures are null + reason
    else:
        print(json.dumps({k: v for k, v in rec.items() if k != "trajectory"}, indent=1))
    if rec.get("error"):
        _err(rec["error"])
        return 1
    return 0


def cmd_bench(args) -> int:
    from world_model_planner.app.report import markdown_table, write_results
    from world_model_planner.app.sweep import run_grid
    from world_model_planner.core.cluster import ClusterError

    if args.resume and args.out and Path(args.out) != Path(args.resume):
        _err(f"--out {args.out} and --resume {args.resume}: give one output directory")
        return 2
    args.out = args.out or args.resume
    if not args.out:
        _err("--out DIR (or --resume DIR) is required")
        return 2
    if args.ray is not None and not 0 < args.cpus_per_episode <= 1024:
        _err(f"--cpus-per-episode {args.cpus_per_episode}: expected CPUs in (0, 1024]")
        return 2
    if args.ray is not None:
        from world_model_planner.core.cluster import import_ray
        try:
            import_ray()          # before any work: the install command, not a traceback
        except ClusterError as exc:
            _err(str(exc))
            return 2
    why = _path_problems(args, [("out", "--out")])
    if why:
        _err(why)
        return 2
    if args.barn:     # BARN worlds: imported (or read) here; bad input raises an InputError
        from world_model_planner.app.import_world_cli import barn_scenarios

        args.scenarios = barn_scenarios(args.barn, getattr(args, "robot", None),
                                        Path(args.out) / "scenarios")
    why = _robot_problem(args.robot)
    if why:
        _err(why)
        return 2
    scenarios = _scenario_list(args.scenarios, args.robot)
    planners = [p.strip() for p in args.planners.split(",") if p.strip()]
    bad = [p for p in planners if p not in PLANNERS]
    if scenarios is None or bad or not planners or args.seeds < 1 or args.jobs < 1:
        if bad or not planners:
            _err(f"--planners: expected a comma-separated list of {', '.join(PLANNERS)}, got {args.planners!r}")
        if args.seeds < 1 or args.jobs < 1:
            _err("--seeds and --jobs must be at least 1")
        return 2
    model = _check_model(args.model, args.robot)
    why = _sysid_problem(args.sysid, planners, args.robot) or \
        (model and _model_robot_problem(model, planners, scenarios, args.robot))
    if why:
        _err(why)
    if model is None or why:
        return 2
    out = Path(args.out)
    grid = [(s, p, seed) for s in scenarios for p in planners for seed in range(args.seeds)]
    logs = out / "logs"

    def one(item):
        s, p, seed = item
        return dict(scenario=s, planner=p, seed=seed, model=model, perturb=True, time_limit=args.time_limit,
                    sysid=args.sysid, robot=args.robot, log_dir=str(logs / f"{file_stem(s)}-{p}-{seed}"))

    try:   # each finished episode is written at once to OUT/episodes/ (atomic)
        episodes = run_grid(grid, one, out, jobs=args.jobs, ray_address=args.ray,
                            cpus=args.cpus_per_episode, resume=bool(args.resume))
    except ClusterError as exc:
        _err(str(exc))
        return 2
    paths = write_results(episodes, out, "Benchmark", _command_line())
    print(markdown_table(episodes))
    print(f"\nwrote {paths['json']}, {paths['markdown']} and {len(paths['pngs'])} PNGs")
    errors = [e for e in episodes if e.get("error")]
    for e in errors:
        _err(f"{e['scenario']}/{e['planner']}/seed {e['seed']}: {e['error'].splitlines()[0]}")
    return 1 if errors else 0


def cmd_demo(args) -> int:
    from world_model_planner.app.report import write_results

    why = _path_problems(args, [("out", "--out")])
    if why:
        _err(why)
        return 2
    why = _robot_problem(args.robot)
    if why:
        _err(why)
        return 2
    scenarios = _scenario_list(args.scenarios, args.robot)
    if scenarios is None:
        return 2
    model = _check_model(args.model, args.robot)
    why = model and _model_robot_problem(model, [args.planner], scenarios, args.robot)
    if why:
        _err(why)
    if model is None or why:
        return 2
    out = Path(args.out)
    jobs = args.jobs or max(1, (os.cpu_count() or 1) // 4)
    gui = _gui_ok(args.gui)
    if gui:
        jobs = 1   # one window at a time
    print(f"wmp demo: {args.planner} planner through the world model {model}\n"
          f"          on {len(scenarios)} scenarios, lockstep simulation, "
          f"{'one after another' if jobs == 1 else f'{jobs} at a time in separate ROS domains'}; "
          f"report in {out}/", flush=True)
    wall0 = time.monotonic()

    def one(item):
        i, s = item
        progress = ProgressLine(f"[{i}/{len(scenarios)}] {Path(s).stem:10s}")
        rec = _episode(s, args.planner, 0, model, False, gui, robot=args.robot,
                       log_dir=str(out / "logs" / file_stem(s)),
                       on_progress=progress if jobs == 1 else None)
        progress.done(_summary(rec))
        return rec

    if jobs == 1:
        episodes = [one(item) for item in enumerate(scenarios, 1)]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            episodes = list(pool.map(one, enumerate(scenarios, 1)))
    total_s = time.monotonic() - wall0
    paths = write_results(episodes, out, "wmp demo", _command_line(), per_episode=True)
    reached = sum(1 for e in episodes if e.get("success"))
    print(f"\n{reached}/{len(episodes)} goals reached in {total_s:.0f} s; "
          f"report: {paths['markdown']}")
    return 0 if reached == len(episodes) else 1
