"""Norm-dynamics predictions against closed forms and simulated recursions."""

import math

import numpy as np
import pytest

from ctadam.experiments.normalization.runs import tangential_noise_stream
from ctadam.theory import normdynamics as nd


def test_drive_factor_limits():
    assert nd.drive_factor(0.9, corrected=False) == 1.0
    assert nd.drive_factor(0.0, 0.01, 0.5) == pytest.approx(1.0)
    assert nd.drive_factor(0.9, first_order=True) == pytest.approx(19.0)
    # the eta*lambda term only matters at second order
    assert nd.drive_factor(0.9, 1e-4, 1.0) == pytest.approx(19.0, rel=2e-3)
    assert nd.drive_factor(0.9, 1e-2, 1.0) < 19.0


def test_drive_factor_broadcasts_over_eta_and_lambda():
    etas, lams = np.array([1e-3, 1e-2]), np.array([[0.5], [1.0], [2.0]])
    for corrected in (False, True):
        c = nd.drive_factor(0.9, etas, lams, corrected)
        assert c.shape == (3, 2)
    np.testing.assert_array_equal(nd.drive_factor(0.9, etas, lams, corrected=False), 1.0)
    c = nd.drive_factor(0.9, etas, lams)
    s = 1 - etas * lams
    np.testing.assert_allclose(c, (1 + 0.9 * s) / (1 - 0.9 * s))


def test_first_order_closed_forms():
    eta, lam, beta = 1e-4, 0.1, 0.9
    step = nd.equilibrium_angular_step(eta, lam, beta)
    assert step == pytest.approx(math.sqrt(2 * eta * lam * (1 - beta) / (1 + beta)), rel=1e-4)
    assert nd.equilibrium_angular_step(eta, lam, beta, corrected=False) == pytest.approx(
        math.sqrt(2 * eta * lam), rel=1e-4)
    assert nd.equilibrium_cosine(eta, lam, beta) == pytest.approx(-beta / (1 - beta) * step,
                                                                  rel=1e-4)
    assert nd.equilibrium_cosine(eta, lam, beta, corrected=False) == 0.0
    u_sq = 7.0
    ratio = nd.equilibrium_norm_sq(eta, lam, beta, u_sq) / nd.equilibrium_norm_sq(
        eta, lam, beta, u_sq, corrected=False)
    assert ratio == pytest.approx((1 + beta) / (1 - beta), rel=1e-3)
    assert nd.relaxation_time(eta, lam) == pytest.approx(1 / (2 * eta * lam), rel=1e-3)


def test_closed_recursion_reaches_equilibrium_and_relaxes():
    eta, lam, beta, u_sq = 0.01, 0.5, 0.5, 3.0
    target = nd.equilibrium_norm_sq(eta, lam, beta, u_sq)
    traj = nd.norm_sq_trajectory(10 * target, np.full(5000, u_sq), eta, lam, beta)
    assert traj[-1] == pytest.approx(target, rel=1e-10)
    tau = nd.relaxation_time(eta, lam)
    n = int(round(tau))
    gap = (traj[n] - target) / (traj[0] - target)
    assert gap == pytest.approx(math.exp(-n / tau), rel=1e-9)


def test_growth_law_without_decay():
    traj = nd.norm_sq_trajectory(2.0, np.full(100, 4.0), 0.1, 0.0, 0.5)
    assert traj[-1] == pytest.approx(nd.growth_without_decay(2.0, 4.0, 0.1, 0.5, 100))
    naive = nd.growth_without_decay(2.0, 4.0, 0.1, 0.5, 100, corrected=False)
    assert naive == pytest.approx(2.0 + 0.01 * 4.0 * 100)


def test_exact_recursion_matches_vector_simulation():
    rng = np.random.default_rng(0)
    w0, ups = rng.normal(size=20), rng.normal(size=(300, 20))
    eta, lam = 0.05, 0.3
    ws = nd.simulate_vectors(w0, ups, eta, lam)
    exact = nd.exact_norm_sq(w0 @ w0, (ups**2).sum(1), (ws[:-1] * ups).sum(1), eta, lam)
    np.testing.assert_allclose(exact, (ws**2).sum(1), rtol=1e-12)


def test_naive_closure_exact_for_orthogonal_updates():
    """Updates orthogonal to w make <w, u> = 0: the naive equilibrium is then exact."""
    rng = np.random.default_rng(1)
    eta, lam, d = 0.02, 0.5, 50
    w = rng.normal(size=d)
    norms = []
    for _ in range(3000):
        u = rng.normal(size=d)
        u -= (u @ w) / (w @ w) * w
        u *= 2.0 / np.linalg.norm(u)  # |u| = 2
        w = (1 - eta * lam) * w - eta * u
        norms.append(w @ w)
    assert np.mean(norms[-500:]) == pytest.approx(
        nd.equilibrium_norm_sq(eta, lam, 0.9, 4.0, corrected=False), rel=1e-6)


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_momentum_identity_is_exact(lam):
    beta, eta = 0.8, 0.01
    rec = tangential_noise_stream(beta, eta, lam, 60)
    for n in (10, 30, 60):
        predicted = nd.momentum_inner_product(rec["u"][:n], rec["m"][:n], beta, eta, lam)
        assert predicted == pytest.approx(rec["wm"][n - 1], rel=1e-8, abs=1e-12)


def test_corrected_equilibrium_beats_naive_under_momentum():
    beta, eta, lam = 0.9, 0.01, 1.0
    rec = tangential_noise_stream(beta, eta, lam, 3000)
    tail = slice(2000, None)
    u_sq = (rec["u"][tail] ** 2).sum(1).mean()
    measured = rec["w_sq"][tail].mean()
    corrected = nd.equilibrium_norm_sq(eta, lam, beta, u_sq)
    naive = nd.equilibrium_norm_sq(eta, lam, beta, u_sq, corrected=False)
    assert abs(measured / corrected - 1) < 0.15
    assert measured / naive > 8.0
    cos = rec["wu"][tail] / np.sqrt(rec["w_sq"][tail] * (rec["u"][tail] ** 2).sum(1))
    assert cos.mean() == pytest.approx(nd.equilibrium_cosine(eta, lam, beta), rel=0.2)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: nd.equilibrium_norm_sq(0.1, 0.0, 0.9, 1.0), "lambda"),
    (lambda: nd.equilibrium_angular_step(-1.0, 0.1, 0.9), "eta"),
    (lambda: nd.equilibrium_angular_step(0.1, 20.0, 0.9), r"eta \* lambda"),
    (lambda: nd.drive_factor(1.0, first_order=True), "beta"),
    (lambda: nd.drive_factor(0.9), "eta and lambda are required"),
    (lambda: nd.drive_factor(0.9, 0.0, 0.5), "eta"),
    (lambda: nd.relaxation_time(0.1, 0.0), "lambda"),
    (lambda: nd.exact_norm_sq(1.0, [1.0, 2.0], [0.0], 0.1, 0.1), "u_sq and wu"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
