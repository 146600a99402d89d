r"""The sweep's summary -> the paper's number macros (prefix ``Sweep``) and its two tables.

The classification table: one row per threshold :math:`p_{\max}` of the sensitivity rows,
cells inside (:math:`\gamma^2<\beta`) and outside the region of \cref{eq:region}, measured
stable or unstable. The eps panel table: the max RMS update per beta2 and eps along one row.
"""

import math

from ctadam import io

TABLES = ("stability_sweep_classification", "stability_sweep_eps_panel")


def publish(summary: dict, section: dict) -> dict:
    """The protocol's publish step: the macros and :data:`TABLES`."""
    return {"macros": macros(summary, section),
            "tables": {"stability_sweep_classification":
                       table(summary, section["monitor"]["max_loglog_slope"]),
                       "stability_sweep_eps_panel": eps_table(summary, section)}}


def macros(summary: dict, sweep_cfg: dict) -> dict[str, str]:
    """LaTeX number macros (prefix ``Sweep``) of a summary."""
    c = summary["confusion"]
    mon = sweep_cfg["monitor"]
    return {
        "SweepCells": str(summary["grid_cells"]),
        "SweepAgreeCells": str(summary["agree"]),
        "SweepAgreement": f"{100 * summary['agreement']:.0f}",
        "SweepStableAsStable": str(c["theory_stable_measured_stable"]),
        "SweepStableAsUnstable": str(c["theory_stable_measured_unstable"]),
        "SweepUnstableAsStable": str(c["theory_unstable_measured_stable"]),
        "SweepUnstableAsUnstable": str(c["theory_unstable_measured_unstable"]),
        "SweepInsideRuns": str(summary["bound"]["runs"]),
        "SweepMaxBoundRatio": f"{summary['bound']['max_ratio']:.3f}",
        "SweepBoundSlack": _latex_num(1.0 - summary["bound"]["max_ratio"]),
        "SweepBoundSlackAfterFirst": _latex_num(1.0 - summary["bound"]["max_ratio_after_first"]),
        "SweepRateRuns": str(summary["rate_over_rho"]["runs"]),
        "SweepRateOverRhoMedian": f"{summary['rate_over_rho']['median']:.2f}",
        "SweepRateOverRhoMin": f"{summary['rate_over_rho']['min']:.2f}",
        "SweepRateOverRhoMax": f"{summary['rate_over_rho']['max']:.2f}",
        "SweepSteps": str(sweep_cfg["steps"]), "SweepLr": f"{sweep_cfg['lr']:g}",
        "SweepNTrain": str(sweep_cfg["n_train"]),
        "SweepHidden": "--".join(str(h) for h in sweep_cfg["hidden"]),
        "SweepEps": io.latex_sci(sweep_cfg["eps"]),
        "SweepWindow": str(mon["window"] * sweep_cfg["log_every"]),
        "SweepMaxLoglogSlope": f"{mon['max_loglog_slope']:g}",
        "SweepDivergeNorm": io.latex_sci(sweep_cfg["diverge_norm"]),
        "SweepDiverged": str(sum(1 for r in summary["runs"] if r["eps"] == summary["grid_eps"]
                                 and r["status"] != "ok")),
        **eps_panel_macros(summary, sweep_cfg),
        **sensitivity_macros(summary),
    }


def sensitivity_macros(summary: dict) -> dict[str, str]:
    """The thresholds of the sensitivity rows, the agreement range and the extreme rows."""
    rows = summary["sensitivity"]
    values = [f"{r['p_max']:g}" for r in rows]
    agreement = [100 * r["agreement"] for r in rows]
    out = {"SweepSensPmaxList": ", ".join(values),
           "SweepSensAgreementMin": f"{min(agreement):.0f}",
           "SweepSensAgreementMax": f"{max(agreement):.0f}"}
    for name, row in (("Low", rows[0]), ("High", rows[-1])):
        c = row["confusion"]
        out[f"SweepSensPmax{name}"] = f"{row['p_max']:g}"
        out[f"SweepSensAgreement{name}"] = f"{100 * row['agreement']:.0f}"
        out[f"SweepSensInsideUnstable{name}"] = str(c["theory_stable_measured_unstable"])
        out[f"SweepSensOutsideStable{name}"] = str(c["theory_unstable_measured_stable"])
    return out


def eps_panel_macros(summary: dict, sweep_cfg: dict) -> dict[str, str]:
    """Max RMS update per eps at the panel's beta2 where the smallest eps gave the largest one.

    ``SweepEpsPanelBeta`` is the panel's beta1 (the paper's gamma) and ``SweepEpsPanelGamma``
    that beta2 (the paper's beta): the macro names keep the sweep's old letters.
    """
    panel = sweep_cfg["eps_panel"]
    by = {(r["beta2"], r["eps"]): r["peak_update_rms"] for r in summary["runs"]
          if r["beta1"] == panel["beta1"]}
    eps_sorted = sorted(panel["eps"])
    beta2 = max(panel["beta2s"], key=lambda b2: by[(b2, eps_sorted[0])])
    out = {"SweepEpsPanelBeta": f"{panel['beta1']:g}", "SweepEpsPanelGamma": f"{beta2:g}"}
    for letter, eps in zip("ABCDEFGH", eps_sorted, strict=False):
        out[f"SweepEpsPanelEps{letter}"] = io.latex_sci(eps)
        out[f"SweepEpsPanelRms{letter}"] = _latex_num(by[(beta2, eps)])
    return out


def _latex_num(x: float) -> str:
    """Three significant digits, in scientific notation outside [1e-3, 1e4)."""
    if not math.isfinite(x):
        return "\\infty" if x > 0 else "\\text{nan}"
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.3g}"
    mant, exp = f"{x:.2e}".split("e")
    return f"{mant}\\times 10^{{{int(exp)}}}"


def table(summary: dict, rule_p_max: float) -> str:
    """Booktabs classification table: one row per threshold of the sensitivity rows.

    Columns: measured stable / unstable among the cells inside and outside the region, and
    the agreement; the row of the rule's own threshold ``rule_p_max`` is marked.
    """
    lines = ["\\begin{tabular}{lrrrrr}", "\\toprule",
             " & \\multicolumn{2}{c}{inside ($\\gamma^2<\\beta$)} & "
             "\\multicolumn{2}{c}{outside ($\\gamma^2\\ge\\beta$)} & \\\\",
             "\\cmidrule(lr){2-3}\\cmidrule(lr){4-5}",
             "$p_{\\max}$ & stable & unstable & stable & unstable & agreement \\\\",
             "\\midrule"]
    for row in summary["sensitivity"]:
        c = row["confusion"]
        mark = " (rule)" if row["p_max"] == rule_p_max else ""
        counts = " & ".join(str(c[f"theory_{t}_measured_{m}"]) for t in ("stable", "unstable")
                            for m in ("stable", "unstable"))
        lines.append(f"{row['p_max']:g}{mark} & {counts} & "
                     f"{100 * row['agreement']:.0f}\\,\\% \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def eps_table(summary: dict, sweep_cfg: dict) -> str:
    """Booktabs table of the eps panel: max RMS update per beta2 (rows) and eps (columns)."""
    panel = sweep_cfg["eps_panel"]
    by = {(r["beta2"], r["eps"]): r for r in summary["runs"] if r["beta1"] == panel["beta1"]}
    eps_sorted = sorted(panel["eps"])
    head = " & ".join(f"$\\epsilon={io.latex_sci(e)}$" for e in eps_sorted)
    lines = ["\\begin{tabular}{l" + "r" * len(eps_sorted) + "}", "\\toprule",
             f"$\\beta$ ($\\gamma={panel['beta1']:g}$) & {head} \\\\", "\\midrule"]
    for b2 in sorted(panel["beta2s"]):
        cells = []
        for e in eps_sorted:
            run = by[(b2, e)]
            mark = "\\,(D)" if run["status"] != "ok" else ""
            cells.append(f"${_latex_num(run['peak_update_rms'])}${mark}")
        side = "inside" if b2 > panel["beta1"] ** 2 else "outside"
        lines.append(f"{b2:g} ({side}) & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
