r"""The paper's Sec. 3.3: inside the region, does a larger C reach a held-out loss sooner?

Every run (Shakespeare, inside both regions, C evenly spaced over the profile's range, every
seed) evaluates the held-out loss every ``eval_every`` steps. The target is the largest of
the runs' best held-out losses, so every run reaches it (a rule fixed before any run: it
depends on no C). Steps to target: the first evaluation step whose held-out loss is at or
below the target. Numbers: Spearman's rank correlation between C and the steps over all runs
(seeds pooled) with a percentile bootstrap interval (runs resampled with replacement), and
whether the seed-mean steps fall monotonically as C grows (``monotone``: no adjacent pair of
C values where the mean rises; the counts of rises and falls are kept).
"""

import math

import numpy as np
from scipy.stats import spearmanr

from ctadam.experiments.stability_training.measure import strip_eval


def steps_to(ev: dict, target: float) -> int | None:
    """First evaluation step with held-out loss <= ``target`` (None if none)."""
    for step, loss in zip(ev["step"], ev["test_loss"], strict=True):
        if loss <= target:
            return int(step)
    return None


def bootstrap_spearman(x, y, n_boot: int, seed: int, level: float = 0.95) -> tuple:
    """Spearman's rho of (x, y) and its percentile bootstrap interval at ``level``.

    NaN when x or y is constant; resamples in which one is (rank correlation undefined) are
    skipped.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if not (np.ptp(x) > 0 and np.ptp(y) > 0):
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, x.size, x.size)
        if np.ptp(x[idx]) > 0 and np.ptp(y[idx]) > 0:
            boots.append(spearmanr(x[idx], y[idx]).statistic)
    rho = float(spearmanr(x, y).statistic)
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return rho, float(lo), float(hi)


def summarize(runs: list[dict], st: dict) -> dict:
    """Target, per-run steps, per-C mean and std, the rank correlation and monotonicity."""
    sp = st["speed"]
    empty = [r["id"] for r in runs if not r["eval"]["test_loss"]]
    if empty:
        raise ValueError(f"speed runs without held-out evaluations (diverged?): {empty}")
    best = {r["id"]: min(r["eval"]["test_loss"]) for r in runs}
    target = max(best.values())
    rows = []
    for r in runs:
        rows.append({**strip_eval([r])[0], "steps_to_target": steps_to(r["eval"], target),
                     "best_test_loss": best[r["id"]]})
    cs = sorted({round(r["c"], 12) for r in rows})
    per_c = []
    for c in cs:
        s = [r["steps_to_target"] for r in rows if round(r["c"], 12) == c]
        per_c.append({"c": c, "mean": float(np.mean(s)), "std": float(np.std(s, ddof=1))
                      if len(s) > 1 else math.nan, "n": len(s)})
    pairs = list(zip(per_c, per_c[1:], strict=False))
    rises = sum(b["mean"] > a["mean"] for a, b in pairs)
    falls = sum(b["mean"] < a["mean"] for a, b in pairs)
    x = [r["c"] for r in rows]
    rho, lo, hi = bootstrap_spearman(x, [r["steps_to_target"] for r in rows],
                                     sp["bootstrap"], sp["bootstrap_seed"])
    rho_loss, lo_loss, hi_loss = bootstrap_spearman(x, [r["best_test_loss"] for r in rows],
                                                    sp["bootstrap"], sp["bootstrap_seed"])
    return {"experiment": "speed", "beta1": sp["beta1"], "target": target, "runs": rows,
            "per_c": per_c, "spearman": {"rho": rho, "low": lo, "high": hi},
            "spearman_best_loss": {"rho": rho_loss, "low": lo_loss, "high": hi_loss},
            "rises": rises, "falls": falls, "pairs": len(pairs), "monotone": rises == 0,
            "eval_every": sp["eval_every"],
            "steps": sp["steps"], "seeds": len(sp["seeds"])}


def macros(summary: dict, st: dict) -> dict[str, str]:
    """Prefix ``StabSpeed``: target, correlations with intervals, monotonicity, settings."""
    s, b = summary["spearman"], summary["spearman_best_loss"]
    return {"StabSpeedBetaOne": f"{summary['beta1']:g}",
            "StabSpeedTarget": f"{summary['target']:.3f}",
            "StabSpeedPoints": str(len(summary["per_c"])),
            "StabSpeedSeeds": str(summary["seeds"]), "StabSpeedSteps": str(summary["steps"]),
            "StabSpeedEvalEvery": str(summary["eval_every"]),
            "StabSpeedCMin": f"{summary['per_c'][0]['c']:.3g}",
            "StabSpeedCMax": f"{summary['per_c'][-1]['c']:.3g}",
            "StabSpeedRho": f"{s['rho']:.2f}", "StabSpeedRhoLow": f"{s['low']:.2f}",
            "StabSpeedRhoHigh": f"{s['high']:.2f}",
            "StabSpeedLossRho": f"{b['rho']:.2f}", "StabSpeedLossRhoLow": f"{b['low']:.2f}",
            "StabSpeedLossRhoHigh": f"{b['high']:.2f}",
            "StabSpeedRises": str(summary["rises"]), "StabSpeedFalls": str(summary["falls"]),
            "StabSpeedPairs": str(summary["pairs"]),
            "StabSpeedMonotone": "yes" if summary["monotone"] else "no",
            "StabSpeedBootstrap": str(st["speed"]["bootstrap"])}


def table(summary: dict) -> str:
    """Booktabs table: per C, beta and the steps to the target (mean +- std over seeds)."""
    lines = ["\\begin{tabular}{rrr}", "\\toprule",
             "$C$ & $\\beta$ & steps to target (mean $\\pm$ std) \\\\", "\\midrule"]
    for row in summary["per_c"]:
        beta2 = next(r["beta2"] for r in summary["runs"] if round(r["c"], 12) == row["c"])
        lines.append(f"{row['c']:.3g} & {beta2:.4f} & {row['mean']:.0f} $\\pm$ "
                     f"{row['std']:.0f} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
