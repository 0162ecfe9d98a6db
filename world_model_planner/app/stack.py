"""The one description of how the stack is wired: which executables, with which names,
parameter files, parameters and remappings, and which are lifecycle nodes.

Used by ``wmp run`` / ``wmp bench`` / ``wmp demo`` (through :mod:`world_model_planner.app.launcher`,
which starts each :class:`NodeSpec` as a real process), by the CI wiring tests, and by the
launch files, which turn each spec into a ``launch_ros.actions.Node`` with
:meth:`NodeSpec.launch_kwargs`::

    from world_model_planner.app.stack import sim_stack
    specs = sim_stack(scenario="u_trap", planner="hierarchical")
    nodes = [launch_ros.actions.Node(**s.launch_kwargs()) for s in specs]

This module never imports rclpy or launch; it is plain data.

Topic wiring (ARCHITECTURE.md, "Data flow")::

    sim_node ──odom, scan, clock──▶ world_model_node, planner_node ◀── goal_pose
    planner_node ──cmd_vel_nav──▶ cmd_mux (+ velocity limiter) ──cmd_vel──▶ sim_node / robot
    (no cmd_mux installed: planner_node's cmd_vel_nav is remapped straight to cmd_vel)
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path
from typing import Any, Union

from world_model_planner.core import paths

PACKAGE = "world_model_planner"
ParamSource = Union[str, dict]  # a parameter-file path, or {name: value}

# Executables (console scripts in setup.py) and their node names.
SIM, WORLD_MODEL, PLANNER, MUX, MANAGER = (
    "sim_node", "world_model_node", "planner_node", "cmd_mux", "lifecycle_manager")

# Parameter file for each executable under config/, when the owning area ships one.
_PARAM_FILES = {
    SIM: "sim.yaml",
    WORLD_MODEL: "world_model.yaml",
    PLANNER: "planner.yaml",
    MUX: "mux.yaml",
    MANAGER: "lifecycle_manager.yaml",
}
PLANNERS = ("hierarchical", "flat", "classic", "classic_id")


@dataclasses.dataclass
class NodeSpec:
    """One node process: what to run and how to configure it.

    executable: console script of this package (``ros2 run world_model_planner <executable>``).
    parameters: applied in order, later wins: parameter-file paths, then dicts.
    remappings: (from, to) topic or service names.
    lifecycle: True for managed nodes (brought up by the lifecycle manager).
    """

    executable: str
    name: str
    namespace: str = ""
    parameters: list = dataclasses.field(default_factory=list)
    remappings: list = dataclasses.field(default_factory=list)
    lifecycle: bool = False
    package: str = PACKAGE

    @property
    def fqn(self) -> str:
        """Fully qualified node name, e.g. ``/robot1/planner_node`` or ``/planner_node``."""
        ns = "/" + self.namespace.strip("/") if self.namespace.strip("/") else ""
        return f"{ns}/{self.name}"

    def param_files(self) -> list[str]:
        return [str(p) for p in self.parameters if not isinstance(p, dict)]

    def param_values(self) -> dict[str, Any]:
        """All dict parameters merged, later dicts winning."""
        out: dict[str, Any] = {}
        for p in self.parameters:
            if isinstance(p, dict):
                out.update(p)
        return out

    def ros_args(self) -> list[str]:
        """``--ros-args`` arguments equivalent to this spec (files first, then -p, then -r)."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        if self.namespace.strip("/"):
            args += ["-r", f"__ns:=/{self.namespace.strip('/')}"]
        for f in self.param_files():
            args += ["--params-file", f]
        for k, v in self.param_values().items():
            args += ["-p", f"{k}:={format_param(v)}"]
        for src, dst in self.remappings:
            args += ["-r", f"{src}:={dst}"]
        return args

    def command(self, bin_dir: str | os.PathLike | None = None) -> list[str]:
        """Argv that starts this node; ``bin_dir`` holds the console scripts (default: PATH)."""
        exe = str(Path(bin_dir) / self.executable) if bin_dir else self.executable
        return [exe, *self.ros_args()]

    def launch_kwargs(self) -> dict:
        """Keyword arguments for ``launch_ros.actions.Node`` (or ``LifecycleNode``)."""
        return {
            "package": self.package,
            "executable": self.executable,
            "name": self.name,
            "namespace": self.namespace,
            "parameters": [p if isinstance(p, dict) else str(p) for p in self.parameters],
            "remappings": [tuple(r) for r in self.remappings],
            "output": "screen",
        }


def format_param(value: Any) -> str:
    """A value as ``-p name:=value`` expects it (YAML syntax)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_param(v) for v in value) + "]"
    if isinstance(value, str):
        # Quote strings that YAML would read as another type (numbers, booleans, empty).
        if value == "" or value.lower() in ("true", "false", "yes", "no", "on", "off", "null", "~"):
            return f"'{value}'"
        try:
            float(value)
            return f"'{value}'"
        except ValueError:
            return value
    return repr(value) if isinstance(value, float) else str(value)


def default_params_file(executable: str) -> str | None:
    """config/<file>.yaml shipped for ``executable``, or None where the area ships none."""
    name = _PARAM_FILES.get(executable)
    if not name:
        return None
    path = paths.config_dir() / name
    return str(path) if path.is_file() else None


def has_mux() -> bool:
    """True where the teleop area's command mux (teleop/mux_node.py) is installed."""
    try:
        return importlib.util.find_spec("world_model_planner.teleop.mux_node") is not None
    except (ImportError, ValueError):
        return False


def has_lifecycle_manager() -> bool:
    """True where world_model_planner/app/lifecycle_manager.py (the launch area's manager) exists.

    Without it, the launcher drives the lifecycle transitions itself.
    """
    try:
        return importlib.util.find_spec("world_model_planner.app.lifecycle_manager") is not None
    except (ImportError, ValueError):
        return False


def resolve_model(model: str | os.PathLike | None, robot: str | None = None) -> str:
    """The checkpoint path to use: ``model``, else the shipped models/<robot>_default.pt where it
    exists, else the shipped models/husky_default.pt (which a learned planner refuses for
    another robot: planner_node's ``robot`` check)."""
    if model:
        return str(Path(model).expanduser().resolve())
    own = paths.default_model_path(robot) if robot else None
    return str(own if own is not None and own.is_file() else paths.default_model_path())


def _params(executable: str, params_file: str | None, values: dict) -> list:
    """Parameter sources: the shipped file, the user's file, then explicit values."""
    out: list = []
    shipped = default_params_file(executable)
    if shipped:
        out.append(shipped)
    if params_file:
        out.append(str(params_file))
    clean = {k: v for k, v in values.items() if v is not None}
    if clean:
        out.append(clean)
    return out


def _control_stack(*, planner: str | None, model: str | None, use_sim_time: bool,
                   params_file: str | None, namespace: str, lockstep: bool,
                   planner_extra: dict | None = None, remap_in: list | None = None,
                   cmd_vel: str = "cmd_vel", robot: str | None = None,
                   world_model: bool = True) -> list[NodeSpec]:
    """world_model_node (unless ``world_model`` is False), planner_node, the mux (or a direct
    remap), and the lifecycle manager."""
    if planner is not None and planner not in PLANNERS:
        raise ValueError(f"planner: expected one of {list(PLANNERS)}, got {planner!r}")
    model_path = resolve_model(model, robot)
    remap_in = list(remap_in or [])
    time_p = {"use_sim_time": bool(use_sim_time)}
    specs = [
        NodeSpec(WORLD_MODEL, WORLD_MODEL, namespace,
                 _params(WORLD_MODEL, params_file, {**time_p, "model_path": model_path}),
                 _remaps(remap_in + [("cmd_vel", cmd_vel)]), lifecycle=True),
    ] if world_model else []
    planner_values = {**time_p, "planner": planner, "model_path": model_path,
                      "trigger": "odom" if lockstep else None,
                      # lockstep: the sim waits for each command, so a slow tick never falls behind
                      "budget.adaptive": False if lockstep else None, **(planner_extra or {})}
    planner_remaps = list(remap_in)
    mux = has_mux()
    if not mux:
        planner_remaps.append(("cmd_vel_nav", cmd_vel))
    specs.append(NodeSpec(PLANNER, PLANNER, namespace,
                          _params(PLANNER, params_file, planner_values), _remaps(planner_remaps),
                          lifecycle=True))
    if mux:
        specs.append(NodeSpec(MUX, MUX, namespace, _params(MUX, params_file, dict(time_p)),
                              _remaps([("cmd_vel", cmd_vel)])))
    if has_lifecycle_manager():
        managed = [s.name for s in specs if s.lifecycle]
        specs.append(NodeSpec(MANAGER, MANAGER, namespace,
                              _params(MANAGER, params_file,
                                      {**time_p, "node_names": managed, "autostart": True})))
    return specs


def _remaps(pairs: list) -> list[tuple[str, str]]:
    """Drop identity remappings (``cmd_vel`` → ``/cmd_vel`` in the root namespace)."""
    return [(a, b) for a, b in pairs if a.strip("/") != b.strip("/")]


def sim_stack(scenario: str = "open", planner: str | None = "hierarchical",
              model: str | None = None, gui: bool = False, lockstep: bool = True,
              use_sim_time: bool = True, params_file: str | None = None,
              namespace: str = "", seed: int | None = None, perturb: bool | None = None,
              extra: dict[str, dict] | None = None, robot: str | None = None) -> list[NodeSpec]:
    """The simulation stack: sim_node + world_model_node + planner_node + mux + manager.

    scenario: built-in name or scenario YAML path. lockstep: the sim waits for one command
    per control period (deterministic, as fast as the planner allows) and the planner plans
    once per /odom. seed/perturb: the sim's start-pose perturbation and sensor noise.
    robot: a robot in place of the scenario's ``robot:`` (None: the scenario's). Its robot file
    (config/robots/<robot>.yaml) sets the planner's limits and footprint and the mux's limiter.
    extra: per-executable parameter overrides, e.g. ``{"planner_node": {"mppi.samples": 256}}``.
    A camera world model (``model`` with use_image on and use_scan off, checked only when a
    model is named and the planner is a learned one) turns the sim's camera on, sets the
    planner's ``scan: none``, and leaves world_model_node out (it learns from scans only).
    """
    from world_model_planner.core.robot_config import load_robot, planner_params

    extra = dict(extra or {})
    scenario_arg = str(Path(scenario).resolve()) if Path(scenario).suffix in (".yaml", ".yml") \
        else scenario
    if robot is None:
        from world_model_planner.core.safeio import InputError
        from world_model_planner.sim.scenario import load_scenario

        try:
            robot = load_scenario(scenario_arg).robot
        except (InputError, OSError):
            robot = None          # sim_node refuses the file with its own one-line error
    if robot is not None:
        robot_cfg = load_robot(robot)
        extra[PLANNER] = {**planner_params(robot_cfg), **extra.get(PLANNER, {})}
        if has_mux():  # the mux's velocity limiter enforces the robot's limits on /cmd_vel
            from world_model_planner.teleop.limiter import limiter_params

            extra[MUX] = {**limiter_params(robot_cfg), **extra.get(MUX, {})}
    camera = is_camera_model(model, planner)
    if camera:
        # the sim's camera is RGB-D: its depth maps and scores obstacles (planner_node depth_topic)
        extra[PLANNER] = {"scan": "none", "depth_topic": "camera/depth/image_raw", **extra.get(PLANNER, {})}
        extra[SIM] = {"camera_enabled": True, **extra.get(SIM, {})}
    # The sim is the clock source: it publishes /clock and never waits for it.
    sim_values = {"scenario": scenario_arg, "robot": robot or "", "lockstep": bool(lockstep), "gui": bool(gui),
                  "seed": seed, "perturb": perturb, **extra.get(SIM, {})}
    specs = [NodeSpec(SIM, SIM, namespace, _params(SIM, params_file, sim_values))]
    specs += _control_stack(planner=planner, model=model, use_sim_time=use_sim_time,
                            params_file=params_file, namespace=namespace, lockstep=lockstep,
                            planner_extra=extra.get(PLANNER), robot=robot, world_model=not camera)
    for s in specs:
        if s.executable in extra and s.executable not in (SIM, PLANNER):
            s.parameters.append(dict(extra[s.executable]))
    return specs


def is_camera_model(model: str | os.PathLike | None, planner: str | None) -> bool:
    """True when ``model`` is a camera-only world model and ``planner`` plans through it (a
    classic planner reads no model). An unreadable file is not one: the planner refuses it at
    configure with its own message."""
    if model is None or planner in ("classic", "classic_id") or not Path(model).expanduser().is_file():
        return False
    from world_model_planner.world_model_node.checkpoint import CheckpointError, camera_only

    try:
        return camera_only(Path(model).expanduser())
    except CheckpointError:
        return False


def robot_stack(robot_yaml: str | None = None, odom: str = "/odom", scan: str = "/scan",
                image: str = "/camera/image_raw", depth: str = "", cmd_vel: str = "/cmd_vel",
                planner: str | None = "hierarchical", model: str | None = None,
                use_sim_time: bool = False, params_file: str | None = None,
                namespace: str = "", extra: dict[str, dict] | None = None) -> list[NodeSpec]:
    """The same stack without the sim, for a real robot.

    robot_yaml: robot file (config/robots/husky.yaml by default); its velocity and
    acceleration limits and footprint become planner_node parameters
    (world_model_planner.core.robot_config). odom/scan/image/cmd_vel: the robot's topic names.
    A camera world model plans from ``image`` (see sim_stack), and from ``depth`` (the camera's
    depth image topic) as a scan where it is given.
    """
    from world_model_planner.core.robot_config import load_robot, planner_params

    extra = dict(extra or {})
    robot = load_robot(str(Path(robot_yaml).resolve()) if robot_yaml else "husky")
    extra[PLANNER] = {**planner_params(robot), **extra.get(PLANNER, {})}
    if has_mux():  # the mux's velocity limiter enforces the robot's limits on /cmd_vel
        from world_model_planner.teleop.limiter import limiter_params

        extra[MUX] = {**limiter_params(robot), **extra.get(MUX, {})}
    remap_in = [(src, dst) for src, dst in
                (("odom", odom), ("scan", scan), ("camera/image_raw", image))
                if dst and dst.strip("/") != src]
    camera = is_camera_model(model, planner)     # as in sim_stack: camera only, no world_model_node
    if camera:
        extra[PLANNER] = {"scan": "none", **({"depth_topic": depth} if depth.strip() else {}), **extra[PLANNER]}
    specs = _control_stack(planner=planner, model=model, use_sim_time=use_sim_time,
                           params_file=params_file, namespace=namespace, lockstep=False,
                           planner_extra=extra[PLANNER],
                           remap_in=remap_in, cmd_vel=cmd_vel, robot=robot.name, world_model=not camera)
    for s in specs:
        if s.executable in extra and s.executable != PLANNER:
            s.parameters.append(dict(extra[s.executable]))
    return specs


def lifecycle_names(specs: list[NodeSpec]) -> list[str]:
    """Fully qualified names of the managed (lifecycle) nodes, in bring-up order."""
    return [s.fqn for s in specs if s.lifecycle]
