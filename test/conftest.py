"""Shared fixtures: every ROS test runs in its own DDS domain, discovery limited to localhost.

Tests live in lanes by area, each a directory and a marker (setup.cfg): unit (pure library, fast:
`make test-fast`), nodes (one real node process or rclpy context at a time), faults (fault
injection and hostile input), stack (end to end). The lane marker is applied from the directory."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_LOG_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "wmp-ros-log"))

from world_model_planner.testing.domain import DomainLease, ros_env  # noqa: E402
from world_model_planner.testing.processes import stop_leftovers  # noqa: E402
from world_model_planner.testing.ros import RosProbe  # noqa: E402

LANES = ("unit", "nodes", "faults", "stack")


def pytest_collection_modifyitems(config, items):
    """Mark each test with its lane: the directory under test/ it lives in."""
    root = Path(__file__).resolve().parent
    for item in items:
        try:
            lane = Path(str(item.fspath)).resolve().relative_to(root).parts[0]
        except ValueError:
            continue
        if lane in LANES:
            item.add_marker(getattr(pytest.mark, lane))


@pytest.fixture(autouse=True)
def no_leftover_processes():
    """After each test, stop any node process it started and did not stop itself."""
    yield
    left = stop_leftovers()
    if left:
        print(f"[teardown] stopped processes left running: {', '.join(left)}")


@pytest.fixture
def ros_domain():
    """A private ROS_DOMAIN_ID, held exclusively for the duration of the test; the test's
    leftover processes are stopped before the domain is handed back."""
    lease = DomainLease()
    try:
        yield lease.domain_id
    finally:
        stop_leftovers()
        lease.release()


@pytest.fixture
def node_env(ros_domain):
    """Environment for node processes: private domain, localhost discovery."""
    return ros_env(ros_domain)


@pytest.fixture
def probe(ros_domain):
    p = RosProbe(ros_domain)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture(scope="module")
def model():
    """A seeded, untrained world model for 180-beam scans (the nodes' and fault tests' default)."""
    from world_model_planner.testing.models import tiny_model

    return tiny_model()


@pytest.fixture(scope="module")
def ckpt(model, tmp_path_factory):
    """``model`` saved as a checkpoint file: the tiny checkpoint node processes load."""
    from world_model_planner.testing.models import tiny_checkpoint

    return tiny_checkpoint(tmp_path_factory.mktemp("wm"), model)
