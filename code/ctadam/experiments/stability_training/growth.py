r"""The paper's Fig. 2b where the growth happens: measured growth of ln ||u_n||_inf on lines
along the normal to C = 0, against the paper's :math:`|C|/2` and the exact :math:`\rho`.

Predictions at a point :math:`(\gamma, \beta)` (torch ``beta1``, ``beta2``): the paper's rate
:math:`|C|/2` where :math:`C = 2(1-\gamma)/\gamma - (1-\beta)/\beta < 0` (\cref{eq:paper-c},
\cref{eq:paper-rates}; 0 inside its region) and the exact worst-case rate
:math:`\rho = \ln\gamma - \tfrac12\ln\beta` (\cref{eq:growth-rate}), negative inside the exact
region and in the band, :math:`\rho < 0 < |C|/2`.

Four measured slopes per point (:mod:`.measure`, all fixed in the profile before any run):

* ``end``: the paper's protocol, the slope over the last ``measure.window`` steps ending at
  step ``steps`` (500, the paper's step) of the training run;
* ``max``: a diagnostic, the largest slope over any window of that length;
* ``phase``: the slope over the growth phase (onset to peak, ``instability.onset``);
* ``probe``: the controlled probe, the median over ``probe.seeds`` of the slope fitted after
  the gradients start decaying as :math:`c^{\,n-n_0}`; for :math:`c < \min(\gamma,\sqrt\beta)`
  its predicted value is exactly :math:`\rho` (paper-notes P.5).

Per line, task and measure (:func:`analyse`): against :math:`\rho` over the points with
:math:`\rho > 0`, and against :math:`|C|/2` over those with :math:`C < 0`, the gain :math:`a` of
slope :math:`\approx a\cdot` prediction through the origin and the ratios slope/prediction; at
the points where the two predictions *differ*, i.e. :math:`C < 0` and :math:`\rho \le 0` or
:math:`|(|C|/2)/\rho - 1| >` ``verdicts.rate_tolerance``, which one the slope follows (the
smaller :math:`|\text{slope} - \text{prediction}|`, the smaller relative error on the common
scale :math:`|C|/2`) per point and by majority; and at the band points, the sign of the slope.

The ledger row (:func:`claim`) judges the paper's claim on the probe, the decisive measurement.
"""

import math

import numpy as np

from ctadam import io
from ctadam.claims import row
from ctadam.experiments.stability_training.measure import strip_eval
from ctadam.stats import NOT_REPRODUCED, REPRODUCED, UNDECIDABLE

PREDICTIONS = {"paper": "paper_rate", "exact": "exact_rate"}
# The measured slopes: measure -> key of a point.
MEASURES = {"end": "slope", "max": "max_slope", "phase": "phase_slope", "probe": "probe_slope"}
MEASURE_NAME = {"end": "at the last step (paper)", "max": "largest window",
                "phase": "growth phase", "probe": "probe"}
MEASURE_MACRO = {"end": "End", "max": "Max", "phase": "Phase", "probe": "Probe"}
POINT_KEYS = ("beta1", "beta2", "c", "paper_rate", "rho", "exact_rate", "fraction", "inside",
              "paper_inside", "band")
# |C| below this is the line's C = 0 point (rounding leaves |C| ~ 1e-16 there).
C_ZERO = 1e-12
CLAIM_ID = "growth-rate"
CLAIM_TEXT = ("The paper's Fig. 2b: outside its stable region ln ||u_n||_inf grows at |C|/2 "
              "per step (near-perfect agreement).")


def agreement(runs: list[dict], key: str, measured: str = "slope") -> dict:
    """Ratios measured/prediction and the gain through the origin where ``run[key] > 0``."""
    pos = [r for r in runs if r[key] > 0 and math.isfinite(r[measured])]
    zero = [r for r in runs if r[key] == 0 and math.isfinite(r[measured])]
    ratios = np.array([r[measured] / r[key] for r in pos])
    x = np.array([r[key] for r in pos])
    y = np.array([r[measured] for r in pos])
    gain = float(x @ y / (x @ x)) if pos else math.nan
    return {"points": len(pos), "gain": gain,
            "ratio_median": float(np.median(ratios)) if pos else math.nan,
            "ratio_min": float(ratios.min()) if pos else math.nan,
            "ratio_max": float(ratios.max()) if pos else math.nan,
            "zero_points": len(zero),
            "zero_max_slope": max((r[measured] for r in zero), default=math.nan)}


def predictions_differ(paper_rate: float, rho: float, tolerance: float) -> bool:
    r"""Whether :math:`|C|/2` and :math:`\rho` differ by more than ``tolerance`` at a point with
    :math:`C < 0`: :math:`\rho \le 0`, or :math:`|(|C|/2)/\rho - 1| >` ``tolerance``. False
    where :math:`C \ge 0` (the paper predicts no growth; nothing to compare its rate with)."""
    if not paper_rate > 0:
        return False
    return rho <= 0 or abs(paper_rate / rho - 1.0) > tolerance


def nearer(measured: float, paper_rate: float, rho: float) -> str:
    """``"rho"`` or ``"paper"``: the prediction nearer the measured slope (``"rho"`` on a tie)."""
    return "paper" if abs(measured - paper_rate) < abs(measured - rho) else "rho"


def majority(n_rho: int, n_paper: int) -> str:
    """Which prediction most points follow: ``"rho"``, ``"paper"``, ``"tie"`` or ``"none"``."""
    if n_rho == n_paper:
        return "none" if n_rho == 0 else "tie"
    return "rho" if n_rho > n_paper else "paper"


def analyse(points: list[dict], measured: str) -> dict:
    """One measure on one line and task: ``{"rho", "paper"}`` agreement (:func:`agreement`
    over rho > 0, resp. C < 0), ``"differ"`` (points where the predictions differ: counts,
    which one each follows, the majority, the median slope/(|C|/2) and slope/rho) and
    ``"band"`` (points with rho < 0 < |C|/2: how many, how many with a negative slope)."""
    ok = [p for p in points if math.isfinite(p[measured])]
    diff = [p for p in ok if p["differ"]]
    follows = [nearer(p[measured], p["paper_rate"], p["rho"]) for p in diff]
    n_rho, n_paper = follows.count("rho"), follows.count("paper")
    r_paper = [p[measured] / p["paper_rate"] for p in diff]
    r_rho = [p[measured] / p["rho"] for p in diff if p["rho"] > 0]
    band = [p for p in ok if p["rho"] < 0 < p["paper_rate"]]
    return {"rho": agreement(ok, "exact_rate", measured),
            "paper": agreement(ok, "paper_rate", measured),
            "differ": {"points": len(diff), "rho": n_rho, "paper": n_paper,
                       "follows": majority(n_rho, n_paper),
                       "paper_ratio_median": float(np.median(r_paper)) if r_paper else math.nan,
                       "rho_ratio_median": float(np.median(r_rho)) if r_rho else math.nan},
            "band": {"points": len(band), "negative": sum(p[measured] < 0 for p in band),
                     "max_slope": max((p[measured] for p in band), default=math.nan)}}


def _offset(p: dict, beta1: float) -> float:
    """Signed distance of a point from the line's C = 0 point along the unit normal (the
    direction in which C rises; negative offsets are outside the paper's region)."""
    b2 = beta1 / (2.0 - beta1)
    gx, gy = -2.0 / beta1 ** 2, 1.0 / b2 ** 2
    return ((p["beta1"] - beta1) * gx + (p["beta2"] - b2) * gy) / math.hypot(gx, gy)


def line_points(runs: list[dict], task: str, line: str, beta1: float,
                tolerance: float) -> list[dict]:
    """The points of one line and task, ordered along the normal: the training run's slopes
    (NaN where the task has no training run) and the probe's per-seed and median slopes."""
    train = {r["id"].split("_k")[1]: r for r in runs
             if r["id"].startswith(f"{task}_{line}_k") and not r["probe"]}
    probes: dict[str, list[dict]] = {}
    for r in runs:
        if r["probe"] and r["id"].startswith(f"probe_{task}_{line}_k"):
            k = r["id"].split("_k")[1].split("_s")[0]
            probes.setdefault(k, []).append(r)
    out = []
    for k in sorted(set(train) | set(probes)):
        t, pr = train.get(k), sorted(probes.get(k, []), key=lambda r: r["seed"])
        base = t or pr[0]
        p = {key: base[key] for key in POINT_KEYS}
        if abs(p["c"]) < C_ZERO:  # the line's C = 0 point: no predicted growth
            p["paper_rate"] = 0.0
        p["k"], p["offset"] = int(k), _offset(base, beta1)
        p["differ"] = predictions_differ(p["paper_rate"], p["rho"], tolerance)
        for key in ("slope", "max_slope", "phase_slope"):
            p[key] = t[key] if t else math.nan
        p["status"] = t["status"] if t else None
        slopes = [r["probe_slope"] for r in pr]
        finite = [s for s in slopes if math.isfinite(s)]
        p["probe_slopes"] = slopes
        p["probe_seeds"] = [r["seed"] for r in pr]
        p["probe_slope"] = float(np.median(finite)) if finite else math.nan
        p["probe_residual"] = max((r["probe_residual"] for r in pr
                                   if math.isfinite(r["probe_residual"])), default=math.nan)
        p["probe_diverged"] = sum(r["status"] != "ok" for r in pr)
        out.append(p)
    return out


def summarize(runs: list[dict], st: dict) -> dict:
    """Per line and task: the points and :func:`analyse` of every measure."""
    from ctadam.experiments.stability_training.configs import growth_lines

    g, tol = st["growth"], st["verdicts"]["rate_tolerance"]
    runs = strip_eval(runs)
    tasks = [t for t in TASK_NAME if t in g["tasks"] or t in g["probe"]["tasks"]]
    lines = []
    for ln in growth_lines(g):
        per_task = {}
        for task in tasks:
            pts = line_points(runs, task, ln["name"], ln["beta1"], tol)
            per_task[task] = {
                "points": pts, "training": task in g["tasks"],
                "probed": task in g["probe"]["tasks"],
                "diverged": sum(p["status"] not in (None, "ok") for p in pts),
                "probe_diverged": sum(p["probe_diverged"] for p in pts),
                "analysis": {m: analyse(pts, col) for m, col in MEASURES.items()}}
        lines.append({"name": ln["name"], "beta1": ln["beta1"], "points": ln["points"],
                      "half_length": ln["half_length"], "tasks": per_task})
    return {"experiment": "growth", "steps": g["steps"], "window": st["measure"]["window"],
            "onset": st["instability"]["onset"], "tolerance": tol,
            "min_seeds": st["verdicts"]["min_seeds"], "probe": dict(g["probe"]),
            "lines": lines}


def probe_errors(summary: dict) -> dict:
    """Largest |probe slope - rho| (per seed) and largest probe fit residual over all points."""
    err, res = [], []
    for ln in summary["lines"]:
        for t in ln["tasks"].values():
            for p in t["points"]:
                err += [abs(s - p["rho"]) for s in p["probe_slopes"] if math.isfinite(s)]
                if math.isfinite(p["probe_residual"]):
                    res.append(p["probe_residual"])
    return {"max_abs_error": max(err, default=math.nan), "max_residual": max(res, default=math.nan),
            "slopes": len(err)}


def claim_numbers(summary: dict) -> dict:
    """The probe at the points where |C|/2 and rho differ, pooled over lines and probed tasks:
    per point the median slope/(|C|/2) over seeds; their median (``value``), the range of the
    per-seed ratios (``interval``), and which prediction the points follow (:func:`nearer`)."""
    point_ratios, seed_ratios, follows = [], [], []
    for ln in summary["lines"]:
        for t in ln["tasks"].values():
            if not t["probed"]:
                continue
            for p in t["points"]:
                if not (p["differ"] and math.isfinite(p["probe_slope"])):
                    continue
                point_ratios.append(p["probe_slope"] / p["paper_rate"])
                seed_ratios += [s / p["paper_rate"] for s in p["probe_slopes"]
                                if math.isfinite(s)]
                follows.append(nearer(p["probe_slope"], p["paper_rate"], p["rho"]))
    n_rho, n_paper = follows.count("rho"), follows.count("paper")
    return {"points": len(point_ratios),
            "value": float(np.median(point_ratios)) if point_ratios else None,
            "interval": [float(min(seed_ratios)), float(max(seed_ratios))] if seed_ratios
            else None,
            "rho": n_rho, "paper": n_paper, "follows": majority(n_rho, n_paper),
            "seeds": len(summary["probe"]["seeds"])}


def claim(summary: dict, section: dict) -> dict:
    r"""The ledger row ``growth-rate``: the paper's prediction that :math:`\ln\lVert
    u_n\rVert_\infty` grows at :math:`|C|/2` per step outside its region (Fig. 2b).

    Pre-registered rule (fixed before any run), on the controlled probe, the decisive
    measurement, over the points where :math:`|C|/2` and :math:`\rho` differ by more than
    ``verdicts.rate_tolerance`` (:func:`predictions_differ`), pooled over lines and probed
    tasks: with :math:`r` the median over those points of the (seed-median) probe slope
    divided by :math:`|C|/2`,

    * "undecidable at this scale" when there is no such point or fewer probe seeds than
      ``verdicts.min_seeds``;
    * "reproduced" when :math:`|r - 1| \le` ``verdicts.rate_tolerance``;
    * "not reproduced" otherwise; the measure text then says which prediction the points
      follow (the nearer one per point, by majority).

    ``value`` is :math:`r`, ``interval`` the range of the per-seed ratios at those points,
    ``seeds`` the number of probe seeds, ``rule`` ``stability_training_summary``.
    """
    v = section["verdicts"]
    tol, min_seeds = v["rate_tolerance"], v["min_seeds"]
    c = claim_numbers(summary)
    where = (f"controlled probe (gradients scaled by c^(n-n0), c = "
             f"{summary['probe']['factor']:g}, n0 = {summary['probe']['start']}): median of "
             f"slope/(|C|/2) over the {c['points']} points where |C|/2 and rho differ by more "
             f"than {tol:.0%}; rule: reproduced if within {tol:.0%} of 1, undecidable with no "
             f"such point or fewer than {min_seeds} seeds")
    if c["points"] == 0 or c["seeds"] < min_seeds:
        verdict = UNDECIDABLE
        detail = ("; undecidable: no such point" if c["points"] == 0 else
                  f"; undecidable: {c['seeds']} probe seeds, fewer than {min_seeds}")
    elif abs(c["value"] - 1.0) <= tol:
        verdict, detail = REPRODUCED, ""
    else:
        verdict = NOT_REPRODUCED
        name = {"rho": "the exact rate rho", "paper": "|C|/2", "tie": "neither (a tie)",
                "none": "neither"}[c["follows"]]
        detail = (f"; the slopes follow {name} ({c['rho']} of {c['points']} points nearer rho, "
                  f"{c['paper']} nearer |C|/2)")
    span = ("; interval: the range of the per-seed ratios at those points (not a confidence "
            "interval)")
    return row(CLAIM_ID, CLAIM_TEXT, verdict, where + detail + span, c["value"], c["interval"],
               c["seeds"], "stability_training_summary")


TASK_MACRO = {"mnist1d": "Mnist", "shakespeare": "Shakespeare"}
TASK_NAME = {"mnist1d": "MNIST-1D", "shakespeare": "Shakespeare"}
FOLLOWS_TEXT = {"rho": "$\\rho$", "paper": "$|C|/2$", "tie": "neither (a tie)", "none": "neither"}
VERDICT_MACRO = "StabGrowthClaimVerdict"


def line_letter(i: int) -> str:
    """Macro name of line i: ``A``, ``B``, ..."""
    return chr(ord("A") + i)


def tasks_in_order(t: dict) -> list[tuple[str, dict]]:
    """A line's tasks in the order of :data:`TASK_NAME` (a summary read back from JSON has its
    keys sorted, so tables must not follow the key order)."""
    return [(task, t[task]) for task in TASK_NAME if task in t]


def _num(x, digits: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}" if abs(x) < 1e-2 and x != 0 else f"{x:.{digits}f}"


def _overstate(points: list[dict]) -> float:
    """(|C|/2)/rho at the line's outer end (its point of largest |C|/2), NaN if rho <= 0 there."""
    if not points:
        return math.nan
    p = max(points, key=lambda q: q["paper_rate"])
    return p["paper_rate"] / p["rho"] if p["rho"] > 0 and p["paper_rate"] > 0 else math.nan


def macros(summary: dict, st: dict) -> dict[str, str]:
    """Prefix ``StabGrowth``: settings, per line, task and measure the agreement numbers, the
    claim's numbers; also the family's shared settings (prefixes ``StabTask``, ``StabMeasure``).

    The pre-redesign names (``StabGrowth<Task><Paper|Exact>[Max]<Gain|...>``, ``StabGrowthPoints``,
    ``StabGrowthBetaOne``, ``StabGrowthHalfLength``) are kept for the first line's
    paper-protocol and largest-window slopes, which the abstract reads.
    """
    tm, ts = st["tasks"]["mnist1d"], st["tasks"]["shakespeare"]
    pr = summary["probe"]
    out = {"StabTaskMnistHidden": "--".join(str(h) for h in tm["hidden"]),
           "StabTaskMnistNTrain": str(tm["n_train"]), "StabTaskMnistLr": f"{tm['lr']:g}",
           "StabTaskShakespeareNTrain": str(ts["n_train"]),
           "StabTaskShakespeareBlock": str(ts["block_size"]),
           "StabTaskShakespeareLayers": str(ts["n_layer"]),
           "StabTaskShakespeareHeads": str(ts["n_head"]),
           "StabTaskShakespeareEmbd": str(ts["n_embd"]), "StabTaskShakespeareLr": f"{ts['lr']:g}",
           "StabTaskEps": io.latex_sci(st["eps"]),
           "StabTaskDivergeNorm": io.latex_sci(st["diverge_norm"]),
           "StabMeasureWindow": str(st["measure"]["window"]),
           "StabMeasureGrowthFactor": f"{st['measure']['growth_factor']:g}",
           "StabGrowthSteps": str(summary["steps"]), "StabGrowthWindow": str(summary["window"]),
           "StabGrowthLines": str(len(summary["lines"])),
           "StabGrowthOnset": f"{summary['onset']:g}",
           "StabGrowthTolerance": f"{100 * summary['tolerance']:g}\\%",
           "StabGrowthProbeStart": str(pr["start"]), "StabGrowthProbeFactor": f"{pr['factor']:g}",
           "StabGrowthProbeSkip": str(pr["skip"]), "StabGrowthProbeWindow": str(pr["window"]),
           "StabGrowthProbeSteps": str(pr["start"] + pr["skip"] + pr["window"]),
           "StabGrowthProbeSeeds": str(len(pr["seeds"])),
           "StabGrowthProbeTasks": ", ".join(TASK_NAME[t] for t in TASK_NAME
                                             if t in pr["tasks"])}
    err = probe_errors(summary)
    out["StabGrowthProbeMaxAbsError"] = io.latex_sci(err["max_abs_error"]) if math.isfinite(
        err["max_abs_error"]) else "n/a"
    out["StabGrowthProbeMaxResidual"] = io.latex_sci(err["max_residual"]) if math.isfinite(
        err["max_residual"]) else "n/a"
    out["StabGrowthProbeFits"] = str(err["slopes"])
    c = claim_numbers(summary)
    row = claim(summary, st)
    out |= {"StabGrowthClaimVerdict": row["verdict"], "StabGrowthClaimPoints": str(c["points"]),
            "StabGrowthClaimValue": _num(c["value"]),
            "StabGrowthClaimLo": _num(None if c["interval"] is None else c["interval"][0]),
            "StabGrowthClaimHi": _num(None if c["interval"] is None else c["interval"][1]),
            "StabGrowthClaimRho": str(c["rho"]), "StabGrowthClaimPaper": str(c["paper"]),
            "StabGrowthClaimFollows": FOLLOWS_TEXT[c["follows"]]}
    for i, ln in enumerate(summary["lines"]):
        L = f"StabGrowthLine{line_letter(i)}"
        out |= {f"{L}BetaOne": f"{ln['beta1']:g}", f"{L}Points": str(ln["points"]),
                f"{L}HalfLength": f"{ln['half_length']:g}"}
        first = next(iter(ln["tasks"].values()))["points"]
        out[f"{L}Overstate"] = _num(_overstate(first))
        for task, t in tasks_in_order(ln["tasks"]):
            p = f"{L}{TASK_MACRO[task]}"
            out[f"{p}Diverged"] = str(t["diverged"])
            out[f"{p}ProbeDiverged"] = str(t["probe_diverged"])
            for m, a in t["analysis"].items():
                q = p + MEASURE_MACRO[m]
                for pred, name in (("rho", "Rho"), ("paper", "Paper")):
                    out[f"{q}{name}Gain"] = _num(a[pred]["gain"])
                    out[f"{q}{name}RatioMedian"] = _num(a[pred]["ratio_median"])
                    out[f"{q}{name}Points"] = str(a[pred]["points"])
                d, b = a["differ"], a["band"]
                out |= {f"{q}DifferPoints": str(d["points"]), f"{q}DifferRho": str(d["rho"]),
                        f"{q}DifferPaper": str(d["paper"]),
                        f"{q}DifferFollows": FOLLOWS_TEXT[d["follows"]],
                        f"{q}DifferPaperRatio": _num(d["paper_ratio_median"]),
                        f"{q}BandPoints": str(b["points"]), f"{q}BandNegative": str(b["negative"])}
    out |= _legacy_macros(summary)
    return out


def _legacy_macros(summary: dict) -> dict[str, str]:
    """The pre-redesign macro names, from the first line (see :func:`macros`)."""
    ln = summary["lines"][0]
    out = {"StabGrowthPoints": str(ln["points"]), "StabGrowthBetaOne": f"{ln['beta1']:g}",
           "StabGrowthHalfLength": f"{ln['half_length']:g}"}
    for task, t in tasks_in_order(ln["tasks"]):
        name = TASK_MACRO[task]
        out[f"StabGrowth{name}Diverged"] = str(t["diverged"])
        for m in ("end", "max"):
            for pred, key in (("paper", "paper"), ("exact", "rho")):
                a = t["analysis"][m][key]
                p = f"StabGrowth{name}{pred.capitalize()}{'' if m == 'end' else 'Max'}"
                out[f"{p}Points"] = str(a["points"])
                for k in ("gain", "ratio_median", "ratio_min", "ratio_max"):
                    out[p + k.title().replace("_", "")] = _num(a[k])
                out[f"{p}ZeroPoints"] = str(a["zero_points"])
                out[f"{p}ZeroMaxSlope"] = _num(a["zero_max_slope"], 4)
    return out


def table(summary: dict) -> str:
    """Booktabs table: per line, task and measured slope, gain and median ratio against rho
    (points with rho > 0) and |C|/2 (points with C < 0); at the points where the two differ,
    how many follow each; at the band points, how many slopes are negative."""
    lines = ["\\begin{tabular}{lllrrrrrr}", "\\toprule",
             " & & & \\multicolumn{2}{c}{vs.\\ $\\rho$} & \\multicolumn{2}{c}{vs.\\ $|C|/2$} & "
             "differ & band \\\\",
             "$\\gamma_0$ & task & slope & gain & median & gain & median & "
             "$\\rho$ : $|C|/2$ & $<0$ \\\\", "\\midrule"]
    for ln in summary["lines"]:
        for task, t in tasks_in_order(ln["tasks"]):
            for m in MEASURES:
                a = t["analysis"][m]
                if a["rho"]["points"] + a["paper"]["points"] == 0:
                    continue  # a measure this task has no run for
                d, b = a["differ"], a["band"]
                lines.append(f"{ln['beta1']:g} & {TASK_NAME[task]} & {MEASURE_NAME[m]} & "
                             f"{_num(a['rho']['gain'])} & {_num(a['rho']['ratio_median'])} & "
                             f"{_num(a['paper']['gain'])} & {_num(a['paper']['ratio_median'])} & "
                             f"{d['rho']} : {d['paper']} & {b['negative']}/{b['points']} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
