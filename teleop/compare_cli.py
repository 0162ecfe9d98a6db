"""`wmp compare`: an HTML report comparing recorded sessions (planner vs person)."""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="compare session recordings in a self-contained HTML report",
                              description="Metrics (success, time, path length, SPL, collisions, min "
                                          "clearance, jerk, time stopped, interventions), trajectory and "
                                          "speed/heading plots, and the world model's open-loop "
                                          "prediction error of the recorded commands at 1 s and 2 s.")
    p.add_argument("sessions", nargs="+", help="recordings: rosbag2 directories (wmp session / wmp record / "
                                               "ros2 bag record), metadata.yaml, .mcap or .db3 files")
    from world_model_planner.core.bag_io import add_topic_args

    add_topic_args(p)
    p.add_argument("--out", required=True, help="output .html")
    p.add_argument("--model", default=None,
                   help="world model checkpoint (default: the shipped models/husky_default.pt if present)")
    p.add_argument("--no-model", action="store_true", help="skip the prediction check")
    p.add_argument("--scenario", default=None, help="scenario name or file (default: from the recording)")
    p.add_argument("--device", default=None, help="torch device for the model (default: CUDA if present)")
    p.set_defaults(func=_compare)


def _refuse(msg: str) -> int:
    print(f"wmp compare: {msg}", file=sys.stderr)
    return 2


def _compare(args) -> int:
    from pathlib import Path

    from world_model_planner.sim.scenario import ScenarioError
    from world_model_planner.teleop.compare import METRIC_KEYS
    from world_model_planner.teleop.report import build_report
    from world_model_planner.core.safeio import InputError

    from world_model_planner.core.bag_io import topics_from_args

    for s in args.sessions:
        if not Path(s).exists():
            return _refuse(f"no such recording: {s}")
        if Path(s).is_dir() and not (Path(s) / "metadata.yaml").is_file() and not list(Path(s).glob("*.mcap")):
            return _refuse(f"{s}: expected a recording (a rosbag2 directory with metadata.yaml, "
                           ".mcap or .db3), found a directory without one")
    try:
        topics = topics_from_args(args)
    except ValueError as exc:
        return _refuse(str(exc))
    out = Path(args.out)
    if out.is_dir():
        return _refuse(f"--out {args.out}: is a directory; expected an .html file")
    if out.parent.exists() and not out.parent.is_dir():
        return _refuse(f"--out {args.out}: {out.parent} is not a directory")
    model = args.model
    if model is None and not args.no_model:
        from world_model_planner.core.paths import default_model_path
        model = str(default_model_path()) if default_model_path().is_file() else None
    if args.no_model:
        model = None
    try:
        data = build_report(args.sessions, args.out, model_path=model, scenario_name=args.scenario,
                            device=args.device, topics=topics)
    except (InputError, ScenarioError) as exc:   # RecordingError is an InputError
        return _refuse(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except OSError as exc:
        return _refuse(f"cannot write {args.out}: {exc.strerror or exc}")
    for note in data.get("notes", []):
        print(f"wmp compare: note: {note}", file=sys.stderr)
    for r in data["sessions"]:
        m = r["metrics"]
        print(r["label"] + ": " + ", ".join(f"{k}={m[k]:.3f}" if isinstance(m[k], float) else f"{k}={m[k]}"
                                            for k in METRIC_KEYS))
    print(data["model_note"])
    print(f"wrote {args.out}")
    return 0
