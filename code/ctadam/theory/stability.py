r"""Adam's exact stable region: the worst-case size of one discrete update.

Letters: in docstrings the paper's (gamma = first-moment decay, beta = second-moment decay);
the arguments carry PyTorch's names, ``beta1`` (= gamma) and ``beta2`` (= beta). (The paper's
letters are inferred from its public abstracts and reviews, not read in its body.)

Per coordinate, with eps = 0 and zero initial moments, Adam's n-th update is
``u_n = mhat_n / sqrt(vhat_n)`` with

    m_n = (1-gamma) sum_{k<n} gamma^k g_{n-k},     mhat_n = m_n / (1-gamma^n),
    v_n = (1-beta)  sum_{k<n} beta^k  g_{n-k}^2,   vhat_n = v_n / (1-beta^n).

Writing ``gamma^k g = (gamma^k beta^{-k/2}) (beta^{k/2} g)`` and applying Cauchy-Schwarz gives
the tight bound (paper/sections/theory.tex, eq:bound-n)

    |u_n| <= B_n = (1-gamma) sqrt(1-beta^n) / ((1-gamma^n) sqrt(1-beta)) * sqrt(S_n),
    S_n = sum_{k<n} r^k,   r = gamma^2 / beta,

attained by ``g_{n-k} proportional to (gamma/beta)^k`` (eq:adversarial). For r < 1 the limit
is ``B_inf = (1-gamma) / sqrt((1-beta)(1-r))`` (eq:bound-inf); on the boundary r = 1
(beta = gamma^2) B_n grows like sqrt(n), and beyond it like exp(rho n) with
``rho = ln(gamma) - ln(beta)/2`` (eq:growth-rate). The ratio r is taken as 0 when gamma = 0
(then mhat_n = g_n and S_n = 1, also for beta = 0, where the update is the sign step
u_n = sign(g_n) and B_n = 1) and as inf when beta = 0 < gamma (unbounded from n = 2 on).
Everything is computed in logarithms so that n up to CHECKED_MAX_STEPS and r up to
CHECKED_MAX_RATIO neither overflow nor produce NaN (the tests check this range, and the paper
quotes it through ctadam.experiments.theory.numbers); :func:`log_bound_n` is the exact value
when ``B_n`` itself exceeds the float range (where :func:`bound_n` returns inf).

All functions broadcast over numpy arrays of beta1, beta2 and n. The paper's own
continuous-time region (its C) is :mod:`ctadam.theory.region`.
"""

import numpy as np

from ctadam.checks import check_int, check_unit_interval

CHECKED_MAX_STEPS = 10**6  # largest n at which the tests check that ln B_n is finite
CHECKED_MAX_RATIO = 1.5  # largest r = gamma^2/beta at which they check it
ADVERSARIAL_RTOL = 1e-9  # relative tolerance of torch Adam's update on eq:adversarial vs B_n
BOUNDARY_EXAMPLE = (0.9, 0.81)  # (beta1, beta2) on the boundary beta = gamma^2


def decay_array(name: str, value) -> np.ndarray:
    """``value`` as a float array whose every entry lies in [0, 1), else ValueError naming it."""
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must be a real number in [0, 1), got {value!r}")
    arr = arr.astype(float)
    bad = ~((arr >= 0.0) & (arr < 1.0))
    if np.any(bad):
        check_unit_interval(name, float(arr[bad].flat[0]))
    return arr


def _steps_array(name: str, value) -> np.ndarray:
    """``value`` as a float array of integers >= 1, else ValueError naming it."""
    arr = np.asarray(value)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    arrf = arr.astype(float)
    bad = ~(np.isfinite(arrf) & (arrf >= 1) & (arrf == np.floor(arrf)))
    if np.any(bad):
        first = arr[bad].flat[0]
        check_int(name, int(first) if float(first).is_integer() else float(first))
    return arrf


def _log(x: np.ndarray) -> np.ndarray:
    """Natural log with log(0) = -inf and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(x)


def _log_ratio(beta1: np.ndarray, beta2: np.ndarray) -> np.ndarray:
    """ln r = 2 ln(gamma) - ln(beta): r = 0 when gamma = 0, r = inf when beta = 0 < gamma."""
    lb, lg = _log(beta1), _log(beta2)
    with np.errstate(invalid="ignore"):
        lr = 2.0 * lb - lg
    return np.where(beta1 == 0.0, -np.inf, np.where(beta2 == 0.0, np.inf, lr))


def _log_one_minus_pow(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """ln(1 - x^n) for x in [0, 1), accurate when x^n is close to 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        xn = np.where(x == 0.0, 0.0, np.exp(n * _log(x)))
        return np.log1p(-xn)


def log_geometric_sum(log_r, n) -> np.ndarray:
    """ln S_n with S_n = sum_{k=0}^{n-1} r^k, given ln r (any real or +-inf) and n >= 1.

    Uses ``S_n = expm1(n ln r) / expm1(ln r)`` arranged so that every factor is evaluated
    where it is accurate: r < 1, r = 1 (S_n = n) and r > 1 separately.
    """
    lr = np.asarray(log_r, dtype=float)
    n = np.asarray(n, dtype=float)
    lr, n = np.broadcast_arrays(lr, n)
    out = np.empty(lr.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        below = lr < 0
        above = lr > 0
        on = lr == 0
        lb, nb = lr[below], n[below]
        out[below] = np.log(-np.expm1(nb * lb)) - np.log(-np.expm1(lb))
        la, na = lr[above], n[above]
        out[above] = (na - 1.0) * la + np.log(-np.expm1(-na * la)) - np.log(-np.expm1(-la))
        out[on] = np.log(n[on])
    # A single term (n = 1) is 1 whatever r is, including r = inf.
    out = np.where(n == 1.0, 0.0, out)
    return out


def log_bound_n(beta1, beta2, n) -> np.ndarray:
    """ln B_n(gamma, beta), the exact log of :func:`bound_n` (finite for any n when beta > 0)."""
    beta1 = decay_array("beta1", beta1)
    beta2 = decay_array("beta2", beta2)
    n = _steps_array("n", n)
    beta1, beta2, n = np.broadcast_arrays(beta1, beta2, n)
    log_s = log_geometric_sum(_log_ratio(beta1, beta2), n)
    return (
        np.log1p(-beta1)
        - _log_one_minus_pow(beta1, n)
        + 0.5 * _log_one_minus_pow(beta2, n)
        - 0.5 * np.log1p(-beta2)
        + 0.5 * log_s
    )


def bound_n(beta1, beta2, n) -> np.ndarray:
    """B_n(gamma, beta): the largest |u_n| any gradient history can produce (eq:bound-n).

    Returns inf where the value exceeds the float range (use :func:`log_bound_n` there) and
    where beta = 0 < gamma and n >= 2 (the bound is then truly infinite).
    """
    with np.errstate(over="ignore"):
        return np.exp(log_bound_n(beta1, beta2, n))


def in_stable_region(beta1, beta2) -> np.ndarray:
    """True where r = gamma^2/beta < 1 (eq:region): there B_n stays bounded as n -> infinity.

    This is gamma^2 < beta, and also the sign step gamma = beta = 0 (r = 0, B_n = 1). The
    comparison is made on gamma^2 and beta, not on ln r, so that a pair with beta == gamma^2
    in floating point (such as (beta1, beta2) = (0.9, 0.81)) counts as on the boundary.
    """
    beta1 = decay_array("beta1", beta1)
    beta2 = decay_array("beta2", beta2)
    return (beta1 == 0.0) | (beta1 * beta1 < beta2)


def bound_inf(beta1, beta2) -> np.ndarray:
    """B_inf = (1-gamma) / sqrt((1-beta)(1 - gamma^2/beta)) inside the region, inf outside
    (eq:bound-inf)."""
    beta1 = decay_array("beta1", beta1)
    beta2 = decay_array("beta2", beta2)
    beta1, beta2 = np.broadcast_arrays(beta1, beta2)
    inside = in_stable_region(beta1, beta2)
    with np.errstate(divide="ignore", invalid="ignore"):
        # 1 - gamma^2/beta = -expm1(ln r): accurate right next to the boundary.
        one_minus_r = np.where(inside, -np.expm1(_log_ratio(beta1, beta2)), 1.0)
        value = (1.0 - beta1) / np.sqrt((1.0 - beta2) * one_minus_r)
    return np.where(inside, value, np.inf)


def growth_rate(beta1, beta2) -> np.ndarray:
    """rho = ln(gamma) - ln(beta)/2 (eq:growth-rate): ln B_n grows like rho n outside the region.

    Only meaningful for r = gamma^2/beta >= 1: it is the limit of (1/2) ln(S_{n+1}/S_n) there
    (zero on the boundary, where B_n grows like sqrt(n); +inf where beta = 0 < gamma). Inside
    the region the value returned is negative (-inf where gamma = 0), but B_n does not decay:
    it increases to B_inf, and that limit of (1/2) ln(S_{n+1}/S_n) is 0.
    """
    beta1 = decay_array("beta1", beta1)
    beta2 = decay_array("beta2", beta2)
    return 0.5 * _log_ratio(beta1, beta2)


def adversarial_history(beta1, beta2, n: int, log: bool = False) -> np.ndarray:
    """The gradient history g_1..g_n whose n-th Adam update equals B_n (eq:adversarial).

    ``g_j = (gamma/beta)^(n-j)``, scaled so that the largest entry is 1 (u is invariant to the
    scale of g). Shape ``broadcast(beta1, beta2).shape + (n,)``. With ``log=True`` returns
    ln g_j instead, which stays finite when (gamma/beta)^n leaves the float range.
    Requires beta > 0 (for beta = 0 < gamma the supremum is not attained).
    """
    beta1 = decay_array("beta1", beta1)
    beta2 = decay_array("beta2", beta2)
    n = check_int("n", n, low=1)
    if np.any(beta2 == 0.0):
        raise ValueError("beta2 must be in (0, 1) for an adversarial history, got 0")
    beta1, beta2 = np.broadcast_arrays(beta1, beta2)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = _log(beta1) - np.log(beta2)  # ln(gamma/beta), -inf when gamma = 0
    age = np.arange(n - 1, -1, -1, dtype=float)  # n - j for j = 1..n
    with np.errstate(invalid="ignore"):
        logs = np.where(age == 0, 0.0, step[..., None] * age)
    logs = logs - np.max(logs, axis=-1, keepdims=True)
    return logs if log else np.exp(logs)


def bound_continuous(a, b, t=None) -> np.ndarray:
    """Bound on |mhat / sqrt(vhat)| for exponential-kernel EMAs with rates a, b > 0
    (eq:bound-continuous).

    ``m(t) = a int_0^t e^{-a s} g(t-s) ds``, ``v(t) = b int_0^t e^{-b s} g(t-s)^2 ds``, bias
    corrected by ``1 - e^{-a t}`` and ``1 - e^{-b t}``. Cauchy-Schwarz gives

        B(t) = a sqrt((1-e^{-bt}) / b) * sqrt((1 - e^{-(2a-b)t}) / (2a-b)) / (1 - e^{-at}),

    and for t = None (t -> infinity) ``a / sqrt(b (2a - b))`` when 2a > b, else inf. With
    kernel rates a = -ln(gamma), b = -ln(beta) per step, 2a > b is exactly gamma^2 < beta;
    with the paper's rates a = (1-gamma)/gamma, b = (1-beta)/beta, 2a - b is its C
    (:mod:`ctadam.theory.region`).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    for name, arr in (("a", a), ("b", b)):
        if np.any(~(np.isfinite(arr) & (arr > 0))):
            raise ValueError(f"{name} must be a finite rate in (0, inf), got {arr}")
    c = 2.0 * a - b
    if t is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(c > 0, a / np.sqrt(b * np.abs(c)), np.inf)
    t = np.asarray(t, dtype=float)
    if np.any(~(np.isfinite(t) & (t > 0))):
        raise ValueError(f"t must be a finite time in (0, inf), got {t}")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # int_0^t e^{-c s} ds = -expm1(-c t)/c, which tends to t as c -> 0.
        kern = np.where(c == 0, t, -np.expm1(-c * t) / np.where(c == 0, 1.0, c))
        return a * np.sqrt(-np.expm1(-b * t) / b) * np.sqrt(kern) / -np.expm1(-a * t)


def _level_pairs(levels) -> list[tuple[float, float]]:
    pairs = [tuple(level) for level in levels]
    if not pairs or any(len(p) != 2 for p in pairs):
        raise ValueError(
            f"levels must be a non-empty list of (beta1, beta2) pairs, got {levels!r}")
    return [
        (check_unit_interval(f"beta1 of level {i + 1}", b),
         check_unit_interval(f"beta2 of level {i + 1}", g))
        for i, (b, g) in enumerate(pairs)
    ]


def compose_levels(levels, n=None) -> np.ndarray:
    """Product of the per-level bounds of k-Adam (eq:compose): prod_i B(gamma_i, beta_i).

    ``levels`` is a list of (beta1_i, beta2_i) in PyTorch order, level 1 first; ``n`` the
    step (None: B_inf).
    The product is finite exactly when every level is inside its region, which is when every
    intermediate signal u_1, ..., u_k of k-Adam stays bounded. It is a valid but loose bound on
    the final update: with eps = 0 each level's output is invariant to the scale of its
    input, so |u_k| <= B(beta_k, gamma_k) alone (:func:`final_update_bound`).
    """
    pairs = _level_pairs(levels)
    per = [bound_inf(b, g) if n is None else bound_n(b, g, n) for b, g in pairs]
    return np.prod(np.stack(np.broadcast_arrays(*per)), axis=0)


def final_update_bound(levels, n=None) -> np.ndarray:
    """The tighter bound on k-Adam's final update u_k: the last level's B (eq:compose)."""
    beta1, beta2 = _level_pairs(levels)[-1]
    return bound_inf(beta1, beta2) if n is None else bound_n(beta1, beta2, n)
