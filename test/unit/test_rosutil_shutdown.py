"""spin_main's shutdown race: which exceptions at Ctrl-C are the normal end of a node (no
traceback in its log) and which are errors. Real rclpy contexts."""
from __future__ import annotations

import os

import rclpy
from rclpy.context import Context

from world_model_planner.core.rosutil import shutdown_race


def _raise_from(filename: str, exc: BaseException) -> BaseException:
    """``exc`` raised by code whose innermost frame is in ``filename``."""
    code = compile("raise exc", filename, "exec")
    try:
        exec(code, {"exc": exc})
    except BaseException as caught:  # noqa: BLE001 - the exception under test
        return caught
    raise AssertionError("nothing raised")


def test_a_runtime_error_from_rclpy_is_the_shutdown_race_only_once_the_context_is_down():
    in_rclpy = os.path.join(os.path.dirname(rclpy.__file__), "executors.py")
    ctx = Context()
    rclpy.init(context=ctx)
    take = _raise_from(in_rclpy, RuntimeError("Unable to convert call argument '0' to Python object"))
    ours = _raise_from(__file__, RuntimeError("a bug of ours"))
    other = _raise_from(in_rclpy, ValueError("not a shutdown"))
    try:
        assert not shutdown_race(take, ctx)          # the context is up: a real error
    finally:
        rclpy.shutdown(context=ctx)
    assert shutdown_race(take, ctx)                  # taking a message as the context went down
    assert not shutdown_race(ours, ctx)              # our own RuntimeError is never swallowed
    assert not shutdown_race(other, ctx)
    rcl_error = type("RCLError", (RuntimeError,), {})("publisher's context is invalid")
    assert shutdown_race(rcl_error, ctx)             # as before: rclpy's RCLError after shutdown


def test_a_node_whose_constructor_raised_is_destroyed_before_the_context_goes_down(capfd):
    """A node constructor that raises (a bad parameter or scenario: exit 2) leaves its half-built
    node in reference cycles; spin_main collects it while the context is still up, not at
    interpreter exit after the context, where destroying its entities is unsafe."""
    import weakref

    from rclpy.node import Node
    from std_msgs.msg import Empty

    from world_model_planner.core.params import ConfigError
    from world_model_planner.core.rosutil import spin_main

    seen = []

    class Refusing(Node):
        def __init__(self):
            super().__init__("refusing_node")
            self.add_on_set_parameters_callback(self._on_params)    # node -> callback -> node
            self.create_publisher(Empty, "refusing_topic", 1)
            weakref.finalize(self, lambda: seen.append(rclpy.ok()))
            raise ConfigError("parameter 'x': expected a number")

        def _on_params(self, params):
            return None

    assert spin_main(Refusing, [], label="refusing_node: ") == 2
    assert "[error] refusing_node: parameter 'x': expected a number" in capfd.readouterr().err
    assert seen == [True]          # finalised once, with the context still up
    assert not rclpy.ok()
