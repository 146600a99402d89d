"""The continuous-time models: rates, limits, orders against discrete Adam, the model gap."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import approx_fprime

from ctadam.theory import continuous as ct
from ctadam.theory import problems as pr


def test_discrete_adam_matches_torch():
    torch = pytest.importorskip("torch")
    prob = pr.quadratic(dim=4, seed=1)
    p = torch.tensor(prob.theta0, requires_grad=True)
    opt = torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    for _ in range(25):
        p.grad = torch.tensor(prob.grad(p.detach().numpy()))
        opt.step()
    ours = ct.discrete_adam(prob.grad, prob.theta0, 0.01, 0.9, 0.99, 25, eps=1e-8,
                            weight_decay=0.1)
    np.testing.assert_allclose(ours, p.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["quadratic_smooth", "quadratic_valley"])
def test_problem_gradients(name):
    prob = pr.get(name)
    x = prob.theta0 + 0.1
    np.testing.assert_allclose(prob.grad(x), approx_fprime(x, prob.loss, 1e-7), atol=2e-4)


def test_rates_and_bad_input():
    assert ct.rates(0.9, 0.99, 0.01, "backward") == pytest.approx((0.1 / 0.9 / 0.01,
                                                                   0.01 / 0.99 / 0.01))
    assert ct.rates(0.9, 0.99, 0.01, "euler") == pytest.approx((10.0, 1.0))
    assert ct.rates(0.9, 0.99, 0.01, "kernel") == pytest.approx((-np.log(0.9) / 0.01,
                                                                 -np.log(0.99) / 0.01))
    assert ct.rates(0.9, 0.99, 0.01, "matched") == pytest.approx((0.2 / 1.9 / 0.01,
                                                                  0.02 / 1.99 / 0.01))
    assert ct.time_step(0.01, 0.5) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="^rates must be one of"):
        ct.rates(0.9, 0.99, 0.01, "exact")
    with pytest.raises(ValueError, match="^h must be"):
        ct.rates(0.9, 0.99, 0.0)
    with pytest.raises(ValueError, match="^beta1 must be"):
        ct.rates(1.0, 0.99, 0.1)
    with pytest.raises(ValueError, match="^p must be"):
        ct.time_step(0.01, 0.0)
    with pytest.raises(ValueError, match="^problem must be one of"):
        pr.get("regression")
    with pytest.raises(ValueError, match="^model must be one of"):
        ct.integrate(lambda th: th, np.ones(2), 0.01, 0.9, 0.99, 3, model="third")


@pytest.mark.parametrize("model", ct.MODELS)
def test_constant_gradient_moves_at_unit_speed(model):
    # Linear loss: g constant, so mhat = g, vhat = g^2 and dF/dt = 0: dtheta/dt = -sign(g).
    def grad(theta):
        return np.array([2.0, -0.5])

    theta_t, _ = ct.integrate(grad, np.zeros(2), 0.01, 0.9, 0.999, 150, model=model)
    np.testing.assert_allclose(theta_t, [-1.5, 1.5], rtol=1e-9)


@pytest.mark.parametrize("model", ct.MODELS)
def test_time_step_exponent_is_a_unit_of_time(model):
    # h = eta^p only rescales time (eq:ct-p): in step units tau = t/h the vector field
    # h f(h tau, y) is the same for every p, so every p gives the same theta at step n.
    prob = pr.get("quadratic_valley")
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal(size=8), rng.normal(size=8), rng.uniform(0.5, 2, size=8)])
    eta, tau = 4e-3, 3.7

    def field(p):
        h = ct.time_step(eta, p)
        a, b = ct.rates(0.9, 0.99, h)
        rhs = ct.ode_rhs(prob.grad, a, b, eta / h, h, 1e-8, 0.1, model, t_floor=1e-9 * h)
        return h * rhs(h * tau, y)

    for p in (0.5, 1.5):
        np.testing.assert_allclose(field(p), field(1.0), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("model", ct.MODELS)
def test_each_model_is_second_order_without_sign_changes(model):
    # Smooth quadratic, no gradient sign change before T: a common lag of mhat and vhat cancels
    # in u (eq:ct-lag), so both models with the paper's rates are second order (eq:ct-orders).
    etas = np.array([1.25e-4, 2.5e-4, 5e-4, 1e-3])
    prob = pr.get("quadratic_smooth")
    errors = []
    for eta in etas:
        steps = int(round(0.5 / eta))
        disc = ct.discrete_adam(prob.grad, prob.theta0, eta, 0.9, 0.99, steps)
        ode, _ = ct.integrate(prob.grad, prob.theta0, eta, 0.9, 0.99, steps, model=model)
        errors.append(np.linalg.norm(ode - disc))
    assert ct.fit_order(etas, errors) == pytest.approx(2.0, abs=0.3)


def _model_gap(name: str, eta: float) -> tuple[float, float]:
    """|theta_second(T) - theta_first(T)| at T = 0.5 and its relative distance from the
    prediction (h/2)(F(0) - F(T)) of eq:ct-gap (paper's rates, p = 1)."""
    prob = pr.get(name)
    steps = int(round(0.5 / eta))
    first, sol = ct.integrate(prob.grad, prob.theta0, eta, 0.9, 0.99, steps)
    second, _ = ct.integrate(prob.grad, prob.theta0, eta, 0.9, 0.99, steps, model="second")
    g0 = prob.grad(prob.theta0)
    f0 = ct.first_order_force(np.concatenate([prob.theta0, g0, g0 * g0]), 1.0, 0.0, 0.0)
    predicted = 0.5 * eta * (f0 - ct.first_order_force(sol.y[:, -1], 1.0, 0.0, 0.0))
    gap = np.linalg.norm(second - first)
    return gap, np.linalg.norm(second - first - predicted) / np.linalg.norm(predicted)


def test_model_gap_is_the_half_step_boundary_term():
    # eq:ct-gap: theta_second - theta_first = (h/2)(F(0) - F(T)) + O(h^2). Where the update
    # varies slowly (no sign change) the formula's relative error falls with eta and the gap
    # is second order; where coordinates turn (valleys) F(T) - F(0) = O(1): first order.
    etas = (2.5e-4, 1e-3)
    smooth = [_model_gap("quadratic_smooth", eta) for eta in etas]
    assert smooth[0][1] < smooth[1][1] < 0.05
    assert ct.fit_order(etas, [g for g, _ in smooth]) == pytest.approx(2.0, abs=0.4)
    valley = [_model_gap("quadratic_valley", eta)[0] for eta in etas]
    assert ct.fit_order(etas, valley) == pytest.approx(1.0, abs=0.4)


def test_reduced_form_is_the_slow_manifold_of_the_second_order_equation():
    # Integrate (h/2) theta'' + theta' = F itself, as the stiff system (theta, w = theta', mhat,
    # vhat) with w' = (2/h)(F - w) and w(0) = F(0): after its initial layer it follows the
    # reduced eq:ct-reduced far more closely than the two models follow each other.
    prob = pr.get("quadratic_valley")
    eta, steps = 1e-3, 500
    a, b = ct.rates(0.9, 0.99, eta)

    def singular(t, y):
        theta, w, mhat, vhat = np.split(y, 4)
        g = prob.grad(theta)
        force = -mhat / np.sqrt(vhat)
        return np.concatenate([w, (2.0 / eta) * (force - w),
                               ct.bias_rate(a, t, 1e-9 * eta) * (g - mhat),
                               ct.bias_rate(b, t, 1e-9 * eta) * (g * g - vhat)])

    g0 = prob.grad(prob.theta0)
    y0 = np.concatenate([prob.theta0, -np.sign(g0), g0, g0 * g0])
    full = solve_ivp(singular, (0.0, steps * eta), y0, method="Radau", rtol=1e-11,
                     atol=1e-13).y[:8, -1]
    tight = {"rtol": 1e-11, "atol": 1e-13}
    reduced, _ = ct.integrate(prob.grad, prob.theta0, eta, 0.9, 0.99, steps, model="second",
                              **tight)
    first, _ = ct.integrate(prob.grad, prob.theta0, eta, 0.9, 0.99, steps, **tight)
    assert np.linalg.norm(full - reduced) < 1e-2 * np.linalg.norm(first - reduced)


def test_fit_order_recovers_a_power_law():
    etas = np.logspace(-4, -2, 5)
    assert ct.fit_order(etas, 3 * etas**1.5) == pytest.approx(1.5, abs=1e-12)
    with pytest.raises(ValueError):
        ct.fit_order(etas, np.zeros(5))
