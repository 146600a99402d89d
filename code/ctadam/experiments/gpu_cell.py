"""Time the k-Adam study of a profile: measured step times, projected total (an estimate).

Runs ``--steps`` steps of one representative cell per (task, optimizer kind, k) of the
profile's ``kadam`` section on ``--device`` (one process, seed 0, the profile's sizes),
measures the seconds per step after ``--warmup`` steps, and projects the family's time as

    T = sum over every selection and final job of steps_job * t_step(task, kind, k) / shards

(``shards`` processes sharing the device; data loading and evaluation not counted, so T is
a lower bound on one device whose throughput scales with the shards). Writes one JSON::

    PYTHONPATH=code python -m ctadam.experiments.gpu_cell --config config/gpu.yaml \\
        --device cuda --steps 30 --warmup 5 --out timing.json
"""

import argparse
import time

import yaml

from ctadam.experiments import kadam_plan
from ctadam.io import write_json_atomic


def kind(cell: dict) -> tuple[str, str, int]:
    """Timing key of a cell: its task, optimizer kind (adamw, lion, kadam) and k."""
    name = "kadam" if cell["method"] in kadam_plan.STRATEGIES else cell["method"]
    return cell["task"], name, cell["k"]


def time_cell(ka: dict, cell: dict, data: str, steps: int, warmup: int, device: str) -> float:
    """Seconds per optimizer step of ``cell`` (mean over ``steps`` after ``warmup``)."""
    import torch

    from ctadam import train

    cfg = train.validate_config(kadam_plan.run_config(ka, cell, ka["tasks"][cell["task"]]
                                                      ["lrs"][0], 0, data))
    dev = train.resolve_device(device)
    ds, (x_tr, y_tr, _, _) = train.load_task(cfg, dev)
    model = train.build_model(cfg, x_tr, y_tr, dev)
    opt = train.make_optimizer(model.parameters(), cfg["optimizer"])
    batches = train.sampler(cfg, ds, x_tr, y_tr)
    start = 0.0
    for n in range(1, warmup + steps + 1):
        if n == warmup + 1:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        xb, yb = batches.batch(n)
        opt.zero_grad(set_to_none=True)
        train.loss_fn(model(xb), yb).backward()
        opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="a profile, e.g. config/gpu.yaml")
    parser.add_argument("--device", required=True, choices=("cpu", "cuda", "auto"))
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--data", nargs="+", required=True, metavar="TASK=PATH",
                        help="dataset file per task, e.g. cifar10=data/cifar10/cifar10.npz")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    with open(args.config, encoding="utf-8") as handle:
        ka = yaml.safe_load(handle)["kadam"]
    data = dict(item.split("=", 1) for item in args.data)
    cells = kadam_plan.cells(ka)
    step_s = {}
    for cell in cells:
        key = kind(cell)
        if key not in step_s:
            step_s[key] = time_cell(ka, cell, data[cell["task"]], args.steps, args.warmup,
                                    args.device)
            print(f"{key}: {1e3 * step_s[key]:.2f} ms/step", flush=True)
    per_cell = {c["name"]: ka["tasks"][c["task"]]["steps"] * step_s[kind(c)] for c in cells}
    runs = {c["name"]: len(ka["tasks"][c["task"]]["lrs"]) + len(ka["seeds"]) for c in cells}
    total = sum(per_cell[n] * runs[n] for n in per_cell) / ka["shards"]
    write_json_atomic(args.out, {
        "config": args.config, "device": args.device, "shards": ka["shards"],
        "step_ms": {"/".join(map(str, k)): 1e3 * v for k, v in step_s.items()},
        "runs": sum(runs.values()), "projected_s": total})
    print(f"{sum(runs.values())} runs, projected {total / 60:.1f} min with {ka['shards']} "
          f"shards (training steps only)")


if __name__ == "__main__":
    main()
