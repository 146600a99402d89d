r"""Does gradient noise or weight decay move the measured boundary? (MNIST-1D)

Conditions (:func:`ctadam.experiments.stability_training.configs.noise_conditions`): full batch and
minibatches at no weight decay, and AdamW weight decays at full batch, each on the same band
fractions at one gamma and the same seeds. Per condition: the growing seeds per fraction and
the measured boundary interval in f
(:func:`~ctadam.experiments.stability_training.measure.boundary_interval`), next to the
exact (f = 0) and paper (f = 1) boundaries; the boundary again for each factor of
``measure.sensitivity`` in place of ``measure.growth_factor`` (relabelled from the records).
"""

from ctadam.experiments.measures import is_growing
from ctadam.experiments.stability_training.configs import noise_conditions
from ctadam.experiments.stability_training.measure import (
    boundary_interval,
    fmt_interval,
    strip_eval,
)


def summarize(runs: list[dict], st: dict) -> dict:
    """Per condition (in the profile's order): the boundary interval and its votes."""
    n = st["noise"]
    conds = []
    for c in noise_conditions(n):
        cells = [r for r in runs if r["id"].startswith(c["name"] + "_")]
        by_factor = {}
        for factor in st["measure"]["sensitivity"]:
            relabelled = [{**r, "growing": is_growing(r["status"] != "ok", r["log_growth"],
                                                      factor)} for r in cells]
            by_factor[f"{factor:g}"] = boundary_interval(relabelled)
        conds.append({**c, "boundary": boundary_interval(cells), "boundary_by_factor": by_factor,
                      "diverged": sum(r["status"] != "ok" for r in cells)})
    return {"experiment": "noise", "beta1": n["beta1"], "steps": n["steps"],
            "growth_factor": st["measure"]["growth_factor"],
            "seeds": len(n["seeds"]), "conditions": conds, "runs": strip_eval(runs)}


def _label(c: dict) -> str:
    if c["weight_decay"]:
        return f"AdamW $\\lambda={c['weight_decay']:g}$"
    return "full batch" if c["batch_size"] is None else f"batch {c['batch_size']}"


def macros(summary: dict, st: dict) -> dict[str, str]:
    """Prefix ``StabNoise``: settings and each condition's boundary interval."""
    out = {"StabNoiseBetaOne": f"{summary['beta1']:g}", "StabNoiseSteps": str(summary["steps"]),
           "StabNoiseSeeds": str(summary["seeds"])}
    letters = "ABCDEFGH"
    for letter, c in zip(letters, summary["conditions"], strict=False):
        out[f"StabNoiseCond{letter}"] = _label(c)
        out[f"StabNoiseBoundary{letter}"] = fmt_interval(c["boundary"])
    out["StabNoiseMoved"] = str(moved(summary["conditions"], lambda c: c["boundary"]))
    factors = list(summary["conditions"][0]["boundary_by_factor"])
    out["StabNoiseSensFactors"] = ", ".join(factors)
    out["StabNoiseSensMoved"] = ", ".join(
        str(moved(summary["conditions"], lambda c, f=f: c["boundary_by_factor"][f]))
        for f in factors)
    out["StabNoiseOthers"] = str(len(summary["conditions"]) - 1)
    return out


def moved(conditions: list[dict], boundary) -> int:
    """How many conditions after the first (full batch) have another boundary interval."""
    def key(c):
        b = boundary(c)
        return b["low"], b["high"]

    return sum(key(c) != key(conditions[0]) for c in conditions[1:])


def table(summary: dict) -> str:
    """Booktabs table: per condition, growing seeds per band fraction and the boundary.

    The boundary columns are for the profile's growth factor, then each sensitivity factor.
    """
    first = summary["conditions"][0]
    fracs = [v[0] for v in first["boundary"]["votes"]]
    factors = [f"{summary['growth_factor']:g}", *first["boundary_by_factor"]]
    lines = ["\\begin{tabular}{l" + "r" * len(fracs) + "l" * len(factors) + "}", "\\toprule",
             f"condition & \\multicolumn{{{len(fracs)}}}{{c}}{{growing seeds at band fraction "
             f"$f$}} & \\multicolumn{{{len(factors)}}}{{c}}{{boundary, growth factor}} \\\\",
             " & " + " & ".join(f"${f:g}$" for f in fracs) + " & " + " & ".join(factors)
             + " \\\\", "\\midrule"]
    for c in summary["conditions"]:
        votes = " & ".join(f"{g}/{n}" for _, g, n in c["boundary"]["votes"])
        bounds = [c["boundary"], *c["boundary_by_factor"].values()]
        lines.append(f"{_label(c)} & {votes} & " + " & ".join(fmt_interval(b) for b in bounds)
                     + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
