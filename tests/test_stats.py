"""The comparison statistics, each checked against an independent computation."""

import math

import numpy as np
import pytest

from ctadam import stats


def test_paired_t_matches_scipy_ttest_rel_and_drops_diverged_pairs():
    from scipy.stats import ttest_rel

    a = [0.61, 0.58, 0.64, 0.60, 0.63, float("nan")]
    b = [0.59, 0.57, 0.60, 0.61, 0.60, 0.5]
    out = stats.paired_t(a, b)
    ref = ttest_rel(a[:5], b[:5])
    assert out["n"] == 5
    assert out["p"] == pytest.approx(ref.pvalue, rel=1e-12)
    ci = ref.confidence_interval(0.95)
    assert (out["low"], out["high"]) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_paired_t_edge_cases_say_what_they_can():
    assert math.isnan(stats.paired_t([1.0], [0.0])["low"])
    assert stats.paired_t([1.0, 2.0], [0.0, 1.0])["p"] == 0.0
    with pytest.raises(ValueError, match="same length"):
        stats.paired_t([1.0], [1.0, 2.0])


def test_power_at_the_mde_is_the_asked_power_and_simulation_agrees():
    sd, n = 1.3, 5
    mde = stats.mde_paired(sd, n, tests=4)
    assert stats.power_paired(mde, sd, n, tests=4) == pytest.approx(0.8, abs=1e-8)
    # Monte Carlo of the same test: the rejection rate at the MDE is 0.8 within its error.
    from scipy.stats import t as student

    rng = np.random.default_rng(1)
    d = rng.normal(mde, sd, size=(40_000, n))
    tstat = d.mean(1) / (d.std(1, ddof=1) / math.sqrt(n))
    rate = np.mean(np.abs(tstat) > student.ppf(1 - 0.05 / 8, n - 1))
    assert rate == pytest.approx(0.8, abs=0.01)


def test_mde_falls_with_pairs_and_rises_with_the_holm_family():
    assert stats.mde_paired(1.0, 20) < stats.mde_paired(1.0, 5)
    assert stats.mde_paired(1.0, 5, tests=4) > stats.mde_paired(1.0, 5)
    # Large-n limit: (z_{0.975} + z_{0.8}) sd / sqrt(n) = 2.8016 / sqrt(n).
    assert stats.mde_paired(1.0, 4000) * math.sqrt(4000) == pytest.approx(2.8016, rel=2e-3)


def test_pairs_needed_is_the_first_n_whose_mde_is_small_enough():
    n = stats.pairs_needed(1.0, 1.3, tests=4)
    assert stats.mde_paired(1.3, n, tests=4) <= 1.0 < stats.mde_paired(1.3, n - 1, tests=4)


def test_verdict_is_undecidable_whenever_the_mde_exceeds_the_difference():
    assert stats.verdict(0.5, 1.2, significant=True, agrees=True) == "undecidable at this scale"
    assert stats.verdict(2.0, 1.2, significant=True, agrees=True) == "reproduced"
    assert stats.verdict(2.0, 1.2, significant=True, agrees=False) == "not reproduced"
    assert stats.verdict(2.0, 1.2, significant=False, agrees=True) == "not reproduced"
    assert stats.verdict(math.nan, 1.0, True, True) == "undecidable at this scale"


def test_wilson_interval_known_values_and_edges():
    # 24 of 48: centred at 1/2; half-width z sqrt(1/4n + z^2/4n^2) / (1 + z^2/n) = 0.13611.
    lo, hi = stats.wilson_interval(24, 48)
    assert (lo + hi) / 2 == pytest.approx(0.5)
    assert hi - lo == pytest.approx(2 * 0.13611, abs=1e-4)
    assert stats.wilson_interval(0, 72)[0] == 0.0
    assert stats.wilson_interval(0, 72)[1] == pytest.approx(0.05063, abs=1e-4)
    with pytest.raises(ValueError, match="k must be"):
        stats.wilson_interval(5, 4)


def test_holm_matches_its_step_down_definition_and_keeps_order():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.06, 0.04) = 0.06
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = stats.holm([0.2, math.nan, 0.9])
    assert math.isnan(out[1]) and out[0] == pytest.approx(0.4) and out[2] == pytest.approx(0.9)
    with pytest.raises(ValueError, match=r"pvalues\[0\]"):
        stats.holm([1.5])


def test_block_bootstrap_resamples_whole_blocks():
    # Two seeds, each a block of identical values: every resample's mean is 0, 0.5 or 1.
    blocks = [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    seen = set()

    def mean_of(sample):
        value = float(np.mean([x for block in sample for x in block]))
        seen.add(value)
        return value

    est, lo, hi = stats.block_bootstrap(blocks, mean_of, n_boot=200)
    assert est == 0.5 and seen <= {0.0, 0.5, 1.0} and lo == 0.0 and hi == 1.0
    with pytest.raises(ValueError, match="at least 2"):
        stats.block_bootstrap([[1.0]], mean_of)


def test_welch_t_matches_scipy_and_drops_diverged_runs():
    from scipy.stats import ttest_ind

    a, b = [1.0, 2.0, 3.0, float("nan")], [0.0, 0.5, 0.1, 0.3]
    out = stats.welch_t(a, b)
    ci = ttest_ind(a[:3], b, equal_var=False).confidence_interval(0.95)
    assert out["n"] == 3 and out["mean"] == pytest.approx(2.0 - 0.225)
    assert (out["low"], out["high"]) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert math.isnan(stats.welch_t([1.0], [0.0, 1.0])["low"])
