r"""Figure ``stability_band``: which boundary training follows.

One panel per task: each cell at (gamma, band fraction f) coloured by the fraction of its seeds
measured growing; f = 0 is the exact boundary :math:`\beta = \gamma^2`, f = 1 the paper's
:math:`\beta = \gamma/(2-\gamma)`; the band lies between. It tests which boundary holds: the
exact one (\cref{eq:region}) or the paper's (\cref{eq:paper-boundary}). Drawn by rule
``stability_training_figure`` from the ``band`` part of the family's summary::

    python -m ctadam.plots.stability_band --summary S.json --out figures/stability_band.pdf
"""


from ctadam.plots import style
from ctadam.plots.growth_slope import TASK_NAME

EXPERIMENT = "band"  # the part of the stability_training summary this figure draws


def plot(summary: dict, out) -> None:
    import matplotlib.pyplot as plt

    style.apply()
    tasks = summary["tasks"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(style.FULL_WIDTH, 2.8), squeeze=False)
    for ax, (task, t) in zip(axes[0], tasks.items(), strict=True):
        sc = None
        for b1, row in t["by_beta1"].items():
            votes = row["boundary"]["votes"]
            sc = ax.scatter([float(b1)] * len(votes), [v[0] for v in votes],
                            c=[v[1] / v[2] for v in votes], cmap="coolwarm", vmin=0, vmax=1,
                            s=60, marker="s", edgecolors="0.2", linewidths=0.4)
        ax.axhline(0.0, color="k", lw=0.9, label=r"exact $\beta=\gamma^2$ ($f=0$)")
        ax.axhline(1.0, color="k", lw=0.9, ls="--", label=r"paper $C=0$ ($f=1$)")
        ax.axhspan(0.0, 1.0, color="0.9", zorder=0, label="band")
        c = t["counts"]["band"]
        ax.set_title(f"{TASK_NAME[task]}: band {c['bounded']} bounded, {c['growing']} growing",
                     fontsize=7)
        ax.set_xlabel(r"$\gamma$ (= torch beta1)")
        ax.legend(loc="lower right", frameon=False, fontsize=6)
    axes[0][0].set_ylabel(r"band fraction $f=(\beta-\gamma^2)/(\gamma/(2-\gamma)-\gamma^2)$")
    fig.colorbar(sc, ax=axes[0].tolist(), label="fraction of seeds growing")
    style.save(fig, out)


def main(argv=None) -> None:
    style.summary_main(__doc__, lambda summary, out: plot(summary[EXPERIMENT], out), argv)


if __name__ == "__main__":
    main()
