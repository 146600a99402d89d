r"""The learning-rate dependence of Adam's empirical stable region on a convex quadratic.

Every (beta1, beta2) of a grid, at every learning rate of the config, runs full-batch Adam
(bias-corrected, float64, eps tiny) on ``f(theta) = theta^T H theta / 2`` with a rotated H of
condition number ``condition``, all runs at once as arrays of shape (n_runs, dim):

    g_n = H theta_{n-1},  m_n = gamma m_{n-1} + (1-gamma) g_n,  v_n = beta v_{n-1} + (1-beta) g_n^2,
    u_n = (m_n/(1-gamma^n)) / (sqrt(v_n/(1-beta^n)) + eps),  theta_n = theta_{n-1} - lr u_n

(\cref{eq:adam}; paper letters: gamma = beta1, beta = beta2). Each run keeps its peak update
``max_n ||u_n||_inf`` and its peak parameter growth ``max_n ||theta_n||_inf / ||theta_0||_inf``
(inf when a value leaves the float range), for every seed of ``seeds`` (each its own rotation
and :math:`\theta_0`). The summary labels a run with the one instability rule
(:mod:`ctadam.instability`: unstable when the peak update exceeds the profile's ``K``) and
repeats the classification for every ``sensitivity_u`` threshold and for the growth criterion
``growth > growth_threshold``, so the thresholds can change without rerunning. With eps -> 0
the update is invariant to the scale of H and the trajectory for (lr, theta_0) is c times the
one for (lr/c, theta_0/c): only lr / ||theta_0|| and the horizon ``steps`` matter, which the
record states.

The family's one run (:func:`ctadam.experiments.lr_region.run_one`) is :func:`run`.
"""

import time

import numpy as np

from ctadam.checks import check_int, check_real, check_unit_interval

CHECK_EVERY = 50  # steps between checks for diverged (non-finite) runs
KEYS = ("lrs", "n_beta1", "n_beta2", "beta1_max", "beta2_min", "beta2_max", "steps", "dim",
        "condition", "eps", "seeds", "sensitivity_u", "growth_threshold")


def check_config(cfg: dict) -> dict:
    """The lr_region config with every value checked (ValueError naming the key)."""
    missing = [k for k in KEYS if k not in cfg]
    extra = sorted(set(cfg) - set(KEYS))
    if missing or extra:
        raise ValueError(f"lr_region config: missing keys {missing}, unknown keys {extra}")
    out = {k: check_int(f"lr_region.{k}", cfg[k], low=2) for k in ("n_beta1", "n_beta2")}
    out["steps"] = check_int("lr_region.steps", cfg["steps"], low=1)
    out["dim"] = check_int("lr_region.dim", cfg["dim"], low=2)
    if not isinstance(cfg["seeds"], list) or not cfg["seeds"]:
        raise ValueError(f"lr_region.seeds must be a non-empty list, got {cfg['seeds']!r}")
    out["seeds"] = [check_int("lr_region.seeds[]", x, low=0) for x in cfg["seeds"]]
    if len(set(out["seeds"])) != len(out["seeds"]):
        raise ValueError(f"lr_region.seeds must be distinct, got {cfg['seeds']!r}")
    for k in ("beta1_max", "beta2_min", "beta2_max"):
        out[k] = check_unit_interval(f"lr_region.{k}", cfg[k])
    if out["beta2_min"] >= out["beta2_max"]:
        raise ValueError("lr_region.beta2_min must be below lr_region.beta2_max, got "
                         f"{out['beta2_min']} >= {out['beta2_max']}")
    out["condition"] = check_real("lr_region.condition", cfg["condition"], 1.0, np.inf)
    out["eps"] = check_real("lr_region.eps", cfg["eps"], 0.0, 1.0)
    out["growth_threshold"] = check_real("lr_region.growth_threshold", cfg["growth_threshold"],
                                         1.0, np.inf, low_open=True)
    for k in ("lrs", "sensitivity_u"):
        if not isinstance(cfg[k], list) or not cfg[k]:
            raise ValueError(f"lr_region.{k} must be a non-empty list, got {cfg[k]!r}")
    out["lrs"] = sorted(check_real("lr_region.lrs[]", x, 0.0, np.inf, low_open=True)
                        for x in cfg["lrs"])
    out["sensitivity_u"] = sorted({check_real("lr_region.sensitivity_u[]", x, 1.0, np.inf,
                                              low_open=True) for x in cfg["sensitivity_u"]})
    return out


def grid(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """The beta1 axis (0 .. beta1_max) and the beta2 axis (beta2_min .. beta2_max), linear."""
    return (np.linspace(0.0, cfg["beta1_max"], cfg["n_beta1"]),
            np.linspace(cfg["beta2_min"], cfg["beta2_max"], cfg["n_beta2"]))


def problem(dim: int, condition: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """H = Q diag(1 .. condition, log-spaced) Q^T with a random rotation Q, and a unit theta_0."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    hessian = (q * np.logspace(0.0, np.log10(condition), dim)) @ q.T
    theta0 = rng.standard_normal(dim)
    return hessian, theta0 / np.abs(theta0).max()


def simulate(beta1, beta2, lr: float, hessian, theta0, steps: int, eps: float) -> dict:
    """Adam on the quadratic for every pair (beta1[i], beta2[i]) at once (module docstring).

    Returns the per-run peak update ``peak_u`` and peak growth ``growth`` (arrays of shape
    beta1.shape). A run whose theta or v leaves the float range (checked every CHECK_EVERY
    steps and at the end) has diverged: both are inf.
    """
    b1 = np.asarray(beta1, dtype=float).reshape(-1, 1)
    b2 = np.asarray(beta2, dtype=float).reshape(-1, 1)
    theta = np.tile(np.asarray(theta0, float), (b1.shape[0], 1))
    m, v, u = np.zeros_like(theta), np.zeros_like(theta), np.empty_like(theta)
    peak_u, peak_theta = np.zeros_like(theta), np.abs(theta)
    pow1, pow2 = np.ones_like(b1), np.ones_like(b2)
    c1, c2 = 1.0 - b1, 1.0 - b2
    with np.errstate(over="ignore", invalid="ignore"):
        for n in range(1, steps + 1):
            g = theta @ hessian
            m *= b1
            m += c1 * g
            g *= g
            v *= b2
            v += c2 * g
            pow1 *= b1
            pow2 *= b2
            np.divide(v, 1.0 - pow2, out=u)
            np.sqrt(u, out=u)
            u += eps
            np.divide(m, u, out=u)
            u /= 1.0 - pow1
            g = lr * u
            theta -= g
            np.abs(u, out=u)
            np.fmax(peak_u, u, out=peak_u)
            np.abs(theta, out=g)
            np.fmax(peak_theta, g, out=peak_theta)
            if n % CHECK_EVERY == 0 or n == steps:
                # diverged: theta or v (the square of g overflows first) left the float range
                bad = ~(np.isfinite(theta).all(axis=1) & np.isfinite(v).all(axis=1))
                if bad.any():  # mark the run and park it where it costs nothing
                    peak_u[bad] = np.inf
                    peak_theta[bad] = np.inf
                    theta[bad], m[bad], v[bad] = theta0, 0.0, 1.0
    peak_u, peak_theta = peak_u.max(axis=1), peak_theta.max(axis=1)
    shape = np.shape(beta1)
    return {"peak_u": peak_u.reshape(shape),
            "growth": (peak_theta / np.abs(theta0).max()).reshape(shape)}


def run(cfg: dict) -> dict:
    """The record: the config, the grid, and per learning rate the peak-update and growth maps
    of every seed (index [s, i, j] = (seed_s, beta1_i, beta2_j)) with the wall time of all.

    ``theta0`` is scaled to ``max|theta_0| = 1`` for every seed, so the travel
    ``lr * steps / max|theta_0|`` is the same for all seeds.
    """
    cfg = check_config(cfg)
    b1_axis, b2_axis = grid(cfg)
    b1, b2 = np.meshgrid(b1_axis, b2_axis, indexing="ij")
    problems = [problem(cfg["dim"], cfg["condition"], seed) for seed in cfg["seeds"]]
    start = time.perf_counter()
    maps = []
    for lr in cfg["lrs"]:
        outs = [simulate(b1, b2, lr, hessian, theta0, cfg["steps"], cfg["eps"])
                for hessian, theta0 in problems]
        maps.append({"lr": lr, "travel": lr * cfg["steps"],
                     "peak_u": np.stack([o["peak_u"] for o in outs]),
                     "growth": np.stack([o["growth"] for o in outs])})
    seconds = time.perf_counter() - start
    return {"config": cfg, "beta1": b1_axis, "beta2": b2_axis, "maps": maps,
            "n_runs": int(b1.size * len(cfg["lrs"]) * len(cfg["seeds"])), "seconds": seconds}
