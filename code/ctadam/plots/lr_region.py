r"""Figure ``lr_region``: the empirical stable region on a quadratic at each learning rate.

Reads the summary of :mod:`ctadam.experiments.lr_region` only. One panel per learning rate:
log10 of the peak update max_n ||u_n||_inf (median over seeds) over the (gamma, beta) grid
(paper letters: gamma =
torch beta1 on the horizontal axis, beta = torch beta2 vertically), the exact boundary
beta = gamma^2, the paper's C = 0 and the empirical boundary of the stated criterion (top of
the unstable runs outside the exact region). Last
panel: the share of grid points outside the exact region that are empirically stable, against
the learning rate, for every threshold (over its decidable cells) and for the parameter-growth
criterion. It tests the
exact region :math:`\beta > \gamma^2` (\cref{eq:region}) against the paper's :math:`C > 0`
(\cref{eq:paper-c}) across learning rates. Drawn by rule ``lr_region_figure``::

    python -m ctadam.plots.lr_region --summary S.json --out figures/lr_region.pdf
"""

import argparse

import numpy as np

from ctadam.io import read_json
from ctadam.plots import style


def draw(summary: dict):
    style.apply()
    import matplotlib.pyplot as plt

    cfg, per_lr = summary["config"], summary["per_lr"]
    b1, b2 = np.asarray(summary["beta1"]), np.asarray(summary["beta2"])
    n_panels = len(per_lr) + 1
    ncols = 3
    nrows = -(-n_panels // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(style.FULL_WIDTH, 2.5 * nrows),
                             layout="constrained", squeeze=False)
    axes = axes.ravel()
    top = max(float(np.max(e["log10_peak_u"])) for e in per_lr)
    mesh = None
    for ax, entry in zip(axes, per_lr, strict=False):
        values = np.asarray(entry["log10_peak_u"]).T  # [beta2, beta1] for pcolormesh
        mesh = ax.pcolormesh(b1, b2, values, shading="nearest", cmap="viridis", vmin=0.0,
                             vmax=top, rasterized=True)
        ax.plot(b1, summary["exact_boundary"], "k-", lw=1.0, label=r"exact $\beta=\gamma^2$")
        ax.plot(b1, summary["paper_boundary"], "--", color="C3", lw=1.0,
                label=r"paper $C=0$")
        ax.step(b1, entry["main"]["boundary"], where="mid", color="w", lw=1.0,
                label=rf"empirical ($\max\|u\|_\infty\leq K={summary['K']:g}$)")
        ax.set(xlim=(b1[0], b1[-1]), ylim=(b2[0], b2[-1]), xlabel=r"$\gamma$ (torch $\beta_1$)",
               ylabel=r"$\beta$ (torch $\beta_2$)",
               title=rf"$\eta$ = {entry['lr']:g} ($\eta N/\|\theta_0\|_\infty$ = "
                     rf"{entry['travel']:g})")
    axes[0].legend(frameon=False, fontsize=5.5, loc="upper left")
    fig.colorbar(mesh, ax=axes[: len(per_lr)].tolist(), shrink=0.8,
                 label=r"$\log_{10}\max_n\|u_n\|_\infty$")

    ax = axes[len(per_lr)]
    lrs = [e["lr"] for e in per_lr]
    for k, sens in enumerate(per_lr[0]["sensitivity"]):
        u = sens["u_threshold"]
        share = [np.nan if e["sensitivity"][k]["stable_outside_exact"] is None
                 else 100 * e["sensitivity"][k]["stable_outside_exact"] for e in per_lr]
        ax.plot(lrs, share, "o-", ms=3, lw=1, label=rf"$\max\|u\|_\infty\leq{u:g}$")
    ax.plot(lrs, [100 * e["growth_criterion"]["stable_outside_exact"] for e in per_lr], "k^--",
            ms=3, lw=1, label=rf"growth $\leq{cfg['growth_threshold']:g}$")
    ax.set(xscale="log", ylim=(0, 102), xlabel=r"learning rate $\eta$",
           ylabel=r"stable where $\beta\leq\gamma^2$ (%)", title="criterion sensitivity")
    ax.legend(frameon=False, fontsize=5.5)
    for extra in axes[n_panels:]:
        extra.set_visible(False)
    return fig


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    style.save(draw(read_json(args.summary)), args.out)


if __name__ == "__main__":
    main()
