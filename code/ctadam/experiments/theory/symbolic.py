"""Rule ``theory_symbolic``: the sympy derivations of :mod:`ctadam.theory.symbolic` as LaTeX
macros (paper/generated/theory_symbolic.tex, \\input by paper/sections/theory.tex).

    python -m ctadam.experiments.theory.symbolic --out paper/generated/theory_symbolic.tex
"""

import argparse

from ctadam.io import write_macros
from ctadam.theory.symbolic import macros


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write the sympy derivations as LaTeX macros.")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    result = macros()
    write_macros(args.out, result,
                 comment="sympy derivations: python -m ctadam.experiments.theory.symbolic")
    for name, value in result.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
