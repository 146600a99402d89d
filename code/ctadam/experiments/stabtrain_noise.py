r"""Does gradient noise or weight decay move the measured boundary? (MNIST-1D)

Conditions (:func:`ctadam.experiments.stabtrain.noise_conditions`): full batch and
minibatches at no weight decay, and AdamW weight decays at full batch, each on the same band
fractions at one gamma and the same seeds. Per condition: the growing seeds per fraction and
the measured boundary interval in f
(:func:`~ctadam.experiments.stabtrain_measure.boundary_interval`), next to the exact (f = 0)
and paper (f = 1) boundaries.
"""

from ctadam.experiments.stabtrain import noise_conditions
from ctadam.experiments.stabtrain_measure import boundary_interval, fmt_interval, strip_eval


def summarize(runs: list[dict], st: dict) -> dict:
    """Per condition (in the profile's order): the boundary interval and its votes."""
    n = st["noise"]
    conds = []
    for c in noise_conditions(n):
        cells = [r for r in runs if r["id"].startswith(c["name"] + "_")]
        conds.append({**c, "boundary": boundary_interval(cells),
                      "diverged": sum(r["status"] != "ok" for r in cells)})
    return {"experiment": "noise", "beta1": n["beta1"], "steps": n["steps"],
            "seeds": len(n["seeds"]), "conditions": conds, "runs": strip_eval(runs)}


def _label(c: dict) -> str:
    if c["weight_decay"]:
        return f"AdamW $\\lambda={c['weight_decay']:g}$, full batch"
    return "full batch" if c["batch_size"] is None else f"batch {c['batch_size']}"


def macros(summary: dict, st: dict) -> dict[str, str]:
    """Prefix ``StabNoise``: settings and each condition's boundary interval."""
    out = {"StabNoiseBetaOne": f"{summary['beta1']:g}", "StabNoiseSteps": str(summary["steps"]),
           "StabNoiseSeeds": str(summary["seeds"])}
    letters = "ABCDEFGH"
    for letter, c in zip(letters, summary["conditions"], strict=False):
        out[f"StabNoiseCond{letter}"] = _label(c)
        out[f"StabNoiseBoundary{letter}"] = fmt_interval(c["boundary"])
    moved = [c for c in summary["conditions"][1:]
             if (c["boundary"]["low"], c["boundary"]["high"])
             != (summary["conditions"][0]["boundary"]["low"],
                 summary["conditions"][0]["boundary"]["high"])]
    out["StabNoiseMoved"] = str(len(moved))
    out["StabNoiseOthers"] = str(len(summary["conditions"]) - 1)
    return out


def table(summary: dict) -> str:
    """Booktabs table: per condition, growing seeds per band fraction and the boundary."""
    fracs = [v[0] for v in summary["conditions"][0]["boundary"]["votes"]]
    head = " & ".join(f"${f:g}$" for f in fracs)
    lines = ["\\begin{tabular}{l" + "r" * len(fracs) + "l}", "\\toprule",
             f"condition & \\multicolumn{{{len(fracs)}}}{{c}}{{growing seeds at band fraction "
             f"$f$}} & boundary \\\\", f" & {head} & \\\\", "\\midrule"]
    for c in summary["conditions"]:
        votes = " & ".join(f"{g}/{n}" for _, g, n in c["boundary"]["votes"])
        lines.append(f"{_label(c)} & {votes} & {fmt_interval(c['boundary'])} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"
