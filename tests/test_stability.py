"""The update bound B_n: attained by the adversarial history, never exceeded, safe near the edge."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from ctadam.theory import stability as st

PAIRS = [(0.9, 0.999), (0.9, 0.95), (0.5, 0.999), (0.99, 0.9), (0.9, 0.81), (0.0, 0.5), (0.3, 0.2)]


def adam_updates(grads: np.ndarray, beta1: float, beta2: float) -> np.ndarray:
    """u_1..u_n of torch.optim.Adam (float64, eps = 0, lr = 1) on one scalar parameter."""
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=1.0, betas=(beta1, beta2), eps=0.0)
    out = []
    for g in grads:
        before = p.detach().clone()
        p.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        out.append(float(before - p.detach()))
    return np.array(out)


def adam_last_update(grads: np.ndarray, beta1: float, beta2: float) -> float:
    """|u_n| of the plain Adam recursion (numpy), for the optimiser-based search."""
    n = len(grads)
    w_m = (1 - beta1) * beta1 ** np.arange(n)[::-1]
    w_v = (1 - beta2) * beta2 ** np.arange(n)[::-1]
    mhat = w_m @ grads / (1 - beta1**n)
    vhat = w_v @ grads**2 / (1 - beta2**n)
    return abs(mhat) / np.sqrt(vhat)


# beta1 = 0 is left out here: its adversarial history has zero gradients before the last one,
# and torch's Adam with eps = 0 turns the first of them into 0/0.
@pytest.mark.parametrize(("beta1", "beta2"), [p for p in PAIRS if p[0] > 0] + [(0.05, 0.5)])
@pytest.mark.parametrize("n", [1, 2, 7, 60])
def test_adversarial_history_attains_bound_in_torch_adam(beta1, beta2, n):
    grads = st.adversarial_history(beta1, beta2, n)
    u = adam_updates(grads, beta1, beta2)
    assert u[-1] == pytest.approx(float(st.bound_n(beta1, beta2, n)), rel=st.ADVERSARIAL_RTOL)
    assert st.ADVERSARIAL_RTOL <= 1e-9  # the paper quotes this tolerance


def test_first_update_is_a_sign_step():
    betas, gammas = np.meshgrid(np.linspace(0, 0.99, 7), np.linspace(0.01, 0.99, 7))
    np.testing.assert_allclose(st.bound_n(betas, gammas, 1), 1.0, rtol=1e-14)


@pytest.mark.parametrize(("beta1", "beta2"), PAIRS)
def test_random_histories_never_exceed_bound(beta1, beta2):
    rng = np.random.default_rng(0)
    for n in (3, 20, 100):
        bound = float(st.bound_n(beta1, beta2, n))
        for scale in (1e-3, 1.0, 10.0):
            for _ in range(50):
                trend = scale * rng.standard_normal() * np.arange(n) / n
                g = rng.standard_normal(n) * np.exp(trend)
                assert adam_last_update(g, beta1, beta2) <= bound * (1 + 1e-12)


@pytest.mark.parametrize(("beta1", "beta2"), [(0.9, 0.95), (0.9, 0.7), (0.5, 0.9)])
def test_optimised_histories_approach_but_never_exceed_bound(beta1, beta2):
    n = 8
    bound = float(st.bound_n(beta1, beta2, n))
    rng = np.random.default_rng(1)
    best = 0.0
    for _ in range(5):
        res = minimize(lambda g: -adam_last_update(g, beta1, beta2), rng.standard_normal(n),
                       method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-10,
                                                      "fatol": 1e-13})
        best = max(best, -res.fun)
        assert -res.fun <= bound * (1 + 1e-12)
    assert best >= 0.999 * bound  # the search finds the bound: it is tight


def test_boundary_grows_like_sqrt_n():
    beta1 = 0.9
    n = np.array([1e2, 1e4, 1e6])
    b = st.bound_n(beta1, beta1**2, n)
    slopes = np.diff(np.log(b)) / np.diff(np.log(n))
    np.testing.assert_allclose(slopes[-1], 0.5, atol=1e-3)
    np.testing.assert_allclose(b[-1] / np.sqrt(n[-1]), (1 - beta1) / np.sqrt(1 - beta1**2),
                               rtol=1e-6)


def test_outside_grows_at_rate_rho():
    beta1, beta2 = 0.99, 0.99**2 / 1.5
    n = np.array([1e5, 1e6])
    log_b = st.log_bound_n(beta1, beta2, n)
    assert np.all(np.isfinite(log_b))
    assert np.diff(log_b)[0] / np.diff(n)[0] == pytest.approx(float(st.growth_rate(beta1, beta2)),
                                                            rel=1e-9)


def test_limit_and_known_default():
    assert float(st.bound_inf(0.9, 0.999)) == pytest.approx(7.2703, abs=1e-4)
    assert float(st.bound_n(0.9, 0.999, 10**6)) == pytest.approx(float(st.bound_inf(0.9, 0.999)),
                                                                rel=1e-12)
    assert np.isinf(st.bound_inf(0.99, 0.9))


def test_grid_is_finite_and_nan_free_near_and_beyond_boundary():
    assert st.CHECKED_MAX_STEPS >= 10**6 and st.CHECKED_MAX_RATIO >= 1.5
    beta1 = np.linspace(0.0, 0.999, 61)[:, None, None]
    ratio = np.linspace(0.5, st.CHECKED_MAX_RATIO, 41)[None, :, None]  # beta1^2 / beta2
    beta2 = np.clip(beta1**2 / ratio, 1e-6, 0.999999)
    n = np.array([1, 10, 1000, st.CHECKED_MAX_STEPS])[None, None, :]
    log_b = st.log_bound_n(beta1, beta2, n)
    assert not np.any(np.isnan(log_b))
    assert np.all(np.isfinite(log_b))
    assert not np.any(np.isnan(st.bound_n(beta1, beta2, n)))
    assert not np.any(np.isnan(st.bound_inf(beta1[..., 0], beta2[..., 0])))
    # B_n is non-decreasing in n and tends to B_inf inside the region.
    assert np.all(np.diff(log_b, axis=-1) >= -1e-12)
    inside = st.in_stable_region(beta1[..., 0], beta2[..., 0])
    np.testing.assert_array_equal(inside, np.broadcast_to(beta1[..., 0] ** 2 < beta2[..., 0],
                                                          inside.shape))


def test_gamma_zero_cases():
    # beta1 = beta2 = 0 is the sign step: r = 0, B_n = 1 for every n, inside the region.
    assert bool(st.in_stable_region(0.0, 0.0))
    assert float(st.bound_inf(0.0, 0.0)) == 1.0
    np.testing.assert_array_equal(st.bound_n(0.0, 0.0, [1, 2, 10**6]), 1.0)
    np.testing.assert_allclose(adam_updates(np.array([3.0, -0.1, 2e-5]), 0.0, 0.0),
                               [1.0, -1.0, 1.0], rtol=1e-15)
    # beta2 = 0 < beta1: r = inf, outside, unbounded from n = 2 on (and B_1 = 1).
    assert not bool(st.in_stable_region(0.9, 0.0))
    assert np.isinf(st.bound_inf(0.9, 0.0)) and np.isinf(st.growth_rate(0.9, 0.0))
    np.testing.assert_array_equal(st.bound_n(0.9, 0.0, [1, 2]), [1.0, np.inf])
    # The boundary pair stays on the boundary (beta2 == beta1^2 in floating point).
    b0, g0 = st.BOUNDARY_EXAMPLE
    assert b0 * b0 == g0 and not bool(st.in_stable_region(b0, g0))


def test_region_predicate_agrees_with_growth_rate_sign():
    b, g = np.meshgrid(np.linspace(0.01, 0.99, 30), np.linspace(0.01, 0.99, 30))
    np.testing.assert_array_equal(st.in_stable_region(b, g), st.growth_rate(b, g) < 0)


def test_continuous_kernel_matches_discrete_as_decays_approach_one():
    for beta1, beta2 in [(0.999, 0.99999), (0.9999, 0.999999)]:
        a, b = -np.log(beta1), -np.log(beta2)
        assert float(st.bound_continuous(a, b)) == pytest.approx(float(st.bound_inf(beta1, beta2)),
                                                                 rel=2e-3)
    assert np.isinf(st.bound_continuous(1.0, 2.5))
    # Finite-horizon version: B(t) -> 1 as t -> 0 and -> the limit as t -> infinity.
    assert float(st.bound_continuous(1.0, 0.5, t=1e-9)) == pytest.approx(1.0, rel=1e-6)
    assert float(st.bound_continuous(1.0, 0.5, t=200.0)) == pytest.approx(
        float(st.bound_continuous(1.0, 0.5)), rel=1e-12)


def test_compose_levels_bounds_two_level_recursion():
    levels = [(0.9, 0.95), (0.5, 0.9)]
    rng = np.random.default_rng(2)
    n = 30
    final = float(st.final_update_bound(levels, n))
    product = float(st.compose_levels(levels, n))
    assert product == pytest.approx(float(st.bound_n(0.9, 0.95, n) * st.bound_n(0.5, 0.9, n)))
    worst = 0.0
    for _ in range(200):
        g = rng.standard_normal(n) * np.exp(3 * rng.standard_normal() * np.arange(n) / n)
        u1 = adam_updates(g, *levels[0])
        worst = max(worst, abs(adam_updates(u1, *levels[1])[-1]))
    assert worst <= final * (1 + 1e-12) <= product * (1 + 1e-12)
    assert np.isinf(st.compose_levels([(0.99, 0.9), (0.9, 0.999)]))
    assert np.isfinite(st.final_update_bound([(0.99, 0.9), (0.9, 0.999)]))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: st.bound_n(1.0, 0.9, 3), "beta1"),
        (lambda: st.bound_n(-0.1, 0.9, 3), "beta1"),
        (lambda: st.bound_n(0.9, 1.0, 3), "beta2"),
        (lambda: st.bound_inf(0.9, np.array([0.5, 1.2])), "beta2"),
        (lambda: st.bound_n(0.9, 0.99, 0), "n"),
        (lambda: st.bound_n(0.9, 0.99, 2.5), "n"),
        (lambda: st.adversarial_history(0.9, 0.99, 0), "n"),
        (lambda: st.in_stable_region(np.nan, 0.9), "beta1"),
        (lambda: st.bound_inf("0.9", 0.99), "beta1"),
        (lambda: st.bound_n(0.9, [0.99, "x"], 3), "beta2"),
        (lambda: st.in_stable_region(0.9, None), "beta2"),
        (lambda: st.growth_rate(True, 0.9), "beta1"),
        (lambda: st.compose_levels([(0.9, 1.0)]), "beta2 of level 1"),
        (lambda: st.bound_continuous(-1.0, 1.0), "a"),
    ],
)
def test_bad_input_is_rejected_by_name(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        call()
