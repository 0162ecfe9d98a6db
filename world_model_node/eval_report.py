"""How an eval-model result is shown: the terminal table (``summary``), the error-against-horizon
plot (``plot``) and the JSON form (``nan_to_none``). The result dict is world_model_node.evaluate's."""
from __future__ import annotations

import math

import numpy as np


def plot(result: dict, path) -> None:
    """PNG: mean position error vs horizon, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    dt = result["dt_s"]
    styles = {"model": "-", "unicycle": "--", "constant_velocity": ":", "classic_id": "-."}
    for name in result.get("models", ["model", "unicycle", "constant_velocity"]):
        style = styles.get(name, "-")
        curve = result[name]["pose_err_curve_m"]
        t = dt * np.arange(1, len(curve) + 1)
        ax.plot(t, curve, style, label=name.replace("_", " "))
    ax.set_xlabel("horizon (s)")
    ax.set_ylabel("mean position error (m)")
    auc = result.get("collision_auroc")
    ax.set_title(f"open-loop error ({result['windows']} windows, {result['episodes']} episodes)"
                 + (f"\ncollision AUROC {auc:.3f}" if auc is not None else ""), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    from world_model_planner.core.safeio import atomic_path

    with atomic_path(path) as tmp:    # keeps the .png suffix, so matplotlib picks the format
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def summary(result: dict) -> str:
    """Human-readable table of the eval dict."""
    def num(x, fmt="6.3f"):
        return f"{'n/a':>6}" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)

    names = result.get("models", ["model", "unicycle", "constant_velocity"])
    lines = ["pose error (m)      horizon_s " + "  ".join(f"{h:>6.1f}" for h in result["horizons_s"])]
    for name in names:
        lines.append(f"  {name:<27} " + "  ".join(num(e) for e in result[name]["pose_err_m"]))
    mv = result.get("measured_velocity")
    if mv:
        lines.append(f"  {'(measured v, w integrated)':<27} " + "  ".join(num(e) for e in mv["pose_err_m"])
                     + "  <- not a model: the recorded velocities")
    auc = result["collision_auroc"]
    lines.append(f"collision AUROC (1 step): {num(auc, '.3f')}; by horizon: "
                 + ", ".join(num(a, ".3f") for a in result["collision_auroc_by_horizon"]))
    cl = result.get("clearance_err_m")
    if cl:
        lines.append(f"clearance error (m) near movers, {cl['windows']} windows, at "
                     + ", ".join(f"{h:g} s" for h in cl["horizons_s"]) + ":")
        for key in ("model", "model_scene_only", "tracked_at_model_poses", "constant_velocity_tracker", "static_scan"):
            if key in cl:
                lines.append(f"  {key:<27} " + "  ".join(num(e) for e in cl[key]))
    ad = result.get("adaptation")
    if ad:
        lines.append(f"adaptation: {ad['entries']} entries onto lower friction, {ad['windows']} windows; "
                     f"{ad['horizon_s']:g} s error at entry / after 1 s on it (ratio):")
        for name in names:
            if name in ad:
                a = ad[name]
                lines.append(f"  {name:<27} {num(a['at_entry_m'])}  {num(a['after_1s_m'])}  ({num(a['ratio'], '.2f')})")
        hx = ad.get("history_ablation")
        if hx and hx.get("windows"):
            lines.append(f"  the model, {hx['windows']} windows 1 s or more on it: {num(hx['own_history_m'])} with its "
                         f"own history, {num(hx['entry_history_m'])} with the commands and velocities of the second "
                         f"before the entry ({num(hx['ratio'], '.2f')})")
    gl = result.get("goal_latent")
    if gl and gl.get("goals"):
        lines.append(f"latent distance to a goal vs true distance, Spearman rho over {gl['goals']} goals, "
                     f"{gl['pairs']} pairs: pooled {num(gl['rho'], '.3f')}, per goal {num(gl['rho_per_goal_mean'], '.3f')}, "
                     f"same heading {num(gl.get('rho_same_heading'), '.3f')}"
                     + (f"; pixel distance (baseline): pooled {num(gl.get('pixels_rho'), '.3f')}, per goal "
                        f"{num(gl.get('pixels_rho_per_goal_mean'), '.3f')}, same heading "
                        f"{num(gl.get('pixels_rho_same_heading'), '.3f')}" if "pixels_rho" in gl else ""))
    lf = result.get("latent_forecast")
    if lf:
        lines.append("learned latent forecast, mean L2 to the recorded step's encoding; horizon_s "
                     + "  ".join(f"{h:>6.1f}" for h in result["horizons_s"]))
        lines.append(f"  {'predicted':<27} " + "  ".join(num(e) for e in lf["pred_err"]))
        lines.append(f"  {'held at the start':<27} " + "  ".join(num(e) for e in lf["hold_err"])
                     + "  <- a predictor that forecasts nothing")
        lines.append(f"  {'ratio':<27} " + "  ".join(num(e) for e in lf["ratio"]))
        if "view_ratio" in lf:
            lines.append(f"  without the {lf['motion_dims']} directions the robot's own motion moves it:")
            lines.append(f"  {'predicted':<27} " + "  ".join(num(e) for e in lf["view_pred_err"]))
            lines.append(f"  {'held at the start':<27} " + "  ".join(num(e) for e in lf["view_hold_err"]))
            lines.append(f"  {'ratio':<27} " + "  ".join(num(e) for e in lf["view_ratio"]))
    sl = result.get("slices")
    if sl:
        i = result["horizons_s"].index(1.0) if 1.0 in result["horizons_s"] else 0
        lines.append(f"per slice, pose error at {result['horizons_s'][i]:g} s  " + "  ".join(f"{n[:10]:>10}" for n in names))
        for k, v in sl.items():
            lines.append(f"  {k:<8} {v['windows']:>5} windows" + " " * 5
                         + "  ".join(f"{num(v[n][i], '10.3f'):>10}" for n in names))
    return "\n".join(lines)


def nan_to_none(x):
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [nan_to_none(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
