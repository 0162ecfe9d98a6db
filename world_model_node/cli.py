"""`wmp collect`, `wmp train`, `wmp eval-model`, `wmp bench-model`: world-model sub-commands."""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path


def register(subparsers) -> None:
    from world_model_planner.core.bag_io import add_topic_args

    p = subparsers.add_parser("collect", help="drive the sim with an exploration policy and store transitions",
                              description="Drive SimWorld in-process (lockstep, no ROS) with smooth random "
                                          "exploration; write sharded npz (format: world_model_node/data.py).")
    p.add_argument("--scenario", required=True,
                   help="built-in name (the dynamics suite's too, e.g. ice_bend), YAML file, 'random' (random "
                        "boxes and cylinders per episode), 'random_rooms' (an arena cut by 1-2 walls with doors, "
                        "per episode), or 'dynamics' (the whole dynamics suite); comma-separate several to cycle "
                        "through them, e.g. random,random_rooms,open,wall")
    p.add_argument("--dynamics", type=float, nargs="?", const=1.0, default=0.0, metavar="P",
                   help="per episode, with probability P (default 1 when given without a value), draw random "
                        "terrain patches (ice, wet_tiles, grass, mud, gravel), payload 0-150 kg, latency "
                        "0-0.2 s and 0-5 movers (seeded; only fields the scenario leaves empty)")
    p.add_argument("--episodes", type=int, required=True)
    p.add_argument("--out", default=None, help="output directory (shards are appended; required unless --resume)")
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="continue a collection into DIR: episodes whose seed is already in DIR's shards are skipped")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run every episode as a Ray task: on the cluster at ADDRESS (HOST:PORT or auto), or on a "
                        "local Ray instance when no ADDRESS is given (needs pip install -e \".[cluster]\")")
    p.add_argument("--cpus-per-episode", type=float, default=1.0, metavar="N",
                   help="CPUs each Ray task declares (default 1: one simulator process)")
    p.add_argument("--seed", type=int, default=0, help="episode i uses seed+i (default 0)")
    p.add_argument("--episode-s", type=float, default=30.0, help="simulated seconds per episode (default 30)")
    p.add_argument("--image", action="store_true", help="also record 64x64 camera frames")
    p.add_argument("--robot", default="husky", choices=["husky", "jackal", "turtlebot4"],
                   help="robot driven, in place of each scenario's (default husky); recorded with the data")
    p.add_argument("--no-perturb", action="store_true", help="no sensor/odometry noise")
    p.add_argument("--workers", type=int, default=1, help="parallel sim processes (same data; default 1)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_collect)

    p = subparsers.add_parser("train", help="train a world model on collected transitions",
                              description="JEPA-style training (latent prediction vs an EMA target encoder, "
                                          "VICReg, supervised pose/velocity/collision heads).")
    p.add_argument("--data", required=True, help="npz shards, rosbag2 bags (directory, metadata.yaml, .mcap, "
                                                 ".db3) or a folder of them, searched recursively")
    add_topic_args(p)
    p.add_argument("--out", required=True, help="checkpoint file (.pt)")
    p.add_argument("--steps", type=int, default=None, help="max gradient steps (default 6000)")
    p.add_argument("--epochs", type=float, default=None, help="alternatively: passes over the training windows")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--horizon", type=int, default=None, help="open-loop steps per training window (default 15)")
    p.add_argument("--lr", type=float, default=None,
                   help="peak AdamW learning rate (default 2e-3; a fine-tune with --init wants less, e.g. 5e-4)")
    p.add_argument("--time-budget-s", type=float, default=None, help="stop after this many wall seconds")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda[:N]")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image", action="store_true", help="also encode camera images (data must have them)")
    p.add_argument("--camera-only", action="store_true",
                   help="a camera model: the encoder reads the image, velocity and command history, no scan "
                        "(implies --image; no scene prediction, no scan history)")
    p.add_argument("--image-pool", type=int, default=None, metavar="N",
                   help="with --image: encode the frame as the mean colour of N x N cells and one linear layer "
                        "in place of the CNN (model field image_pool; ~1/100 of the CNN's work)")
    p.add_argument("--no-augment", action="store_true",
                   help="no image augmentation (default: brightness, contrast, white balance and a shift of up "
                        "to 3 px per training window, every frame of a window alike)")
    p.add_argument("--mirror", action="store_true",
                   help="also train on each training episode mirrored across the robot's heading (y, yaw, yaw "
                        "rates and the scan flipped): twice the data for a base that is the same on its left "
                        "and right; validation stays on the recorded episodes")
    p.add_argument("--episode-group", type=int, default=None, metavar="G",
                   help="draw each batch as batch_size / G episodes with G windows each (default 1: every "
                        "window at random); the place term (--loss-weight place=W) needs G > 1")
    p.add_argument("--no-vicreg", action="store_true", help="switch the anti-collapse terms off (ablation)")
    p.add_argument("--init", default=None, metavar="CHECKPOINT",
                   help="start from this checkpoint's weights and config (fine-tuning)")
    p.add_argument("--train-only", default="", metavar="MODULE[,MODULE]",
                   help="with --init: only these parts learn (encoder, predictor, collision_head, ...), the "
                        "rest stays as it was; e.g. collision_head with --loss-weight for the other terms at "
                        "0 calibrates the collision head on the frozen model's own rollouts")
    p.add_argument("--head-clearance", action="store_true",
                   help="the collision head also reads the predicted smallest footprint clearance (model "
                        "field head_clearance); with --init of a checkpoint made without it, the new input's "
                        "weights start at zero, e.g. with --train-only collision_head")
    p.add_argument("--loss-weight", action="append", default=[], metavar="TERM=VALUE",
                   help="a loss term's weight (repeatable; terms and defaults: latent 1, variance 1, "
                        "covariance 0.04, pose 10 (metres^2), velocity 1, collision 1, scene 1); e.g. pose=100 "
                        "for a slow base, whose pose errors are small numbers next to the latent terms")
    p.add_argument("--lag-prior", nargs="?", const="fit", default=None, metavar="SYSID.json",
                   help="let the predictor's velocity step start from the base's lag, delay and rate limit, "
                        "learning only the residual (model field lag_prior); alone: fitted on --data as "
                        "`wmp sysid` does; with a file: that response (a `wmp sysid` JSON file, e.g. a base "
                        "known to ramp at its acceleration limits with no lag: tau = one step, gain 1); not "
                        "with --init")
    p.add_argument("--latent-dim", type=int, default=None)
    p.add_argument("--pred-hidden", type=int, default=None,
                   help="predictor MLP width (model field pred_hidden, default 128): the planner's hot path, "
                        "its work per rollout step grows with the square of the width")
    p.add_argument("--head-hidden", type=int, default=None,
                   help="collision head MLP width (model field head_hidden, default 64)")
    p.add_argument("--h-sensors-only", action="store_true",
                   help="the learned latent h reads the scan or the frame alone, not the velocity and the "
                        "command history (model field h_reads_motion false): it says what the robot sees, "
                        "which a goal picture is compared with")
    p.add_argument("--eval-every", type=int, default=None,
                   help="validate (and write the resumable state OUT.state.pt) every N steps (default 250)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT.state.pt, the state of a run that was stopped (same data and flags)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_train)

    p = subparsers.add_parser("eval-model", help="open-loop error vs baselines, collision AUROC",
                              description="Pose error at 0.5/1/2/3 s for the model, constant velocity and "
                                          "an ideal unicycle fed the commands; collision AUROC; Spearman rho "
                                          "of latent distance to a goal observation against true distance.")
    p.add_argument("--model", default=None, help="checkpoint (default: the shipped models/husky_default.pt)")
    p.add_argument("--data", required=True, help="held-out transitions (shards, rosbag2 bags or a folder of them)")
    add_topic_args(p)
    p.add_argument("--json", default=None, help="write the result JSON here")
    p.add_argument("--plots", default=None, help="write error_vs_horizon.png into this directory")
    p.add_argument("--stride", type=int, default=5, help="rows between evaluation starts (default 5)")
    p.add_argument("--sysid", default=None, metavar="FILE",
                   help="classic_id baseline: a fit written by `wmp sysid` (fitted on training data)")
    p.add_argument("--train-data", default=None,
                   help="classic_id baseline: fit it on these training transitions instead of --sysid")
    p.add_argument("--device", default="auto")
    p.add_argument("--matmul-dtype", choices=("float32", "bfloat16"), default="float32",
                   help="the fused rollout's matrix products (bfloat16: what device: auto may pick on a CPU "
                        "with bf16 units; the latent stays float32), to measure what bf16 costs in accuracy: "
                        "every window's products, though each is rolled out alone")
    p.set_defaults(func=_eval)

    p = subparsers.add_parser("convert-data", help="rewrite format-1 transition shards as format 2",
                              description="Version 1 shards (no ground/payload/latency/mover labels) are "
                                          "rewritten in place, atomically, with those labels unknown (nan).")
    p.add_argument("path", help="shard directory or one shard file")
    p.set_defaults(func=_convert)

    p = subparsers.add_parser("bench-model", help="time model.rollout (the planner's hot path)",
                              description="Time the rollout and heads (fused, and the step-by-step reference); "
                                          "with --profile, where one control tick's time goes.")
    p.add_argument("--model", default=None, help="checkpoint (default: the robot's shipped model)")
    p.add_argument("--robot", default=None, metavar="NAME",
                   help="the robot (husky, jackal, turtlebot4): its shipped model and classic_id fit, and with "
                        "--profile its robot file's limits, footprint and planner section (default: husky, "
                        "with the planner's defaults)")
    p.add_argument("--batch", type=int, default=512, help="samples (default 512)")
    p.add_argument("--horizon", type=int, default=20, help="steps per sample (default 20)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--device", default="auto")
    p.add_argument("--matmul-dtype", choices=("float32", "bfloat16"), default="float32",
                   help="the fused rollout's matrix products (with --profile too)")
    p.add_argument("--profile", action="store_true",
                   help="profile whole control ticks (Navigator.step on a synthetic room) section by section: "
                        "the node's message conversion in and out, grid update, subgoal search, scene update, "
                        "encode, rollout, heads, tracked clearance, sampling, each critic; prints a table")
    p.add_argument("--planners", default="hierarchical",
                   help="--profile: comma-separated planner kinds (hierarchical, flat, classic, classic_id)")
    p.add_argument("--ticks", type=int, default=50, help="--profile: timed ticks per planner (default 50)")
    p.add_argument("--no-messages", action="store_true",
                   help="--profile: hand the navigator arrays, without the node's message conversion")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_bench)


def _refuse(cmd: str, message: str) -> int:
    """One line on stderr and exit status 2: how every refusal of bad input ends."""
    print(f"wmp {cmd}: {message}", file=sys.stderr)
    return 2


def _warnings_to_stderr(cmd: str) -> None:
    """Data warnings (a skipped shard) as one ``wmp CMD: warning: ...`` line each, on whatever
    sys.stderr is when they are emitted. The records still propagate: a process without logging
    set up prints each once (here), and one that has it (an embedding program, pytest) sees them
    too; the logger is not left deaf to the rest of the program."""
    import logging

    class _Stderr(logging.StreamHandler):
        @property
        def stream(self):
            return sys.stderr

        @stream.setter
        def stream(self, _value):
            pass

    logger = logging.getLogger("world_model_planner.world_model_node.data")
    for h in [h for h in logger.handlers if getattr(h, "_wmp_cli", False)]:
        logger.removeHandler(h)                  # one handler, named for the command running now
    handler = _Stderr()
    handler._wmp_cli = True
    handler.setFormatter(logging.Formatter(f"wmp {cmd}: warning: %(message)s"))
    logger.addHandler(handler)


def _collect(args) -> int:
    from world_model_planner.core.params import ConfigError

    from world_model_planner.world_model_node.collect import CollectConfig, CollectError, collect

    from world_model_planner.core.cluster import ClusterError, import_ray

    if args.resume and args.out and Path(args.out) != Path(args.resume):
        return _refuse("collect", f"--out {args.out} and --resume {args.resume}: give one output directory")
    args.out = args.out or args.resume
    if not args.out:
        return _refuse("collect", "--out DIR (or --resume DIR) is required")
    if args.ray is not None:
        if not 0 < args.cpus_per_episode <= 1024:
            return _refuse("collect", f"--cpus-per-episode {args.cpus_per_episode}: expected CPUs in (0, 1024]")
        try:
            import_ray()
        except ClusterError as exc:
            return _refuse("collect", str(exc))
    try:
        cfg = CollectConfig(episodes=args.episodes, episode_s=args.episode_s, seed=args.seed, image=args.image,
                            perturb=not args.no_perturb, workers=args.workers, dynamics=args.dynamics,
                            robot=args.robot)
    except ConfigError as exc:
        return _refuse("collect", str(exc))
    if Path(args.out).exists() and not Path(args.out).is_dir():
        return _refuse("collect", f"--out {args.out} is a file; expected a directory for the shards")
    from world_model_planner.sim.scenario import SUITES, ScenarioError, load_scenario

    specs = []
    for s in (s.strip() for s in args.scenario.split(",")):
        specs.extend(SUITES["dynamics"] if s == "dynamics" else [s] if s else [])
    from world_model_planner.world_model_node.collect import RANDOM_LAYOUTS

    for s in set(specs) - set(RANDOM_LAYOUTS):   # a bad name or file is refused before any episode runs
        try:
            load_scenario(s, robot=args.robot)
        except (ScenarioError, OSError) as exc:
            return _refuse("collect", f"--scenario {s}: {exc}")
    try:
        summary = collect(specs, args.out, cfg, progress=not args.no_progress, resume=bool(args.resume),
                          ray_address=args.ray, cpus=args.cpus_per_episode)
    except (CollectError, ClusterError) as exc:
        return _refuse("collect", str(exc))
    except OSError as exc:
        return _refuse("collect", f"cannot write into {args.out}: {exc.strerror or exc}")
    print(f"collected {summary['episodes']} episodes ({summary.get('dynamic_episodes', 0)} with random dynamics), "
          f"{summary['rows']} rows ({summary['collision_rate']:.1%} in contact) into {len(summary['shards'])} "
          f"shard(s) in {args.out}" + (f"; {summary['skipped']} finished episode(s) kept from before"
                                        if summary.get("skipped") else ""))
    for line in summary.get("failed", []):
        print(f"wmp collect: episode failed: {line}", file=sys.stderr)
    return 1 if summary.get("failed") else 0


def _convert(args) -> int:
    from world_model_planner.world_model_node.data import FORMAT_VERSION, DataError, convert_dir

    try:
        done = convert_dir(args.path)
    except DataError as exc:
        return _refuse("convert-data", str(exc))
    except OSError as exc:
        return _refuse("convert-data", f"cannot rewrite in {args.path}: {exc.strerror or exc}")
    print(f"rewrote {len(done)} shard(s) in {args.path} as format version {FORMAT_VERSION} (labels unknown)")
    return 0


def _train(args) -> int:
    from world_model_planner.world_model_node.checkpoint import save_checkpoint
    from world_model_planner.world_model_node.data import DataError, load_dataset
    from world_model_planner.world_model_node.losses import LossWeights
    from world_model_planner.world_model_node.model import WorldModelConfig
    from world_model_planner.world_model_node.train import TrainConfig, train, train_config_dict
    from world_model_planner.core.bag_io import topics_from_args

    if Path(args.out).is_dir():
        return _refuse("train", f"--out {args.out} is a directory; expected a checkpoint file (.pt)")
    weights = LossWeights(variance=0.0, covariance=0.0) if args.no_vicreg else LossWeights()
    terms = {f.name for f in dataclasses.fields(LossWeights)}
    for item in args.loss_weight:
        name, _, value = str(item).partition("=")
        try:
            if name not in terms:
                raise ValueError(f"expected TERM=VALUE with TERM one of {', '.join(sorted(terms))}")
            weights = dataclasses.replace(weights, **{name: float(value)})
        except ValueError as exc:
            return _refuse("train", f"--loss-weight {str(item)[:80]!r}: {exc}")
    only = tuple(x.strip() for x in str(args.train_only).split(",") if x.strip())
    init = None
    if only and not args.init:
        return _refuse("train", "--train-only needs --init CHECKPOINT (the weights the other parts keep)")
    if args.init:
        from world_model_planner.world_model_node.checkpoint import CheckpointError, load_checkpoint

        try:
            init = load_checkpoint(args.init, device="cpu")
        except (CheckpointError, OSError) as exc:
            return _refuse("train", f"--init {args.init}: {exc}")
        if args.head_clearance:
            from world_model_planner.world_model_node.train import with_head_clearance

            try:
                init = with_head_clearance(init)
            except ValueError as exc:
                return _refuse("train", f"--head-clearance: {exc}")
        parts = {name for name, _ in init.named_children()}
        if not set(only) <= parts:
            return _refuse("train", f"--train-only {args.train_only[:80]!r}: expected modules among "
                                    f"{', '.join(sorted(parts))}")
    _warnings_to_stderr("train")
    try:
        data = load_dataset(args.data, topics=topics_from_args(args))
    except (DataError, ValueError) as exc:
        return _refuse("train", str(exc))
    over = {k: v for k, v in {"steps": args.steps, "epochs": args.epochs, "batch_size": args.batch_size,
                              "horizon": args.horizon, "lr": args.lr, "time_budget_s": args.time_budget_s,
                              "cpu_threads": args.threads, "eval_every": args.eval_every,
                              "episode_group": args.episode_group}.items() if v is not None}
    try:
        cfg = TrainConfig(seed=args.seed, device=args.device, progress=not args.no_progress,
                          augment=not args.no_augment, mirror=args.mirror, **over)
    except ValueError as exc:
        return _refuse("train", str(exc))
    if weights.place > 0 and cfg.episode_group < 2:
        return _refuse("train", "--loss-weight place needs --episode-group G > 1: with one window per "
                                "episode a batch has no pair of frames of one layout to compare")
    mc = {"scan_beams": int(data.scan.shape[1]), "range_max_m": float(data.meta.get("range_max_m") or 8.0),
          "use_image": args.image or args.camera_only}
    if args.camera_only:
        mc.update(use_scan=False, scene_sectors=0, scan_history=0)
    if mc["use_image"] and data.image is None:
        return _refuse("train", f"--data {args.data}: no camera frames in the data (collect with `wmp collect --image`)")
    if args.image_pool is not None:
        if not mc["use_image"]:
            return _refuse("train", "--image-pool needs --image or --camera-only (a model that reads the camera)")
        mc["image_pool"] = args.image_pool
    for name in ("latent_dim", "pred_hidden", "head_hidden"):
        if getattr(args, name) is not None:
            if init is not None:
                return _refuse("train", f"--{name.replace('_', '-')} with --init: the architecture is the "
                                        f"checkpoint's ({getattr(init.cfg, name, None)})")
            mc[name] = getattr(args, name)
    if args.h_sensors_only:
        if init is not None:
            return _refuse("train", "--h-sensors-only with --init: what h reads is the checkpoint's "
                                    "(train a new model)")
        mc.update(h_reads_motion=False, scan_history=0)           # no history in h: past scans neither
    if args.head_clearance and init is None:        # with --init, with_head_clearance widened init above
        mc["head_clearance"] = True
    if args.lag_prior:
        if init is not None:
            return _refuse("train", "--lag-prior with --init: the lag prior is part of the architecture "
                                    "(train a new model)")
        try:
            from world_model_planner.world_model_node.train import lag_prior_fields

            given = None if args.lag_prior == "fit" else args.lag_prior
            fields, summary = lag_prior_fields(data, WorldModelConfig(), given=given)
        except ValueError as exc:                     # SysIdError (a bad file, a failed fit) is one
            return _refuse("train", f"--lag-prior: {exc}")
        mc.update(fields)
        print(f"lag prior ({'fitted on the training data' if given is None else 'from ' + given}):\n" + summary)
    # the robot that drove the data sets the footprint the scan clearances are measured from
    from world_model_planner.sim.robots import ROBOTS

    robots = sorted({str(e.get("robot") or "husky") for e in data.meta.get("episodes", {}).values()}) or ["husky"]
    if len(robots) > 1:
        return _refuse("train", f"--data {args.data}: episodes of several robots ({', '.join(robots)}); "
                                f"train one model per robot (wmp collect --robot R)")
    if robots[0] in ROBOTS:
        spec = ROBOTS[robots[0]]
        mc.update(footprint_length_m=spec.length_m, footprint_width_m=spec.width_m)
    rank = int(os.environ.get("RANK", "0"))
    state = Path(args.out).with_suffix(".state.pt")
    if args.resume and rank == 0 and not state.is_file():
        print(f"wmp train: --resume: no state {state} to resume from; starting from step 0", file=sys.stderr)
    if rank == 0:
        cmd_rows = data.cmd_rows()
        print(f"training on {len(data)} rows ({cmd_rows} carry a command, {100 * cmd_rows / max(len(data), 1):.0f}%), "
              f"{len(data.episodes)} episodes from {args.data}")
    try:
        if init is not None:
            trained_on = sorted(map(str, (init.data_stats or {}).get("robots") or ["husky"]))
            if trained_on != robots:
                raise ValueError(f"--init {args.init} was trained on {', '.join(trained_on)}, the data was driven by "
                                 f"{', '.join(robots)}")
        model, metrics = train(data, WorldModelConfig(**mc), cfg, weights, init_model=init, trainable=only,
                               state_path=str(state), resume=args.resume)
    except ValueError as exc:
        return _refuse("train", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if rank != 0:  # torchrun: rank 0 alone writes
        return 0
    try:
        aug = metrics.get("image_augment")
        save_checkpoint(args.out, model, data_stats=data.stats(), metrics=metrics,
                        train={**train_config_dict(cfg, weights), "image_augment": aug,
                               **({"init": Path(args.init).name, "train_only": list(only),
                                   "head_clearance_added": bool(args.head_clearance)} if init else {})})
        state.unlink(missing_ok=True)      # finished: nothing left to resume
    except OSError as exc:
        return _refuse("train", f"cannot write checkpoint {args.out}: {exc.strerror or exc}")
    v = metrics["val"]
    print(f"saved {args.out}: {metrics['steps_run']} steps in {metrics['train_time_s']:.0f} s ({metrics['stopped']}), "
          f"val pose error at {cfg.horizon} steps {v.get('pose_err_final_m', float('nan')):.3f} m, "
          f"latent std min {metrics['latent_std_min']:.2f} mean {metrics['latent_std_mean']:.2f} "
          f"({len(metrics['latent_std'])} learned dims)")
    return 0


def _eval(args) -> int:
    from world_model_planner.core.paths import default_model_path

    from world_model_planner.world_model_node.checkpoint import CheckpointError, load_checkpoint
    from world_model_planner.world_model_node.data import DataError, load_dataset
    from world_model_planner.world_model_node.eval_report import nan_to_none, plot, summary
    from world_model_planner.world_model_node.evaluate import evaluate, load_sysid_model
    from world_model_planner.core.bag_io import topics_from_args

    from world_model_planner.core.safeio import InputError, atomic_write_text

    path = args.model or str(default_model_path())
    if args.json and Path(args.json).is_dir():
        return _refuse("eval-model", f"--json {args.json} is a directory; expected a file")
    if args.sysid and args.train_data:
        return _refuse("eval-model", "give --sysid FILE or --train-data DIR for classic_id, not both")
    _warnings_to_stderr("eval-model")
    try:
        model = load_checkpoint(path, device=args.device)
        model.matmul_dtype = _matmul_dtype(args.matmul_dtype, model.device, "eval-model")
        model.matmul_min_rows = 1         # each window is rolled out alone: in bf16 too, as the planner's batches are
        topics = topics_from_args(args)
        data = load_dataset(args.data, topics=topics)
        train = load_dataset(args.train_data, topics=topics) if args.train_data else None
        sysid_model, note = load_sysid_model(float(model.dt_s), args.sysid, train)
        if sysid_model is None and (args.sysid or args.train_data):
            return _refuse("eval-model", f"classic_id: {note}")
        result = evaluate(model, data, stride=args.stride, sysid_model=sysid_model)
    except (CheckpointError, DataError, InputError, ValueError) as exc:
        return _refuse("eval-model", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    result["model_path"] = str(path)
    if sysid_model is not None:
        result["classic_id_from"] = note
    result = nan_to_none(result)
    print(summary(result))
    try:
        if args.json:
            atomic_write_text(args.json, json.dumps(result, indent=1))
        if args.plots:
            Path(args.plots).mkdir(parents=True, exist_ok=True)
            plot(result, Path(args.plots) / "error_vs_horizon.png")
    except OSError as exc:
        return _refuse("eval-model", f"cannot write results: {exc.strerror or exc} ({exc.filename or ''})")
    return 0


def _matmul_dtype(name: str, device=None, command: str = "bench-model", cpuinfo: str | None = None):
    """--matmul-dtype → WorldModel.matmul_dtype (None: the model's own float32).

    bfloat16 on a CPU without bf16 units (``device``: the model's; None: the CPU) is run as
    asked, with a warning on stderr: there the products are emulated, many times slower than
    float32, and ``device: auto`` never picks them."""
    import torch

    from world_model_planner.core.runtime import cpu_has_bf16

    if name != "bfloat16":
        return None
    if torch.device(device or "cpu").type == "cpu" and not cpu_has_bf16(cpuinfo):
        print(f"wmp {command}: warning: --matmul-dtype bfloat16 on a CPU without bf16 units (no avx512_bf16, "
              "amx_bf16 or bf16 in /proc/cpuinfo): the products are emulated, many times slower than float32; "
              "the planner's device: auto does not take this path here", file=sys.stderr)
    return torch.bfloat16


def _bench(args) -> int:
    """`wmp bench-model` (world_model_node/bench_cli.py)."""
    from world_model_planner.world_model_node.bench_cli import bench

    return bench(args)
