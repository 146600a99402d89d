r"""The lr-region record -> verdicts per learning rate and criterion, the claim, the macros.

Per learning rate and seed, the empirical stable map of the one instability rule
(:mod:`ctadam.instability`: a run is unstable when its peak update exceeds the profile's
``K``) is compared with the exact region :math:`\beta > \gamma^2` (\cref{eq:region}) and the
paper's :math:`C > 0` (\cref{eq:paper-c}) over the *decidable* cells only
(:func:`ctadam.instability.decidable_mask`: inside with :math:`B_\infty < K`, or outside with
a horizon of at least :math:`\ln(10K)/\rho` steps); the same for every ``sensitivity_u``
threshold (with its own decidable cells) and for the parameter-growth criterion. A cell's map
value is the majority of its seeds. Inside the exact region every peak update must stay below
:math:`B_\infty` (\cref{eq:bound-inf}; ``bound_ok``).

The claim ``lr-region`` (a reviewer's experiment: the empirical stable region grows as the
learning rate falls) is judged on the per-seed difference of the stable share beyond the exact
boundary between the smallest and the largest learning rate (:func:`claim`).
"""

import numpy as np

from ctadam.io import latex_sci
from ctadam.theory import region as rg
from ctadam.theory import stability as st


def empirical_boundary(stable: np.ndarray, exact: np.ndarray, beta2_axis: np.ndarray) -> list:
    """Per beta1 row, the grid beta2 just above the highest unstable run outside the exact
    region (the smallest beta2 when none is unstable there). Runs inside the exact region that
    cross the threshold (where B_inf itself is above it) are counted by :func:`classify` as
    ``unstable_inside_exact``, not drawn as a boundary."""
    out = []
    for row, inside in zip(stable, exact, strict=True):
        unstable = np.flatnonzero(~row & ~inside)
        top = unstable[-1] + 1 if unstable.size else 0
        out.append(float(beta2_axis[min(top, beta2_axis.size - 1)]))
    return out


def classify(stable: np.ndarray, exact: np.ndarray, paper: np.ndarray, band: np.ndarray,
             decided: np.ndarray) -> dict:
    """How one empirical stable map compares with both theories, over the decidable cells
    ``decided`` (fractions of them; ``None`` where a set is empty)."""
    def share(values, where):
        return float(values[where].mean()) if where.any() else None

    return {"decidable": int(decided.sum()), "undecidable": int((~decided).sum()),
            "stable_fraction": share(stable, decided),
            "agree_exact": share(stable == exact, decided),
            "agree_paper": share(stable == paper, decided),
            "stable_outside_exact": share(stable, ~exact & decided),
            "unstable_inside_exact": share(~stable, exact & decided),
            "stable_in_band": share(stable, band & decided)}


def majority(stable_by_seed: np.ndarray) -> np.ndarray:
    """Per cell, whether most seeds (axis 0) are stable (a tie counts as unstable)."""
    return 2 * stable_by_seed.sum(axis=0) > stable_by_seed.shape[0]


def summarize(record: dict, K: float) -> dict:
    """Verdicts per learning rate and criterion, the empirical boundaries, the maps, and the
    per-seed stable shares beyond the exact boundary (what :func:`claim` tests)."""
    from ctadam.instability import decidable_mask

    cfg = record["config"]
    b1_axis, b2_axis = np.asarray(record["beta1"]), np.asarray(record["beta2"])
    b1, b2 = np.meshgrid(b1_axis, b2_axis, indexing="ij")
    exact, paper = st.in_stable_region(b1, b2), rg.paper_stable(b1, b2)
    band = rg.in_band(b1, b2)
    thresholds = sorted({K, *cfg["sensitivity_u"]})
    decided = {u: decidable_mask(b1, b2, u, cfg["steps"]) for u in thresholds}
    per_lr = []
    for entry in record["maps"]:
        peak_u, growth = np.asarray(entry["peak_u"]), np.asarray(entry["growth"])
        main = majority(peak_u <= K)
        per_lr.append({
            "lr": entry["lr"], "travel": entry["travel"],
            "main": classify(main, exact, paper, band, decided[K]) | {
                "boundary": empirical_boundary(main, exact, b2_axis)},
            "by_seed": [classify(p <= K, exact, paper, band, decided[K])["stable_outside_exact"]
                        for p in peak_u],
            "sensitivity": [{"u_threshold": u} | classify(majority(peak_u <= u), exact, paper,
                                                          band, decided[u])
                            for u in thresholds],
            "growth_criterion": classify(majority(growth <= cfg["growth_threshold"]), exact,
                                         paper, band, np.ones_like(exact)),
            "log10_peak_u": np.log10(np.maximum(np.median(peak_u, axis=0), 1e-300)),
            "max_peak_u_inside_exact": float(peak_u[:, exact].max()),
            "bound_ok": bool(np.all(peak_u[:, exact]
                                    <= st.bound_inf(b1, b2)[exact] * (1 + 1e-9)))})
    return {"config": cfg, "K": K, "beta1": b1_axis, "beta2": b2_axis,
            "n_runs": record["n_runs"], "seconds": record["seconds"],
            "decidable_cells": int(decided[K].sum()), "cells": int(exact.size),
            "exact_boundary": rg.exact_boundary(b1_axis),
            "paper_boundary": rg.paper_boundary(b1_axis), "band_points": int(band.sum()),
            "per_lr": per_lr}


def direction(small: float | None, large: float | None) -> str:
    """Whether the stable share beyond the exact boundary grows or shrinks as the learning rate
    falls from the largest to the smallest of the grid."""
    if small is None or large is None:
        return "is undefined"
    return "grows" if small > large else "shrinks" if small < large else "does not change"


def directions(summary: dict) -> dict[str, str]:
    """The trend's direction under every criterion: the main threshold, each sensitivity
    threshold (``u <= ...``) and the theta-growth criterion."""
    first, last = summary["per_lr"][0], summary["per_lr"][-1]
    out = {f"u <= {summary['K']:g}": direction(
        first["main"]["stable_outside_exact"], last["main"]["stable_outside_exact"])}
    for a, b in zip(first["sensitivity"], last["sensitivity"], strict=True):
        out[f"u <= {a['u_threshold']:g}"] = direction(a["stable_outside_exact"],
                                                      b["stable_outside_exact"])
    out["theta growth"] = direction(first["growth_criterion"]["stable_outside_exact"],
                                    last["growth_criterion"]["stable_outside_exact"])
    return out


def trend(by_criterion: dict[str, str]) -> str:
    """The direction in words, read off the data: does the empirical region beyond the exact
    boundary grow or shrink as the learning rate falls? One word when every criterion agrees;
    "depending on the threshold" when the thresholds on the update disagree among themselves,
    "depending on the criterion" when only the growth criterion differs from them."""
    words = set(by_criterion.values())
    if len(words) == 1:
        return f"{words.pop()} as the learning rate falls"
    on_update = {w for crit, w in by_criterion.items() if crit.startswith("u <=")}
    which = "threshold" if len(on_update) > 1 else "criterion (the update or the growth of theta)"
    return f"grows or shrinks as the learning rate falls, depending on the {which}"


def _pct(x) -> str:
    return "--" if x is None else f"{100 * x:.1f}"


def numbers(summary: dict) -> dict[str, str]:
    """LaTeX macros (LrRegion...) from the summary."""
    cfg, per_lr = summary["config"], summary["per_lr"]
    out = {"LrRegionRuns": f"{summary['n_runs']:,}".replace(",", "{,}"),
           "LrRegionSeconds": f"{summary['seconds']:.1f}",
           "LrRegionNLrs": str(len(per_lr)), "LrRegionGrid": f"{cfg['n_beta1']}\\times"
           f"{cfg['n_beta2']}", "LrRegionSteps": str(cfg["steps"]), "LrRegionDim": str(cfg["dim"]),
           "LrRegionCondition": f"{cfg['condition']:g}", "LrRegionEps": latex_sci(cfg["eps"]),
           "LrRegionUThreshold": f"{summary['K']:g}",
           "LrRegionSeeds": str(len(cfg["seeds"])),
           "LrRegionDecidable": f"{summary['decidable_cells']:,}".replace(",", "{,}"),
           "LrRegionCells": f"{summary['cells']:,}".replace(",", "{,}"),
           "LrRegionGrowthThreshold": f"{cfg['growth_threshold']:g}",
           "LrRegionLrMin": latex_sci(per_lr[0]["lr"]),
           "LrRegionLrMax": latex_sci(per_lr[-1]["lr"]),
           "LrRegionDecades": f"{np.log10(per_lr[-1]['lr'] / per_lr[0]['lr']):.0f}",
           "LrRegionSensitivity": ", ".join(f"{s['u_threshold']:g}"
                                             for s in per_lr[0]["sensitivity"]
                                             if s["u_threshold"] != summary["K"]),
           "LrRegionBoundOk": "holds" if all(e["bound_ok"] for e in per_lr) else "fails"}
    out["LrRegionTrend"] = trend(directions(summary))
    by_criterion = directions(summary)
    le = r"$\le$"
    out["LrRegionTrendByCriterion"] = "; ".join(
        f"{word} with {crit.replace('<=', le)}" for crit, word in by_criterion.items())
    for end, entry in (("Small", per_lr[0]), ("Large", per_lr[-1])):
        main = entry["main"]
        out[f"LrRegionStableOutside{end}"] = _pct(main["stable_outside_exact"])
        out[f"LrRegionUnstableInside{end}"] = _pct(main["unstable_inside_exact"])
        out[f"LrRegionStableBand{end}"] = _pct(main["stable_in_band"])
        out[f"LrRegionAgreeExact{end}"] = _pct(main["agree_exact"])
        out[f"LrRegionAgreePaper{end}"] = _pct(main["agree_paper"])
        out[f"LrRegionGrowthStableOutside{end}"] = _pct(
            entry["growth_criterion"]["stable_outside_exact"])
        outside = [s["stable_outside_exact"] for s in entry["sensitivity"]]
        out[f"LrRegionSensMin{end}"] = _pct(min(x for x in outside if x is not None))
        out[f"LrRegionSensMax{end}"] = _pct(max(x for x in outside if x is not None))
        out[f"LrRegionMaxPeakInside{end}"] = f"{entry['max_peak_u_inside_exact']:.2f}"
    return out


CLAIM = ("the empirical stable region of Adam grows as the learning rate falls (a reviewer's "
         "quadratic experiment)")


def claim(summary: dict, section: dict) -> dict:
    """The ledger row ``lr-region``, by a rule fixed before the runs.

    Per seed, d = (stable share of the decidable cells beyond the exact boundary at the smallest
    learning rate) - (the same at the largest), under the instability rule; a paired t interval
    over seeds (:func:`ctadam.stats.paired_t`, level ``verdicts.alpha``). Reproduced when the
    interval lies above 0 and the direction is the same under every criterion (each
    ``sensitivity_u`` threshold and the growth criterion); not reproduced when it lies below 0
    (the rule's own criterion; the others are reported beside it) or contains 0 while no
    criterion says the share grows; otherwise, or with fewer seeds than ``verdicts.min_seeds``,
    undecidable.
    """
    from ctadam.claims import row
    from ctadam.stats import NOT_REPRODUCED, REPRODUCED, UNDECIDABLE, paired_t

    v = section["verdicts"]
    small, large = summary["per_lr"][0]["by_seed"], summary["per_lr"][-1]["by_seed"]
    pairs = [(a, b) for a, b in zip(small, large, strict=True)
             if a is not None and b is not None]
    words = set(directions(summary).values())
    verdict, test = UNDECIDABLE, None
    if len(pairs) >= max(2, v["min_seeds"]):
        test = paired_t([a for a, _ in pairs], [b for _, b in pairs], v["alpha"])
        lo, hi = test["low"], test["high"]
        if lo > 0 and words == {"grows"}:
            verdict = REPRODUCED
        elif hi < 0 or (words and "grows" not in words):
            verdict = NOT_REPRODUCED
    measure = (f"per-seed change of the stable share beyond the exact boundary (decidable cells, "
               f"rule K = {summary['K']:g}) from the largest to the smallest learning rate; "
               f"paired t interval; directions by criterion: "
               + "; ".join(f"{k}: {w}" for k, w in directions(summary).items()))
    return row("lr-region", CLAIM, verdict, measure,
               None if test is None else test["mean"],
               None if test is None else [test["low"], test["high"]], len(pairs),
               "lr_region_summary")
