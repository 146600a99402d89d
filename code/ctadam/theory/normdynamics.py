r"""Norm dynamics of a scale-invariant parameter group under Adam and AdamW.

A group ``w`` is scale-invariant when ``L(c w) = L(w)`` for all ``c > 0`` (e.g. the weight
and bias of a linear layer followed by LayerNorm without affine parameters). Then
``<grad L(w), w> = 0``. One AdamW step ``w' = (1 - eta lambda) w - eta u`` (``u`` is Adam's
update) changes the squared norm exactly by (paper eq. \label{eq:norm-recursion})

.. math::

    |w_{n+1}|^2 = \rho |w_n|^2 - 2 \eta (1 - \eta\lambda) \langle w_n, u_n\rangle
                  + \eta^2 |u_n|^2, \qquad \rho = (1 - \eta\lambda)^2 .

Two closures of this recursion are implemented.

*Naive* (``<w, u>`` neglected): the norm is driven by ``eta^2 |u|^2`` alone.

*Momentum-corrected* (\label{eq:wu-correction}): write ``g_j`` for the gradient at
``w_{j-1}`` (so ``<w_{j-1}, g_j> = 0``), ``m_j`` for Adam's first moment and ``s = 1 - eta lambda``.
Unrolling the steps taken since ``g_j`` was computed gives the exact identity

.. math::

    \langle w_{n-1}, m_n\rangle = -\eta \sum_{i\ge 1} \gamma^i s^{i-1}
                                  \langle u_{n-i}, m_{n-i}\rangle .

If the preconditioner is close to a constant scalar ``p`` on the group (``u ~ p m``) and
``|u|`` varies slowly, ``<u_j, m_j> ~ |u|^2 / p`` and so
``<w_{n-1}, u_n> ~ -eta gamma / (1 - gamma s) |u|^2``: momentum built from stale gradients points
slightly inward. Substituting gives ``|w_{n+1}|^2 = rho |w_n|^2 + eta^2 c |u_n|^2`` with

.. math::

    c = \frac{1 + \gamma s}{1 - \gamma s} \;\approx\; \frac{1 + \gamma}{1 - \gamma}
    \quad(\text{first order in } \eta\lambda),

and ``c = 1`` for the naive closure. Everything below follows from this linear recursion:
equilibrium ``|w|^2 = eta c |u|^2 / (lambda (2 - eta lambda))`` (\label{eq:norm-equilibrium}),
angular step ``eta |u| / |w| = sqrt(eta lambda (2 - eta lambda) / c)``
(\label{eq:angular-step}), ``cos(w_{n-1}, u_n) = -gamma / (1 - gamma s) * eta |u| / |w|``,
relaxation time ``-1 / ln(rho)`` ~ ``1 / (2 eta lambda)`` steps for ``|w|^2``, and without
weight decay the growth law ``|w_n|^2 = |w_0|^2 + eta^2 c sum_k |u_k|^2``.

Letters: gamma is the first-moment (momentum) decay in the paper's letters (inferred, not read
in the paper), PyTorch's ``beta1``, which is the name of the argument. Functions take plain
floats or numpy arrays (broadcast) and validate their scalar inputs.
"""

import numpy as np

from ctadam.checks import check_real, check_unit_interval


def implicit_decay(lr: float, weight_decay: float) -> float:
    r"""The decay :math:`\rho = (1 - \eta\lambda)^2` of a normalized layer's implicit level.

    AdamW's decoupled decay shrinks :math:`|w|^2` by this factor per step, which makes the
    layer's hidden second normalization (\cref{eq:meta-adaptive}) an EMA of
    :math:`|u|^2` with decay :math:`\rho`: the level-2 ``beta2`` of k-Adam's ``theory``
    strategy and of :class:`ctadam.trackers.LevelTwoStats`.
    """
    return (1.0 - lr * weight_decay) ** 2


def _check(eta, lam=None, beta1=None):
    for value in np.ravel(eta):
        check_real("eta", float(value), 0.0, np.inf, low_open=True)
    if lam is not None:
        for value in np.ravel(lam):
            check_real("lambda", float(value), 0.0, np.inf)
        prod = np.asarray(eta, dtype=float) * np.asarray(lam, dtype=float)
        if np.any(prod >= 1.0):
            raise ValueError(f"eta * lambda must be in [0, 1), got {np.max(prod)!r}")
    if beta1 is not None:
        for value in np.ravel(beta1):
            check_unit_interval("beta1", float(value))


def drive_factor(beta1, eta=None, lam=None, corrected=True, first_order=False):
    r"""The factor ``c`` multiplying ``eta^2 |u|^2`` in the closed norm recursion.

    ``corrected=False`` gives the naive ``c = 1``; ``corrected=True`` gives ``c = (1 + gamma s)
    / (1 - gamma s)`` with ``s = 1 - eta lambda`` (eq. \label{eq:wu-correction});
    ``first_order=True`` sets ``s = 1``, giving ``(1 + gamma) / (1 - gamma)``. ``eta`` and
    ``lam`` are required unless ``first_order=True`` or ``corrected=False`` (neither depends on
    them); when given they are validated and the result has the broadcast shape of ``beta1``,
    ``eta`` and ``lam``.
    """
    if corrected and not first_order and (eta is None or lam is None):
        raise ValueError("eta and lambda are required unless first_order=True or "
                         "corrected=False")
    _check(1.0 if eta is None else eta, lam, beta1)
    eta, lam = (0.0 if eta is None else eta), (0.0 if lam is None else lam)
    beta1, eta, lam = (np.asarray(x, dtype=float) for x in (beta1, eta, lam))
    shape = np.broadcast_shapes(beta1.shape, eta.shape, lam.shape)
    if not corrected:
        return np.ones(shape)
    s = 1.0 if first_order else 1.0 - eta * lam
    return np.broadcast_to((1.0 + beta1 * s) / (1.0 - beta1 * s), shape).copy()


def contraction(eta, lam):
    """``rho = (1 - eta lambda)^2``: the factor by which AdamW's decay shrinks ``|w|^2``."""
    _check(eta, lam)
    return (1.0 - np.asarray(eta, float) * np.asarray(lam, float)) ** 2


def equilibrium_norm_sq(eta, lam, beta1, u_sq, corrected=True):
    r"""Equilibrium ``|w|^2 = eta c |u|^2 / (lambda (2 - eta lambda))``.

    Eq. \label{eq:norm-equilibrium}.

    ``u_sq`` is the (time-averaged) squared norm ``|u|^2`` of Adam's update on the group.
    Requires ``lambda > 0``.
    """
    _check(eta, lam, beta1)
    if np.any(np.asarray(lam) <= 0):
        raise ValueError("lambda must be in (0, inf) for an equilibrium norm, got 0")
    c = drive_factor(beta1, eta, lam, corrected)
    eta, lam = np.asarray(eta, float), np.asarray(lam, float)
    return eta * c * np.asarray(u_sq, float) / (lam * (2.0 - eta * lam))


def equilibrium_angular_step(eta, lam, beta1, corrected=True):
    r"""Equilibrium angular step ``eta |u| / |w| = sqrt(eta lambda (2 - eta lambda) / c)``.

    Eq. \label{eq:angular-step}.

    Independent of ``|u|``; to first order ``sqrt(2 eta lambda (1 - gamma) / (1 + gamma))``
    (corrected) or ``sqrt(2 eta lambda)`` (naive).
    """
    _check(eta, lam, beta1)
    c = drive_factor(beta1, eta, lam, corrected)
    eta, lam = np.asarray(eta, float), np.asarray(lam, float)
    return np.sqrt(eta * lam * (2.0 - eta * lam) / c)


def equilibrium_cosine(eta, lam, beta1, corrected=True):
    """Equilibrium ``cos(w_{n-1}, u_n) = -gamma / (1 - gamma s) * eta |u| / |w|``.

    Here ``s = 1 - eta lambda``.
    Zero in the naive picture; to first order ``-(gamma / (1 - gamma))`` times the angular step.
    """
    step = equilibrium_angular_step(eta, lam, beta1, corrected)
    if not corrected:
        return np.zeros_like(step)
    s = 1.0 - np.asarray(eta, float) * np.asarray(lam, float)
    beta1 = np.asarray(beta1, float)
    return -beta1 / (1.0 - beta1 * s) * step


def relaxation_time(eta, lam):
    """Steps for ``|w|^2 - |w|^2_eq`` to shrink by e: ``-1 / ln(rho)`` ~ ``1 / (2 eta lambda)``."""
    rho = contraction(eta, lam)
    if np.any(rho >= 1.0):
        raise ValueError("lambda must be in (0, inf) for a finite relaxation time, got 0")
    return -1.0 / np.log(rho)


def norm_sq_trajectory(w0_sq, u_sq, eta, lam, beta1, corrected=True):
    r"""``|w_n|^2`` for n = 0..N from the closed recursion ``x' = rho x + eta^2 c |u_n|^2``.

    ``u_sq`` is the sequence ``|u_1|^2, ..., |u_N|^2``; the result has N + 1 entries. With
    ``lambda = 0`` this is the growth law ``|w_0|^2 + eta^2 c sum_k |u_k|^2``.
    """
    _check(eta, lam, beta1)
    rho = float(contraction(eta, lam))
    drive = eta**2 * float(drive_factor(beta1, eta, lam, corrected)) * np.asarray(u_sq, float)
    out = np.empty(drive.size + 1)
    out[0] = w0_sq
    for n, d in enumerate(drive):
        out[n + 1] = rho * out[n] + d
    return out


def growth_without_decay(w0_sq, u_sq_mean, eta, beta1, steps, corrected=True):
    """Norm growth without weight decay for a constant ``|u|^2``: ``|w_0|^2 + eta^2 c |u|^2 n``.

    Returns ``|w_n|^2`` at ``n = steps`` (array or scalar); the angular step
    ``eta |u| / |w_n|`` then decays like ``1 / sqrt(n)``.
    """
    _check(eta, 0.0, beta1)
    c = drive_factor(beta1, eta, 0.0, corrected)
    return w0_sq + eta**2 * c * u_sq_mean * np.asarray(steps, float)


def exact_norm_sq(w0_sq, u_sq, wu, eta, lam):
    r"""Exact ``|w_n|^2`` (eq. \label{eq:norm-recursion}) from a measured stream.

    ``u_sq[n-1] = |u_n|^2`` and ``wu[n-1] = <w_{n-1}, u_n>`` for n = 1..N (the update of step
    n and the weights it was applied to). Returns N + 1 values starting at ``w0_sq``.
    """
    _check(eta, lam)
    u_sq, wu = np.asarray(u_sq, float), np.asarray(wu, float)
    if u_sq.shape != wu.shape:
        raise ValueError(f"u_sq and wu must have the same shape, got {u_sq.shape} and {wu.shape}")
    shrink = 1.0 - eta * lam
    out = np.empty(u_sq.size + 1)
    out[0] = w0_sq
    for n in range(u_sq.size):
        out[n + 1] = shrink**2 * out[n] - 2.0 * eta * shrink * wu[n] + eta**2 * u_sq[n]
    return out


def simulate_vectors(w0, updates, eta, lam):
    """Apply AdamW's step ``w <- (1 - eta lambda) w - eta u`` to ``w0`` for each row of ``updates``.

    Returns the array of iterates ``w_0, ..., w_N`` (shape ``(N + 1, d)``). Used to check the
    scalar recursions above against the vector dynamics they summarise.
    """
    _check(eta, lam)
    updates = np.atleast_2d(np.asarray(updates, float))
    out = np.empty((updates.shape[0] + 1, updates.shape[1]))
    out[0] = w0
    for n, u in enumerate(updates):
        out[n + 1] = (1.0 - eta * lam) * out[n] - eta * u
    return out


def momentum_inner_product(u_hist, m_hist, beta1, eta, lam=0.0):
    r"""``<w_{N-1}, m_N> = -eta sum_{i>=1} gamma^i s^{i-1} <u_{N-i}, m_{N-i}>``.

    Eq. \label{eq:wu-correction}.
    The exact identity for a scale-invariant group under AdamW (``s = 1 - eta lambda``), from
    ``<w_{j-1}, g_j> = 0`` for every step j. ``u_hist[j] = u_{j+1}`` and ``m_hist[j] = m_{j+1}``
    for j = 0..N-1 (updates and first moments of steps 1..N, ``m_0 = 0``).
    """
    _check(eta, lam, beta1)
    u_hist, m_hist = np.asarray(u_hist, float), np.asarray(m_hist, float)
    n = u_hist.shape[0]
    s = 1.0 - eta * lam
    total = 0.0
    for i in range(1, n):
        total += beta1**i * s ** (i - 1) * float(np.dot(u_hist[n - 1 - i], m_hist[n - 1 - i]))
    return -eta * total
