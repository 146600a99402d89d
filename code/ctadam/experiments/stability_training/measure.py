r"""What one training run measures about the stable regions, and the experiments' shared helpers.

Definitions (stated once, used by every experiment of
:mod:`ctadam.experiments.stability_training`; the slopes and the verdict are computed by
:mod:`ctadam.experiments.measures`, the one place where "growing" is decided):

* **slope**: the least-squares slope of :math:`\ln \lVert u_n\rVert_\infty` against n over the
  window of ``window`` steps ending at the window's end step, which is the run's last step
  (the paper's step 500 in the ``growth`` experiment) or, for a run that diverged or whose
  update stopped being finite and positive, the last step before that. Fewer than 3 usable
  steps give NaN. A diagnostic beside it, **max slope**: the largest such slope over all
  windows of the same length starting every ``measures.MAX_SLOPE_STRIDE`` steps (transient
  growth that has died out by the end).
* **growth-phase slope**: the least-squares slope over the run's growth phase, from the first
  step whose :math:`\lVert u_n\rVert_\infty` exceeds ``instability.onset`` times its value at
  step 1 to its peak (:func:`ctadam.instability.growth_phase_slope`); NaN without one.
* **probe slope** (runs with the engine's ``grad_scale = {start: n_0, factor: c}``): the
  least-squares slope of :math:`\ln\lVert u_n\rVert_\infty + \ln(1-\gamma^n) -
  \tfrac12\ln(1-\beta^n)` over steps :math:`n_0 + s + 1 .. n_0 + s + w` (``skip`` s,
  ``window`` w; the usable ones, at least 3, else NaN). The added terms undo Adam's bias
  correction, a factor common to every coordinate whose own drift is not part of the rate;
  with the gradients gone, :math:`m_n \propto \gamma^n` and :math:`v_n \propto \beta^n`
  coordinate by coordinate, so the fitted slope is :math:`\rho` up to the last gradients
  (relative weight :math:`(c/\gamma)^{s}`) and eps (negligible while
  :math:`\sqrt{\hat v_n} \gg \epsilon`). ``probe_residual`` is the largest absolute residual
  of that fit (a straight line has none).
* **growing**: the run diverged, or the fitted growth over the window exceeds a factor
  ``growth_factor``, i.e. ``log_growth = slope * (steps in the window - 1) > ln(growth_factor)``;
  else
  **bounded**. The threshold is fixed in the profile before any run and not tuned.
* predictions: the paper's :math:`|C|/2` where :math:`C < 0`, else 0
  (:func:`ctadam.theory.region.paper_growth_rate`), and the exact
  :math:`\max(\rho, 0)`, :math:`\rho = \ln\gamma - \tfrac12\ln\beta`
  (:func:`ctadam.theory.stability.growth_rate`).
* the hard property: inside the exact region, :math:`\max_n \max_i |u_{n,i}| / B_n \le 1`
  (+ tolerance), checked by :func:`ctadam.experiments.measures.check_bound` (eps is tiny, and
  :math:`u_n = \hat m_n/(\sqrt{\hat v_n}+\epsilon)` only shrinks with eps).
* **measured boundary** along a line of band fractions: with a majority vote over seeds per
  fraction, the interval between the largest fraction voted growing and the next fraction
  of the grid (:func:`boundary_interval`).
"""

import math

import numpy as np

from ctadam.experiments.measures import (
    bound_ratios,
    is_growing,
    max_window_slope,
    usable_end,
    window_slope,
)
from ctadam.instability import growth_phase_slope
from ctadam.theory import region, stability


def band_fraction(beta1: float, beta2: float) -> float:
    """f = (beta - gamma^2) / (gamma/(2-gamma) - gamma^2): 0 on the exact, 1 on the paper's."""
    e = float(region.exact_boundary(beta1))
    return (beta2 - e) / (float(region.paper_boundary(beta1)) - e)


def probe_slope(u_max, beta1: float, beta2: float, start: int, skip: int,
                window: int) -> tuple[float, float, int]:
    r"""(slope, largest absolute residual, points) of the probe fit (module docstring):
    :math:`\ln\lVert u_n\rVert_\infty + \ln(1-\gamma^n) - \tfrac12\ln(1-\beta^n)` against n
    over steps ``start + skip + 1 .. start + skip + window`` that are usable (finite, positive,
    before any non-finite entry). Fewer than 3 points give NaN slope and residual."""
    u = np.asarray(u_max, dtype=float)
    first, end = start + skip, min(start + skip + window, usable_end(u))
    if end - first < 3:
        return math.nan, math.nan, max(0, end - first)
    n = np.arange(first + 1, end + 1, dtype=float)
    y = np.log(u[first:end]) + np.log1p(-beta1 ** n) - 0.5 * np.log1p(-beta2 ** n)
    slope, icpt = np.polyfit(n, y, 1)
    return float(slope), float(np.abs(y - (slope * n + icpt)).max()), int(end - first)


def measure_run(run_id: str, record: dict, window: int, growth_factor: float,
                onset: float = 2.0, probe: dict | None = None) -> dict:
    """The per-run numbers (see the module docstring) of one record; ``onset`` starts the
    growth phase, ``probe = {skip, window}`` places the probe fit of a run with
    ``grad_scale`` (its ``probe_*`` entries are NaN / None for other runs or without it)."""
    cfg = record["config"]
    (b1, b2), = cfg["optimizer"]["betas"]
    u_max = np.asarray(record["per_step"]["update_max_abs"], dtype=float)
    slope, first, last = window_slope(u_max, window)
    diverged = record["status"] != "ok"
    log_growth = slope * (last - first) if math.isfinite(slope) else math.nan
    inside = bool(stability.in_stable_region(b1, b2))
    ratio, ratio_late = bound_ratios(b1, b2, u_max)
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
        "phase_slope": _phase_slope(u_max, onset),
        **_probe_fields(cfg, u_max, b1, b2, probe),
        "eval": record["eval"],
    }


def _phase_slope(u_max, onset: float) -> float:
    """The growth-phase slope, NaN for a series without a finite positive first value."""
    if not (u_max.size and math.isfinite(u_max[0]) and u_max[0] > 0):
        return math.nan
    return growth_phase_slope(u_max, onset)


def _probe_fields(cfg: dict, u_max, b1: float, b2: float, probe: dict | None) -> dict:
    gs = cfg.get("grad_scale")
    if gs is None or probe is None:
        return {"probe": gs is not None, "probe_slope": math.nan, "probe_residual": math.nan,
                "probe_points": 0}
    slope, resid, pts = probe_slope(u_max, b1, b2, gs["start"], probe["skip"], probe["window"])
    return {"probe": True, "probe_slope": slope, "probe_residual": resid, "probe_points": pts}


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
