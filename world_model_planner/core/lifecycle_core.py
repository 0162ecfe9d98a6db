"""What a lifecycle manager should do next, decided without ROS.

The ROS side (``lifecycle_manager.py``) observes each managed node's primary state (or that
it cannot be reached) and asks :class:`Supervisor` which transitions to request. The rules,
in the spirit of nav2_lifecycle_manager:

- bring-up configures the nodes in ``node_names`` order, then, once every node is reachable
  and configured, activates them in the same order; a node is not touched while an earlier
  one is unreachable (not started yet, or lost), as nav2's manager waits for each node in
  turn; a node whose transition failed does not hold up the others (it is reported as an
  error instead);
- shutdown deactivates and cleans them up in reverse order, leaving them unconfigured (so a
  later startup can bring them up again);
- a node that cannot be reached (no get_state service, or no answer within the bond timeout)
  is marked *lost* and logged once; when it answers again it counts as a new incarnation and
  is brought back up (if the stack is meant to be up);
- a node that was active and is now unconfigured without being asked has restarted between
  two checks: it is brought back up too;
- a refused or failed transition marks the node *failed*: it is not retried (no log spam)
  until it restarts or ``startup`` is requested again;
- while the stack is meant to be up, a node found inactive (e.g. deactivated by hand) is
  activated again: take the stack down with ``~/shutdown``, not node by node.

This module never imports rclpy.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from world_model_planner.core.params import ConfigError, param, validate

# lifecycle_msgs/msg/State primary states and lifecycle_msgs/msg/Transition ids (REP-2002).
UNKNOWN, UNCONFIGURED, INACTIVE, ACTIVE, FINALIZED = 0, 1, 2, 3, 4
CONFIGURE, CLEANUP, ACTIVATE, DEACTIVATE = 1, 2, 3, 4
STATE_LABELS = {UNKNOWN: "unknown", UNCONFIGURED: "unconfigured", INACTIVE: "inactive",
                ACTIVE: "active", FINALIZED: "finalized"}
TRANSITION_LABELS = {CONFIGURE: "configure", CLEANUP: "cleanup", ACTIVATE: "activate",
                     DEACTIVATE: "deactivate"}


@dataclass
class LifecycleManagerConfig:
    """Parameters of the lifecycle manager."""

    node_names: list = param(["world_model_node", "planner_node"],
                             "Managed lifecycle nodes, brought up in this order (names relative "
                             "to the manager's namespace, or absolute).")
    autostart: bool = param(True, "Configure and activate the managed nodes at start-up.")
    bond_timeout_s: float = param(4.0, "A node that does not answer get_state within this time "
                                       "is considered lost.", range=(0.1, 120.0))
    check_period_s: float = param(1.0, "How often the managed nodes' states are checked.",
                                  range=(0.05, 60.0))
    transition_timeout_s: float = param(30.0, "Longest wait for one change_state answer "
                                              "(configure may load a model).", range=(0.5, 600.0))

    def __post_init__(self):
        validate(self)
        names = [str(n) for n in self.node_names if str(n).strip()]
        if not names:
            raise ConfigError("LifecycleManagerConfig.node_names: expected at least one node name, got []")
        if len(set(names)) != len(names):
            raise ConfigError(f"LifecycleManagerConfig.node_names: expected unique names, got {names}")
        self.node_names = names


@dataclass
class NodeRecord:
    """What the manager knows about one managed node."""

    name: str
    state: int = UNKNOWN          # last observed primary state (UNKNOWN while unreachable)
    reachable: bool = False
    ever_seen: bool = False
    lost: bool = False            # was reachable, then stopped answering
    failed: str = ""              # why the last transition failed ('' when fine)
    transitions: int = 0          # successful transitions requested by the manager

    @property
    def label(self) -> str:
        if self.lost:
            return "lost"
        if not self.reachable:
            return "waiting"
        return STATE_LABELS.get(self.state, f"state {self.state}")


@dataclass
class Supervisor:
    """Per-node bookkeeping and the next transitions to request. Feed it observations with
    :meth:`observe`, ask :meth:`plan`, report outcomes with :meth:`record_transition`."""

    node_names: list
    want_active: bool = False
    records: dict = field(default_factory=dict)

    def __post_init__(self):
        self.records = {n: NodeRecord(n) for n in self.node_names}

    # -- observations -------------------------------------------------------------------
    def observe(self, name: str, state: int | None) -> list[str]:
        """Record one check of ``name``: its primary state, or None when unreachable.
        Returns human-readable events worth logging (lost, reappeared, restarted)."""
        rec = self.records[name]
        events = []
        if state is None:
            if rec.reachable:
                rec.lost = True
                events.append(f"'{name}' is lost (no answer to get_state)")
            rec.reachable = False
            rec.state = UNKNOWN
            return events
        if rec.lost:
            events.append(f"'{name}' is back ({STATE_LABELS.get(state, state)})")
            rec.failed = ""
        elif not rec.ever_seen:
            events.append(f"'{name}' is reachable ({STATE_LABELS.get(state, state)})")
        elif rec.state in (INACTIVE, ACTIVE) and state == UNCONFIGURED:
            events.append(f"'{name}' restarted (was {STATE_LABELS[rec.state]}, now unconfigured)")
            rec.failed = ""
        rec.reachable, rec.ever_seen, rec.lost, rec.state = True, True, False, state
        return events

    # -- decisions ----------------------------------------------------------------------
    def request_startup(self) -> None:
        self.want_active = True
        for rec in self.records.values():
            rec.failed = ""

    def request_shutdown(self) -> None:
        self.want_active = False
        for rec in self.records.values():
            rec.failed = ""

    def plan(self) -> list[tuple[str, int]]:
        """Transitions to request now, in order, as (node name, transition id).

        Up: configure all unconfigured nodes in order, then activate all inactive ones
        (including those just configured); configuring stops at the first unreachable node,
        activating waits until no node is unreachable. Down:
        reverse order, deactivate then clean up.
        """
        steps: list[tuple[str, int]] = []
        recs = [self.records[n] for n in self.node_names]
        if self.want_active:
            # bring-up order is dependency order: a node waits while an earlier one is
            # unreachable (not yet started, or lost); a failed node does not block the rest
            reachable = []
            for r in recs:
                if not r.reachable:
                    break
                reachable.append(r)
            usable = [r for r in reachable if not r.failed]
            steps += [(r.name, CONFIGURE) for r in usable if r.state == UNCONFIGURED]
            if len(reachable) == len(recs):  # activate once every node has been configured
                steps += [(r.name, ACTIVATE) for r in usable if r.state in (UNCONFIGURED, INACTIVE)]
        else:
            usable = [r for r in reversed(recs) if r.reachable and not r.failed]
            steps += [(r.name, DEACTIVATE) for r in usable if r.state == ACTIVE]
            steps += [(r.name, CLEANUP) for r in usable if r.state in (ACTIVE, INACTIVE)]
        return steps

    def record_transition(self, name: str, transition: int, ok: bool, why: str = "") -> None:
        """Outcome of one change_state request. A failure blocks the node's later steps."""
        rec = self.records[name]
        if ok:
            rec.transitions += 1
            rec.state = RESULT_STATE[transition]
            rec.failed = ""
        else:
            rec.failed = why or f"{TRANSITION_LABELS.get(transition, transition)} failed"

    def blocked(self, name: str) -> bool:
        return bool(self.records[name].failed)

    # -- reporting ----------------------------------------------------------------------
    def summary(self) -> tuple[int, str, dict[str, str]]:
        """(level 0 OK / 1 WARN / 2 ERROR, message, key → value) for a DiagnosticStatus."""
        recs = [self.records[n] for n in self.node_names]
        target = ACTIVE if self.want_active else UNCONFIGURED
        values = {r.name: (f"{r.label} (failed: {r.failed})" if r.failed else r.label) for r in recs}
        values["managing"] = "up" if self.want_active else "down"
        failed = [r.name for r in recs if r.failed]
        if failed:
            return 2, "transition failed: " + ", ".join(failed), values
        lost = [r.name for r in recs if r.lost]
        if lost:
            return 1, "lost: " + ", ".join(lost), values
        behind = [r.name for r in recs if not r.reachable or (r.state != target and self.want_active)
                  or (not self.want_active and r.state in (INACTIVE, ACTIVE))]
        if behind:
            return 1, "waiting for: " + ", ".join(behind), values
        return 0, ("all nodes active" if self.want_active else "all nodes down"), values


RESULT_STATE = {CONFIGURE: INACTIVE, CLEANUP: UNCONFIGURED, ACTIVATE: ACTIVE, DEACTIVATE: INACTIVE}

__all__ = [
    "RESULT_STATE", "LifecycleManagerConfig", "NodeRecord", "Supervisor", "STATE_LABELS", "TRANSITION_LABELS",
    "UNKNOWN", "UNCONFIGURED", "INACTIVE", "ACTIVE", "FINALIZED",
    "CONFIGURE", "CLEANUP", "ACTIVATE", "DEACTIVATE"]


class LifecycleClient:
    """get_state / change_state of lifecycle nodes by fully qualified name, through the
    service clients of one rclpy ``node`` spun elsewhere (its executor completes the futures).

    Message classes are imported where used; rclpy itself is never imported here.
    """

    def __init__(self, node, callback_group=None):
        self.node = node
        self.callback_group = callback_group
        self._clients: dict[str, object] = {}

    def _client(self, srv_type, name: str):
        if name not in self._clients:
            self._clients[name] = self.node.create_client(srv_type, name,
                                                          callback_group=self.callback_group)
        return self._clients[name]

    def get_state_client(self, fqn: str):
        """The ``{fqn}/get_state`` client (made once)."""
        from lifecycle_msgs.srv import GetState

        return self._client(GetState, f"{fqn.rstrip('/')}/get_state")

    def change_state_client(self, fqn: str):
        """The ``{fqn}/change_state`` client (made once)."""
        from lifecycle_msgs.srv import ChangeState

        return self._client(ChangeState, f"{fqn.rstrip('/')}/change_state")

    def state(self, fqn: str, timeout_s: float = 5.0) -> int | None:
        """The node's primary state id (``ACTIVE``...), or None when its get_state service is
        not there yet or does not answer within ``timeout_s`` (blocks this thread; the node's
        executor must spin elsewhere)."""
        import threading

        from lifecycle_msgs.srv import GetState

        client = self.get_state_client(fqn)
        if not client.service_is_ready():
            return None
        future = client.call_async(GetState.Request())
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout_s):
            client.remove_pending_request(future)
            return None
        result = future.result()
        return None if result is None else int(result.current_state.id)

    def change_state(self, fqn: str, transition: int, wait) -> bool:
        """Request ``transition`` (``CONFIGURE``...) of ``fqn``; True when it succeeded.

        ``wait(cond, what)`` blocks until ``cond()`` is true or raises (the caller's deadline)."""
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        name = f"{fqn.rstrip('/')}/change_state"
        client = self.change_state_client(fqn)
        wait(client.service_is_ready, f"service {name}")
        fut = client.call_async(ChangeState.Request(transition=Transition(id=transition)))
        wait(fut.done, f"an answer from {name}")
        return bool(fut.result().success)
