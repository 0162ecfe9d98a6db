"""Hierarchical planning: sampling MPC (MPPI/CEM), critics, subgoal planner (library, torch,
no rclpy) and the thin planner_node."""
