r"""Does gradient noise or weight decay change where training becomes unstable? (MNIST-1D)

Conditions (:func:`ctadam.experiments.stability_training.configs.noise_conditions`): full batch
(the reference), minibatches at no weight decay, and AdamW weight decays at full batch, each on
the same line of points at one :math:`\gamma` and the same seeds. The points are those of the
``band`` experiment (:func:`~ctadam.experiments.stability_training.configs.stability_points`):
outside the exact region at equal exact rate :math:`\rho` (\cref{eq:growth-rate}), which
reaches far beyond the old grid's :math:`f = -1` (at :math:`\gamma = 0.5`, :math:`\rho = 1`
is :math:`f \approx -2.6`) and gives every outside point a horizon that can decide it; in the
band; and inside both regions.

Every run is judged by the one rule of :mod:`ctadam.instability` (unstable:
:math:`\max_n\lVert u_n\rVert_\infty > K` or diverged; undecidable cells are reported, never
counted as bounded). The exact bound :math:`\lVert u_n\rVert_\infty \le B_\infty`
(\cref{eq:bound-inf}) holds for *any* gradient sequence, noisy or not, and bounds Adam's
update :math:`u_n` also under AdamW's decoupled decay, so inside the exact region no condition
can make a decidable run unstable except by divergence: the question is whether the
conditions change how often the cells *outside* realise growth.

Per condition: per point the unstable share of the decidable runs with its Wilson 95 %
interval (:func:`ctadam.stats.wilson_interval`) and the peaks; the boundary interval in
:math:`f` under the rule (:func:`~ctadam.experiments.stability_training.measure.rule_boundary`:
the largest point whose decidable runs are mostly unstable and the next point); the pooled
unstable share of its decidable outside runs; against full batch, the difference of the pooled
shares with its Newcombe 95 % interval (:func:`newcombe_interval`) and Fisher's exact test,
Holm-corrected over the conditions (:func:`ctadam.stats.holm`). As a sensitivity column the
old late-window rule's boundary (``measure.growth_factor`` and each factor of
``measure.sensitivity``, relabelled from the same records).

The ledger claim :func:`claim` (id ``noise``) and its pre-registered rule
(:func:`noise_verdict`). Why pooled: with 5 seeds per point, a per-point Fisher test's smallest
two-sided p-value is :math:`2/\binom{10}{5} \approx 0.008`, above :math:`\alpha/m` after Holm
over the :math:`m \ge 7` (condition, point) pairs, so per-point tests could never reject.
"""

import math

import numpy as np

from ctadam.claims import row
from ctadam.experiments.measures import is_growing
from ctadam.experiments.stability_training.configs import noise_conditions, stability_points
from ctadam.experiments.stability_training.measure import (
    boundary_interval,
    fmt_interval,
    fmt_rule_boundary,
    proportion,
    rule_boundary,
    strip_eval,
)
from ctadam.stats import NOT_REPRODUCED, REPRODUCED, UNDECIDABLE

CLAIM = ("Gradient noise (minibatches) and AdamW weight decay do not change where training "
         "becomes unstable: the unstable share of the runs outside the exact region is the "
         "same as with full batch")
LETTERS = "ABCDEFGH"


def newcombe_interval(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    r"""Newcombe's hybrid score 95 % interval of :math:`p_1 - p_2`, :math:`p_i = k_i/n_i`, from
    the two Wilson intervals :math:`[l_i, u_i]`:
    :math:`\bigl[d - \sqrt{(p_1-l_1)^2 + (u_2-p_2)^2},\ d + \sqrt{(u_1-p_1)^2 + (p_2-l_2)^2}\bigr]`.
    """
    a, b = proportion(k1, n1), proportion(k2, n2)
    if not n1 or not n2:
        raise ValueError(f"newcombe_interval needs n1, n2 >= 1, got {n1}, {n2}")
    d = a["fraction"] - b["fraction"]
    low = d - math.hypot(a["fraction"] - a["low"], b["high"] - b["fraction"])
    high = d + math.hypot(a["high"] - a["fraction"], b["fraction"] - b["low"])
    return max(-1.0, low), min(1.0, high)


def fisher_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test of k1/n1 against k2/n2."""
    from scipy import stats

    return float(stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])[1])


def _peaks(runs: list[dict]) -> dict:
    peaks = [r["peak"] for r in runs if math.isfinite(r["peak"])]
    return {"peak_median": float(np.median(peaks)) if peaks else math.nan,
            "peak_max": max(peaks, default=math.nan)}


def summarize(runs: list[dict], st: dict) -> dict:
    """Per condition (in the profile's order): per point the unstable share with Wilson
    interval and the peaks, the rule's boundary, the pooled outside share, and the comparison
    with full batch (difference, Newcombe interval, Fisher p, Holm-adjusted p); the old rule's
    boundary as sensitivity."""
    from ctadam.stats import holm

    n = st["noise"]
    pts = stability_points(n["beta1"], n, "stability_training.noise")
    conds = []
    for c in noise_conditions(n):
        cells = [r for r in runs if r["id"].startswith(c["name"] + "_")]
        per = []
        for p in pts:
            sub = [r for r in cells if abs(r["beta2"] - p["beta2"]) < 1e-12]
            dec = [r for r in sub if r["decidable"]]
            per.append({"label": p["label"], "zone": p["zone"], "kind": p["kind"],
                        "value": p["value"], "beta2": p["beta2"],
                        "fraction": sub[0]["fraction"] if sub else math.nan,
                        "rho": sub[0]["rho"] if sub else math.nan,
                        "steps": sub[0]["steps"] if sub else None, "runs": len(sub),
                        "undecidable": len(sub) - len(dec),
                        "unstable": proportion(sum(r["unstable"] for r in dec), len(dec)),
                        "old_growing": sum(r["growing"] for r in sub),
                        "peaks": [r["peak"] for r in sub], **_peaks(sub)})
        outside = [r for r in cells if r["decidable"] and r["rho"] > 0]
        by_factor = {}
        for factor in st["measure"]["sensitivity"]:
            relabelled = [{**r, "growing": is_growing(r["status"] != "ok", r["log_growth"],
                                                      factor)} for r in cells]
            by_factor[f"{factor:g}"] = boundary_interval(relabelled)
        conds.append({**c, "points": per, "boundary": rule_boundary(cells),
                      "outside": proportion(sum(r["unstable"] for r in outside), len(outside)),
                      "old_boundary": boundary_interval(cells),
                      "old_boundary_by_factor": by_factor,
                      "diverged": sum(r["status"] != "ok" for r in cells)})
    ref = conds[0]["outside"]
    tests = []
    for c in conds[1:]:
        o = c["outside"]
        if o["n"] and ref["n"]:
            low, high = newcombe_interval(o["k"], o["n"], ref["k"], ref["n"])
            tests.append({"condition": c["name"], "difference": o["fraction"] - ref["fraction"],
                          "low": low, "high": high, "p": fisher_p(o["k"], o["n"], ref["k"],
                                                                 ref["n"])})
        else:
            tests.append({"condition": c["name"], "difference": None, "low": None,
                          "high": None, "p": math.nan})
    for t, adj in zip(tests, holm([t["p"] for t in tests]), strict=True):
        t["p_holm"] = adj
    return {"experiment": "noise", "beta1": n["beta1"], "K": st["instability"]["K"],
            "base_steps": n["base_steps"], "max_steps": n["max_steps"],
            "growth_factor": st["measure"]["growth_factor"],
            "seeds": len(n["seeds"]), "points": pts, "conditions": conds, "tests": tests,
            "runs": strip_eval(runs)}


def noise_verdict(tests: list[dict], seeds: int, verdicts: dict) -> str:
    """The pre-registered verdict of claim ``noise`` (fixed before any run of this design).

    ``tests`` are the comparisons with full batch (:func:`summarize`). "undecidable at this
    scale" when ``seeds < verdicts["min_seeds"]`` or no comparison could be made; "not
    reproduced" (a condition changed it) when some Holm-adjusted Fisher p-value is below
    ``verdicts["alpha"]``; "reproduced" (no change) when none is and every difference's
    Newcombe 95 % interval lies within :math:`\\pm(1 - \\text{agreement})` (an equivalence
    margin: the comparison could have seen a change of that size); otherwise "undecidable at
    this scale".
    """
    done = [t for t in tests if t["difference"] is not None]
    if seeds < verdicts["min_seeds"] or not done:
        return UNDECIDABLE
    if any(t["p_holm"] < verdicts["alpha"] for t in done):
        return NOT_REPRODUCED
    margin = 1.0 - verdicts["agreement"]
    if len(done) == len(tests) and all(-margin <= t["low"] and t["high"] <= margin
                                       for t in done):
        return REPRODUCED
    return UNDECIDABLE


def headline(tests: list[dict]) -> dict | None:
    """The comparison the row reports: the smallest Holm-adjusted p, ties broken by the
    largest absolute difference (None when no comparison was made)."""
    done = [t for t in tests if t["difference"] is not None]
    if not done:
        return None
    return min(done, key=lambda t: (t["p_holm"], -abs(t["difference"])))


def claim(summary: dict, st: dict) -> dict:
    """The ledger row ``noise``: value = the headline condition's pooled outside unstable share
    minus full batch's, interval = its Newcombe 95 % interval; verdict by
    :func:`noise_verdict`."""
    v = st["verdicts"]
    verdict = noise_verdict(summary["tests"], summary["seeds"], v)
    h = headline(summary["tests"])
    name = "none" if h is None else h["condition"]
    measure = (f"one rule (ctadam.instability, K = {summary['K']:g}): per condition the unstable "
               "share of the decidable runs outside the exact region (all rho pooled) minus "
               "full batch's, Fisher's exact test, Holm over the conditions at alpha = "
               f"{v['alpha']:g}; value and Newcombe 95 % interval of the condition with the "
               f"smallest adjusted p ({name}); reproduced if none is significant and every "
               f"interval lies within +-{1 - v['agreement']:.2g}, not reproduced if one is "
               f"significant, undecidable otherwise or below {v['min_seeds']} seeds")
    return row("noise", CLAIM, verdict, measure, None if h is None else h["difference"],
               None if h is None else [h["low"], h["high"]], summary["seeds"],
               "stability_training_summary")


def _label(c: dict) -> str:
    if c["weight_decay"]:
        return f"AdamW $\\lambda={c['weight_decay']:g}$"
    return "full batch" if c["batch_size"] is None else f"batch {c['batch_size']}"


def _num(x, digits: int = 2) -> str:
    return "--" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _p(x) -> str:
    return "--" if x is None or not math.isfinite(x) else f"{x:.2g}"


def macros(summary: dict, st: dict) -> dict[str, str]:
    """Prefix ``StabNoise``: settings, per condition its boundary, pooled outside share,
    difference, Newcombe interval and Holm-adjusted p; the claim's verdict."""
    pts = summary["points"]
    out = {"StabNoiseBetaOne": f"{summary['beta1']:g}", "StabNoiseSeeds": str(summary["seeds"]),
           "StabNoiseBaseSteps": str(summary["base_steps"]),
           "StabNoiseMaxSteps": str(summary["max_steps"]),
           "StabNoiseRhos": ", ".join(f"{p['value']:g}" for p in pts if p["kind"] == "rho"),
           "StabNoiseFractions": ", ".join(f"{p['value']:g}" for p in pts if p["kind"] == "f"),
           "StabNoiseFMin": f"{min(_fraction(p, summary['beta1']) for p in pts):.2g}",
           "StabNoiseOthers": str(len(summary["conditions"]) - 1),
           "StabNoiseK": f"{summary['K']:g}"}
    tests = {t["condition"]: t for t in summary["tests"]}
    for letter, c in zip(LETTERS, summary["conditions"], strict=False):
        o = c["outside"]
        out[f"StabNoiseCond{letter}"] = _label(c)
        out[f"StabNoiseBoundary{letter}"] = fmt_rule_boundary(c["boundary"])
        out[f"StabNoiseOldBoundary{letter}"] = fmt_interval(c["old_boundary"])
        out[f"StabNoiseOutside{letter}"] = f"{o['k']}/{o['n']}"
        out[f"StabNoiseOutside{letter}Low"] = _num(o["low"])
        out[f"StabNoiseOutside{letter}High"] = _num(o["high"])
        t = tests.get(c["name"])
        if t is not None:
            out[f"StabNoiseDiff{letter}"] = _num(t["difference"])
            out[f"StabNoiseDiff{letter}Low"] = _num(t["low"])
            out[f"StabNoiseDiff{letter}High"] = _num(t["high"])
            out[f"StabNoiseP{letter}"] = _p(t["p_holm"])
    out["StabNoiseMoved"] = str(sum(t["p_holm"] < st["verdicts"]["alpha"]
                                    for t in summary["tests"] if math.isfinite(t["p_holm"])))
    out["StabNoiseBoundaryMoved"] = str(moved(summary["conditions"], lambda c: c["boundary"]))
    factors = list(summary["conditions"][0]["old_boundary_by_factor"])
    out["StabNoiseSensFactors"] = ", ".join([f"{summary['growth_factor']:g}", *factors])
    out["StabNoiseSensMoved"] = ", ".join(
        [str(moved(summary["conditions"], lambda c: c["old_boundary"]))]
        + [str(moved(summary["conditions"], lambda c, f=f: c["old_boundary_by_factor"][f]))
           for f in factors])
    out["StabNoiseVerdict"] = claim(summary, st)["verdict"]
    v = st["verdicts"]
    out |= {"StabNoiseAlpha": f"{v['alpha']:g}", "StabNoiseMinSeeds": str(v["min_seeds"]),
            "StabNoiseMargin": f"{1 - v['agreement']:.2g}"}
    h = headline(summary["tests"])
    if h is not None:
        cond = next(c for c in summary["conditions"] if c["name"] == h["condition"])
        out |= {"StabNoiseHeadCond": _label(cond), "StabNoiseHeadDiff": _num(h["difference"]),
                "StabNoiseHeadLow": _num(h["low"]), "StabNoiseHeadHigh": _num(h["high"]),
                "StabNoiseHeadP": _p(h["p_holm"])}
    else:
        out |= {k: "--" for k in ("StabNoiseHeadCond", "StabNoiseHeadDiff", "StabNoiseHeadLow",
                                  "StabNoiseHeadHigh", "StabNoiseHeadP")}
    higher, lower = direction(summary["conditions"])
    out["StabNoiseHigherPoints"], out["StabNoiseLowerPoints"] = str(higher), str(lower)
    return out


def direction(conditions: list[dict]) -> tuple[int, int]:
    """Over the (condition, point) pairs after full batch where both have decidable runs: how
    many have a larger unstable share than full batch at that point, and how many a smaller."""
    ref = conditions[0]["points"]
    higher = lower = 0
    for c in conditions[1:]:
        for p, r in zip(c["points"], ref, strict=True):
            if p["unstable"]["n"] and r["unstable"]["n"]:
                higher += p["unstable"]["fraction"] > r["unstable"]["fraction"]
                lower += p["unstable"]["fraction"] < r["unstable"]["fraction"]
    return higher, lower


def _fraction(p: dict, beta1: float) -> float:
    """The band fraction of a point (``value`` for an f point, computed for a rho point)."""
    if p["kind"] == "f":
        return p["value"]
    paper = beta1 / (2.0 - beta1)
    return (p["beta2"] - beta1 * beta1) / (paper - beta1 * beta1)


def moved(conditions: list[dict], boundary) -> int:
    """How many conditions after the first (full batch) have another boundary interval."""
    def key(c):
        b = boundary(c)
        return b["low"], b["high"]

    return sum(key(c) != key(conditions[0]) for c in conditions[1:])


def table(summary: dict) -> str:
    """Booktabs table: per condition, unstable/decidable runs per point, the rule's boundary,
    the pooled outside share with Wilson interval, the Holm-adjusted p against full batch, and
    the old rule's boundary (profile's growth factor)."""
    pts = summary["points"]
    heads = [f"$\\rho={p['value']:g}$" if p["kind"] == "rho" else f"$f={p['value']:g}$"
             for p in pts]
    fs = [f"${_fraction(p, summary['beta1']):.2g}$" for p in pts]
    tests = {t["condition"]: t for t in summary["tests"]}
    lines = ["\\begin{tabular}{l" + "r" * len(pts) + "lllrl}", "\\toprule",
             f"condition & \\multicolumn{{{len(pts)}}}{{c}}{{unstable / decidable runs}} & "
             "boundary & outside & Wilson & $p_{\\mathrm{Holm}}$ & old rule \\\\",
             " & " + " & ".join(heads) + " & ($f$) & & 95\\,\\% & & boundary \\\\",
             "$f$ & " + " & ".join(fs) + " & & & & & \\\\", "\\midrule"]
    for c in summary["conditions"]:
        votes = " & ".join(f"{p['unstable']['k']}/{p['unstable']['n']}" for p in c["points"])
        o, t = c["outside"], tests.get(c["name"])
        wilson = "--" if o["n"] == 0 else f"[{_num(o['low'])}, {_num(o['high'])}]"
        p = "ref." if t is None else _p(t["p_holm"])
        lines.append(f"{_label(c)} & {votes} & {fmt_rule_boundary(c['boundary'])} & "
                     f"{o['k']}/{o['n']} & {wilson} & {p} & {fmt_interval(c['old_boundary'])}"
                     " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
