#!/usr/bin/env python3
"""Load faults: control rate and memory (RSS) of the nodes under each load, as a table
(world_model_planner.testing.load says what each load does). ``--json`` writes the same numbers.

    python scripts/fault_load_report.py --duration 60 --json load.json

Runs real node processes in their own DDS domain (``--domain``), discovery limited to localhost.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from world_model_planner.app.stack import PLANNERS
from world_model_planner.testing.domain import DomainLease
from world_model_planner.testing.load import LOADS, run_load, table
from world_model_planner.testing.models import tiny_checkpoint


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load per case (after warm-up)")
    ap.add_argument("--loads", default=",".join(LOADS), help=f"comma-separated subset of {LOADS}")
    ap.add_argument("--model", default="", help="world-model checkpoint (default: an untrained tiny one)")
    ap.add_argument("--planner", default="hierarchical", choices=PLANNERS)
    ap.add_argument("--domain", type=int, default=0, help="ROS_DOMAIN_ID (default: a free one, leased)")
    ap.add_argument("--json", default="", help="also write the results here")
    ap.add_argument("--logs", default="", help="node log directory (default: a temp dir)")
    args = ap.parse_args(argv)
    work = Path(args.logs or tempfile.mkdtemp(prefix="wmp-fault-load-"))
    work.mkdir(parents=True, exist_ok=True)
    model = args.model or str(tiny_checkpoint(work))
    lease = None
    if not args.domain:
        lease = DomainLease()
        args.domain = lease.domain_id
    results = []
    for load in [x.strip() for x in args.loads.split(",") if x.strip()]:
        print(f"load {load}: {args.duration:g} s ...", flush=True)
        results.append(run_load(load, args.duration, args.domain, model, work,
                                [f"planner:={args.planner}", "torch_threads:=1"]))
        print(json.dumps(results[-1]), flush=True)
    if lease is not None:
        lease.release()
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(all(r["alive"].values()) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
