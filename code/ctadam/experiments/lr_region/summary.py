r"""The lr-region record -> verdicts per learning rate and criterion, and the paper's macros.

Per learning rate, the empirical stable map (peak update at most ``u_threshold`` learning
rates) is compared with the exact region :math:`\beta > \gamma^2` (\cref{eq:region}) and the
paper's :math:`C > 0` (\cref{eq:paper-c}); inside the exact region every peak update must stay
below :math:`B_\infty` (\cref{eq:bound-inf}; ``bound_ok``).
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


def classify(stable: np.ndarray, exact: np.ndarray, paper: np.ndarray, band: np.ndarray) -> dict:
    """How one empirical stable map compares with both theories (fractions of grid points)."""
    return {"stable_fraction": float(stable.mean()),
            "agree_exact": float((stable == exact).mean()),
            "agree_paper": float((stable == paper).mean()),
            "stable_outside_exact": float(stable[~exact].mean()) if (~exact).any() else None,
            "unstable_inside_exact": float((~stable[exact]).mean()) if exact.any() else None,
            "stable_in_band": float(stable[band].mean()) if band.any() else None}


def summarize(record: dict) -> dict:
    """Verdicts per learning rate and criterion, the empirical boundaries, and the maps."""
    cfg = record["config"]
    b1_axis, b2_axis = np.asarray(record["beta1"]), np.asarray(record["beta2"])
    b1, b2 = np.meshgrid(b1_axis, b2_axis, indexing="ij")
    exact, paper = st.in_stable_region(b1, b2), rg.paper_stable(b1, b2)
    band = rg.in_band(b1, b2)
    per_lr = []
    for entry in record["maps"]:
        peak_u, growth = np.asarray(entry["peak_u"]), np.asarray(entry["growth"])
        main = peak_u <= cfg["u_threshold"]
        per_lr.append({
            "lr": entry["lr"], "travel": entry["travel"],
            "main": classify(main, exact, paper, band) | {
                "boundary": empirical_boundary(main, exact, b2_axis)},
            "sensitivity": [{"u_threshold": u} | classify(peak_u <= u, exact, paper, band)
                            for u in cfg["sensitivity_u"]],
            "growth_criterion": classify(growth <= cfg["growth_threshold"], exact, paper, band),
            "log10_peak_u": np.log10(np.maximum(peak_u, 1e-300)),
            "max_peak_u_inside_exact": float(peak_u[exact].max()),
            "bound_ok": bool(np.all(peak_u[exact] <= st.bound_inf(b1, b2)[exact] * (1 + 1e-9)))})
    return {"config": cfg, "beta1": b1_axis, "beta2": b2_axis, "n_runs": record["n_runs"],
            "seconds": record["seconds"], "exact_boundary": rg.exact_boundary(b1_axis),
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
    cfg = summary["config"]
    out = {f"u <= {cfg['u_threshold']:g}": direction(
        first["main"]["stable_outside_exact"], last["main"]["stable_outside_exact"])}
    for a, b in zip(first["sensitivity"], last["sensitivity"], strict=True):
        out[f"u <= {a['u_threshold']:g}"] = direction(a["stable_outside_exact"],
                                                      b["stable_outside_exact"])
    out["theta growth"] = direction(first["growth_criterion"]["stable_outside_exact"],
                                    last["growth_criterion"]["stable_outside_exact"])
    return out


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
           "LrRegionUThreshold": f"{cfg['u_threshold']:g}",
           "LrRegionGrowthThreshold": f"{cfg['growth_threshold']:g}",
           "LrRegionLrMin": latex_sci(per_lr[0]["lr"]),
           "LrRegionLrMax": latex_sci(per_lr[-1]["lr"]),
           "LrRegionDecades": f"{np.log10(per_lr[-1]['lr'] / per_lr[0]['lr']):.0f}",
           "LrRegionSensitivity": ", ".join(f"{s['u_threshold']:g}"
                                             for s in per_lr[0]["sensitivity"]),
           "LrRegionBoundOk": "holds" if all(e["bound_ok"] for e in per_lr) else "fails"}
    # The direction the paper states in words, read off the data: does the empirical region
    # beyond the exact boundary grow or shrink as the learning rate falls? One word when every
    # criterion (threshold) agrees, else "depending on the threshold"; the list says which.
    by_criterion = directions(summary)
    words = set(by_criterion.values())
    out["LrRegionTrend"] = (f"{words.pop()} as the learning rate falls" if len(words) == 1 else
                            "grows or shrinks as the learning rate falls, depending on the "
                            "threshold")
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
