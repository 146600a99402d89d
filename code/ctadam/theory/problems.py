"""Smooth float64 test problems of the continuous-time models (sections/continuous_time.tex).

The problem is a ``Problem`` with the flat parameter vector's start ``theta0``, the loss and its
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


def get(name: str) -> Problem:
    """The named problem of the continuous-time experiment (config ``theory.problems``).

    ``quadratic_smooth``: the quadratic started far from its minimum (10 per coordinate), so
    that no gradient coordinate changes sign before the horizon; ``quadratic_valley``: the same
    quadratic started at 1.5 per coordinate, so that gradient coordinates reach their valleys
    g_i = 0 and change sign from about t = 0.3 on (t = n eta).
    (A network, where the gradient comes from torch, is
    :mod:`ctadam.experiments.continuous_time.transformer`.)
    """
    makers = {
        "quadratic_smooth": lambda: quadratic(scale=10.0),
        "quadratic_valley": lambda: quadratic(scale=1.5),
    }
    if name not in makers:
        raise ValueError(f"problem must be one of {sorted(makers)}, got {name!r}")
    return makers[name]()
