"""``python -m ctadam.experiments.bench --record R --out S``: the benchmark record's summary."""

import argparse

from ctadam.experiments.bench import summarize
from ctadam.io import read_json, write_json_atomic


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ctadam.experiments.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--record", required=True, help="JSON from ctadam.bench.optimizer")
    parser.add_argument("--out", required=True, help="the summary JSON to write")
    args = parser.parse_args(argv)
    write_json_atomic(args.out, summarize(read_json(args.record)))


if __name__ == "__main__":
    main()
