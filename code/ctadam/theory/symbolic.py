r"""Symbolic (sympy) derivation of the stability bound and of the first-order expansion.

Each function derives one expression from its definition rather than stating it:

* :func:`bound_n` / :func:`bound_inf`: the Cauchy-Schwarz bound with the geometric sum done
  by ``sympy.summation`` (eq:bound-n, eq:bound-inf); :func:`boundary` solves 1 - beta^2/gamma = 0
  for gamma (eq:region); :func:`growth_rate` takes the limit of S_{n+1}/S_n (eq:growth-rate).
* :func:`ema_lag`: the mean age sum_k k (1-beta) beta^k of Adam's EMA, which is the coefficient
  of -eta dg/dt in mhat = g - eta beta/(1-beta) dg/dt + O(eta^2) (eq:mhat-expansion); with a
  finite n it includes the bias correction.
* :func:`update_first_order`: the series of mhat/sqrt(vhat) in eta (eq:u-expansion).
* :func:`bound_continuous`: the kernel version by ``sympy.integrate`` (eq:bound-continuous).
* :func:`rate_lags`: the lag of the ODE's EMA minus the discrete one for both rate choices,
  expanded at beta -> 1 (eq:lag-mismatch): what sets the order of the continuous model.

``python -m ctadam.theory.symbolic --out paper/generated/theory_symbolic.tex`` writes every
result as a LaTeX macro for paper/sections/theory.tex.
"""

import argparse

import sympy as sp

from ctadam.io import write_macros

beta, gamma = sp.symbols("beta gamma", positive=True)
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
    """B_n = (1-beta)/(1-beta^n) sqrt((1-gamma^n) S_n / (1-gamma)), S_n summed by sympy."""
    s_n = geometric_sum(beta**2 / gamma, n)
    return (1 - beta) / (1 - beta**n) * _sqrt((1 - gamma**n) * s_n / (1 - gamma))


def bound_inf():
    """B_inf: the infinite sum in place of S_n and the bias corrections set to 1."""
    s_inf = geometric_sum(beta**2 / gamma, sp.oo)
    return (1 - beta) * _sqrt(s_inf / (1 - gamma))


def boundary():
    """The gamma where the ratio of the geometric sum reaches 1: gamma = beta^2."""
    (sol,) = sp.solve(sp.Eq(beta**2 / gamma, 1), gamma)
    return sol


def growth_rate():
    """rho = lim (1/2) ln(S_{n+1}/S_n) for r = beta^2/gamma > 1: ln(beta) - ln(gamma)/2."""
    x = sp.symbols("x", positive=True)  # r = 1 + x > 1: outside the region
    s_n = ((1 + x) ** n - 1) / x
    ratio = sp.limit(s_n.subs(n, n + 1) / s_n, n, sp.oo).subs(x, beta**2 / gamma - 1)
    return sp.expand_log(sp.log(sp.simplify(ratio)) / 2, force=True)


def ema_lag(decay=beta, steps=None):
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
    C = L_v - L_m with L_m = beta/(1-beta), L_v = gamma/(1-gamma)), after checking that the
    zeroth-order term is 1 (u = sign(g) as eta -> 0).
    """
    lm, lv = ema_lag(beta), ema_lag(gamma)
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
    kernel rates a = -ln(decay) give -(1-decay)/12 + ..., different for beta and gamma;
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
        "TheorySymLagBeta": lat(ema_lag(beta)),
        "TheorySymLagGamma": lat(ema_lag(gamma)),
        "TheorySymLagFinite": lat(ema_lag(beta, n)),
        "TheorySymUpdate": lat(u1),
        "TheorySymLagDiff": lat(ema_lag(gamma) - ema_lag(beta)),
        "TheorySymBcont": lat(bound_continuous()),
        "TheorySymLagEuler": lat(euler),
        "TheorySymLagKernel": lat(kernel.subs(x, beta)),
        "TheorySymLagMatched": lat(matched),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write the sympy derivations as LaTeX macros.")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    result = macros()
    write_macros(args.out, result, comment="sympy derivations: python -m ctadam.theory.symbolic")
    for name, value in result.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
