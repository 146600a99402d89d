r"""Tables and number macros of the k-Adam study, from its summary alone (rule
``kadam_optimizer_publish``).

Three booktabs tables (:data:`TABLES`): ``kadam_optimizer_k_table`` (the k sweep of the
section's ``figure_task``: mean +- std over seeds per norm x strategy x k of the k-Adam step
\cref{eq:kadam-step}, and the paired difference of k = 2 from AdamW with its 95% interval),
``kadam_optimizer_direct_table`` (the direct test of \cref{eq:meta-adaptive} on every task) and
``kadam_optimizer_baselines_table`` (AdamW, Lion and the k-Adam cell with the best validation
score). Differences between runs of the same network are paired by seed
(:func:`ctadam.stats.paired_t`); between an un-normalized and a normalized network they are Welch
intervals (:func:`ctadam.stats.welch_t`).
"""

import math
import statistics

from ctadam.stats import welch_t

TABLES = ("kadam_optimizer_k_table", "kadam_optimizer_direct_table",
          "kadam_optimizer_baselines_table", "kadam_optimizer_power_table")
TASK_LABEL = {"cifar10": "CIFAR-10", "mnist1d": "MNIST-1D", "shakespeare": "Shakespeare"}
TASK_WORD = {"cifar10": "CifarTen", "mnist1d": "MnistOneD", "shakespeare": "Shakespeare"}
UNIT = {"cifar10": "test acc.\\ (\\%)", "mnist1d": "test acc.\\ (\\%)",
        "shakespeare": "val.\\ loss (nats/char)"}
DIGITS = {"cifar10": 1, "mnist1d": 1, "shakespeare": 3}
NORM_LABEL = {"none": "no norm", "layer": "LayerNorm"}
STRATEGY_LABEL = {"same": "(i) same", "nomom": "(ii) no momentum",
                  "theory": "(iii) theory (pooled)", "lastmom": "(iv) momentum last",
                  "adamw": "AdamW", "lion": "Lion"}
WORD = {"same": "Same", "nomom": "Nomom", "theory": "Theory", "lastmom": "Lastmom",
        "adamw": "Adamw", "lion": "Lion", "none": "None", "layer": "Layer"}
NUMBER = ["Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten",
          "Eleven", "Twelve", "Thirteen", "Fourteen", "Fifteen", "Sixteen"]


def task_label(summary: dict, task: str) -> str:
    """The task's name in a table, marked ``(pipeline check)`` when the summary's
    ``verdict_tasks`` leave it out (no verdict is drawn from its cells)."""
    check = task not in summary.get("verdict_tasks", [task])
    return TASK_LABEL[task] + (" (pipeline check)" if check else "")


def fmt_ms(cell, digits: int) -> str:
    """``mean \\pm std`` (math mode, no dollars), ``--`` when nothing finite."""
    if cell is None or not math.isfinite(cell["mean"]):
        return "--"
    return f"{cell['mean']:.{digits}f} \\pm {cell['std']:.{digits}f}"


def fmt_diff(d: dict, digits: int) -> str:
    """``+1.2\\ [-0.3, 2.7]`` (math mode), the interval left out when undefined."""
    if not math.isfinite(d["mean"]):
        return "--"
    text = f"{d['mean']:+.{digits}f}"
    if math.isfinite(d["low"]):
        text += f"\\ [{d['low']:+.{digits}f}, {d['high']:+.{digits}f}]"
    return text


def better(d: dict, goal: str) -> tuple[bool, bool]:
    """(mean better than the reference, interval entirely on the better side)."""
    sign = 1.0 if goal == "max" else -1.0
    mean_better = math.isfinite(d["mean"]) and sign * d["mean"] > 0
    sure = math.isfinite(d["low"]) and (d["low"] > 0 if goal == "max" else d["high"] < 0)
    return mean_better, sure


def claim_verdict(verdicts: list[tuple[bool, bool]], resolved: list[bool]) -> str:
    """How the paper's "k = 2 beats Adam under three of four strategies" fares here.

    ``verdicts`` are :func:`better` of each strategy's k = 2 cell against AdamW and
    ``resolved`` says, per cell, whether its observed difference exceeds the comparison's
    minimum detectable effect (:func:`two_adam_mde`). The claim holds when at least three
    cells are better beyond their 95% interval and resolved; it does not hold when so many
    cells are resolved as not better that three better ones are impossible; otherwise it is
    undecidable at this scale, whatever the means say.
    """
    sure_better = sum(v[1] and r for v, r in zip(verdicts, resolved, strict=True))
    not_better = sum((not v[0]) and r for v, r in zip(verdicts, resolved, strict=True))
    if sure_better >= 3:
        return "holds"
    if len(verdicts) - not_better < 3:
        return "does not hold"
    return "is undecidable at this scale"


def direct_verdict(r: dict, goal: str) -> str:
    """Does un-normalized 2-Adam (iii) recover what LayerNorm gives AdamW (a phrase)?

    Nothing to recover unless LayerNorm improves AdamW beyond its interval; then it
    recovers it when 2-Adam is not worse than AdamW + LayerNorm beyond its interval, part of
    it when it still beats plain AdamW beyond its interval, and else not.
    """
    if not better(r["norm_gain"], goal)[1]:
        return "nothing to recover: LayerNorm does not improve AdamW beyond the interval"
    flipped = {"mean": -r["vs_normed"]["mean"], "low": -r["vs_normed"]["high"],
               "high": -r["vs_normed"]["low"]}
    gain = " what LayerNorm gives AdamW"
    if not better(flipped, goal)[1]:
        return "2-Adam (iii) recovers" + gain
    if better(r["vs_plain"], goal)[1]:
        return "2-Adam (iii) recovers part of" + gain
    return "2-Adam (iii) does not recover" + gain


def _index(summary: dict) -> dict:
    return {(c["task"], c["norm"], c["method"], c["k"]): c for c in summary["cells"]}


def _tabular(header: list[str], rows: list[list[str]], align: str) -> str:
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(header) + r" \\",
             r"\midrule"]
    lines += [" & ".join(r) + r" \\" for r in rows]
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}", ""])


def k_table(summary: dict, task: str) -> str:
    """Norm x strategy rows, one column per k (k = 1: AdamW), then k = 2 minus AdamW."""
    idx, d = _index(summary), DIGITS[task]
    cells = [c for c in summary["cells"] if c["task"] == task]
    ks = sorted({c["k"] for c in cells if c["method"] in summary["strategies"]})
    norms = [n for n in NORM_LABEL if any(c["norm"] == n for c in cells)]
    strategies = [s for s in summary["strategies"] if any(c["method"] == s for c in cells)]
    rows = []
    for norm in norms:
        for s in strategies:
            row = [NORM_LABEL[norm], STRATEGY_LABEL[s],
                   f"${fmt_ms(idx.get((task, norm, 'adamw', 1)), d)}$"]
            row += [f"${fmt_ms(idx.get((task, norm, s, k)), d)}$" for k in ks]
            two = idx.get((task, norm, s, 2))
            row.append(f"${fmt_diff(two['vs_adamw'], d)}$" if two else "--")
            rows.append(row)
    header = ["network", "strategy", "$k=1$ (AdamW)", *[f"$k={k}$" for k in ks],
              "$k=2$ $-$ AdamW [95\\% CI]"]
    return _tabular(header, rows, "ll" + "c" * (len(ks) + 2))


def direct(summary: dict) -> dict:
    """Per task: the three cells of the direct test and the two differences (or None)."""
    idx, out = _index(summary), {}
    for task in summary["tasks"]:
        kadam = idx.get((task, "none", "theory", 2))
        plain = idx.get((task, "none", "adamw", 1))
        normed = idx.get((task, "layer", "adamw", 1))
        if kadam and plain and normed:
            out[task] = {"kadam": kadam, "plain": plain, "normed": normed,
                         "vs_plain": kadam["vs_adamw"],
                         "vs_normed": welch_t(kadam["values"], normed["values"]),
                         "norm_gain": welch_t(normed["values"], plain["values"])}
    return out


def direct_table(summary: dict) -> str:
    """Columns = tasks; rows = the three configurations, then the differences."""
    res = direct(summary)
    tasks = list(res)
    rows = [["2-Adam (iii), no norm"], ["AdamW, LayerNorm"], ["AdamW, no norm"],
            ["2-Adam (iii) $-$ AdamW, no norm (paired)"],
            ["2-Adam (iii) $-$ AdamW + LayerNorm (Welch)"],
            ["AdamW + LayerNorm $-$ AdamW, no norm (Welch)"]]
    for t in tasks:
        r, d = res[t], DIGITS[t]
        for row, key in zip(rows[:3], ("kadam", "normed", "plain"), strict=True):
            row.append(f"${fmt_ms(r[key], d)}$")
        for row, key in zip(rows[3:], ("vs_plain", "vs_normed", "norm_gain"), strict=True):
            row.append(f"${fmt_diff(r[key], d)}$")
    header = ["", *[f"{task_label(summary, t)} {UNIT[t]}" for t in tasks]]
    return _tabular(header, rows, "l" + "c" * len(tasks))


def best_kadam(summary: dict, task: str, norm: str):
    """The k-Adam cell (k >= 2) of (task, norm) with the best validation score, or None."""
    goal = summary["metric"][task][2]
    cands = [c for c in summary["cells"] if c["task"] == task and c["norm"] == norm
             and c["method"] in summary["strategies"] and math.isfinite(c["val_score"])]
    if not cands:
        return None
    return (max if goal == "max" else min)(cands, key=lambda c: c["val_score"])


def baselines_table(summary: dict) -> str:
    """Rows AdamW, Lion, best k-Adam (by validation); columns task x norm."""
    idx = _index(summary)
    cols = [(t, n) for t in summary["tasks"] for n in NORM_LABEL
            if (t, n, "adamw", 1) in idx]
    rows = [["AdamW"], ["Lion"], ["Lion $-$ AdamW (paired)"], ["best k-Adam (validation)"],
            ["best k-Adam $-$ AdamW (paired)"]]
    for t, n in cols:
        d = DIGITS[t]
        rows[0].append(f"${fmt_ms(idx[(t, n, 'adamw', 1)], d)}$")
        lion = idx.get((t, n, "lion", 1))
        rows[1].append(f"${fmt_ms(lion, d)}$" if lion else "--")
        rows[2].append(f"${fmt_diff(lion['vs_adamw'], d)}$" if lion else "--")
        best = best_kadam(summary, t, n)
        rows[3].append(f"{best['k']}-Adam {STRATEGY_LABEL[best['method']]}: "
                       f"${fmt_ms(best, d)}$" if best else "--")
        rows[4].append(f"${fmt_diff(best['vs_adamw'], d)}$" if best else "--")
    header = ["", *[f"{task_label(summary, t)}, {NORM_LABEL[n]}" for t, n in cols]]
    return _tabular(header, rows, "l" + "c" * len(cols))


def placeholders() -> dict[str, str]:
    """What a profile that does not run a cell prints in its place, so the paper builds."""
    out = {}
    for t in TASK_WORD.values():
        for n in ("None", "Layer"):
            for m in ("Same", "Nomom", "Theory", "Lastmom", "Adamw", "Lion"):
                for k in ("One", "Two"):
                    out[f"Kadam{t}{n}{m}{k}"] = out[f"Kadam{t}{n}{m}{k}Diff"] = "\\text{n/a}"
        for key in ("VsPlain", "VsNormed", "NormGain"):
            out[f"KadamDirect{t}{key}"] = "\\text{n/a}"
        out[f"KadamDirect{t}Verdict"] = "not run in this profile"
    for n in ("None", "Layer"):
        for key in ("TwoBeats", "TwoSure", "TwoOf", "TwoMde"):
            out[f"Kadam{key}{n}"] = "--"
        out[f"KadamPaperClaim{n}"] = "cannot be judged (not run in this profile)"
        out[f"KadamBest{n}"] = "not run in this profile"
    return out


def two_adam_mde(twos: list[dict], strategies: int, power: dict) -> float:
    """The minimum detectable effect of the k = 2 cells' paired comparisons with AdamW: their
    median paired standard deviation, their fewest pairs, Holm over the ``strategies``."""
    from ctadam.stats import mde_paired

    sds = [c["vs_adamw"]["sd"] for c in twos if math.isfinite(c["vs_adamw"].get("sd", math.nan))]
    n = min(c["vs_adamw"]["n"] for c in twos)
    if not sds or n < 2 or statistics.median(sds) == 0:
        return math.inf
    return mde_paired(statistics.median(sds), n, power["alpha"], power["power"],
                      max(1, strategies))


def macros(summary: dict, task: str, power: dict) -> dict[str, str]:
    """Every cell's result and difference from AdamW, the k = 2 tallies, the settings."""
    out = {"KadamSeeds": str(len(summary["seeds"])),
           "KadamWeightDecay": f"{summary['weight_decay']:g}",
           "KadamLossFactor": f"{summary['diverge_loss_factor']:g}",
           "KadamLionScale": f"{summary['lion']['lr_scale']:g}",
           "KadamBetaOne": f"{summary['betas'][0]:g}", "KadamBetaTwo": f"{summary['betas'][1]:g}",
           "KadamFigureTask": TASK_LABEL[task]}
    spec = summary["tasks"][task]
    out["KadamSteps"] = str(spec["steps"])
    out["KadamBatch"] = str(spec["batch_size"])
    out["KadamTrain"] = "all" if spec["n_train"] is None else f"{spec['n_train']:,}".replace(
        ",", "{,}")
    out["KadamLrs"] = ", ".join(f"{x:g}" for x in spec["lrs"])
    out.update(placeholders())
    out["KadamCells"] = str(len(summary["cells"]))
    out["KadamEdgeCells"] = str(sum(c["at_edge"] for c in summary["cells"]))
    diverged = [c for c in summary["cells"] if c["divergences"]]
    out["KadamDivergedRuns"] = str(sum(len(c["divergences"]) for c in diverged))
    out["KadamDivergedCells"] = ", ".join(sorted(c["name"].replace("_", "\\_")
                                                 for c in diverged)) or "none"
    for c in summary["cells"]:
        base = f"Kadam{TASK_WORD[c['task']]}{WORD[c['norm']]}{WORD[c['method']]}{NUMBER[c['k']]}"
        d = DIGITS[c["task"]]
        out[base] = fmt_ms(c, d)
        out[base + "Lr"] = f"{c['lr']:g}"
        out[base + "Diff"] = fmt_diff(c["vs_adamw"], d)
    goal = summary["metric"][task][2]
    for norm in NORM_LABEL:
        twos = [c for c in summary["cells"] if c["task"] == task and c["norm"] == norm
                and c["k"] == 2 and c["method"] in summary["strategies"]]
        if not twos:
            continue
        verdicts = [better(c["vs_adamw"], goal) for c in twos]
        out[f"KadamTwoBeats{WORD[norm]}"] = str(sum(v[0] for v in verdicts))
        out[f"KadamTwoSure{WORD[norm]}"] = str(sum(v[1] for v in verdicts))
        out[f"KadamTwoOf{WORD[norm]}"] = str(len(twos))
        mde = two_adam_mde(twos, len(summary["strategies"]), power)
        out[f"KadamTwoMde{WORD[norm]}"] = f"{mde:.{DIGITS[task]}f}"
        resolved = [abs(c["vs_adamw"]["mean"]) > mde for c in twos]
        out[f"KadamPaperClaim{WORD[norm]}"] = claim_verdict(verdicts, resolved)
        best = best_kadam(summary, task, norm)
        if best:
            out[f"KadamBest{WORD[norm]}"] = (f"{best['k']}-Adam, strategy "
                                             f"{STRATEGY_LABEL[best['method']]}")
    for t, r in direct(summary).items():
        dg = DIGITS[t]
        out[f"KadamDirect{TASK_WORD[t]}VsPlain"] = fmt_diff(r["vs_plain"], dg)
        out[f"KadamDirect{TASK_WORD[t]}VsNormed"] = fmt_diff(r["vs_normed"], dg)
        out[f"KadamDirect{TASK_WORD[t]}NormGain"] = fmt_diff(r["norm_gain"], dg)
        out[f"KadamDirect{TASK_WORD[t]}Verdict"] = direct_verdict(r, summary["metric"][t][2])
    return out


def power_rows(summary: dict, power: dict) -> list[dict]:
    r"""The power analysis of the comparisons against AdamW, per task and norm.

    From every cell's paired (same seed) differences to AdamW: the median paired standard
    deviation :math:`s_d`, the largest observed :math:`|\bar d|`, the minimum detectable
    effect (:func:`ctadam.stats.mde_paired`) with this profile's ``n`` pairs at level
    ``power["alpha"]`` and ``power["power"]``, Holm-corrected over the strategies (its
    strictest step, :math:`\alpha/m`), the same with 16 pairs, and the pairs needed to detect
    ``power["effect"][metric]`` (1 point of accuracy, or a loss difference in nats). A row is
    undecidable at this scale when the MDE exceeds the largest observed difference;
    ``resolved`` counts the cells whose observed difference exceeds the MDE (only those
    comparisons could have been told from no effect).
    """
    from ctadam.stats import mde_paired, pairs_needed

    tests = max(1, len(summary["strategies"]))
    rows = []
    for task in summary["metric"]:
        metric = summary["metric"][task][0]
        for norm in NORM_LABEL:
            cells = [c for c in summary["cells"] if c["task"] == task and c["norm"] == norm
                     and c["method"] != "adamw" and c.get("vs_adamw", {}).get("sd")]
            sds = [c["vs_adamw"]["sd"] for c in cells if math.isfinite(c["vs_adamw"]["sd"])]
            if not sds:
                continue
            sd, n = statistics.median(sds), min(c["vs_adamw"]["n"] for c in cells)
            largest = max(abs(c["vs_adamw"]["mean"]) for c in cells)
            effect = power["effect"][metric]
            mde = mde_paired(sd, n, power["alpha"], power["power"], tests) if n >= 2 else math.inf
            rows.append({"task": task, "label": task_label(summary, task), "norm": norm,
                         "metric": metric, "cells": len(cells),
                         "pairs": n, "sd": sd, "largest_difference": largest, "mde": mde,
                         "mde_16": mde_paired(sd, 16, power["alpha"], power["power"], tests),
                         "effect": effect,
                         "pairs_for_effect": pairs_needed(effect, sd, power["alpha"],
                                                          power["power"], tests),
                         "decidable": mde <= largest,
                         "resolved": sum(abs(c["vs_adamw"]["mean"]) > mde for c in cells)})
    return rows


def power_table(rows: list[dict]) -> str:
    """The power analysis (:func:`power_rows`) as a LaTeX tabular."""
    body = []
    for r in rows:
        d = DIGITS[r["task"]]
        body.append([r.get("label", TASK_LABEL[r["task"]]), NORM_LABEL[r["norm"]], str(r["cells"]),
                     str(r["pairs"]), f"{r['sd']:.{d}f}", f"{r['largest_difference']:.{d}f}",
                     f"{r['mde']:.{d}f}", f"{r['mde_16']:.{d}f}",
                     f"{r['pairs_for_effect']} (${r['effect']:g}$)",
                     f"{r['resolved']} of {r['cells']} cells" if r["decidable"]
                     else "undecidable"])
    header = ["task", "network", "cells", "pairs", "$s_d$", r"max $|\bar d|$", "MDE",
              "MDE (16 pairs)", "pairs for effect", "resolved"]
    return _tabular(header, body, "llrrrrrrrl")


def pipeline_note(section: dict, task: str) -> str:
    """What follows a task's name in a caption or title: ``" (pipeline check, no verdict)"``
    when ``task`` is not in ``section["verdict_tasks"]`` (its cells only show that the
    pipeline runs end to end), else nothing."""
    from ctadam.experiments.kadam_optimizer.verdict import PIPELINE_CHECK

    return "" if task in section["verdict_tasks"] else f" ({PIPELINE_CHECK})"


def records_source(section: dict, claim_id: str, rule: str) -> tuple[str, str]:
    """Where a k-Adam row comes from, in words, and the measured wall time of its standalone
    protocol (its ``plan.json``), or "not run" when the row comes from this profile's cells."""
    import json
    from pathlib import Path

    from ctadam.experiments.kadam_optimizer.verdict import RECORDS

    if rule == "kadam_optimizer_summary":
        return "this profile's cells", "not run"
    folder = Path(section.get("records", RECORDS)[claim_id])
    plan = folder / "plan.json"
    wall = (f"{json.loads(plan.read_text())['wall_s'] / 60:.1f} min" if plan.exists()
            else "not recorded")
    return "the committed records in \\texttt{" + str(folder).replace("_", "\\_") + "}", wall


def publish(summary: dict, section: dict) -> dict:
    """The ``\\Kadam...`` macros, the tables and the ledger rows (:mod:`.verdict`); the k
    sweep is of ``section["figure_task"]``. A figure task outside
    ``section["verdict_tasks"]`` is labelled a pipeline check and its k = 2 tally is not read
    as a verdict on the paper's claim."""
    from ctadam.experiments.kadam_optimizer.verdict import abstract_sentence, claim_rows

    task = section["figure_task"]
    out = macros(summary, task, section["power"])
    note = pipeline_note(section, task)
    out["KadamFigureTaskNote"] = note
    if note:
        for norm in ("None", "Layer"):
            out[f"KadamPaperClaim{norm}"] = ("is not judged (these cells are a pipeline "
                                             "check, no verdict)")
    rows = claim_rows(summary, section)
    by_id = {r["id"]: r for r in rows}
    out["KadamClaimVerdict"] = by_id["kadam"]["verdict"]
    out["KadamCifarClaimVerdict"] = by_id["kadam-cifar10"]["verdict"]
    out["KadamClaimSeeds"] = str(by_id["kadam"]["seeds"])
    out["KadamAbstractSentence"] = abstract_sentence(rows)
    for claim_id, name in (("kadam", "KadamSmall"), ("kadam-cifar10", "KadamCifar")):
        out[f"{name}Source"], out[f"{name}Wall"] = records_source(
            section, claim_id, by_id[claim_id]["rule"])
    out["KadamMinSeeds"] = str(section["verdicts"]["min_seeds"])
    out["KadamMdeCeilingAcc"] = f"{section['power']['mde_ceiling']['test_acc']:g}"
    out["KadamMdeCeilingLoss"] = f"{section['power']['mde_ceiling']['test_loss']:g}"
    return {"macros": out, "claims": rows,
            "tables": {"kadam_optimizer_k_table": k_table(summary, task),
                       "kadam_optimizer_direct_table": direct_table(summary),
                       "kadam_optimizer_power_table": power_table(
                           power_rows(summary, section["power"])),
                       "kadam_optimizer_baselines_table": baselines_table(summary)}}
