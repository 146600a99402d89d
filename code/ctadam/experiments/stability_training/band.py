r"""Which boundary does training follow? Lines of points across both boundaries, one rule.

Cells are (task, :math:`\gamma`, point, seed). The points of a line at :math:`\gamma`
(:func:`~ctadam.experiments.stability_training.configs.stability_points`): outside the exact
region at equal exact rate :math:`\rho = \ln\gamma - \tfrac12\ln\beta > 0`
(\cref{eq:growth-rate}), in the band :math:`0 < f < 1` between :math:`\beta = \gamma^2`
(\cref{eq:region}) and the paper's :math:`C = 0` (\cref{eq:paper-boundary}), and inside both
(:math:`f > 1`). Each cell runs for the steps its rates ask for
(:func:`~ctadam.experiments.stability_training.configs.cell_horizon`).

Every run is judged by the one pre-registered rule of :mod:`ctadam.instability`: **unstable**
when :math:`\max_n\lVert u_n\rVert_\infty > K` or it diverged. A run *counts* (is decidable for
its zone) when :func:`ctadam.instability.classify` calls its cell decidable (outside: horizon
:math:`N \ge \ln(10K)/\rho`; inside the exact region, band included: :math:`B_\infty < K`,
\cref{eq:bound-inf}) and, in the band, when the paper's own growth :math:`e^{n|C|/2}`
(\cref{eq:paper-rates}) would pass :math:`10K` within :math:`N` steps
(:func:`~ctadam.experiments.stability_training.configs.paper_decidable`): a band run that
stays below :math:`K` is evidence against the paper only then. Runs that do not count are
reported as undecidable (with the reason), never as bounded.

Inside the exact region (band and inside zones) the theorem guarantees
:math:`\lVert u_n\rVert_\infty \le B_\infty < K` for every decidable cell (checked run by run
by :func:`ctadam.experiments.measures.check_bound`), so such runs can be unstable only by
diverging; the informative measurement is whether the cells *outside* realise the growth the
exact analysis allows.

Per task and zone (each outside :math:`\rho`, band, inside): the unstable count over the runs
that count, its Wilson 95 % interval (:func:`ctadam.stats.wilson_interval`), the undecidable
count, the peak :math:`\max_n\lVert u_n\rVert_\infty` (median and largest), and as a
sensitivity column the old late-window rule (``measure.window``/``growth_factor``, and each
factor of ``measure.sensitivity``) relabelled from the same records.

The ledger claim :func:`claim` (id ``band``) and its pre-registered verdict rule
(:func:`band_verdict`).
"""

import math
from collections import Counter

import numpy as np

from ctadam.claims import row
from ctadam.experiments.measures import is_growing
from ctadam.experiments.stability_training.configs import paper_decidable, stability_points
from ctadam.experiments.stability_training.growth import TASK_MACRO, TASK_NAME, tasks_in_order
from ctadam.experiments.stability_training.measure import proportion, strip_eval
from ctadam.stats import NOT_REPRODUCED, REPRODUCED, UNDECIDABLE

UNDECIDABLE_PAPER = "undecidable: the paper's |C|/2 cannot reach 10 K within the horizon"
CLAIM = ("Updates grow (training becomes unstable) in the band between the exact boundary "
         "beta = gamma^2 and the paper's C = 0, i.e. the paper's boundary is the one training "
         "follows")
LETTERS = "ABCDEFGHIJ"


def zone_keys(rhos) -> list[str]:
    """The zone keys in table order: one ``outside_r<rho>`` per rho (largest first), then
    ``band`` and ``inside``."""
    return [f"outside_r{r:g}" for r in sorted(rhos, reverse=True)] + ["band", "inside"]


def annotate(runs: list[dict], st: dict) -> list[dict]:
    """Each run with its ``point`` label, ``zone`` key, ``paper_decidable`` and ``counts``
    (decidable for its zone, see the module docstring) and ``reason`` (why it does not count,
    or None). Raises ``ValueError`` for a run on no point of the profile's lines."""
    b, K = st["band"], st["instability"]["K"]
    out = []
    for r in runs:
        pts = [p for p in stability_points(r["beta1"], b, "stability_training.band")
               if abs(p["beta2"] - r["beta2"]) < 1e-12]
        if not pts:
            raise ValueError(f"band run {r['id']}: (beta1, beta2) = ({r['beta1']}, "
                             f"{r['beta2']}) is on no point of the profile's band lines")
        p = pts[0]
        zone = f"outside_r{p['value']:g}" if p["zone"] == "outside" else p["zone"]
        paper = paper_decidable(r["beta1"], r["beta2"], K, r["steps"])
        reason = None if r["decidable"] else r["decidability"]
        if reason is None and p["zone"] == "band" and not paper:
            reason = UNDECIDABLE_PAPER
        out.append({**r, "point": p["label"], "zone": zone, "paper_decidable": paper,
                    "counts": reason is None, "reason": reason})
    return out


def _peaks(runs: list[dict]) -> dict:
    peaks = [r["peak"] for r in runs if math.isfinite(r["peak"])]
    return {"peak_median": float(np.median(peaks)) if peaks else math.nan,
            "peak_max": max(peaks, default=math.nan)}


def zone_stats(runs: list[dict]) -> dict:
    """The unstable proportion over the runs that count (``k`` of ``n``, Wilson interval), the
    runs, the undecidable count and reasons, unstable runs among the undecidable, diverged
    runs, the old rule's growing count and the peaks."""
    dec = [r for r in runs if r["counts"]]
    und = [r for r in runs if not r["counts"]]
    return {**proportion(sum(r["unstable"] for r in dec), len(dec)), "runs": len(runs),
            "undecidable": len(und), "reasons": dict(Counter(r["reason"] for r in und)),
            "undecidable_unstable": sum(r["unstable"] for r in und),
            "diverged": sum(r["status"] != "ok" for r in runs),
            "old_growing": sum(r["growing"] for r in runs), **_peaks(runs)}


def summarize(runs: list[dict], st: dict) -> dict:
    """Per task and pooled: zone statistics, per cell (gamma, point) the counts and peaks, and
    the old rule's growing counts per zone for each growth factor."""
    b = st["band"]
    runs = annotate(runs, st)
    keys = zone_keys(b["rhos"])
    tasks = {}
    for task in b["tasks"]:
        cells = [r for r in runs if r["task"] == task]
        by_cell = []
        for b1 in b["beta1s"]:
            for p in stability_points(b1, b, "stability_training.band"):
                sub = [r for r in cells if abs(r["beta1"] - b1) < 1e-12
                       and r["point"] == p["label"]]
                if not sub:
                    continue
                r0 = sub[0]
                by_cell.append({"beta1": b1, "point": p["label"], "zone": r0["zone"],
                                "beta2": p["beta2"], "fraction": r0["fraction"],
                                "rho": r0["rho"], "c": r0["c"], "paper_rate": r0["paper_rate"],
                                "steps": r0["steps"], "peaks": [r["peak"] for r in sub],
                                "counts": [r["counts"] for r in sub], **zone_stats(sub)})
        tasks[task] = {"zones": {k: zone_stats([r for r in cells if r["zone"] == k])
                                 for k in keys}, "cells": by_cell}
    sens = []
    for factor in sorted({st["measure"]["growth_factor"], *st["measure"]["sensitivity"]}):
        grow = {k: sum(is_growing(r["status"] != "ok", r["log_growth"], factor)
                       for r in runs if r["zone"] == k) for k in keys}
        sens.append({"factor": factor, "growing": grow})
    steps = [r["steps"] for r in runs]
    return {"experiment": "band", "K": st["instability"]["K"],
            "margin": st["instability"]["margin"], "base_steps": b["base_steps"],
            "max_steps": b["max_steps"], "steps_min": min(steps), "steps_max": max(steps),
            "seeds": len(b["seeds"]), "beta1s": list(b["beta1s"]),
            "rhos": sorted(b["rhos"]), "band_fractions": sorted(b["band_fractions"]),
            "inside_fractions": sorted(b["inside_fractions"]), "zone_keys": keys,
            "growth_factor": st["measure"]["growth_factor"], "sensitivity": sens,
            "tasks": tasks, "zones": {k: zone_stats([r for r in runs if r["zone"] == k])
                                      for k in keys},
            "runs": strip_eval(runs)}


def band_verdict(band: dict, top: dict, seeds: int, min_seeds: int) -> str:
    """The pre-registered verdict of claim ``band`` (fixed before any run of this design).

    ``band`` and ``top`` are :func:`ctadam.experiments.stability_training.measure.proportion`
    dicts: the unstable share of the band runs that count (all tasks and gamma) and of the
    outside runs at the largest rho. "undecidable at this scale" when ``seeds < min_seeds`` or
    no band run counts; "reproduced" (the paper's boundary) when the band's Wilson interval
    lies above 1/2 (``low > 0.5``: band runs mostly unstable); "not reproduced" when it lies
    below 1/2 (``high < 0.5``) *and* the outside runs at the largest rho are mostly unstable
    (``top["low"] > 0.5``), so the rule fires where the exact theory says growth is possible;
    otherwise "undecidable at this scale".
    """
    if seeds < min_seeds or band["n"] == 0:
        return UNDECIDABLE
    if band["low"] > 0.5:
        return REPRODUCED
    if band["high"] < 0.5 and top["n"] > 0 and top["low"] > 0.5:
        return NOT_REPRODUCED
    return UNDECIDABLE


def claim(summary: dict, st: dict) -> dict:
    """The ledger row ``band`` (:mod:`ctadam.claims`): value = unstable share of the band runs
    that count, interval = its Wilson 95 % interval, verdict by :func:`band_verdict`."""
    band = summary["zones"]["band"]
    top = summary["zones"][summary["zone_keys"][0]]
    verdict = band_verdict(band, top, summary["seeds"], st["verdicts"]["min_seeds"])
    measure = (f"one rule (ctadam.instability, K = {summary['K']:g}): unstable share of the "
               f"decidable band runs ({band['k']} of {band['n']}, {band['undecidable']} "
               "undecidable), Wilson 95 % interval; reproduced if its lower end > 0.5, not "
               "reproduced if its upper end < 0.5 while the outside runs at the largest rho "
               f"(rho = {summary['rhos'][-1]:g}: {top['k']} of {top['n']} unstable) have a "
               f"lower end > 0.5; undecidable otherwise or below "
               f"{st['verdicts']['min_seeds']} seeds")
    return row("band", CLAIM, verdict, measure, band["fraction"], [band["low"], band["high"]],
               summary["seeds"], "stability_training_summary")


def follows(summary: dict, st: dict) -> str:
    """Which boundary the counts side with, in words, from :func:`band_verdict`."""
    verdict = claim(summary, st)["verdict"]
    if verdict == REPRODUCED:
        return "the paper's boundary $C=0$"
    if verdict == NOT_REPRODUCED:
        return "the exact boundary $\\beta=\\gamma^2$"
    return "neither boundary decisively at this scale"


def _num(x, digits: int = 2) -> str:
    return "--" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _peak(x) -> str:
    return "--" if x is None or not math.isfinite(x) else f"\\num{{{x:.3g}}}"


def zone_macro(key: str, keys: list[str]) -> str:
    """Macro part of a zone key: ``OutsideA`` (largest rho), ``OutsideB``, ..., ``Band``,
    ``Inside``."""
    if key.startswith("outside_"):
        return f"Outside{LETTERS[keys.index(key)]}"
    return key.capitalize()


def macros(summary: dict, st: dict) -> dict[str, str]:
    """Prefix ``StabBand``: settings; per zone (pooled and per task) the unstable count, runs
    that count, undecidable runs, Wilson interval, old rule and peaks; the claim's verdict."""
    keys = summary["zone_keys"]
    out = {"StabBandSeeds": str(summary["seeds"]), "StabBandK": f"{summary['K']:g}",
           "StabBandMargin": f"{summary['margin']:g}",
           "StabBandBaseSteps": str(summary["base_steps"]),
           "StabBandMaxSteps": str(summary["max_steps"]),
           "StabBandStepsMin": str(summary["steps_min"]),
           "StabBandStepsMax": str(summary["steps_max"]),
           "StabBandRuns": str(len(summary["runs"])),
           "StabBandBetaOnes": ", ".join(f"{b:g}" for b in summary["beta1s"]),
           "StabBandRhos": ", ".join(f"{r:g}" for r in summary["rhos"]),
           "StabBandFractions": ", ".join(f"{f:g}" for f in summary["band_fractions"]),
           "StabBandInsideFractions": ", ".join(f"{f:g}" for f in summary["inside_fractions"])}
    for key in keys:
        z, name = summary["zones"][key], zone_macro(key, keys)
        if key.startswith("outside_"):
            out[f"StabBandRho{LETTERS[keys.index(key)]}"] = key.removeprefix("outside_r")
        out |= {f"StabBand{name}Unstable": str(z["k"]), f"StabBand{name}Decidable": str(z["n"]),
                f"StabBand{name}Undecidable": str(z["undecidable"]),
                f"StabBand{name}Low": _num(z["low"]), f"StabBand{name}High": _num(z["high"]),
                f"StabBand{name}OldGrowing": str(z["old_growing"]),
                f"StabBand{name}Total": str(z["runs"]),
                f"StabBand{name}PeakMax": _peak(z["peak_max"]),
                f"StabBand{name}PeakMedian": _peak(z["peak_median"])}
        for task, t in summary["tasks"].items():
            tz, tname = t["zones"][key], TASK_MACRO[task]
            out[f"StabBand{tname}{name}Unstable"] = str(tz["k"])
            out[f"StabBand{tname}{name}Decidable"] = str(tz["n"])
            out[f"StabBand{tname}{name}Undecidable"] = str(tz["undecidable"])
    outside = [summary["zones"][k] for k in keys if k.startswith("outside_")]
    out["StabBandOutsideList"] = "; ".join(
        f"{z['k']} of {z['n']} at $\\rho = {k.removeprefix('outside_r')}$"
        + ("" if z["n"] == 0 else f" (Wilson {_num(z['low'])} to {_num(z['high'])})")
        for k, z in zip([k for k in keys if k.startswith("outside_")], outside, strict=True))
    band = summary["zones"]["band"]
    # The abstract's numbers (paper/main.tex), now under the one rule: band runs that count
    # and stay below K, outside runs that count and exceed it.
    out["StabBandBounded"] = str(band["n"] - band["k"])
    out["StabBandCells"] = str(band["n"])
    out["StabBandOutsideGrowing"] = str(sum(z["k"] for z in outside))
    out["StabBandOutsideCells"] = str(sum(z["n"] for z in outside))
    out["StabBandFollows"] = follows(summary, st)
    row = claim(summary, st)
    out["StabBandVerdict"] = row["verdict"]
    sens = summary["sensitivity"]
    out["StabBandSensFactors"] = ", ".join(f"{r['factor']:g}" for r in sens)
    for zone in ("band", "inside"):
        out[f"StabBandSens{zone.capitalize()}Growing"] = ", ".join(
            str(r["growing"][zone]) for r in sens)
    out["StabBandSensOutsideGrowing"] = ", ".join(
        str(sum(v for k, v in r["growing"].items() if k.startswith("outside_"))) for r in sens)
    return out


def zone_label(key: str) -> str:
    if key.startswith("outside_"):
        return f"outside, $\\rho={key.removeprefix('outside_r')}$"
    return {"band": "band $0<f<1$", "inside": "inside $f>1$"}[key]


def table(summary: dict) -> str:
    """Booktabs table: per task and zone, unstable/counted runs per gamma and pooled, the
    Wilson interval, undecidable runs, the old rule's growing runs and the peaks."""
    b1s = [f"{b:g}" for b in summary["beta1s"]]
    cols = "ll" + "r" * len(b1s) + "rlrrr"
    lines = [f"\\begin{{tabular}}{{{cols}}}", "\\toprule",
             f"task & zone & \\multicolumn{{{len(b1s)}}}{{c}}{{unstable / decidable at "
             f"$\\gamma$}} & all & Wilson 95\\,\\% & undec. & old rule & peak "
             "$\\lVert u\\rVert_\\infty$ \\\\",
             " & & " + " & ".join(f"${b}$" for b in b1s)
             + " & & & & growing & median [max] \\\\", "\\midrule"]
    for task, t in tasks_in_order(summary["tasks"]):
        for key in summary["zone_keys"]:
            z = t["zones"][key]
            per = []
            for b1 in summary["beta1s"]:
                cell = [c for c in t["cells"] if abs(c["beta1"] - b1) < 1e-12
                        and c["zone"] == key]
                k = sum(c["k"] for c in cell)
                n = sum(c["n"] for c in cell)
                per.append(f"{k}/{n}" if cell else "--")
            wilson = "--" if z["n"] == 0 else f"[{_num(z['low'])}, {_num(z['high'])}]"
            lines.append(f"{TASK_NAME[task]} & {zone_label(key)} & " + " & ".join(per)
                         + f" & {z['k']}/{z['n']} & {wilson} & {z['undecidable']} & "
                         f"{z['old_growing']}/{z['runs']} & {_peak(z['peak_median'])} "
                         f"[{_peak(z['peak_max'])}] \\\\")
        lines.append("\\midrule")
    lines[-1] = "\\bottomrule"
    lines.append("\\end{tabular}")
    return "\n".join(lines) + "\n"
