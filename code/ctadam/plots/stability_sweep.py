r"""Figure ``stability_sweep``: the (beta1, beta2) training sweep against the stable region.

Labels on the figure use the paper's letters (gamma = first moment = torch ``beta1``, the
grid rows; beta = second moment = torch ``beta2``, the grid columns); the summary fields and
config keys use the torch names.

(a) log10 of the max RMS update per grid cell and (b) the fitted growth exponent
:math:`r_{\max}` of the parameter norm (medians over seeds), both with the theory boundary
:math:`\beta = \gamma^2` and marks on the cells the instability rule calls unstable (the
majority of seeds; ``?``: undecidable); (c) :math:`r_{\max}` against the predicted worst-case
rate :math:`\rho`; (d) the largest update coordinate of each run inside the region against
:math:`B_\infty`; (e) the eps panel: max RMS update along one row of the grid for several eps.

It tests the exact region :math:`\gamma^2 < \beta` (\cref{eq:region}), the growth rate
:math:`\rho` outside it (\cref{eq:growth-rate}) and the bound :math:`B_\infty` inside it
(\cref{eq:bound-inf}). Drawn by rule ``stability_sweep_figure`` from the family's summary
(grid axes and eps panel included)::

    python -m ctadam.plots.stability_sweep --summary S.json --out figures/stability_sweep.pdf
"""

import math

import numpy as np
from matplotlib import colors

from ctadam.plots import style


def _cell_grid(runs: list[dict], beta1s, beta2s, key: str) -> np.ndarray:
    by_cell = {(r["beta1"], r["beta2"]): r for r in runs}
    out = np.full((len(beta1s), len(beta2s)), np.nan)
    for i, b1 in enumerate(beta1s):
        for j, b2 in enumerate(beta2s):
            value = by_cell[(b1, b2)][key]
            out[i, j] = value if value is not None else np.nan
    return out


def _boundary_in_index_space(beta1s, beta2s):
    """The boundary beta = gamma^2 (torch beta2 = beta1^2) in cell-index coordinates.

    Interpolated in log(1 - x) along both axes.
    """
    lb, lg = np.log(1 - np.asarray(beta1s)), np.log(1 - np.asarray(beta2s))
    fine = 1 - np.exp(np.linspace(lb[0], lb[-1], 400))
    y = np.interp(-np.log(1 - fine), -lb, np.arange(len(beta1s)))
    x = np.interp(-np.log(1 - fine ** 2), -lg, np.arange(len(beta2s)), left=-0.5,
                  right=len(beta2s) - 0.5)
    return x, y


def _heatmap(ax, fig, values, cells, beta1s, beta2s, label, norm=None):
    image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis", norm=norm)
    fig.colorbar(image, ax=ax, label=label, shrink=0.9)
    ax.set_xticks(range(len(beta2s)), [f"{b2:g}" for b2 in beta2s], rotation=90, fontsize=6)
    ax.set_yticks(range(len(beta1s)), [f"{b1:g}" for b1 in beta1s], fontsize=6)
    ax.set_xlabel(r"$\beta$ (second-moment decay, torch $\beta_2$)")
    ax.set_ylabel(r"$\gamma$ (first-moment decay, torch $\beta_1$)")
    x, y = _boundary_in_index_space(beta1s, beta2s)
    ax.plot(x, y, color="white", lw=1.5)
    by_cell = {(c["beta1"], c["beta2"]): c for c in cells}
    for i, b1 in enumerate(beta1s):
        for j, b2 in enumerate(beta2s):
            cell = by_cell[(b1, b2)]
            if not cell["decidable"]:
                ax.text(j, i, "?", ha="center", va="center", color="white", fontsize=6)
            elif 2 * cell["diverged_seeds"] >= cell["seeds"]:
                ax.text(j, i, "D", ha="center", va="center", color="red", fontsize=6)
            elif cell["unstable"]:
                ax.text(j, i, "x", ha="center", va="center", color="red", fontsize=7)
    ax.set_xlim(-0.5, len(beta2s) - 0.5)
    ax.set_ylim(-0.5, len(beta1s) - 0.5)


def plot(summary: dict, out) -> None:
    style.apply()
    import matplotlib.pyplot as plt

    runs, grid = summary["runs"], summary["cells"]
    beta1s, beta2s = summary["beta1s"], summary["beta2s"]
    fig = plt.figure(figsize=(style.FULL_WIDTH, 6.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.15, 1.0])
    ax_a, ax_b = top.subplots(1, 2)
    ax_c, ax_d, ax_e = bottom.subplots(1, 3)

    rms = _cell_grid(grid, beta1s, beta2s, "peak_update_rms")
    _heatmap(ax_a, fig, np.log10(rms), grid, beta1s, beta2s,
             r"$\log_{10}\max_n \|u_n\|/\sqrt{d}$")
    ax_a.set_title(rf"(a) max RMS update; x: unstable ($\|u\|_\infty>{summary['K']:g}$), "
                   "D: diverged, ?: undecidable", fontsize=7)
    rate = _cell_grid(grid, beta1s, beta2s, "growth_rate")
    pos = rate[np.isfinite(rate) & (rate > 0)]
    lognorm = colors.LogNorm(pos.min(), pos.max()) if pos.size else None
    _heatmap(ax_b, fig, np.where(rate > 0, rate, np.nan), grid, beta1s, beta2s,
             r"$r_{\max}$ (per step)", norm=lognorm)
    ax_b.set_title(r"(b) growth exponent of $\|\theta\|$; white: $\beta=\gamma^2$")

    outside = [r for r in grid if r["theory_unstable"] and math.isfinite(r["growth_rate"])
               and r["growth_rate"] > 0]
    for flag, marker, name in ((True, "o", "unstable (rule)"), (False, "s", "bounded (rule)")):
        pts = [(r["rho"], r["growth_rate"]) for r in outside if r["unstable"] == flag]
        if pts:
            ax_c.scatter(*zip(*pts, strict=True), marker=marker, s=12,
                         facecolors="C0" if flag else "none", edgecolors="C0", label=name)
    lim = [min([r["rho"] for r in outside] + [r["growth_rate"] for r in outside], default=1e-3),
           max([r["rho"] for r in outside] + [r["growth_rate"] for r in outside], default=1.0)]
    ax_c.plot(lim, lim, "k--", lw=0.8, label=r"$r_{\max}=\rho$")
    ax_c.set(xscale="log", yscale="log",
             xlabel=r"predicted rate $\rho=\ln\gamma-\frac{1}{2}\ln\beta$",
             ylabel=r"measured $r_{\max}$ (per step)", title=r"(c) outside: $r_{\max}$ vs $\rho$")
    ax_c.legend(frameon=False)

    inside = [r for r in runs if r["inside"]]
    ax_d.scatter([r["bound_inf"] for r in inside], [r["peak_update_max_abs"] for r in inside], s=10,
                 color="C0", label="runs inside (all eps)")
    b_lim = [min(r["bound_inf"] for r in inside), max(r["bound_inf"] for r in inside)]
    ax_d.plot(b_lim, b_lim, "k--", lw=0.8, label=r"$\max|u|=B_\infty$")
    ax_d.set(xscale="log", yscale="log", xlabel=r"$B_\infty(\gamma,\beta)$",
             ylabel=r"$\max_{n,i}|u_{n,i}|$",
             title=r"(d) inside: $|u_{n,i}| \leq B_n$ "
             + f"(max ratio {summary['bound']['max_ratio']:.3f})")
    ax_d.legend(frameon=False)

    panel = summary["eps_panel"]
    for k, eps in enumerate(panel["eps"]):
        pts = sorted((r["beta2"], r["peak_update_rms"]) for r in runs
                     if r["beta1"] == panel["beta1"] and r["eps"] == eps
                     and r["beta2"] in panel["beta2s"] and r["seed"] == panel["seed"])
        ax_e.plot(*zip(*pts, strict=True), marker="o", ms=3, color=f"C{k}",
                  label=rf"$\epsilon$ = {eps:.0e}")
    ax_e.axvline(panel["beta1"] ** 2, color="k", ls=":", lw=0.8, label=r"$\beta=\gamma^2$")
    ax_e.set(yscale="log", xlabel=r"$\beta$ (torch $\beta_2$)",
             ylabel=r"$\max_n \|u_n\|/\sqrt{d}$",
             title=rf"(e) $\epsilon$ masks it ($\gamma$ = {panel['beta1']:g})")
    ax_e.legend(frameon=False, loc="upper right")
    style.save(fig, out)


def main(argv=None) -> None:
    style.summary_main(__doc__, plot, argv)


if __name__ == "__main__":
    main()
