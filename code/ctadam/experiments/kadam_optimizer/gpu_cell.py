"""Time the k-Adam study of a profile: measured step times, projected total (an estimate).

Runs ``--steps`` steps of one representative cell per (task, optimizer kind, k) of the
profile's ``kadam_optimizer`` section on ``--device`` (one process, seed 0, the profile's sizes),
measures the seconds per step after ``--warmup`` steps, and projects the family's time as

    T = sum over every selection and final job of steps_job * t_step(task, kind, k) / shards

(``shards`` processes sharing the device; data loading and evaluation not counted, so T is
a lower bound on one device whose throughput scales with the shards).

Without a GPU, ``--ops`` also counts the leaf operator calls of one step on the CPU (each is
about one kernel launch on a GPU, where networks this small are launch-bound) and projects a
GPU time as ``ops_job * seconds_per_op`` summed over every job, with ``--seconds-per-op`` the
aggregate GPU time per operator measured elsewhere (e.g. from the H100 record in
``data/device``). Writes one JSON::

    PYTHONPATH=code python -m ctadam.experiments.kadam_optimizer.gpu_cell \\
        --config config/gpu.yaml --device cuda --steps 30 --warmup 5 --out timing.json
"""

import argparse
import time

import yaml

from ctadam.experiments.kadam_optimizer import plan as kadam_plan
from ctadam.io import write_json_atomic


def kind(cell: dict) -> tuple[str, str, str, int]:
    """Timing key of a cell: task, norm, optimizer kind (adamw, lion, kadam, kadam-pooled), k."""
    name = cell["method"]
    if name in kadam_plan.STRATEGIES:
        name = "kadam-pooled" if name == "theory" else "kadam"
    return cell["task"], cell["norm"], name, cell["k"]


def time_cell(ka: dict, cell: dict, data: str, steps: int, warmup: int, device: str) -> float:
    """Seconds per optimizer step of ``cell`` (mean over ``steps`` after ``warmup``): the
    engine's own set-up and step (:func:`ctadam.train.setup`, :func:`ctadam.train.step`)."""
    import torch

    from ctadam import train

    s = train.setup(kadam_plan.run_config(ka, cell, ka["tasks"][cell["task"]]["lrs"][0], 0,
                                          data), device)
    start = 0.0
    for n in range(1, warmup + steps + 1):
        if n == warmup + 1:
            if s.device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        train.step(s, n)
    if s.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def ops_per_step(ka: dict, cell: dict, data: str) -> float:
    """Leaf ``aten`` operator calls per training step of ``cell`` on the CPU (torch.profiler):
    the count of a 3-step run minus that of a 1-step run, halved (set-up cancels)."""
    from torch.profiler import ProfilerActivity, profile

    counts = []
    for steps in (1, 3):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            time_cell(ka, cell, data, steps, 0, "cpu")
        counts.append(sum(1 for e in prof.events()
                          if not e.cpu_children and e.name.startswith("aten::")))
    return (counts[1] - counts[0]) / 2


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="a profile, e.g. config/gpu.yaml")
    parser.add_argument("--device", required=True, choices=("cpu", "cuda", "auto"))
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--data", nargs="+", required=True, metavar="TASK=PATH",
                        help="dataset file per task, e.g. cifar10=data/cifar10/cifar10.npz")
    parser.add_argument("--ops", action="store_true", help="also count operators per step")
    parser.add_argument("--seconds-per-op", type=float, default=None,
                        help="aggregate GPU seconds per operator, for the GPU projection")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    with open(args.config, encoding="utf-8") as handle:
        ka = yaml.safe_load(handle)["kadam_optimizer"]
    data = dict(item.split("=", 1) for item in args.data)
    cells = kadam_plan.cells(ka)
    step_s, ops = {}, {}
    for cell in cells:
        key = kind(cell)
        if key not in step_s:
            step_s[key] = time_cell(ka, cell, data[cell["task"]], args.steps, args.warmup,
                                    args.device)
            if args.ops:
                ops[key] = ops_per_step(ka, cell, data[cell["task"]])
            print(f"{key}: {1e3 * step_s[key]:.2f} ms/step, {ops.get(key, 0):.0f} ops/step",
                  flush=True)
    runs = {c["name"]: len(ka["tasks"][c["task"]]["lrs"]) * len(ka.get("select_seeds", [0]))
            + len(ka["seeds"]) for c in cells}
    steps = {c["name"]: ka["tasks"][c["task"]]["steps"] * runs[c["name"]] for c in cells}
    total = sum(steps[c["name"]] * step_s[kind(c)] for c in cells) / ka["shards"]
    out = {"config": args.config, "device": args.device, "shards": ka["shards"],
           "step_ms": {"/".join(map(str, k)): 1e3 * v for k, v in step_s.items()},
           "runs": sum(runs.values()), "steps": sum(steps.values()), "projected_s": total}
    if ops:
        out["ops_per_step"] = {"/".join(map(str, k)): v for k, v in ops.items()}
        out["ops"] = sum(steps[c["name"]] * ops[kind(c)] for c in cells)
        if args.seconds_per_op is not None:
            out["gpu_projected_s"] = out["ops"] * args.seconds_per_op
    write_json_atomic(args.out, out)
    print(f"{out['runs']} runs, {out['steps']} steps, projected {total / 60:.1f} min with "
          f"{ka['shards']} shards on {args.device} (training steps only)"
          + (f"; GPU estimate {out['gpu_projected_s'] / 60:.1f} min"
             if "gpu_projected_s" in out else ""))


if __name__ == "__main__":
    main()
