"""Small rclpy helpers shared by the thin nodes: parameter declaration from a documented
dataclass, time conversion, and a ``main()`` wrapper that shuts down cleanly."""
from __future__ import annotations

import dataclasses
import faulthandler
import gc
import os
import signal
import sys
import threading
from typing import Callable, TypeVar

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.executors import ExternalShutdownException

from world_model_planner.core.params import ConfigError
from world_model_planner.core.safeio import clip

T = TypeVar("T")


def declare_config(node, cfg_cls: type[T], prefix: str = "", overrides: dict | None = None) -> T:
    """Declare one ROS parameter per ``param()`` field of ``cfg_cls`` and build the config.

    Each parameter gets its description, its range as a descriptor, and its default from the
    dataclass. Values set from YAML or the command line are validated by the dataclass; a bad
    value raises ConfigError naming the parameter.
    """
    values = {}
    defaults = cfg_cls()  # type: ignore[call-arg]
    for f in dataclasses.fields(cfg_cls):
        if not f.metadata.get("ros", True) or "description" not in f.metadata:
            continue
        default = getattr(defaults, f.name)
        if overrides and f.name in overrides:
            default = overrides[f.name]
        desc = ParameterDescriptor(description=f.metadata["description"])
        lo_hi = f.metadata.get("range")
        if lo_hi is not None and not isinstance(default, bool):
            if isinstance(default, int):
                desc.integer_range = [IntegerRange(from_value=int(lo_hi[0]), to_value=int(lo_hi[1]), step=1)]
            elif isinstance(default, float):
                desc.floating_point_range = [FloatingPointRange(
                    from_value=float(lo_hi[0]), to_value=float(lo_hi[1]), step=0.0)]
        if f.metadata.get("choices"):
            desc.additional_constraints = "one of: " + ", ".join(map(str, f.metadata["choices"]))
        name = prefix + f.name
        try:
            value = node.declare_parameter(name, default, desc).value
        except Exception as exc:  # noqa: BLE001 - rclpy raises several types for a bad override
            raise ConfigError(f"node '{node.get_name()}' parameter '{name}': "
                              f"{clip(str(exc) or type(exc).__name__, 200)} "
                              f"(expected {type(default).__name__}"
                              + (f" in [{lo_hi[0]}, {lo_hi[1]}]" if lo_hi else "") + ")") from None
        if isinstance(default, float) and isinstance(value, int):
            value = float(value)
        values[f.name] = list(value) if isinstance(value, (list, tuple)) else value
    try:
        return cfg_cls(**values)
    except ConfigError as exc:
        raise ConfigError(f"node '{node.get_name()}' parameter: {exc}") from exc


#: Parameters every rclpy node may carry without declaring them in a config dataclass.
BUILTIN_PARAMETERS = ("use_sim_time", "start_type_description_service")
BUILTIN_PREFIXES = ("qos_overrides.",)

#: Refusal reason for a parameter a node reads only at start-up.
READ_AT_STARTUP = "read at start-up only; restart the node to change it"


def check_unknown_parameters(node) -> None:
    """Raise ConfigError naming every parameter set for ``node`` (params file or ``-p``) that the
    node never declared: a typo in a params file must not silently change nothing."""
    overrides = getattr(node, "_parameter_overrides", {}) or {}
    unknown = sorted(name for name in overrides
                     if not node.has_parameter(name) and name not in BUILTIN_PARAMETERS
                     and not name.startswith(BUILTIN_PREFIXES))
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise ConfigError(f"node '{node.get_name()}': unknown parameter(s) {shown} "
                          "(check the spelling in the params file; see docs/parameters.md)")


class LiveConfig:
    """A node's config dataclasses, kept in step with its ROS parameters at runtime.

    ``sections`` maps a parameter prefix ("" or "mppi.") to a config dataclass; each is declared
    through :func:`declare_config`. A SetParameters request on any of these parameters is first
    validated by building the new dataclass (a bad value is refused with the dataclass's reason),
    then handed to ``apply(new_cfgs, changed)``:

    - ``apply`` returns ``None``: the change is accepted and ``self.cfgs`` holds the new configs;
      ``apply`` must have put them into effect (or scheduled them for the next configure);
    - it returns a string: the change is refused with that reason and nothing changes.

    With ``apply=None`` every runtime change is refused (:data:`READ_AT_STARTUP`). So a change is
    either applied or refused, never acknowledged and ignored. Parameters outside ``sections``
    (``use_sim_time``) are left to rclpy.
    """

    def __init__(self, node, sections: dict, apply=None, overrides: dict | None = None):
        self.node = node
        self.apply = apply
        self.cfgs = {prefix: declare_config(node, cls, prefix, (overrides or {}).get(prefix))
                     for prefix, cls in sections.items()}
        self._fields = {}
        for prefix, cfg in self.cfgs.items():
            for f in dataclasses.fields(cfg):
                if f.metadata.get("ros", True) and "description" in f.metadata:
                    self._fields[prefix + f.name] = (prefix, f.name)
        node.add_on_set_parameters_callback(self._on_set)

    def __getitem__(self, prefix: str):
        return self.cfgs[prefix]

    def _on_set(self, params):
        from rcl_interfaces.msg import SetParametersResult

        mine = [p for p in params if p.name in self._fields]
        if not mine:
            return SetParametersResult(successful=True)
        changes: dict = {}
        for p in mine:
            prefix, field = self._fields[p.name]
            value = p.value
            current = getattr(self.cfgs[prefix], field)
            if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if isinstance(value, (list, tuple)):
                value = list(value)
            changes.setdefault(prefix, {})[field] = value
        try:
            new = dict(self.cfgs)
            for prefix, kv in changes.items():
                new[prefix] = dataclasses.replace(self.cfgs[prefix], **kv)
        except (ConfigError, TypeError, ValueError) as exc:
            return self._refuse(mine, str(exc))
        changed = sorted(p.name for p in mine)
        if self.apply is None:
            return self._refuse(mine, READ_AT_STARTUP)
        try:
            reason = self.apply(new, changed)
        except (ConfigError, ValueError) as exc:
            reason = str(exc)
        if reason:
            return self._refuse(mine, reason)
        self.cfgs = new
        self.node.get_logger().info("parameters applied: " + ", ".join(
            f"{p.name}={p.value!r}" for p in mine))
        return SetParametersResult(successful=True)

    def _refuse(self, params, reason: str):
        from rcl_interfaces.msg import SetParametersResult

        names = ", ".join(p.name for p in params)
        self.node.get_logger().warning(f"parameter change refused ({names}): {reason}")
        return SetParametersResult(successful=False, reason=reason)


def spin_main(make_node: Callable[[], object], args=None, *, run: Callable[[object], int | None] | None = None,
              stop: Callable[[object], None] | None = None, errors: tuple = (), label: str = "",
              init_kwargs: dict | None = None, quiet_signals: bool = True) -> int:
    """Init rclpy, build the node, spin until Ctrl-C or external shutdown, clean up.

    Every node's ``main()`` goes through here. ``run(node)`` replaces ``rclpy.spin(node)`` for
    nodes with their own loop or executor and may return an exit status; ``stop(node)`` runs
    first on the way out (stop a worker, shut an executor down); ``errors`` are exception
    types reported like ConfigError (one ``[error] {label}...`` line, exit 2);
    ``init_kwargs`` go to ``rclpy.init`` (e.g. signal handler options). destroy_node gets
    ``DESTROY_TIMEOUT_S``; past that the process exits anyway, so Ctrl-C never hangs.
    Works on Humble, Jazzy and Kilted (no ``with rclpy.init()``). Returns an exit status.

    Ctrl-C and SIGTERM: see ``QuietStop``. ``quiet_signals=False``, or ``signal_handler_options``
    in ``init_kwargs``, is for a caller that handles signals itself: nothing here changes them.
    """
    if not faulthandler.is_enabled():
        faulthandler.enable()    # a crash in native code (DDS, PyBullet, torch) leaves its Python stack in the log
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)   # `kill -USR1 PID`: every thread's stack, on stderr
    quiet = None
    if quiet_signals and "signal_handler_options" not in (init_kwargs or {}):   # rclpy handles the signals
        quiet = QuietStop.install()    # before rclpy.init: rclpy's handler passes each signal on to it
    node = None
    status = 0
    try:
        rclpy.init(args=args if args is not None else sys.argv, **(init_kwargs or {}))
        node = make_node()
        if quiet is not None:
            quiet.node_built()
        if run is None:
            rclpy.spin(node)
        else:
            status = run(node) or 0
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ConfigError, *errors) as exc:
        print(f"[error] {label}{exc}", file=sys.stderr)
        status = 2
    except Exception as exc:  # noqa: BLE001 - only the shutdown race is swallowed
        try:
            race = shutdown_race(exc)
        except KeyboardInterrupt:   # Ctrl-C's own exception, a moment after rclpy shut the context down
            race = True
        if not race:
            raise
    finally:
        if node is not None and stop is not None:
            stop(node)
        if node is not None and not _destroy_within(node, DESTROY_TIMEOUT_S):
            # an entity still in use can block destroy_node forever; never hang on Ctrl-C
            print(f"[warn] destroy_node did not finish within {DESTROY_TIMEOUT_S} s; exiting anyway",
                  file=sys.stderr)
            sys.stderr.flush()
            sys.stdout.flush()
            os._exit(status)
        if node is None:
            # a constructor that raised leaves its half-built node in reference cycles (parameter
            # callbacks, bound methods): collected now, its rcl entities go while the context is
            # still up, not at some later collection or at interpreter exit, after the context
            gc.collect()
        if rclpy.ok():
            try:
                rclpy.try_shutdown()
            except Exception:  # noqa: BLE001 - rclpy's own signal handler may shut it down at the same moment
                if rclpy.ok():
                    raise
        if quiet is not None:
            quiet.uninstall()
    return status


class QuietStop:
    """Python's side of SIGINT and SIGTERM for a node that lets rclpy handle them.

    rclpy's own handler shuts the context down on either signal, which ends ``spin`` (and every
    ``run`` loop that watches ``rclpy.ok()``) with ExternalShutdownException; it then passes the
    signal on to Python's handler. Python's default for SIGINT raises KeyboardInterrupt at
    whatever bytecode the main thread is running, which may be a finaliser such as rclpy's
    ``Future.__del__``: Python then prints "Exception ignored" with a traceback into the node's
    log. So once the node is built, the first signal raises nothing and the shut-down context
    ends the node. Before that (importing, loading a model), and for a second signal (a callback
    that does not return), it raises KeyboardInterrupt as before, so Ctrl-C always stops the
    process.
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self):
        self.built = False
        self.received = 0
        self.previous: dict[int, object] = {}

    @classmethod
    def install(cls) -> "QuietStop | None":
        """Install for SIGINT and SIGTERM; None off the main thread (signals cannot be set there)."""
        if threading.current_thread() is not threading.main_thread():
            return None
        quiet = cls()
        for name in cls.SIGNALS:
            if hasattr(signal, name):
                signum = getattr(signal, name)
                quiet.previous[signum] = signal.signal(signum, quiet.handle)
        return quiet

    def node_built(self) -> None:
        self.built = True

    def handle(self, signum, frame) -> None:
        self.received += 1
        if not self.built or self.received > 1:
            raise KeyboardInterrupt

    def uninstall(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


DESTROY_TIMEOUT_S = 10.0


def shutdown_race(exc: BaseException, context=None) -> bool:
    """True when ``exc`` is an rclpy call failing because the context was shut down under it
    (Ctrl-C or SIGTERM while a callback publishes: "publisher's context is invalid"): that is
    the normal end of the node, not an error to print."""
    name = type(exc).__name__
    if name in ("RCLError", "InvalidHandle", "ExternalShutdownException"):
        return not rclpy.ok(context=context)
    # rclpy's own C++ layer failing under it (an executor taking a message as the context goes
    # down, seen once under load: "RuntimeError: Unable to convert call argument '0' to Python
    # object" from take_message); a RuntimeError of any other origin is not swallowed
    return type(exc) is RuntimeError and _raised_in_rclpy(exc) and not rclpy.ok(context=context)


def _raised_in_rclpy(exc: BaseException) -> bool:
    """True when the innermost Python frame of ``exc``'s traceback is in the rclpy package."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    parts = os.path.normpath(tb.tb_frame.f_code.co_filename).split(os.sep)
    return "rclpy" in parts[:-1]


def _destroy_within(node, timeout_s: float) -> bool:
    """Destroy ``node`` in a helper thread; False if it did not finish within ``timeout_s``."""
    def destroy():
        try:
            node.destroy_node()
        except Exception as exc:  # noqa: BLE001 - report and keep shutting down
            print(f"[warn] destroy_node: {exc}", file=sys.stderr)

    worker = threading.Thread(target=destroy, name="destroy_node", daemon=True)
    worker.start()
    worker.join(timeout_s)
    return not worker.is_alive()
