r"""The k-Adam study's summary: every cell's held-out results and its comparison with AdamW.

:func:`summarize` takes the records of both stages (:mod:`.plan`), redoes the learning-rate
choice from the selection records (:func:`.selection.choose`, so the summary and the final
configs cannot disagree: a final record at another rate is an error), and gathers per cell the
held-out metric of each seed, mean +- std and, against the AdamW cell (k = 1) of the same task
and norm, the paired per-seed difference with a Student-t 95% interval (same seed = same
initialisation and minibatch order; :func:`ctadam.stats.paired_t`). Diverged runs are left
out of the statistics and listed.
"""

from ctadam.experiments.kadam_optimizer import plan
from ctadam.experiments.kadam_optimizer.selection import METRIC, choose, score
from ctadam.stats import paired_t


def summarize(records: dict[str, dict], section: dict) -> dict:
    """The study's summary from the records of both stages (by run id)."""
    from ctadam.tables import mean_std

    ka = section
    selection = choose(ka, records)
    jobs = plan.final_jobs(ka, plan.split_data(ka, "final"),
                           {name: s["lr"] for name, s in selection.items()})
    by_cell = {}
    for job in jobs:
        record = records.get(job["name"])
        if record is None:
            raise ValueError(f"no final record for run {job['name']}")
        config = record["config"]
        if config["optimizer"]["lr"] != job["lr"] or config["seed"] != job["seed"]:
            raise ValueError(f"final record {job['name']} has lr {config['optimizer']['lr']} "
                             f"and seed {config['seed']}, the selection asks for lr "
                             f"{job['lr']} and seed {job['seed']} (stale final configs?)")
        by_cell.setdefault(job["cell"], []).append((job["seed"], record))
    cells = []
    for name, sel in selection.items():
        runs = sorted(by_cell[name], key=lambda pair: pair[0])
        values = [score(r) for _, r in runs]
        mean, std = mean_std(values)
        cells.append({**sel, "seeds": [s for s, _ in runs], "values": values,
                      "mean": mean, "std": std,
                      "wall_s": sum(r["timing"]["wall_time_s"] for _, r in runs),
                      "divergences": [{"seed": s, "step": r["diverged_at"],
                                       "reason": r["reason"]}
                                      for s, r in runs if r["status"] != "ok"]})
    ref = {(c["task"], c["norm"]): c for c in cells if c["method"] == "adamw"}
    for c in cells:
        base = ref[(c["task"], c["norm"])]
        c["vs_adamw"] = paired_t(c["values"], base["values"])
    return {"cells": cells, "seeds": list(ka["seeds"]), "betas": list(ka["betas"]),
            "weight_decay": ka["weight_decay"], "lion": dict(ka["lion"]),
            "diverge_loss_factor": ka["diverge_loss_factor"], "metric": METRIC,
            "tasks": {t: {k: ka["tasks"][t][k] for k in ("lrs", "steps", "batch_size")}
                      | {"n_train": ka["tasks"][t].get("n_train"),
                         "arch": ka["tasks"][t]["arch"]} for t in ka["run_tasks"]},
            "strategies": list(plan.STRATEGIES),
            "verdict_tasks": list(ka["verdict_tasks"]), "verdicts": dict(ka["verdicts"]),
            "power": dict(ka["power"])}
