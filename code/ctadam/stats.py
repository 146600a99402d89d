r"""The statistics behind every comparison the artifact claims: one module, one definition each.

Paired differences (seeds matched between two methods)
    :func:`paired_t`: the mean difference :math:`\bar d`, its standard deviation :math:`s_d`,
    the Student-t interval :math:`\bar d \pm t_{1-\alpha/2,\,n-1}\, s_d/\sqrt n` and the
    two-sided p-value of :math:`H_0: \mathbb E d = 0`.
Independent samples (different networks, e.g. with and without LayerNorm)
    :func:`welch_t`: the difference of means with Welch's interval (unequal variances,
    Welch-Satterthwaite degrees of freedom).
Power
    :func:`mde_paired`: the minimum detectable effect of a paired t-test with ``n`` pairs at
    level ``alpha`` (after a Holm correction over ``m`` comparisons, whose first step tests at
    :math:`\alpha/m`, the worst case) and the given power: the smallest :math:`\delta` with
    :math:`P(|T| > t_{1-\alpha'/2,\,n-1}) \ge` power, where :math:`T` is noncentral t with
    :math:`n-1` degrees of freedom and noncentrality :math:`\delta\sqrt n / s_d`.
    :func:`pairs_needed` inverts it: the fewest pairs whose MDE is at most a given effect.
    :func:`verdict` turns an observed difference and its MDE into the ledger's words.
Proportions
    :func:`wilson_interval`: the Wilson score interval of ``k`` successes in ``n`` trials,
    :math:`\frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}`.
Multiple comparisons
    :func:`holm`: Holm's step-down adjusted p-values,
    :math:`\tilde p_{(i)} = \max_{j \le i} \min(1, (m-j+1)\,p_{(j)})`.
Resampling
    :func:`block_bootstrap`: a percentile interval of a statistic when whole blocks (seeds)
    are resampled with replacement, so runs that share a seed are never split.
"""

import math
from collections.abc import Callable, Sequence
from numbers import Real

import numpy as np

from ctadam.checks import check_int, check_real

REPRODUCED, NOT_REPRODUCED, UNDECIDABLE = ("reproduced", "not reproduced",
                                           "undecidable at this scale")
VERDICTS = (REPRODUCED, NOT_REPRODUCED, UNDECIDABLE)


def _level(name: str, value: float) -> float:
    return check_real(name, value, 0.0, 1.0, low_open=True, high_open=True)


def paired_t(values: Sequence[float], reference: Sequence[float], alpha: float = 0.05) -> dict:
    """Paired comparison of ``values`` against ``reference`` (same length, matched by seed).

    Pairs where either value is not finite (a diverged run) are dropped; ``n`` says how many
    remain. Returns ``{n, mean, sd, low, high, p}``; with fewer than two pairs the interval
    and p-value are NaN, with zero spread the interval is the point and ``p`` is 0 or 1.
    """
    from scipy import stats

    alpha = _level("alpha", alpha)
    if len(values) != len(reference):
        raise ValueError(f"values and reference must have the same length, got "
                         f"{len(values)} and {len(reference)}")
    d = np.array([a - b for a, b in zip(values, reference, strict=True)
                  if math.isfinite(a) and math.isfinite(b)], dtype=float)
    nan = math.nan
    if d.size == 0:
        return {"n": 0, "mean": nan, "sd": nan, "low": nan, "high": nan, "p": nan}
    mean = float(d.mean())
    if d.size == 1:
        return {"n": 1, "mean": mean, "sd": nan, "low": nan, "high": nan, "p": nan}
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return {"n": int(d.size), "mean": mean, "sd": 0.0, "low": mean, "high": mean,
                "p": 1.0 if mean == 0.0 else 0.0}
    se = sd / math.sqrt(d.size)
    half = float(stats.t.ppf(1 - alpha / 2, d.size - 1) * se)
    p = float(2 * stats.t.sf(abs(mean) / se, d.size - 1))
    return {"n": int(d.size), "mean": mean, "sd": sd, "low": mean - half, "high": mean + half,
            "p": p}


def welch_t(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> dict:
    """Mean of ``a`` minus mean of ``b`` with Welch's interval; non-finite values dropped.

    Returns ``{n, mean, low, high}`` with ``n`` the smaller sample size; with fewer than two
    values on a side the interval is NaN, with zero spread on both it is the point.
    """
    from scipy import stats

    alpha = _level("alpha", alpha)
    a = np.array([x for x in a if math.isfinite(x)], dtype=float)
    b = np.array([x for x in b if math.isfinite(x)], dtype=float)
    n = int(min(a.size, b.size))
    mean = float(a.mean() - b.mean()) if a.size and b.size else math.nan
    if a.size < 2 or b.size < 2:
        return {"n": n, "mean": mean, "low": math.nan, "high": math.nan}
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    if va + vb == 0:
        return {"n": n, "mean": mean, "low": mean, "high": mean}
    dof = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(stats.t.ppf(1 - alpha / 2, dof) * math.sqrt(va + vb))
    return {"n": n, "mean": mean, "low": mean - half, "high": mean + half}


def power_paired(effect: float, sd: float, n: int, alpha: float = 0.05, tests: int = 1) -> float:
    """Power of a two-sided paired t-test with ``n`` pairs to detect a true mean ``effect``.

    ``tests`` > 1 tests at ``alpha / tests`` (the first, strictest step of Holm).
    """
    from scipy import stats

    n = check_int("n", n, 2)
    tests = check_int("tests", tests, 1)
    a = _level("alpha", alpha) / tests
    sd = check_real("sd", sd, 0.0, low_open=True)
    df = n - 1
    crit = stats.t.ppf(1 - a / 2, df)
    nc = abs(check_real("effect", effect)) * math.sqrt(n) / sd
    upper = stats.nct.sf(crit, df, nc)
    # The lower tail is below 1e-9 once nc > 6, where scipy's nct.cdf can return NaN.
    lower = stats.nct.cdf(-crit, df, nc) if nc < 6 else 0.0
    return float(upper + lower)


def mde_paired(sd: float, n: int, alpha: float = 0.05, power: float = 0.8,
               tests: int = 1) -> float:
    """The smallest true effect a paired t-test with ``n`` pairs detects with ``power``.

    Solved on :func:`power_paired` (monotone in the effect) by bisection to 1e-10 relative.
    """
    from scipy.optimize import brentq

    power = _level("power", power)
    sd = check_real("sd", sd, 0.0, low_open=True)
    hi = sd
    while power_paired(hi, sd, n, alpha, tests) < power:
        hi *= 2
    return float(brentq(lambda e: power_paired(e, sd, n, alpha, tests) - power, 0.0, hi,
                        rtol=1e-10))


def pairs_needed(effect: float, sd: float, alpha: float = 0.05, power: float = 0.8,
                 tests: int = 1, max_pairs: int = 100_000) -> int:
    """The fewest pairs (>= 2) whose MDE (:func:`mde_paired`) is at most ``effect``."""
    effect = check_real("effect", effect, 0.0, low_open=True)
    n = 2
    while mde_paired(sd, n, alpha, power, tests) > effect:
        n += 1
        if n > max_pairs:
            raise ValueError(f"more than max_pairs={max_pairs} pairs needed for effect "
                             f"{effect!r} at sd {sd!r}")
    return n


def verdict(difference: float, mde: float, significant: bool, agrees: bool) -> str:
    """The ledger's verdict for a comparison.

    ``"undecidable at this scale"`` when the MDE exceeds ``|difference|`` (the experiment could
    not have told the claimed effect from none), else ``"reproduced"`` when the difference is
    significant in the claimed direction (``agrees``) and ``"not reproduced"`` otherwise.
    """
    if not math.isfinite(difference) or not math.isfinite(mde) or mde > abs(difference):
        return VERDICTS[2]
    return VERDICTS[0] if significant and agrees else VERDICTS[1]


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion ``k / n`` (``0 <= k <= n``, ``n >= 1``)."""
    from scipy import stats

    n = check_int("n", n, 1)
    k = check_int("k", k, 0)
    if k > n:
        raise ValueError(f"k must be in [0, n={n}], got {k}")
    z = float(stats.norm.ppf(0.5 + _level("confidence", confidence) / 2))
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - half) / scale), min(1.0, (centre + half) / scale)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given; a NaN (untested) stays NaN."""
    tested = []
    for i, x in enumerate(pvalues):
        if isinstance(x, Real) and math.isnan(x):
            continue
        tested.append((check_real(f"pvalues[{i}]", x, 0.0, 1.0), i))
    tested.sort()
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, (x, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * x))
        out[i] = running
    return out


def block_bootstrap(blocks: Sequence, statistic: Callable[[list], float], n_boot: int = 2000,
                    confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """``(estimate, low, high)``: ``statistic`` of all blocks and its percentile interval.

    Each bootstrap sample draws ``len(blocks)`` whole blocks with replacement (e.g. every run
    of one seed is a block) and evaluates ``statistic`` on the list of drawn blocks. Samples
    where the statistic is not finite (e.g. a constant resample) are dropped; if more than
    half are, the interval is NaN.
    """
    n_boot = check_int("n_boot", n_boot, 10)
    confidence = _level("confidence", confidence)
    blocks = list(blocks)
    if len(blocks) < 2:
        raise ValueError(f"blocks must hold at least 2 blocks, got {len(blocks)}")
    estimate = float(statistic(blocks))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        sample = [blocks[i] for i in rng.integers(0, len(blocks), len(blocks))]
        value = float(statistic(sample))
        if math.isfinite(value):
            draws.append(value)
    if len(draws) < n_boot / 2:
        return estimate, math.nan, math.nan
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return estimate, float(low), float(high)
