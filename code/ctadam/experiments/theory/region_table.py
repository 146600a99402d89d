r"""The side-by-side table of the two stable regions (paper/generated/region_table.tex).

For each (beta1, beta2) of :data:`POINTS` (PyTorch order = (gamma, beta) in the paper's letters):
the exact discrete verdict with B_inf inside or rho outside (:mod:`ctadam.theory.stability`),
the paper's C with its kernel bound or |C|/2 (:mod:`ctadam.theory.region`), and whether the
pair lies in the band, as a complete tabular environment (\input by paper/sections/theory.tex;
rule ``theory_region_table``). The regions: \cref{eq:region} and \cref{eq:paper-c}.

    python -m ctadam.experiments.theory.region_table --out paper/generated/region_table.tex
"""

import argparse
import math

from ctadam.io import write_text_atomic
from ctadam.theory import region as rg
from ctadam.theory import stability as st

# Defaults, a band point at each of three momenta, two pairs outside both regions, RMSprop,
# and equal decays (sign-like steps, B_inf = 1).
POINTS = [(0.9, 0.999), (0.9, 0.99), (0.9, 0.815), (0.5, 0.3), (0.3, 0.15), (0.5, 0.2),
          (0.99, 0.9), (0.0, 0.999), (0.95, 0.95)]


HEAD = "\n".join([
    "% Generated: python -m ctadam.experiments.theory.region_table",
    r"\begin{tabular}{llllllll}", r"\toprule",
    r"$\gamma$ & $\beta$ & exact & $B_\infty$ or $\rho$ & $C$ & paper & bound or $|C|/2$ & band \\",
    r"\midrule"])
FOOT = "\\bottomrule\n\\end{tabular}"


def _num(x: float) -> str:
    if math.isinf(x):
        return r"$\infty$" if x > 0 else r"$-\infty$"
    return f"${x:.3g}$"


def row(beta1: float, beta2: float) -> str:
    """One LaTeX table row: gamma & beta & exact verdict & B_inf or rho & C & paper verdict &
    kernel bound or |C|/2 & band."""
    inside = bool(st.in_stable_region(beta1, beta2))
    exact = (_num(float(st.bound_inf(beta1, beta2))) if inside
             else r"$\rho=" + f"{float(st.growth_rate(beta1, beta2)):.3g}$")
    c = float(rg.paper_c(beta1, beta2))
    stable_c = bool(rg.paper_stable(beta1, beta2))
    paper = (_num(float(rg.kernel_bound(beta1, beta2))) if stable_c
             else r"$|C|/2=" + f"{float(rg.paper_growth_rate(beta1, beta2)):.3g}$")
    cells = [f"{beta1:g}", f"{beta2:g}", "stable" if inside else "unstable", exact, _num(c),
             "stable" if stable_c else "unstable", paper,
             "yes" if bool(rg.in_band(beta1, beta2)) else "no"]
    return " & ".join(cells) + r" \\"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    text = "\n".join([HEAD] + [row(b1, b2) for b1, b2 in POINTS] + [FOOT]) + "\n"
    write_text_atomic(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
