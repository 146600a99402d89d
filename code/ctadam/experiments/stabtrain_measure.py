r"""What one training run measures about the stable regions, and the shared summary helpers.

Definitions (stated once, used by every experiment of :mod:`ctadam.experiments.stabtrain`):

* **slope**: the least-squares slope of :math:`\ln \lVert u_n\rVert_\infty` against n over the
  window of ``window`` steps ending at the window's end step, which is the run's last step
  (the paper's step 500 in the ``growth`` experiment) or, for a run that diverged or whose
  update stopped being finite and positive, the last step before that. Fewer than 3 usable
  steps give NaN. A diagnostic beside it, **max slope**: the largest such slope over all
  windows of the same length starting every ``MAX_SLOPE_STRIDE`` steps (transient growth that
  has died out by the end).
* **growing**: the run diverged, or the fitted growth over the window exceeds a factor
  ``growth_factor``, i.e. ``log_growth = slope * (steps in the window - 1) > ln(growth_factor)``;
  else
  **bounded**. The threshold is fixed in the profile before any run and not tuned.
* predictions: the paper's :math:`|C|/2` where :math:`C < 0`, else 0
  (:func:`ctadam.theory.region.paper_growth_rate`), and the exact
  :math:`\max(\rho, 0)`, :math:`\rho = \ln\gamma - \tfrac12\ln\beta`
  (:func:`ctadam.theory.stability.growth_rate`).
* the hard property: inside the exact region, :math:`\max_n \max_i |u_{n,i}| / B_n \le 1`
  (+ tolerance), checked by :func:`ctadam.experiments.sweep.check_bound` (eps is tiny, and
  :math:`u_n = \hat m_n/(\sqrt{\hat v_n}+\epsilon)` only shrinks with eps).
* **measured boundary** along a line of band fractions: with a majority vote over seeds per
  fraction, the interval between the largest fraction voted growing and the next fraction
  of the grid (:func:`boundary_interval`).
"""

import math
from pathlib import Path

import numpy as np

from ctadam import io
from ctadam.theory import region, stability

MAX_SLOPE_STRIDE = 10  # steps between the starts of the windows of the max slope


def usable_end(u_max: np.ndarray) -> int:
    """Number of leading entries of ``u_max`` that are finite and positive."""
    bad = np.flatnonzero(~(np.isfinite(u_max) & (u_max > 0)))
    return int(bad[0]) if bad.size else int(u_max.size)


def window_slope(u_max, window: int) -> tuple[float, int, int]:
    """(slope, first step, last step) of ln ||u_n||_inf over the last ``window`` usable steps."""
    u = np.asarray(u_max, dtype=float)
    end = usable_end(u)
    start = max(0, end - window)
    if end - start < 3:
        return math.nan, start + 1, end
    n = np.arange(start + 1, end + 1, dtype=float)
    slope = float(np.polyfit(n, np.log(u[start:end]), 1)[0])
    return slope, start + 1, end


def max_window_slope(u_max, window: int) -> float:
    """Largest slope of ln ||u_n||_inf over windows of ``window`` usable steps (stride 10)."""
    u = np.asarray(u_max, dtype=float)
    end = usable_end(u)
    if end <= window:
        return window_slope(u, window)[0]
    n, y = np.arange(1, end + 1, dtype=float), np.log(u[:end])
    return float(max(np.polyfit(n[s:s + window], y[s:s + window], 1)[0]
                     for s in range(0, end - window + 1, MAX_SLOPE_STRIDE)))


def band_fraction(beta1: float, beta2: float) -> float:
    """f = (beta - gamma^2) / (gamma/(2-gamma) - gamma^2): 0 on the exact, 1 on the paper's."""
    e = float(region.exact_boundary(beta1))
    return (beta2 - e) / (float(region.paper_boundary(beta1)) - e)


def measure_run(run_id: str, record: dict, window: int, growth_factor: float) -> dict:
    """The per-run numbers (see the module docstring) of one record."""
    cfg = record["config"]
    (b1, b2), = cfg["optimizer"]["betas"]
    u_max = np.asarray(record["per_step"]["update_max_abs"], dtype=float)
    slope, first, last = window_slope(u_max, window)
    diverged = record["status"] != "ok"
    log_growth = slope * (last - first) if math.isfinite(slope) else math.nan
    inside = bool(stability.in_stable_region(b1, b2))
    ratio = ratio_late = math.nan
    if inside and u_max.size:
        bn = stability.bound_n(b1, b2, np.arange(1, u_max.size + 1))
        ratios = np.where(np.isfinite(u_max), u_max, np.inf) / bn
        ratio = float(np.max(ratios))
        ratio_late = float(np.max(ratios[1:])) if u_max.size > 1 else math.nan
    rho = float(stability.growth_rate(b1, b2))
    return {
        "id": run_id, "task": cfg["task"], "beta1": b1, "beta2": b2, "seed": cfg["seed"],
        "batch_size": cfg["batch_size"], "weight_decay": cfg["optimizer"]["weight_decay"],
        "c": float(region.paper_c(b1, b2)), "paper_rate": float(region.paper_growth_rate(b1, b2)),
        "rho": rho, "exact_rate": max(rho, 0.0), "fraction": band_fraction(b1, b2),
        "inside": inside, "paper_inside": bool(region.paper_stable(b1, b2)),
        "band": bool(region.in_band(b1, b2)), "slope": slope, "window": [first, last],
        "max_slope": max_window_slope(u_max, window),
        "log_growth": log_growth, "growing": is_growing(diverged, log_growth, growth_factor),
        "status": record["status"],
        "diverged_at": record["diverged_at"], "max_bound_ratio": ratio,
        "max_bound_ratio_after_first": ratio_late,
        "eval": record["eval"],
    }


def is_growing(diverged: bool, log_growth: float, growth_factor: float) -> bool:
    """Diverged, or the fitted log growth over the window above ln(growth_factor)."""
    return bool(diverged or (math.isfinite(log_growth) and log_growth > math.log(growth_factor)))


def read_runs(dirs, window: int, growth_factor: float) -> list[dict]:
    """:func:`measure_run` of every record ``*.json`` in the shard directories, sorted by id."""
    paths = sorted((p for d in dirs for p in Path(d).glob("*.json")), key=lambda p: p.stem)
    if not paths:
        raise ValueError(f"no records (*.json) in the shard directories {list(dirs)}")
    return [measure_run(p.stem, io.read_json(p), window, growth_factor) for p in paths]


def boundary_interval(cells: list[dict]) -> dict:
    """Measured boundary along band fractions from cells ``{fraction, growing}`` (all seeds).

    Per fraction, ``growing`` is the majority vote of its seeds (a tie counts as growing).
    Returns ``{"low": largest fraction voted growing (None if none), "high": the next larger
    fraction (None if none), "monotone": whether every fraction below "low" is growing and
    every one above bounded, "votes": [[fraction, growing seeds, seeds], ...]}``.
    """
    fracs = sorted({round(c["fraction"], 9) for c in cells})
    votes = []
    for f in fracs:
        grow = [c["growing"] for c in cells if round(c["fraction"], 9) == f]
        votes.append([f, int(sum(grow)), len(grow)])
    up = [2 * g >= n for _, g, n in votes]
    grow_idx = [i for i, v in enumerate(up) if v]
    low = grow_idx[-1] if grow_idx else None
    high = 0 if low is None else (low + 1 if low + 1 < len(fracs) else None)
    monotone = all(up[i] == (low is not None and i <= low) for i in range(len(up)))
    return {"low": None if low is None else fracs[low],
            "high": None if high is None else fracs[high], "monotone": monotone,
            "votes": votes}


def fmt_interval(b: dict) -> str:
    """LaTeX of a measured boundary interval in band fractions, e.g. ``(-0.25, 0.1]``."""
    if b["low"] is None:
        return f"$f < {b['high']:.2g}$"
    if b["high"] is None:
        return f"$f > {b['low']:.2g}$"
    return f"$({b['low']:.2g}, {b['high']:.2g}]$"


def strip_eval(runs: list[dict]) -> list[dict]:
    """The runs without their ``eval`` lists (summaries keep them only where used)."""
    return [{k: v for k, v in r.items() if k != "eval"} for r in runs]
