r"""The continuous-time model of Adam and AdamW, and the discrete algorithm it approximates.

With time t = n eta, the state (theta, m, v) follows (paper/sections/theory.tex, eq:ode)

    dm/dt     = a (g(theta) - m),          dv/dt = b (g(theta)^2 - v),
    dtheta/dt = - mhat / (sqrt(vhat) + eps) - lambda theta,
    mhat = m / (1 - e^{-a t}),             vhat = v / (1 - e^{-b t}),

with lambda = 0 for Adam. Three choices of the rates (eq:rates):

* ``"euler"``: a = (1-beta)/eta, b = (1-gamma)/eta. One forward-Euler step of length eta of the
  m and v equations is exactly Adam's EMA update.
* ``"kernel"``: a = -ln(beta)/eta, b = -ln(gamma)/eta. The exponential kernel then takes the
  same values as Adam's geometric weights at the step times, and the bias correction
  1 - e^{-a t} equals Adam's 1 - beta^n at t = n eta.
* ``"matched"``: a = 2(1-beta)/((1+beta) eta), b likewise with gamma. The mean age 1/a of the
  kernel then equals the mean age beta/(1-beta) + 1/2 (in steps, from the middle of the step)
  of the gradients in Adam's EMA (eq:lag-mismatch).

The bias correction 1 - e^{-a t} is the one that makes mhat = g exactly for a constant gradient
(it is what the m equation itself produces from m(0) = 0); at t = 0 mhat = g and vhat = g^2.
The rates grow like 1/eta, so the system is stiff and is integrated with an implicit method
(Radau by default) in float64. :mod:`ctadam.theory.problems` supplies smooth test problems.
"""

import numpy as np
from scipy.integrate import solve_ivp

from ctadam.checks import check_real, check_unit_interval

RATES = ("euler", "kernel", "matched")


def rates(beta: float, gamma: float, eta: float, kind: str = "euler") -> tuple[float, float]:
    """The EMA rates (a, b) per unit time for decays (beta, gamma) and step eta (eq:rates)."""
    beta = check_unit_interval("beta", beta)
    gamma = check_unit_interval("gamma", gamma)
    eta = check_real("eta", eta, 0.0, np.inf, low_open=True)
    if beta == 0.0 or gamma == 0.0:
        raise ValueError("beta and gamma must be in (0, 1) for the continuous model")
    if kind == "euler":
        return (1.0 - beta) / eta, (1.0 - gamma) / eta
    if kind == "kernel":
        return -np.log(beta) / eta, -np.log(gamma) / eta
    if kind == "matched":
        return 2 * (1 - beta) / ((1 + beta) * eta), 2 * (1 - gamma) / ((1 + gamma) * eta)
    raise ValueError(f"rates must be one of {RATES}, got {kind!r}")


def discrete_adam(grad, theta0, eta: float, beta: float, gamma: float, steps: int,
                  eps: float = 0.0, weight_decay: float = 0.0, record_every: int = 0):
    """Adam (AdamW when weight_decay > 0) in float64, PyTorch's convention (eq:adam).

    Returns the final theta, and with ``record_every = k > 0`` also the list of iterates
    theta_0, theta_k, theta_2k, ... (for drawing trajectories).
    """
    theta = np.array(theta0, dtype=float)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    path = [theta.copy()]
    for n in range(1, steps + 1):
        g = grad(theta)
        m = beta * m + (1.0 - beta) * g
        v = gamma * v + (1.0 - gamma) * g * g
        u = (m / (1.0 - beta**n)) / (np.sqrt(v / (1.0 - gamma**n)) + eps)
        theta = (1.0 - eta * weight_decay) * theta - eta * u
        if record_every and n % record_every == 0:
            path.append(theta.copy())
    return (theta, path) if record_every else theta


def bias_rate(rate: float, t: float, t_floor: float) -> float:
    """rate / (1 - e^{-rate t}): the relaxation rate of a bias-corrected EMA at time t >= t_floor.

    It behaves like 1/t for small t (a running mean of everything since t = 0) and tends to
    ``rate``; t is raised to ``t_floor`` to keep it finite at t = 0.
    """
    return rate / -np.expm1(-rate * max(t, t_floor))


def ode_rhs(grad, a: float, b: float, eps: float, weight_decay: float, t_floor: float):
    """The right-hand side f(t, y) of eq:ode-hat for y = (theta, mhat, vhat) stacked.

    Dividing the m equation by its bias correction c(t) = 1 - e^{-a t} gives
    d mhat/dt = a/c(t) (g - mhat) with mhat(0) = g(theta_0), and likewise for vhat: the same
    trajectory as eq:ode, without the 0/0 of m/c at t = 0.
    """

    def rhs(t, y):
        theta, mhat, vhat = np.split(y, 3)
        g = grad(theta)
        dtheta = -mhat / (np.sqrt(np.abs(vhat)) + eps) - weight_decay * theta
        return np.concatenate([dtheta, bias_rate(a, t, t_floor) * (g - mhat),
                               bias_rate(b, t, t_floor) * (g * g - vhat)])

    return rhs


def integrate(grad, theta0, eta: float, beta: float, gamma: float, horizon: float,
              kind: str = "euler", eps: float = 0.0, weight_decay: float = 0.0,
              t_eval=None, method: str = "Radau", rtol: float = 1e-10, atol: float = 1e-12):
    """Integrate eq:ode-hat from (theta0, g(theta0), g(theta0)^2) to t = horizon with
    ``solve_ivp``; the bias-correction rates are held at their t = 1e-9 eta value before that
    time (a change of order 1e-9 eta in the trajectory).

    ``t_eval`` (optional) are extra output times; the horizon is always the last one.
    Returns (theta(horizon), solution object). Raises RuntimeError if the solver fails.
    """
    horizon = check_real("horizon", horizon, 0.0, np.inf, low_open=True)
    a, b = rates(beta, gamma, eta, kind)
    theta0 = np.asarray(theta0, dtype=float)
    if t_eval is not None:
        t_eval = np.append(np.asarray(t_eval, dtype=float)[np.asarray(t_eval) < horizon], horizon)
    g0 = grad(theta0)
    y0 = np.concatenate([theta0, g0, g0 * g0])
    rhs = ode_rhs(grad, a, b, eps, weight_decay, t_floor=1e-9 * eta)
    sol = solve_ivp(rhs, (0.0, horizon), y0, method=method, t_eval=t_eval, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol.y[: theta0.size, -1], sol


def fit_order(etas, errors) -> float:
    """Least-squares slope of log(error) against log(eta): the measured global order."""
    etas = np.asarray(etas, dtype=float)
    errors = np.asarray(errors, dtype=float)
    if etas.size < 2 or np.any(errors <= 0):
        raise ValueError("fit_order needs >= 2 positive errors")
    return float(np.polyfit(np.log(etas), np.log(errors), 1)[0])
