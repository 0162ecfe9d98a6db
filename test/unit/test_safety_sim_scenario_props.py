"""Property tests for the scenario parser (issue 10, item 6): whatever the text of a file, and
whatever value sits in any field, the loader returns a Scenario or raises ScenarioError with one
short line; never another exception, never slowly.

Before: a list as ``robot`` raised TypeError (unhashable), an int of 400 digits OverflowError,
deep nesting RecursionError, a date such as 2001-02-30 ValueError; an alias bomb's error echoed
hundreds of MB.
"""
from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from world_model_planner.sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from world_model_planner.testing.scenarios import GOOD

MAX_MESSAGE = 800
MAX_SECONDS = 3.0

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=10 ** 300, max_value=10 ** 500), st.integers(-5, 300),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-300.0, 300.0),
    st.sampled_from([1e308, -1e308, 1e-320, 0.0, -0.0, 0.04, 0.3, 3600.0, 3600.5]),
    st.text(max_size=30), st.sampled_from(["husky", "open", "box", "cylinder", "x" * 5000]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(
        ["x", "y", "yaw", "center", "size", "radius", "box", "cylinder", "tolerance"])), inner, max_size=4),
), max_leaves=12)

#: Paths into GOOD where a hostile value is put (top-level fields and nested ones).
FIELDS = [("name",), ("robot",), ("arena",), ("obstacles",), ("start",), ("goal",), ("time_limit",),
          ("description",), ("arena", 0), ("arena", 1), ("start", "x"), ("start", "yaw"),
          ("goal", "y"), ("goal", "tolerance"), ("obstacles", 0), ("obstacles", 0, "box"),
          ("obstacles", 0, "box", "center"), ("obstacles", 0, "box", "size", 1),
          ("obstacles", 0, "box", "yaw"), ("obstacles", 1, "cylinder", "radius"),
          ("obstacles", 1, "cylinder", "center", 0), ("colour",)]


@pytest.fixture(scope="module")
def props_dir(tmp_path_factory) -> Path:
    """One folder for the module's files (module scope: hypothesis runs many examples per test)."""
    return tmp_path_factory.mktemp("scenario-props")


def _check(call):
    t0 = time.monotonic()
    try:
        sc = call()
    except ScenarioError as exc:
        msg = str(exc)
        assert len(msg) < MAX_MESSAGE and "\n" not in msg, (len(msg), msg[:300])
        sc = None
    took = time.monotonic() - t0
    assert took < MAX_SECONDS, took
    if sc is not None:
        assert isinstance(sc, Scenario)
        assert all(math.isfinite(v) and 1.0 <= v <= 200.0 for v in sc.arena)
        assert 1.0 <= sc.time_limit_s <= 3600.0 and 0.05 <= sc.goal.tolerance <= min(sc.arena) / 4
        assert len(sc.obstacles) <= 5000


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=values)
def test_any_value_in_any_field_gives_a_scenario_or_a_short_scenario_error(field, value):
    doc = copy.deepcopy(GOOD)
    target = doc
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    _check(lambda: parse_scenario(doc, source="props.yaml"))


_TOKENS = ["name: ", "robot: ", "arena: ", "obstacles:\n", "start: ", "goal: ", "time_limit: ",
           "description: ", "husky", "t_ok", "[", "]", "{", "}", ", ", ": ", "\n", "  ", "- ",
           "&a ", "*a", "&b ", "*b", "x: ", "y: ", "yaw: ", "tolerance: ", "box: ", "cylinder: ",
           "center: ", "size: ", "radius: ", "1.0e+308", "-3.5", "3.5", "0.3", "9" * 400, ".nan",
           ".inf", "2001-02-30", "!!binary AAA", "!!python/object:os.system", "? ", "|\n", "'",
           '"', "#", "%YAML 1.1\n", "---\n", "...\n", "\t", "\x00", "é", "<<: *a\n"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join),
                 st.text(max_size=300),
                 st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_any_text_gives_a_scenario_or_a_short_scenario_error(props_dir, text):
    path = props_dir / "props.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    _check(lambda: load_scenario(path))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(["name", "arena", "obstacles", "description", "start"]),
       levels=st.integers(2, 9), fan=st.integers(2, 12), depth=st.integers(0, 3000))
def test_alias_bombs_and_deep_nesting_anywhere_are_refused_fast(props_dir, field, levels, fan, depth):
    parts = ["&a0 [" + ",".join(['"lol"'] * fan) + "]"]
    parts += [f"&a{k} [" + ",".join([f"*a{k - 1}"] * fan) + "]" for k in range(1, levels)]
    doc = dict(copy.deepcopy(GOOD))
    text = yaml.safe_dump({k: v for k, v in doc.items() if k != field})
    text += f"{field}: [{', '.join(parts)}, " + "[" * depth + "]" * depth + "]\n"
    path = props_dir / "bomb.yaml"
    path.write_text(text)
    _check(lambda: load_scenario(path))
