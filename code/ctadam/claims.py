r"""The claims ledger: one row per claim of the paper, with the verdict the measurements give.

Each family's publish step states the verdicts of the claims it measures as rows

    {"id", "claim", "verdict", "measure", "value", "interval", "seeds", "rule"}

``verdict`` is one of :data:`ctadam.stats.VERDICTS` (``"reproduced"``, ``"not reproduced"``,
``"undecidable at this scale"``), ``value`` the measured number, ``interval`` ``[lo, hi]`` or
``null``, ``seeds`` how many seeds stand behind it, ``rule`` the Snakemake rule that measured
it. The rule ``claims`` merges every family's rows into ``data/claims.json`` and renders them as
a table for the paper (``paper/generated/claims.tex``), as number macros the abstract reads
(``\ClaimVerdict<Id>``, ``\ClaimValue<Id>``) and as the README's table (between the markers
``<!-- claims:begin -->`` and ``<!-- claims:end -->``).

CLI::

    python -m ctadam.claims merge --rows a.json b.json --ledger data/claims.json \
        --table paper/generated/claims.tex --macros paper/generated/numbers_claims.tex \
        [--markdown data/claims.md]
    python -m ctadam.claims readme --ledger data/claims.json --readme README.md
"""

import argparse
import json
import math
import re
import sys
from pathlib import Path

from ctadam.stats import NOT_REPRODUCED, REPRODUCED, UNDECIDABLE, VERDICTS

FIELDS = ("id", "claim", "verdict", "measure", "value", "interval", "seeds", "rule")
# The claims every profile's ledger holds (its rows may be undecidable, never missing).
REQUIRED_IDS = ("region-exact", "growth-rate", "band", "noise", "speed", "ode-order",
                "norm-dynamics", "meta-adaptive", "kadam", "kadam-cifar10")
README_BEGIN, README_END = "<!-- claims:begin -->", "<!-- claims:end -->"


def check_row(row: dict) -> dict:
    """``row`` after checking its fields; raises ``ValueError`` naming the row and field."""
    if not isinstance(row, dict):
        raise ValueError(f"a claim row must be an object, got {row!r}")
    where = f"claim {row.get('id')!r}"
    if sorted(row) != sorted(FIELDS):
        raise ValueError(f"{where}: fields must be {list(FIELDS)}, got {sorted(row)}")
    for key in ("id", "claim", "measure", "rule"):
        if not isinstance(row[key], str) or not row[key]:
            raise ValueError(f"{where}: {key} must be a non-empty string, got {row[key]!r}")
    if row["verdict"] not in VERDICTS:
        raise ValueError(f"{where}: verdict must be one of {VERDICTS}, got {row['verdict']!r}")
    value = row["value"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"{where}: value must be a number or null, got {value!r}")
    interval = row["interval"]
    if interval is not None:
        ok = (isinstance(interval, list) and len(interval) == 2
              and all(isinstance(x, int | float) and math.isfinite(x) for x in interval)
              and interval[0] <= interval[1])
        if not ok:
            raise ValueError(f"{where}: interval must be [lo, hi] with lo <= hi or null, "
                             f"got {interval!r}")
    seeds = row["seeds"]
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 0:
        raise ValueError(f"{where}: seeds must be an integer >= 0, got {seeds!r}")
    return row


def merge(row_lists: list[list[dict]], required=REQUIRED_IDS) -> list[dict]:
    """All rows, checked, in the order of ``required`` then by id; every id once."""
    rows = {}
    for rows_of_family in row_lists:
        for row in rows_of_family:
            check_row(row)
            if row["id"] in rows:
                raise ValueError(f"claim {row['id']!r} is stated twice")
            rows[row["id"]] = row
    missing = [i for i in required if i not in rows]
    if missing:
        raise ValueError(f"the ledger lacks the claims {missing}")
    order = list(required) + sorted(set(rows) - set(required))
    return [rows[i] for i in order]


def row(claim_id: str, claim: str, verdict: str, measure: str, value, interval, seeds: int,
        rule: str) -> dict:
    """One ledger row, checked (:func:`check_row`); non-finite values become ``None``."""
    def finite(x):
        return None if x is None or not math.isfinite(x) else float(x)

    lo_hi = None
    if interval is not None and all(finite(x) is not None for x in interval):
        lo_hi = [float(interval[0]), float(interval[1])]
    return check_row({"id": claim_id, "claim": claim, "verdict": verdict, "measure": measure,
                      "value": finite(value), "interval": lo_hi, "seeds": int(seeds),
                      "rule": rule})


def interval_verdict(interval, threshold: float, seeds: int, min_seeds: int) -> str:
    """The verdict of a fraction whose claim holds when it exceeds ``threshold``:
    ``"reproduced"`` when the whole ``interval`` lies at or above it, ``"not reproduced"``
    when it lies below it, otherwise (or with fewer than ``min_seeds`` seeds, or no interval)
    ``"undecidable at this scale"``."""
    if interval is None or seeds < min_seeds or not all(math.isfinite(x) for x in interval):
        return UNDECIDABLE
    lo, hi = interval
    if lo >= threshold:
        return REPRODUCED
    if hi < threshold:
        return NOT_REPRODUCED
    return UNDECIDABLE


def ratio_verdict(interval, tolerance: float, seeds: int, min_seeds: int) -> str:
    """The verdict of a measured/predicted ratio: ``"reproduced"`` when its whole ``interval``
    lies within ``1 +- tolerance``, ``"not reproduced"`` when it lies wholly outside, otherwise
    (or with fewer than ``min_seeds`` seeds, or no interval) ``"undecidable at this scale"``."""
    if interval is None or seeds < min_seeds or not all(math.isfinite(x) for x in interval):
        return UNDECIDABLE
    lo, hi = interval
    if 1 - tolerance <= lo and hi <= 1 + tolerance:
        return REPRODUCED
    if hi < 1 - tolerance or lo > 1 + tolerance:
        return NOT_REPRODUCED
    return UNDECIDABLE


def mean_interval(values, alpha: float) -> tuple[float, list[float] | None]:
    """The mean of per-seed ``values`` and its Student-t interval at level ``1 - alpha``
    (``None`` with fewer than two values)."""
    from ctadam.stats import paired_t

    values = [float(v) for v in values]
    test = paired_t(values, [0.0] * len(values), alpha)
    if test["n"] < 2:
        return test["mean"], None
    return test["mean"], [test["low"], test["high"]]


def _number(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.3g}"


def _interval(row: dict) -> str:
    lo_hi = row["interval"]
    return "n/a" if lo_hi is None else f"[{_number(lo_hi[0])}, {_number(lo_hi[1])}]"


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
                 "$": r"\$", "{": r"\{", "}": r"\}", "^": r"\textasciicircum{}",
                 "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def _latex(text: str) -> str:
    """``text`` with every character special to LaTeX escaped (the ledger's free text)."""
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)


def latex_table(rows: list[dict]) -> str:
    """The ledger as a booktabs tabular (the paper wraps it in a table with a caption)."""
    lines = [r"\begin{tabular}{@{}lp{0.34\linewidth}lrlrl@{}}", r"\toprule",
             r"id & claim & verdict & value & interval & seeds & rule \\", r"\midrule"]
    for r in rows:
        lines.append(" & ".join([
            _latex(r["id"]), _latex(r["claim"]), _latex(r["verdict"]), _number(r["value"]),
            _interval(r), str(r["seeds"]), r"\texttt{" + _latex(r["rule"]) + "}"]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Free text in a Markdown table cell: ``|`` (norms, |C|/2) escaped so it splits no column."""
    return text.replace("|", "\\|")


def markdown_table(rows: list[dict]) -> str:
    """The ledger as the README's Markdown table."""
    lines = ["| id | claim | verdict | measure | value | interval | seeds | rule |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['id']}` | {_cell(r['claim'])} | **{r['verdict']}** | "
                     f"{_cell(r['measure'])} | {_number(r['value'])} | {_interval(r)} | "
                     f"{r['seeds']} | `{r['rule']}` |")
    return "\n".join(lines) + "\n"


_NUMBER_WORDS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine",
                 "Ten", "Eleven", "Twelve", "Thirteen", "Fourteen", "Fifteen", "Sixteen",
                 "Seventeen", "Eighteen", "Nineteen", "Twenty")


def _word(piece: str) -> str:
    if not piece.isdigit():
        return piece.capitalize()
    n = int(piece)
    return _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else "".join(
        _NUMBER_WORDS[int(d)] for d in piece)


def macro_stem(claim_id: str) -> str:
    """``region-exact`` -> ``RegionExact``, ``kadam-cifar10`` -> ``KadamCifarTen`` (macro names
    are letters only: a run of digits becomes its English word up to twenty, else digit by
    digit)."""
    return "".join(_word(piece) for part in claim_id.split("-")
                   for piece in re.split(r"(\d+)", part) if piece)


def macros(rows: list[dict]) -> dict[str, str]:
    r"""``\ClaimVerdict<Id>`` (the verdict's words) and ``\ClaimValue<Id>`` per claim."""
    out = {}
    for r in rows:
        stem = macro_stem(r["id"])
        if not stem.isalpha():
            raise ValueError(f"claim id {r['id']!r} must be letters and hyphens only")
        out[f"ClaimVerdict{stem}"] = r["verdict"]
        out[f"ClaimValue{stem}"] = _number(r["value"])
    return out


def replace_readme_table(readme_text: str, rows: list[dict]) -> str:
    """``readme_text`` with the table between the claims markers replaced by the ledger's."""
    begin, end = readme_text.find(README_BEGIN), readme_text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"the README has no {README_BEGIN} ... {README_END} block")
    head = readme_text[: begin + len(README_BEGIN)]
    return head + "\n" + markdown_table(rows) + readme_text[end:]


def main(argv=None) -> int:
    from ctadam.io import read_json, write_json_atomic, write_macros, write_text_atomic

    parser = argparse.ArgumentParser(prog="python -m ctadam.claims",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge", help="every family's rows -> the ledger, its table and macros")
    m.add_argument("--rows", nargs="+", required=True, help="claim rows (JSON lists)")
    m.add_argument("--ledger", required=True)
    m.add_argument("--table", required=True)
    m.add_argument("--macros", required=True)
    m.add_argument("--markdown", help="also write the README's Markdown table here")
    r = sub.add_parser("readme", help="refresh the README's claims table from the ledger")
    r.add_argument("--ledger", required=True)
    r.add_argument("--readme", required=True)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "merge":
            rows = merge([read_json(p) for p in args.rows])
            write_json_atomic(args.ledger, rows)
            write_text_atomic(args.table, latex_table(rows))
            write_macros(args.macros, macros(rows), "The claims ledger.")
            if args.markdown:
                write_text_atomic(args.markdown, markdown_table(rows))
        else:
            rows = [check_row(row) for row in read_json(args.ledger)]
            path = Path(args.readme)
            write_text_atomic(path, replace_readme_table(path.read_text(encoding="utf-8"), rows))
    except (ValueError, OSError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
