"""The ground floor: parameters, paths, runtime, ROS conversions, diagnostics, I/O and math.

Imports nothing from the floors above (the domain packages and app/).
"""
