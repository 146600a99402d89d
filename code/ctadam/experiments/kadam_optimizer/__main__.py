"""The k-Adam study's own steps: ``split`` (a task's data of both stages), ``choose`` (the
chosen rates and the final configs) and ``protocol`` (a standalone protocol run with
records to commit: CIFAR-10 on one GPU, the small tasks on the CPU; :mod:`.standalone`).
See :mod:`ctadam.experiments.kadam_optimizer`."""

import argparse
import json
import sys
from pathlib import Path

from ctadam.checks import command_status
from ctadam.experiments.kadam_optimizer import plan
from ctadam.experiments.protocol import read_json_file, read_records


def write_final_configs(ka: dict, selection: dict, configs_dir) -> list[Path]:
    """One ``<run_id>.json`` per final run at the chosen rates (the layout of the config
    rule's files: sorted keys, indent 1)."""
    runs = plan.final_runs(ka, plan.split_data(ka, "final"),
                           {name: s["lr"] for name, s in selection.items()})
    out = Path(configs_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for run_id in sorted(runs):
        path = out / f"{run_id}.json"
        path.write_text(json.dumps(runs[run_id], indent=1, sort_keys=True), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctadam.experiments.kadam_optimizer",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("split", help="write the selection and the final data of one task")
    sp.add_argument("--section", required=True, help="the family's section.json")
    sp.add_argument("--task", required=True)
    sp.add_argument("--data", required=True, help="the task's dataset file")
    cp = sub.add_parser("choose", help="choose each cell's rate; write the final configs")
    cp.add_argument("--section", required=True)
    cp.add_argument("--records", nargs="+", required=True, help="selection record dirs")
    cp.add_argument("--selection", required=True, help="the choice, JSON")
    cp.add_argument("--configs-dir", required=True, help="where <run_id>.json go")
    from ctadam.experiments.kadam_optimizer import standalone

    standalone.add_parser(sub)
    args = parser.parse_args(argv)

    def command() -> None:
        if args.cmd == "protocol":
            standalone.main(args, ["python", "-m", "ctadam.experiments.kadam_optimizer",
                                     *(sys.argv[1:] if argv is None else argv)])
            return
        ka = read_json_file(args.section)
        if args.cmd == "split":
            from ctadam.experiments.kadam_optimizer.split import split

            if args.task not in ka["run_tasks"]:
                raise ValueError(f"task must be one of run_tasks {ka['run_tasks']}, got "
                                 f"{args.task!r}")
            spec = ka["tasks"][args.task]
            split(args.task, args.data, plan.split_data(ka, "select")[args.task],
                  plan.split_data(ka, "final")[args.task], spec.get("n_train"),
                  spec.get("n_test"), spec.get("n_val", 500), spec.get("val_fraction", 0.1))
            return
        from ctadam.experiments.kadam_optimizer.selection import choose
        from ctadam.io import write_json_atomic

        selection = choose(ka, read_records(args.records))
        write_json_atomic(args.selection, selection)
        write_final_configs(ka, selection, args.configs_dir)

    return command_status(command, parser.prog)

if __name__ == "__main__":
    sys.exit(main())
