"""The ``ctadam`` command. Subcommands are registered in :data:`SUBCOMMANDS`.

    ctadam check --beta 0.9 --gamma 0.999
    ctadam check --beta 0.99 --gamma 0.9 --steps 1000
    ctadam check --levels "0.9,0.999;0.9,0.99"

``check`` says whether (beta, gamma) lies in Adam's stable region beta^2 < gamma
(paper/sections/theory.tex, eq:region; beta = gamma = 0, the sign step, counts as inside) and
prints the worst-case update size: B_inf inside (eq:bound-inf), B_N and the growth rate rho per
step outside (eq:bound-n, eq:growth-rate), and the margin gamma - beta^2. --levels replaces
--beta/--gamma (giving both is an error). Exit status: 0 inside, 1 outside, 2 on bad input.
"""

import argparse
import math
import sys

from ctadam.checks import check_int, check_unit_interval
from ctadam.theory import stability as st

EXIT_STABLE, EXIT_UNSTABLE, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_STEPS = 1000  # N for B_N when the pair is unstable and --steps is not given


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors with exit status 2 and a one-line message."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def parse_levels(text: str) -> list[tuple[float, float]]:
    """'b1,g1;b2,g2' -> [(b1, g1), (b2, g2)], each decay checked to lie in [0, 1)."""
    levels = []
    for i, chunk in enumerate(filter(None, (c.strip() for c in text.split(";")))):
        parts = chunk.split(",")
        if len(parts) != 2:
            raise ValueError(f"level {i + 1} must be 'beta,gamma', got {chunk!r}")
        try:
            b, g = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(
                f"level {i + 1} must be two numbers 'beta,gamma', got {chunk!r}") from None
        levels.append((check_unit_interval(f"beta of level {i + 1}", b),
                       check_unit_interval(f"gamma of level {i + 1}", g)))
    if not levels:
        raise ValueError("--levels must name at least one 'beta,gamma' pair")
    return levels


def describe(beta: float, gamma: float, steps: int | None) -> tuple[bool, list[str]]:
    """Verdict and report lines for one (beta, gamma) pair."""
    inside = bool(st.in_stable_region(beta, gamma))
    lines = [f"(beta, gamma) = ({beta:g}, {gamma:g}): "
             + ("STABLE (beta = gamma = 0: sign step, r = 0)" if inside and gamma == 0 else
                "STABLE (beta^2 < gamma)" if inside else
                "UNSTABLE (on the boundary beta^2 = gamma: B_N grows like sqrt(N))"
                if beta * beta == gamma else "UNSTABLE (beta^2 > gamma)"),
             f"  margin gamma - beta^2 = {gamma - beta * beta:+.6g}"]
    if inside:
        lines.append(f"  B_inf = {float(st.bound_inf(beta, gamma)):.6g}  (largest possible |update|"
                     " per coordinate, in units of the learning rate)")
    if steps is not None or not inside:
        n = steps if steps is not None else DEFAULT_STEPS
        log_b = float(st.log_bound_n(beta, gamma, n))
        if math.isinf(log_b):
            value = "unbounded (gamma = 0)"
        elif log_b < 700:
            value = f"{float(st.bound_n(beta, gamma, n)):.6g}"
        else:
            value = f"exp({log_b:.6g})"
        lines.append(f"  B_N at N = {n}: {value}")
    if not inside:
        rho = 0.0 if beta * beta == gamma else float(st.growth_rate(beta, gamma))
        if math.isinf(rho):
            lines.append("  growth rate rho: unbounded (gamma = 0): one update can be"
                         " arbitrarily large from N = 2 on")
        else:
            lines.append(f"  growth rate rho = ln(beta) - ln(gamma)/2 = {rho:.6g} per step"
                         f" (worst case grows by x{math.exp(rho):.6g} per step)")
    return inside, lines


def cmd_check(args) -> int:
    if args.levels is not None and (args.beta is not None or args.gamma is not None):
        raise ValueError("--levels replaces --beta/--gamma; give one or the other, not both")
    if args.levels is None and (args.beta is None or args.gamma is None):
        raise ValueError("give --beta and --gamma, or --levels 'b1,g1;b2,g2'")
    steps = None if args.steps is None else check_int("--steps", args.steps, low=1)
    if args.levels is not None:
        levels = parse_levels(args.levels)
    else:
        levels = [(check_unit_interval("--beta", args.beta),
                   check_unit_interval("--gamma", args.gamma))]
    verdicts = []
    for i, (b, g) in enumerate(levels):
        inside, lines = describe(b, g, steps)
        if len(levels) > 1:
            lines[0] = f"level {i + 1}: {lines[0]}"
        print("\n".join(lines))
        verdicts.append(inside)
    if len(levels) > 1:
        n_text = "inf" if steps is None else str(steps)
        verdict = ("STABLE (every level inside)" if all(verdicts)
                   else "UNSTABLE (some level outside)")
        print(f"k-Adam with k = {len(levels)}: {verdict}")
        print(f"  product of level bounds at N = {n_text}: "
              f"{float(st.compose_levels(levels, steps)):.6g}")
        print(f"  bound on the final update (last level alone) at N = {n_text}: "
              f"{float(st.final_update_bound(levels, steps)):.6g}")
    return EXIT_STABLE if all(verdicts) else EXIT_UNSTABLE


SUBCOMMANDS = {"check": cmd_check}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ctadam", description="Tools from the ctadam reproduction.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = sub.add_parser("check", help="is (beta, gamma) inside Adam's stable region?",
                           description=__doc__.split("\n\n")[2])
    check.add_argument("--beta", type=float, help="first-moment decay, in [0, 1)")
    check.add_argument("--gamma", type=float, help="second-moment decay, in [0, 1)")
    check.add_argument("--levels", help="k-Adam levels 'b1,g1;b2,g2' (replaces --beta/--gamma)")
    check.add_argument("--steps", type=int, help="also report the finite-step bound B_N at N")
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
