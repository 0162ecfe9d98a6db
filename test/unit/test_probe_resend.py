"""RosProbe.call asks a query again when its answer does not come (testing/ros.py, QUERIES):
a server in a second rclpy context holds its first request past the resend interval and
answers the later ones at once. Real rclpy and DDS within one process, loopback only."""
from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("rclpy")

import rclpy  # noqa: E402
from rcl_interfaces.srv import GetParameters  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from world_model_planner.testing import ros  # noqa: E402
from world_model_planner.testing.ros import RosProbe  # noqa: E402

HOLD_S = 8.0


class _SlowFirst:
    """A node serving ``srv_type`` at ``name`` that holds the first request HOLD_S seconds."""

    def __init__(self, domain_id: int, srv_type, name: str, reply):
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node("slow_first_server", context=self.context)
        self.requests = 0
        self._release = threading.Event()

        def serve(request, response):
            self.requests += 1
            if self.requests == 1:
                self._release.wait(HOLD_S)
            return reply(response)

        self.node.create_service(srv_type, name, serve, callback_group=ReentrantCallbackGroup())
        self.executor = MultiThreadedExecutor(num_threads=3, context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def close(self):
        self._release.set()
        self.executor.shutdown(timeout_sec=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(5.0)


@pytest.fixture
def probe_in(ros_domain):
    p = RosProbe(ros_domain)
    try:
        yield p
    finally:
        p.close()


def test_a_query_is_asked_again_and_the_first_answer_wins(ros_domain, probe_in):
    server = _SlowFirst(ros_domain, GetParameters, "/slow/get_parameters", lambda r: r)
    try:
        t0 = time.monotonic()
        res = probe_in.call(GetParameters, "/slow/get_parameters", GetParameters.Request(names=["x"]),
                            timeout=HOLD_S - 2.0)
        assert isinstance(res, GetParameters.Response)
        assert server.requests >= 2                       # asked again
        assert ros.QUERY_RESEND_S <= time.monotonic() - t0 < HOLD_S   # not the held first answer
    finally:
        server.close()


def test_a_request_that_changes_something_is_not_sent_twice(ros_domain, probe_in):
    def reply(r):
        r.success = True
        return r

    server = _SlowFirst(ros_domain, Trigger, "/slow/trigger", reply)
    try:
        with pytest.raises(AssertionError, match="did not answer"):
            probe_in.call(Trigger, "/slow/trigger", Trigger.Request(), timeout=ros.QUERY_RESEND_S + 2.0)
        assert server.requests == 1
    finally:
        server.close()
