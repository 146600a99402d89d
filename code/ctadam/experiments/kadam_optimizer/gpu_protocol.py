r"""The CIFAR-10 k-Adam protocol on one GPU, in one command (ledger row ``kadam-cifar10``).

The protocol (``config/gpu_kadam.yaml``): all 50,000 training and 10,000 test images, at least
ten epochs per run, k = 1 ... 10 under the four strategies (:data:`.plan.STRATEGIES`) with and
without LayerNorm, the learning rate of every cell chosen on a validation split held out of the
training images as the mean over ``select_seeds`` (>= 2) at every rate of the grid, the grid
widened by ``gpu_protocol.widen_factor`` at an end where any cell's best rate lies (at most
``max_widen`` times), then every one of ``seeds`` (>= 16) at the chosen rate, the comparisons
with AdamW paired by seed and Holm-corrected (:mod:`.verdict`)::

    python -m ctadam.experiments.kadam_optimizer gpu-protocol --config config/gpu_kadam.yaml \
        --out data/device/kadam_cifar10 [--dry-run]

writes into ``--out`` (ready to commit): ``command.txt``, ``plan.json``, ``section.json``,
``select/`` and ``final/`` (one record per run, the per-step update statistics dropped to keep
the folder small), ``selection.json``, ``summary.json`` (:func:`.summary.summarize`) and
``claims.json`` (the ``kadam-cifar10`` row). The split data go to ``--work`` (git-ignored).
Rule ``kadam_optimizer_publish`` reads ``<out>/summary.json`` when it exists.

Seeds are *not* stacked: :mod:`ctadam.ensemble` stacks MLPs only, so every run of the CNN is
its own process-level job, ``gpu_protocol.processes`` of them sharing the GPU. ``--dry-run``
prints the plan and its time on one GPU as an *estimate* (nothing runs on a GPU):

.. math::  T \approx \max\Big(\sum_{\mathrm{jobs}} S\,o_{\mathrm{kind}}(k)\,\tau,\;
           \sum_{\mathrm{jobs}} S\,B\,f / F\Big),

with :math:`S` the steps and :math:`B` the batch of a job, :math:`o(k)` the leaf operator calls
of one step counted on the CPU (about one kernel launch each on a GPU, where a network this
small is launch-bound; linear in k, from k = 2 and 3), :math:`\tau` = ``seconds_per_op`` the
aggregate GPU time per operator of a measured GPU record, :math:`f` the FLOPs of one example's
forward and backward pass (``torch.utils.flop_counter``) and :math:`F` = ``sustained_flops``
an assumed sustained rate. It also prints what stacking the seeds of a cell would give (the
launch term divided by the seeds per stack) and the measured CPU time per step.
"""

import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ctadam.experiments import protocol
from ctadam.experiments.kadam_optimizer import plan
from ctadam.paths import DATASETS

GPU_KEYS = ("processes", "seconds_per_op", "sustained_flops", "budget_s", "max_widen",
            "widen_factor", "probe_batch")


def load(config_path) -> tuple[dict, dict]:
    """``(section, gpu)`` of a protocol config: the family section (with the shared
    ``verdicts`` and ``instability``), checked against the schema's ``kadam_optimizer``, and
    the ``gpu_protocol`` block."""
    import jsonschema

    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    schema = yaml.safe_load((Path(__file__).resolve().parents[4] / "config" / "schema.yaml")
                            .read_text(encoding="utf-8"))
    try:
        jsonschema.validate(config.get("kadam_optimizer"),
                            schema["properties"]["kadam_optimizer"])
    except jsonschema.ValidationError as err:
        path = ".".join(map(str, err.absolute_path))
        raise ValueError(f"{config_path}: kadam_optimizer.{path}: {err.message}") from err
    section = protocol.family_section(config, "kadam_optimizer")
    gpu = config.get("gpu_protocol")
    if not isinstance(gpu, dict) or sorted(gpu) != sorted(GPU_KEYS):
        raise ValueError(f"{config_path}: gpu_protocol must have exactly the keys "
                         f"{list(GPU_KEYS)}, got {None if gpu is None else sorted(gpu)}")
    for key in GPU_KEYS:
        value = gpu[key]
        integer = key in ("processes", "max_widen", "probe_batch")
        low, strict = {"max_widen": (0, False), "widen_factor": (1, True)}.get(
            key, (1, False) if integer else (0, True))
        ok = (not isinstance(value, bool) and isinstance(value, int if integer else int | float)
              and (value > low if strict else value >= low))
        if not ok:
            kind = "an integer" if integer else "a number"
            raise ValueError(f"{config_path}: gpu_protocol.{key} must be {kind} "
                             f"{'>' if strict else '>='} {low}, got {value!r}")
    return section, gpu


def epochs(section: dict, task: str, n_images: int) -> float:
    """Passes over ``n_images`` training images that one run of ``task`` makes."""
    spec = section["tasks"][task]
    return spec["steps"] * spec["batch_size"] / n_images


def jobs(section: dict, data: dict, chosen=None) -> dict:
    """The selection jobs (round 0 grid) and, with ``chosen``, the final jobs."""
    out = {"select": plan.select_jobs(section, data)}
    if chosen is not None:
        out["final"] = plan.final_jobs(section, data, chosen)
    return out


def _probe_data(src: str, n: int, where: Path) -> str:
    """The first ``n`` training and test images of ``src``: enough to count and time steps."""
    import numpy as np

    from ctadam.experiments.kadam_optimizer.split import _save_npz

    with np.load(src) as npz:
        arrays = {k: npz[k][:n] for k in ("x_train", "y_train", "x_test", "y_test")}
    path = where / "probe.npz"
    _save_npz(path, arrays)
    return str(path)


def measure(section: dict, gpu: dict, data: str) -> dict:
    """Per (norm, kind) the CPU operator count per step as ``ops(k) = a + b k`` (from k = 2
    and 3; AdamW at k = 1), the training FLOPs per example, and the CPU seconds per step at
    the protocol's batch of AdamW and of k = 10 (strategy ``nomom``)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ctadam import train
    from ctadam.experiments.kadam_optimizer import gpu_cell

    torch.set_num_threads(1)
    task = section["run_tasks"][0]
    spec = section["tasks"][task]
    probe = {**section, "tasks": {**section["tasks"],
                                  task: {**spec, "batch_size": gpu["probe_batch"]}}}
    lr = spec["lrs"][0]
    ops, out = {}, {"task": task}
    with tempfile.TemporaryDirectory() as tmp:
        small = _probe_data(data, max(spec["batch_size"], gpu["probe_batch"]) * 2, Path(tmp))
        for norm in spec["norms"]:
            base = {"task": task, "norm": norm}
            ops[f"{norm}/adamw"] = {"a": gpu_cell.ops_per_step(
                probe, {**base, "method": "adamw", "k": 1}, small), "b": 0.0}
            for method in ("nomom", "theory"):
                two, three = (gpu_cell.ops_per_step(probe, {**base, "method": method, "k": k},
                                                    small) for k in (2, 3))
                kind = "kadam-pooled" if method == "theory" else "kadam"
                ops[f"{norm}/{kind}"] = {"a": two - 2 * (three - two), "b": three - two}
        s = train.setup(plan.run_config(probe, {"task": task, "norm": spec["norms"][-1],
                                                "method": "adamw", "k": 1}, lr, 0, small), "cpu")
        with FlopCounterMode(display=False) as counter:
            train.step(s, 1)
        out["flops_per_example"] = counter.get_total_flops() / gpu["probe_batch"]
        out["cpu_step_s"] = {
            f"{method}/k{k}": gpu_cell.time_cell(section, {"task": task, "norm": "none",
                                                           "method": method, "k": k},
                                                 small, 2, 1, "cpu")
            for method, k in (("adamw", 1), ("nomom", 10))}
    out["ops"] = ops
    return out


def ops_of(measured: dict, cell: dict) -> float:
    """Operators per step of ``cell`` from :func:`measure`'s linear fit."""
    kind = ("adamw" if cell["method"] == "adamw"
            else "kadam-pooled" if cell["method"] == "theory" else "kadam")
    fit = measured["ops"][f"{cell['norm']}/{kind}"]
    return fit["a"] + fit["b"] * (0 if kind == "adamw" else cell["k"])


def estimate(section: dict, gpu: dict, measured: dict, n_images: int) -> dict:
    """The plan and its estimated time on one GPU (see the module doc; an estimate)."""
    cells = {c["name"]: c for c in plan.cells(section)}
    grid = {t: len(section["tasks"][t]["lrs"]) for t in section["run_tasks"]}
    n_sel, n_fin = len(section["select_seeds"]), len(section["seeds"])
    task = measured["task"]
    spec = section["tasks"][task]
    steps, batch = spec["steps"], spec["batch_size"]
    select_runs = sum(grid[c["task"]] * n_sel for c in cells.values())
    final_runs = len(cells) * n_fin
    launch = stacked = 0.0
    for c in cells.values():
        per_run = steps * ops_of(measured, c) * gpu["seconds_per_op"]
        launch += per_run * (grid[c["task"]] * n_sel + n_fin)
        stacked += per_run * (grid[c["task"]] + 1)  # one stack per rate, one of the finals
    runs = select_runs + final_runs
    compute = runs * steps * batch * measured["flops_per_example"] / gpu["sustained_flops"]
    cpu_mean = sum(measured["cpu_step_s"].values()) / len(measured["cpu_step_s"])
    widen_extra = gpu["max_widen"] * 2 * n_sel * len(cells) * steps  # at most two rates a round
    est = max(launch, compute)
    return {"cells": len(cells), "select_runs": select_runs, "final_runs": final_runs,
            "runs": runs, "steps_per_run": steps, "batch_size": batch,
            "epochs": epochs(section, task, n_images), "total_steps": runs * steps,
            "widen_max_extra_steps": widen_extra, "ops": measured["ops"],
            "flops_per_example": measured["flops_per_example"],
            "cpu_step_s": measured["cpu_step_s"],
            "launch_bound_s": launch, "compute_bound_s": compute, "estimate_s": est,
            "stacked_estimate_s": max(stacked, compute),
            "cpu_one_core_s": runs * steps * cpu_mean,
            "budget_s": gpu["budget_s"], "fits_budget": est <= gpu["budget_s"],
            "seconds_per_op": gpu["seconds_per_op"], "sustained_flops": gpu["sustained_flops"],
            "processes": gpu["processes"], "stacked": False,
            "note": "an estimate, not a GPU measurement: operators counted and steps timed on "
                    "the CPU; seeds run as separate jobs (ctadam.ensemble stacks MLPs only)"}


def describe(p: dict) -> str:
    """The plan in words (what ``--dry-run`` prints)."""
    return "\n".join([
        f"cells: {p['cells']}; runs: {p['select_runs']} selection + {p['final_runs']} final = "
        f"{p['runs']}, {p['steps_per_run']} steps of batch {p['batch_size']} each "
        f"({p['epochs']:.2f} epochs), {p['total_steps']:,} steps in all (widening may add up "
        f"to {p['widen_max_extra_steps']:,})",
        f"ESTIMATE on one GPU (not measured): {p['estimate_s'] / 60:.1f} min = max(launch-bound "
        f"{p['launch_bound_s'] / 60:.1f} min at {p['seconds_per_op']:.3g} s/operator, "
        f"compute-bound {p['compute_bound_s'] / 60:.1f} min at {p['sustained_flops']:.3g} "
        f"FLOP/s); budget {p['budget_s'] / 60:.0f} min: "
        + ("fits" if p["fits_budget"] else "does NOT fit"),
        f"with the seeds of a cell stacked (not implemented for the CNN): "
        f"{p['stacked_estimate_s'] / 60:.1f} min",
        "measured CPU step (1 thread): " + ", ".join(
            f"{k} {1e3 * v:.1f} ms" for k, v in p["cpu_step_s"].items())
        + f"; the whole protocol on one CPU core: {p['cpu_one_core_s'] / 3600:.1f} h",
    ])


def _slim(path: Path) -> None:
    """Drop a record's per-step lists (the summary does not read them), keep their maxima."""
    from ctadam.io import write_json_atomic

    record = protocol.read_json_file(path)
    per_step = record.pop("per_step", None)
    if per_step is not None:
        record["per_step_max"] = {k: max(v, default=None) for k, v in per_step.items()}
        write_json_atomic(path, record)


def _write_configs(job_list: list[dict], where: Path) -> list[Path]:
    where.mkdir(parents=True, exist_ok=True)
    paths = []
    for job in job_list:
        path = where / f"{job['name']}.json"
        path.write_text(json.dumps(job["config"], indent=1, sort_keys=True), encoding="utf-8")
        paths.append(path)
    return paths


def _train(job_list: list[dict], configs: Path, records: Path, processes: int,
           device: str) -> None:
    """Every job in ``processes`` parallel runner processes (records present are kept)."""
    paths = {p.stem: p for p in _write_configs(job_list, configs)}
    procs = []
    for shard in protocol.shard_ids(paths, processes):
        cmd = [sys.executable, "-m", "ctadam.experiments.protocol", "run", "kadam_optimizer",
               "--configs", *map(str, (paths[i] for i in shard)), "--out-dir", str(records),
               "--threads", "1", "--device", device]
        procs.append(subprocess.Popen(cmd))
    failed = [p.args for p in procs if p.wait() != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} runner processes failed")
    for path in records.glob("*.json"):
        _slim(path)


def _reuse(old: Path, new: Path, job_list: list[dict]) -> None:
    """Move the records of ``old`` whose config a job of ``job_list`` has into ``new`` under
    that job's name (a widened grid renumbers its rates)."""
    from ctadam.runconfig import validate_config

    wanted = {json.dumps(validate_config(j["config"]), sort_keys=True): j["name"]
              for j in job_list}
    new.mkdir(parents=True, exist_ok=True)
    for path in sorted(old.glob("*.json")):
        key = json.dumps(protocol.read_json_file(path)["config"], sort_keys=True)
        if key in wanted:
            path.replace(new / f"{wanted[key]}.json")


def widen(section: dict, selection: dict, factor: float) -> bool:
    """Extend each task's grid by ``factor`` beyond an end where some cell's best rate lies;
    returns whether any grid grew."""
    grew = False
    for task in section["run_tasks"]:
        lrs = section["tasks"][task]["lrs"]
        mine = [s for s in selection.values() if s["task"] == task and s["at_edge"]]
        low = any(s["lr"] == s["lrs"][0] for s in mine)
        high = any(s["lr"] == s["lrs"][-1] for s in mine)
        new = ([float(f"{lrs[0] / factor:.6g}")] if low else []) + list(lrs) + (
            [float(f"{lrs[-1] * factor:.6g}")] if high else [])
        if "theory" in section["tasks"][task]["strategies"]:
            new = [lr for lr in new if lr * section["weight_decay"] < 1]
        grew |= len(new) > len(lrs)
        section["tasks"][task]["lrs"] = new
    return grew


def run_protocol(config_path, out, work, data: str, device: str, argv: list[str]) -> dict:
    """The whole protocol (see the module doc); returns the ``kadam-cifar10`` row."""
    from ctadam.experiments.kadam_optimizer.selection import choose
    from ctadam.experiments.kadam_optimizer.split import split
    from ctadam.experiments.kadam_optimizer.summary import summarize
    from ctadam.experiments.kadam_optimizer.verdict import claim_row
    from ctadam.io import write_json_atomic

    section, gpu = load(config_path)
    out, work = Path(out), Path(work)
    out.mkdir(parents=True, exist_ok=True)
    (out / "command.txt").write_text(shlex.join(argv) + "\n", encoding="utf-8")
    start = time.perf_counter()
    paths = {}
    for task in section["run_tasks"]:
        spec = section["tasks"][task]
        paths[task] = {stage: str(work / f"{task}_{stage}.npz") for stage in plan.STAGES}
        split(task, data, paths[task]["select"], paths[task]["final"], spec.get("n_train"),
              spec.get("n_test"), spec.get("n_val", 500), spec.get("val_fraction", 0.1))
    select_data = {t: p["select"] for t, p in paths.items()}
    final_data = {t: p["final"] for t, p in paths.items()}
    rounds, previous = [], None
    for r in range(int(gpu["max_widen"]) + 1):
        here = out / "select" / f"round{r}"
        job_list = plan.select_jobs(section, select_data)
        if previous is not None:
            _reuse(previous, here, job_list)
            if not any(previous.iterdir()):
                previous.rmdir()
        _train(job_list, work / "configs" / f"select{r}", here, gpu["processes"], device)
        selection = choose(section, protocol.read_records([here]))
        rounds.append({t: list(section["tasks"][t]["lrs"]) for t in section["run_tasks"]})
        previous = here
        if r == gpu["max_widen"] or not widen(section, selection, gpu["widen_factor"]):
            break
    write_json_atomic(out / "selection.json", selection)
    chosen = {name: s["lr"] for name, s in selection.items()}
    _train(plan.final_jobs(section, final_data, chosen), work / "configs" / "final",
           out / "final", gpu["processes"], device)
    write_json_atomic(out / "section.json", section)
    summary = summarize(protocol.read_records([previous, out / "final"]), section)
    write_json_atomic(out / "summary.json", summary)
    row = claim_row("kadam-cifar10", summary, section, "kadam_optimizer gpu-protocol")
    write_json_atomic(out / "claims.json", [row])
    write_json_atomic(out / "plan.json", {"grids": rounds, "wall_s": time.perf_counter() - start,
                                          "device": device, "config": str(config_path),
                                          "edge_cells": sum(s["at_edge"]
                                                            for s in selection.values())})
    return row


def dry_run(config_path, data: str, out=None) -> dict:
    """Plan the protocol and estimate its GPU time from CPU measurements; print it."""
    import numpy as np

    from ctadam.io import write_json_atomic

    section, gpu = load(config_path)
    task = section["run_tasks"][0]
    with np.load(data) as npz:
        n_images = len(npz["y_train"])
    spec = section["tasks"][task]
    n_images = n_images if spec.get("n_train") is None else min(n_images, spec["n_train"])
    p = estimate(section, gpu, measure(section, gpu, data), n_images)
    print(describe(p), flush=True)
    if out is not None:
        write_json_atomic(Path(out) / "plan.json", p)
    return p


def add_parser(sub) -> None:
    """The ``gpu-protocol`` subcommand of ``python -m ctadam.experiments.kadam_optimizer``."""
    g = sub.add_parser("gpu-protocol", help="the CIFAR-10 protocol on one GPU (or its plan)")
    g.add_argument("--config", required=True, help="e.g. config/gpu_kadam.yaml")
    g.add_argument("--out", required=True, help="records folder, e.g. data/device/kadam_cifar10")
    g.add_argument("--work", default="data/kadam_optimizer_gpu", help="split data (ignored)")
    g.add_argument("--data", default=DATASETS["cifar10"], help="the CIFAR-10 file")
    g.add_argument("--device", default="cuda", choices=("cpu", "cuda", "auto"))
    g.add_argument("--dry-run", action="store_true", help="print the plan and its estimate")


def main(args, argv: list[str]) -> None:
    if args.dry_run:
        dry_run(args.config, args.data, args.out)
        return
    row = run_protocol(args.config, args.out, args.work, args.data, args.device, argv)
    print(f"kadam-cifar10: {row['verdict']} ({row['measure']})", flush=True)
