r"""The ledger rows of the k-Adam study: the paper's "k = 2 beats Adam under three of four
strategies", judged on the small tasks (claim ``kadam``) and on CIFAR-10 (``kadam-cifar10``).

A *network* is one (task, norm) of the study. On a network the claim is judged from the four
k = 2 cells, one per upper-level strategy (:data:`.plan.STRATEGIES`), each compared with the
AdamW cell (k = 1) of the same network by a paired t-test over seeds
(:func:`ctadam.stats.paired_t`; the same seed gives the same initialisation and minibatches),
the four p-values Holm-corrected (:func:`ctadam.stats.holm`). The rule, fixed before any run:

* **undecidable at this scale** when a strategy's k = 2 cell was not run, when fewer than
  ``verdicts.min_seeds`` pairs stand behind a comparison, or when the comparison's minimum
  detectable effect (:func:`.tables.two_adam_mde`: median paired standard deviation
  :math:`s_d`, fewest pairs :math:`n`, 80 % power, level :math:`\alpha/4`, the strictest Holm
  step) exceeds the largest observed :math:`|\bar d|` of the four cells (the study could not
  have told an effect of the size it saw from none);
* otherwise **reproduced** when at least three of the four cells are better than AdamW with a
  Holm-adjusted p-value below ``verdicts.alpha`` (accuracy higher, or held-out loss lower), and
  **not reproduced** when fewer are.

A claim row covers several networks (``kadam``: MNIST-1D and Shakespeare, each with and without
LayerNorm; ``kadam-cifar10``: CIFAR-10 with and without LayerNorm) and reads the statement as
holding on every one of them: it is reproduced when every network reproduces it, not
reproduced as soon as one decidable network does not, and undecidable otherwise. A network
whose task is not in the profile's ``kadam_optimizer.verdict_tasks`` is never judged (its cells
check that the pipeline runs end to end, e.g. the quick profile's CIFAR-10 subset). A row comes
from the committed records of its standalone protocol (:data:`RECORDS`, :mod:`.standalone`:
CIFAR-10 on one GPU, the small tasks on the CPU) when they exist, else from the profile's cells.

The row's ``value`` is the mean over seeds of :math:`d_s = \frac14\sum_j a_{j,s} - a_{0,s}`,
2-Adam's test metric averaged over the strategies :math:`j` minus AdamW's, on the task's
network without normalization (MNIST-1D for ``kadam``: test-accuracy points; CIFAR-10 for
``kadam-cifar10``), with its paired Student-t 95 % ``interval``.
"""

import math
from pathlib import Path

from ctadam.experiments.kadam_optimizer import plan
from ctadam.experiments.kadam_optimizer.tables import NORM_LABEL, TASK_LABEL, two_adam_mde
from ctadam.stats import NOT_REPRODUCED, REPRODUCED, UNDECIDABLE

CLAIMS = ("kadam", "kadam-cifar10")
CLAIM_TEXT = "2-Adam beats Adam(W) under three of four upper-level strategies"
# Per claim: the tasks it is judged on; the first one's un-normalized network gives the value.
CLAIM_TASKS = {"kadam": ("mnist1d", "shakespeare"), "kadam-cifar10": ("cifar10",)}

# Per claim, where its standalone protocol's records go (one command each; committed to git).
RECORDS = {"kadam": "data/device/kadam_medium", "kadam-cifar10": "data/device/kadam_cifar10"}
PIPELINE_CHECK = "pipeline check, no verdict"


def network_verdict(summary: dict, task: str, norm: str, alpha: float, min_seeds: int,
                    power: dict) -> dict:
    """The claim on one network: ``{verdict, reason, better, pairs, mde, largest, holm_p}``."""
    from ctadam.stats import holm

    goal = summary["metric"][task][2]
    sign = 1.0 if goal == "max" else -1.0
    twos = {c["method"]: c for c in summary["cells"] if c["task"] == task
            and c["norm"] == norm and c["k"] == 2 and c["method"] in plan.STRATEGIES}
    out = {"task": task, "norm": norm, "better": 0, "pairs": 0, "mde": math.inf,
           "largest": math.nan, "holm_p": {}}
    adamw = [c for c in summary["cells"] if c["task"] == task and c["norm"] == norm
             and c["method"] == "adamw"]
    if twos:
        out["pairs"] = min(c["vs_adamw"]["n"] for c in twos.values())
    missing = [s for s in plan.STRATEGIES if s not in twos]
    if missing:
        return {**out, "verdict": UNDECIDABLE,
                "reason": f"k = 2 not run under {', '.join(missing)}"}
    cells = [twos[s] for s in plan.STRATEGIES]
    diffs = [c["vs_adamw"] for c in cells]
    out["pairs"] = min(d["n"] for d in diffs)
    out["mde"] = two_adam_mde(cells, len(plan.STRATEGIES), power)
    finite = [abs(d["mean"]) for d in diffs if math.isfinite(d["mean"])]
    out["largest"] = max(finite) if finite else math.nan
    adjusted = holm([d["p"] for d in diffs])
    out["holm_p"] = dict(zip(plan.STRATEGIES, adjusted, strict=True))
    out["better"] = sum(math.isfinite(p) and p < alpha and sign * d["mean"] > 0
                        for p, d in zip(adjusted, diffs, strict=True))
    if out["pairs"] < min_seeds:
        return {**out, "verdict": UNDECIDABLE,
                "reason": f"{out['pairs']} pairs < verdicts.min_seeds = {min_seeds}"}
    if not (math.isfinite(out["largest"]) and out["mde"] <= out["largest"]):
        return {**out, "verdict": UNDECIDABLE,
                "reason": f"MDE {out['mde']:.3g} > largest |difference| {out['largest']:.3g}"}
    verdict = REPRODUCED if out["better"] >= 3 else NOT_REPRODUCED
    edge = sum(bool(c.get("at_edge")) for c in cells + adamw)
    return {**out, "verdict": verdict, "edge_cells": edge,
            "reason": f"{out['better']} of 4 better (Holm p < {alpha:g})"
                      + (f"; {edge} of these cells chose an end of the grid" if edge else "")}


def combine(verdicts: list[str]) -> str:
    """One row's verdict over its networks: reproduced on all, not reproduced on one
    decidable network, else undecidable (an empty list is undecidable)."""
    if verdicts and all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    return UNDECIDABLE


def mean_strategy_difference(summary: dict, task: str, norm: str) -> dict | None:
    """``paired_t`` of the per-seed mean over the strategies' k = 2 cells against AdamW on
    (task, norm), or None when AdamW or every k = 2 cell is missing."""
    from ctadam.stats import paired_t

    cells = [c for c in summary["cells"] if c["task"] == task and c["norm"] == norm]
    adamw = next((c for c in cells if c["method"] == "adamw"), None)
    twos = [c for c in cells if c["k"] == 2 and c["method"] in plan.STRATEGIES]
    if adamw is None or not twos:
        return None
    mean = [sum(vals) / len(vals) for vals in zip(*(c["values"] for c in twos), strict=True)]
    return paired_t(mean, adamw["values"])


def _number(x):
    return float(x) if x is not None and math.isfinite(x) else None


def claim_row(claim_id: str, summary: dict | None, section: dict, rule: str) -> dict:
    """The ledger row of ``claim_id`` (:data:`CLAIMS`) from ``summary`` (None: not run)."""
    tasks = CLAIM_TASKS[claim_id]
    names = " and ".join(TASK_LABEL[t] for t in tasks)
    base = {"id": claim_id, "claim": f"{CLAIM_TEXT} ({names})", "rule": rule}
    allowed = set(section["verdict_tasks"])
    ran = set() if summary is None else {c["task"] for c in summary["cells"]}
    judged = [t for t in tasks if t in allowed and t in ran]
    if not judged:
        why = (f"{names}: {PIPELINE_CHECK} in this profile" if any(t in ran for t in tasks)
               else f"{names} not run in this profile")
        return {**base, "verdict": UNDECIDABLE, "measure": why, "value": None,
                "interval": None, "seeds": 0}
    v = section["verdicts"]
    nets = [network_verdict(summary, t, n, v["alpha"], v["min_seeds"], section["power"])
            for t in tasks if t in allowed for n in NORM_LABEL]
    nets = [n if n["task"] in ran else {**n, "verdict": UNDECIDABLE, "reason": "not run"}
            for n in nets]
    metric = summary["metric"][tasks[0]][0]
    unit = "test-accuracy points" if metric == "test_acc" else "held-out loss (nats)"
    diff = mean_strategy_difference(summary, tasks[0], "none") if tasks[0] in ran else None
    interval = None
    if diff and _number(diff["low"]) is not None:
        interval = [float(diff["low"]), float(diff["high"])]
    per_net = "; ".join(f"{TASK_LABEL[n['task']]}/{NORM_LABEL[n['norm']]}: {n['verdict']} "
                        f"({n['reason']})" for n in nets)
    used = sorted({c["method"] for c in summary["cells"] if c["task"] == tasks[0]
                   and c["norm"] == "none" and c["k"] == 2 and c["method"] in plan.STRATEGIES},
                  key=plan.STRATEGIES.index)
    over = ("the four strategies" if len(used) == len(plan.STRATEGIES)
            else "the strategies run (" + ", ".join(used) + ")")
    measure = (f"2-Adam minus AdamW, {unit}, {TASK_LABEL[tasks[0]]} without normalization, "
               f"mean over {over}, paired by seed. Networks: {per_net}")
    return {**base, "verdict": combine([n["verdict"] for n in nets]), "measure": measure,
            "value": _number(diff["mean"]) if diff else None, "interval": interval,
            "seeds": min((n["pairs"] for n in nets), default=0)}


def standalone_summary(section: dict, claim_id: str) -> dict | None:
    """The summary (``<records>/summary.json``) of ``claim_id``'s standalone protocol when it
    exists, else None; ``section["records"]`` (tests) replaces :data:`RECORDS`."""
    from ctadam.io import read_json

    path = Path(section.get("records", RECORDS)[claim_id]) / "summary.json"
    return read_json(path) if path.exists() else None


def claim_rows(summary: dict, section: dict) -> list[dict]:
    """Both rows, each from its standalone protocol's records when they exist (then the row's
    ``rule`` is ``kadam_optimizer_publish``, the rule that reads them, and its ``measure`` names
    the records and the command that made them)."""
    rows = []
    for claim_id in CLAIMS:
        own = standalone_summary(section, claim_id)
        if own is None:
            rows.append(claim_row(claim_id, summary, section, "kadam_optimizer_summary"))
            continue
        own_section = {"verdict_tasks": own["verdict_tasks"], "verdicts": own["verdicts"],
                       "power": own["power"]}
        row = claim_row(claim_id, own, own_section, "kadam_optimizer_publish")
        row["measure"] = (f"from the committed records {RECORDS[claim_id]} of `python -m "
                          f"ctadam.experiments.kadam_optimizer protocol --config "
                          f"config/{own['standalone_config']}`: " + row["measure"])
        rows.append(row)
    return rows


def abstract_sentence(rows: list[dict]) -> str:
    r"""The abstract's k-Adam sentence (macro ``\KadamAbstractSentence``) from the rows."""
    by_id = {r["id"]: r for r in rows}
    small, cifar = by_id["kadam"], by_id["kadam-cifar10"]

    def said(row):
        if row["verdict"] == UNDECIDABLE:
            return "is undecidable at this scale"
        return "is " + row["verdict"]

    text = (r"The original's claim that $k = 2$ beats Adam under three of four upper-level "
            rf"strategies {said(small)} on the small tasks (MNIST-1D and Shakespeare, with and "
            rf"without LayerNorm; {small['seeds']} paired seeds, Holm over the strategies)")
    if small["value"] is not None:
        lo_hi = (f", 95\\% interval [{small['interval'][0]:+.2f}, {small['interval'][1]:+.2f}]"
                 if small["interval"] else "")
        over = ("the four strategies" if "the four strategies" in small["measure"]
                else "the strategies run")
        text += (f"; on MNIST-1D without normalization 2-Adam differs from AdamW by "
                 f"${small['value']:+.2f}$ accuracy points on average over {over}{lo_hi}")
    text += f", and {said(cifar)} on CIFAR-10"
    if cifar["rule"] == "kadam_optimizer_summary":
        text += " (whose CPU-profile cells are a pipeline check only)"
    return text + "."
