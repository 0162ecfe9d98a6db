"""`wmp session`: run and record one comparison session (see world_model_planner.app.session)."""
from __future__ import annotations

import sys


def _window(text: str):
    try:
        a, b = text.split(":")
        return float(a), float(b)
    except ValueError:
        raise ValueError(f"--takeover: expected START:DURATION in seconds, got {text!r}") from None


def register(subparsers) -> None:
    if "session" in getattr(subparsers, "choices", {}):
        return  # another area registered it first
    p = subparsers.add_parser("session", help="run the sim in real time with the stack and record a session",
                              description="A person (keyboard on this terminal), the scripted operator, "
                                          "or the planner drives a scenario; everything is recorded to "
                                          "DIR/<scenario>_<mode>_<operator>_<time>/ (a rosbag2 directory; + .json summary).")
    p.add_argument("--scenario", default="open", help="built-in scenario name or YAML file")
    p.add_argument("--mode", default="teleop", choices=("teleop", "planner", "shared"))
    p.add_argument("--operator", default=None,
                   help="who drives: a person's name (keyboard), or 'scripted' (default: scripted; "
                        "'planner' in planner mode)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--planner", default="hierarchical",
                   choices=("hierarchical", "flat", "classic", "classic_id"),
                   help="planner for planner/shared mode and for --compare-with-planner")
    p.add_argument("--model", default=None, help="world model checkpoint (default: shipped model)")
    p.add_argument("--time-limit", type=float, default=None,
                   help="simulated seconds (default: the scenario's; a person gets --person-time-factor "
                        "times that)")
    p.add_argument("--person-time-factor", type=float, default=None,
                   help="a person's time limit as a multiple of the scenario's (default: 3)")
    p.add_argument("--countdown", type=int, default=3, metavar="S",
                   help="a person: seconds of countdown after the key at the start gate (default 3)")
    p.add_argument("--input", default="keyboard", choices=("keyboard", "joy"),
                   help="a person's input device: keys on this terminal, or a joystick (sensor_msgs/Joy "
                        "on /joy through teleop_joy)")
    p.add_argument("--gui", action="store_true",
                   help="also open the PyBullet window with a chase camera (where a display exists)")
    p.add_argument("--compare-with-planner", action="store_true",
                   help="afterwards run a planner session (--planner) on the same scenario and seed and "
                        "write DIR/<recording>_vs_planner.html")
    p.add_argument("--takeover", action="append", default=None, metavar="START:DURATION",
                   help="shared mode, scripted operator: take over at START s after the goal for "
                        "DURATION s (repeatable; default 3:2)")
    p.set_defaults(func=_session)


def _session(args) -> int:
    from world_model_planner.app.session import SessionOptions, run_session
    from world_model_planner.core.cli_checks import out_dir_problem

    why = out_dir_problem(args.out, "--out")
    if why is None and args.time_limit is not None and not 0 < args.time_limit <= 86400:
        why = f"--time-limit {args.time_limit}: expected simulated seconds in (0, 86400]"
    if why is None and not 0 <= args.seed < 2**31:
        why = f"--seed {args.seed}: expected 0 <= seed < 2**31"
    if why is None and args.person_time_factor is not None and not 0 < args.person_time_factor <= 100:
        why = f"--person-time-factor {args.person_time_factor}: expected a multiple in (0, 100]"
    if why is None and not 0 <= args.countdown <= 60:
        why = f"--countdown {args.countdown}: expected seconds in [0, 60]"
    if why is None and args.compare_with_planner and args.mode == "planner":
        why = "--compare-with-planner: the session is a planner session already (use --mode teleop or shared)"
    if why:
        print(f"wmp session: {why}", file=sys.stderr)
        return 2

    try:
        takeover = [_window(t) for t in args.takeover] if args.takeover else [(3.0, 2.0)]
    except ValueError as exc:
        print(f"wmp session: {exc}", file=sys.stderr)
        return 2
    operator = args.operator or ("planner" if args.mode == "planner" else "scripted")
    from world_model_planner.app.session import PERSON_TIME_FACTOR
    from world_model_planner.app.stack_cli import _gui_ok

    opts = SessionOptions(scenario=args.scenario, mode=args.mode, operator=operator, out_dir=args.out,
                          seed=args.seed, planner=args.planner, model=args.model,
                          time_limit_s=args.time_limit, takeover=takeover, gui=_gui_ok(args.gui),
                          input=args.input, countdown_s=args.countdown,
                          person_time_factor=args.person_time_factor or PERSON_TIME_FACTOR)
    from world_model_planner.app.launcher import StackError

    try:
        summary = run_session(opts)
        print_summary(summary)
        if summary["metrics"] is None:
            return 0
        if args.compare_with_planner:
            return _compare_with_planner(args, summary)
        print("compare with a planner run on the same scenario:\n  " + compare_command(args, summary))
    except ValueError as exc:
        print(f"wmp session: {exc}", file=sys.stderr)
        return 2
    except StackError as exc:
        print(f"wmp session: the stack failed: {exc}", file=sys.stderr)
        return 1
    return 0


def print_summary(summary: dict, planner: dict | None = None) -> None:
    """The end of a session in a few lines: outcome, numbers, files."""
    m = summary["metrics"]
    if m is None:
        print(f"session {summary['end_reason']}: no metrics ({summary.get('metrics_error', 'no data')})")
        print(f"recording: {summary['recording']}")
        return
    reached = "reached the goal" if m["success"] else "did not reach the goal"
    print(f"session {summary['end_reason']}: {reached}")
    print(f"  time {m['time_s']:.1f} s (limit {summary.get('time_limit_s', float('nan')):.0f} s)   "
          f"path {m['path_length_m']:.2f} m   collisions {m['collisions']}   SPL {m['spl']:.3f}   "
          f"interventions {m['interventions']}")
    print(f"  time ratio {_ratio(m)} (this time / the shortest path at the robot's top speed)")
    if planner is not None:
        print("  " + time_ratio_line(m, planner["metrics"]))
    print(f"recording: {summary['recording']}")
    if summary.get("screen"):
        print(f"last screen: {summary['screen']}")


def _ratio(metrics: dict) -> str:
    r = metrics.get("time_ratio")
    return f"{r:.2f}" if r is not None else "n/a"


def time_ratio_line(person: dict, planner: dict) -> str:
    if person["success"] and planner["success"] and planner["time_s"] > 0:
        return (f"time ratio (this session / planner): {person['time_s'] / planner['time_s']:.2f}   "
                f"planner: {planner['time_s']:.1f} s, SPL {planner['spl']:.3f}")
    return (f"time ratio: n/a (reached: this session {person['success']}, planner {planner['success']})")


def _report_path(summary: dict) -> str:
    from pathlib import Path

    rec = Path(summary["recording"])
    return str(rec.with_name(rec.name.removesuffix(".mcap") + "_vs_planner.html"))


def compare_command(args, summary: dict) -> str:
    import shlex

    from pathlib import Path

    scen = shlex.quote(args.scenario)
    # the planner's recording: DIR/<scenario>_planner_planner_<time>, the same kind as this one's
    tail = ".mcap" if Path(summary["recording"]).suffix == ".mcap" else "[0-9]"
    return (f"wmp session --scenario {scen} --mode planner --planner {args.planner} --seed {args.seed} "
            f"--out {shlex.quote(args.out)}\n  wmp compare {shlex.quote(summary['recording'])} "
            f"{shlex.quote(args.out)}/{summary.get('scenario', 'SCENARIO')}_planner_planner_*{tail} "
            f"--out {shlex.quote(_report_path(summary))}\n"
            f"  (or next time: the same wmp session command with --compare-with-planner)")


def _compare_with_planner(args, summary: dict) -> int:
    """The planner session on the same scenario and seed, then the HTML report of both."""
    from world_model_planner.app.session import SessionOptions, run_session
    from world_model_planner.teleop.report import build_report

    print(f"running the planner ({args.planner}) on {args.scenario} for the comparison ...", flush=True)
    planner = run_session(SessionOptions(scenario=args.scenario, mode="planner", operator="planner",
                                         out_dir=args.out, seed=args.seed, planner=args.planner,
                                         model=args.model, time_limit_s=args.time_limit, quiet=True))
    pm = planner["metrics"]
    if pm is None:
        print(f"wmp session: --compare-with-planner: the planner session ({args.planner}) ended "
              f"{planner['end_reason']} with no metrics ({planner.get('metrics_error', 'no data')}); "
              f"no report; recording: {planner['recording']}", file=sys.stderr)
        return 1
    print(f"planner session {planner['end_reason']}: success={pm['success']} time {pm['time_s']:.1f} s "
          f"path {pm['path_length_m']:.2f} m SPL {pm['spl']:.3f} time ratio {_ratio(pm)}; "
          f"recording: {planner['recording']}")
    print("  " + time_ratio_line(summary["metrics"], pm))
    from world_model_planner.core.paths import default_model_path

    model = args.model or (str(default_model_path()) if default_model_path().is_file() else None)
    out = _report_path(summary)
    data = build_report([summary["recording"], planner["recording"]], out, model_path=model,
                        scenario_name=args.scenario)
    for note in data.get("notes", []):
        print(f"wmp session: note: {note}", file=sys.stderr)
    print(f"report: {out}")
    return 0
