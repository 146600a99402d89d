"""Two smooth float64 test problems for the continuous-time model (paper/sections/theory.tex).

Each is a ``Problem`` with the flat parameter vector's start ``theta0``, the loss and its
gradient, both plain numpy so that the ODE right-hand side is cheap to evaluate.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ctadam.checks import check_int, check_real


@dataclass(frozen=True)
class Problem:
    name: str
    theta0: np.ndarray
    loss: Callable[[np.ndarray], float]
    grad: Callable[[np.ndarray], np.ndarray]


QUAD_CONDITION = 100.0  # condition number of the test quadratic's Hessian


def quadratic(dim: int = 8, condition: float = QUAD_CONDITION, scale: float = 3.0,
              seed: int = 0) -> Problem:
    """L(theta) = (theta - c)^T H (theta - c) / 2 with H = Q diag(h) Q^T, h log-spaced in
    [1, condition], Q a random rotation; theta0 = 0 and c at distance ``scale`` per coordinate."""
    dim = check_int("dim", dim, low=1)
    condition = check_real("condition", condition, 1.0, np.inf)
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    h = q @ np.diag(np.logspace(0.0, np.log10(condition), dim)) @ q.T
    c = scale * rng.choice([-1.0, 1.0], size=dim)

    def loss(theta):
        d = theta - c
        return 0.5 * float(d @ h @ d)

    return Problem("quadratic", np.zeros(dim), loss, lambda theta: h @ (theta - c))


def regression_net(hidden: int = 6, points: int = 16, seed: int = 0) -> Problem:
    """Mean squared error of the net f(x) = w2 . tanh(w1 x + b1) + b2 (one input, ``hidden``
    tanh units) fitted to y = sin(2 x) on ``points`` inputs in [-1.5, 1.5]."""
    hidden = check_int("hidden", hidden, low=1)
    points = check_int("points", points, low=1)
    rng = np.random.default_rng(seed)
    x = np.linspace(-1.5, 1.5, points)
    y = np.sin(2.0 * x)
    h = hidden

    def unpack(theta):
        return theta[:h], theta[h:2 * h], theta[2 * h:3 * h], theta[3 * h]

    def forward(theta):
        w1, b1, w2, b2 = unpack(theta)
        act = np.tanh(np.outer(x, w1) + b1)  # (points, hidden)
        return act, act @ w2 + b2

    def loss(theta):
        return float(np.mean((forward(theta)[1] - y) ** 2))

    def grad(theta):
        _, _, w2, _ = unpack(theta)
        act, out = forward(theta)
        r = 2.0 * (out - y) / points  # dL/dout
        back = np.outer(r, w2) * (1.0 - act**2)  # dL/dpre-activation
        return np.concatenate([back.T @ x, back.sum(axis=0), act.T @ r, [r.sum()]])

    theta0 = np.concatenate([rng.standard_normal(h), rng.standard_normal(h) * 0.5,
                             rng.standard_normal(h) / np.sqrt(h), [0.0]])
    return Problem("regression", theta0, loss, grad)


def get(name: str) -> Problem:
    """The named problem of the continuous-time experiment (config ``theory.problems``).

    ``quadratic_smooth``: the quadratic started far from its minimum, so that no gradient
    coordinate changes sign before the horizon; ``quadratic_valley``: the same quadratic
    started closer, so that coordinates reach the valleys g_i = 0 and oscillate around them;
    ``regression``: the tanh regression net.
    """
    makers = {
        "quadratic_smooth": lambda: quadratic(scale=10.0),
        "quadratic_valley": lambda: quadratic(scale=3.0),
        "regression": regression_net,
    }
    if name not in makers:
        raise ValueError(f"problem must be one of {sorted(makers)}, got {name!r}")
    return makers[name]()
