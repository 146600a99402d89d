r"""LaTeX tables (booktabs) of ``mean +- std`` cells with the best entry of each column in bold.

:func:`mean_std_table` renders rows x columns of samples: each cell shows the mean and the
standard deviation (``ddof = 1``) of its samples, a column's best mean (largest or smallest,
per column) is set in bold, and an empty cell prints as ``--``. The output needs the
``booktabs`` package and is ``\input`` by the paper.
"""

import math

import numpy as np


def mean_std(samples) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one sample); NaN for no finite sample."""
    values = np.asarray([s for s in samples if math.isfinite(s)], dtype=float)
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def best_index(means: list[float], goal: str) -> int | None:
    """Index of the best finite mean (``goal`` "max" or "min"), or None when none is finite."""
    if goal not in ("max", "min"):
        raise ValueError(f"goal must be one of ('max', 'min'), got {goal!r}")
    finite = [(m, i) for i, m in enumerate(means) if math.isfinite(m)]
    if not finite:
        return None
    return (max(finite) if goal == "max" else min(finite))[1]


def mean_std_table(row_labels: list[str], col_labels: list[str], cells: list[list],
                   goals: list[str], digits: list[int], row_header: str = "") -> str:
    """Booktabs tabular of ``cells[i][j]`` (a list of samples, or None) as ``mean \\pm std``.

    ``goals[j]`` ("max" or "min") decides the bold entry of column j, ``digits[j]`` its
    decimals; ``row_header`` heads the label column. Labels are written verbatim (LaTeX).
    """
    n_cols = len(col_labels)
    if len(goals) != n_cols or len(digits) != n_cols:
        raise ValueError(f"goals and digits must have one entry per column ({n_cols})")
    if len(cells) != len(row_labels) or any(len(r) != n_cols for r in cells):
        raise ValueError(f"cells must be {len(row_labels)} rows of {n_cols} entries")
    stats = [[mean_std(c) if c else (math.nan, math.nan) for c in row] for row in cells]
    bold = [best_index([stats[i][j][0] for i in range(len(cells))], goals[j])
            for j in range(n_cols)]
    lines = [rf"\begin{{tabular}}{{l{'c' * n_cols}}}", r"\toprule",
             " & ".join([row_header, *col_labels]) + r" \\", r"\midrule"]
    for i, label in enumerate(row_labels):
        entries = []
        for j in range(n_cols):
            mean, std = stats[i][j]
            if not math.isfinite(mean):
                entries.append("--")
                continue
            text = f"{mean:.{digits[j]}f} \\pm {std:.{digits[j]}f}"
            entries.append(f"$\\mathbf{{{text}}}$" if bold[j] == i else f"${text}$")
        lines.append(" & ".join([label, *entries]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
