r"""The (gamma, beta) stability sweep: grid -> run configs, and records -> summary and numbers.

In the paper's letters gamma is the first-moment decay (torch ``beta1``) and beta the
second-moment decay (torch ``beta2``); config keys and summary fields use the torch names.
Every cell of a (beta1, beta2) grid is one full-batch training run of :mod:`ctadam.train`
(float64, a tiny eps so that eps does not mask the instability); an eps panel repeats one row
(one beta1) of the grid at larger eps. A run is identified by :func:`run_id` of its
(beta1, beta2, eps), so panel runs at the grid's eps are the grid's own runs.

Per run the aggregation computes

* the max RMS update :math:`\max_n \lVert u_n\rVert/\sqrt d` and max coordinate
  :math:`\max_n \max_i |u_{n,i}|`;
* the growth exponent :math:`r_{\max}`: the largest least-squares slope of
  :math:`\ln\lVert\theta\rVert` against the step over sliding windows of the logged norms
  (finite part of the run), compared with :math:`\rho = \ln\gamma - \tfrac12\ln\beta`
  (\cref{eq:growth-rate});
* the measured label: *unstable* when the run diverged (non-finite loss or parameter norm
  above ``diverge_norm``) or the :class:`~ctadam.monitor.StabilityMonitor` flagged exponential
  growth (a window with :math:`r > 0` and :math:`r\bar n > p_{\max}`); otherwise *stable*.
  The theory label is unstable iff :math:`\gamma^2 \ge \beta` (\cref{eq:region});
* the same label for each :math:`p_{\max}` of ``sensitivity_p_max``, from the monitor's rule
  replayed on the logged norms (:func:`ctadam.monitor.first_flag`; no retraining). The
  threshold is a heuristic (see :mod:`ctadam.monitor`), so the summary reports the agreement
  with theory for each of these values. The replay at the run's own threshold must reproduce
  the step its monitor flagged, else :func:`summarize_run` raises ``ValueError``;
* for runs inside the region, :math:`\max_n \max_i |u_{n,i}| / B_n` with :math:`B_n` of
  \cref{eq:bound-n}. The hard property is that this never exceeds 1 (+ a float tolerance);
  :func:`check_bound` raises :class:`BoundViolation` otherwise and the CLI exits non-zero.

The runs are trained in shards (:mod:`ctadam.experiments.shards`); :func:`run_configs` and
everything above :func:`max_growth_rate` import neither torch nor numpy (the rule file uses
them at parse time).

CLI (``--settings``: the workflow's ``sweep`` section as a JSON file; ``--shards``: directories
of records)::

    python -m ctadam.experiments.sweep aggregate --shards DIR1 DIR2 ... --settings sweep.json \
        --out summary.json --macros numbers_sweep.tex --table table.tex --eps-table eps.tex
"""

import argparse
import math
import sys
from pathlib import Path

from ctadam import io
from ctadam.checks import check_real


class BoundViolation(AssertionError):
    """An update coordinate exceeded B_n in a run inside the stable region."""


def run_id(beta1: float, beta2: float, eps: float) -> str:
    """File-name-safe id of one run, e.g. ``b1_0.9_b2_0.7_e1e-16`` (torch beta1, beta2)."""
    return f"b1_{beta1:.6g}_b2_{beta2:.6g}_e{eps:.3g}"


def train_config(sweep: dict, data: str, beta1: float, beta2: float, eps: float) -> dict:
    """The :mod:`ctadam.train` config of one sweep cell."""
    return {
        "task": "mnist1d", "data": data, "arch": "mlp", "norm": "none",
        "model": {"hidden": list(sweep["hidden"])},
        "optimizer": {"name": "adam", "lr": sweep["lr"], "betas": [beta1, beta2], "eps": eps},
        "steps": sweep["steps"], "batch_size": None, "dtype": sweep["dtype"],
        "seed": sweep["seed"], "n_train": sweep["n_train"], "log_every": sweep["log_every"],
        "diverge_norm": sweep["diverge_norm"], "monitor": dict(sweep["monitor"]),
    }


def run_configs(sweep: dict, data: str) -> dict[str, dict]:
    """All runs of the sweep (grid and eps panel, deduplicated) by run id."""
    cells = [(b1, b2, sweep["eps"]) for b1 in sweep["beta1s"] for b2 in sweep["beta2s"]]
    panel = sweep["eps_panel"]
    cells += [(panel["beta1"], b2, e) for e in panel["eps"] for b2 in panel["beta2s"]]
    return {run_id(*c): train_config(sweep, data, *c) for c in cells}


def max_growth_rate(steps, norms, window: int) -> float:
    """Largest windowed slope of ln|theta| over the finite, positive prefix of ``norms``.

    Runs too short for one window are fitted whole (at least 3 points), else NaN.
    """
    from ctadam.monitor import fit_growth

    bad = [i for i, v in enumerate(norms) if not (math.isfinite(v) and v > 0)]
    end = bad[0] if bad else len(norms)
    steps, norms = steps[:end], norms[:end]
    w = min(window, len(steps))
    if w < 3:
        return math.nan
    rates = [fit_growth(steps[i:i + w], norms[i:i + w])[0] for i in range(len(steps) - w + 1)]
    rates = [r for r in rates if math.isfinite(r)]
    return max(rates) if rates else math.nan


def p_max_key(p_max: float) -> str:
    """JSON key of one threshold in ``unstable_by_p_max``, e.g. ``"1.5"``."""
    return f"{p_max:g}"


def unstable_by_p_max(record: dict, p_max_values) -> dict[str, bool]:
    """Measured label of a run for each threshold: diverged, or the replayed rule flags it.

    Raises ``ValueError`` if the replay at the run's own ``monitor.max_loglog_slope`` does
    not give the step its monitor flagged (the replay would then not be the monitor's rule).
    """
    from ctadam.monitor import first_flag

    mon = record["config"]["monitor"]
    steps, norms = record["log"]["step"], record["log"]["param_norm"]
    own = first_flag(steps, norms, mon["window"], mon["max_loglog_slope"])
    if own != record["monitor"]["flagged_at"]:
        raise ValueError(f"replaying the monitor rule flags step {own}, but the record's monitor "
                         f"flagged {record['monitor']['flagged_at']}")
    diverged = record["status"] != "ok"
    return {p_max_key(p): diverged or first_flag(steps, norms, mon["window"], p) is not None
            for p in p_max_values}


def summarize_run(record: dict, p_max_values=()) -> dict:
    """The per-run numbers of the sweep (see the module docstring)."""
    import numpy as np

    from ctadam.theory.stability import bound_inf, bound_n, growth_rate, in_stable_region

    cfg = record["config"]
    (beta1, beta2), eps = cfg["optimizer"]["betas"][0], cfg["optimizer"]["eps"]
    u_max = np.asarray(record["per_step"]["update_max_abs"], dtype=float)
    u_rms = np.asarray(record["per_step"]["update_rms"], dtype=float)
    inside = bool(in_stable_region(beta1, beta2))
    ratio = ratio_late = math.nan
    if inside and u_max.size:
        bn = bound_n(beta1, beta2, np.arange(1, u_max.size + 1))
        ratios = np.where(np.isfinite(u_max), u_max, np.inf) / bn
        ratio = float(np.max(ratios))
        ratio_late = float(np.max(ratios[1:])) if u_max.size > 1 else math.nan
    unstable = record["status"] != "ok" or bool(record["monitor"]["exponential"])
    return {
        "id": run_id(beta1, beta2, eps), "beta1": beta1, "beta2": beta2, "eps": eps,
        "inside": inside, "theory_unstable": not inside, "measured_unstable": unstable,
        "status": record["status"], "diverged_at": record["diverged_at"],
        "flagged_at": record["monitor"]["flagged_at"],
        "peak_update_rms": _nanmax(u_rms), "peak_update_max_abs": _nanmax(u_max),
        "final_param_norm": record["log"]["param_norm"][-1],
        "growth_rate": max_growth_rate(record["log"]["step"], record["log"]["param_norm"],
                                       cfg["monitor"]["window"]),
        "rho": float(growth_rate(beta1, beta2)), "bound_inf": float(bound_inf(beta1, beta2)),
        "max_bound_ratio": ratio, "max_bound_ratio_after_first": ratio_late,
        "steps_done": record["steps_done"],
        "unstable_by_p_max": unstable_by_p_max(record, p_max_values),
    }


def _nanmax(a) -> float:
    import numpy as np

    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else math.nan


def check_bound(runs: list[dict], tolerance: float) -> dict:
    """Check max_n max_i |u_n,i| / B_n <= 1 + tolerance in every run inside the region.

    Returns ``{"runs": count, "max_ratio": worst, "max_ratio_after_first": worst over n >= 2}``
    (step 1 is a sign step, :math:`|u_{1,i}| = 1 = B_1`); raises :class:`BoundViolation` listing
    the offending runs otherwise (a NaN ratio, i.e. a non-finite update inside, also fails).
    """
    tolerance = check_real("tolerance", tolerance, 0.0)
    inside = [r for r in runs if r["inside"]]
    bad = [r for r in inside if not r["max_bound_ratio"] <= 1.0 + tolerance]
    if bad:
        listing = ", ".join(f"{r['id']} (ratio {r['max_bound_ratio']:.6g})" for r in bad)
        raise BoundViolation(f"{len(bad)} of {len(inside)} runs inside the stable region had "
                             f"an update coordinate above B_n: {listing}")
    worst = max((r["max_bound_ratio"] for r in inside), default=math.nan)
    late = max((r["max_bound_ratio_after_first"] for r in inside), default=math.nan)
    return {"runs": len(inside), "max_ratio": worst, "max_ratio_after_first": late}


def confusion(grid: list[dict], measured_key: str, p_max: float | None = None) -> dict:
    """Counts of theory label (stable/unstable) against a measured label over ``grid``.

    The measured label is ``run[measured_key]``, or ``run[measured_key][p_max_key(p_max)]``
    when ``p_max`` is given.
    """
    def measured(r):
        return r[measured_key] if p_max is None else r[measured_key][p_max_key(p_max)]

    return {f"theory_{t}_measured_{m}": sum(
        1 for r in grid if r["theory_unstable"] == (t == "unstable")
        and measured(r) == (m == "unstable"))
        for t in ("stable", "unstable") for m in ("stable", "unstable")}


def _agree_count(c: dict) -> int:
    return c["theory_stable_measured_stable"] + c["theory_unstable_measured_unstable"]


def sensitivity(grid: list[dict], p_max_values) -> list[dict]:
    """Per threshold (increasing): confusion counts, agreeing cells and agreement fraction."""
    rows = []
    for p in sorted(set(p_max_values)):
        c = confusion(grid, "unstable_by_p_max", p)
        rows.append({"p_max": p, "confusion": c, "agree": _agree_count(c),
                     "agreement": _agree_count(c) / len(grid)})
    return rows


def aggregate(records: list[dict], grid_eps: float, tolerance: float,
              p_max_values=()) -> dict:
    """Summary of a sweep: per-run numbers, grid agreement with theory, the bound check.

    ``p_max_values``: thresholds of the sensitivity rows; the runs' own threshold is added.
    """
    p_max_values = {check_real("p_max", p, 0.0, low_open=True) for p in p_max_values}
    p_max_values |= {float(rec["config"]["monitor"]["max_loglog_slope"]) for rec in records}
    runs = {}
    for rec in records:
        s = summarize_run(rec, p_max_values)
        runs[s["id"]] = s
    runs = [runs[k] for k in sorted(runs)]
    grid = [r for r in runs if r["eps"] == grid_eps]
    if not grid:
        raise ValueError(f"grid_eps={grid_eps!r} matches no record's eps")
    agree = [r for r in grid if r["theory_unstable"] == r["measured_unstable"]]
    growing = [r for r in grid if r["theory_unstable"] and r["measured_unstable"]
               and math.isfinite(r["growth_rate"])]
    rel = [r["growth_rate"] / r["rho"] for r in growing]
    return {
        "runs": runs, "grid_eps": grid_eps, "grid_cells": len(grid), "agree": len(agree),
        "agreement": len(agree) / len(grid), "confusion": confusion(grid, "measured_unstable"),
        "sensitivity": sensitivity(grid, p_max_values),
        "disagreeing": [r["id"] for r in grid if r not in agree],
        "rate_over_rho": {"runs": len(rel), "median": _median(rel),
                          "min": min(rel, default=math.nan), "max": max(rel, default=math.nan)},
        "bound": check_bound(runs, tolerance),
    }


def _median(xs: list[float]) -> float:
    import numpy as np

    return float(np.median(xs)) if xs else math.nan


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


def read_shards(dirs) -> list[dict]:
    """Every record ``*.json`` in the shard directories ``dirs``, in sorted file order."""
    paths = sorted(p for d in dirs for p in Path(d).glob("*.json"))
    if not paths:
        raise ValueError(f"no records (*.json) in the shard directories {list(dirs)}")
    return [io.read_json(p) for p in paths]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctadam.experiments.sweep")
    sub = parser.add_subparsers(dest="cmd", required=True)
    agg = sub.add_parser("aggregate", help="records -> summary JSON, macros, table")
    agg.add_argument("--shards", nargs="+", required=True, help="directories of records")
    agg.add_argument("--settings", required=True,
                     help="the sweep section of the workflow config (JSON file)")
    agg.add_argument("--out", required=True)
    agg.add_argument("--macros", required=True)
    agg.add_argument("--table", required=True, help="classification table (.tex)")
    agg.add_argument("--eps-table", required=True, help="eps panel table (.tex)")
    args = parser.parse_args(argv)
    sweep_cfg = io.read_json(args.settings)
    records = read_shards(args.shards)
    try:
        summary = aggregate(records, sweep_cfg["eps"], sweep_cfg["bound_tolerance"],
                            sweep_cfg["sensitivity_p_max"])
    except BoundViolation as err:
        print(f"HARD PROPERTY VIOLATED: {err}", file=sys.stderr)
        return 1
    io.write_json_atomic(args.out, summary)
    io.write_macros(args.macros, macros(summary, sweep_cfg),
                    "Stability sweep (python -m ctadam.experiments.sweep aggregate).")
    io.write_text_atomic(args.table, table(summary, sweep_cfg["monitor"]["max_loglog_slope"]))
    io.write_text_atomic(args.eps_table, eps_table(summary, sweep_cfg))
    print(f"agreement {summary['agree']}/{summary['grid_cells']}; bound ratio max "
          f"{summary['bound']['max_ratio']:.4f} over {summary['bound']['runs']} inside runs")
    for row in summary["sensitivity"]:
        print(f"p_max {row['p_max']:g}: agreement {row['agree']}/{summary['grid_cells']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
