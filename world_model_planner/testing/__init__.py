"""Test support shared by the tests, scripts/ and `wmp run` (it may import every floor; nothing in
core or the domain packages imports it):

- ``domain``: DomainLease (a private ROS_DOMAIN_ID, held across processes), ros_env, StackError;
- ``processes``: NodeProcess (a node or `wmp` command with its own log), run_node_exit, PtyProc;
- ``ros``: RosProbe (an in-process rclpy node that waits for messages), set_params;
- ``sensors``: SensorFeed (odom/scan that can corrupt or flood), goals, lifecycle calls, diagnostics;
- ``stack``: `wmp` as a process for end-to-end tests (run_wmp, needs_stack);
- ``load``: the load-fault runs behind scripts/fault_load_report.py and test_fault_load;
- ``memory``: peak RSS (VmHWM) and RLIMIT_AS caps for bomb victims;
- ``bombs``, ``recordings``, ``scenarios``, ``models``: hostile and well-formed inputs made in tests;
- ``toyworld``: an analytic world for planner tests and scripts/bench_planner.py.
"""
