"""Teleoperation, command arbitration (mux), session recording and comparison reports."""
