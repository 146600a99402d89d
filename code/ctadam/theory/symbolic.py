r"""Symbolic (sympy) derivation of the stability bounds and of the first-order expansion.

Letters: the Python names are PyTorch's (``beta1``, ``beta2``); the sympy symbols print as the
paper's letters, gamma (= beta1, first moment) and beta (= beta2, second moment), so every macro
reads in the paper's notation. Each function derives one expression from its definition rather
than stating it:

* :func:`bound_n` / :func:`bound_inf`: the Cauchy-Schwarz bound with the geometric sum done
  by ``sympy.summation`` (eq:bound-n, eq:bound-inf); :func:`boundary` solves 1 - gamma^2/beta = 0
  for beta (eq:region); :func:`growth_rate` takes the limit of S_{n+1}/S_n (eq:growth-rate).
* :func:`paper_rate`, :func:`paper_c`, :func:`paper_bound`, :func:`paper_boundary`,
  :func:`band_width`, :func:`growth_gap`: the paper's continuous-time region (eq:paper-rates
  to eq:growth-gap): the rate of the backward-difference EMA, C as 2a - b of the kernel bound at
  those rates, its boundary, the band between the two boundaries, and how far the exact growth
  rate rho lies from |C|/2.
* :func:`ema_lag`: the mean age sum_k k (1-gamma) gamma^k of Adam's EMA, which is the
  coefficient of -eta dg/dt in mhat = g - eta gamma/(1-gamma) dg/dt + O(eta^2)
  (eq:mhat-expansion); with a finite n it includes the bias correction.
* :func:`update_first_order`: the series of mhat/sqrt(vhat) in eta (eq:u-expansion).
* :func:`bound_continuous`: the kernel version by ``sympy.integrate`` (eq:bound-continuous).
* :func:`rate_lags`: the lag of the ODE's EMA minus the discrete one for both rate choices,
  expanded at decay -> 1 (eq:ct-lag): what sets the order of the continuous model.

:mod:`ctadam.experiments.theory.symbolic` (rule ``theory_symbolic``) writes every result as a
LaTeX macro for paper/sections/theory.tex.
"""


import sympy as sp

# Python names are PyTorch's; the symbols print as the paper's letters (gamma = first moment).
beta1, beta2 = sp.symbols("gamma beta", positive=True)
eta, t, a, b = sp.symbols("eta t a b", positive=True)
n, k = sp.symbols("n k", integer=True, positive=True)
g, gdot = sp.symbols("g gdot", positive=True)  # gradient and its time derivative (g > 0)


def generic_branch(expr):
    """The branch of a sympy Piecewise that holds for decays in (0, 1) off the boundary.

    sympy returns sums as Piecewise((n, Eq(r, 1)), (formula, True)) for finite sums and
    Piecewise((formula, |r| < 1), (unevaluated, True)) for infinite ones: the first branch whose
    condition is not an equality is the one wanted in both cases.
    """
    expr = sp.piecewise_fold(expr)
    if not isinstance(expr, sp.Piecewise):
        return expr
    return next(value for value, cond in expr.args if not isinstance(cond, sp.Eq))


def geometric_sum(r, upper):
    """sum_{k=0}^{upper-1} r^k by sympy (upper may be oo: the |r| < 1 branch)."""
    return sp.simplify(generic_branch(sp.summation(r**k, (k, 0, upper - 1))))


def _sqrt(expr):
    """sqrt(expr) kept as one radical (sympy would split it into factors)."""
    return sp.sqrt(sp.UnevaluatedExpr(sp.factor(expr)))


def bound_n():
    """B_n = (1-gamma)/(1-gamma^n) sqrt((1-beta^n) S_n / (1-beta)), S_n summed by sympy."""
    s_n = geometric_sum(beta1**2 / beta2, n)
    return (1 - beta1) / (1 - beta1**n) * _sqrt((1 - beta2**n) * s_n / (1 - beta2))


def bound_inf():
    """B_inf: the infinite sum in place of S_n and the bias corrections set to 1."""
    s_inf = geometric_sum(beta1**2 / beta2, sp.oo)
    return (1 - beta1) * _sqrt(s_inf / (1 - beta2))


def boundary():
    """The beta where the ratio of the geometric sum reaches 1: beta = gamma^2."""
    (sol,) = sp.solve(sp.Eq(beta1**2 / beta2, 1), beta2)
    return sol


def growth_rate():
    """rho = lim (1/2) ln(S_{n+1}/S_n) for r = gamma^2/beta > 1: ln(gamma) - ln(beta)/2."""
    x = sp.symbols("x", positive=True)  # r = 1 + x > 1: outside the region
    s_n = ((1 + x) ** n - 1) / x
    ratio = sp.limit(s_n.subs(n, n + 1) / s_n, n, sp.oo).subs(x, beta1**2 / beta2 - 1)
    return sp.expand_log(sp.log(sp.simplify(ratio)) / 2, force=True)


def paper_rate():
    """Per-step rate of the EMA in backward-difference form: solving
    x (m_n - m_{n-1}) = (1-x)(g_n - m_n) for m_n gives Adam's x m_{n-1} + (1-x) g_n (checked),
    and m_n - m_{n-1} = r (g_n - m_n) with r = (1-x)/x. Returns (r, x)."""
    x, m_new, m_old, g_new = sp.symbols("x m_n m_old g_n")
    (sol,) = sp.solve(sp.Eq(x * (m_new - m_old), (1 - x) * (g_new - m_new)), m_new)
    if sp.simplify(sol - (x * m_old + (1 - x) * g_new)) != 0:
        raise ArithmeticError("the backward-difference EMA is not Adam's EMA")
    r = sp.simplify((m_new - m_old).subs(m_new, sol) / (g_new - sol))
    return r, x


def paper_c():
    """C = 2a - b of the kernel bound at the paper's rates a = r(gamma), b = r(beta)."""
    r, x = paper_rate()
    return sp.together(2 * r.subs(x, beta1) - r.subs(x, beta2))


def paper_bound():
    """The kernel bound a / sqrt(b (2a - b)) at the paper's rates (eq:paper-c)."""
    r, x = paper_rate()
    return bound_continuous().subs({a: r.subs(x, beta1), b: r.subs(x, beta2)})


def paper_boundary():
    """The beta where C = 0: gamma / (2 - gamma)."""
    (sol,) = sp.solve(sp.Eq(paper_c(), 0), beta2)
    return sp.simplify(sol)


def band_width():
    """Paper boundary minus the exact one, factored: gamma (1-gamma)^2 / (2-gamma) >= 0."""
    return sp.factor(paper_boundary() - boundary())


def growth_gap():
    """rho + C/2 to second order in (1-gamma, 1-beta): for C < 0 the exact rate rho minus the
    paper's |C|/2. Returns (the expression in 1-gamma, 1-beta, which has no first-order term)."""
    e1, e2, t = sp.symbols("epsilon_1 epsilon_2 t", positive=True)
    gap = (growth_rate() + paper_c() / 2).subs({beta1: 1 - t * e1, beta2: 1 - t * e2})
    series = sp.expand(sp.series(gap, t, 0, 3).removeO())
    if series.coeff(t, 1) != 0 or series.coeff(t, 0) != 0:
        raise ArithmeticError("rho and |C|/2 differ at first order")
    return sp.expand(series.coeff(t, 2)).subs({e1: 1 - beta1, e2: 1 - beta2})


def ema_lag(decay=beta1, steps=None):
    """Mean age (in steps) of the gradients in a bias-corrected EMA with decay ``decay``.

    steps = None: the stationary value decay/(1-decay); else the finite-n value
    sum_{k<n} k (1-decay) decay^k / (1 - decay^n).
    """
    upper = sp.oo if steps is None else steps - 1
    lag = generic_branch(sp.summation(k * (1 - decay) * decay**k, (k, 0, upper)))
    if steps is not None:
        lag = lag / (1 - decay**steps)
    return sp.simplify(lag)


def update_first_order():
    """u = mhat/sqrt(vhat) with mhat = g - eta L_m gdot, vhat = g^2 - eta L_v d(g^2)/dt, to O(eta).

    Returns the coefficient C of eta gdot/g in u = 1 + eta C gdot/g + O(eta^2) (sympy finds
    C = L_v - L_m with L_m = gamma/(1-gamma), L_v = beta/(1-beta)), after checking that the
    zeroth-order term is 1 (u = sign(g) as eta -> 0).
    """
    lm, lv = ema_lag(beta1), ema_lag(beta2)
    u = (g - eta * lm * gdot) / sp.sqrt(g**2 - eta * lv * 2 * g * gdot)
    series = sp.expand(sp.series(u, eta, 0, 2).removeO())
    if sp.simplify(series.coeff(eta, 0) - 1) != 0:
        raise ArithmeticError("zeroth-order term of the update is not 1")
    return sp.factor(sp.simplify(series.coeff(eta, 1) * g / gdot))


def bound_continuous():
    """a / sqrt(b (2a - b)) from Cauchy-Schwarz on the kernels a e^{-as} and b e^{-bs}."""
    s = sp.symbols("s", positive=True)
    c = sp.symbols("c", positive=True)  # c = 2a - b > 0 inside the region
    kern = sp.integrate(sp.exp(-c * s), (s, 0, sp.oo))
    return sp.simplify(a * sp.sqrt(kern / b)).subs(c, 2 * a - b)


def rate_lags(order: int = 2):
    """ODE-EMA lag minus discrete-EMA lag (in steps, both measured from the midpoint of the
    step, where the discrete update is a central difference) for the two rate choices.

    Discrete: decay/(1-decay) + 1/2. ODE with rate a per step: 1/a. Euler rates a = 1-decay
    give exactly 1/2 for every decay (a common time shift that cancels in mhat/sqrt(vhat));
    kernel rates a = -ln(decay) give -(1-decay)/12 + ..., different for gamma and beta;
    matched rates a = 2(1-decay)/(1+decay) give 0. Returns (euler, kernel, matched, x).
    """
    x = sp.symbols("x", positive=True)
    discrete = x / (1 - x) + sp.Rational(1, 2)
    euler = sp.simplify(1 / (1 - x) - discrete)
    kernel = sp.series(1 / (-sp.log(x)) - discrete, x, 1, order).removeO()
    matched = sp.simplify((1 + x) / (2 * (1 - x)) - discrete)
    return euler, sp.simplify(kernel), matched, x


def macros() -> dict[str, str]:
    """Every derived expression as LaTeX, keyed by macro name."""
    euler, kernel, matched, x = rate_lags()
    u1 = update_first_order()
    lat = sp.latex
    return {
        "TheorySymBn": lat(bound_n()),
        "TheorySymBinf": lat(bound_inf()),
        "TheorySymBoundary": lat(boundary()),
        "TheorySymRho": lat(growth_rate()),
        "TheorySymPaperRate": lat(paper_rate()[0]),
        "TheorySymPaperC": lat(paper_c()),
        "TheorySymPaperBound": lat(paper_bound()),
        "TheorySymPaperBoundary": lat(paper_boundary()),
        "TheorySymBandWidth": lat(band_width()),
        "TheorySymGrowthGap": lat(growth_gap()),
        "TheorySymLagBeta": lat(ema_lag(beta1)),
        "TheorySymLagGamma": lat(ema_lag(beta2)),
        "TheorySymLagFinite": lat(ema_lag(beta1, n)),
        "TheorySymUpdate": lat(u1),
        "TheorySymLagDiff": lat(ema_lag(beta2) - ema_lag(beta1)),
        "TheorySymBcont": lat(bound_continuous()),
        "TheorySymLagEuler": lat(euler),
        "TheorySymLagKernel": lat(kernel.subs(x, beta1)),
        "TheorySymLagMatched": lat(matched),
    }
