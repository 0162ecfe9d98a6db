"""lifecycle_manager: brings the stack's lifecycle nodes up and keeps them up.

In the spirit of nav2_lifecycle_manager. Parameters (see :class:`LifecycleManagerConfig`):
``node_names``, ``autostart``, ``bond_timeout_s``, ``check_period_s``, ``transition_timeout_s``.
Services: ``~/startup`` and ``~/shutdown`` (std_srvs/Trigger). Diagnostics: /diagnostics,
status name ``lifecycle_manager``, one key per managed node with its state.

Instead of bond connections it polls ``/<node>/get_state`` every ``check_period_s``; a node
that does not answer within ``bond_timeout_s`` is lost and, when it answers again, brought
back up. The decisions live in :mod:`world_model_planner.core.lifecycle_core`.

Runtime parameter changes: ``bond_timeout_s``, ``check_period_s`` and ``transition_timeout_s``
apply from the next check; ``node_names`` and ``autostart`` are refused (read at start-up only;
use ``~/startup`` and ``~/shutdown``). An unknown or invalid parameter is one line and exit 2.

Threads: the executor (several threads) serves the services and completes client futures;
one worker thread runs the check/transition loop with blocking waits on those futures.
"""
from __future__ import annotations

import sys
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from std_srvs.srv import Trigger

from world_model_planner.core import diagnostics as diag
from world_model_planner.core.lifecycle_core import (RESULT_STATE, TRANSITION_LABELS, LifecycleClient,
                                                    LifecycleManagerConfig, Supervisor)
from world_model_planner.core.rosutil import (DESTROY_TIMEOUT_S, READ_AT_STARTUP, LiveConfig, check_unknown_parameters,
                                              spin_main)

#: LifecycleManagerConfig fields refused at runtime.
STARTUP_ONLY = ("node_names", "autostart")


class LifecycleManager(Node):
    def __init__(self):
        super().__init__("lifecycle_manager")
        self.live = LiveConfig(self, {"": LifecycleManagerConfig}, apply=self._apply)
        self.cfg = self.live[""]
        check_unknown_parameters(self)
        self.sup = Supervisor(self.cfg.node_names, want_active=self.cfg.autostart)
        self._lock = threading.Lock()          # guards self.sup
        self._cycle = threading.Condition()    # wakes the worker, counts finished cycles
        self._cycles_done = 0
        self._wake = False
        self._busy = False
        self._running = True
        # names relative to the manager's namespace, or absolute ('/ns/node')
        self.lifecycle = LifecycleClient(self, callback_group=ReentrantCallbackGroup())
        for n in self.cfg.node_names:
            self.lifecycle.get_state_client(n)
            self.lifecycle.change_state_client(n)
        self._diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        services = ReentrantCallbackGroup()
        self.create_service(Trigger, "~/startup", self._on_startup, callback_group=services)
        self.create_service(Trigger, "~/shutdown", self._on_shutdown, callback_group=services)
        self._worker = threading.Thread(target=self._loop, name="lifecycle_manager", daemon=True)
        self.get_logger().info(
            f"managing {self.cfg.node_names} (autostart={self.cfg.autostart}, "
            f"check every {self.cfg.check_period_s} s, bond timeout {self.cfg.bond_timeout_s} s)")

    def _apply(self, new: dict, changed: list) -> str | None:
        fixed = [n for n in changed if n in STARTUP_ONLY]
        if fixed:
            return f"{', '.join(fixed)}: {READ_AT_STARTUP}" + (
                " (use ~/startup or ~/shutdown)" if "autostart" in fixed else "")
        with self._cycle:
            self.cfg = new[""]
            self._cycle.notify_all()   # a shorter check period takes effect now
        return None

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        with self._cycle:
            self._running = False
            self._cycle.notify_all()
        if self._worker.is_alive():  # a transition in flight gives up within ~0.5 s (see _change_state)
            self._worker.join(5.0)

    # -- worker --------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cycle:
                if not self._wake:
                    self._cycle.wait(self.cfg.check_period_s)
                self._wake = False
                if not self._running or not rclpy.ok(context=self.context):
                    return
                self._busy = True
            try:
                self._check_once()
            except Exception as exc:  # noqa: BLE001 - keep managing; report it
                if not rclpy.ok(context=self.context):
                    return
                self.get_logger().error(f"check failed: {type(exc).__name__}: {exc}")
            with self._cycle:
                self._busy = False
                self._cycles_done += 1
                self._cycle.notify_all()

    def _check_once(self) -> None:
        for name in self.cfg.node_names:
            state = self._get_state(name)
            with self._lock:
                events = self.sup.observe(name, state)
            for event in events:
                (self.get_logger().warn if "lost" in event else self.get_logger().info)(event)
        with self._lock:
            steps = self.sup.plan()
        for name, transition in steps:
            with self._lock:
                if self.sup.blocked(name):
                    continue
            ok, why, took_s = self._change_state(name, transition)
            label = TRANSITION_LABELS.get(transition, str(transition))
            if ok:
                self.get_logger().info(f"{label} '{name}': ok ({took_s:.2f} s)")
            else:
                self.get_logger().error(f"{label} '{name}' failed: {why}")
            with self._lock:
                self.sup.record_transition(name, transition, ok, why)
        self._publish_diagnostics()

    def _get_state(self, name: str, timeout_s: float | None = None) -> int | None:
        return self.lifecycle.state(name, timeout_s or self.cfg.bond_timeout_s)

    def _change_state(self, name: str, transition: int) -> tuple[bool, str, float]:
        """Request one transition and wait for it.

        A request sent to a restarted node before this client has matched its new server is
        silently lost (the old server can linger in the graph). While waiting, get_state is
        polled: the target state counts as success; the old state seen twice while no answer
        came means the request was lost, and it is sent again (at most 3 times).
        """
        client = self.lifecycle.change_state_client(name)
        if not client.service_is_ready():
            return False, f"/{name}/change_state is not available", 0.0
        with self._lock:
            before = self.sup.records[name].state
        target = RESULT_STATE[transition]
        start = time.monotonic()
        deadline = start + self.cfg.transition_timeout_s
        request = ChangeState.Request(transition=Transition(id=transition))
        for _attempt in range(3):
            future = client.call_async(request)
            done = threading.Event()
            future.add_done_callback(lambda _f: done.set())
            unchanged = 0
            while not done.wait(0.5):
                if not self._running:               # shutting down: do not wait for the answer
                    client.remove_pending_request(future)
                    return False, "lifecycle_manager is shutting down", time.monotonic() - start
                if time.monotonic() > deadline:
                    client.remove_pending_request(future)
                    return False, f"no answer within {self.cfg.transition_timeout_s} s", \
                        time.monotonic() - start
                state = self._get_state(name, timeout_s=1.0)
                if state == target:                 # done; the answer itself went missing
                    client.remove_pending_request(future)
                    return True, "", time.monotonic() - start
                unchanged = unchanged + 1 if state == before else 0
                if unchanged >= 2:                  # the request never reached the node
                    client.remove_pending_request(future)
                    self.get_logger().warning(f"'{name}' did not receive the request; sending it again")
                    break
            else:
                took_s = time.monotonic() - start
                if not future.result().success:
                    return False, "the node refused the transition (see its log)", took_s
                return True, "", took_s
        return False, "the request was lost 3 times", time.monotonic() - start

    def _publish_diagnostics(self) -> None:
        with self._lock:
            level, message, values = self.sup.summary()
        self._diag.publish(diag.build(diag.LIFECYCLE_MANAGER, values, self.get_clock().now().to_msg(),
                                      level, message, self.get_fully_qualified_name()))

    # -- services ------------------------------------------------------------------------
    def _run_cycle(self, timeout_s: float) -> None:
        """Wake the worker and wait for a full check cycle that starts after this call."""
        with self._cycle:
            # a cycle already under way may have planned before this request: wait for the next
            target = self._cycles_done + (2 if self._busy else 1)
            self._wake = True
            self._cycle.notify_all()
            self._cycle.wait_for(lambda: self._cycles_done >= target or not self._running, timeout_s)

    def _answer(self, response, want_level0: str):
        self._run_cycle(self.cfg.check_period_s + len(self.cfg.node_names)
                        * (self.cfg.bond_timeout_s + 2 * self.cfg.transition_timeout_s))
        with self._lock:
            level, message, _ = self.sup.summary()
        response.success = level == 0
        response.message = message if level else want_level0
        return response

    def _on_startup(self, _request, response):
        self.get_logger().info("startup requested")
        with self._lock:
            self.sup.request_startup()
        return self._answer(response, "all nodes active")

    def _on_shutdown(self, _request, response):
        self.get_logger().info("shutdown requested")
        with self._lock:
            self.sup.request_shutdown()
        return self._answer(response, "all nodes down")


def main(args=None) -> int:
    executors = []

    def run(node: LifecycleManager) -> None:
        executor = MultiThreadedExecutor(num_threads=4)
        executors.append(executor)
        executor.add_node(node)
        node.start()
        executor.spin()

    def stop(node: LifecycleManager) -> None:
        node.stop()
        for executor in executors:
            executor.shutdown(timeout_sec=DESTROY_TIMEOUT_S)

    return spin_main(LifecycleManager, args, run=run, stop=stop)


if __name__ == "__main__":
    sys.exit(main())
