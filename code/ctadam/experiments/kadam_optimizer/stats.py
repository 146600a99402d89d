"""Statistics of the k-Adam study: paired (same seed) and Welch differences with 95% intervals.

Kept apart from :mod:`.summary` so that further comparisons (more seeds, multiple-testing
corrections, power) extend the study without touching how records are gathered.
"""

import math

import numpy as np


def paired(values, reference) -> dict:
    """Mean per-seed difference ``values - reference`` and its Student-t 95% interval.

    Seeds where either run diverged (NaN) are dropped; ``n`` says how many pairs remain.
    """
    from scipy import stats

    d = np.array([a - b for a, b in zip(values, reference, strict=True)
                  if math.isfinite(a) and math.isfinite(b)])
    if d.size == 0:
        return {"n": 0, "mean": math.nan, "low": math.nan, "high": math.nan}
    mean = float(d.mean())
    if d.size == 1:
        return {"n": 1, "mean": mean, "low": math.nan, "high": math.nan}
    half = float(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size))
    return {"n": int(d.size), "mean": mean, "low": mean - half, "high": mean + half}


def welch(a, b) -> dict:
    """Mean of ``a`` minus mean of ``b`` with a Welch 95% interval (NaN samples dropped)."""
    from scipy import stats

    a = np.array([x for x in a if math.isfinite(x)])
    b = np.array([x for x in b if math.isfinite(x)])
    if a.size < 2 or b.size < 2:
        mean = float(a.mean() - b.mean()) if a.size and b.size else math.nan
        return {"n": int(min(a.size, b.size)), "mean": mean, "low": math.nan, "high": math.nan}
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    mean = float(a.mean() - b.mean())
    if va + vb == 0:
        return {"n": int(min(a.size, b.size)), "mean": mean, "low": mean, "high": mean}
    dof = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(stats.t.ppf(0.975, dof) * math.sqrt(va + vb))
    return {"n": int(min(a.size, b.size)), "mean": mean, "low": mean - half, "high": mean + half}
