"""Throughput of a stacked ensemble against its members trained one after another.

Usage::

    python -m ctadam.bench.ensemble --out data/bench/ensemble.json

Trains ``--members`` MNIST-1D-sized MLPs (:class:`ctadam.models.MLP` defaults: 40 inputs,
hidden (64, 64), 10 classes; float64, one thread by default) for ``--steps`` KAdam steps each
on its own random batches, twice in each round and in the same process: *sequential* (each
member its own model and optimizer, one after another) and *stacked* (one
:class:`ctadam.ensemble.StackedMLP` and one KAdam with ``ensemble_dims=1``). The record holds,
per optimizer configuration, the median time of each over ``--rounds`` rounds (after one
untimed warm-up round), the speed-up
``sequential / stacked`` (the stacked-over-sequential throughput ratio), and the relative
difference of member 0 after the first round between the two (the same work was done).
"""

import argparse
import os
import platform
import statistics
import time

import torch

from ctadam.checks import check_int
from ctadam.ensemble import member_losses, seeded_mlps, stack
from ctadam.io import write_json_atomic, write_macros
from ctadam.optim import KAdam

# The configurations timed: Adam (k = 1) and the paper's theory setting of 2-Adam.
CONFIGS = {"k1": dict(k=1),
           "k2_theory": dict(k=2, betas=[(0.9, 0.999), (0.0, 0.99)], pooled=[False, True],
                             weight_decay=0.1)}


def batches(members: int, steps: int, batch: int, device: str) -> list:
    gen = torch.Generator().manual_seed(0)
    return [(torch.randn(members, batch, 40, generator=gen, dtype=torch.float64).to(device),
             torch.randint(0, 10, (members, batch), generator=gen).to(device))
            for _ in range(steps)]


def sequential(models, opts: dict, data) -> float:
    """Seconds to train every member alone for all of ``data``, one member after another."""
    optimizers = [KAdam(m.parameters(), lr=1e-3, **opts) for m in models]
    start = time.perf_counter()
    for i, (model, opt) in enumerate(zip(models, optimizers, strict=True)):
        for x, y in data:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i]), y[i]).backward()
            opt.step()
    _sync(data[0][0])
    return time.perf_counter() - start


def stacked_run(model, opts: dict, data) -> float:
    """Seconds to train the stacked ensemble for all of ``data``."""
    opt = KAdam(model.parameters(), lr=1e-3, ensemble_dims=1, **opts)
    start = time.perf_counter()
    for x, y in data:
        opt.zero_grad()
        member_losses(model(x), y).sum().backward()
        opt.step()
    _sync(data[0][0])
    return time.perf_counter() - start


def _sync(t: torch.Tensor) -> None:
    if t.is_cuda:
        torch.cuda.synchronize()


def measure(members: int, steps: int, batch: int, rounds: int, threads: int,
            device: str) -> dict:
    """Run the benchmark (module docstring) and return the record."""
    for name, value in (("members", members), ("steps", steps), ("batch", batch),
                        ("rounds", rounds), ("threads", threads)):
        check_int(name, value, 1)
    if device not in ("cpu", "cuda") or (device == "cuda" and not torch.cuda.is_available()):
        raise ValueError(f"device must be 'cpu' or an available 'cuda', got {device!r}")
    torch.set_num_threads(threads)
    data = batches(members, steps, batch, device)
    seeds = range(members)
    results = {}
    for name, opts in CONFIGS.items():
        times = {"sequential": [], "stacked": []}
        diff = None
        for r in range(-1, rounds):  # round -1 warms up (allocator, first calls), untimed
            solo = [m.double().to(device) for m in seeded_mlps(seeds)]
            ensemble = stack(seeded_mlps(seeds)).double().to(device)
            seq, stk = sequential(solo, opts, data), stacked_run(ensemble, opts, data)
            if r < 0:
                continue
            times["sequential"].append(seq)
            times["stacked"].append(stk)
            if diff is None:
                a = torch.cat([p.detach().flatten() for p in _member_order(solo[0])])
                b = torch.cat([p.detach()[0].flatten() for p in (*ensemble.weights,
                                                                  *ensemble.biases)])
                diff = ((a - b).abs().max() / a.abs().max()).item()
        seq, stk = statistics.median(times["sequential"]), statistics.median(times["stacked"])
        results[name] = {"options": dict(opts), "sequential_s": seq,
                         "stacked_s": stk, "speedup": seq / stk, "samples_s": times,
                         "member0_max_rel_diff": diff}
    return {"members": members, "steps": steps, "batch": batch, "rounds": rounds,
            "threads": threads, "device": device, "dtype": "float64",
            "arch": "MLP(40, (64, 64), 10)", "results": results,
            "machine": {"torch": torch.__version__, "python": platform.python_version(),
                        "platform": platform.platform(), "cpus": os.cpu_count(),
                        "gpu": torch.cuda.get_device_name() if device == "cuda" else None}}


def macros(record: dict) -> dict[str, str]:
    """The paper's numbers: members, steps and each configuration's stacked speed-up."""
    names = {"k1": "KOne", "k2_theory": "KTwoTheory"}
    out = {"BenchEnsembleMembers": str(record["members"]),
           "BenchEnsembleSteps": str(record["steps"])}
    for key, result in record["results"].items():
        out[f"BenchEnsembleSpeedup{names[key]}"] = f"{result['speedup']:.1f}"
    return out


def _member_order(model) -> list:
    """A plain MLP's Linear weights then biases: the order of a StackedMLP's parameters."""
    linears = [m for m in model.layers if isinstance(m, torch.nn.Linear)]
    return [m.weight for m in linears] + [m.bias for m in linears]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ctadam.bench.ensemble", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="JSON record to write")
    parser.add_argument("--members", type=int, default=64, help="ensemble size (default 64)")
    parser.add_argument("--steps", type=int, default=20, help="steps per round (default 20)")
    parser.add_argument("--batch", type=int, default=32, help="batch per member (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--macros", help="also write the speed-ups as paper macros here")
    args = parser.parse_args(argv)
    record = measure(args.members, args.steps, args.batch, args.rounds, args.threads,
                     args.device)
    write_json_atomic(args.out, record)
    if args.macros:
        write_macros(args.macros, macros(record), "python -m ctadam.bench.ensemble")
    for name, r in record["results"].items():
        print(f"{name}: sequential {r['sequential_s']:.3f} s, stacked {r['stacked_s']:.3f} s, "
              f"stacked/sequential throughput {r['speedup']:.1f}x "
              f"(member 0 rel diff {r['member0_max_rel_diff']:.1e})")


if __name__ == "__main__":
    main()
