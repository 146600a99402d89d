r"""The paper's Sec. 3.3: inside the region, does a larger C reach a held-out loss sooner?

Design (every rule below is fixed in the profile or here before any run):

* Runs: Shakespeare, full batch, inside both regions, along two lines of ``points`` values of
  :math:`C = 2(1-\gamma)/\gamma - (1-\beta)/\beta` (\cref{eq:paper-c}) evenly spaced in
  :math:`(0, C(\gamma_0, \beta_0)]`: the *gamma line* varies :math:`\gamma` (torch ``beta1``)
  at :math:`\beta_0`, the *beta line* varies :math:`\beta` (torch ``beta2``) at
  :math:`\gamma_0` (:func:`ctadam.experiments.stability_training.configs.speed_points`);
  every point for every seed. The held-out loss is evaluated every ``eval_every`` steps (1 in
  the profiles) on ``eval_samples`` fixed validation windows.
* Targets: the profile's ``targets``, held-out losses in nats, strictly decreasing, fixed
  before the reported runs. They were placed from one pilot seed (seed 100, not among the
  reported seeds and not part of any reported number) at the two ends of both lines: below
  :math:`\ln V` (V = 83 characters, 4.42 nats) where the curves separate, and above the pilot's
  overfit minimum (3.01 to 3.06 nats, reached after 74 to 122 steps), so that a target is
  met while the held-out loss still falls.
* Steps to target :math:`T_{r,t}` of run r and target t: the first evaluated step whose
  held-out loss is at or below t (:func:`steps_to`). A run that never gets there within the
  horizon (``steps``), or diverges first, is *censored*: :math:`T = \text{steps} + 1`, a
  value larger than every reached one, so the rank statistics below treat it as the slowest
  (ties among censored runs get average ranks). The counts of censored runs are reported.
* Per target t and line d (a *cell*), with seeds s and the C values of the line:

  - within-seed statistic: :math:`r_s = \operatorname{Spearman}_C(C, T_{\cdot, t})` over the
    points of seed s (NaN, and dropped, where the steps of that seed are all equal);
    the mean :math:`\bar r` over seeds, a one-sample t-test of :math:`r_s` against 0
    (:func:`ctadam.stats.paired_t` against zeros) and a two-sided sign test, and
    :math:`\bar r`'s seed-blocked bootstrap interval (:func:`ctadam.stats.block_bootstrap`:
    whole seeds resampled, every C point of a seed kept together);
  - pooled Spearman over all runs of the cell with the same seed-blocked interval;
  - minimum detectable effect of the t-test (:func:`ctadam.stats.mde_paired` at power 0.8,
    Holm's first step over all cells);
  - monotonicity: whether the seed-mean steps never rise between adjacent C values
    (counts of rises and falls kept).

  The t-test p-values of all cells (targets x lines) are Holm-corrected together
  (:func:`ctadam.stats.holm`).
* Verdict (claim row ``speed``; :func:`verdict_of`): *reproduced* when in every cell
  :math:`\bar r < 0` with Holm-adjusted p < ``verdicts.alpha``; *not reproduced* when at least
  one cell has :math:`\bar r > 0` with Holm-adjusted p < alpha (a significant positive
  correlation, or significant signs that disagree between cells); otherwise *undecidable at
  this scale*, and always so when a cell has fewer than ``verdicts.min_seeds`` seeds with a
  defined :math:`r_s`. Value: the median over cells of :math:`\bar r`; interval: its seed-blocked
  bootstrap interval (seeds resampled once for all cells).
"""

import math

import numpy as np

from ctadam.experiments.stability_training.configs import SPEED_LINES, check_speed_targets
from ctadam.experiments.stability_training.measure import strip_eval
from ctadam.stats import VERDICTS, block_bootstrap, holm, mde_paired, paired_t

CLAIM = ("Inside the stable region a larger C goes with faster generalization: fewer steps "
         "to a held-out loss target (the paper's Sec. 3.3).")
LINE_NAMES = {"gamma": "gamma line", "beta": "beta line"}


def steps_to(ev: dict, target: float) -> int | None:
    """First evaluated step with held-out loss <= ``target`` (None if none)."""
    for step, loss in zip(ev["step"], ev["test_loss"], strict=True):
        if loss <= target:
            return int(step)
    return None


def censored(steps: int | None, horizon: int) -> int:
    """Steps to target with the pre-registered censoring: ``horizon + 1`` when not reached."""
    return horizon + 1 if steps is None else int(steps)


def spearman(x, y) -> float:
    """Spearman's rank correlation (:func:`scipy.stats.spearmanr`, average ranks for ties);
    NaN when x or y is constant or shorter than 2."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or not (np.ptp(x) > 0 and np.ptp(y) > 0):
        return math.nan
    return float(spearmanr(x, y).statistic)


def within_seed_rhos(blocks: list[list[tuple[float, float]]], cache: dict | None = None
                     ) -> list[float]:
    """Per block (one seed's ``(C, steps)`` pairs) Spearman's rho over C.

    ``cache`` (keyed by the block's ``id``; the blocks must outlive it) spares a bootstrap
    recomputing the rho of a seed it draws again: a seed's rho does not depend on the draw.
    """
    out = []
    for b in blocks:
        if cache is None or id(b) not in cache:
            rho = spearman([c for c, _ in b], [t for _, t in b])
            if cache is None:
                out.append(rho)
                continue
            cache[id(b)] = rho
        out.append(cache[id(b)])
    return out


def mean_finite(values) -> float:
    v = [x for x in values if math.isfinite(x)]
    return float(np.mean(v)) if v else math.nan


def sign_test(values) -> float:
    """Two-sided sign test p of the finite non-zero values (NaN when none)."""
    from scipy.stats import binomtest

    v = [x for x in values if math.isfinite(x) and x != 0]
    if not v:
        return math.nan
    return float(binomtest(sum(x < 0 for x in v), len(v), 0.5).pvalue)


def pooled(blocks: list) -> float:
    """Spearman over every pair of every block (seeds pooled)."""
    pairs = [p for b in blocks for p in b]
    return spearman([c for c, _ in pairs], [t for _, t in pairs])


def cell_stats(blocks: dict, n_boot: int, seed: int, alpha: float, tests: int,
               cache: dict | None = None) -> dict:
    """The numbers of one cell from ``{seed: [(C, steps), ...]}`` (see the module docstring)."""
    cache = {} if cache is None else cache
    seeds = sorted(blocks)
    bl = [blocks[s] for s in seeds]
    rhos = within_seed_rhos(bl, cache)
    finite = [r for r in rhos if math.isfinite(r)]
    t = paired_t(finite, [0.0] * len(finite), alpha)
    n = len(finite)
    if n >= 2:
        mean, lo, hi = block_bootstrap(bl, lambda b: mean_finite(within_seed_rhos(b, cache)),
                                       n_boot, 1 - alpha, seed)
        pooled_rho, pooled_lo, pooled_hi = block_bootstrap(bl, pooled, n_boot, 1 - alpha, seed)
    else:
        mean, lo, hi = mean_finite(rhos), math.nan, math.nan
        pooled_rho, pooled_lo, pooled_hi = pooled(bl), math.nan, math.nan
    sd = t["sd"]
    mde = (mde_paired(sd, n, alpha, 0.8, tests) if n >= 2 and math.isfinite(sd) and sd > 0
           else math.nan)
    return {"seed_rhos": rhos, "n": n, "mean_rho": mean, "low": lo, "high": hi,
            "sd": sd, "t_low": t["low"], "t_high": t["high"], "p": t["p"],
            "sign_p": sign_test(rhos), "negative_seeds": sum(r < 0 for r in finite),
            "mde": mde, "pooled": {"rho": pooled_rho, "low": pooled_lo, "high": pooled_hi}}


def per_c(rows: list[dict], key: str) -> list[dict]:
    """Per C value (rising) the mean and std over seeds of ``key`` and the censored count."""
    out = []
    for c in sorted({r["c"] for r in rows}):
        s = [r[key] for r in rows if r["c"] == c]
        out.append({"c": c, "beta1": next(r["beta1"] for r in rows if r["c"] == c),
                    "beta2": next(r["beta2"] for r in rows if r["c"] == c),
                    "mean": float(np.mean(s)),
                    "std": float(np.std(s, ddof=1)) if len(s) > 1 else math.nan, "n": len(s)})
    return out


def monotonicity(means: list[float]) -> dict:
    """Rises and falls of consecutive means; ``monotone``: no rise (faster or equal with C)."""
    pairs = list(zip(means, means[1:], strict=False))
    rises = sum(b > a for a, b in pairs)
    return {"rises": rises, "falls": sum(b < a for a, b in pairs), "pairs": len(pairs),
            "monotone": rises == 0}


def verdict_of(cells: list[dict], alpha: float, min_seeds: int) -> str:
    """The pre-registered verdict from cells with ``mean_rho``, ``p_holm`` and ``n`` (seeds
    with a defined within-seed rho); fewer than ``min_seeds`` in any cell is undecidable."""
    if not cells or any(c["n"] < min_seeds for c in cells):
        return VERDICTS[2]
    sig = [c for c in cells if math.isfinite(c["p_holm"]) and c["p_holm"] < alpha]
    if any(c["mean_rho"] > 0 for c in sig):
        return VERDICTS[1]
    if len(sig) == len(cells) and all(c["mean_rho"] < 0 for c in sig):
        return VERDICTS[0]
    return VERDICTS[2]


def row_of(run: dict) -> dict:
    """Line, index and coordinates of a measured run (its id is ``<line>_k<index>_s<seed>``)."""
    line, k, _ = run["id"].split("_")
    if line not in SPEED_LINES:
        raise ValueError(f"speed run {run['id']!r}: the id must start with one of "
                         f"{[x + '_' for x in SPEED_LINES]}")
    return {**strip_eval([run])[0], "line": line, "k": int(k[1:]), "c": round(run["c"], 12)}


def summary_value(blocks: list[dict], cells: list[tuple[float, str]],
                  cache: dict | None = None) -> float:
    """Median over cells of the mean within-seed rho; ``blocks``: per seed ``{cell: pairs}``."""
    means = [mean_finite(within_seed_rhos([b[cell] for b in blocks], cache)) for cell in cells]
    means = [m for m in means if math.isfinite(m)]
    return float(np.median(means)) if means else math.nan


def summarize(runs: list[dict], st: dict) -> dict:
    """Steps to every target per run, the cells' statistics, Holm, the verdict and its value."""
    sp, v = st["speed"], st["verdicts"]
    targets = check_speed_targets(sp["targets"])
    horizon, alpha = sp["steps"], v["alpha"]
    rows = []
    for r in runs:
        ev = r["eval"]
        reached = {f"{t:g}": steps_to(ev, t) for t in targets}
        best = min(ev["test_loss"]) if ev["test_loss"] else math.nan
        rows.append({**row_of(r), "reached": reached,
                     "steps": {k: censored(s, horizon) for k, s in reached.items()},
                     "best_test_loss": best,
                     "best_step": (int(ev["step"][int(np.argmin(ev["test_loss"]))])
                                   if ev["test_loss"] else None)})
    keys = [(f"{t:g}", line) for t in targets for line in SPEED_LINES]
    seeds = sorted({r["seed"] for r in rows})
    cache = {}  # within-seed rho per block (the blocks live until summarize returns)
    blocks = {s: {key: [(r["c"], r["steps"][key[0]]) for r in rows
                        if r["seed"] == s and r["line"] == key[1]] for key in keys}
              for s in seeds}
    cells = []
    for key in keys:
        tk, line = key
        cell_rows = [{**r, "t": r["steps"][tk]} for r in rows if r["line"] == line]
        stats = cell_stats({s: blocks[s][key] for s in seeds}, sp["bootstrap"],
                           sp["bootstrap_seed"], alpha, len(keys), cache)
        pc = per_c(cell_rows, "t")
        cells.append({"target": float(tk), "line": line, **stats, "per_c": pc,
                      **monotonicity([p["mean"] for p in pc]),
                      "runs": len(cell_rows),
                      "censored": sum(r["reached"][tk] is None for r in cell_rows)})
    for c, p in zip(cells, holm([c["p"] for c in cells]), strict=True):
        c["p_holm"] = p
    value, low, high = (block_bootstrap(list(blocks.values()),
                                        lambda b: summary_value(b, keys, cache),
                                        sp["bootstrap"],
                                        1 - alpha, sp["bootstrap_seed"])
                        if len(seeds) >= 2 else (summary_value(list(blocks.values()), keys),
                                                 math.nan, math.nan))
    lines = {line: {"beta1": sorted({r["beta1"] for r in rows if r["line"] == line}),
                    "beta2": sorted({r["beta2"] for r in rows if r["line"] == line}),
                    "c": sorted({r["c"] for r in rows if r["line"] == line})}
             for line in SPEED_LINES}
    return {"experiment": "speed", "beta1": sp["beta1"], "beta2": sp["beta2"],
            "targets": targets, "runs": rows, "cells": cells, "lines": lines,
            "verdict": verdict_of(cells, alpha, v["min_seeds"]),
            "value": {"median_mean_rho": value, "low": low, "high": high},
            "alpha": alpha, "min_seeds": v["min_seeds"], "eval_every": sp["eval_every"],
            "eval_samples": sp["eval_samples"], "block_size": sp["block_size"],
            "n_train": sp["n_train"], "steps": horizon, "points": sp["points"],
            "seeds": len(seeds), "bootstrap": sp["bootstrap"]}


def claim(summary: dict, st: dict) -> dict:
    """Ledger row ``speed`` (:mod:`ctadam.claims`) with the pre-registered verdict."""
    from ctadam.claims import row

    v = summary["value"]
    rhos = [c["mean_rho"] for c in summary["cells"] if math.isfinite(c["mean_rho"])]
    spread = f"{_f(min(rhos))} to {_f(max(rhos))}" if rhos else "--"
    return row("speed", CLAIM, summary["verdict"],
               (f"Spearman rho between C and steps to each of {len(summary['targets'])} "
                "pre-registered held-out loss targets, within each seed, along the "
                "gamma and beta lines; value = median over targets x lines of the mean "
                "over seeds; reproduced iff every target x line is negative with "
                f"Holm-adjusted one-sample t p < {summary['alpha']:g}, not reproduced "
                "iff one is significantly positive; interval: seed-blocked bootstrap of "
                f"the value; the cells' mean rho ranges from {spread}"),
               v["median_mean_rho"], [v["low"], v["high"]], summary["seeds"],
               "stability_training_summary")


def _f(x: float, fmt: str = ".2f") -> str:
    return f"{x:{fmt}}" if isinstance(x, (int, float)) and math.isfinite(x) else "--"


def _p(x: float) -> str:
    if not (isinstance(x, (int, float)) and math.isfinite(x)):
        return "--"
    return f"{x:.2g}" if x >= 1e-3 else "<0.001"


def macros(summary: dict, st: dict) -> dict[str, str]:
    """Prefix ``StabSpeed``: design, targets, the cells' counts, the verdict and its value."""
    cells, a = summary["cells"], summary["alpha"]
    sig = [c for c in cells if math.isfinite(c["p_holm"]) and c["p_holm"] < a]
    lines = summary["lines"]
    v = summary["value"]
    out = {"StabSpeedBetaOne": f"{summary['beta1']:g}",
           "StabSpeedBetaTwo": f"{summary['beta2']:g}",
           "StabSpeedPoints": str(summary["points"]), "StabSpeedSeeds": str(summary["seeds"]),
           "StabSpeedSteps": str(summary["steps"]),
           "StabSpeedEvalEvery": str(summary["eval_every"]),
           "StabSpeedEvalSamples": str(summary["eval_samples"]),
           "StabSpeedHeldOutChars": str(summary["eval_samples"] * summary["block_size"]),
           "StabSpeedNTrain": str(summary["n_train"]),
           "StabSpeedBlockSize": str(summary["block_size"]),
           "StabSpeedCMin": f"{lines['beta']['c'][0]:.3g}",
           "StabSpeedCMax": f"{lines['beta']['c'][-1]:.3g}",
           "StabSpeedGammaMin": f"{lines['gamma']['beta1'][0]:.4g}",
           "StabSpeedGammaMax": f"{lines['gamma']['beta1'][-1]:.4g}",
           "StabSpeedBetaMin": f"{lines['beta']['beta2'][0]:.4g}",
           "StabSpeedBetaMax": f"{lines['beta']['beta2'][-1]:.4g}",
           "StabSpeedTargets": ", ".join(f"{t:g}" for t in summary["targets"]),
           "StabSpeedTargetCount": str(len(summary["targets"])),
           "StabSpeedCells": str(len(cells)), "StabSpeedAlpha": f"{a:g}",
           "StabSpeedMinSeeds": str(summary["min_seeds"]),
           "StabSpeedHorizon": str(summary["steps"] + 1),
           "StabSpeedRuns": str(len(summary["runs"])),
           "StabSpeedCensored": str(sum(c["censored"] for c in cells)),
           "StabSpeedRunTargets": str(sum(c["runs"] for c in cells)),
           "StabSpeedNegCells": str(sum(c["mean_rho"] < 0 for c in sig)),
           "StabSpeedPosCells": str(sum(c["mean_rho"] > 0 for c in sig)),
           "StabSpeedMonotoneCells": str(sum(c["monotone"] for c in cells)),
           "StabSpeedVerdict": summary["verdict"],
           "StabSpeedValue": _f(v["median_mean_rho"]), "StabSpeedValueLow": _f(v["low"]),
           "StabSpeedValueHigh": _f(v["high"]),
           "StabSpeedBootstrap": str(summary["bootstrap"])}
    for line in SPEED_LINES:
        m = [c["mean_rho"] for c in cells if c["line"] == line and math.isfinite(c["mean_rho"])]
        name = line.capitalize()
        out[f"StabSpeed{name}RhoMin"] = _f(min(m)) if m else "--"
        out[f"StabSpeed{name}RhoMax"] = _f(max(m)) if m else "--"
        out[f"StabSpeed{name}SigNeg"] = str(sum(c["mean_rho"] < 0 for c in sig
                                                if c["line"] == line))
    mdes = [c["mde"] for c in cells if math.isfinite(c["mde"])]
    out["StabSpeedMdeMax"] = _f(max(mdes)) if mdes else "--"
    # The smallest two-sided sign-test p with every seed on one side: 2 / 2^seeds.
    out["StabSpeedSignMinP"] = f"{2.0 ** (1 - summary['seeds']):.2g}"
    # The abstract's names (paper/main.tex): the claim's value and its seed-blocked interval.
    out["StabSpeedRho"] = out["StabSpeedValue"]
    out["StabSpeedRhoLow"], out["StabSpeedRhoHigh"] = out["StabSpeedValueLow"], \
        out["StabSpeedValueHigh"]
    return out


def table(summary: dict) -> str:
    """Booktabs table: per target and line, censored runs, the within-seed mean rho with its
    seed-blocked interval, its MDE, the t-test p (raw and Holm), the sign test, the pooled
    rho and the falls/rises of the seed-mean steps between adjacent C values."""
    lines = ["\\begin{tabular}{llrrrrrrlr}", "\\toprule",
             "target & line & cens. & $\\bar r$ [95\\,\\%] & MDE & $p$ & $p_{\\mathrm{Holm}}$ & "
             "sign $p$ & pooled $\\rho$ [95\\,\\%] & falls/rises \\\\", "\\midrule"]
    for c in summary["cells"]:
        pooled_ = c["pooled"]
        lines.append(
            f"{c['target']:g} & {c['line']} & {c['censored']}/{c['runs']} & "
            f"{_f(c['mean_rho'])} [{_f(c['low'])}, {_f(c['high'])}] & {_f(c['mde'])} & "
            f"{_p(c['p'])} & {_p(c['p_holm'])} & {_p(c['sign_p'])} & "
            f"{_f(pooled_['rho'])} [{_f(pooled_['low'])}, {_f(pooled_['high'])}] & "
            f"{c['falls']}/{c['rises']} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
