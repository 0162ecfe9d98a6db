"""lifecycle_manager: decision rules (pure) and bring-up / loss / restart / shutdown over real
processes. The managed nodes are tiny rclpy lifecycle nodes started from this file
(`python test_lifecycle_manager.py NAME [--fail-configure]`)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from world_model_planner.testing.processes import NodeProcess
from world_model_planner.core.lifecycle_core import (ACTIVATE, ACTIVE, CLEANUP, CONFIGURE, DEACTIVATE,
                                                INACTIVE, UNCONFIGURED, LifecycleManagerConfig,
                                                Supervisor)
from world_model_planner.core.params import ConfigError


# --------------------------------------------------------------------------- pure rules
def test_bringup_configures_all_then_activates_in_order():
    sup = Supervisor(["a", "b"], want_active=True)
    for n in ("a", "b"):
        sup.observe(n, UNCONFIGURED)
    assert sup.plan() == [("a", CONFIGURE), ("b", CONFIGURE), ("a", ACTIVATE), ("b", ACTIVATE)]
    sup.request_shutdown()
    sup.observe("a", ACTIVE)
    sup.observe("b", INACTIVE)
    assert sup.plan() == [("a", DEACTIVATE), ("b", CLEANUP), ("a", CLEANUP)]


def test_bringup_waits_for_earlier_nodes_and_failed_node_is_not_retried():
    sup = Supervisor(["a", "b", "c"], want_active=True)
    sup.observe("a", None)
    sup.observe("b", UNCONFIGURED)
    assert sup.plan() == []                      # b waits until a is there
    sup.observe("a", UNCONFIGURED)
    assert sup.plan() == [("a", CONFIGURE), ("b", CONFIGURE)]   # no activation while c is missing
    sup.observe("c", UNCONFIGURED)
    assert sup.plan() == [("a", CONFIGURE), ("b", CONFIGURE), ("c", CONFIGURE),
                          ("a", ACTIVATE), ("b", ACTIVATE), ("c", ACTIVATE)]
    sup.observe("c", None)
    sup.record_transition("a", CONFIGURE, ok=False, why="refused")
    assert sup.blocked("a") and sup.plan() == [("b", CONFIGURE)]
    level, message, values = sup.summary()
    assert level == 2 and "a" in message and values["c"] == "lost"


def test_loss_and_restart_are_detected():
    sup = Supervisor(["a"], want_active=True)
    sup.observe("a", ACTIVE)
    assert any("lost" in e for e in sup.observe("a", None))
    assert sup.summary()[0] == 1
    assert any("back" in e for e in sup.observe("a", UNCONFIGURED))
    assert sup.plan() == [("a", CONFIGURE), ("a", ACTIVATE)]
    # a restart faster than one check period: active, then unconfigured without a request
    sup.observe("a", ACTIVE)
    assert any("restarted" in e for e in sup.observe("a", UNCONFIGURED))


def test_config_validation():
    with pytest.raises(ConfigError, match="node_names"):
        LifecycleManagerConfig(node_names=[])
    with pytest.raises(ConfigError, match="unique"):
        LifecycleManagerConfig(node_names=["a", "a"])
    with pytest.raises(ConfigError, match="check_period_s"):
        LifecycleManagerConfig(check_period_s=0.0)


# --------------------------------------------------------------------------- processes
def _dummy(name: str, node_env, tmp_path: Path, fail_configure: bool = False) -> NodeProcess:
    args = [sys.executable, __file__, name] + (["--fail-configure"] if fail_configure else [])
    return NodeProcess(args, node_env, tmp_path / f"{name}.log")


def _manager(node_env, tmp_path, names, **params) -> NodeProcess:
    ros_args = ["-p", f"node_names:={names!r}".replace("'", '"'),
                "-p", "check_period_s:=0.2", "-p", "bond_timeout_s:=1.0"]
    for key, value in params.items():
        ros_args += ["-p", f"{key}:={value}"]
    return NodeProcess.executable("lifecycle_manager", ros_args, node_env, tmp_path)


def _status(msgs, name="lifecycle_manager"):
    """Latest DiagnosticStatus called ``name`` in the received arrays (or None)."""
    for msg in reversed(msgs):
        for st in msg.status:
            if st.name == name:
                return st
    return None


def _state(probe, node: str, timeout: float = 20.0) -> str:
    """The node's state label. A request sent before a restarted server is matched is lost
    (the old server may still be in the graph), so one unanswered call is retried."""
    from lifecycle_msgs.srv import GetState

    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe.call(GetState, f"/{node}/get_state", GetState.Request(),
                              timeout=2.0).current_state.label
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def _wait_message(probe, manager, text: str, timeout: float = 30.0):
    from diagnostic_msgs.msg import DiagnosticArray  # noqa: F401  (subscribed by caller)

    def ok(msgs):
        st = _status(msgs[-5:])
        return st is not None and text in st.message

    return _status(probe.wait_for("/diagnostics", ok, timeout=timeout, proc=manager))


def test_manager_brings_up_recovers_and_shuts_down(probe, node_env, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray
    from std_srvs.srv import Trigger

    probe.subscribe("/diagnostics", DiagnosticArray)
    alpha, beta = _dummy("alpha", node_env, tmp_path), _dummy("beta", node_env, tmp_path)
    manager = _manager(node_env, tmp_path, ["alpha", "beta"], autostart="true")
    try:
        st = _wait_message(probe, manager, "all nodes active")
        assert st.level == b"\x00" and {kv.key: kv.value for kv in st.values}["beta"] == "active"
        assert _state(probe, "alpha") == "active" and _state(probe, "beta") == "active"
        log = manager.log()
        assert log.index("configure 'alpha'") < log.index("configure 'beta'") < log.index("activate 'alpha'")

        beta.kill()
        st = _wait_message(probe, manager, "lost: beta")
        assert st.level == b"\x01"
        beta = _dummy("beta", node_env, tmp_path)  # restart resumes
        _wait_message(probe, manager, "all nodes active")
        assert _state(probe, "beta") == "active"
        assert "'beta' is back" in manager.log()

        resp = probe.call(Trigger, "/lifecycle_manager/shutdown", Trigger.Request())
        assert resp.success, resp.message
        assert _state(probe, "alpha") == "unconfigured" and _state(probe, "beta") == "unconfigured"
        resp = probe.call(Trigger, "/lifecycle_manager/startup", Trigger.Request())
        assert resp.success, resp.message
        assert _state(probe, "alpha") == "active"
        assert manager.alive()
    finally:
        for p in (manager, alpha, beta):
            p.stop()


def test_manager_reports_refused_configure_and_keeps_the_rest(probe, node_env, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray
    from std_srvs.srv import Trigger

    probe.subscribe("/diagnostics", DiagnosticArray)
    bad, good = _dummy("bad", node_env, tmp_path, fail_configure=True), _dummy("good", node_env, tmp_path)
    manager = _manager(node_env, tmp_path, ["bad", "good"], autostart="false")
    try:
        st = _wait_message(probe, manager, "all nodes down")  # autostart false: nothing happens
        assert _state(probe, "good") == "unconfigured"
        resp = probe.call(Trigger, "/lifecycle_manager/startup", Trigger.Request())
        assert not resp.success and "bad" in resp.message
        st = _wait_message(probe, manager, "transition failed: bad")
        assert st.level == b"\x02"
        assert _state(probe, "good") == "active" and _state(probe, "bad") == "unconfigured"
        assert "configure 'bad' failed" in manager.log()
        assert bad.alive() and manager.alive()
    finally:
        for p in (manager, bad, good):
            p.stop()


# --------------------------------------------------------------------------- dummy node
def _run_dummy(name: str, fail_configure: bool) -> None:
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

    class Dummy(LifecycleNode):
        def on_configure(self, state):
            self.get_logger().info("on_configure")
            return TransitionCallbackReturn.FAILURE if fail_configure else TransitionCallbackReturn.SUCCESS

    rclpy.init()
    node = Dummy(name)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def test_shipped_parameter_file_matches_the_declared_parameters():
    import dataclasses

    import yaml

    from world_model_planner.core import paths

    doc = yaml.safe_load((paths.config_dir() / "lifecycle_manager.yaml").read_text())
    values = doc["/**/lifecycle_manager"]["ros__parameters"]
    defaults = LifecycleManagerConfig()
    assert values == {f.name: getattr(defaults, f.name) for f in dataclasses.fields(LifecycleManagerConfig)}


if __name__ == "__main__":
    _run_dummy(sys.argv[1], "--fail-configure" in sys.argv)
