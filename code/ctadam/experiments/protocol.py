r"""The one protocol every experiment family follows, and the one runner that serves them all.

A family is a package ``ctadam.experiments.<family>`` named like its config section, its rule
prefix and its paper section (``paper/sections/<family>.tex``). It exposes four things:

``runs(section, data) -> {run_id: config}``
    The engine configs of the family, from its config ``section`` and ``data`` (a mapping
    ``task -> dataset file``, by default :data:`ctadam.paths.DATASETS`). Torch-free: the
    rule file calls it when the workflow is parsed, so a bad config fails at parse time.
``trackers(config) -> list``
    The fresh trackers (:mod:`ctadam.trackers`) one run needs; ``[]`` when it needs none.
``summarize(records, section) -> dict``
    All records of the family, ``{run_id: record}``, reduced to one JSON-able summary: what
    the family measures, with the theory it is compared against. Figures draw from it and
    recompute nothing.
``publish(summary, section) -> {"macros": {name: text}, "tables": {stem: latex}}``
    The number macros (``paper/generated/numbers_<family>.tex``) and LaTeX tables
    (``paper/generated/<stem>.tex``) the paper reads; a family that states claims of the
    ledger (:mod:`ctadam.claims`) adds ``"claims": [row, ...]``, one row per id of its
    ``CLAIMS``.

and the tuple ``TABLES`` of the table stems ``publish`` returns (the rule declares them). A
family that states claims also has the tuple ``CLAIMS`` of their ids; its publish rule writes
them to ``data/runs/<family>/claims.json``, which rule ``claims`` merges into the ledger.
A family whose runs are not engine runs (a numpy simulation, an ODE integration) also
exposes ``run_one(config) -> record``, which the runner calls in place of
:func:`ctadam.train.run`; its ``trackers`` then returns ``[]``.

Every family has the same rules, ``<family>_{config,run,summary,publish,figure}``:

config
    writes ``data/runs/<family>/section.json`` (the section the summary and publish steps read:
    one way for settings to reach them) and one ``configs/<run_id>.json`` per run;
run
    one job per shard (:func:`shard_ids`) trains its configs with :func:`run_configs`;
summary
    :func:`read_records` over the shard directories, then ``summarize``;
publish, figure
    ``publish`` writes macros and tables; a module of :mod:`ctadam.plots` draws the figure
    from the summary.

CLI (what the rules call; each step can be run by hand)::

    python -m ctadam.experiments.protocol run FAMILY --configs c1.json c2.json --out-dir DIR \
        --threads 1 --device cpu
    python -m ctadam.experiments.protocol summary FAMILY --section section.json \
        --records DIR1 DIR2 --out summary.json
    python -m ctadam.experiments.protocol publish FAMILY --section section.json \
        --summary summary.json --macros numbers.tex --tables-dir paper/generated \
        [--claims data/runs/FAMILY/claims.json]

:func:`family_section`, :func:`checked_runs`, :func:`shard_ids` and :func:`family` import
neither torch nor numpy (parse-time use). The rule files read each family's section with
:func:`family_section`: its config section plus the profile's shared ``instability`` and
``verdicts`` rules.
"""

import argparse
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

from ctadam.checks import check_int, command_status

PROTOCOL = ("runs", "trackers", "summarize", "publish", "TABLES")


def family(name: str) -> ModuleType:
    """The family package ``ctadam.experiments.<name>``, checked to expose :data:`PROTOCOL`."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"family must be a Python identifier, got {name!r}")
    try:
        module = importlib.import_module(f"ctadam.experiments.{name}")
    except ModuleNotFoundError as err:
        raise ValueError(f"family {name!r}: no package ctadam.experiments.{name}") from err
    missing = [attr for attr in PROTOCOL if not hasattr(module, attr)]
    if missing:
        raise ValueError(f"family {name!r} lacks {missing} of the protocol {list(PROTOCOL)}")
    return module


SHARED_KEYS = ("instability", "verdicts")


def family_section(config: dict, name: str) -> dict:
    """The section family ``name`` reads: ``config[name]`` with the profile's shared rules added,
    ``instability`` (:mod:`ctadam.instability`) and ``verdicts`` (:mod:`ctadam.claims`), so that
    every family applies the same pre-registered rules. Raises ``ValueError`` if the family's
    own section already uses one of those keys."""
    if name not in config:
        raise ValueError(f"the config has no section {name!r}")
    clash = [k for k in SHARED_KEYS if k in config[name]]
    if clash:
        raise ValueError(f"{name}: the keys {clash} belong to the profile's top level")
    return {**config[name], **{k: config[k] for k in SHARED_KEYS}}


def checked_runs(fam: ModuleType, section: dict, data: dict) -> dict[str, dict]:
    """``fam.runs(section, data)`` with every engine config validated (torch-free).

    The rule files call this when the workflow is parsed, so a bad run config stops the
    workflow before any job starts, with a message naming the family, the run and the key.
    Families with ``run_one`` check their own configs in ``runs``.
    """
    from ctadam.runconfig import validate_config

    runs = fam.runs(section, data)
    if not hasattr(fam, "run_one"):
        name = fam.__name__.rsplit(".", 1)[-1]
        for run_id in sorted(runs):
            try:
                validate_config(runs[run_id])
            except ValueError as err:
                raise ValueError(f"{name}: run {run_id}: {err}") from err
    return runs


def shard_ids(ids, shards: int) -> list[list[str]]:
    """The sorted ``ids`` dealt round-robin into ``shards`` lists (no shard left empty).

    Round robin over the sorted ids spreads neighbouring grid cells (similar cost) over the
    shards.
    """
    ids = sorted(ids)
    shards = check_int("shards", shards, 1)
    shards = min(shards, max(1, len(ids)))
    return [ids[i::shards] for i in range(shards)]


def read_json_file(path) -> dict:
    """One JSON file, non-finite floats restored (:func:`ctadam.io.read_json`: records store
    them as strings), with a decode error that names the file."""
    from ctadam.io import read_json

    path = Path(path)
    try:
        return read_json(path)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err


def run_configs(config_paths, out_dir, make_trackers, threads: int = 1,
                device: str = "cpu", run_one=None) -> list[Path]:
    """Train each config file through the engine; its record is ``<out_dir>/<stem>.json``.

    A record already there whose config equals the run's config is kept and the run skipped
    (resume after an interrupted job: records are written atomically, so a record that exists
    is whole). ``make_trackers(config)`` returns the fresh trackers of one run. ``run_one``,
    when given, replaces the engine: ``run_one(config) -> record`` (the record holds its
    ``config``). Returns the record paths.
    """
    import torch

    from ctadam.io import write_json_atomic
    from ctadam.runconfig import validate_config
    from ctadam.train import run

    torch.set_num_threads(check_int("threads", threads, 1))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in config_paths]
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise ValueError(f"configs: two config files share a run id in {stems}")
    written = []
    for path in paths:
        config = read_json_file(path)
        out = out_dir / f"{path.stem}.json"
        expected = config if run_one is not None else validate_config(config)
        if out.exists() and read_json_file(out).get("config") == expected:
            print(f"{path.stem}: record present, skipped", flush=True)
        elif run_one is not None:
            write_json_atomic(out, run_one(config))
            print(f"{path.stem}: done", flush=True)
        else:
            record = run(config, make_trackers(config), out=out, device=device)
            print(f"{path.stem}: {record['status']} after {record['steps_done']} steps, "
                  f"{record['timing']['wall_time_s']:.2f} s", flush=True)
        written.append(out)
    return written


def read_records(dirs) -> dict[str, dict]:
    """Every record ``*.json`` of the directories, by run id (the file stem).

    A run id found in two directories is an error (two shards trained the same run).
    """
    records = {}
    for d in map(Path, dirs):
        if not d.is_dir():
            raise ValueError(f"records: {d} is not a directory")
        for path in sorted(d.glob("*.json")):
            if path.stem in records:
                raise ValueError(f"run {path.stem!r} appears in more than one directory")
            records[path.stem] = read_json_file(path)
    return records


def claim_ids(fam: ModuleType) -> tuple[str, ...]:
    """The ids of the ledger claims ``fam`` states (its ``CLAIMS``; none when it has none)."""
    return tuple(getattr(fam, "CLAIMS", ()))


def write_publication(fam: ModuleType, summary: dict, section: dict, macros_path,
                      tables_dir, claims_path=None) -> list[Path]:
    """Call ``fam.publish`` and write its macros, tables and claim rows; returns the paths.

    The tables must be exactly ``fam.TABLES`` (what the rule declared as outputs); the claim
    rows, each checked by :func:`ctadam.claims.check_row`, have ids of ``fam.CLAIMS``, each at
    most once (rule ``claims`` checks that the ledger holds every required claim);
    ``claims_path`` is required when the family states claims.
    """
    from ctadam.claims import check_row
    from ctadam.io import write_json_atomic, write_macros, write_text_atomic

    name = fam.__name__.rsplit(".", 1)[-1]
    out = fam.publish(summary, section)
    tables = out["tables"]
    if sorted(tables) != sorted(fam.TABLES):
        raise ValueError(f"publish returned tables {sorted(tables)}, the family declares "
                         f"{sorted(fam.TABLES)}")
    rows = [check_row(row) for row in out.get("claims", [])]
    ids = sorted(row["id"] for row in rows)
    if len(set(ids)) != len(ids) or not set(ids) <= set(claim_ids(fam)):
        raise ValueError(f"{name}: publish returned claims {ids}, the family declares "
                         f"{sorted(claim_ids(fam))} (each at most once)")
    if rows and claims_path is None:
        raise ValueError(f"{name} states claims {ids}: give --claims (the rows' JSON file)")
    written = [write_macros(macros_path, out["macros"], f"Family {name}.")]
    for stem in sorted(tables):
        written.append(write_text_atomic(Path(tables_dir) / f"{stem}.tex", tables[stem]))
    if claims_path is not None:
        written.append(write_json_atomic(claims_path, rows))
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctadam.experiments.protocol",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train run configs through the engine (one shard)")
    r.add_argument("family")
    r.add_argument("--configs", nargs="+", required=True, help="run config JSON files")
    r.add_argument("--out-dir", required=True, help="one record <config stem>.json per run")
    r.add_argument("--threads", type=int, required=True, help="torch CPU threads")
    r.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    s = sub.add_parser("summary", help="records -> one summary JSON")
    s.add_argument("family")
    s.add_argument("--section", required=True, help="the family's section.json")
    s.add_argument("--records", nargs="+", required=True, help="directories of records")
    s.add_argument("--out", required=True)
    p = sub.add_parser("publish", help="summary -> number macros and tables")
    p.add_argument("family")
    p.add_argument("--section", required=True, help="the family's section.json")
    p.add_argument("--summary", required=True)
    p.add_argument("--macros", required=True, help="the numbers_<family>.tex to write")
    p.add_argument("--tables-dir", required=True, help="where <stem>.tex tables go")
    p.add_argument("--claims", help="the claim rows' JSON file (families with CLAIMS)")
    args = parser.parse_args(argv)

    def command() -> None:
        fam = family(args.family)
        if args.cmd == "run":
            run_configs(args.configs, args.out_dir, fam.trackers, args.threads, args.device,
                        getattr(fam, "run_one", None))
            return
        from ctadam.io import write_json_atomic

        section = read_json_file(args.section)
        if args.cmd == "summary":
            write_json_atomic(args.out, fam.summarize(read_records(args.records), section))
        else:
            write_publication(fam, read_json_file(args.summary), section, args.macros,
                              args.tables_dir, args.claims)

    return command_status(command, parser.prog)

if __name__ == "__main__":
    sys.exit(main())
