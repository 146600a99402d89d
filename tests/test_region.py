"""The paper's continuous-time region (C, kernel bound, |C|/2) and the band against the exact."""

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from ctadam.theory import region as rg
from ctadam.theory import stability as st
from ctadam.theory import symbolic as sy


def test_c_at_the_defaults_and_its_symbolic_form():
    c = float(rg.paper_c(0.9, 0.999))
    assert c == pytest.approx(2 * 0.1 / 0.9 - 0.001 / 0.999, rel=1e-14)
    expr = sp.lambdify((sy.beta1, sy.beta2), sy.paper_c())
    grid = np.meshgrid(np.linspace(0.05, 0.99, 9), np.linspace(0.05, 0.999, 9))
    np.testing.assert_allclose(expr(*grid), rg.paper_c(*grid), rtol=1e-12)


def test_kernel_bound_at_the_defaults_against_the_exact_discrete_bound():
    assert float(rg.kernel_bound(0.9, 0.999)) == pytest.approx(7.4667, abs=1e-4)
    assert float(st.bound_inf(0.9, 0.999)) == pytest.approx(7.2703, abs=1e-4)
    bound = sp.lambdify((sy.beta1, sy.beta2), sy.paper_bound())
    assert bound(0.9, 0.999) == pytest.approx(float(rg.kernel_bound(0.9, 0.999)), rel=1e-12)


def _kernel_ratio(g, r1, r2, horizon):
    """m / sqrt(v) of the exponential kernels with rates r1, r2 for the history g(age)."""
    m = r1 * quad(lambda s: np.exp(-r1 * s) * g(s), 0, horizon, limit=400)[0]
    v = r2 * quad(lambda s: np.exp(-r2 * s) * g(s) ** 2, 0, horizon, limit=400)[0]
    return abs(m) / np.sqrt(v)


def test_kernel_bound_is_attained_and_not_exceeded_by_the_kernels():
    b1, b2 = 0.8, 0.95
    r1, r2 = float(rg.rate(b1)), float(rg.rate(b2))
    bound = float(rg.kernel_bound(b1, b2))
    # Equality in Cauchy-Schwarz: g(age s) proportional to exp(-(r1 - r2) s).
    attained = _kernel_ratio(lambda s: np.exp(-(r1 - r2) * s), r1, r2, 4000.0)
    assert attained == pytest.approx(bound, rel=1e-6)
    rng = np.random.default_rng(0)
    for _ in range(20):
        freq, phase, trend = rng.uniform(0, 2, 3)
        ratio = _kernel_ratio(lambda s, f=freq, p=phase, t=trend: np.cos(f * s + p)
                              * np.exp(-t * s / 10), r1, r2, 400.0)
        assert ratio <= bound * (1 + 1e-9)


def test_finite_horizon_kernel_bound_grows_at_half_c_outside():
    b1, b2 = 0.9, 0.7  # C < 0
    c = float(rg.paper_c(b1, b2))
    r1, r2 = float(rg.rate(b1)), float(rg.rate(b2))
    t = np.array([2000.0, 2001.0])
    log_b = np.log(st.bound_continuous(r1, r2, t))
    assert log_b[1] - log_b[0] == pytest.approx(abs(c) / 2, rel=1e-6)
    assert float(rg.paper_growth_rate(b1, b2)) == pytest.approx(abs(c) / 2, rel=1e-14)
    assert float(rg.paper_growth_rate(0.9, 0.999)) == 0.0


def test_boundaries_band_and_flag():
    b1 = np.array([0.3, 0.5, 0.9])
    np.testing.assert_allclose(rg.paper_boundary(b1), [0.3 / 1.7, 1 / 3, 0.9 / 1.1])
    np.testing.assert_allclose(rg.paper_c(b1, rg.paper_boundary(b1)), 0.0, atol=1e-14)
    np.testing.assert_allclose(rg.band_width(b1), rg.paper_boundary(b1) - b1**2, rtol=1e-12)
    width = sp.lambdify(sy.beta1, sy.band_width())
    np.testing.assert_allclose(width(b1), rg.band_width(b1), rtol=1e-12)
    assert bool(rg.in_band(0.5, 0.3))  # 0.25 < 0.3 < 1/3
    assert not rg.in_band(0.5, 0.2) and not rg.in_band(0.5, 0.4) and not rg.in_band(0.9, 0.999)
    assert bool(rg.in_band(0.0, 0.0))  # sign step: exact stable, C undefined
    grid = np.meshgrid(np.linspace(0, 0.99, 50), np.linspace(0, 0.99, 40))
    assert rg.in_band(*grid).shape == (40, 50)


def test_growth_rates_agree_to_first_order():
    b1, b2 = 0.995, 0.98  # C < 0, both decays near 1
    rho = float(st.growth_rate(b1, b2))
    half_c = float(rg.paper_growth_rate(b1, b2))
    gap = sp.lambdify((sy.beta1, sy.beta2), sy.growth_gap())(b1, b2)
    assert gap == pytest.approx((1 - b1) ** 2 / 2 - (1 - b2) ** 2 / 4, rel=1e-12)
    assert rho - half_c == pytest.approx(gap, rel=0.05)


def test_edge_values():
    assert np.isinf(rg.paper_c(0.0, 0.999)) and bool(rg.paper_stable(0.0, 0.999))
    assert np.isinf(rg.kernel_bound(0.0, 0.999))
    assert rg.paper_growth_rate(0.9, 0.0) == np.inf
    assert np.isnan(rg.paper_c(0.0, 0.0)) and not rg.paper_stable(0.0, 0.0)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: rg.paper_c(1.0, 0.9), "beta1"),
    (lambda: rg.kernel_bound(0.9, [0.9, -0.1]), "beta2"),
    (lambda: rg.in_band("x", 0.9), "beta1"),
    (lambda: rg.paper_boundary(np.nan), "beta1"),
])
def test_bad_input_is_rejected_by_name(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        call()
