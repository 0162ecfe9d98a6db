"""Learned JEPA-style world model: encoders, predictor, heads, data, training, evaluation
(library, torch, no rclpy) and the thin world_model_node."""
