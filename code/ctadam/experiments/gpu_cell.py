"""One full-profile Shakespeare cell of the k-Adam benchmark on a GPU, as a timing check.

Runs k in {1, 2} x norm in {none, layer} of the character transformer with the settings of
``config/full.yaml`` (``kadam.tasks.shakespeare``), seed 0, one fixed learning rate (no
selection over the grid: this is a cost and sanity check, not a table entry), the four runs in
parallel processes on one CUDA device. Writes one JSON record with the wall time and the
validation curve of each run::

    PYTHONPATH=code python -m ctadam.experiments.gpu_cell --out cell.json
"""

import argparse
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor

import yaml

from ctadam.io import write_json_atomic


def _one(job: tuple) -> dict:
    import torch

    from ctadam.experiments.kadam_bench import run_char, train_config

    k, norm, lr, data, params = job
    torch.set_num_threads(2)
    cfg = train_config("shakespeare", data, norm, k, lr, 0, params)
    start = time.perf_counter()
    rec = run_char(cfg, device="cuda")
    torch.cuda.synchronize()
    losses = rec["eval"]["test_loss"]
    return {"k": k, "norm": norm, "lr": lr, "seed": 0, "steps": cfg["steps"],
            "status": rec["status"], "wall_s": time.perf_counter() - start,
            "val_loss": losses[-1] if losses else None,
            "val_acc": rec["eval"]["test_acc"][-1] if losses else None,
            "eval": rec["eval"], "device": torch.cuda.get_device_name()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/full.yaml")
    parser.add_argument("--data", default="data/shakespeare/shakespeare.npz")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as handle:
        kadam = yaml.safe_load(handle)["kadam"]
    params = dict(kadam["tasks"]["shakespeare"], betas=kadam["betas"],
                  weight_decay=kadam["weight_decay"])
    jobs = [(k, norm, args.lr, args.data, params) for k in (1, 2) for norm in ("none", "layer")]
    start = time.perf_counter()
    with ProcessPoolExecutor(len(jobs), mp_context=mp.get_context("spawn")) as pool:
        runs = list(pool.map(_one, jobs))
    write_json_atomic(args.out, {"total_wall_s": time.perf_counter() - start,
                                 "params": params, "runs": runs})
    for r in runs:
        print(f"k={r['k']} norm={r['norm']}: {r['status']}, final validation loss "
              f"{r['val_loss']:.4f}, {r['wall_s']:.1f} s on {r['device']}")


if __name__ == "__main__":
    main()
