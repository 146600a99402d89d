"""The ``ctadam`` command. Subcommands are registered in :data:`SUBCOMMANDS`.

    ctadam check --betas 0.9 0.999
    ctadam check --betas 0.99 0.9 --steps 1000
    ctadam check --betas 0.5 0.3 --json
    ctadam check --levels "0.9,0.999;0.9,0.99"

``check`` takes Adam's decays in PyTorch's order, --betas BETA1 BETA2 (first moment, second
moment), and reports two verdicts. The exact discrete one (paper/sections/theory.tex,
eq:region): stable iff beta1^2 < beta2 (beta1 = beta2 = 0, the sign step, counts as inside),
with the worst-case update B_inf inside (eq:bound-inf), B_N and the growth rate rho per step
outside (eq:bound-n, eq:growth-rate), and the margin beta2 - beta1^2. The paper's
continuous-time one (eq:paper-c): C = 2(1-beta1)/beta1 - (1-beta2)/beta2, stable iff C > 0,
with its kernel bound there and the growth rate |C|/2 where C < 0. Between the boundaries
beta2 = beta1^2 and beta2 = beta1/(2-beta1) lies the band where the two disagree; the output
names it. --json prints one object instead (non-finite numbers as null). --levels (k-Adam, each
level 'beta1,beta2') replaces --betas. The old --beta/--gamma flags are refused: the paper's
beta is PyTorch's beta2, so the names were ambiguous. Exit status: 0 inside the exact discrete
region, 1 outside, 2 on bad input.
"""

import argparse
import json
import math
import sys

from ctadam.checks import ArgumentParser, check_int, check_unit_interval
from ctadam.theory import region as rg
from ctadam.theory import stability as st

EXIT_STABLE, EXIT_UNSTABLE, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_STEPS = 1000  # N for B_N when the pair is unstable and --steps is not given
MAX_STEPS = 2**53  # the bounds are evaluated in float64, exact for integers up to here


def parse_levels(text: str) -> list[tuple[float, float]]:
    """'a1,b1;a2,b2' -> [(a1, b1), (a2, b2)] as (beta1, beta2) pairs, each checked in [0, 1)."""
    levels = []
    for i, chunk in enumerate(filter(None, (c.strip() for c in text.split(";")))):
        parts = chunk.split(",")
        if len(parts) != 2:
            raise ValueError(f"level {i + 1} must be 'beta1,beta2', got {chunk!r}")
        try:
            b1, b2 = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(
                f"level {i + 1} must be two numbers 'beta1,beta2', got {chunk!r}") from None
        levels.append((check_unit_interval(f"beta1 of level {i + 1}", b1),
                       check_unit_interval(f"beta2 of level {i + 1}", b2)))
    if not levels:
        raise ValueError("--levels must name at least one 'beta1,beta2' pair")
    return levels


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def verdicts(beta1: float, beta2: float, steps: int | None = None) -> dict:
    """Both verdicts for one pair, as printed by --json.

    ``discrete``: stable (beta1^2 < beta2), bound_inf (None outside), rho = the growth rate of
    ln B_n per step (0 inside and on the boundary, ln(beta1) - ln(beta2)/2 outside, None when
    infinite). ``continuous``: the paper's C, stable (C > 0), bound (its kernel bound, None where
    infinite or C <= 0) and growth_rate (|C|/2 for C < 0, else 0; None when infinite or
    undefined). ``band``: the two stable flags differ. With ``steps``, also bound_n at N = steps.
    """
    inside = bool(st.in_stable_region(beta1, beta2))
    rho = 0.0 if inside or beta1 * beta1 == beta2 else float(st.growth_rate(beta1, beta2))
    discrete = {"stable": inside,
                "bound_inf": _finite(float(st.bound_inf(beta1, beta2))) if inside else None,
                "rho": _finite(rho)}
    if steps is not None:
        discrete["steps"] = steps
        discrete["bound_n"] = _finite(float(st.bound_n(beta1, beta2, steps)))
    c = float(rg.paper_c(beta1, beta2))
    c_stable = bool(rg.paper_stable(beta1, beta2))
    continuous = {"C": _finite(c), "stable": c_stable,
                  "bound": _finite(float(rg.kernel_bound(beta1, beta2))) if c_stable else None,
                  "growth_rate": _finite(float(rg.paper_growth_rate(beta1, beta2)))}
    return {"beta1": beta1, "beta2": beta2, "discrete": discrete, "continuous": continuous,
            "band": inside != c_stable}


def _discrete_lines(beta1: float, beta2: float, steps: int | None) -> list[str]:
    inside = bool(st.in_stable_region(beta1, beta2))
    lines = ["  exact discrete region: "
             + ("STABLE (beta1 = beta2 = 0: sign step, r = 0)" if inside and beta2 == 0 else
                "STABLE (beta1^2 < beta2)" if inside else
                "UNSTABLE (on the boundary beta1^2 = beta2: B_N grows like sqrt(N))"
                if beta1 * beta1 == beta2 else "UNSTABLE (beta1^2 > beta2)"),
             f"    margin beta2 - beta1^2 = {beta2 - beta1 * beta1:+.6g}"]
    if inside:
        lines.append(f"    B_inf = {float(st.bound_inf(beta1, beta2)):.6g}  (largest possible"
                     " |update| per coordinate, in units of the learning rate)")
    if steps is not None or not inside:
        n = steps if steps is not None else DEFAULT_STEPS
        log_b = float(st.log_bound_n(beta1, beta2, n))
        if math.isinf(log_b):
            value = "unbounded (beta2 = 0)"
        elif log_b < 700:
            value = f"{float(st.bound_n(beta1, beta2, n)):.6g}"
        else:
            value = f"exp({log_b:.6g})"
        lines.append(f"    B_N at N = {n}: {value}")
    if not inside:
        rho = 0.0 if beta1 * beta1 == beta2 else float(st.growth_rate(beta1, beta2))
        if math.isinf(rho):
            lines.append("    growth rate rho: unbounded (beta2 = 0): one update can be"
                         " arbitrarily large from N = 2 on")
        else:
            lines.append(f"    growth rate rho = ln(beta1) - ln(beta2)/2 = {rho:.6g} per step"
                         f" (worst case grows by x{math.exp(rho):.6g} per step)")
    return lines


def _continuous_lines(beta1: float, beta2: float) -> list[str]:
    c = float(rg.paper_c(beta1, beta2))
    if math.isnan(c):
        return ["  paper's continuous-time region: C undefined at beta1 = beta2 = 0"]
    head = "  paper's continuous-time region: C = 2(1-beta1)/beta1 - (1-beta2)/beta2"
    if math.isinf(c):
        head += " is unbounded " + ("above (beta1 = 0)" if c > 0 else "below (beta2 = 0)")
    else:
        head += f" = {c:.6g}"
    if c > 0:
        bound = float(rg.kernel_bound(beta1, beta2))
        text = (f"{bound:.6g}" if math.isfinite(bound)
                else "none (beta1 = 0: the first moment has no continuous-time rate)")
        return [head + ": STABLE (C > 0)", f"    kernel bound r1/sqrt(r2 C) = {text}"]
    growth = float(rg.paper_growth_rate(beta1, beta2))
    text = f"{growth:.6g} per step" if math.isfinite(growth) else "unbounded"
    return [head + ": UNSTABLE (C <= 0)", f"    predicted growth of ln|u| = |C|/2 = {text}"]


def describe(beta1: float, beta2: float, steps: int | None) -> tuple[bool, list[str]]:
    """Exact verdict and report lines for one (beta1, beta2) pair."""
    lines = [f"(beta1, beta2) = ({beta1:g}, {beta2:g})"]
    lines += _discrete_lines(beta1, beta2, steps) + _continuous_lines(beta1, beta2)
    if math.isnan(float(rg.paper_c(beta1, beta2))):
        lines.append("  the two verdicts differ: the exact one is defined here, C is not")
    elif bool(rg.in_band(beta1, beta2)):
        lines.append("  IN THE BAND between beta2 = beta1^2 and beta2 = beta1/(2-beta1): the two"
                     " verdicts differ")
    return bool(st.in_stable_region(beta1, beta2)), lines


def _betas(values) -> tuple[float, float]:
    return (check_unit_interval("--betas BETA1", values[0]),
            check_unit_interval("--betas BETA2", values[1]))


def cmd_check(args) -> int:
    if args.beta is not None or args.gamma is not None:
        raise ValueError(
            "--beta/--gamma are no longer accepted because they are ambiguous: the paper writes"
            " beta for the second-moment decay (PyTorch's beta2) and gamma for the first-moment"
            " decay (beta1), while this command used to mean the reverse; give"
            " --betas BETA1 BETA2 in PyTorch's order")
    if args.levels is not None and args.betas is not None:
        raise ValueError("--levels replaces --betas; give one or the other, not both")
    if args.levels is None and args.betas is None:
        raise ValueError("give --betas BETA1 BETA2, or --levels 'a1,b1;a2,b2'")
    if args.json and args.levels is not None:
        raise ValueError("--json reports one pair: use it with --betas, not --levels")
    steps = None if args.steps is None else check_int("--steps", args.steps, 1, MAX_STEPS)
    levels = parse_levels(args.levels) if args.levels is not None else [_betas(args.betas)]
    if args.json:
        result = verdicts(*levels[0], steps)
        print(json.dumps(result, indent=2))
        return EXIT_STABLE if result["discrete"]["stable"] else EXIT_UNSTABLE
    stable = []
    for i, (b1, b2) in enumerate(levels):
        inside, lines = describe(b1, b2, steps)
        if len(levels) > 1:
            lines[0] = f"level {i + 1}: {lines[0]}"
        print("\n".join(lines))
        stable.append(inside)
    if len(levels) > 1:
        n_text = "inf" if steps is None else str(steps)
        verdict = ("STABLE (every level inside)" if all(stable)
                   else "UNSTABLE (some level outside)")
        print(f"k-Adam with k = {len(levels)}: {verdict} (exact discrete region)")
        print(f"  product of level bounds at N = {n_text}: "
              f"{float(st.compose_levels(levels, steps)):.6g}")
        print(f"  bound on the final update (last level alone) at N = {n_text}: "
              f"{float(st.final_update_bound(levels, steps)):.6g}")
    return EXIT_STABLE if all(stable) else EXIT_UNSTABLE


SUBCOMMANDS = {"check": cmd_check}


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="ctadam", description="Tools from the ctadam reproduction.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    check = sub.add_parser("check", help="is (beta1, beta2) inside Adam's stable region?",
                           description=__doc__.split("\n\n")[2])
    check.add_argument("--betas", nargs=2, type=float, metavar=("BETA1", "BETA2"),
                       help="Adam's decays in PyTorch's order: first moment, second moment,"
                            " each in [0, 1)")
    check.add_argument("--levels", help="k-Adam levels 'a1,b1;a2,b2', each 'beta1,beta2'"
                                        " (replaces --betas)")
    check.add_argument("--steps", type=int, help="also report the finite-step bound B_N at N")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    # Refused with an explanation (see cmd_check); kept only to give that message.
    check.add_argument("--beta", type=str, help=argparse.SUPPRESS)
    check.add_argument("--gamma", type=str, help=argparse.SUPPRESS)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return SUBCOMMANDS[args.command](args)
    except ValueError as err:
        print(f"ctadam {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
