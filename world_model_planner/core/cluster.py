"""Sweeps past one machine: episodes as Ray tasks (the optional ``cluster`` extra).

``wmp bench --ray [ADDRESS]`` and ``wmp collect --ray [ADDRESS]`` hand every episode to
:func:`run_tasks`: one Ray task per episode, each declaring the CPUs it needs (``num_cpus``), so
Ray places no more episodes on a node than its CPUs carry. Without an address a local Ray
instance starts (bound to 127.0.0.1, no dashboard) and stops again at the end; with one
(``ray start --head`` on one machine, ``ray start --address HEAD:6379`` on the others) the
tasks spread over the cluster. Results come back to the driver, which writes them.

ROS domains on a cluster: an episode of ``wmp bench`` leases its ROS_DOMAIN_ID inside its task
(``testing.domain.DomainLease``: an flock on ``<tmp>/wmp-ros-domains/<id>.lock``, ids 1..101).
The locks live on each node's own /tmp, so the lease is exclusive per node, not cluster-wide:
two tasks on one node never share an id, while tasks on two nodes may hold the same id, which
is harmless because every node process discovers peers on localhost only
(ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST), so stacks on different machines never hear each
other. A node thus carries at most 101 stacks at once, far above what its CPUs allow.

No rclpy here, and Ray is imported only when a sweep asks for it.
"""
from __future__ import annotations

import logging
import pickle
from typing import Any, Callable, Iterator, Sequence

INSTALL_HINT = 'pip install -e ".[cluster]"'
LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024   # episode records are small; keep the local store small


class ClusterError(RuntimeError):
    """Ray is missing, or the cluster at the given address cannot be reached."""


def import_ray():
    """The ``ray`` module, or ClusterError naming the install command."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--ray needs Ray, which is not installed: install the optional extra "
                           f"with `{INSTALL_HINT}` (into the project's .venv)") from None
    return ray


class RaySession:
    """A connection to Ray for the length of a sweep (``with RaySession(address) as ray:``).

    ``address``: None or "" starts a local instance on this machine (127.0.0.1, no dashboard,
    ``local_cpus`` CPUs, default all), shut down on exit; "auto" or HOST:PORT joins a running
    cluster, which stays up."""

    def __init__(self, address: str | None = None, local_cpus: int | None = None):
        self.address, self.local_cpus = address or None, local_cpus
        self.ray = import_ray()
        self._started = False

    def __enter__(self):
        ray = self.ray
        quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        tries = 1 if self.address else 2
        for attempt in range(tries):
            try:
                if self.address:
                    ray.init(address=self.address, **quiet)
                else:
                    ray.init(num_cpus=self.local_cpus, _node_ip_address="127.0.0.1",
                             object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
                break
            except Exception as exc:  # noqa: BLE001 - Ray raises bare Exception (a raylet start-up timeout)
                error = exc
                try:
                    ray.shutdown()        # whatever half started
                except Exception:  # noqa: BLE001 - the error below is the one to report
                    pass
                if attempt + 1 < tries:   # the raylet waits a fixed 15 s for its agents (ray issue 65983)
                    logging.getLogger(__name__).warning("local Ray instance did not start; trying once more")
        else:
            exc = error
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
            hint = "" if self.address else " (its raylet gives up when its agents take over 15 s to start: an overloaded machine?)"
            raise ClusterError(f"--ray: cannot start or reach {where}: "
                               f"{' '.join(str(exc).split())[:300]}{hint}") from None
        self._started = True
        return ray

    def __exit__(self, *exc) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False

    def cluster_cpus(self) -> float:
        return float(self.ray.cluster_resources().get("CPU", 0.0))


class TaskError(RuntimeError):
    """A task's exception that cannot travel back to the driver as itself (one whose class does
    not unpickle, such as an exception with its own ``__init__`` arguments): its class name
    (``kind``) and its message."""

    def __init__(self, kind: str, message: str):
        super().__init__(kind, message)
        self.kind, self.message = kind, message

    def __str__(self) -> str:
        return self.message


def error_text(exc: BaseException, limit: int = 500) -> str:
    """``"<exception class>: <message on one line>"`` of a failed task (the task's own class for
    a TaskError), the message clipped to ``limit`` characters."""
    kind = exc.kind if isinstance(exc, TaskError) else type(exc).__name__
    return f"{kind}: {' '.join(str(exc).split())[:limit]}"


def run_tasks(ray, fn: Callable[..., Any], jobs: Sequence[tuple], num_cpus: float
              ) -> Iterator[tuple[int, Any, BaseException | None]]:
    """Run ``fn(*job)`` as one Ray task per job (``num_cpus`` each, no retries: a task that
    fails is reported, not rerun behind the user's back); yield ``(index, result, None)`` or
    ``(index, None, error)`` in the order the tasks finish. ``error`` is the task's own
    exception, or a TaskError naming it where it would not unpickle on the driver."""
    if num_cpus <= 0:
        raise ValueError(f"num_cpus {num_cpus}: expected > 0 CPUs per task")

    def task(*args):
        try:
            return fn(*args)
        except Exception as exc:
            portable = _portable(exc)
            if portable is exc:
                raise
            raise portable from None

    remote = ray.remote(num_cpus=num_cpus, max_retries=0)(task)
    index = {remote.remote(*job): i for i, job in enumerate(jobs)}
    pending = list(index)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for ref in done:
            try:
                yield index[ref], ray.get(ref), None
            except Exception as exc:  # noqa: BLE001 - a failed task is listed, the sweep goes on
                yield index[ref], None, _task_error(exc)


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives a pickle round trip (as Ray sends it to the driver), else a
    TaskError with its class name and message (Ray would deliver only "failed to deserialize")."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any failure to pickle or unpickle
        return TaskError(type(exc).__name__, str(exc))


def _task_error(exc: BaseException) -> BaseException:
    """The task's own exception where Ray wraps one (RayTaskError.cause), else ``exc``."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc
