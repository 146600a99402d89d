r"""LaTeX number macros of the theory family (paper/generated/numbers_theory.tex, rule
``theory_numbers``).

Closed forms only: the bounds :math:`B_\infty` (\cref{eq:bound-inf}) and :math:`B_n`
(\cref{eq:bound-n}) and the growth rate :math:`\rho` (\cref{eq:growth-rate}) from
:mod:`ctadam.theory.stability`; the paper's region :math:`C` (\cref{eq:paper-c}) and its
boundary from :mod:`ctadam.theory.region`.

    python -m ctadam.experiments.theory.numbers --out numbers_theory.tex
"""

import argparse

import numpy as np

from ctadam.io import latex_sci, write_macros
from ctadam.theory import region as rg
from ctadam.theory import stability as st

PRESET_NAMES = {(0.9, 0.999): "Default", (0.9, 0.95): "NineNinetyfive",
                (0.9, 0.99): "NineNinetynine", (0.5, 0.999): "Half", (0.95, 0.95): "Equal"}


def _power_of_ten(x: float) -> str:
    """10^k as LaTeX math ``10^{k}`` (x must be an exact power of ten)."""
    k = int(round(np.log10(x)))
    if not np.isclose(x, 10.0**k, rtol=1e-12, atol=0.0):
        raise ValueError(f"x must be a power of ten, got {x!r}")
    return f"10^{{{k}}}"


def checked_range_is_safe() -> bool:
    """True when ln B_n is finite and NaN-free over beta in [0, 0.999], r up to
    CHECKED_MAX_RATIO and n up to CHECKED_MAX_STEPS (the claim the paper quotes)."""
    beta = np.linspace(0.0, 0.999, 61)[:, None, None]
    ratio = np.linspace(0.5, st.CHECKED_MAX_RATIO, 41)[None, :, None]
    gamma = np.clip(beta**2 / ratio, 1e-6, 0.999999)
    n = np.array([1, 10, 1000, st.CHECKED_MAX_STEPS])[None, None, :]
    return bool(np.all(np.isfinite(st.log_bound_n(beta, gamma, n))))


def stability_macros() -> dict[str, str]:
    if not checked_range_is_safe():
        raise RuntimeError("ln B_n is not finite over the checked range; the paper's claim fails")
    b0, g0 = st.BOUNDARY_EXAMPLE
    out = {"TheoryCheckedMaxSteps": _power_of_ten(st.CHECKED_MAX_STEPS),
           "TheoryCheckedMaxRatio": f"{st.CHECKED_MAX_RATIO:g}",
           "TheoryAdversarialRtol": _power_of_ten(st.ADVERSARIAL_RTOL),
           "TheoryBoundaryBeta": f"{b0:g}", "TheoryBoundaryGamma": f"{g0:g}"}
    for (b, g), name in PRESET_NAMES.items():
        out[f"TheoryBinf{name}"] = f"{float(st.bound_inf(b, g)):.2f}"
    out["TheoryRhoUnstable"] = f"{float(st.growth_rate(0.99, 0.9)):.4f}"
    out["TheoryBnUnstableThousand"] = latex_sci(float(st.bound_n(0.99, 0.9, 1000)), 2)
    out["TheoryBcontDefault"] = f"{float(st.bound_continuous(-np.log(0.9), -np.log(0.999))):.2f}"
    return out | region_macros()


def region_macros() -> dict[str, str]:
    """The paper's region beside the exact one, and the special cases (RMSprop, equal decays,
    momentum at fixed beta2): every number the side-by-side subsection quotes."""
    out = {"TheoryCDefault": f"{float(rg.paper_c(0.9, 0.999)):.3f}",
           # Kingma and Ba's step bound (1-beta1)/sqrt(1-beta2) at the defaults
           "TheoryKingmaBaDefault": f"{(1 - 0.9) / np.sqrt(1 - 0.999):.2f}",
           "TheoryKernelBoundDefault": f"{float(rg.kernel_bound(0.9, 0.999)):.2f}",
           "TheoryKernelBoundEqual": f"{float(rg.kernel_bound(0.95, 0.95)):.2f}",
           "TheoryPaperGrowthUnstable": f"{float(rg.paper_growth_rate(0.99, 0.9)):.4f}"}
    for b1, name in ((0.3, "Three"), (0.5, "Half"), (0.9, "Nine")):
        out[f"TheoryPaperBoundary{name}"] = f"{float(rg.paper_boundary(b1)):.3f}"
        out[f"TheoryExactBoundary{name}"] = f"{float(rg.exact_boundary(b1)):.3f}"
    fine = np.linspace(0.0, 0.999, 99901)
    width = rg.band_width(fine)
    out["TheoryBandMaxWidth"] = f"{float(width.max()):.4f}"
    out["TheoryBandMaxAt"] = f"{float(fine[np.argmax(width)]):.3f}"
    for b2, name in ((0.999, "Three"), (0.99, "Two")):
        out[f"TheoryRmspropBinf{name}"] = f"{float(st.bound_inf(0.0, b2)):.1f}"
    # momentum at beta2 = 0.999: B_inf falls from 1/sqrt(1 - beta2) to 1 at beta1 = beta2
    for b1, name in ((0.5, "Half"), (0.99, "NinetyNine")):
        out[f"TheoryMomentumBinf{name}"] = f"{float(st.bound_inf(b1, 0.999)):.2f}"
    out["TheoryKernelBoundSmallMomentum"] = f"{float(rg.kernel_bound(0.01, 0.999)):.1f}"
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    macros = stability_macros()
    write_macros(args.out, macros,
                 comment="theory family: python -m ctadam.experiments.theory.numbers")
    for name, value in sorted(macros.items()):
        print(f"{name} = {value}")


if __name__ == "__main__":
    main()
