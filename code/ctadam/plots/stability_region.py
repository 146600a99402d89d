"""Figure ``stability_region``: B_inf over the (beta, gamma) square, and B_n against n.

Left: log-colour map of B_inf (eq:bound-inf) over beta, gamma in [0, 1) (axes stretched as
-log10(1 - x) so that the corner near 1 is visible), grey where the
update is unbounded, the boundary gamma = beta^2 and markers at common presets. Right: the
exact finite-n bound B_n (eq:bound-n) for the same presets and the boundary pair
stability.BOUNDARY_EXAMPLE: flat inside the region, sqrt(n) on the boundary, exp(rho n)
outside (rho is given only there).

    python -m ctadam.plots.stability_region --grid 400 --out figures/stability_region.pdf
"""

import argparse

import numpy as np

from ctadam.checks import check_int
from ctadam.plots import style
from ctadam.theory import stability as st

MAX_DECADES = 4.0  # the map reaches beta, gamma = 1 - 1e-4


def _decades(x):
    return -np.log10(1.0 - np.clip(x, 0.0, 1.0 - 1e-12))


def _from_decades(s):
    return 1.0 - 10.0 ** -np.asarray(s)


PRESETS = [(0.9, 0.999), (0.9, 0.95), (0.95, 0.95), (0.9, 0.99), (0.5, 0.999), (0.99, 0.9)]


def draw(grid: int):
    """Build the two-panel figure on a grid x grid map."""
    style.apply()
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    # Uniform in s = -log10(1 - x): resolves the corner near 1 where the presets live.
    axis = 1.0 - 10.0 ** -np.linspace(0.0, MAX_DECADES, grid)
    beta, gamma = np.meshgrid(axis, axis)
    b_inf = st.bound_inf(beta, gamma)
    finite = np.ma.masked_invalid(np.where(np.isfinite(b_inf), b_inf, np.nan))
    fig, (left, right) = plt.subplots(1, 2, figsize=(style.FULL_WIDTH, 3.8),
                                      gridspec_kw={"width_ratios": [1.15, 1]})
    left.set_facecolor("0.85")
    mesh = left.pcolormesh(axis, axis, finite, shading="nearest", cmap="viridis",
                           norm=LogNorm(vmin=1.0, vmax=1e2), rasterized=True)
    fig.colorbar(mesh, ax=left, label=r"$B_\infty(\beta,\gamma)$", extend="max")
    left.plot(axis, axis**2, "k-", lw=1.2, label=r"boundary $\gamma=\beta^2$")
    for (b, g), marker in zip(PRESETS, "os^vDX", strict=True):
        bound = float(st.bound_inf(b, g))
        text = f"{bound:.2f}" if np.isfinite(bound) else r"$\infty$"
        left.plot(b, g, marker, ms=4.5, mew=0.8, mec="k",
                  mfc="w" if np.isfinite(bound) else "r",
                  label=rf"$({b}, {g})$: $B_\infty$={text}")
    left.text(0.97, 0.3, "unstable\n" + r"$\beta^2>\gamma$", ha="center", fontsize=7)
    for setter in (left.set_xscale, left.set_yscale):
        setter("function", functions=(_decades, _from_decades))
    ticks = [0, 0.5, 0.9, 0.99, 0.999, 0.9999]
    left.set_xticks(ticks, [str(t) for t in ticks])
    left.set_yticks(ticks, [str(t) for t in ticks])
    left.set_xlim(0, axis[-1])
    left.set_ylim(0, axis[-1])
    left.set_xlabel(r"first-moment decay $\beta$ (axis: $-\log_{10}(1-\beta)$)")
    left.set_ylabel(r"second-moment decay $\gamma$")
    left.set_title(r"Worst-case update $B_\infty$ (grey: unbounded)")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=5.5,
                frameon=False)

    n = np.unique(np.logspace(0, 4, 200).round())
    # rho (eq:growth-rate) is the growth rate only outside the region (zero on the boundary).
    for (b, g), color in zip(PRESETS + [st.BOUNDARY_EXAMPLE], [f"C{i}" for i in range(7)],
                             strict=True):
        if st.in_stable_region(b, g):
            label = rf"({b:g}, {g:g}), bounded"
        elif b * b == g:
            label = rf"({b:g}, {g:g}), boundary, $\rho=0$"
        else:
            label = rf"({b:g}, {g:g}), $\rho$={float(st.growth_rate(b, g)):+.3f}"
        right.loglog(n, st.bound_n(b, g, n), color=color, lw=1, label=label)
    right.loglog(n, 0.23 * np.sqrt(n), "k:", lw=0.8, label=r"$\propto\sqrt{n}$")
    right.set_ylim(0.8, 1e4)
    right.set_xlabel("step $n$")
    right.set_ylabel(r"$B_n(\beta,\gamma)$")
    right.set_title(r"Finite-$n$ bound $B_n$ (growth rate $\rho$ where unbounded)")
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
