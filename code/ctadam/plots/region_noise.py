r"""Figure ``region_noise``: does gradient noise or weight decay move the measured boundary?

Fraction of seeds measured growing against the band fraction f (0: exact boundary, 1: the
paper's) at one gamma on MNIST-1D, one line per condition (full batch, minibatches, AdamW
weight decays). It tests whether the exact boundary (\cref{eq:region}) still holds under
gradient noise and weight decay. Drawn by rule ``stability_training_figure`` from the ``noise``
part of the family's summary::

    python -m ctadam.plots.region_noise --summary S.json --out figures/region_noise.pdf
"""


from ctadam.plots import style

EXPERIMENT = "noise"  # the part of the stability_training summary this figure draws


def label(c: dict) -> str:
    if c["weight_decay"]:
        return f"AdamW $\\lambda={c['weight_decay']:g}$"
    return "full batch" if c["batch_size"] is None else f"batch {c['batch_size']}"


def plot(summary: dict, out) -> None:
    import matplotlib.pyplot as plt

    style.apply()
    fig, ax = plt.subplots(figsize=(style.COLUMN_WIDTH, 2.4))
    for k, c in enumerate(summary["conditions"]):
        votes = c["boundary"]["votes"]
        ax.plot([v[0] for v in votes], [v[1] / v[2] + 0.015 * k for v in votes], marker="o",
                ms=3, lw=1, label=label(c))
    ax.axvline(0.0, color="k", lw=0.9)
    ax.axvline(1.0, color="k", lw=0.9, ls="--")
    ax.axvspan(0.0, 1.0, color="0.9", zorder=0)
    ax.set_xlabel(r"band fraction $f$ (0: $\beta=\gamma^2$, 1: $C=0$)")
    ax.set_ylabel("fraction of seeds growing")
    ax.set_title(f"MNIST-1D, $\\gamma={summary['beta1']:g}$, {summary['seeds']} seeds, growth "
                 f"factor {summary['growth_factor']:g} (lines offset slightly)", fontsize=7)
    ax.legend(frameon=False, fontsize=6)
    style.save(fig, out)


def main(argv=None) -> None:
    style.summary_main(__doc__, lambda summary, out: plot(summary[EXPERIMENT], out), argv)


if __name__ == "__main__":
    main()
