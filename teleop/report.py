"""`wmp compare` report: one self-contained HTML file (PNG plots embedded as base64, no
external resources) comparing sessions, plus the numbers as embedded JSON
(``<script type="application/json" id="wmp-compare-data">``) for scripts and tests.

This module never imports rclpy.
"""
from __future__ import annotations

import base64
import datetime
import html
import io
import json
import math
import re
from pathlib import Path

import numpy as np

from world_model_planner.core import diagnostics as diag
from world_model_planner.core.safeio import InputError, atomic_write_text, clip

from world_model_planner.teleop.compare import METRIC_KEYS, differences, open_loop_errors, session_metrics
from world_model_planner.teleop.session_data import SessionData, load_session

PERSON_MODES = ("teleop", "shared")
_LABELS = {"success": "success", "time_s": "time [s]", "path_length_m": "path length [m]",
           "spl": "SPL", "collisions": "collisions", "min_clearance_m": "min clearance [m]",
           "mean_abs_jerk_mps3": "mean |jerk| [m/s³]", "time_stopped_s": "time stopped [s]",
           "interventions": "interventions"}


_SCENARIO_NAME = re.compile(r"^[a-z0-9_]{1,64}$")


def _scenario_for(data: SessionData, override: str | None):
    """The scenario to evaluate ``data`` against: ``override`` (the user's --scenario, a name or
    a file), else the recording's metadata, which is data: only a built-in scenario *name*
    ([a-z0-9_]+) is looked up, never a path (a name that is not built in gives None)."""
    from world_model_planner.sim.scenario import builtin_scenarios, load_scenario

    if override:
        return load_scenario(override)
    name = data.meta.get("scenario", "")
    if not isinstance(name, str) or not _SCENARIO_NAME.match(name) or name not in builtin_scenarios():
        return None
    return load_scenario(name)


def scenario_note(data: SessionData) -> str:
    """Why the recording's metadata scenario was not used ('' when it was, or there is none)."""
    name = data.meta.get("scenario", "")
    if not name:
        return ""
    from world_model_planner.sim.scenario import builtin_scenarios

    if _SCENARIO_NAME.match(name) and name in builtin_scenarios():
        return ""
    return (f"{Path(data.path).name}: the recorded scenario {clip(name, 40)} is not a built-in "
            "scenario name; using the recorded /goal_pose (pass --scenario for the map)")


def evaluate(data: SessionData, scenario) -> dict:
    """Metrics of one loaded session against its scenario (goal from the scenario, else the
    recorded /goal_pose)."""
    from world_model_planner.core import metrics as em

    if scenario is not None:
        goal, tol = (scenario.goal.x, scenario.goal.y), float(scenario.goal.tolerance)
    elif data.goal is not None:
        goal, tol = data.goal, 0.3
    else:
        raise InputError(f"{data.path}: no usable scenario in the metadata and no /goal_pose "
                         "recorded; pass --scenario")
    t0 = data.goal_t_s if data.goal_t_s is not None and data.goal_t_s >= data.odom[0, 0] else None
    start_xy = tuple(data.odom[int(np.searchsorted(data.odom[:, 0], (t0 or data.odom[0, 0]) - 1e-9)), 1:3]) \
        if len(data.odom) else None
    shortest = em.shortest_path_m(scenario, start_xy) if scenario is not None else None

    def diag_series(key: diag.Key):
        values = ((t, key.read(d, finite=False)) for t, d in data.sim_diag)
        return [(t, v) for t, v in values if v is not None]
    return session_metrics(data.odom, goal, tol, shortest, t0_s=t0,
                           collisions=diag_series(diag.SIM.collisions),
                           clearances=diag_series(diag.SIM.clearance_m),
                           interventions=data.interventions)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_trajectories(sessions, scenario) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from world_model_planner.sim.plotting import plain_legend

    fig, ax = plt.subplots(figsize=(6.5, 6.0))
    if scenario is not None:
        from world_model_planner.sim.plotting import draw_scenario
        draw_scenario(ax, scenario)
    for data, m in sessions:
        w = data.odom[(data.odom[:, 0] >= m["t_start_s"] - 1e-9) & (data.odom[:, 0] <= m["t_end_s"] + 1e-9)]
        ax.plot(w[:, 1], w[:, 2], lw=2, label=data.label)
    plain_legend(ax, loc="best", fontsize=8)
    ax.set_aspect("equal")
    fig.tight_layout()
    s = _png(fig)
    plt.close(fig)
    return s


def plot_speed_heading(sessions) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from world_model_planner.sim.plotting import plain_legend

    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
    for data, m in sessions:
        w = data.odom[(data.odom[:, 0] >= m["t_start_s"] - 1e-9) & (data.odom[:, 0] <= m["t_end_s"] + 1e-9)]
        t = w[:, 0] - m["t_start_s"]
        a1.plot(t, w[:, 4], label=data.label)
        a2.plot(t, np.degrees(np.unwrap(w[:, 3])), label=data.label)
    a1.set_ylabel("speed v [m/s]")
    a2.set_ylabel("heading [deg]")
    a2.set_xlabel("time since goal [s]")
    plain_legend(a1, fontsize=8)
    for a in (a1, a2):
        a.grid(alpha=0.3)
    fig.tight_layout()
    s = _png(fig)
    plt.close(fig)
    return s


def _fmt(k, v) -> str:
    if v is None:
        return "–"
    if k == "success":
        return "yes" if v else "no"
    if k in ("collisions", "interventions"):
        return str(int(v))
    return f"{v:.3f}" if isinstance(v, float) and math.isfinite(v) else str(v)


def _fmt_diff(k, v) -> str:
    if v is None:
        return "–"
    if k in ("success", "collisions", "interventions"):
        return f"{v:+.0f}"
    return f"{v:+.3f}"


def build_report(paths: list[str], out: str, model_path: str | None = None,
                 scenario_name: str | None = None, device: str | None = None, topics=None) -> dict:
    """Load sessions (``topics``: core.bag_io.TopicMap for bags with other topic names), compute
    metrics and model errors, write the HTML. Returns the data."""
    datas = [load_session(p, topics=topics) for p in paths]
    scenario = _scenario_for(datas[0], scenario_name)
    evaluated = [(d, evaluate(d, _scenario_for(d, scenario_name) or scenario)) for d in datas]
    model, model_note = None, ""
    if model_path:
        try:
            from world_model_planner.world_model_node.checkpoint import load_checkpoint
            model = load_checkpoint(model_path, device=device)
            model_note = f"model: {model_path}"
        except ModuleNotFoundError as exc:
            model_note = f"no prediction check: the world model needs {exc.name!r}, which is not installed"
        except Exception as exc:  # noqa: BLE001 - a bad checkpoint must not lose the report
            model_note = f"could not load model {model_path}: {clip(str(exc), 200)}"
    else:
        model_note = "No world model was given (--model), so no prediction check was made."
    rows = []
    for d, m in evaluated:
        pred = None
        if model is not None and len(d.scans):
            try:
                pred = open_loop_errors(model, d.odom, d.scan_t, d.scans, d.cmds["/cmd_vel"],
                                        t_window=(m["t_start_s"], m["t_end_s"]))
            except ValueError as exc:  # e.g. the recording's scan layout is not the model's
                model_note += f"; {d.label}: no prediction ({exc})"
        rows.append({"path": d.path, "label": d.label, "mode": d.mode, "operator": d.meta.get("operator", ""),
                     "meta": d.meta, "metrics": m, "prediction": pred})
    planners = [r for r in rows if r["mode"] == "planner"]
    diffs = []
    if planners:
        ref = planners[0]
        for r in rows:
            if r["mode"] in PERSON_MODES:
                diffs.append({"planner": ref["label"], "person": r["label"],
                              "planner_minus_person": differences(ref["metrics"], r["metrics"])})
    notes = [n for n in (scenario_note(d) for d in datas) if n and not scenario_name]
    notes += [f"{Path(d.path).name}: {d.recovery}" for d in datas if d.recovery]
    notes += [f"{Path(d.path).name}: the recorder flagged {d.validation['invalid']} invalid messages "
              f"(last: {clip(d.validation.get('last_reason', ''), 120)})"
              for d in datas if d.validation.get("invalid", "0") not in ("0", "")]
    notes += [f"{Path(d.path).name}: skipped invalid messages: "
              + ", ".join(f"{k} {v}" for k, v in sorted(d.invalid.items())) for d in datas if d.invalid]
    data = {"sessions": rows, "differences": diffs, "model": model_path if model else None,
            "model_note": model_note, "scenario": getattr(scenario, "name", None), "notes": notes}
    sessions = [(d, m) for d, m in evaluated]
    html_text = render_html(data, plot_trajectories(sessions, scenario), plot_speed_heading(sessions))
    atomic_write_text(out, html_text)
    return data


def render_html(data: dict, traj_png: str, speed_png: str) -> str:
    e = html.escape
    head = "".join(f"<th>{e(_LABELS[k])}</th>" for k in METRIC_KEYS)
    body = []
    for r in data["sessions"]:
        cells = "".join(f"<td>{_fmt(k, r['metrics'].get(k))}</td>" for k in METRIC_KEYS)
        body.append(f"<tr><td>{e(r['label'])}</td>{cells}</tr>")
    for dd in data["differences"]:
        cells = "".join(f"<td>{_fmt_diff(k, dd['planner_minus_person'].get(k))}</td>" for k in METRIC_KEYS)
        body.append(f"<tr class='diff'><td>planner − person: {e(dd['person'])}</td>{cells}</tr>")
    pred_rows = []
    for r in data["sessions"]:
        p = r["prediction"]
        if not p:
            continue
        cells = "".join(
            f"<td>{_fmt('', p[h]['mean_m'])}</td><td>{_fmt('', p[h]['median_m'])}</td><td>{p[h]['n']}</td>"
            for h in ("1.0", "2.0"))
        pred_rows.append(f"<tr><td>{e(r['label'])}</td>{cells}</tr>")
    if pred_rows:
        pred = (f"<p>{e(data['model_note'])}. Open-loop: from recorded observations, the model "
                "rolls out under the recorded /cmd_vel (the person's commands in teleop sessions) "
                "and its predicted position is compared with the recorded odometry.</p>"
                "<table><tr><th>session</th><th>mean error 1 s [m]</th><th>median 1 s [m]</th><th>n</th>"
                "<th>mean error 2 s [m]</th><th>median 2 s [m]</th><th>n</th></tr>"
                + "".join(pred_rows) + "</table>")
    else:
        pred = f"<p class='note'><b>{e(data['model_note'])}</b></p>"
    blob = json.dumps(data, default=float).replace("</", "<\\/")
    when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Session comparison</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:70em}}table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #bbb;padding:.25em .5em;text-align:right}}td:first-child{{text-align:left}}
tr.diff{{background:#eef}}.note{{background:#ffe;padding:.5em}}img{{max-width:100%}}</style></head>
<body><h1>Session comparison{(': ' + e(data['scenario'])) if data['scenario'] else ''}</h1>
<p>Generated {when} from {len(data['sessions'])} recording(s). Times are simulated seconds from the goal.</p>
{''.join(f"<p class='note'>{e(n)}</p>" for n in data.get('notes', []))}
<h2>Metrics</h2><table><tr><th>session</th>{head}</tr>{''.join(body)}</table>
<h2>Trajectories</h2><img alt="trajectories" src="data:image/png;base64,{traj_png}">
<h2>Speed and heading</h2><img alt="speed and heading" src="data:image/png;base64,{speed_png}">
<h2>World model: open-loop prediction of the recorded commands</h2>{pred}
<script type="application/json" id="wmp-compare-data">{blob}</script>
</body></html>
"""


def read_report_data(path: str) -> dict:
    """The JSON embedded in a report (for scripts and tests)."""
    text = Path(path).read_text()
    start = text.index('id="wmp-compare-data">') + len('id="wmp-compare-data">')
    end = text.index("</script>", start)
    return json.loads(text[start:end].replace("<\\/", "</"))
