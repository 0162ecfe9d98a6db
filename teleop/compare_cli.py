"""`wmp compare`: an HTML report comparing recorded sessions (planner vs person)."""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="compare session recordings in a self-contained HTML report",
                              description="Metrics (success, time, path length, SPL, collisions, min "
                                          "clearance, jerk, time stopped, interventions), trajectory and "
                                          "speed/heading plots, and the world model's open-loop "
                                          "prediction error of the recorded commands at 1 s and 2 s.")
    p.add_argument("sessions", nargs="+", help="session .mcap files (wmp session / wmp record)")
    p.add_argument("--out", required=True, help="output .html")
    p.add_argument("--model", default=None,
                   help="world model checkpoint (default: the shipped models/husky_default.pt if present)")
    p.add_argument("--no-model", action="store_true", help="skip the prediction check")
    p.add_argument("--scenario", default=None, help="scenario name or file (default: from the recording)")
    p.add_argument("--device", default=None, help="torch device for the model (default: CUDA if present)")
    p.set_defaults(func=_compare)


def _compare(args) -> int:
    from pathlib import Path

    from teleop.compare import METRIC_KEYS
    from teleop.report import build_report

    for s in args.sessions:
        if not Path(s).is_file():
            print(f"wmp compare: no such recording: {s}", file=sys.stderr)
            return 2
    model = args.model
    if model is None and not args.no_model:
        from world_model_planner.paths import default_model_path
        model = str(default_model_path()) if default_model_path().is_file() else None
    if args.no_model:
        model = None
    data = build_report(args.sessions, args.out, model_path=model, scenario_name=args.scenario,
                        device=args.device)
    for r in data["sessions"]:
        m = r["metrics"]
        print(r["label"] + ": " + ", ".join(f"{k}={m[k]:.3f}" if isinstance(m[k], float) else f"{k}={m[k]}"
                                            for k in METRIC_KEYS))
    print(data["model_note"])
    print(f"wrote {args.out}")
    return 0
