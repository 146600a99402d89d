"""The continuous-time model: rates, limits, and the global-error order against discrete Adam."""

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from ctadam.theory import continuous as ct
from ctadam.theory import problems as pr


def test_discrete_adam_matches_torch():
    torch = pytest.importorskip("torch")
    prob = pr.regression_net(hidden=3, points=5)
    p = torch.tensor(prob.theta0, requires_grad=True)
    opt = torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    for _ in range(25):
        p.grad = torch.tensor(prob.grad(p.detach().numpy()))
        opt.step()
    ours = ct.discrete_adam(prob.grad, prob.theta0, 0.01, 0.9, 0.99, 25, eps=1e-8,
                            weight_decay=0.1)
    np.testing.assert_allclose(ours, p.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["quadratic_smooth", "quadratic_valley", "regression"])
def test_problem_gradients(name):
    prob = pr.get(name)
    x = prob.theta0 + 0.1
    np.testing.assert_allclose(prob.grad(x), approx_fprime(x, prob.loss, 1e-7), atol=2e-5)


def test_rates_and_bad_input():
    assert ct.rates(0.9, 0.99, 0.01, "euler") == pytest.approx((10.0, 1.0))
    assert ct.rates(0.9, 0.99, 0.01, "kernel") == pytest.approx((-np.log(0.9) / 0.01,
                                                                 -np.log(0.99) / 0.01))
    assert ct.rates(0.9, 0.99, 0.01, "matched") == pytest.approx((0.2 / 1.9 / 0.01,
                                                                  0.02 / 1.99 / 0.01))
    with pytest.raises(ValueError, match="^rates must be one of"):
        ct.rates(0.9, 0.99, 0.01, "exact")
    with pytest.raises(ValueError, match="^eta must be"):
        ct.rates(0.9, 0.99, 0.0)
    with pytest.raises(ValueError, match="^beta must be"):
        ct.rates(1.0, 0.99, 0.1)
    with pytest.raises(ValueError, match="^problem must be one of"):
        pr.get("rosenbrock")


def test_constant_gradient_moves_at_unit_speed():
    # Linear loss: g constant, so mhat = g and vhat = g^2 exactly: dtheta/dt = -sign(g).
    def grad(theta):
        return np.array([2.0, -0.5])

    theta_t, _ = ct.integrate(grad, np.zeros(2), 0.01, 0.9, 0.999, 1.5)
    np.testing.assert_allclose(theta_t, [-1.5, 1.5], rtol=1e-9)
    # AdamW: dtheta/dt = -1 - lambda theta -> theta(t) = (e^{-lambda t} - 1)/lambda
    theta_w, _ = ct.integrate(grad, np.zeros(2), 0.01, 0.9, 0.999, 1.5, weight_decay=0.4)
    np.testing.assert_allclose(theta_w[0], (np.exp(-0.6) - 1) / 0.4, rtol=1e-8)


@pytest.mark.parametrize("kind", ["euler", "matched"])
def test_lag_matching_models_are_second_order_in_smooth_regime(kind):
    # No gradient sign change before T, and the EMA lag eta/(1-gamma) well below T: the lags of
    # Adam and of the Euler- or matched-rate ODE agree to first order (eq:lag-mismatch), so
    # the global error falls like eta^2.
    rec_etas = np.array([2.5e-4, 5e-4, 1e-3, 2e-3])
    prob = pr.get("quadratic_smooth")
    errors = []
    for eta in rec_etas:
        steps = int(round(0.5 / eta))
        disc = ct.discrete_adam(prob.grad, prob.theta0, eta, 0.9, 0.99, steps)
        ode, _ = ct.integrate(prob.grad, prob.theta0, eta, 0.9, 0.99, steps * eta, kind=kind)
        errors.append(np.linalg.norm(ode - disc))
    assert ct.fit_order(rec_etas, errors) == pytest.approx(2.0, abs=0.25)


def test_fit_order_recovers_a_power_law():
    etas = np.logspace(-4, -2, 5)
    assert ct.fit_order(etas, 3 * etas**1.5) == pytest.approx(1.5, abs=1e-12)
    with pytest.raises(ValueError):
        ct.fit_order(etas, np.zeros(5))


def test_measure_record(tmp_path):
    from ctadam.io import read_json
    from ctadam.theory import ct_error

    out = tmp_path / "rec.json"
    ct_error.main(["--problem", "quadratic_smooth", "--beta", "0.9", "--gamma", "0.99",
                   "--horizon", "0.2", "--eta-min", "5e-3", "--eta-max", "2e-2",
                   "--n-etas", "3", "--out", str(out)])
    rec = read_json(out)
    assert [r["sign_changes"] for r in rec["runs"]] == [0, 0, 0]
    assert set(rec["order"]) == {"euler", "kernel", "matched"}
    assert all(r["euler"]["error"] > 0 for r in rec["runs"])
    # 5e-3..2e-2 spans 0.6 decades: the numbers step refuses to report orders over it.
    from ctadam.theory import numbers
    with pytest.raises(ValueError, match=r"^learning rates of quadratic_smooth must span >= 1.5"):
        numbers.record_macros([rec])
    with pytest.raises(ValueError, match="^eta_min must be"):
        ct_error.main(["--problem", "regression", "--beta", "0.9", "--gamma", "0.99",
                       "--horizon", "1", "--eta-min", "0.1", "--eta-max", "0.01",
                       "--n-etas", "3", "--out", str(out)])


def test_stability_macros_quote_the_checked_constants():
    from ctadam.theory import numbers
    from ctadam.theory import stability as st

    macros = numbers.stability_macros()
    assert macros["TheoryCheckedMaxSteps"] == numbers._power_of_ten(st.CHECKED_MAX_STEPS)
    assert macros["TheoryCheckedMaxSteps"] == "10^{6}"
    assert macros["TheoryCheckedMaxRatio"] == f"{st.CHECKED_MAX_RATIO:g}"
    assert macros["TheoryAdversarialRtol"] == numbers._power_of_ten(st.ADVERSARIAL_RTOL)
    assert (macros["TheoryBoundaryBeta"], macros["TheoryBoundaryGamma"]) == ("0.9", "0.81")
    assert numbers.checked_range_is_safe()
    with pytest.raises(ValueError, match="^x must be a power of ten"):
        numbers._power_of_ten(2e-9)
