r"""The paper's continuous-time stable region, beside the exact discrete one.

Letters: docstrings use the paper's (gamma = first-moment decay, beta = second-moment decay;
inferred, not read in the paper's body); arguments are PyTorch's ``beta1`` (= gamma) and
``beta2`` (= beta).

Each EMA written in backward-difference form, x (m_n - m_{n-1}) = (1-x)(g_n - m_n), is
Adam's ``m_n = x m_{n-1} + (1-x) g_n``; read as ``dm/dn = r (g - m)`` it has the per-step rate
``r(x) = (1-x)/x`` (eq:paper-rates). With r_1 = r(gamma), r_2 = r(beta) and kernels
``m = r_1 int e^{-r_1 s} g``, ``v = r_2 int e^{-r_2 s} g^2``, Cauchy-Schwarz gives
(eq:paper-c)

    |m / sqrt(v)| <= r_1 / sqrt(r_2 C),   C = 2 r_1 - r_2 = 2(1-gamma)/gamma - (1-beta)/beta,

finite exactly when C > 0 (eq:paper-c); for C < 0 the finite-horizon version of the same bound
grows like exp(|C| n / 2), the paper's growth rate. C = 0 is beta = gamma/(2-gamma), above the
exact boundary beta = gamma^2 by gamma (1-gamma)^2 / (2-gamma): between the two lies the *band*
where the paper predicts growth and the exact discrete analysis (:mod:`ctadam.theory.stability`)
bounded updates.

Edge values: gamma = 0 (RMSprop) has r_1 = inf, so C = +inf and the kernel bound is inf (the
first moment has no continuous-time counterpart there); beta = 0 < gamma has C = -inf; at
gamma = beta = 0 C is undefined (NaN, counted as not stable). All functions broadcast over
numpy arrays and reject decays outside [0, 1) with a ValueError naming the argument.
"""

import numpy as np

from ctadam.theory import stability as st


def _decays(beta1, beta2) -> tuple[np.ndarray, np.ndarray]:
    b1 = st.decay_array("beta1", beta1)
    b2 = st.decay_array("beta2", beta2)
    return tuple(np.broadcast_arrays(b1, b2))


def rate(x) -> np.ndarray:
    """Per-step rate r = (1-x)/x of an EMA with decay x in [0, 1) (inf at x = 0)."""
    x = st.decay_array("x", x)
    with np.errstate(divide="ignore"):
        return (1.0 - x) / x


def paper_c(beta1, beta2) -> np.ndarray:
    """The paper's C = 2(1-gamma)/gamma - (1-beta)/beta (eq:paper-c); NaN at gamma = beta = 0."""
    b1, b2 = _decays(beta1, beta2)
    with np.errstate(invalid="ignore"):
        return 2.0 * rate(b1) - rate(b2)


def paper_stable(beta1, beta2) -> np.ndarray:
    """True where C > 0, i.e. beta > gamma / (2 - gamma) (the paper's stable region)."""
    with np.errstate(invalid="ignore"):
        return paper_c(beta1, beta2) > 0.0


def paper_boundary(beta1) -> np.ndarray:
    """The paper's boundary C = 0 as beta = gamma / (2 - gamma) (eq:paper-boundary)."""
    b1 = st.decay_array("beta1", beta1)
    return b1 / (2.0 - b1)


def exact_boundary(beta1) -> np.ndarray:
    """The exact discrete boundary beta = gamma^2 (eq:region)."""
    b1 = st.decay_array("beta1", beta1)
    return b1 * b1


def kernel_bound(beta1, beta2) -> np.ndarray:
    """The paper's kernel bound r_1 / sqrt(r_2 C) where C > 0, inf elsewhere (eq:paper-c).

    It is :func:`ctadam.theory.stability.bound_continuous` at the rates r = (1-x)/x; inf also
    at gamma = 0 (r_1 = inf) and NaN-free everywhere.
    """
    b1, b2 = _decays(beta1, beta2)
    with np.errstate(divide="ignore", invalid="ignore"):
        r1, r2 = rate(b1), rate(b2)
        c = 2.0 * r1 - r2
        ok = (c > 0) & np.isfinite(r1) & np.isfinite(r2)
        value = np.where(ok, r1, 1.0) / np.sqrt(np.where(ok, r2 * c, 1.0))
    return np.where(ok, value, np.inf)


def paper_growth_rate(beta1, beta2) -> np.ndarray:
    """The paper's predicted growth of ln ||u_n||_inf per step: |C|/2 where C < 0, else 0.

    +inf where beta = 0 < gamma (C = -inf); NaN where C is undefined (gamma = beta = 0).
    """
    c = paper_c(beta1, beta2)
    with np.errstate(invalid="ignore"):
        return np.where(c < 0, 0.5 * np.abs(c), np.where(np.isnan(c), np.nan, 0.0))


def in_band(beta1, beta2) -> np.ndarray:
    """True where the two verdicts differ: exact discrete stable and paper unstable, or the
    reverse (which happens only at gamma = beta = 0, where C is undefined)."""
    return st.in_stable_region(beta1, beta2) != paper_stable(beta1, beta2)


def band_width(beta1) -> np.ndarray:
    """Height of the band at gamma: gamma/(2-gamma) - gamma^2 = gamma (1-gamma)^2 / (2-gamma)."""
    b1 = st.decay_array("beta1", beta1)
    return b1 * (1.0 - b1) ** 2 / (2.0 - b1)
