"""How long a profile took: the sum of the per-rule ``benchmark:`` files of a workflow run.

Every rule writes ``benchmarks/<rule>/<job>.tsv`` (Snakemake's benchmark format: a header
line, then one line per repeat whose first column ``s`` is the wall time in seconds). The
profile's measured time is the sum over all jobs, which is what the README reports::

    python -m ctadam.timing benchmarks/            # markdown table, slowest rule first
"""

import argparse
import sys
from pathlib import Path


def rule_times(bench_dir: str | Path) -> dict[str, tuple[int, float]]:
    """Map each rule (the first directory below ``bench_dir``) to (jobs, total wall seconds).

    Raises ``FileNotFoundError`` when ``bench_dir`` does not exist and ``ValueError`` naming
    the file when one is not a Snakemake benchmark file.
    """
    bench_dir = Path(bench_dir)
    if not bench_dir.is_dir():
        raise FileNotFoundError(f"benchmark directory {bench_dir} does not exist: run the "
                                "workflow first (every rule writes benchmarks/<rule>/...)")
    times: dict[str, tuple[int, float]] = {}
    for tsv in sorted(bench_dir.rglob("*.tsv")):
        lines = tsv.read_text(encoding="utf-8").splitlines()
        if not lines or lines[0].split("\t")[0] != "s":
            raise ValueError(f"{tsv} is not a Snakemake benchmark file (no 's' column)")
        seconds = sum(float(line.split("\t")[0]) for line in lines[1:] if line.strip())
        rule = tsv.relative_to(bench_dir).parts[0]
        jobs, total = times.get(rule, (0, 0.0))
        times[rule] = (jobs + 1, total + seconds)
    return times


def markdown_table(times: dict[str, tuple[int, float]]) -> str:
    """A markdown table of ``times`` (slowest rule first) with the total on the last line."""
    rows = ["| rule | jobs | wall time (s) |", "|---|---:|---:|"]
    for rule, (jobs, seconds) in sorted(times.items(), key=lambda kv: -kv[1][1]):
        rows.append(f"| `{rule}` | {jobs} | {seconds:.1f} |")
    jobs = sum(j for j, _ in times.values())
    total = sum(s for _, s in times.values())
    rows.append(f"| **total** | {jobs} | **{total:.1f}** ({total / 60:.1f} min) |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctadam.timing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench_dir", nargs="?", default="benchmarks",
                        help="the workflow's benchmark directory (default: benchmarks)")
    args = parser.parse_args(argv)
    print(markdown_table(rule_times(args.bench_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
