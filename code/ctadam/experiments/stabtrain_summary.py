"""Records of one stabtrain experiment -> its summary JSON, number macros and table.

Reads every record of the shard directories, measures each run
(:mod:`ctadam.experiments.stabtrain_measure`), checks the hard property (no update inside
the exact region above B_n; exit status 1 and no outputs otherwise) and summarises with the
experiment's module (``stabtrain_growth``, ``_band``, ``_noise``, ``_speed``), which also
gives its table.

CLI (``--settings``: the workflow's ``stabtrain`` section as a JSON file)::

    python -m ctadam.experiments.stabtrain_summary growth --shards DIR ... --settings st.json \\
        --out summary.json --macros numbers_stabgrowth.tex --table table.tex
"""

import argparse
import importlib
import sys

from ctadam import io
from ctadam.experiments.stabtrain import EXPERIMENTS
from ctadam.experiments.stabtrain_measure import read_runs
from ctadam.experiments.sweep import BoundViolation, check_bound


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctadam.experiments.stabtrain_summary")
    parser.add_argument("experiment", choices=EXPERIMENTS)
    parser.add_argument("--shards", nargs="+", required=True, help="directories of records")
    parser.add_argument("--settings", required=True, help="the stabtrain section (JSON file)")
    parser.add_argument("--out", required=True, help="summary JSON")
    parser.add_argument("--macros", required=True, help="number macros (.tex)")
    parser.add_argument("--table", required=True, help="booktabs table (.tex)")
    args = parser.parse_args(argv)
    st = io.read_json(args.settings)
    mod = importlib.import_module(f"ctadam.experiments.stabtrain_{args.experiment}")
    runs = read_runs(args.shards, st["measure"]["window"], st["measure"]["growth_factor"])
    try:
        bound = check_bound(runs, st["bound_tolerance"])
    except BoundViolation as err:
        print(f"HARD PROPERTY VIOLATED: {err}", file=sys.stderr)
        return 1
    summary = {**mod.summarize(runs, st), "bound": bound}
    io.write_json_atomic(args.out, summary)
    prefix = f"Stab{args.experiment.capitalize()}"
    io.write_macros(args.macros, {**mod.macros(summary, st),
                                  f"{prefix}InsideRuns": str(bound["runs"]),
                                  f"{prefix}MaxBoundRatio": f"{bound['max_ratio']:.3f}"},
                    f"stabtrain {args.experiment} "
                    "(python -m ctadam.experiments.stabtrain_summary).")
    io.write_text_atomic(args.table, mod.table(summary))
    print(f"{args.experiment}: {len(runs)} runs; bound ratio max {bound['max_ratio']:.4f} "
          f"over {bound['runs']} runs inside the exact region")
    return 0


if __name__ == "__main__":
    sys.exit(main())
