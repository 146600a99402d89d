r"""Which boundary does training follow? The grid of band fractions at several gamma.

Cells are (task, gamma, band fraction f, seed). The band is 0 < f < 1 (exact discrete
analysis: bounded; the paper: growth at :math:`|C|/2`); f < 0 is outside both regions, f > 1
inside both. Per task and gamma: the bounded and growing counts in each of the three zones
and the measured boundary interval in f; and the zone counts of all tasks again for each factor
of ``measure.sensitivity`` in place of ``measure.growth_factor`` (no retraining)
(:func:`~ctadam.experiments.stability_training.measure.boundary_interval`).
"""

from ctadam.experiments.measures import is_growing
from ctadam.experiments.stability_training.growth import TASK_MACRO, TASK_NAME, tasks_in_order
from ctadam.experiments.stability_training.measure import (
    boundary_interval,
    fmt_interval,
    strip_eval,
)

ZONES = {"outside": lambda f: f < 0, "band": lambda f: 0 < f < 1, "inside": lambda f: f > 1}


def zone_counts(cells: list[dict]) -> dict:
    """Per zone: ``{"bounded": n, "growing": n}`` over ``cells``."""
    out = {}
    for zone, test in ZONES.items():
        z = [c for c in cells if test(c["fraction"])]
        out[zone] = {"bounded": sum(not c["growing"] for c in z),
                     "growing": sum(c["growing"] for c in z)}
    return out


def summarize(runs: list[dict], st: dict) -> dict:
    """Counts and measured boundary per task and gamma, and the per-task totals."""
    b = st["band"]
    tasks = {}
    for task in b["tasks"]:
        cells = [r for r in runs if r["task"] == task]
        per = {}
        for b1 in b["beta1s"]:
            sub = [c for c in cells if abs(c["beta1"] - b1) < 1e-12]
            per[f"{b1:g}"] = {"counts": zone_counts(sub), "boundary": boundary_interval(sub)}
        tasks[task] = {"by_beta1": per, "counts": zone_counts(cells)}
    sens = []
    for factor in sorted({st["measure"]["growth_factor"], *st["measure"]["sensitivity"]}):
        relabelled = [{**r, "growing": is_growing(r["status"] != "ok", r["log_growth"], factor)}
                      for r in runs]
        sens.append({"factor": factor, "counts": zone_counts(relabelled)})
    return {"sensitivity": sens, "experiment": "band", "steps": b["steps"],
            "seeds": len(b["seeds"]),
            "fractions": sorted(b["fractions"]), "beta1s": list(b["beta1s"]), "tasks": tasks,
            "runs": strip_eval(runs)}


def macros(summary: dict, st: dict) -> dict[str, str]:
    """Prefix ``StabBand``: per task the band/outside/inside counts; settings."""
    out = {"StabBandSteps": str(summary["steps"]), "StabBandSeeds": str(summary["seeds"]),
           "StabBandFractions": ", ".join(f"{f:g}" for f in summary["fractions"]),
           "StabBandBetaOnes": ", ".join(f"{b:g}" for b in summary["beta1s"])}
    total = {"bounded": 0, "growing": 0}
    outside = {"bounded": 0, "growing": 0}
    for task, t in summary["tasks"].items():
        name = TASK_MACRO[task]
        for zone, c in t["counts"].items():
            for k in ("bounded", "growing"):
                out[f"StabBand{name}{zone.capitalize()}{k.capitalize()}"] = str(c[k])
        for k in total:
            total[k] += t["counts"]["band"][k]
            outside[k] += t["counts"]["outside"][k]
    out["StabBandBounded"], out["StabBandGrowing"] = str(total["bounded"]), str(total["growing"])
    out["StabBandCells"] = str(total["bounded"] + total["growing"])
    out["StabBandOutsideBounded"] = str(outside["bounded"])
    out["StabBandOutsideGrowing"] = str(outside["growing"])
    out["StabBandOutsideCells"] = str(outside["growing"] + outside["bounded"])
    out["StabBandFollows"] = follows(total, outside)
    sens = summary["sensitivity"]
    out["StabBandSensFactors"] = ", ".join(f"{r['factor']:g}" for r in sens)
    for zone in ("band", "outside", "inside"):
        out[f"StabBandSens{zone.capitalize()}Growing"] = ", ".join(
            str(r["counts"][zone]["growing"]) for r in sens)
    return out


def follows(band: dict, outside: dict) -> str:
    """Which boundary the measurements side with, by majorities of cells (all tasks).

    The exact one if most band cells stay bounded and most cells outside both regions grow;
    the paper's if most band cells grow; otherwise neither.
    """
    if band["growing"] > band["bounded"]:
        return "the paper's boundary $C=0$"
    if band["bounded"] > band["growing"] and outside["growing"] > outside["bounded"]:
        return "the exact boundary $\\beta=\\gamma^2$"
    if band["bounded"] > band["growing"]:
        return ("neither boundary: most cells stay bounded in the band and also outside both "
                "regions")
    return "neither boundary (as many band cells grow as stay bounded)"


def table(summary: dict) -> str:
    """Booktabs table: per task and gamma, band cells bounded/growing and the measured boundary."""
    lines = ["\\begin{tabular}{llrrrrl}", "\\toprule",
             "task & $\\gamma$ & \\multicolumn{2}{c}{band $0<f<1$} & "
             "\\multicolumn{2}{c}{outside $f<0$} & measured boundary \\\\",
             "\\cmidrule(lr){3-4}\\cmidrule(lr){5-6}",
             " & & bounded & growing & bounded & growing & (band fraction $f$) \\\\", "\\midrule"]
    for task, t in tasks_in_order(summary):
        for b1, row in sorted(t["by_beta1"].items(), key=lambda item: float(item[0])):
            c = row["counts"]
            mark = "" if row["boundary"]["monotone"] else " (not monotone)"
            lines.append(f"{TASK_NAME[task]} & {b1} & "
                         f"{c['band']['bounded']} & {c['band']['growing']} & "
                         f"{c['outside']['bounded']} & {c['outside']['growing']} & "
                         f"{fmt_interval(row['boundary'])}{mark} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
