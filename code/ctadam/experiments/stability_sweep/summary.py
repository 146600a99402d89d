r"""Records of the sweep -> its summary: per-run numbers, agreement with theory, bound check.

Per run (:func:`summarize_run`):

* the max RMS update :math:`\max_n \lVert u_n\rVert/\sqrt d` and max coordinate
  :math:`\max_n \max_i |u_{n,i}|`;
* the label of the one instability rule (:func:`ctadam.instability.classify`: unstable when
  :math:`\max_n \lVert u_n\rVert_\infty > K` or the run diverged) and the cell's decidability at
  the run's horizon; the theory labels, unstable iff :math:`\gamma^2 \ge \beta` (exact,
  \cref{eq:region}) and iff :math:`C < 0` (the paper's, \cref{eq:paper-c});
* the growth exponent :math:`r_{\max}` (:func:`~ctadam.experiments.measures.max_growth_rate`),
  compared with :math:`\rho = \ln\gamma - \tfrac12\ln\beta` (\cref{eq:growth-rate});
* as sensitivity columns only, the earlier rule on the parameter norm
  (:func:`~ctadam.experiments.measures.monitor_unstable`) and its label for each
  :math:`p_{\max}` of ``sensitivity_p_max``, the monitor's rule replayed on the logged norms
  (:func:`~ctadam.experiments.measures.unstable_by_p_max`; no retraining);
* for runs inside the region, :math:`\max_n \max_i |u_{n,i}| / B_n` with :math:`B_n` of
  \cref{eq:bound-n}. The hard property is that this never exceeds 1 (+ ``bound_tolerance``):
  :func:`~ctadam.experiments.measures.check_bound` raises
  :class:`~ctadam.experiments.measures.BoundViolation` otherwise (the summary step fails).

Per cell (:func:`cells`): the majority label of its seeds (an odd number of seeds leaves no
tie; a tie counts as unstable). The agreement of a region with training is the fraction of
*decidable* cells whose majority label equals the region's, with its Wilson 95 % interval
(:func:`ctadam.stats.wilson_interval`); undecidable cells are counted by reason, never as
bounded.

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


def summarize_run(record: dict, K: float, p_max_values=()) -> dict:
    """The per-run numbers of the sweep (see the module docstring); ``K``: the rule's threshold."""
    import numpy as np

    from ctadam.experiments.stability_sweep import run_id
    from ctadam.instability import classify
    from ctadam.theory.region import paper_stable
    from ctadam.theory.stability import bound_inf, growth_rate, in_stable_region

    cfg = record["config"]
    (beta1, beta2), eps = cfg["optimizer"]["betas"][0], cfg["optimizer"]["eps"]
    u_max = np.asarray(record["per_step"]["update_max_abs"], dtype=float)
    u_rms = np.asarray(record["per_step"]["update_rms"], dtype=float)
    inside = bool(in_stable_region(beta1, beta2))
    ratio, ratio_late = bound_ratios(beta1, beta2, u_max)
    peak = _nanmax(u_max)
    rule = classify(beta1, beta2, peak, record["status"] != "ok", K, cfg["steps"])
    return {
        "id": run_id(beta1, beta2, eps, cfg["seed"]), "beta1": beta1, "beta2": beta2,
        "eps": eps, "seed": cfg["seed"], "steps": cfg["steps"],
        "inside": inside, "theory_unstable": not inside,
        "paper_unstable": not bool(paper_stable(beta1, beta2)),
        "unstable": rule["unstable"], "decidability": rule["decidability"],
        "decidable": rule["decidable"],
        "measured_unstable": monitor_unstable(record),
        "status": record["status"], "diverged_at": record["diverged_at"],
        "flagged_at": record["monitor"]["flagged_at"],
        "peak_update_rms": _nanmax(u_rms), "peak_update_max_abs": peak,
        "final_param_norm": record["log"]["param_norm"][-1],
        "growth_rate": max_growth_rate(record["log"]["step"], record["log"]["param_norm"],
                                       cfg["monitor"]["window"]),
        "rho": float(growth_rate(beta1, beta2)), "bound_inf": float(bound_inf(beta1, beta2)),
        "max_bound_ratio": ratio, "max_bound_ratio_after_first": ratio_late,
        "steps_done": record["steps_done"],
        "unstable_by_p_max": unstable_by_p_max(record, p_max_values),
    }


def cells(grid: list[dict]) -> list[dict]:
    """One entry per (beta1, beta2) of the grid: the majority label of its seeds under the rule
    (a tie counts as unstable), its decidability, the theory labels and the medians over seeds
    of the peak updates and growth exponent (what the figure draws)."""
    import numpy as np

    by = {}
    for r in grid:
        by.setdefault((r["beta1"], r["beta2"]), []).append(r)
    out = []
    for (b1, b2), rs in sorted(by.items()):
        unstable = sum(r["unstable"] for r in rs)
        out.append({
            "beta1": b1, "beta2": b2, "seeds": len(rs), "unstable_seeds": unstable,
            "unstable": 2 * unstable >= len(rs), "decidability": rs[0]["decidability"],
            "decidable": rs[0]["decidable"], "theory_unstable": rs[0]["theory_unstable"],
            "paper_unstable": rs[0]["paper_unstable"], "inside": rs[0]["inside"],
            "rho": rs[0]["rho"], "bound_inf": rs[0]["bound_inf"], "steps": rs[0]["steps"],
            "diverged_seeds": sum(r["status"] != "ok" for r in rs),
            "peak_update_rms": float(np.median([r["peak_update_rms"] for r in rs])),
            "peak_update_max_abs": float(np.median([r["peak_update_max_abs"] for r in rs])),
            "growth_rate": float(np.median([r["growth_rate"] for r in rs])),
            "measured_unstable": 2 * sum(r["measured_unstable"] for r in rs) >= len(rs),
        })
    return out


def region_agreement(grid_cells: list[dict], label: str) -> dict:
    """How well a region's label (``"theory_unstable"``: exact, ``"paper_unstable"``: the
    paper's) predicts the rule's majority label over the decidable cells: agreeing cells,
    decidable cells, the fraction and its Wilson 95 % interval, and the confusion counts."""
    from ctadam.stats import wilson_interval

    decided = [c for c in grid_cells if c["decidable"]]
    agree = sum(c[label] == c["unstable"] for c in decided)
    lo, hi = wilson_interval(agree, len(decided)) if decided else (math.nan, math.nan)
    return {"agree": agree, "cells": len(decided),
            "agreement": agree / len(decided) if decided else math.nan,
            "interval": [lo, hi],
            "confusion": {f"theory_{t}_measured_{m}": sum(
                1 for c in decided if c[label] == (t == "unstable")
                and c["unstable"] == (m == "unstable"))
                for t in ("stable", "unstable") for m in ("stable", "unstable")},
            "disagreeing": [[c["beta1"], c["beta2"]] for c in decided
                            if c[label] != c["unstable"]]}


def _nanmax(a) -> float:
    import numpy as np

    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else math.nan


def confusion(grid: list[dict], measured_key: str, p_max: float | None = None) -> dict:
    """Counts of the exact theory label (stable/unstable) against a measured label over the
    runs ``grid`` (the earlier rule's sensitivity rows).

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
    """The earlier parameter-norm rule per threshold (increasing), over all grid runs: confusion
    counts, agreeing runs and agreement fraction (a sensitivity column, not the verdict)."""
    rows = []
    for p in sorted(set(p_max_values)):
        c = confusion(grid, "unstable_by_p_max", p)
        rows.append({"p_max": p, "confusion": c, "agree": _agree_count(c),
                     "agreement": _agree_count(c) / len(grid)})
    return rows


def aggregate(records: list[dict], grid_eps: float, tolerance: float, K: float,
              p_max_values=()) -> dict:
    """Summary of a sweep: per-run numbers, per-cell labels, the agreement of the exact and the
    paper's region with the instability rule, the earlier rule's sensitivity rows and the
    bound check.

    ``p_max_values``: thresholds of the sensitivity rows; the runs' own threshold is added.
    """
    from ctadam.instability import DECIDABLE

    p_max_values = {check_real("p_max", p, 0.0, low_open=True) for p in p_max_values}
    p_max_values |= {float(rec["config"]["monitor"]["max_loglog_slope"]) for rec in records}
    runs = {}
    for rec in records:
        s = summarize_run(rec, K, p_max_values)
        runs[s["id"]] = s
    runs = [runs[k] for k in sorted(runs)]
    grid = [r for r in runs if r["eps"] == grid_eps]
    if not grid:
        raise ValueError(f"grid_eps={grid_eps!r} matches no record's eps")
    grid_cells = cells(grid)
    undecidable = {}
    for c in grid_cells:
        if c["decidability"] != DECIDABLE:
            undecidable[c["decidability"]] = undecidable.get(c["decidability"], 0) + 1
    old_agree = [r for r in grid if r["theory_unstable"] == r["measured_unstable"]]
    growing = [r for r in grid if r["theory_unstable"] and r["unstable"]
               and math.isfinite(r["growth_rate"])]
    rel = [r["growth_rate"] / r["rho"] for r in growing]
    return {
        "runs": runs, "cells": grid_cells, "grid_eps": grid_eps, "K": K,
        "grid_cells": len(grid_cells), "grid_runs": len(grid),
        "seeds": sorted({r["seed"] for r in grid}),
        "undecidable": undecidable,
        "exact": region_agreement(grid_cells, "theory_unstable"),
        "paper": region_agreement(grid_cells, "paper_unstable"),
        "theta_rule": {"agree": len(old_agree), "runs": len(grid),
                       "agreement": len(old_agree) / len(grid),
                       "confusion": confusion(grid, "measured_unstable")},
        "sensitivity": sensitivity(grid, p_max_values),
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
                        section["bound_tolerance"], section["instability"]["K"],
                        section["sensitivity_p_max"])
    return {**summary, "beta1s": list(section["beta1s"]), "beta2s": list(section["beta2s"]),
            "eps_panel": {**section["eps_panel"], "seed": section["seeds"][0]}}
