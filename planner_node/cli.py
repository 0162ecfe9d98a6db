"""`wmp sysid`: fit the classic_id planner's velocity model (planner_node.sysid) to recorded
transitions."""
from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sysid", help="fit the classic_id planner's velocity model (lag, delay, rate limit) to recorded transitions",
        description="Least-squares fit, per axis (v, w), of v[t+1] = v[t] + clip(dt/tau * (gain * cmd[t-d] - v[t]), "
                    "+-rate * dt) with the delay d grid-searched and the base's rate limit (its acceleration "
                    "limit) searched where the data show one; rows in contact are left out. Writes a JSON file "
                    "the classic_id planner loads (planner parameter sysid_path).")
    p.add_argument("--data", required=True, help="npz shards (wmp collect), rosbag2 bags (directory, metadata.yaml, "
                                                 ".mcap, .db3) or a folder of them, searched recursively")
    from world_model_planner.core.bag_io import add_topic_args

    add_topic_args(p)
    p.add_argument("--out", required=True, metavar="FILE.json", help="where to write the fit")
    p.add_argument("--max-delay", type=int, default=None, help="largest delay searched, in steps (default 5)")
    p.add_argument("--no-rate-limit", action="store_true",
                   help="fit a plain lag (no rate limit), as files of format version 1 hold")
    p.set_defaults(func=_sysid)


def _sysid(args) -> int:
    from world_model_planner.core.cli_checks import out_file_problem, refuse
    from world_model_planner.planner_node import sysid
    from world_model_planner.world_model_node.data import DataError, load_dataset
    from world_model_planner.core.bag_io import topics_from_args

    max_delay = sysid.MAX_DELAY_STEPS if args.max_delay is None else args.max_delay
    if not 0 <= max_delay <= sysid.FILE_MAX_DELAY:
        return refuse("wmp sysid", f"--max-delay {max_delay}: expected steps in [0, {sysid.FILE_MAX_DELAY}]")
    why = out_file_problem(args.out, "--out")
    if why:
        return refuse("wmp sysid", why)
    try:
        tr = load_dataset(args.data, topics=topics_from_args(args))
    except (DataError, ValueError, FileNotFoundError, OSError) as exc:
        return refuse("wmp sysid", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    print(f"wmp sysid: {len(tr)} rows, {len(tr.episodes)} episodes from {args.data}; "
          f"searching delays 0..{max_delay}", file=sys.stderr, flush=True)
    try:
        params = sysid.fit_transitions(tr, max_delay, source=f"wmp sysid: {len(tr)} rows of {len(tr.episodes)} episodes "
                                                                  f"({Path(args.data).name})",
                                       rate_limit=not args.no_rate_limit)
    except sysid.SysIdError as exc:
        return refuse("wmp sysid", str(exc))
    sysid.save(args.out, params)
    print(params.summary())
    print(f"wrote {args.out}")
    return 0
