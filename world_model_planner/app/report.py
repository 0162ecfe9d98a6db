"""Benchmark and demo reports: results JSON, Markdown tables, trajectory PNGs over the map.

No rclpy. Matplotlib is imported inside the plotting function (Agg backend, headless); text
taken from episodes (scenario and planner names) is drawn literally, never as mathtext. Every
file is written atomically (temporary file, fsync, rename), so a crash or a full disk leaves the
previous report or none, never half of one.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

from world_model_planner.core.metrics import summarize
from world_model_planner.core.paths import file_stem
from world_model_planner.core.safeio import atomic_path, atomic_write_text

COLUMNS = [  # (key, header, format)
    ("success_rate", "success", "{:.0%}"),
    ("spl", "SPL", "{:.2f}"),
    ("time_ratio", "time ratio", "{:.2f}"),
    ("time_s", "time [s]", "{:.1f}"),
    ("path_length_m", "path [m]", "{:.1f}"),
    ("collision_rate", "collision rate", "{:.0%}"),
    ("plan_hz", "plan rate [Hz]", "{:.1f}"),
    ("reverse_max_m", "max reverse [m]", "{:.1f}"),
    ("recoveries", "recoveries", "{:d}"),
    ("recoveries_resolved", "resolved", "{:d}"),
]


def group(episodes: list[dict]) -> "OrderedDict[tuple[str, str], list[dict]]":
    """Episodes by (scenario, planner), in first-seen order."""
    out: OrderedDict = OrderedDict()
    for e in episodes:
        out.setdefault((e["scenario"], e["planner"]), []).append(e)
    return out


def summary_rows(episodes: list[dict]) -> list[dict]:
    return [{"scenario": s, "planner": p, **summarize(eps)} for (s, p), eps in group(episodes).items()]


#: The BARN Challenge's score, shown where an episode has one (BARN scenarios).
BARN_COLUMN = ("barn_score", "BARN score", "{:.3f}")


def _fmt(value, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def markdown_table(episodes: list[dict]) -> str:
    """Per scenario × planner: success rate, SPL, time, path length, collision rate, plan
    rate (time and path over successful episodes), plus an 'all' row per planner."""
    rows = summary_rows(episodes)
    planners = list(OrderedDict.fromkeys(e["planner"] for e in episodes))
    for p in planners:
        eps = [e for e in episodes if e["planner"] == p]
        if len({e["scenario"] for e in eps}) > 1:
            rows.append({"scenario": "**all**", "planner": p, **summarize(eps)})
    barn = [e for e in episodes if e.get("barn_score") is not None]
    columns = COLUMNS + [BARN_COLUMN] if barn else COLUMNS
    head = "| scenario | planner | episodes | " + " | ".join(h for _, h, _ in columns) + " |"
    lines = [head, "|" + "---|" * (3 + len(columns))]
    for r in rows:
        cells = [r["scenario"], r["planner"], str(r["episodes"])]
        cells += [_fmt(r.get(k), f) for k, _, f in columns]
        lines.append("| " + " | ".join(cells) + " |")
    if barn:
        lines += ["", "BARN score = success x t_opt / clip(t, 2 t_opt, 8 t_opt), t_opt = reference "
                  "length / 2 m/s (max 0.5); a collision ends the episode as a failure."]
        own = sorted({e["scenario"] for e in barn if "shortest path" in str(e.get("barn_reference"))})
        if own:
            lines.append("No reference path for " + ", ".join(own) + ": their t_opt uses the "
                         "shortest path on the true map.")
    return "\n".join(lines)


def episode_table(episodes: list[dict]) -> str:
    """One row per episode (the demo's metrics table)."""
    lines = ["| scenario | planner | seed | reached | time [s] | path [m] | SPL | time ratio | collisions "
             "| min clearance [m] | plan rate [Hz] | reverse [m] | recoveries (resolved) | wall [s] |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in episodes:
        if e.get("error"):
            lines.append(f"| {e['scenario']} | {e['planner']} | {e['seed']} | error | "
                         + " | ".join(["–"] * 10) + f" |  <!-- {e['error'][:80]} -->")
            continue
        lines.append("| " + " | ".join([
            e["scenario"], e["planner"], str(e["seed"]), "yes" if e["success"] else "no",
            _fmt(e.get("time_s"), "{:.1f}"), _fmt(e.get("path_length_m"), "{:.1f}"),
            _fmt(e.get("spl"), "{:.2f}"), _fmt(e.get("time_ratio"), "{:.2f}"), str(e.get("collisions", "–")),
            _fmt(e.get("min_clearance_m"), "{:.2f}"), _fmt(e.get("plan_hz_median"), "{:.1f}"),
            _fmt(e.get("reverse_m"), "{:.1f}"), _recoveries(e.get("recoveries")),
            _fmt(e.get("wall_s"), "{:.0f}")]) + " |")
    return "\n".join(lines)


def _recoveries(recs) -> str:
    """'fired (resolved)' of an episode's recoveries (skipped ones not counted)."""
    recs = [r for r in (recs or []) if r.get("outcome") != "skipped"]
    return f"{len(recs)} ({sum(1 for r in recs if r.get('outcome') == 'resolved')})"


def plot_trajectories(scenario_name: str, episodes: list[dict], out_png: Path) -> Path:
    """Trajectories of ``episodes`` (one scenario) over the scenario's map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from world_model_planner.sim.plotting import draw_scenario
    from world_model_planner.sim.scenario import load_scenario

    src = next((e.get("scenario_source") for e in episodes if e.get("scenario_source")),
               scenario_name)
    scenario = load_scenario(src)
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    draw_scenario(ax, scenario)
    from world_model_planner.sim.plotting import plain_legend, plain_text

    colors = {"hierarchical": "tab:blue", "flat": "tab:orange", "classic": "tab:green", "classic_id": "tab:purple"}
    seen = set()
    for e in episodes:
        traj = e.get("trajectory") or []
        if not traj:
            continue
        xs, ys = [p[1] for p in traj], [p[2] for p in traj]
        label = e["planner"] if e["planner"] not in seen else None
        seen.add(e["planner"])
        ax.plot(xs, ys, "-", lw=1.4, alpha=0.8, color=colors.get(e["planner"]), label=label)
        ax.plot(xs[-1], ys[-1], "o" if e.get("success") else "x", ms=5,
                color=colors.get(e["planner"]))
    if seen:
        plain_legend(ax, loc="best", fontsize=8)
    ok = sum(1 for e in episodes if e.get("success"))
    if len(episodes) == 1 and episodes[0].get("trajectory"):
        e = episodes[0]
        plain_text(ax.set_title(f"{scenario_name} ({e['planner']}): "
                   + (f"reached in {e['time_s']:.1f} s, path {e['path_length_m']:.1f} m"
                      if e.get("success") else f"not reached ({e.get('end_reason', 'error')})")))
    else:
        plain_text(ax.set_title(f"{scenario_name}: {ok}/{len(episodes)} reached"))
    ax.set_aspect("equal")
    out_png = Path(out_png)
    try:
        with atomic_path(out_png) as tmp:
            fig.savefig(tmp, dpi=90, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)
    return out_png


def write_results(episodes: list[dict], out_dir: Path, title: str, command: str,
                  per_episode: bool = False) -> dict[str, Path]:
    """results.json, report.md (table + per-scenario PNGs). Returns the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "markdown": out_dir / "report.md"}
    from world_model_planner.core.runtime import cpu_description

    machine = cpu_description()       # plan rates mean little without the CPU they were measured on
    atomic_write_text(paths["json"], json.dumps({"command": command, "machine": machine,
                                                 "summary": summary_rows(episodes),
                                                 "episodes": episodes}, indent=1))
    pngs = []
    by_scenario: OrderedDict = OrderedDict()
    for e in episodes:
        by_scenario.setdefault(e["scenario"], []).append(e)
    for name, eps in by_scenario.items():
        try:
            pngs.append((name, plot_trajectories(name, eps, out_dir / f"{file_stem(name)}.png")))
        except Exception as exc:  # noqa: BLE001 - a missing plot must not lose the results
            print(f"[warn] no plot for {name}: {type(exc).__name__}: {exc}")
    lines = [f"# {title}", "", f"Command: `{command}`", "", f"Machine: {machine}", "",
             markdown_table(episodes), ""]
    if per_episode:
        lines += ["## Episodes", "", episode_table(episodes), ""]
    lines += ["## Trajectories", ""]
    lines += [f"![{name}]({p.name})" for name, p in pngs]
    atomic_write_text(paths["markdown"], "\n".join(lines) + "\n")
    paths["pngs"] = [p for _, p in pngs]  # type: ignore[assignment]
    return paths
