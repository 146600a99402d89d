"""The pre-registered instability rule, its undecidable cells and the growth phase."""

import math

import numpy as np
import pytest

from ctadam import instability as ins
from ctadam.theory import stability as st


def test_the_rule_is_peak_above_K_or_diverged():
    assert ins.is_unstable(10.5, False, 10.0)
    assert not ins.is_unstable(10.0, False, 10.0)
    assert ins.is_unstable(0.5, True, 10.0)
    assert ins.is_unstable(math.nan, False, 10.0)
    with pytest.raises(ValueError, match="K must be"):
        ins.is_unstable(1.0, False, 1.0)
    with pytest.raises(ValueError, match="diverged"):
        ins.is_unstable(1.0, 0, 10.0)


def test_inside_cells_are_decidable_only_below_their_bound():
    # Defaults: B_inf = 7.27 (eq:bound-inf).
    assert float(st.bound_inf(0.9, 0.999)) == pytest.approx(7.27, abs=0.01)
    assert ins.decidability(0.9, 0.999, 10.0, 100) == ins.DECIDABLE
    assert ins.decidability(0.9, 0.999, 5.0, 100) == ins.UNDECIDABLE_BOUND


def test_outside_cells_need_ln_10K_over_rho_steps():
    beta1, beta2, K = 0.9, 0.8, 10.0
    rho = float(st.growth_rate(beta1, beta2))
    need = math.log(100.0) / rho
    assert ins.min_steps(beta1, beta2, K) == pytest.approx(need)
    assert ins.decidability(beta1, beta2, K, math.ceil(need)) == ins.DECIDABLE
    assert ins.decidability(beta1, beta2, K, math.floor(need)) == ins.UNDECIDABLE_HORIZON
    assert ins.decidability(0.9, 0.81, K, 10**6) == ins.UNDECIDABLE_BOUNDARY


def test_the_issue_example_gamma_0_9_cannot_fire_in_a_100_step_window():
    # At gamma = 0.9 and f = -1 the largest rate is 0.0051: 99 rho = 0.50 < ln 2.
    beta1 = 0.9
    beta2 = beta1 ** 2 - (beta1 / (2 - beta1) - beta1 ** 2)  # f = -1 below the exact boundary
    rho = float(st.growth_rate(beta1, beta2))
    assert rho == pytest.approx(0.0051, abs=2e-4)
    assert ins.decidability(beta1, beta2, 10.0, 100) == ins.UNDECIDABLE_HORIZON
    steps = ins.horizon(beta1, beta2, 10.0, base_steps=300, max_steps=5000)
    assert ins.decidability(beta1, beta2, 10.0, steps) == ins.DECIDABLE


def test_horizon_keeps_base_steps_inside_and_caps_at_max_steps():
    assert ins.horizon(0.9, 0.999, 10.0, 300, 3000) == 300
    assert ins.horizon(0.99, 0.9799, 10.0, 300, 3000) == 3000  # needs ~ 9e2 / 0.00005 steps
    assert ins.decidability(0.99, 0.9799, 10.0, 3000) == ins.UNDECIDABLE_HORIZON
    with pytest.raises(ValueError, match="max_steps"):
        ins.horizon(0.9, 0.8, 10.0, 300, 100)


def test_growth_phase_runs_from_onset_to_peak_and_its_slope_is_the_rate():
    n = np.arange(200)
    rate = 0.05
    u = np.where(n < 50, 1.0, np.exp(rate * (n - 50)))
    u = np.minimum(u, math.exp(rate * 100))  # plateau after step 150
    u[150:] *= 0.5  # and a drop after the peak
    first, last = ins.growth_phase(u, onset=2.0)
    assert u[first] > 2.0 >= u[first - 1] and last == 149
    assert ins.growth_phase_slope(u) == pytest.approx(rate, rel=1e-9)


def test_growth_phase_is_none_without_growth_and_cuts_a_diverged_tail():
    assert ins.growth_phase(np.ones(50)) is None
    assert math.isnan(ins.growth_phase_slope(np.ones(50)))
    u = np.exp(0.1 * np.arange(40))
    u[30:] = np.inf
    assert ins.growth_phase(u)[1] == 29
    with pytest.raises(ValueError, match="update_inf"):
        ins.growth_phase(np.zeros(5))


def test_classify_reports_the_rule_and_the_cells_decidability():
    out = ins.classify(0.9, 0.5, 40.0, False, 10.0, 2000)
    assert out == {"unstable": True, "decidability": ins.DECIDABLE, "decidable": True,
                   "peak": 40.0}
    short = ins.classify(0.9, 0.5, 3.0, False, 10.0, 5)
    assert short["unstable"] is False
    assert short["decidability"] == ins.UNDECIDABLE_HORIZON and not short["decidable"]
    assert ins.classify(0.9, 0.5, 3.0, True, 10.0, 5)["unstable"] is True


def test_require_decidable_names_the_key_when_nothing_can_be_decided():
    assert ins.require_decidable([(0.9, 0.5, 2000), (0.9, 0.5, 5)], 10.0, "band") == 1
    assert ins.require_decidable([], 10.0, "band") == 0
    with pytest.raises(ValueError, match="band.steps"):
        ins.require_decidable([(0.9, 0.5, 5), (0.9, 0.8101, 5000)], 10.0, "band.steps")


def test_decidable_mask_agrees_with_decidability_cell_by_cell():
    b1, b2 = np.meshgrid(np.linspace(0.0, 0.99, 12), np.linspace(0.01, 0.999, 13), indexing="ij")
    mask = ins.decidable_mask(b1, b2, 10.0, 300)
    for i, j in np.ndindex(b1.shape):
        if b1[i, j] > 0:
            expected = ins.decidability(b1[i, j], b2[i, j], 10.0, 300) == ins.DECIDABLE
            assert mask[i, j] == expected, (b1[i, j], b2[i, j])
    assert mask[0].all() == bool((st.bound_inf(0.0, b2[0]) < 10).all())
