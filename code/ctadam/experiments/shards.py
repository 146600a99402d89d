"""Runs of a family in shards: many engine runs per process, one record file per run.

A sweep of many small runs pays the interpreter's and torch's start-up once per shard, not once
per run; every run still writes its own record ``<out_dir>/<run_id>.json`` as it finishes, the
same record as ``python -m ctadam.train`` writes for that config alone. Two ways to hand a
shard over: config files (:func:`run_shard`, used by families with trackers through their own
``run`` subcommand) or one JSON object ``{run_id: config}`` (this module's CLI).

:func:`shard_ids` and :func:`shard_of` import neither torch nor numpy, so Snakemake rule files
can use them at parse time.

CLI::

    python -m ctadam.experiments.shards --shard shard0.json --out DIR --threads 1 --device cpu
"""

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from ctadam.checks import check_int


def shard_ids(ids, shards: int) -> list[list[str]]:
    """The sorted ``ids`` dealt round-robin into ``shards`` lists (no shard left empty).

    Round robin over the sorted ids spreads neighbouring grid cells (similar cost) over the
    shards.
    """
    ids = sorted(ids)
    shards = check_int("shards", shards, 1)
    shards = min(shards, max(1, len(ids)))
    return [ids[i::shards] for i in range(shards)]


def shard_of(runs: dict, shards: int, index: int) -> dict:
    """The runs ``{run_id: config}`` of shard ``index`` of ``shards`` (round robin, sorted ids).

    Raises ``ValueError`` for ``shards < 1`` or ``index`` outside ``[0, shards)``.
    """
    shards = check_int("shards", shards, 1)
    index = check_int("index", index, 0)
    if index >= shards:
        raise ValueError(f"index must be in [0, {shards}), got {index}")
    return {i: runs[i] for i in sorted(runs)[index::shards]}


def _train_all(runs: Iterable[tuple[str, dict]], out_dir, make_trackers: Callable[[dict], list],
               threads: int, device: str) -> list[Path]:
    """Train each ``(run_id, config)`` through the engine; records go to ``out_dir``."""
    import torch

    from ctadam.train import run

    torch.set_num_threads(check_int("threads", threads, 1))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for run_id, config in runs:
        out = out_dir / f"{run_id}.json"
        record = run(config, make_trackers(config), out=out, device=device)
        print(f"{run_id}: {record['status']} after {record['steps_done']} steps, "
              f"{record['timing']['wall_time_s']:.2f} s", flush=True)
        written.append(out)
    return written


def run_shard(config_paths, out_dir, make_trackers: Callable[[dict], list],
              threads: int = 1, device: str = "cpu") -> list[Path]:
    """Train each config file; its record is ``<out_dir>/<config stem>.json``.

    ``make_trackers(config)`` returns the fresh trackers of one run. Returns the record paths.
    """
    runs = ((p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in map(Path, config_paths))
    return _train_all(runs, out_dir, make_trackers, threads, device)


def read_shards(shard_dirs) -> dict[str, dict]:
    """Every record of the shard directories, by run id (the file stem)."""
    from ctadam.io import read_json

    records = {}
    for d in map(Path, shard_dirs):
        for path in sorted(d.glob("*.json")):
            if path.stem in records:
                raise ValueError(f"run {path.stem!r} appears in more than one shard")
            records[path.stem] = read_json(path)
    return records


def add_run_command(sub) -> None:
    """The ``run`` subcommand of a family's command line: ``--configs``, ``--out-dir``,
    ``--threads`` (see :func:`run_shard`)."""
    r = sub.add_parser("run", help="train run configs through the engine (one shard)")
    r.add_argument("--configs", nargs="+", required=True, help="engine config JSON files")
    r.add_argument("--out-dir", required=True, help="one record <config stem>.json per run")
    r.add_argument("--threads", type=int, required=True)


def add_summary_commands(sub, publish: tuple[str, ...]):
    """The ``summary`` (``--shards``, ``--out``) and ``publish`` (``--summary`` and one
    required option per name in ``publish``) subcommands; returns both parsers."""
    s = sub.add_parser("summary", help="records -> one summary JSON")
    s.add_argument("--shards", nargs="+", required=True, help="shard directories of records")
    s.add_argument("--out", required=True)
    p = sub.add_parser("publish", help="summary -> " + ", ".join(publish))
    p.add_argument("--summary", required=True)
    for name in publish:
        p.add_argument(f"--{name}", required=True)
    return s, p


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctadam.experiments.shards",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--shard", required=True, help="JSON object {run_id: config}")
    parser.add_argument("--out", required=True, help="directory of the records")
    parser.add_argument("--threads", type=int, required=True, help="torch CPU threads")
    parser.add_argument("--device", required=True, choices=("cpu", "cuda", "auto"))
    args = parser.parse_args(argv)
    with open(args.shard, encoding="utf-8") as handle:
        runs = json.load(handle)
    _train_all(((i, runs[i]) for i in sorted(runs)), args.out, lambda cfg: [], args.threads,
               args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
