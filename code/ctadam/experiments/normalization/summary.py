r"""The normalization family's summary and publication: records in, one summary, macros, table.

:func:`summarize` reduces the run records and the identity record (run
:data:`~ctadam.experiments.normalization.runs.IDENTITY_RUN`) to one summary with, per (run,
group), the tail averages (last ``tail`` fraction of the steps) of the norm, the angular step
and :math:`\cos(w, u)` beside the naive and momentum-corrected predictions of
:mod:`ctadam.theory.normdynamics` (\cref{eq:norm-equilibrium}, \cref{eq:angular-step}) at the
measured mean :math:`|u|^2`, their relative errors, the per first-moment-decay table, and the
closed norm recursions driven by the measured :math:`|u_n|^2` for the figure (so the figure
recomputes nothing). :func:`publish` turns the summary into LaTeX macros
(``\Normalization...``) and the booktabs table :data:`TABLES`. Neither trains; settings come
from the family's config section.
"""

import math

import numpy as np

from ctadam.checks import check_int, check_real
from ctadam.experiments.normalization.runs import IDENTITY_RUN
from ctadam.io import latex_sci
from ctadam.theory import normdynamics as nd

TABLES = ("normalization_table",)
CLAIMS = ("norm-dynamics", "norm-dynamics-corrected")
CLAIM_TEXT = {
    "norm-dynamics": "under AdamW the norm of a scale-invariant weight settles where the "
                     "paper's Assumption 1 (<w, u> ~ 0) puts it, |w|^2 = eta |u|^2 / "
                     "(2 lambda) (Sec. 4.2)",
    "norm-dynamics-corrected": "with momentum the norm settles higher by "
                               "sqrt((1+gamma)/(1-gamma)), the first-order correction of "
                               "this reproduction",
}

QUANTITIES = ("norm", "angle", "cos")
PREDICTIONS = ("naive", "corrected")


def _setting(record: dict) -> tuple[float, float, float]:
    opt = record["config"]["optimizer"]
    return opt["betas"][0][0], opt["lr"], opt["weight_decay"]


def tail_row(series: dict, beta1: float, lr: float, wd: float, tail: float) -> dict:
    """Tail averages of one group's series beside both predictions and their errors."""
    n = len(series["w_sq"])
    start = min(int(n * (1.0 - tail)), n - 1)
    mean = {f: float(np.mean(series[f][start:])) for f in ("w_sq", "u_sq", "cos", "angle")}
    row = {"beta1": beta1, "lr": lr, "weight_decay": wd, "u_sq": mean["u_sq"],
           "norm_measured": math.sqrt(mean["w_sq"]), "angle_measured": mean["angle"],
           "cos_measured": mean["cos"]}
    for pred in PREDICTIONS:
        corrected = pred == "corrected"
        row[f"norm_{pred}"] = math.sqrt(float(
            nd.equilibrium_norm_sq(lr, wd, beta1, mean["u_sq"], corrected)))
        row[f"angle_{pred}"] = float(nd.equilibrium_angular_step(lr, wd, beta1, corrected))
        row[f"cos_{pred}"] = float(nd.equilibrium_cosine(lr, wd, beta1, corrected))
        for q in QUANTITIES:
            p = row[f"{q}_{pred}"]
            row[f"{q}_err_{pred}"] = abs(row[f"{q}_measured"] / p - 1.0) if p != 0 else None
    return row


def median_errors(rows: list[dict]) -> dict:
    """Median relative error of each quantity and prediction (None where undefined)."""
    out = {}
    for q in QUANTITIES:
        for pred in PREDICTIONS:
            vals = [r[f"{q}_err_{pred}"] for r in rows if r[f"{q}_err_{pred}"] is not None]
            out[f"{q}_{pred}"] = float(np.median(vals)) if vals else None
    return out


def trajectory(record: dict, group: str, every: int) -> dict:
    r"""Measured :math:`|w_n|` and both closed recursions (driven by the measured
    :math:`|u_n|^2`, :func:`~ctadam.theory.normdynamics.norm_sq_trajectory`), every
    ``every`` steps."""
    b1, lr, wd = _setting(record)
    s = record["trackers"]["groups"]["series"][group]
    out = {"beta1": b1, "lr": lr, "weight_decay": wd, "group": group,
           "step": list(range(0, len(s["w_sq"]), every)),
           "measured": np.sqrt(s["w_sq"][::every]).tolist()}
    for pred in PREDICTIONS:
        traj = nd.norm_sq_trajectory(s["w_sq"][0], s["u_sq"], lr, wd, b1, pred == "corrected")
        out[pred] = np.sqrt(traj[:-1][::every]).tolist()
    return out


def summarize(records: dict[str, dict], section: dict) -> dict:
    """The family's summary (see the module docstring) from its records, by run id.

    ``section`` gives ``tail`` (the fraction of steps averaged) and ``every`` (the thinning of
    the figure's curves).
    """
    tail = check_real("normalization.tail", section["tail"], 0.0, 1.0, low_open=True)
    every = check_int("normalization.every", section["every"], 1)
    records = dict(records)
    if IDENTITY_RUN not in records:
        raise ValueError(f"records must hold the identity check (run {IDENTITY_RUN!r})")
    identity = records.pop(IDENTITY_RUN)
    rows = []
    for run, rec in sorted(records.items()):
        b1, lr, wd = _setting(rec)
        for group, series in rec["trackers"]["groups"]["series"].items():
            rows.append({"run": run, "group": group, "status": rec["status"],
                         "seed": rec["config"]["seed"],
                         **tail_row(series, b1, lr, wd, tail)})
    if not rows:
        raise ValueError("records must contain at least one run with a scale-invariant group")
    per_beta1 = []
    for b1 in sorted({r["beta1"] for r in rows}):
        sub = [r for r in rows if r["beta1"] == b1]
        per_beta1.append({
            "beta1": b1, "first_order_factor": math.sqrt((1 + b1) / (1 - b1)),
            "norm_ratio_naive": float(np.median([r["norm_measured"] / r["norm_naive"]
                                                 for r in sub])),
            "angle_ratio_naive": float(np.median([r["angle_measured"] / r["angle_naive"]
                                                  for r in sub])),
            "median_errors": median_errors(sub)})
    trajectories = []
    for b1 in sorted({_setting(r)[0] for r in records.values()}):
        runs = sorted((r for r in records.values() if _setting(r)[0] == b1),
                      key=lambda r: (_setting(r)[1] * _setting(r)[2], _setting(r)[1]))
        rec = runs[len(runs) // 2]  # the median lr * weight_decay: a representative setting
        first = next(iter(rec["trackers"]["groups"]["series"]), None)
        if first is not None:
            trajectories.append(trajectory(rec, first, every))
    configs = [r["config"] for r in records.values()]
    beta2 = sorted({c["optimizer"]["betas"][0][1] for c in configs})
    hidden = sorted({tuple(c["model"]["hidden"]) for c in configs})
    if len(beta2) != 1 or len(hidden) != 1:
        raise ValueError(f"records must share beta2 and hidden, got {beta2} and {hidden}")
    return {"tail": tail, "every": every, "rows": rows, "median_errors": median_errors(rows),
            "per_beta1": per_beta1, "trajectories": trajectories,
            "setting": {"runs": len(records), "beta2": beta2[0], "hidden": list(hidden[0]),
                        "max_lr_weight_decay": max(r["lr"] * r["weight_decay"] for r in rows)},
            "identity_max_rel_error": identity["max_rel_error"]}


def _pct(x: float | None) -> str:
    return "--" if x is None else f"{100 * x:.1f}\\%"


def latex_table(summary: dict) -> str:
    """Booktabs table: per first-moment decay, measured/naive ratios and median errors.

    Paper letters: gamma is the first-moment decay (torch beta1).
    """
    lines = [
        r"\begin{tabular}{rrrrrrrrr}", r"\toprule",
        r" & \multicolumn{2}{c}{$|w|$ / naive} & \multicolumn{2}{c}{angle / naive}"
        r" & \multicolumn{4}{c}{median rel.\ error} \\",
        r"\cmidrule(lr){2-3}\cmidrule(lr){4-5}\cmidrule(lr){6-9}",
        r"$\gamma$ & meas. & $\sqrt{\tfrac{1+\gamma}{1-\gamma}}$ & meas."
        r" & $\sqrt{\tfrac{1-\gamma}{1+\gamma}}$ & $|w|$ corr. & $|w|$ naive & angle corr."
        r" & $\cos$ corr. \\",
        r"\midrule",
    ]
    for b in summary["per_beta1"]:
        err, factor = b["median_errors"], b["first_order_factor"]
        lines.append(
            f"{b['beta1']:g} & {b['norm_ratio_naive']:.2f} & {factor:.2f}"
            f" & {b['angle_ratio_naive']:.2f} & {1 / factor:.2f}"
            f" & {_pct(err['norm_corrected'])} & {_pct(err['norm_naive'])}"
            f" & {_pct(err['angle_corrected'])} & {_pct(err['cos_corrected'])} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def macros(summary: dict) -> dict[str, str]:
    """The paper's ``\\Normalization...`` macros: median errors (all runs and at the largest
    first-moment decay), ratios, the setting and the identity check."""
    names = {"norm": "Norm", "angle": "Angle", "cos": "Cos"}
    preds = {"naive": "Naive", "corrected": "Corrected"}
    top = summary["per_beta1"][-1]
    setting = summary["setting"]
    seeds = sorted({r["seed"] for r in summary["rows"]})
    out = {"NormalizationRuns": str(setting["runs"]), "NormalizationSeeds": str(len(seeds)),
           "NormalizationTopMomentum": f"{top['beta1']:g}",
           "NormalizationMomenta": ", ".join(f"{b['beta1']:g}" for b in summary["per_beta1"]),
           "NormalizationSecondMomentDecay": f"{setting['beta2']:g}",
           "NormalizationHidden": ", ".join(str(h) for h in setting["hidden"]),
           "NormalizationMaxLrWeightDecay": f"{setting['max_lr_weight_decay']:.3g}",
           "NormalizationFirstOrderFactorTopMomentum": f"{top['first_order_factor']:.2f}",
           "NormalizationIdentityRelErr": latex_sci(summary["identity_max_rel_error"])}
    for label, err in (("", summary["median_errors"]), ("TopMomentum", top["median_errors"])):
        for q, qn in names.items():
            for p, pn in preds.items():
                if err[f"{q}_{p}"] is not None:
                    out[f"NormalizationMedErr{qn}{pn}{label}"] = f"{100 * err[f'{q}_{p}']:.1f}\\%"
    rows = summary["rows"]
    out["NormalizationRatioNaive"] = (
        f"{np.median([r['norm_measured'] / r['norm_naive'] for r in rows]):.2f}")
    out["NormalizationRatioNaiveTopMomentum"] = f"{top['norm_ratio_naive']:.2f}"
    return out


def per_seed_ratios(summary: dict, pred: str) -> list[float]:
    """Per seed, the median over the runs and groups at the largest first-moment decay of the
    measured norm over the ``pred`` prediction (``"naive"`` or ``"corrected"``)."""
    top = summary["per_beta1"][-1]["beta1"]
    rows = [r for r in summary["rows"] if r["beta1"] == top]
    return [float(np.median([r["norm_measured"] / r[f"norm_{pred}"] for r in rows
                             if r["seed"] == seed]))
            for seed in sorted({r["seed"] for r in rows})]


def claims(summary: dict, section: dict) -> list[dict]:
    """The rows ``norm-dynamics`` (the naive equilibrium of the paper's Assumption 1) and
    ``norm-dynamics-corrected`` (the momentum-corrected one, \\cref{eq:norm-equilibrium}).

    Rule, fixed before the runs: per seed the median ratio measured/predicted norm at the
    largest first-moment decay of the grid; its mean over seeds with a Student-t interval at
    ``verdicts.alpha``; verdict by :func:`ctadam.claims.ratio_verdict` with
    ``verdicts.rate_tolerance``.
    """
    from ctadam.claims import mean_interval, ratio_verdict, row

    v = section["verdicts"]
    top = summary["per_beta1"][-1]["beta1"]
    out = []
    for claim_id, pred in (("norm-dynamics", "naive"), ("norm-dynamics-corrected", "corrected")):
        ratios = per_seed_ratios(summary, pred)
        mean, interval = mean_interval(ratios, v["alpha"])
        measure = (f"measured / {pred} equilibrium norm of the LayerNorm groups at gamma = "
                   f"{top:g} (median over lr x weight decay per seed, mean over seeds, t "
                   f"interval); reproduced within +-{100 * v['rate_tolerance']:g} %")
        out.append(row(claim_id, CLAIM_TEXT[claim_id],
                       ratio_verdict(interval, v["rate_tolerance"], len(ratios), v["min_seeds"]),
                       measure, mean, interval, len(ratios), "normalization_summary"))
    return out


def publish(summary: dict, section: dict) -> dict:
    """The ``\\Normalization...`` macros, the table ``normalization_table`` and the claims."""
    return {"macros": macros(summary), "tables": {"normalization_table": latex_table(summary)},
            "claims": claims(summary, section)}
