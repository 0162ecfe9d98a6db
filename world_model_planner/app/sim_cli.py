"""`wmp sim`, `wmp scenarios`, `wmp check-scenario`: the simulation's command line."""
from __future__ import annotations

import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("sim", help="run the PyBullet sim node (headless unless --gui)",
                              description="Run sim_node in this process: publishes /clock /odom /scan "
                                          "/diagnostics, listens on /cmd_vel and /estop. Ctrl-C stops.")
    p.add_argument("--scenario", default="open", help="built-in name (see `wmp scenarios`) or a YAML file")
    p.add_argument("--gui", action="store_true", help="open the PyBullet window")
    p.add_argument("--lockstep", action="store_true",
                   help="step each control period only when its /cmd_vel arrived (deterministic)")
    p.add_argument("--seed", type=int, default=0, help="seed for --perturb (start pose, sensor noise)")
    p.add_argument("--perturb", action="store_true", help="seeded start-pose perturbation and sensor noise")
    p.add_argument("--realtime-factor", type=float, default=1.0, help="real-time mode speed-up")
    p.add_argument("--camera", action="store_true",
                   help="also publish /camera/image_raw and its depth (the robot's own camera; 64x64 RGB on "
                        "the Husky)")
    p.add_argument("--twist", action="store_true", help="/cmd_vel as geometry_msgs/Twist (default TwistStamped)")
    p.add_argument("--params-file", help="a ROS parameters YAML (e.g. config/sim.yaml); flags override it")
    p.set_defaults(func=cmd_sim)

    p = subparsers.add_parser("scenarios", help="list the built-in scenarios")
    p.add_argument("--plot", metavar="PNG", help="also draw all of them into one figure")
    p.set_defaults(func=cmd_scenarios)

    p = subparsers.add_parser("check-scenario", help="validate a scenario file (exit 0 when valid)")
    p.add_argument("file", help="scenario YAML file (or a built-in name)")
    p.add_argument("--plot", metavar="PNG", help="draw the scenario into a PNG")
    p.set_defaults(func=cmd_check_scenario)


def sim_ros_args(args) -> list[str]:
    """`wmp sim` flags → sim_node --ros-args."""
    ros = ["--ros-args"]
    if args.params_file:
        ros += ["--params-file", args.params_file]
    params = {"scenario": args.scenario, "seed": str(args.seed), "gui": _b(args.gui),
              "lockstep": _b(args.lockstep), "perturb": _b(args.perturb),
              "realtime_factor": repr(float(args.realtime_factor)), "camera_enabled": _b(args.camera),
              "cmd_vel_stamped": _b(not args.twist)}
    for k, v in params.items():
        ros += ["-p", f"{k}:={v}"]
    return ros


def _b(flag: bool) -> str:
    return "true" if flag else "false"


def cmd_sim(args) -> int:
    from world_model_planner.core.cli_checks import in_file_problem, refuse

    from world_model_planner.sim.scenario import ScenarioError, load_scenario

    if args.params_file and in_file_problem(args.params_file, "--params-file"):
        return refuse("wmp sim", in_file_problem(args.params_file, "--params-file"))
    if not 0 < args.realtime_factor <= 1000:
        return refuse("wmp sim", f"--realtime-factor {args.realtime_factor}: expected a value in (0, 1000]")
    try:
        sc = load_scenario(args.scenario)
    except ScenarioError as exc:
        return refuse("wmp sim", str(exc))
    args.scenario = sc.source
    mode = ("lockstep: each 0.05 s period is simulated once a /cmd_vel stamped with the last /odom "
            "stamp arrives (zero command after 2 s)" if args.lockstep
            else f"real time x{args.realtime_factor:g}; a /cmd_vel older than 0.5 s stops the robot")
    print(f"scenario  {sc.summary()}")
    print(f"          file {sc.source}")
    print(f"mode      {mode}; {'GUI' if args.gui else 'headless'}"
          + (f"; perturbed with seed {args.seed}" if args.perturb else ""))
    print("publishes /clock, /odom (odom→base_link, 20 Hz), /scan (180 beams, 10 Hz), /diagnostics"
          + (", /camera/image_raw" if args.camera else ""))
    print(f"listens   /cmd_vel ({'Twist' if args.twist else 'TwistStamped'}), /estop (std_msgs/Bool); "
          f"services /sim_node/reset, /sim_node/pause")
    print("Ctrl-C to stop.", flush=True)
    from world_model_planner.sim.sim_node import main as node_main

    return node_main(["sim_node", *sim_ros_args(args)])


def cmd_scenarios(args) -> int:
    from world_model_planner.core.cli_checks import refuse

    from world_model_planner.sim.scenario import ScenarioError, builtin_scenarios, load_scenario

    if args.plot and _plot_problem(args.plot):
        return refuse("wmp scenarios", _plot_problem(args.plot))
    loaded = []
    for name in builtin_scenarios():
        try:
            sc = load_scenario(name)
        except ScenarioError as exc:
            print(f"{name}: INVALID: {exc}")
            continue
        loaded.append(sc)
        print(sc.summary())
    if args.plot and loaded:
        _plot(loaded, args.plot)
    return 0


def cmd_check_scenario(args) -> int:
    """Exit 0 for a valid scenario; 2 (one line: file, field, expected) for an invalid one."""
    from world_model_planner.core.cli_checks import refuse

    from world_model_planner.sim.scenario import ScenarioError, load_scenario

    if args.plot and _plot_problem(args.plot):
        return refuse("wmp check-scenario", _plot_problem(args.plot))
    try:
        sc = load_scenario(args.file)
    except ScenarioError as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        print(f"invalid scenario: {lines[0]}", file=sys.stderr)
        return 2
    clearance = sc.footprint_clearance_m(sc.start.x, sc.start.y, sc.start.yaw)
    print(f"valid: {sc.summary()}")
    print(f"start footprint clearance {clearance:.2f} m")
    if args.plot:
        _plot([sc], args.plot)
    return 0


PLOT_FORMATS = ("png", "svg", "pdf")


def _plot_problem(path: str) -> str | None:
    from world_model_planner.core.cli_checks import out_file_problem

    if Path(path).suffix.lstrip(".").lower() not in PLOT_FORMATS:
        return f"--plot {path}: expected a file name ending in .png, .svg or .pdf"
    return out_file_problem(path, "--plot")


def _plot(scenarios, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from world_model_planner.core.safeio import atomic_path

    from world_model_planner.sim.plotting import draw_scenario

    n = len(scenarios)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.2), squeeze=False)
    for ax, sc in zip(axes[0], scenarios):
        draw_scenario(ax, sc)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format=Path(path).suffix.lstrip(".").lower())
    finally:
        plt.close(fig)
    print(f"wrote {path}")
