"""Overhead of the training engine: :func:`ctadam.train.run` against a bare PyTorch loop.

Both loops train the same seeded model on the same data with the same optimizer for the
same number of steps, in one process, alternating (engine, bare, engine, bare, ...) so that
machine load affects both alike. The engine's time is its recorded loop time
(``record["timing"]["wall_time_s"]``: steps, bookkeeping, monitor, logging and the final
evaluation); the bare loop is ``zero_grad, forward, loss, backward, step`` followed by the
same final evaluation. Overhead = median(engine) / median(bare) - 1.

Usage::

    python -m ctadam.bench.harness --data data/mnist1d/mnist1d.npz --steps 300 --repeats 5 \
        --out data/bench/harness.json [--macros paper/generated/numbers_harness.tex]
"""

import argparse
import statistics
import sys
import time

import torch

from ctadam import io
from ctadam.checks import check_int
from ctadam.runconfig import validate_config
from ctadam.train import evaluate, loss_fn, run, setup

CASES = {
    # The quick sweep's setting, and the setting of our first checks of the stable region (README).
    "small": {"n_train": 200, "model": {"hidden": [32, 32]}, "dtype": "float64"},
    "notes": {"n_train": 1000, "model": {"hidden": [64, 64]}, "dtype": "float32"},
}


def case_config(name: str, data: str, steps: int) -> dict:
    """The :mod:`ctadam.train` config of a harness case (full-batch Adam, default logging)."""
    return validate_config({"task": "mnist1d", "data": data, "steps": steps,
                            "optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.999]},
                            **CASES[name]})


def bare_loop(cfg: dict, device: str = "cpu") -> float:
    """Seconds of a minimal loop with the same model, data, optimizer and final evaluation
    (built by the engine's :func:`ctadam.train.setup`)."""
    s = setup(cfg, device)
    model, opt, x_tr, y_tr = s.model, s.optimizer, s.x_train, s.y_train
    t0 = time.perf_counter()
    for _ in range(cfg["steps"]):
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x_tr), y_tr).backward()
        opt.step()
    evaluate(model, x_tr, y_tr)
    evaluate(model, s.x_test, s.y_test)
    return time.perf_counter() - t0


def layer_widths(cfg: dict, device: str = "cpu") -> list[int]:
    """Widths of the case's network, input to output (e.g. ``[40, 64, 64, 10]``)."""
    linears = [m for m in setup(cfg, device).model.modules() if isinstance(m, torch.nn.Linear)]
    return [linears[0].in_features] + [m.out_features for m in linears]


def case_macros(name: str, cfg: dict, widths: list[int]) -> dict[str, str]:
    """Macros describing one case: network widths, training samples and dtype."""
    key = name.capitalize()
    return {f"SweepHarness{key}Net": "--".join(str(w) for w in widths),
            f"SweepHarness{key}NTrain": str(cfg["n_train"]),
            f"SweepHarness{key}Dtype": cfg["dtype"]}


def measure(cfg: dict, repeats: int, device: str = "cpu") -> dict:
    """Alternate engine and bare runs ``repeats`` times; medians and the relative overhead."""
    engine, bare = [], []
    for _ in range(repeats):
        engine.append(run(cfg, device=device)["timing"]["wall_time_s"])
        bare.append(bare_loop(cfg, device))
    med_e, med_b = statistics.median(engine), statistics.median(bare)
    return {"engine_s": engine, "bare_s": bare, "engine_median_s": med_e,
            "bare_median_s": med_b, "overhead": med_e / med_b - 1.0,
            "steps": cfg["steps"], "us_per_step_bare": 1e6 * med_b / cfg["steps"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctadam.bench.harness",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="MNIST-1D cache (.npz)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--out", required=True, help="JSON result")
    parser.add_argument("--macros", default=None, help="LaTeX macros (\\SweepHarness...)")
    args = parser.parse_args(argv)
    torch.set_num_threads(check_int("threads", args.threads, 1))
    steps, repeats = check_int("steps", args.steps, 1), check_int("repeats", args.repeats, 1)
    configs = {name: case_config(name, args.data, steps) for name in CASES}
    result = {name: {**measure(cfg, repeats, args.device), "n_train": cfg["n_train"],
                     "dtype": cfg["dtype"], "widths": layer_widths(cfg, args.device)}
              for name, cfg in configs.items()}
    result["device"], result["threads"] = args.device, args.threads
    io.write_json_atomic(args.out, result)
    if args.macros:
        described = {}
        for name, cfg in configs.items():
            described.update(case_macros(name, cfg, result[name]["widths"]))
        io.write_macros(args.macros, {
            "SweepHarnessOverheadSmall": f"{100 * result['small']['overhead']:.1f}",
            "SweepHarnessOverheadNotes": f"{100 * result['notes']['overhead']:.1f}",
            "SweepHarnessSteps": str(steps), "SweepHarnessRepeats": str(repeats),
            **described}, "Engine overhead (python -m ctadam.bench.harness).")
    for name in CASES:
        r = result[name]
        print(f"{name}: engine {r['engine_median_s']:.3f} s, bare {r['bare_median_s']:.3f} s, "
              f"overhead {100 * r['overhead']:+.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
