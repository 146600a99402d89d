r"""Records of the sweep -> its summary: per-run numbers, agreement with theory, bound check.

Per run (:func:`summarize_run`):

* the max RMS update :math:`\max_n \lVert u_n\rVert/\sqrt d` and max coordinate
  :math:`\max_n \max_i |u_{n,i}|`;
* the growth exponent :math:`r_{\max}` (:func:`~ctadam.experiments.measures.max_growth_rate`),
  compared with :math:`\rho = \ln\gamma - \tfrac12\ln\beta` (\cref{eq:growth-rate});
* the measured label (:func:`~ctadam.experiments.measures.monitor_unstable`) against the theory
  label, unstable iff :math:`\gamma^2 \ge \beta` (\cref{eq:region});
* the same label for each :math:`p_{\max}` of ``sensitivity_p_max``, the monitor's rule
  replayed on the logged norms (:func:`~ctadam.experiments.measures.unstable_by_p_max`; no
  retraining). The threshold is a heuristic (see :mod:`ctadam.monitor`), so the summary
  reports the agreement with theory for each of these values;
* for runs inside the region, :math:`\max_n \max_i |u_{n,i}| / B_n` with :math:`B_n` of
  \cref{eq:bound-n}. The hard property is that this never exceeds 1 (+ ``bound_tolerance``):
  :func:`~ctadam.experiments.measures.check_bound` raises
  :class:`~ctadam.experiments.measures.BoundViolation` otherwise (the summary step fails).

Nothing here imports numpy at module level (the package is imported at parse time).
"""

import math

from ctadam.checks import check_real
from ctadam.experiments.measures import (
    bound_ratios,
    check_bound,
    max_growth_rate,
    monitor_unstable,
    p_max_key,
    unstable_by_p_max,
)


def summarize_run(record: dict, p_max_values=()) -> dict:
    """The per-run numbers of the sweep (see the module docstring)."""
    import numpy as np

    from ctadam.experiments.stability_sweep import run_id
    from ctadam.theory.stability import bound_inf, growth_rate, in_stable_region

    cfg = record["config"]
    (beta1, beta2), eps = cfg["optimizer"]["betas"][0], cfg["optimizer"]["eps"]
    u_max = np.asarray(record["per_step"]["update_max_abs"], dtype=float)
    u_rms = np.asarray(record["per_step"]["update_rms"], dtype=float)
    inside = bool(in_stable_region(beta1, beta2))
    ratio, ratio_late = bound_ratios(beta1, beta2, u_max)
    return {
        "id": run_id(beta1, beta2, eps), "beta1": beta1, "beta2": beta2, "eps": eps,
        "inside": inside, "theory_unstable": not inside,
        "measured_unstable": monitor_unstable(record),
        "status": record["status"], "diverged_at": record["diverged_at"],
        "flagged_at": record["monitor"]["flagged_at"],
        "peak_update_rms": _nanmax(u_rms), "peak_update_max_abs": _nanmax(u_max),
        "final_param_norm": record["log"]["param_norm"][-1],
        "growth_rate": max_growth_rate(record["log"]["step"], record["log"]["param_norm"],
                                       cfg["monitor"]["window"]),
        "rho": float(growth_rate(beta1, beta2)), "bound_inf": float(bound_inf(beta1, beta2)),
        "max_bound_ratio": ratio, "max_bound_ratio_after_first": ratio_late,
        "steps_done": record["steps_done"],
        "unstable_by_p_max": unstable_by_p_max(record, p_max_values),
    }


def _nanmax(a) -> float:
    import numpy as np

    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else math.nan


def confusion(grid: list[dict], measured_key: str, p_max: float | None = None) -> dict:
    """Counts of theory label (stable/unstable) against a measured label over ``grid``.

    The measured label is ``run[measured_key]``, or ``run[measured_key][p_max_key(p_max)]``
    when ``p_max`` is given.
    """
    def measured(r):
        return r[measured_key] if p_max is None else r[measured_key][p_max_key(p_max)]

    return {f"theory_{t}_measured_{m}": sum(
        1 for r in grid if r["theory_unstable"] == (t == "unstable")
        and measured(r) == (m == "unstable"))
        for t in ("stable", "unstable") for m in ("stable", "unstable")}


def _agree_count(c: dict) -> int:
    return c["theory_stable_measured_stable"] + c["theory_unstable_measured_unstable"]


def sensitivity(grid: list[dict], p_max_values) -> list[dict]:
    """Per threshold (increasing): confusion counts, agreeing cells and agreement fraction."""
    rows = []
    for p in sorted(set(p_max_values)):
        c = confusion(grid, "unstable_by_p_max", p)
        rows.append({"p_max": p, "confusion": c, "agree": _agree_count(c),
                     "agreement": _agree_count(c) / len(grid)})
    return rows


def aggregate(records: list[dict], grid_eps: float, tolerance: float,
              p_max_values=()) -> dict:
    """Summary of a sweep: per-run numbers, grid agreement with theory, the bound check.

    ``p_max_values``: thresholds of the sensitivity rows; the runs' own threshold is added.
    """
    p_max_values = {check_real("p_max", p, 0.0, low_open=True) for p in p_max_values}
    p_max_values |= {float(rec["config"]["monitor"]["max_loglog_slope"]) for rec in records}
    runs = {}
    for rec in records:
        s = summarize_run(rec, p_max_values)
        runs[s["id"]] = s
    runs = [runs[k] for k in sorted(runs)]
    grid = [r for r in runs if r["eps"] == grid_eps]
    if not grid:
        raise ValueError(f"grid_eps={grid_eps!r} matches no record's eps")
    agree = [r for r in grid if r["theory_unstable"] == r["measured_unstable"]]
    growing = [r for r in grid if r["theory_unstable"] and r["measured_unstable"]
               and math.isfinite(r["growth_rate"])]
    rel = [r["growth_rate"] / r["rho"] for r in growing]
    return {
        "runs": runs, "grid_eps": grid_eps, "grid_cells": len(grid), "agree": len(agree),
        "agreement": len(agree) / len(grid), "confusion": confusion(grid, "measured_unstable"),
        "sensitivity": sensitivity(grid, p_max_values),
        "disagreeing": [r["id"] for r in grid if r not in agree],
        "rate_over_rho": {"runs": len(rel), "median": _median(rel),
                          "min": min(rel, default=math.nan), "max": max(rel, default=math.nan)},
        "bound": check_bound(runs, tolerance),
    }


def _median(xs: list[float]) -> float:
    import numpy as np

    return float(np.median(xs)) if xs else math.nan


def summarize(records: dict[str, dict], section: dict) -> dict:
    """The protocol's summary: :func:`aggregate` of all records, with the grid's axes and the
    eps panel (what the figure draws along)."""
    if not records:
        raise ValueError("records: the sweep needs at least one record, got none")
    summary = aggregate([records[k] for k in sorted(records)], section["eps"],
                        section["bound_tolerance"], section["sensitivity_p_max"])
    return {**summary, "beta1s": list(section["beta1s"]), "beta2s": list(section["beta2s"]),
            "eps_panel": dict(section["eps_panel"])}
