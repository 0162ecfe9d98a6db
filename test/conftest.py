"""Shared fixtures: every ROS test runs in its own DDS domain, discovery limited to localhost."""
from __future__ import annotations

import os

import pytest

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_LOG_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "wmp-ros-log"))

from rostest_utils import DomainLease, RosProbe, ros_env  # noqa: E402


@pytest.fixture
def ros_domain():
    """A private ROS_DOMAIN_ID, held exclusively for the duration of the test."""
    lease = DomainLease()
    try:
        yield lease.domain_id
    finally:
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
