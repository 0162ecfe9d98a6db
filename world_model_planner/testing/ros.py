"""An in-process ROS 2 probe for tests and scripts: an rclpy node in its own context, spun in a
thread, that waits for messages instead of sleeping (RosProbe); parameter calls through it.
Node processes are in ``testing.processes``, the domain and environment in ``testing.domain``."""
from __future__ import annotations

import os
import threading
import time

from world_model_planner.testing.processes import NodeProcess


#: Service types whose request changes nothing, so a lost answer is safely asked for again.
QUERIES = frozenset({"GetParameters", "ListParameters", "DescribeParameters", "GetParameterTypes",
                     "GetState", "GetAvailableStates", "GetAvailableTransitions"})
QUERY_RESEND_S = 3.0


class RosProbe:
    """An in-test rclpy node in its own context, spun in a background thread."""

    def __init__(self, domain_id: int, name: str = "test_probe"):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._lock = threading.Lock()
        self.messages: dict[str, list] = {}
        self._stop = False
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        while not self._stop and self.context.ok():
            self.executor.spin_once(timeout_sec=0.05)

    def subscribe(self, topic: str, msg_type, qos=10):
        self.messages.setdefault(topic, [])

        def cb(msg, topic=topic):
            with self._lock:
                self.messages[topic].append((time.monotonic(), msg))

        return self.node.create_subscription(msg_type, topic, cb, qos)

    def received(self, topic: str) -> list:
        with self._lock:
            return [m for _, m in self.messages.get(topic, [])]

    def clear(self, topic: str):
        with self._lock:
            self.messages[topic] = []

    def wait_for(self, topic: str, predicate=lambda msgs: len(msgs) > 0, timeout: float = 20.0,
                 proc: NodeProcess | None = None, resend=None, resend_s: float = 2.0):
        """Wait until ``predicate(messages so far)`` holds; fail with the node's log if not.

        resend: called every ``resend_s`` s while waiting, e.g. to publish a goal again. A volatile
        subscription that the publisher has matched may not yet have matched the publisher, and
        then drops a message sent once; ``wmp run`` re-sends its goal the same way."""
        deadline = time.monotonic() + timeout
        sent = time.monotonic()
        while time.monotonic() < deadline:
            msgs = self.received(topic)
            if predicate(msgs):
                return msgs
            if resend is not None and time.monotonic() - sent >= resend_s:
                resend()
                sent = time.monotonic()
            if proc is not None and not proc.alive():
                raise AssertionError(f"{proc.args[0]} exited ({proc.proc.returncode}):\n{proc.log()[-3000:]}")
            time.sleep(0.02)
        log = f"\n--- node log ---\n{proc.log()[-3000:]}" if proc is not None else ""
        raise AssertionError(f"timed out after {timeout}s waiting on {topic} "
                             f"({len(self.received(topic))} messages){log}")

    def wait_until(self, what: str, cond, timeout: float = 20.0):
        """Wait until ``cond()`` is true; fail naming ``what`` if it is not within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.05)

    def wait_for_subscribers(self, publisher, count: int = 1, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while publisher.get_subscription_count() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no subscriber on {publisher.topic_name} after {timeout}s")
            time.sleep(0.02)

    def call(self, srv_type, name: str, request, timeout: float = 20.0, resend_after: float | None = None):
        """Call a service and wait for its answer.

        ``resend_after`` (idempotent queries only, such as get_state): send the request again when
        no answer came within that many seconds. A DDS service may drop its first response when it
        has not yet matched the client's response reader (a known discovery race that a loaded
        machine widens); the first answer to any of the requests wins. Queries that change
        nothing (``QUERIES``: the parameter and lifecycle state services) resend after
        ``QUERY_RESEND_S`` unless told otherwise."""
        if resend_after is None and getattr(srv_type, "__name__", "") in QUERIES:
            resend_after = QUERY_RESEND_S
        client = self.node.create_client(srv_type, name)
        if not client.wait_for_service(timeout_sec=timeout):
            raise AssertionError(f"service {name} not available after {timeout}s")
        futures = [client.call_async(request)]
        start = time.monotonic()
        deadline, sent = start + timeout, start
        while not any(f.done() for f in futures):
            now = time.monotonic()
            if now > deadline:
                raise AssertionError(f"service {name} did not answer in {timeout}s "
                                     f"({len(futures)} request(s) sent)")
            if resend_after is not None and now - sent > resend_after:
                futures.append(client.call_async(request))
                sent = now
            time.sleep(0.01)
        return next(f for f in futures if f.done()).result()

    def close(self):
        import rclpy

        self._stop = True
        self._thread.join(2.0)
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def set_params(probe, node: str, **values):
    """Set parameters of ``node`` through its ~/set_parameters service (``a__b`` names ``a.b``);
    returns the SetParametersResult list."""
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    params = []
    for name, value in values.items():
        pv = ParameterValue()
        if isinstance(value, bool):
            pv.type, pv.bool_value = ParameterType.PARAMETER_BOOL, value
        elif isinstance(value, float):
            pv.type, pv.double_value = ParameterType.PARAMETER_DOUBLE, value
        elif isinstance(value, int):
            pv.type, pv.integer_value = ParameterType.PARAMETER_INTEGER, value
        else:
            pv.type, pv.string_value = ParameterType.PARAMETER_STRING, str(value)
        params.append(Parameter(name=name.replace("__", "."), value=pv))
    return probe.call(SetParameters, f"/{node}/set_parameters", SetParameters.Request(parameters=params)).results
