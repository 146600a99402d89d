r"""The sweep's summary -> the paper's number macros (prefix ``Sweep``), its two tables and
its claims.

The classification table: the decidable cells inside and outside the exact region
(:math:`\gamma^2<\beta`, \cref{eq:region}) and the paper's (:math:`C>0`, \cref{eq:paper-c}),
labelled by the instability rule (:mod:`ctadam.instability`); below them, as sensitivity rows,
the earlier parameter-norm rule for each threshold :math:`p_{\max}`. The eps panel table: the
max RMS update per beta2 and eps along one row.

Claims (:mod:`ctadam.claims`), verdicts by :func:`ctadam.claims.interval_verdict` with the
profile's ``verdicts.agreement``: ``region-exact`` (the exact region predicts the rule's label
of training runs) and ``region-paper`` (the paper's region does).
"""

import math

from ctadam import io

TABLES = ("stability_sweep_classification", "stability_sweep_eps_panel")
CLAIMS = ("region-exact", "region-paper")
CLAIM_TEXT = {
    "region-exact": "Adam's updates stay bounded inside the exact region beta2 > beta1^2 and "
                    "grow outside it, in training (the sweep)",
    "region-paper": "the paper's region C > 0 predicts which training runs stay bounded "
                    "(the sweep)",
}


def publish(summary: dict, section: dict) -> dict:
    """The protocol's publish step: the macros, :data:`TABLES` and the rows of :data:`CLAIMS`."""
    return {"macros": macros(summary, section),
            "tables": {"stability_sweep_classification":
                       table(summary, section["monitor"]["max_loglog_slope"]),
                       "stability_sweep_eps_panel": eps_table(summary, section)},
            "claims": claims(summary, section)}


def claims(summary: dict, section: dict) -> list[dict]:
    """The rows ``region-exact`` and ``region-paper``: the fraction of decidable cells whose
    majority label under the rule equals the region's, with its Wilson interval; reproduced
    when the interval lies above ``verdicts.agreement``, not reproduced when below it."""
    from ctadam.claims import interval_verdict, row

    v, K = section["verdicts"], summary["K"]
    seeds = len(summary["seeds"])
    out = []
    for claim_id, key in (("region-exact", "exact"), ("region-paper", "paper")):
        a = summary[key]
        measure = (f"fraction of the {a['cells']} decidable grid cells whose majority label over "
                   f"seeds (unstable: max_n ||u_n||_inf > K = {K:g} or diverged) equals the "
                   f"region's; Wilson 95 % interval against {v['agreement']:g}")
        out.append(row(claim_id, CLAIM_TEXT[claim_id],
                       interval_verdict(a["interval"], v["agreement"], seeds, v["min_seeds"]),
                       measure, a["agreement"], a["interval"], seeds,
                       "stability_sweep_summary"))
    return out


def macros(summary: dict, sweep_cfg: dict) -> dict[str, str]:
    """LaTeX number macros (prefix ``Sweep``) of a summary."""
    from ctadam.instability import UNDECIDABLE_BOUND, UNDECIDABLE_BOUNDARY, UNDECIDABLE_HORIZON

    mon = sweep_cfg["monitor"]
    out = {
        "SweepCells": str(summary["grid_cells"]), "SweepRuns": str(summary["grid_runs"]),
        "SweepSeeds": str(len(summary["seeds"])), "SweepK": f"{summary['K']:g}",
        "SweepDecidable": str(summary["exact"]["cells"]),
        "SweepUndecidableBound": str(summary["undecidable"].get(UNDECIDABLE_BOUND, 0)),
        "SweepUndecidableHorizon": str(summary["undecidable"].get(UNDECIDABLE_HORIZON, 0)
                                       + summary["undecidable"].get(UNDECIDABLE_BOUNDARY, 0)),
        "SweepThetaAgreement": f"{100 * summary['theta_rule']['agreement']:.0f}",
        "SweepRegionsDiffer": str(sum(c["theory_unstable"] != c["paper_unstable"]
                                      for c in summary["cells"] if c["decidable"])),
        "SweepInsideRuns": str(summary["bound"]["runs"]),
        "SweepMaxBoundRatio": f"{summary['bound']['max_ratio']:.3f}",
        "SweepBoundSlack": _latex_num(1.0 - summary["bound"]["max_ratio"]),
        "SweepBoundSlackAfterFirst": _latex_num(1.0 - summary["bound"]["max_ratio_after_first"]),
        "SweepRateRuns": str(summary["rate_over_rho"]["runs"]),
        "SweepRateOverRhoMedian": f"{summary['rate_over_rho']['median']:.2f}",
        "SweepRateOverRhoMin": f"{summary['rate_over_rho']['min']:.2f}",
        "SweepRateOverRhoMax": f"{summary['rate_over_rho']['max']:.2f}",
        "SweepSteps": str(sweep_cfg["steps"]), "SweepMaxSteps": str(sweep_cfg["max_steps"]),
        "SweepLr": f"{sweep_cfg['lr']:g}",
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
    for name, key in (("", "exact"), ("Paper", "paper")):
        a, c = summary[key], summary[key]["confusion"]
        out |= {f"Sweep{name}AgreeCells": str(a["agree"]),
                f"Sweep{name}Agreement": _pct(a["agreement"]),
                f"Sweep{name}AgreementLo": _pct(a["interval"][0], 1),
                f"Sweep{name}AgreementHi": _pct(a["interval"][1], 1),
                f"Sweep{name}StableAsStable": str(c["theory_stable_measured_stable"]),
                f"Sweep{name}StableAsUnstable": str(c["theory_stable_measured_unstable"]),
                f"Sweep{name}UnstableAsStable": str(c["theory_unstable_measured_stable"]),
                f"Sweep{name}UnstableAsUnstable": str(c["theory_unstable_measured_unstable"])}
    return out


def _pct(x: float, digits: int = 0) -> str:
    return f"{100 * x:.{digits}f}" if math.isfinite(x) else "n/a"


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
    """Max RMS update per eps at the panel's beta2 where the smallest eps gave the largest one
    (the panel's runs use the first seed).

    ``SweepEpsPanelBeta`` is the panel's beta1 (the paper's gamma) and ``SweepEpsPanelGamma``
    that beta2 (the paper's beta): the macro names keep the sweep's old letters.
    """
    panel = sweep_cfg["eps_panel"]
    by = {(r["beta2"], r["eps"]): r["peak_update_rms"] for r in summary["runs"]
          if r["beta1"] == panel["beta1"] and r["seed"] == sweep_cfg["seeds"][0]}
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
    """Booktabs classification table.

    First the instability rule over the decidable cells (majority of seeds), against the exact
    and the paper's region; then, as sensitivity rows over all grid runs, the earlier
    parameter-norm rule for each threshold :math:`p_{\\max}` against the exact region (the row
    of the earlier rule's own threshold ``rule_p_max`` is marked).
    """
    lines = ["\\begin{tabular}{lrrrrr}", "\\toprule",
             " & \\multicolumn{2}{c}{inside the region} & "
             "\\multicolumn{2}{c}{outside the region} & \\\\",
             "\\cmidrule(lr){2-3}\\cmidrule(lr){4-5}",
             "label, region & stable & unstable & stable & unstable & agreement \\\\",
             "\\midrule"]

    def counts(c):
        return " & ".join(str(c[f"theory_{t}_measured_{m}"]) for t in ("stable", "unstable")
                          for m in ("stable", "unstable"))

    for key, name in (("exact", "$\\gamma^2<\\beta$"), ("paper", "$C>0$")):
        a = summary[key]
        lines.append(f"rule $K={summary['K']:g}$, {name} & {counts(a['confusion'])} & "
                     f"{_pct(a['agreement'])}\\,\\% [{_pct(a['interval'][0], 1)}, "
                     f"{_pct(a['interval'][1], 1)}] \\\\")
    lines.append("\\midrule")
    lines.append("\\multicolumn{6}{l}{sensitivity: earlier rule on $\\lVert\\theta_n\\rVert$, "
                 "all runs, $\\gamma^2<\\beta$} \\\\")
    for row in summary["sensitivity"]:
        mark = " (earlier rule)" if row["p_max"] == rule_p_max else ""
        lines.append(f"$p_{{\\max}}={row['p_max']:g}${mark} & {counts(row['confusion'])} & "
                     f"{100 * row['agreement']:.0f}\\,\\% \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def eps_table(summary: dict, sweep_cfg: dict) -> str:
    """Booktabs table of the eps panel: max RMS update per beta2 (rows) and eps (columns)."""
    panel = sweep_cfg["eps_panel"]
    by = {(r["beta2"], r["eps"]): r for r in summary["runs"]
          if r["beta1"] == panel["beta1"] and r["seed"] == sweep_cfg["seeds"][0]}
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
