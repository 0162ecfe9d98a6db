"""`wmp record`: run the session recorder from the command line."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("record", help="record a session's topics to a rosbag2 bag (MCAP, zstd, crash-safe)",
                              description="Record /odom /scan /cmd_vel* /goal_pose /plan /diagnostics "
                                          "/clock /mux/intervention until Ctrl-C.")
    p.add_argument("--out", required=True, help="output rosbag2 directory (created; must not exist), as "
                                                "`ros2 bag record -o` makes it; a name ending in .mcap "
                                                "writes one MCAP file instead")
    p.add_argument("--scenario", default="", help="metadata: scenario name or file")
    p.add_argument("--seed", type=int, default=0, help="metadata: sim seed")
    p.add_argument("--operator", default="", help="metadata: who drives")
    p.add_argument("--mode", default="teleop", choices=("teleop", "planner", "shared"))
    p.add_argument("--flush-period", type=float, default=1.0, help="seconds between chunk flushes")
    p.set_defaults(func=_record)


def record_ros_args(out, scenario="", seed=0, operator="", mode="teleop", flush_period_s=1.0) -> list[str]:
    """--ros-args for session_recorder with this metadata."""
    from world_model_planner.app.stack import format_param

    values = {"out": str(out), "scenario": str(scenario), "seed": int(seed), "operator": str(operator),
              "mode": mode, "flush_period_s": float(flush_period_s)}
    args = ["--ros-args"]
    for k, v in values.items():
        args += ["-p", f"{k}:={format_param(v)}"]
    return args


def _record(args) -> int:
    import sys

    from world_model_planner.teleop.recorder_node import main
    from world_model_planner.core.cli_checks import out_file_problem

    from pathlib import Path

    why = out_file_problem(args.out, "--out")
    if why is None and not args.out.endswith(".mcap") and Path(args.out).exists():
        why = f"--out {args.out}: exists already; expected a new bag directory name"
    if why is None and not 0 <= args.seed < 2**31:
        why = f"--seed {args.seed}: expected 0 <= seed < 2**31"
    if why is None and not 0.05 <= args.flush_period <= 60.0:
        why = f"--flush-period {args.flush_period}: expected seconds in [0.05, 60]"
    if why:
        print(f"wmp record: error: {why}", file=sys.stderr)
        return 2

    return main(["wmp-record", *record_ros_args(args.out, args.scenario, args.seed, args.operator,
                                                args.mode, args.flush_period)])
