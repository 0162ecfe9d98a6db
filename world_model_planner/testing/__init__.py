"""Test support shared by the tests, scripts/ and `wmp run`: ROS domain leases, node processes
and probes, sensor feeds, and the toy world used by planner tests."""
