"""System identification for the ``classic_id`` planner: what a careful engineer fits from logs
before reaching for learning.

Each velocity axis (v m/s, w rad/s) is a first-order lag behind a pure delay, whose change per
step is limited by the base's own controller (its acceleration limit, ``rate``)::

    v[t+1] = v[t] + clip((dt / tau) * (gain * cmd[t - d] - v[t]), -rate * dt, rate * dt)

``fit`` finds, per axis, the delay ``d`` (whole steps, grid-searched over 0..max_delay) and
``tau``, ``gain`` by linear least squares on recorded transitions (rows of
``world_model_node.data.Transitions`` on one dt grid): with ``k = dt / tau`` the unclipped update
is ``v[t+1] - v[t] = (k * gain) * cmd[t - d] - k * v[t]``, linear in (k * gain, k). The rate limit
is searched over quantiles of the measured change per step: for each candidate, (k, gain) are
refitted on the transitions it leaves unclipped, and the candidate (or none) with the smallest
one-step residual over all transitions wins; a limit is kept only where it lowers that residual
by at least ``RATE_MIN_GAIN``. Without it, a base that ramps its speed at a fixed acceleration
after a large command step looks like a slow lag, and the model then predicts a slow response to
the small, smooth changes a planner sends. The delay with the smallest one-step residual wins.

The result is stored as a small JSON file (``save`` is an atomic write, ``load`` is size-capped
and validated: a bad file is one line naming the file, the field and what was expected; version 1
files, which have no rate limit, still load). No torch and no rclpy here.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from world_model_planner.core.safeio import InputError, atomic_write_text, clip, read_capped

FORMAT = "world_model_planner.sysid"
VERSION = 2                 # 2: per-axis rate limit (null = none); version 1 files still load
MAX_FILE_BYTES = 64 * 1024
#: delays the fit searches (steps); a file may hold up to FILE_MAX_DELAY
MAX_DELAY_STEPS = 5
FILE_MAX_DELAY = 50
TAU_RANGE_S = (1e-3, 60.0)
GAIN_RANGE = (0.05, 10.0)
DT_RANGE_S = (1e-3, 10.0)
RATE_RANGE = (1e-3, 1e3)                  # axis unit per second (m/s^2, rad/s^2)
#: quantiles of |measured change per step| / dt tried as the rate limit
RATE_QUANTILES = (0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 1.0)
#: a rate limit is kept only if it lowers the one-step residual by this fraction
RATE_MIN_GAIN = 0.02
AXES = ("v", "w")


class SysIdError(InputError):
    """Data that cannot identify the model, or a model file that cannot be used (one line)."""


@dataclass(frozen=True)
class AxisFit:
    """One axis: tau_s (s), gain (measured / commanded at steady state), delay_steps (whole
    steps of dt), rmse (one-step velocity residual, axis unit), rows (transitions used),
    rmse_by_delay (residual of the best fit at each searched delay), rate (largest change of
    the velocity per second, axis unit / s: the base's acceleration limit; inf = none found)."""

    tau_s: float
    gain: float
    delay_steps: int
    rmse: float = float("nan")
    rows: int = 0
    rmse_by_delay: tuple = ()
    rate: float = math.inf

    def k(self, dt_s: float) -> float:
        """The lag's share of the gap closed in one step of ``dt_s`` (dt / tau, at most 1)."""
        return min(dt_s / self.tau_s, 1.0)

    def rate_text(self, unit: str) -> str:
        """'rate limit 1.07 m/s^2' or 'no rate limit'; ``unit`` the velocity's (m/s, rad/s)."""
        return f"rate limit {self.rate:.2f} {unit}^2" if math.isfinite(self.rate) else "no rate limit"

    def step(self, u, target, dt_s: float):
        """One step of the model from velocity ``u`` toward ``target`` (= gain * command in
        force), numpy or torch alike."""
        change = self.k(dt_s) * (target - u)
        if math.isfinite(self.rate):
            lim = self.rate * dt_s
            change = change.clip(-lim, lim) if hasattr(change, "clip") else max(-lim, min(lim, change))
        return u + change


@dataclass(frozen=True)
class SysIdParams:
    """The identified model: dt_s (grid step, s), v and w (AxisFit), source (free text)."""

    dt_s: float
    v: AxisFit
    w: AxisFit
    source: str = ""

    def axis(self, name: str) -> AxisFit:
        return self.v if name == "v" else self.w

    @property
    def history_steps(self) -> int:
        """Past commands the model needs: the longest delay (at least 1)."""
        return max(1, self.v.delay_steps, self.w.delay_steps)

    def summary(self) -> str:
        """One line per axis, for CLIs and logs."""
        out = []
        for name, unit in (("v", "m/s"), ("w", "rad/s")):
            a = self.axis(name)
            fitted = (f"one-step rmse {a.rmse:.4f} {unit} over {a.rows} rows" if a.rows and math.isfinite(a.rmse)
                      else "not fitted (no residual recorded)")
            out.append(f"{name}: tau {a.tau_s:.3f} s, gain {a.gain:.3f}, delay {a.delay_steps} step(s) "
                       f"({a.delay_steps * self.dt_s:.2f} s), {a.rate_text(unit)}, {fitted}")
        return "\n".join(out)

    def brief(self) -> str:
        """Both axes on one line, for a log line."""
        return "; ".join(f"{name}: tau {a.tau_s:.2f} s, delay {a.delay_steps}, {a.rate_text(unit)}"
                         for name, unit, a in (("v", "m/s", self.v), ("w", "rad/s", self.w)))


def _fit_rate(x: np.ndarray, y: np.ndarray, dt_s: float):
    """(coef (2,), rate, rmse) of the best clipped lag for x (R, 2) = [cmd, vel], y (R,) the
    change per step: no limit, or a quantile of |y| / dt with (k * gain, -k) refitted on the
    transitions that limit leaves unclipped (three rounds)."""
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    plain = float(np.sqrt(np.mean((x @ coef - y) ** 2)))
    best = (plain, coef, math.inf)
    for rate in np.unique(np.quantile(np.abs(y), RATE_QUANTILES)) / dt_s:
        lim, c = rate * dt_s, coef
        if lim <= 0:
            continue
        for _ in range(3):
            free = np.abs(x @ c) < 0.9 * lim          # clear of the limit, noise and all
            if free.sum() < 10:
                break
            c, *_ = np.linalg.lstsq(x[free], y[free], rcond=None)
        rmse = float(np.sqrt(np.mean((np.clip(x @ c, -lim, lim) - y) ** 2)))
        if rmse < best[0]:
            best = (rmse, c, float(rate))
    if math.isfinite(best[2]) and best[0] > (1.0 - RATE_MIN_GAIN) * plain:
        best = (plain, coef, math.inf)             # a limit that hardly helps is not claimed
    return best[1], best[2], best[0]


def _fit_axis(cmd: np.ndarray, vel: np.ndarray, episode: np.ndarray, dt_s: float, max_delay: int,
              min_rows: int, name: str, rate_limit: bool = True) -> AxisFit:
    """cmd (N,), vel (N,), episode (N,) on one grid → the best AxisFit over delays 0..max_delay
    (and, with ``rate_limit``, over rate limits)."""
    n = len(vel)
    t = np.arange(n - 1)
    same_next = episode[1:] == episode[:-1]                                   # (N-1,) t and t+1 same episode
    # every delay is scored on the same transitions: those whose command max_delay steps back is in
    # their episode. Scored each on its own rows, a longer delay drops the first steps after every
    # cut (after a contact: the robot bouncing off, unrelated to the command) and wins on that alone.
    src = t - max_delay
    common = same_next & (src >= 0)
    common[common] &= episode[src[common]] == episode[t[common]]
    best = None
    rmses = []
    for d in range(max_delay + 1):
        rows = t[common]
        if len(rows) < min_rows:
            rmses.append(float("nan"))
            continue
        x = np.stack([cmd[rows - d], vel[rows]], axis=1).astype(np.float64)   # (R, 2)
        y = (vel[rows + 1] - vel[rows]).astype(np.float64)                    # (R,)
        if rate_limit:
            coef, rate, rmse = _fit_rate(x, y, dt_s)
        else:
            coef, *_ = np.linalg.lstsq(x, y, rcond=None)
            rate, rmse = math.inf, float(np.sqrt(np.mean((x @ coef - y) ** 2)))
        rmses.append(rmse)
        if best is None or rmse < best[0]:
            best = (rmse, d, coef, len(rows), rate)
    if best is None:
        raise SysIdError(f"sysid {name}: fewer than {min_rows} usable transitions; record longer episodes")
    rmse, d, (kg, minus_k), rows, rate = best
    k = -float(minus_k)
    if not (k > 0 and math.isfinite(k)) or abs(kg) < 1e-9:
        raise SysIdError(f"sysid {name}: the data show no first-order response to the command "
                         f"(fitted dt/tau {k:.4g}, gain*dt/tau {kg:.4g}); record data with varied commands")
    k = min(k, 1.0)                                  # tau shorter than a step: the response is immediate
    gain = float(kg) / k
    tau = dt_s / k
    if not (GAIN_RANGE[0] <= gain <= GAIN_RANGE[1]) or not (TAU_RANGE_S[0] <= tau <= TAU_RANGE_S[1]):
        raise SysIdError(f"sysid {name}: fit out of range (tau {tau:.4g} s, gain {gain:.4g}; expected tau in "
                         f"{TAU_RANGE_S} s and gain in {GAIN_RANGE}); the data do not excite this axis")
    if math.isfinite(rate):
        rate = min(max(rate, RATE_RANGE[0]), RATE_RANGE[1])
    return AxisFit(tau, gain, int(d), rmse, int(rows), tuple(rmses), rate)


def fit(cmd: np.ndarray, vel: np.ndarray, episode: np.ndarray, dt_s: float,
        max_delay: int = MAX_DELAY_STEPS, min_rows: int = 50, source: str = "",
        exclude: np.ndarray | None = None, rate_limit: bool = True) -> SysIdParams:
    """Identify both axes. cmd (N, 2), vel (N, 2) measured (v, w), episode (N,) ids: rows of
    one episode consecutive and in time order on a ``dt_s`` grid (Transitions' layout).
    exclude (N,) bool: rows left out (e.g. in contact); like non-finite rows, they split their
    episode, so no transition or delayed command crosses them. rate_limit: also search the
    base's rate limit (False: a plain lag, as version 1 files hold)."""
    cmd, vel = np.asarray(cmd, np.float64), np.asarray(vel, np.float64)
    episode = np.asarray(episode)
    if cmd.ndim != 2 or cmd.shape[1] != 2 or vel.shape != cmd.shape or episode.shape != cmd.shape[:1]:
        raise SysIdError(f"sysid: expected cmd (N, 2), vel (N, 2), episode (N,), got {cmd.shape}, "
                         f"{vel.shape}, {episode.shape}")
    keep = np.isfinite(cmd).all(1) & np.isfinite(vel).all(1)
    if exclude is not None:
        keep &= ~np.asarray(exclude, bool).reshape(-1)
    if not keep.all():                           # a non-finite row is an episode of its own: never paired
        bad = ~keep
        change = np.r_[True, episode[1:] != episode[:-1]] | bad | np.r_[False, bad[:-1]]
        episode = np.cumsum(change)
    fits = [_fit_axis(cmd[:, i], vel[:, i], episode, float(dt_s), int(max_delay), int(min_rows), name, rate_limit)
            for i, name in enumerate(AXES)]
    return SysIdParams(float(dt_s), fits[0], fits[1], source)


def fit_transitions(tr, max_delay: int = MAX_DELAY_STEPS, source: str = "", rate_limit: bool = True) -> SysIdParams:
    """``fit`` on a ``world_model_node.data.Transitions`` (dt from its meta, else its median dt),
    leaving out the rows in contact (a wall, not the drive, stopped the robot there)."""
    dt = float(tr.meta.get("dt_s") or np.median(tr.dt))
    return fit(tr.cmd, tr.vel, tr.episode, dt, max_delay, source=source, exclude=np.asarray(tr.collision) > 0,
               rate_limit=rate_limit)


def response(params: SysIdParams, cmd: np.ndarray, v0=(0.0, 0.0), past_cmd=None) -> np.ndarray:
    """Simulate the identified model: cmd (T, 2) → vel (T + 1, 2), vel[0] = v0. ``past_cmd``
    (P, 2): commands before cmd[0], oldest first (default: v0 / gain held)."""
    cmd = np.asarray(cmd, np.float64).reshape(-1, 2)
    out = np.zeros((len(cmd) + 1, 2))
    out[0] = v0
    for i, name in enumerate(AXES):
        a = params.axis(name)
        d = a.delay_steps
        if past_cmd is not None and len(past_cmd) >= d:
            past = np.asarray(past_cmd, np.float64).reshape(-1, 2)[len(past_cmd) - d:, i]
        else:
            past = np.full(d, out[0, i] / a.gain)
        u = np.concatenate([past, cmd[:, i]])
        for t in range(len(cmd)):
            out[t + 1, i] = a.step(out[t, i], a.gain * u[t], params.dt_s)
    return out


# --- file ------------------------------------------------------------------------------------

def to_dict(params: SysIdParams) -> dict:
    def axis(a: AxisFit) -> dict:
        d = asdict(a)
        d["rmse_by_delay"] = [None if not math.isfinite(x) else x for x in a.rmse_by_delay]
        d["rate"] = a.rate if math.isfinite(a.rate) else None
        if not math.isfinite(d["rmse"]):
            d["rmse"] = None
        return d

    return {"format": FORMAT, "version": VERSION, "dt_s": params.dt_s, "v": axis(params.v), "w": axis(params.w),
            "source": params.source}


def save(path, params: SysIdParams) -> Path:
    """Write ``params`` as JSON, atomically."""
    return atomic_write_text(path, json.dumps(to_dict(params), indent=1) + "\n")


def _number(where: str, field: str, value, lo: float, hi: float, integer: bool = False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()
    if not ok or not math.isfinite(float(value)) or not lo <= float(value) <= hi:
        kind = "an integer" if integer else "a number"
        raise SysIdError(f"{where}: {field}: expected {kind} in [{lo:g}, {hi:g}], got {clip(value)}")
    return int(value) if integer else float(value)


def from_dict(data, where: str = "sysid") -> SysIdParams:
    """Validate a parsed JSON object (see ``to_dict``); SysIdError names ``where`` and the field."""
    if not isinstance(data, dict):
        raise SysIdError(f"{where}: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise SysIdError(f"{where}: format: expected {FORMAT!r}, got {clip(data.get('format'))}")
    version = data.get("version")
    if version not in (1, VERSION) or isinstance(version, bool):
        raise SysIdError(f"{where}: version: expected 1 or {VERSION}, got {clip(version)}")
    dt = _number(where, "dt_s", data.get("dt_s"), *DT_RANGE_S)
    axes = []
    for name in AXES:
        a = data.get(name)
        if not isinstance(a, dict):
            raise SysIdError(f"{where}: {name}: expected an object with tau_s, gain, delay_steps, got {clip(a)}")
        rmse, rate = a.get("rmse"), (a.get("rate") if version >= 2 else None)   # version 1: no rate limit
        axes.append(AxisFit(_number(where, f"{name}.tau_s", a.get("tau_s"), *TAU_RANGE_S),
                            _number(where, f"{name}.gain", a.get("gain"), *GAIN_RANGE),
                            _number(where, f"{name}.delay_steps", a.get("delay_steps"), 0, FILE_MAX_DELAY, True),
                            float("nan") if rmse is None else _number(where, f"{name}.rmse", rmse, 0.0, 1e6),
                            _number(where, f"{name}.rows", a.get("rows", 0), 0, 1e12, True),
                            rate=math.inf if rate is None else _number(where, f"{name}.rate", rate, *RATE_RANGE)))
    source = data.get("source", "")
    if not isinstance(source, str):
        raise SysIdError(f"{where}: source: expected a string, got {clip(source)}")
    return SysIdParams(dt, axes[0], axes[1], source[:500])


def load(path) -> SysIdParams:
    """Read and validate a sysid JSON file (at most MAX_FILE_BYTES)."""
    raw = read_capped(path, MAX_FILE_BYTES, "sysid JSON file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SysIdError(f"{path}: not a JSON sysid file: {clip(str(exc), 120)}") from None
    return from_dict(data, str(path))


def default_sysid_path(robot: str | None = None) -> Path:
    """The shipped fit for ``robot``, models/<robot>_sysid.json where it exists (else the Husky's,
    models/husky_sysid.json), found like the shipped world model (share/ or the source tree)."""
    from world_model_planner.core.paths import models_dir

    own = models_dir() / f"{robot}_sysid.json" if robot else None
    return own if own is not None and own.is_file() else models_dir() / "husky_sysid.json"
