"""`wmp session`'s own checks, without a stack: --gui without a display, the summary's time
ratio, and --compare-with-planner when the planner session yields no metrics."""
import argparse

import pytest

from world_model_planner.app import session as session_mod
from world_model_planner.app import session_cli
from world_model_planner.app.stack_cli import _gui_ok


def test_gui_without_a_display_falls_back_with_a_note(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert _gui_ok(True) is False
    assert "--gui: no display" in capsys.readouterr().err
    assert _gui_ok(False) is False
    assert capsys.readouterr().err == ""          # no note when --gui was not asked for
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert _gui_ok(True) is True


def _metrics(success=True, time_s=14.0, ratio=2.1):
    return {"success": success, "time_s": time_s, "path_length_m": 6.7, "collisions": 0, "spl": 0.99,
            "interventions": 0, "time_ratio": ratio}


def test_summary_prints_the_time_ratio(capsys):
    summary = {"metrics": _metrics(), "end_reason": "reached", "time_limit_s": 60.0, "recording": "r"}
    session_cli.print_summary(summary)
    assert "time ratio 2.10 (this time / the shortest path" in capsys.readouterr().out
    summary["metrics"] = _metrics(success=False, ratio=None)
    session_cli.print_summary(summary)
    assert "time ratio n/a" in capsys.readouterr().out


def test_time_ratio_is_time_over_the_shortest_path_at_top_speed():
    from world_model_planner.core.robot_config import load_robot
    from world_model_planner.sim.scenario import load_scenario

    sc = load_scenario("open")
    v_max = load_robot(sc.robot).v_max_mps
    m = {"success": True, "time_s": 12.0, "shortest_path_m": 6.0}
    assert session_mod._time_ratio(m, sc) == pytest.approx(12.0 / (6.0 / v_max))
    assert session_mod._time_ratio(dict(m, success=False), sc) is None
    assert session_mod._time_ratio(m, None) is None


def test_compare_with_planner_without_planner_metrics_is_one_line_and_exit_1(monkeypatch, capsys, tmp_path):
    """The planner session ended before it gave metrics: a clear line, exit 1, no report."""
    calls = []

    def no_metrics(opts):
        calls.append(opts)
        return {"recording": str(tmp_path / "open_planner_planner_x"), "metrics": None,
                "metrics_error": "no /odom after the goal", "end_reason": "time_limit"}

    monkeypatch.setattr(session_mod, "run_session", no_metrics)
    args = argparse.Namespace(planner="classic", scenario="open", out=str(tmp_path), seed=3, model=None,
                              time_limit=None)
    person = {"recording": str(tmp_path / "open_teleop_alice_x"), "metrics": _metrics()}
    assert session_cli._compare_with_planner(args, person) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no metrics (no /odom after the goal)" in err and "classic" in err
    assert calls[0].mode == "planner" and calls[0].planner == "classic" and calls[0].seed == 3
    assert not list(tmp_path.glob("*.html"))
