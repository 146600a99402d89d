"""The k-Adam study's learning-rate choice: each cell's best rate on the validation split.

A run whose loss leaves ``diverge_loss_factor`` times its running minimum, or becomes
non-finite, ends as diverged; it scores NaN and counts as worst (rule
``kadam_optimizer_choose``, which also writes the final configs).
"""

import math

from ctadam.experiments.kadam_optimizer import plan

# Per task: (record key, scale, goal) of the metric selection and the tables use.
METRIC = {"mnist1d": ("test_acc", 100.0, "max"), "cifar10": ("test_acc", 100.0, "max"),
          "shakespeare": ("test_loss", 1.0, "min")}


def score(record: dict) -> float:
    """The task's held-out metric at the end of a run, or NaN if it diverged."""
    key, scale, _ = METRIC[record["config"]["task"]]
    values = record["eval"][key]
    if record["status"] != "ok" or not values or not math.isfinite(values[-1]):
        return math.nan
    return scale * float(values[-1])


def choose(ka: dict, records: dict[str, dict]) -> dict:
    """Per cell: the grid, each rate's validation score and the chosen rate.

    ``records`` holds (at least) every selection run of the section ``ka``, by run id. A
    rate's score is the mean over ``select_seeds`` (NaN when any of them diverged). The
    chosen rate has the best score (a diverged run is worst); when every rate diverged the
    smallest is kept and ``all_diverged`` is set; ``at_edge`` says that the chosen rate is an
    end of the grid (the best rate may lie outside it).
    """
    by_cell = {}
    for job in plan.select_jobs(ka, plan.split_data(ka, "select")):
        if job["name"] not in records:
            raise ValueError(f"no selection record for run {job['name']}")
        by_cell.setdefault(job["cell"], {}).setdefault(job["lr"], []).append(
            records[job["name"]])
    out = {}
    for cell in plan.cells(ka):
        runs = sorted(by_cell[cell["name"]].items(), key=lambda pair: pair[0])
        goal = METRIC[cell["task"]][2]
        # A rate's score is the mean over the selection seeds; any diverged seed makes it NaN.
        scores = [math.fsum(score(r) for r in rs) / len(rs) for _, rs in runs]
        signed = [(-s if goal == "max" else s) if math.isfinite(s) else math.inf
                  for s in scores]
        best = min(range(len(signed)), key=signed.__getitem__)
        out[cell["name"]] = {**cell, "lrs": [lr for lr, _ in runs], "scores": scores,
                             "lr": runs[best][0], "val_score": scores[best],
                             "all_diverged": not math.isfinite(signed[best]),
                             "at_edge": len(runs) > 1 and best in (0, len(runs) - 1)}
    return out
