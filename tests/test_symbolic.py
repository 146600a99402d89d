"""The sympy derivations agree with the numerics of ctadam.theory.stability and the ODE model."""

import numpy as np
import pytest
import sympy as sp

from ctadam.theory import stability as st
from ctadam.theory import symbolic as sy

GRID = [(0.9, 0.999), (0.5, 0.9), (0.3, 0.2), (0.99, 0.9)]


@pytest.fixture(scope="module")
def bn():
    return sp.lambdify((sy.beta1, sy.beta2, sy.n), sy.bound_n().doit(), "numpy")


@pytest.mark.parametrize(("b", "g"), GRID)
@pytest.mark.parametrize("n", [1, 5, 40])
def test_symbolic_bound_n_matches_numeric(bn, b, g, n):
    assert bn(b, g, n) == pytest.approx(float(st.bound_n(b, g, n)), rel=1e-10)


@pytest.mark.parametrize(("b", "g"), GRID[:3])
def test_symbolic_bound_inf_matches_numeric(b, g):
    expr = sy.bound_inf().doit().subs({sy.beta1: b, sy.beta2: g})
    assert float(expr) == pytest.approx(float(st.bound_inf(b, g)), rel=1e-12)


def test_boundary_and_growth_rate():
    assert sp.simplify(sy.boundary() - sy.beta1**2) == 0
    rho = sp.lambdify((sy.beta1, sy.beta2), sy.growth_rate())
    assert rho(0.99, 0.9) == pytest.approx(float(st.growth_rate(0.99, 0.9)), rel=1e-12)


def test_ema_lags_match_weighted_mean_age():
    for decay, steps in [(0.9, None), (0.99, None), (0.9, 7), (0.5, 3)]:
        n_terms = 20000 if steps is None else steps
        age = np.arange(n_terms)
        w = (1 - decay) * decay**age
        expected = (w @ age) / w.sum()
        expr = sy.ema_lag(sy.beta1, None if steps is None else sy.n)
        value = float(expr.subs({sy.beta1: decay, sy.n: steps or 0}))
        assert value == pytest.approx(expected, rel=1e-9)


def test_first_order_coefficient_is_lag_difference():
    coef = sy.update_first_order()
    assert sp.simplify(coef - (sy.beta2 / (1 - sy.beta2) - sy.beta1 / (1 - sy.beta1))) == 0
    # numerically: u = mhat/sqrt(vhat) for a linear-in-time gradient, small eta
    b, g, eta, g0, slope = 0.9, 0.99, 1e-6, 1.0, 0.5
    k = np.arange(200000)
    grads = g0 - slope * eta * k  # g at ages k (slope = dg/dt)
    wm, wv = (1 - b) * b**k, (1 - g) * g**k
    u = (wm @ grads) / np.sqrt(wv @ grads**2)
    predicted = 1 + eta * float(coef.subs({sy.beta1: b, sy.beta2: g})) * slope / g0
    assert u - 1 == pytest.approx(predicted - 1, rel=1e-3)


def test_continuous_bound_and_rate_lags():
    expr = sy.bound_continuous()
    assert float(expr.subs({sy.a: 1.0, sy.b: 0.5})) == pytest.approx(
        float(st.bound_continuous(1.0, 0.5)), rel=1e-12)
    euler, kernel, matched, x = sy.rate_lags()
    assert euler == sp.Rational(1, 2)
    assert matched == 0
    assert sp.simplify(kernel - (x - 1) / 12) == 0


def test_macros_are_latex_strings(tmp_path):
    from ctadam.experiments.theory import symbolic

    out = tmp_path / "sym.tex"
    symbolic.main(["--out", str(out)])
    text = out.read_text()
    assert r"\newcommand{\TheorySymBinf}" in text
    assert "Piecewise" not in text and "cases" not in text


def test_kernel_lag_mismatch_matches_its_expansion():
    from ctadam.theory.continuous import kernel_lag_mismatch

    _, kernel, _, x = sy.rate_lags()
    b, g = 0.99, 0.999
    series = float(kernel.subs(x, g) - kernel.subs(x, b))
    assert kernel_lag_mismatch(b, g) == pytest.approx(series, rel=2e-2)
    assert kernel_lag_mismatch(b, b) == 0.0
