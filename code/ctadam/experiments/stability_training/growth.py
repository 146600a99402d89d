r"""The paper's Fig. 2b reproduced: measured growth of ln ||u_n||_inf along the normal to C = 0.

Per task, each point's slope (:mod:`ctadam.experiments.stability_training.measure`: least
squares over the window ending at the run's last step) against both predictions, the paper's
:math:`|C|/2` and the exact :math:`\max(\rho, 0)`. Agreement of one prediction, over the
points where it is positive: the ratios slope / prediction (median, min, max) and the
least-squares gain :math:`a` of slope :math:`\approx a \cdot` prediction through the origin
(1 is perfect agreement); where it is 0, the largest measured slope. The same numbers for the
diagnostic max slope (largest slope over any window of the run) are reported beside them.
"""

import math

import numpy as np

from ctadam import io
from ctadam.experiments.stability_training.measure import strip_eval

PREDICTIONS = {"paper": "paper_rate", "exact": "exact_rate"}


MEASURES = {"end": "slope", "max": "max_slope"}


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


def summarize(runs: list[dict], st: dict) -> dict:
    """Per task: the points (ordered along the normal) and the agreement with each prediction."""
    g = st["growth"]
    tasks = {}
    for task in g["tasks"]:
        pts = sorted((r for r in runs if r["task"] == task), key=lambda r: r["id"])
        tasks[task] = {"points": strip_eval(pts),
                       "diverged": sum(r["status"] != "ok" for r in pts),
                       "agreement": {m: {name: agreement(pts, key, col)
                                         for name, key in PREDICTIONS.items()}
                                     for m, col in MEASURES.items()}}
    return {"experiment": "growth", "beta1": g["beta1"], "steps": g["steps"],
            "window": st["measure"]["window"], "tasks": tasks}


TASK_MACRO = {"mnist1d": "Mnist", "shakespeare": "Shakespeare"}
TASK_NAME = {"mnist1d": "MNIST-1D", "shakespeare": "Shakespeare"}


def tasks_in_order(summary: dict) -> list[tuple[str, dict]]:
    """The summary's tasks in the order of :data:`TASK_NAME` (a summary read back from JSON has
    its keys sorted, so tables must not follow the key order)."""
    return [(task, summary["tasks"][task]) for task in TASK_NAME if task in summary["tasks"]]


def macros(summary: dict, st: dict) -> dict[str, str]:
    """Prefix ``StabGrowth``: settings and, per task and prediction, the agreement numbers.

    Also the family's shared settings (prefix ``StabTask`` and ``StabMeasure``).
    """
    tm, ts = st["tasks"]["mnist1d"], st["tasks"]["shakespeare"]
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
           "StabGrowthHalfLength": f"{st['growth']['half_length']:g}",
           "StabGrowthPoints": str(st["growth"]["points"]),
           "StabGrowthSteps": str(summary["steps"]), "StabGrowthWindow": str(summary["window"]),
           "StabGrowthBetaOne": f"{summary['beta1']:g}"}
    for task, t in summary["tasks"].items():
        name = TASK_MACRO[task]
        out[f"StabGrowth{name}Diverged"] = str(t["diverged"])
        for m, pred, a in _rows(t):
            p = f"StabGrowth{name}{pred.capitalize()}{'' if m == 'end' else 'Max'}"
            out[f"{p}Points"] = str(a["points"])
            for k in ("gain", "ratio_median", "ratio_min", "ratio_max"):
                out[p + k.title().replace("_", "")] = _num(a[k])
            out[f"{p}ZeroPoints"] = str(a["zero_points"])
            out[f"{p}ZeroMaxSlope"] = _num(a["zero_max_slope"], 4)
    return out


def _rows(t: dict):
    """(measure, prediction, agreement) of one task, end-window measure first, then the order
    of :data:`MEASURES` and :data:`PREDICTIONS` (not the summary's key order: a summary read back
    from JSON has its keys sorted)."""
    return [(m, pred, t["agreement"][m][pred]) for m in MEASURES for pred in PREDICTIONS]


def _num(x: float, digits: int = 2) -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}" if abs(x) < 1e-2 and x != 0 else f"{x:.{digits}f}"


def table(summary: dict) -> str:
    """Booktabs table: per task and prediction, the gain and the ratios slope/prediction."""
    lines = ["\\begin{tabular}{lllrrrr}", "\\toprule",
             "task & slope & prediction & points & gain $a$ & median ratio & ratio range \\\\",
             "\\midrule"]
    measures = {"end": "last window", "max": "largest window"}
    names = {"paper": "paper $|C|/2$", "exact": "exact $\\max(\\rho,0)$"}
    for task, t in tasks_in_order(summary):
        for m, pred, a in _rows(t):
            lines.append(f"{TASK_NAME[task]} & {measures[m]} & {names[pred]} & {a['points']} & "
                         f"{_num(a['gain'])}"
                         f" & {_num(a['ratio_median'])} & [{_num(a['ratio_min'])}, "
                         f"{_num(a['ratio_max'])}] \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
