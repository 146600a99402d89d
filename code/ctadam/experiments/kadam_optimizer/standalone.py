r"""A k-Adam protocol outside the workflow, in one command, with records ready to commit.

Two configs use it. ``config/gpu_kadam.yaml`` is the CIFAR-10 protocol a reviewer would accept,
on one GPU (ledger row ``kadam-cifar10``): all 50,000 training and 10,000 test images, at least
ten epochs per run, k = 1 ... 10 under the four strategies (:data:`.plan.STRATEGIES`) with and
without LayerNorm. ``config/medium_kadam.yaml`` is the powered verdict on the small tasks on
the CPU (row ``kadam``): the MNIST-1D MLP and the Shakespeare character transformer, with and
without LayerNorm, AdamW against k = 2 and 3 under the four strategies, as many seeds as
:func:`.power.pairs_for_ceiling` asks for. In both the learning rate of every cell is chosen on
a validation split held out of the training data as the mean over ``select_seeds`` (>= 2) at
every rate of the grid; the grid is widened by ``standalone.widen_factor`` at an end where any
cell's best rate lies (at most ``max_widen`` times); then every one of ``seeds`` is trained at
the chosen rate, and the comparisons with AdamW are paired by seed and Holm-corrected
(:mod:`.verdict`)::

    python -m ctadam.experiments.kadam_optimizer protocol --config config/gpu_kadam.yaml \
        --out data/device/kadam_cifar10 [--dry-run]
    python -m ctadam.experiments.kadam_optimizer protocol --config config/medium_kadam.yaml \
        --out data/device/kadam_medium [--dry-run]

It writes into ``--out`` (ready to commit): ``command.txt``, ``plan.json``, ``section.json``,
``select/round<r>/`` and ``final/`` (one record per run, the per-step update statistics dropped
to keep the folder small), ``selection.json``, ``summary.json`` (:func:`.summary.summarize`)
and ``claims.json`` (the rows of the tasks in ``verdict_tasks``). The split data go to
``--work`` (git-ignored). Rule ``kadam_optimizer_publish`` reads the ``summary.json`` of
:data:`.verdict.RECORDS` when it exists.

Seeds are *not* stacked: :mod:`ctadam.ensemble` stacks MLPs only and the engine trains one
network per run, so every run is its own job, ``standalone.processes`` of them at a time.
``--dry-run`` prints the plan and its time as an *estimate* (nothing is trained):

.. math::  T_{\mathrm{GPU}} \approx \max\Big(\sum_{\mathrm{jobs}} S\,o(k)\,\tau,\;
           \sum_{\mathrm{jobs}} S\,B\,f / F\Big), \qquad
           T_{\mathrm{CPU}} \approx \frac1P \sum_{\mathrm{jobs}} \big(S\,t(k) + c\big),

with :math:`S` the steps and :math:`B` the batch of a job, :math:`o(k)` the leaf operator calls
of one step counted on the CPU (about one kernel launch each on a GPU, where networks this
small are launch-bound), :math:`t(k)` the CPU seconds of one step and :math:`c` the fixed
seconds of a run (set-up, data loading, final evaluation), both from timing whole engine runs
of two lengths on the CPU (one thread), :math:`o` and :math:`t`
linear in k (fitted on k = 2 and 3, AdamW at k = 1), :math:`\tau` = ``seconds_per_op`` the
aggregate GPU time per operator of a measured GPU record, :math:`f` the FLOPs of one example's
forward and backward pass (``torch.utils.flop_counter``), :math:`F` = ``sustained_flops`` an
assumed sustained rate and :math:`P` = ``processes``. It also prints what stacking the seeds
of a cell would give on a GPU (the launch term divided by the seeds per stack).
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

KEYS = ("processes", "seconds_per_op", "sustained_flops", "budget_s", "max_widen",
        "widen_factor", "probe_batch")
DEVICES = ("cpu", "cuda")


def load(config_path) -> tuple[dict, dict]:
    """``(section, run)`` of a protocol config: the family section (with the shared
    ``verdicts`` and ``instability``), checked against the schema's ``kadam_optimizer``, and
    the ``standalone`` block with the config's ``device``. Prints the parse-time MDE warning
    (:func:`.power.warn`)."""
    import jsonschema

    from ctadam.experiments.kadam_optimizer import power

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
    run = config.get("standalone")
    if not isinstance(run, dict) or sorted(run) != sorted(KEYS):
        raise ValueError(f"{config_path}: standalone must have exactly the keys {list(KEYS)}, "
                         f"got {None if run is None else sorted(run)}")
    for key in KEYS:
        value = run[key]
        integer = key in ("processes", "max_widen", "probe_batch")
        low, strict = {"max_widen": (0, False), "widen_factor": (1, True)}.get(
            key, (1, False) if integer else (0, True))
        ok = (not isinstance(value, bool) and isinstance(value, int if integer else int | float)
              and (value > low if strict else value >= low))
        if not ok:
            kind = "an integer" if integer else "a number"
            raise ValueError(f"{config_path}: standalone.{key} must be {kind} "
                             f"{'>' if strict else '>='} {low}, got {value!r}")
    if config.get("device") not in DEVICES:
        raise ValueError(f"{config_path}: device must be one of {DEVICES}, got "
                         f"{config.get('device')!r}")
    power.warn(section)
    return section, {**run, "device": config["device"]}


def epochs(section: dict, task: str, n_images: int) -> float:
    """Passes over ``n_images`` training samples that one run of ``task`` makes."""
    spec = section["tasks"][task]
    return spec["steps"] * spec["batch_size"] / n_images


def _probe_data(task: str, src: str, n: int, where: Path) -> str:
    """A small copy of ``src`` (the first ``n`` samples of each split; Shakespeare whole):
    enough to count and time steps."""
    import numpy as np

    from ctadam.experiments.kadam_optimizer.split import _save_npz

    if task == "shakespeare":
        return src
    with np.load(src) as npz:
        arrays = {k: npz[k][:n] for k in ("x_train", "y_train", "x_test", "y_test")}
    path = where / f"probe_{task}.npz"
    _save_npz(path, arrays)
    return str(path)


KINDS = (("adamw", 1), ("nomom", 2), ("nomom", 3), ("theory", 2), ("theory", 3))


def _kind(method: str) -> str:
    return "adamw" if method == "adamw" else "kadam-pooled" if method == "theory" else "kadam"


def _fit(values: dict) -> dict:
    """``{kind: {a, b}}`` with ``value(k) = a + b k`` from ``values[(method, k)]``."""
    out = {"adamw": {"a": values[("adamw", 1)], "b": 0.0}}
    for method in ("nomom", "theory"):
        two, three = values[(method, 2)], values[(method, 3)]
        slope = max(0.0, three - two)  # a level never saves time (noise can say otherwise)
        out[_kind(method)] = {"a": two - 2 * slope, "b": slope}
    return out


def _timed_run(section: dict, cell: dict, data: str, steps: int) -> float:
    """Wall seconds of one whole engine run of ``cell`` with ``steps`` steps on the CPU (set-up,
    data loading, training with its per-step statistics, the final evaluation)."""
    from ctadam import train

    spec = section["tasks"][cell["task"]]
    short = {**section, "tasks": {**section["tasks"], cell["task"]: {**spec, "steps": steps}}}
    start = time.perf_counter()
    train.run(plan.run_config(short, cell, spec["lrs"][0], 0, data), device="cpu")
    return time.perf_counter() - start


def measure(section: dict, run: dict, data: dict) -> dict:
    """Per task and norm: the fits (:func:`_fit`) of the CPU operator count of one step (on a
    small copy of the data, batch ``probe_batch``) and of the CPU seconds of one step, and the
    fixed seconds of a run (set-up, data loading, final evaluation), both from whole runs of
    ``n`` and ``3n`` steps on the task's data (one thread): ``wall = c + d steps``; and the
    training FLOPs per example. Whole runs are timed only for a CPU config (``run["device"]``);
    for a GPU config the CPU step is timed alone (:func:`.gpu_cell.time_cell`, ``c = 0``), a
    reference only, since a whole run on the CPU (full evaluation) takes long."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ctadam import train
    from ctadam.experiments.kadam_optimizer import gpu_cell

    torch.set_num_threads(1)
    out = {"ops": {}, "cpu_step_s": {}, "cpu_run_fixed_s": {}, "flops_per_example": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for task in section["run_tasks"]:
            spec = section["tasks"][task]
            small = _probe_data(task, data[task], max(spec["batch_size"], run["probe_batch"])
                                * 2, Path(tmp))
            probe = {**section, "tasks": {**section["tasks"],
                                          task: {**spec, "batch_size": run["probe_batch"]}}}
            n = max(1, min(10, spec["steps"] // 3))
            for norm in spec["norms"]:
                ops, secs, fixed = {}, {}, []
                for method, k in KINDS:
                    cell = {"task": task, "norm": norm, "method": method, "k": k}
                    ops[(method, k)] = gpu_cell.ops_per_step(probe, cell, small)
                    if run["device"] != "cpu":
                        secs[(method, k)] = gpu_cell.time_cell(section, cell, small, 3, 1, "cpu")
                        fixed.append(0.0)
                        continue
                    short, long = (_timed_run(section, cell, data[task], m) for m in (n, 3 * n))
                    secs[(method, k)] = max(0.0, (long - short) / (2 * n))
                    fixed.append(max(0.0, short - n * secs[(method, k)]))
                out["ops"][f"{task}/{norm}"] = _fit(ops)
                out["cpu_step_s"][f"{task}/{norm}"] = _fit(secs)
                out["cpu_run_fixed_s"][f"{task}/{norm}"] = sum(fixed) / len(fixed)
            s = train.setup(plan.run_config(probe, {"task": task, "norm": spec["norms"][-1],
                                                    "method": "adamw", "k": 1},
                                            spec["lrs"][0], 0, small), "cpu")
            with FlopCounterMode(display=False) as counter:
                train.step(s, 1)
            out["flops_per_example"][task] = counter.get_total_flops() / run["probe_batch"]
    return out


def per_step(fits: dict, cell: dict) -> float:
    """A fitted per-step quantity (:func:`_fit`) of ``cell``."""
    fit = fits[f"{cell['task']}/{cell['norm']}"][_kind(cell["method"])]
    return fit["a"] + fit["b"] * (0 if cell["method"] == "adamw" else cell["k"])


def estimate(section: dict, run: dict, measured: dict, n_train: dict) -> dict:
    """The plan and its estimated time (see the module doc; an estimate, not a measurement)."""
    cells = plan.cells(section)
    n_sel, n_fin = len(section["select_seeds"]), len(section["seeds"])
    grid = {t: len(plan.lr_grid(section, {"task": t, "method": "adamw"}))
            for t in section["run_tasks"]}
    launch = stacked = compute = cpu = 0.0
    tasks = {}
    for c in cells:
        spec = section["tasks"][c["task"]]
        runs = grid[c["task"]] * n_sel + n_fin
        steps = spec["steps"]
        t = tasks.setdefault(c["task"], {"cells": 0, "select_runs": 0, "final_runs": 0,
                                         "steps_per_run": steps,
                                         "batch_size": spec["batch_size"],
                                         "epochs": epochs(section, c["task"],
                                                          n_train[c["task"]])})
        t["cells"] += 1
        t["select_runs"] += grid[c["task"]] * n_sel
        t["final_runs"] += n_fin
        per_run = steps * per_step(measured["ops"], c) * run["seconds_per_op"]
        launch += per_run * runs
        stacked += per_run * (grid[c["task"]] + 1)  # one stack per rate, one of the finals
        compute += (runs * steps * spec["batch_size"] * measured["flops_per_example"][c["task"]]
                    / run["sustained_flops"])
        cpu += runs * (steps * per_step(measured["cpu_step_s"], c)
                       + measured["cpu_run_fixed_s"][f"{c['task']}/{c['norm']}"]
                       ) / run["processes"]
    gpu = max(launch, compute)
    est = gpu if run["device"] == "cuda" else cpu
    n_runs = sum(t["select_runs"] + t["final_runs"] for t in tasks.values())
    return {"tasks": tasks, "cells": len(cells), "runs": n_runs,
            "select_runs": sum(t["select_runs"] for t in tasks.values()),
            "final_runs": sum(t["final_runs"] for t in tasks.values()),
            "total_steps": sum((t["select_runs"] + t["final_runs"]) * t["steps_per_run"]
                               for t in tasks.values()),
            "widen_max_extra_runs": run["max_widen"] * 2 * n_sel * len(cells),
            "device": run["device"], "processes": run["processes"],
            "launch_bound_s": launch, "compute_bound_s": compute, "gpu_estimate_s": gpu,
            "gpu_stacked_estimate_s": max(stacked, compute), "cpu_estimate_s": cpu,
            "estimate_s": est, "budget_s": run["budget_s"], "fits_budget": est <= run["budget_s"],
            "seconds_per_op": run["seconds_per_op"], "sustained_flops": run["sustained_flops"],
            "stacked": False, **measured,
            "note": "an estimate, not a measurement: operators counted and steps timed on the "
                    "CPU (one thread); seeds run as separate jobs (ctadam.ensemble stacks MLPs "
                    "only); the GPU estimate counts training steps only, the CPU one whole "
                    "runs"}


def describe(p: dict) -> str:
    """The plan in words (what ``--dry-run`` prints)."""
    lines = [f"{task}: {t['cells']} cells, {t['select_runs']} selection + {t['final_runs']} "
             f"final runs of {t['steps_per_run']} steps, batch {t['batch_size']} "
             f"({t['epochs']:.2f} epochs)" for task, t in p["tasks"].items()]
    lines += [
        f"in all {p['runs']} runs, {p['total_steps']:,} steps (grid widening may add up to "
        f"{p['widen_max_extra_runs']} selection runs)",
        f"ESTIMATE on one GPU (not measured): {p['gpu_estimate_s'] / 60:.1f} min = "
        f"max(launch-bound {p['launch_bound_s'] / 60:.1f} min at {p['seconds_per_op']:.3g} "
        f"s/operator, compute-bound {p['compute_bound_s'] / 60:.1f} min at "
        f"{p['sustained_flops']:.3g} FLOP/s); with the seeds of a cell stacked (not "
        f"implemented): {p['gpu_stacked_estimate_s'] / 60:.1f} min",
        f"ESTIMATE on the CPU ({'whole runs' if p['device'] == 'cpu' else 'training steps'} "
        f"timed, one thread each, {p['processes']} processes): "
        f"{p['cpu_estimate_s'] / 60:.1f} min",
        f"device {p['device']}: {p['estimate_s'] / 60:.1f} min against a budget of "
        f"{p['budget_s'] / 60:.0f} min: " + ("fits" if p["fits_budget"] else "does NOT fit")]
    return "\n".join(lines)


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


def _split(section: dict, data: dict, work: Path) -> dict:
    from ctadam.experiments.kadam_optimizer.split import split

    paths = {}
    for task in section["run_tasks"]:
        spec = section["tasks"][task]
        paths[task] = {stage: str(work / f"{task}_{stage}.npz") for stage in plan.STAGES}
        split(task, data[task], paths[task]["select"], paths[task]["final"],
              spec.get("n_train"), spec.get("n_test"), spec.get("n_val", 500),
              spec.get("val_fraction", 0.1))
    return paths


def run_protocol(config_path, out, work, data: dict, device: str, argv: list[str]) -> list:
    """The whole protocol (see the module doc); returns its claim rows."""
    from ctadam.experiments.kadam_optimizer.selection import choose
    from ctadam.experiments.kadam_optimizer.summary import summarize
    from ctadam.experiments.kadam_optimizer.verdict import CLAIM_TASKS, claim_row
    from ctadam.io import write_json_atomic

    section, run = load(config_path)
    out, work = Path(out), Path(work)
    out.mkdir(parents=True, exist_ok=True)
    (out / "command.txt").write_text(shlex.join(argv) + "\n", encoding="utf-8")
    start = time.perf_counter()
    paths = _split(section, data, work)
    select_data = {t: p["select"] for t, p in paths.items()}
    final_data = {t: p["final"] for t, p in paths.items()}
    rounds, previous = [], None
    for r in range(run["max_widen"] + 1):
        here = out / "select" / f"round{r}"
        job_list = plan.select_jobs(section, select_data)
        if previous is not None:
            _reuse(previous, here, job_list)
            if not any(previous.iterdir()):
                previous.rmdir()
        _train(job_list, work / "configs" / f"select{r}", here, run["processes"], device)
        selection = choose(section, protocol.read_records([here]))
        rounds.append({t: list(section["tasks"][t]["lrs"]) for t in section["run_tasks"]})
        previous = here
        if r == run["max_widen"] or not widen(section, selection, run["widen_factor"]):
            break
    write_json_atomic(out / "selection.json", selection)
    chosen = {name: s["lr"] for name, s in selection.items()}
    _train(plan.final_jobs(section, final_data, chosen), work / "configs" / "final",
           out / "final", run["processes"], device)
    write_json_atomic(out / "section.json", section)
    summary = {**summarize(protocol.read_records([previous, out / "final"]), section),
               "standalone_config": Path(config_path).name}
    write_json_atomic(out / "summary.json", summary)
    rule = f"kadam_optimizer protocol ({summary['standalone_config']})"
    rows = [claim_row(cid, summary, section, rule) for cid, tasks in CLAIM_TASKS.items()
            if set(tasks) & set(section["verdict_tasks"])]
    write_json_atomic(out / "claims.json", rows)
    write_json_atomic(out / "plan.json", {
        "grids": rounds, "wall_s": time.perf_counter() - start, "device": device,
        "config": str(config_path), "edge_cells": sum(s["at_edge"] for s in selection.values())})
    return rows


def _n_train(section: dict, data: dict) -> dict:
    """Training samples per task (Shakespeare: characters / block size as "samples")."""
    import numpy as np

    out = {}
    for task in section["run_tasks"]:
        spec = section["tasks"][task]
        with np.load(data[task]) as npz:
            if task == "shakespeare":
                n = len(npz["train"]) // spec["model"].get("block_size", 1)
            else:
                n = len(npz["y_train"])
        out[task] = n if spec.get("n_train") is None else min(n, spec["n_train"])
    return out


def dry_run(config_path, data: dict, out=None) -> dict:
    """Plan the protocol and estimate its time from CPU measurements; print it."""
    from ctadam.io import write_json_atomic

    section, run = load(config_path)
    p = estimate(section, run, measure(section, run, data), _n_train(section, data))
    print(describe(p), flush=True)
    if out is not None:
        write_json_atomic(Path(out) / "plan.json", p)
    return p


def add_parser(sub) -> None:
    """The ``protocol`` subcommand of ``python -m ctadam.experiments.kadam_optimizer``."""
    g = sub.add_parser("protocol", help="a standalone protocol run (or its plan)")
    g.add_argument("--config", required=True, help="config/gpu_kadam.yaml or medium_kadam.yaml")
    g.add_argument("--out", required=True, help="records folder, e.g. data/device/kadam_cifar10")
    g.add_argument("--work", default="data/kadam_optimizer_standalone",
                   help="split data and configs (git-ignored)")
    g.add_argument("--data", nargs="*", default=[], metavar="TASK=PATH",
                   help="dataset file per task (default ctadam.paths.DATASETS)")
    g.add_argument("--device", choices=DEVICES, help="default: the config's device")
    g.add_argument("--dry-run", action="store_true", help="print the plan and its estimate")


def main(args, argv: list[str]) -> None:
    data = dict(DATASETS)
    for item in args.data:
        task, sep, path = item.partition("=")
        if not sep or task not in DATASETS:
            raise ValueError(f"--data must be TASK=PATH with TASK in {sorted(DATASETS)}, got "
                             f"{item!r}")
        data[task] = path
    if args.dry_run:
        dry_run(args.config, data, args.out)
        return
    device = args.device or yaml.safe_load(Path(args.config).read_text())["device"]
    for row in run_protocol(args.config, args.out, args.work, data, device, argv):
        print(f"{row['id']}: {row['verdict']} ({row['measure']})", flush=True)
