"""Figure ``stability_region``: B_inf over the decay square, the band, and B_n against n.

Paper letters on the figure: gamma = first-moment decay (torch beta1, horizontal axis), beta =
second-moment decay (torch beta2, vertical axis). Left: log-colour map of B_inf (eq:bound-inf)
(axes stretched as -log10(1 - x) so that the corner near 1 is visible), grey where the update
is unbounded, the exact boundary beta = gamma^2, the paper's boundary C = 0 (beta =
gamma/(2-gamma)) and markers at common presets. Middle: the same two boundaries on linear axes
with the band between them shaded (exact analysis: bounded; paper's C: growth). Right: the
exact finite-n bound B_n (eq:bound-n) for the presets and the boundary pair
stability.BOUNDARY_EXAMPLE: flat inside the region, sqrt(n) on the boundary, exp(rho n)
outside (rho is given only there). Drawn by rule ``theory_figure`` from closed forms only.

    python -m ctadam.plots.stability_region --grid 400 --out figures/stability_region.pdf
"""

import argparse

import numpy as np

from ctadam.checks import check_int
from ctadam.plots import style
from ctadam.theory import region as rg
from ctadam.theory import stability as st

MAX_DECADES = 4.0  # the map reaches both decays = 1 - 1e-4


def _decades(x):
    return -np.log10(1.0 - np.clip(x, 0.0, 1.0 - 1e-12))


def _from_decades(s):
    return 1.0 - 10.0 ** -np.asarray(s)


# (beta1, beta2) in PyTorch order, i.e. (gamma, beta) in the paper's letters.
PRESETS = [(0.9, 0.999), (0.9, 0.95), (0.95, 0.95), (0.9, 0.99), (0.5, 0.999), (0.99, 0.9)]


def draw(grid: int):
    """Build the two-panel figure on a grid x grid map."""
    style.apply()
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    # Uniform in s = -log10(1 - x): resolves the corner near 1 where the presets live.
    axis = 1.0 - 10.0 ** -np.linspace(0.0, MAX_DECADES, grid)
    b1, b2 = np.meshgrid(axis, axis, indexing="ij")
    b_inf = st.bound_inf(b1, b2)  # [i, j] = (beta1_i, beta2_j); drawn transposed
    finite = np.ma.masked_invalid(np.where(np.isfinite(b_inf), b_inf, np.nan))
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(style.FULL_WIDTH, 3.6),
                                           gridspec_kw={"width_ratios": [1.25, 0.9, 1]})
    left.set_facecolor("0.85")
    mesh = left.pcolormesh(axis, axis, finite.T, shading="nearest", cmap="viridis",
                           norm=LogNorm(vmin=1.0, vmax=1e2), rasterized=True)
    fig.colorbar(mesh, ax=left, label=r"$B_\infty(\gamma,\beta)$", extend="max")
    left.plot(axis, rg.exact_boundary(axis), "k-", lw=1.2, label=r"exact: $\beta=\gamma^2$")
    left.plot(axis, rg.paper_boundary(axis), "--", color="C3", lw=1.0,
              label=r"paper: $C=0$, $\beta=\gamma/(2-\gamma)$")
    for (b1, b2), marker in zip(PRESETS, "os^vDX", strict=True):
        bound = float(st.bound_inf(b1, b2))
        text = f"{bound:.2f}" if np.isfinite(bound) else r"$\infty$"
        left.plot(b1, b2, marker, ms=4.5, mew=0.8, mec="k",
                  mfc="w" if np.isfinite(bound) else "r",
                  label=rf"$({b1}, {b2})$: $B_\infty$={text}")
    left.text(0.97, 0.3, "unstable\n" + r"$\gamma^2>\beta$", ha="center", fontsize=7)
    for setter in (left.set_xscale, left.set_yscale):
        setter("function", functions=(_decades, _from_decades))
    ticks = [0, 0.5, 0.9, 0.99, 0.999, 0.9999]
    left.set_xticks(ticks, [str(t) for t in ticks])
    left.set_yticks(ticks, [str(t) for t in ticks])
    left.set_xlim(0, axis[-1])
    left.set_ylim(0, axis[-1])
    left.set_xlabel(r"first moment $\gamma$ (torch $\beta_1$; axis $-\log_{10}(1-\gamma)$)")
    left.set_ylabel(r"second moment $\beta$ (torch $\beta_2$)")
    left.set_title(r"(a) worst-case update $B_\infty$ (grey: unbounded)")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=5.5,
                frameon=False)

    lin = np.linspace(0.0, 0.999, 400)
    mid.fill_between(lin, rg.exact_boundary(lin), rg.paper_boundary(lin), color="C1", alpha=0.5,
                     lw=0, label="band: exact bounded,\npaper growth")
    mid.fill_between(lin, 0.0, rg.exact_boundary(lin), color="0.85", lw=0,
                     label="both: unstable")
    mid.plot(lin, rg.exact_boundary(lin), "k-", lw=1.0, label=r"$\beta=\gamma^2$")
    mid.plot(lin, rg.paper_boundary(lin), "--", color="C3", lw=1.0,
             label=r"$\beta=\gamma/(2-\gamma)$")
    mid.set(xlim=(0, 1), ylim=(0, 1), xlabel=r"$\gamma$ (torch $\beta_1$)",
            ylabel=r"$\beta$ (torch $\beta_2$)", title="(b) the band between the boundaries")
    mid.legend(frameon=False, fontsize=5.5, loc="upper left")

    n = np.unique(np.logspace(0, 4, 200).round())
    # rho (eq:growth-rate) is the growth rate only outside the region (zero on the boundary).
    for (b1, b2), color in zip(PRESETS + [st.BOUNDARY_EXAMPLE], [f"C{i}" for i in range(7)],
                               strict=True):
        if st.in_stable_region(b1, b2):
            label = rf"({b1:g}, {b2:g}), bounded"
        elif b1 * b1 == b2:
            label = rf"({b1:g}, {b2:g}), boundary, $\rho=0$"
        else:
            label = rf"({b1:g}, {b2:g}), $\rho$={float(st.growth_rate(b1, b2)):+.3f}"
        right.loglog(n, st.bound_n(b1, b2, n), color=color, lw=1, label=label)
    right.loglog(n, 0.23 * np.sqrt(n), "k:", lw=0.8, label=r"$\propto\sqrt{n}$")
    right.set_ylim(0.8, 1e4)
    right.set_xlabel("step $n$")
    right.set_ylabel(r"$B_n(\gamma,\beta)$")
    right.set_title(r"(c) finite-$n$ bound $B_n$")
    right.legend(frameon=False, fontsize=5.5, loc="upper left")
    fig.tight_layout()
    return fig


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    style.save(draw(check_int("grid", args.grid, low=2)), args.out)


if __name__ == "__main__":
    main()
