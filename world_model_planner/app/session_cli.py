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
                                          "DIR/<scenario>_<mode>_<operator>_<time>.mcap (+ .json summary).")
    p.add_argument("--scenario", default="open", help="built-in scenario name or YAML file")
    p.add_argument("--mode", default="teleop", choices=("teleop", "planner", "shared"))
    p.add_argument("--operator", default=None,
                   help="who drives: a person's name (keyboard), or 'scripted' (default: scripted; "
                        "'planner' in planner mode)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--planner", default="hierarchical", choices=("hierarchical", "flat", "classic"))
    p.add_argument("--model", default=None, help="world model checkpoint (default: shipped model)")
    p.add_argument("--time-limit", type=float, default=None, help="simulated seconds (default: scenario's)")
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
    if why:
        print(f"wmp session: {why}", file=sys.stderr)
        return 2

    try:
        takeover = [_window(t) for t in args.takeover] if args.takeover else [(3.0, 2.0)]
    except ValueError as exc:
        print(f"wmp session: {exc}", file=sys.stderr)
        return 2
    operator = args.operator or ("planner" if args.mode == "planner" else "scripted")
    opts = SessionOptions(scenario=args.scenario, mode=args.mode, operator=operator, out_dir=args.out,
                          seed=args.seed, planner=args.planner, model=args.model,
                          time_limit_s=args.time_limit, takeover=takeover)
    from world_model_planner.app.launcher import StackError

    try:
        summary = run_session(opts)
    except ValueError as exc:
        print(f"wmp session: {exc}", file=sys.stderr)
        return 2
    except StackError as exc:
        print(f"wmp session: the stack failed: {exc}", file=sys.stderr)
        return 1
    m = summary["metrics"]
    print(f"session {summary['end_reason']}: success={m['success']} time_s={m['time_s']:.2f} "
          f"path_length_m={m['path_length_m']:.2f} spl={m['spl']:.3f} collisions={m['collisions']} "
          f"interventions={m['interventions']}")
    print(f"recording: {summary['recording']}")
    return 0
