r"""The k-Adam study: data splits, batched runs, learning-rate choice and the summary.

Protocol (the same for every cell of :mod:`ctadam.experiments.kadam_plan`):

1. ``split``: per task a *final* data file (CIFAR-10 / MNIST-1D: the first ``n_train``
   training and first ``n_test`` test samples; Shakespeare: the corpus) and a *selection*
   file that holds out the last ``n_val`` of those training samples (Shakespeare: the last
   ``val_fraction`` of the training text) as its test split, so that a learning rate is never
   chosen on the data the tables report.
2. ``runs`` (stage select): seed 0 of every cell at every learning rate of its grid, trained
   on the selection file; ``choose`` keeps per cell the rate with the best final validation
   metric (accuracy, or loss for Shakespeare; a diverged run is worst) and writes the final
   jobs.
3. ``runs`` (stage final): every seed at the chosen rate on the final file; ``summary``
   gathers per cell the held-out metric of each seed, mean +- std and, against the AdamW
   cell (k = 1) of the same task and norm, the paired per-seed difference with a Student-t
   95% interval (same seed = same initialisation and minibatch order).

Every run goes through :func:`ctadam.train.run`, many per process. A run whose loss leaves
``diverge_loss_factor`` times its running minimum, or becomes non-finite, ends as diverged
with its step and reason; it counts as worst in selection and is left out (and counted) in
the summary.
"""

import argparse
import math
from pathlib import Path

import numpy as np

from ctadam.checks import check_int, check_real
from ctadam.data import arrays_sha256
from ctadam.experiments import kadam_plan
from ctadam.io import read_json, write_json_atomic

# Per task: (record key, scale, goal) of the metric selection and the tables use.
METRIC = {"mnist1d": ("test_acc", 100.0, "max"), "cifar10": ("test_acc", 100.0, "max"),
          "shakespeare": ("test_loss", 1.0, "min")}


def _save_npz(path, arrays: dict) -> None:
    """Write arrays and their SHA-256 (the layout :mod:`ctadam.data` reads) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, sha256=np.array(arrays_sha256(arrays)), **arrays)
    tmp.replace(path)


def _head(x: np.ndarray, n, name: str) -> np.ndarray:
    return x if n is None else x[:check_int(name, n, 1, len(x))]


def split(task: str, data: str, select_out: str, final_out: str, n_train=None, n_test=None,
          n_val: int = 500, val_fraction: float = 0.1) -> None:
    """Write the final and the selection data files of ``task`` (see the module doc)."""
    with np.load(data) as npz:
        content = {k: npz[k] for k in npz.files if k != "sha256"}
    if task == "shakespeare":
        frac = check_real("val_fraction", val_fraction, 0.0, 1.0, True, True)
        keep = {k: content[k] for k in ("train", "val", "vocab")}
        _save_npz(final_out, keep)
        cut = int(len(keep["train"]) * (1 - frac))
        _save_npz(select_out, {"train": keep["train"][:cut], "val": keep["train"][cut:],
                               "vocab": keep["vocab"]})
        return
    x, y = _head(content["x_train"], n_train, "n_train"), _head(content["y_train"], n_train,
                                                                "n_train")
    _save_npz(final_out, {"x_train": x, "y_train": y,
                          "x_test": _head(content["x_test"], n_test, "n_test"),
                          "y_test": _head(content["y_test"], n_test, "n_test")})
    n_val = check_int("n_val", n_val, 1, len(y) - 1)
    _save_npz(select_out, {"x_train": x[:-n_val], "y_train": y[:-n_val],
                           "x_test": x[-n_val:], "y_test": y[-n_val:]})


def run_jobs(jobs: list[dict], out_dir: str, device: str = "cpu") -> None:
    """Train every job (``{name, cell, lr, seed, config}``) and write ``out_dir/<name>.json``.

    The record gets the job's ``cell``, ``lr`` and ``seed`` under ``"job"``. A record that
    is already there with the same validated config is kept (an interrupted shard resumes).
    """
    from ctadam.runconfig import validate_config
    from ctadam.train import run

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for job in jobs:
        config, path = job["config"], out / f"{job['name']}.json"
        if path.exists() and read_json(path)["config"] == validate_config(config):
            continue
        record = run(config, device=device)
        record["job"] = {k: job[k] for k in ("name", "cell", "lr", "seed")}
        write_json_atomic(path, record)
        print(f"{job['name']}: {record['status']} after {record['steps_done']} steps "
              f"({record['timing']['wall_time_s']:.1f} s)", flush=True)


def read_records(dirs) -> list[dict]:
    """Every record ``*.json`` in the shard directories ``dirs``, in name order."""
    files = sorted((p for d in dirs for p in Path(d).glob("*.json")), key=lambda p: p.name)
    return [read_json(p) for p in files]


def score(record: dict) -> float:
    """The task's held-out metric at the end of a run, or NaN if it diverged."""
    key, scale, _ = METRIC[record["config"]["task"]]
    values = record["eval"][key]
    if record["status"] != "ok" or not values or not math.isfinite(values[-1]):
        return math.nan
    return scale * float(values[-1])


def choose(plan: dict, records: list[dict]) -> dict:
    """Per cell: the grid, each rate's validation score and the chosen rate.

    The chosen rate has the best score (a diverged run is worst); when every rate
    diverged the smallest is kept and ``all_diverged`` is set; ``at_edge`` says that the
    chosen rate is an end of the grid (the best rate may lie outside it).
    """
    by_cell = {}
    for r in records:
        by_cell.setdefault(r["job"]["cell"], []).append(r)
    out = {}
    for cell in kadam_plan.cells(plan["kadam"]):
        runs = sorted(by_cell.get(cell["name"], []), key=lambda r: r["job"]["lr"])
        if not runs:
            raise ValueError(f"no selection record for cell {cell['name']}")
        goal = METRIC[cell["task"]][2]
        scores = [score(r) for r in runs]
        signed = [(-s if goal == "max" else s) if math.isfinite(s) else math.inf
                  for s in scores]
        best = int(np.argmin(signed))
        out[cell["name"]] = {**cell, "lrs": [r["job"]["lr"] for r in runs], "scores": scores,
                             "lr": runs[best]["job"]["lr"], "val_score": scores[best],
                             "all_diverged": not math.isfinite(signed[best]),
                             "at_edge": len(runs) > 1 and best in (0, len(runs) - 1)}
    return out


def paired(values, reference) -> dict:
    """Mean per-seed difference ``values - reference`` and its Student-t 95% interval.

    Seeds where either run diverged (NaN) are dropped; ``n`` says how many pairs remain.
    """
    from scipy import stats

    d = np.array([a - b for a, b in zip(values, reference, strict=True)
                  if math.isfinite(a) and math.isfinite(b)])
    if d.size == 0:
        return {"n": 0, "mean": math.nan, "low": math.nan, "high": math.nan}
    mean = float(d.mean())
    if d.size == 1:
        return {"n": 1, "mean": mean, "low": math.nan, "high": math.nan}
    half = float(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size))
    return {"n": int(d.size), "mean": mean, "low": mean - half, "high": mean + half}


def summarize(plan: dict, selection: dict, records: list[dict]) -> dict:
    """The study's summary: every cell's per-seed results and its comparison with AdamW."""
    from ctadam.tables import mean_std

    by_cell = {}
    for r in records:
        by_cell.setdefault(r["job"]["cell"], []).append(r)
    cells = []
    for name, sel in selection.items():
        runs = sorted(by_cell.get(name, []), key=lambda r: r["job"]["seed"])
        values = [score(r) for r in runs]
        mean, std = mean_std(values)
        cells.append({**sel, "seeds": [r["job"]["seed"] for r in runs], "values": values,
                      "mean": mean, "std": std,
                      "wall_s": sum(r["timing"]["wall_time_s"] for r in runs),
                      "divergences": [{"seed": r["job"]["seed"], "step": r["diverged_at"],
                                       "reason": r["reason"]}
                                      for r in runs if r["status"] != "ok"]})
    ref = {(c["task"], c["norm"]): c for c in cells if c["method"] == "adamw"}
    for c in cells:
        base = ref[(c["task"], c["norm"])]
        c["vs_adamw"] = paired(c["values"], base["values"])
    ka = plan["kadam"]
    return {"cells": cells, "seeds": list(ka["seeds"]), "betas": list(ka["betas"]),
            "weight_decay": ka["weight_decay"], "lion": dict(ka["lion"]),
            "diverge_loss_factor": ka["diverge_loss_factor"], "metric": METRIC,
            "tasks": {t: {k: ka["tasks"][t][k] for k in ("lrs", "steps", "batch_size")}
                      | {"n_train": ka["tasks"][t].get("n_train"),
                         "arch": ka["tasks"][t]["arch"]} for t in ka["run_tasks"]},
            "strategies": list(kadam_plan.STRATEGIES)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("split", help="write the final and the selection data files")
    sp.add_argument("--task", required=True, choices=tuple(METRIC))
    sp.add_argument("--data", required=True)
    sp.add_argument("--plan", required=True, help="plan JSON (rule kadam_plan)")
    sp.add_argument("--select-out", required=True)
    sp.add_argument("--final-out", required=True)
    rp = sub.add_parser("runs", help="train a list of jobs, one record each")
    rp.add_argument("--jobs", required=True, help="JSON list of jobs")
    rp.add_argument("--out-dir", required=True)
    rp.add_argument("--threads", type=int, required=True)
    rp.add_argument("--device", required=True, choices=("cpu", "cuda", "auto"))
    cp = sub.add_parser("choose", help="choose each cell's rate; write the final jobs")
    cp.add_argument("--plan", required=True)
    cp.add_argument("--records", nargs="+", required=True, help="selection shard dirs")
    cp.add_argument("--selection", required=True)
    cp.add_argument("--jobs", nargs="+", required=True, help="one final-jobs file per shard")
    mp = sub.add_parser("summary", help="per-cell results and paired comparisons")
    mp.add_argument("--plan", required=True)
    mp.add_argument("--selection", required=True)
    mp.add_argument("--records", nargs="+", required=True, help="final shard dirs")
    mp.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "split":
        spec = read_json(args.plan)["kadam"]["tasks"][args.task]
        split(args.task, args.data, args.select_out, args.final_out, spec.get("n_train"),
              spec.get("n_test"), spec.get("n_val", 500), spec.get("val_fraction", 0.1))
    elif args.cmd == "runs":
        import torch

        torch.set_num_threads(check_int("threads", args.threads, 1))
        run_jobs(read_json(args.jobs), args.out_dir, args.device)
    elif args.cmd == "choose":
        plan = read_json(args.plan)
        selection = choose(plan, read_records(args.records))
        write_json_atomic(args.selection, selection)
        jobs = kadam_plan.final_jobs(plan["kadam"], plan["data"],
                                     {name: s["lr"] for name, s in selection.items()})
        for i, path in enumerate(args.jobs):
            write_json_atomic(path, kadam_plan.shard(jobs, i, len(args.jobs)))
    else:
        plan = read_json(args.plan)
        write_json_atomic(args.out, summarize(plan, read_json(args.selection),
                                              read_records(args.records)))


if __name__ == "__main__":
    main()
