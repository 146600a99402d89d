r"""Continuous-time models of Adam and AdamW, and the discrete algorithm they approximate.

Paper letters: gamma = first-moment decay (torch ``beta1``), beta = second-moment decay (torch
``beta2``); the code takes the torch names. Time is t = n h with time step h = eta^p (p a free
exponent, paper/sections/continuous_time.tex). Per coordinate the state (theta, mhat, vhat)
follows (eq:ct-hat, eq:ct-models)

    d mhat/dt = A(t) (g(theta) - mhat),      d vhat/dt = B(t) (g(theta)^2 - vhat),
    A(t) = a / (1 - e^{-a t}),               B(t) = b / (1 - e^{-b t}),
    F = -(eta/h) (mhat / (sqrt(vhat) + eps) + lambda theta),

with lambda = 0 for Adam, and two models of the parameters:

* ``"first"``:  dtheta/dt = F (the three first-order equations, as in Barakat and Bianchi);
* ``"second"``: the second-order equation (h/2) theta'' + theta' = F, reduced to its slow
  manifold (eq:ct-reduced)   dtheta/dt = F - (h/2) dF/dt,  where dF/dt is taken along the
  moment equations and with theta' = F inside it (an O(h^2) change):

      dF/dt = -(eta/h) (mhat'/(s + eps) - mhat s'/(s + eps)^2 + lambda F),  s = sqrt(vhat),
      s' = vhat'/(2 s).

Rates per step r, a = r_gamma / h and b = r_beta / h (eq:ct-rates), for x = gamma or beta:

* ``"backward"``: r = (1-x)/x, the paper's backward-difference form x (m_n - m_{n-1}) =
  (1-x)(g_n - m_n) of the moving average (one implicit-Euler step of the m equation);
* ``"euler"``: r = 1-x (one explicit-Euler step of length h is Adam's moving average);
* ``"kernel"``: r = -ln x (the kernel e^{-a t} equals x^n at t = n h);
* ``"matched"``: r = 2(1-x)/(1+x) (mean age 1/r equals Adam's x/(1-x) + 1/2, eq:ct-lag).

The bias correction 1 - e^{-a t} makes mhat = g exactly for a constant gradient; mhat(0) = g,
vhat(0) = g^2. :func:`integrate` is the one integrator interface of the family: the same call
serves the numpy test problems (:mod:`ctadam.theory.problems`, stiff solver Radau) and a
network whose gradient comes from torch
(:mod:`ctadam.experiments.continuous_time.transformer`, an explicit Runge-Kutta method: no
Jacobian to form).
"""

import numpy as np
from scipy.integrate import solve_ivp

from ctadam.checks import check_real, check_unit_interval

RATES = ("backward", "euler", "kernel", "matched")
MODELS = ("first", "second")
METHODS = ("Radau", "BDF", "LSODA", "RK45", "DOP853", "RK23")


def time_step(eta: float, p: float = 1.0) -> float:
    """The model's time step h = eta^p (t = n h)."""
    eta = check_real("eta", eta, 0.0, np.inf, low_open=True)
    p = check_real("p", p, 0.0, 4.0, low_open=True)
    return float(eta**p)


def per_step_rate(x: float, kind: str) -> float:
    """The per-step relaxation rate r(x) of a moving average with decay x (eq:ct-rates)."""
    if kind == "backward":
        return (1.0 - x) / x
    if kind == "euler":
        return 1.0 - x
    if kind == "kernel":
        return -np.log(x)
    if kind == "matched":
        return 2.0 * (1.0 - x) / (1.0 + x)
    raise ValueError(f"rates must be one of {RATES}, got {kind!r}")


def rates(beta1: float, beta2: float, h: float, kind: str = "backward") -> tuple[float, float]:
    """The rates (a, b) per unit time of the m and v equations for time step h (eq:ct-rates)."""
    beta1 = check_unit_interval("beta1", beta1)
    beta2 = check_unit_interval("beta2", beta2)
    h = check_real("h", h, 0.0, np.inf, low_open=True)
    if beta1 == 0.0 or beta2 == 0.0:
        raise ValueError("beta1 and beta2 must be in (0, 1) for the continuous model")
    return per_step_rate(beta1, kind) / h, per_step_rate(beta2, kind) / h


def discrete_adam(grad, theta0, eta: float, beta1: float, beta2: float, steps: int,
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
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * g * g
        u = (m / (1.0 - beta1**n)) / (np.sqrt(v / (1.0 - beta2**n)) + eps)
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


def first_order_force(y, speed: float, eps: float, weight_decay: float) -> np.ndarray:
    """F = -(eta/h) (mhat / (sqrt(vhat) + eps) + lambda theta) at the state y = (theta, mhat,
    vhat); the second model's theta differs from the first's by about (h/2) (F(0) - F(t))
    (eq:ct-gap)."""
    theta, mhat, vhat = np.split(np.asarray(y, dtype=float), 3)
    return -speed * (mhat / (np.sqrt(np.abs(vhat)) + eps) + weight_decay * theta)


def ode_rhs(grad, a: float, b: float, speed: float, h: float, eps: float, weight_decay: float,
            model: str, t_floor: float):
    """The right-hand side f(t, y) of eq:ct-hat for y = (theta, mhat, vhat) stacked, with
    dtheta/dt = F (``model="first"``) or F - (h/2) dF/dt (``"second"``), F as in the module
    docstring and ``speed`` = eta / h."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")

    def rhs(t, y):
        theta, mhat, vhat = np.split(y, 3)
        g = grad(theta)
        s = np.sqrt(np.abs(vhat))
        dm = bias_rate(a, t, t_floor) * (g - mhat)
        dv = bias_rate(b, t, t_floor) * (g * g - vhat)
        force = first_order_force(y, speed, eps, weight_decay)
        if model == "second":
            ds = np.divide(dv, 2.0 * s, out=np.zeros_like(s), where=s > 0)
            du = dm / (s + eps) - mhat * ds / (s + eps) ** 2
            force = force + 0.5 * h * speed * (du + weight_decay * force)
        return np.concatenate([force, dm, dv])

    return rhs


def integrate(grad, theta0, eta: float, beta1: float, beta2: float, steps: int,
              kind: str = "backward", model: str = "first", p: float = 1.0, eps: float = 0.0,
              weight_decay: float = 0.0, eval_steps=None, method: str = "Radau",
              rtol: float = 1e-10, atol: float = 1e-12):
    """Integrate eq:ct-hat from (theta0, g(theta0), g(theta0)^2) to t = steps h, h = eta^p,
    with ``solve_ivp``; the bias-correction rates are held at their t = 1e-9 h value before
    that time (a change of order 1e-9 h in the trajectory).

    ``eval_steps`` (optional) are step counts n at which theta(n h) is returned as well; the
    last step is always included. Returns (theta at ``steps``, solution object whose
    ``sol.y[:d]`` holds theta at ``sol.t``). Raises RuntimeError if the solver fails.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    h = time_step(eta, p)
    a, b = rates(beta1, beta2, h, kind)
    theta0 = np.asarray(theta0, dtype=float)
    horizon = steps * h
    marks = [] if eval_steps is None else [n for n in np.asarray(eval_steps) if n < steps]
    t_eval = np.append(np.asarray(marks, dtype=float) * h, horizon)
    g0 = grad(theta0)
    y0 = np.concatenate([theta0, g0, g0 * g0])
    rhs = ode_rhs(grad, a, b, eta / h, h, eps, weight_decay, model, t_floor=1e-9 * h)
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


def local_slopes(etas, errors) -> np.ndarray:
    """Local orders k_i = d ln E / d ln eta between consecutive learning rates (eq:ct-local-slope),

        k_i = (ln E(eta_{i+1}) - ln E(eta_i)) / (ln eta_{i+1} - ln eta_i),

    with the etas sorted increasingly, so k_0 is the slope of the smallest pair. For
    E = a eta^k (1 + c eta + ...) every k_i tends to k as eta -> 0, while a single fit over a
    range that is not yet asymptotic mixes orders. Raises ``ValueError`` unless there are >= 2
    distinct etas and every error is positive."""
    etas = np.asarray(etas, dtype=float)
    errors = np.asarray(errors, dtype=float)
    if etas.shape != errors.shape or etas.size < 2 or np.any(errors <= 0) or np.any(etas <= 0):
        raise ValueError("local_slopes needs >= 2 positive etas and as many positive errors")
    order = np.argsort(etas)
    etas, errors = etas[order], errors[order]
    if np.any(np.diff(etas) <= 0):
        raise ValueError("local_slopes needs distinct etas")
    return np.diff(np.log(errors)) / np.diff(np.log(etas))


def asymptotic_order(etas, errors) -> dict:
    """The asymptotic order from :func:`local_slopes`: ``order`` = k_0 (smallest pair),
    ``mean_last_two`` = (k_0 + k_1)/2 and ``change`` = |k_0 - k_1| (the stability check: NaN
    with a single pair), ``slopes`` = all k_i (smallest eta first), ``fit`` = :func:`fit_order`
    over the whole range (a sensitivity column)."""
    slopes = local_slopes(etas, errors)
    two = slopes.size >= 2
    return {"order": float(slopes[0]),
            "mean_last_two": float(slopes[:2].mean()) if two else float("nan"),
            "change": float(abs(slopes[0] - slopes[1])) if two else float("nan"),
            "slopes": [float(k) for k in slopes], "fit": fit_order(etas, errors)}


def kernel_lag_mismatch(beta: float, gamma: float) -> float:
    """Lag of the kernel-rate ODE minus Adam's, gamma part minus beta part (the kernel column
    of eq:ct-lag): f(gamma) - f(beta) with f(x) = 1/(-ln x) - 1/(1-x) + 1/2, in steps."""
    def f(x):
        return 1.0 / -np.log(x) - 1.0 / (1.0 - x) + 0.5
    return float(f(gamma) - f(beta))
