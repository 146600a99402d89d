"""Batched training: a shard of many :func:`ctadam.train.run` calls in one process.

A sweep of many small runs pays the interpreter's and torch's start-up once per shard, not once
per run. A shard file is a JSON object ``{run_id: config}``; every run writes its own record
``OUT/<run_id>.json`` as it finishes, the same record as ``python -m ctadam.train`` writes for
that config alone (a run is a pure function of its config).

The splitting helpers import neither torch nor numpy, so Snakemake rule files can use them
at parse time.

CLI::

    python -m ctadam.experiments.shards --shard shard0.json --out DIR --threads 1 --device cpu
"""

import argparse
import json
import sys
from pathlib import Path

from ctadam.checks import check_int


def shard_of(runs: dict, shards: int, index: int) -> dict:
    """The runs of shard ``index`` of ``shards``: every ``shards``-th run id in sorted order.

    Round robin over the sorted ids spreads neighbouring grid cells (similar cost) over the
    shards. Raises ``ValueError`` for ``shards < 1`` or ``index`` outside ``[0, shards)``.
    """
    shards = check_int("shards", shards, 1)
    index = check_int("index", index, 0)
    if index >= shards:
        raise ValueError(f"index must be in [0, {shards}), got {index}")
    ids = sorted(runs)[index::shards]
    return {i: runs[i] for i in ids}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctadam.experiments.shards",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--shard", required=True, help="JSON object {run_id: config}")
    parser.add_argument("--out", required=True, help="directory of the records")
    parser.add_argument("--threads", type=int, required=True, help="torch CPU threads")
    parser.add_argument("--device", required=True, choices=("cpu", "cuda", "auto"))
    args = parser.parse_args(argv)
    import torch

    from ctadam.train import run

    torch.set_num_threads(check_int("threads", args.threads, 1))
    with open(args.shard, encoding="utf-8") as handle:
        runs = json.load(handle)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for run_id in sorted(runs):
        record = run(runs[run_id], out=out / f"{run_id}.json", device=args.device)
        print(f"{run_id}: {record['status']} after {record['steps_done']} steps, "
              f"{record['timing']['wall_time_s']:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
