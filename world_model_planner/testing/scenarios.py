"""A valid scenario document and a way to derive broken ones from it (scenario and fault tests)."""
from __future__ import annotations

import yaml

DELETE = object()
"""A value for ``with_changes`` that removes the field."""

GOOD = {
    "name": "t_ok",
    "robot": "husky",
    "arena": [8.0, 6.0],
    "obstacles": [{"box": {"center": [1.0, 0.0], "size": [0.2, 2.0], "yaw": 0.3}},
                  {"cylinder": {"center": [-1.0, 2.0], "radius": 0.3}}],
    "start": {"x": -2.5, "y": 0.0, "yaw": 0.0},
    "goal": {"x": 2.5, "y": 0.0, "tolerance": 0.3},
    "time_limit": 30.0,
}


def with_changes(**changes):
    """A deep copy of GOOD with the given top-level fields replaced (or removed: ``DELETE``)."""
    d = yaml.safe_load(yaml.safe_dump(GOOD))
    for key, value in changes.items():
        if value is DELETE:
            del d[key]
        else:
            d[key] = value
    return d

