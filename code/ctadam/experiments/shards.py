"""Runs of a family in shards: many engine runs per process, one record file per run.

:func:`shard_ids` splits a family's run ids into shards (pure Python, so rule files can
call it at parse time); :func:`run_shard` trains every config of one shard through
:func:`ctadam.train.run` with the family's trackers and writes ``<out_dir>/<config stem>.json``
for each, as each run ends.
"""

import json
from collections.abc import Callable
from pathlib import Path

from ctadam.checks import check_int


def shard_ids(ids, shards: int) -> list[list[str]]:
    """The sorted ``ids`` dealt round-robin into ``shards`` lists (no shard left empty)."""
    ids = sorted(ids)
    shards = check_int("shards", shards, 1)
    shards = min(shards, max(1, len(ids)))
    return [ids[i::shards] for i in range(shards)]


def run_shard(config_paths, out_dir, make_trackers: Callable[[dict], list],
              threads: int = 1, device: str = "cpu") -> list[Path]:
    """Train each config file through the engine and write its record into ``out_dir``.

    ``make_trackers(config)`` returns the fresh trackers of one run. Returns the record paths.
    """
    import torch

    from ctadam.train import run

    torch.set_num_threads(check_int("threads", threads, 1))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in map(Path, config_paths):
        config = json.loads(path.read_text(encoding="utf-8"))
        out = out_dir / f"{path.stem}.json"
        record = run(config, make_trackers(config), out=out, device=device)
        print(f"{path.stem}: {record['status']} after {record['steps_done']} steps, "
              f"{record['timing']['wall_time_s']:.2f} s", flush=True)
        written.append(out)
    return written


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
