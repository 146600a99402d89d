r"""Figure ``generalization_speed``: the paper's Sec. 3.3, steps to held-out loss targets against C.

Shakespeare transformer inside the region, two panels: the gamma line (:math:`\gamma` varied at
fixed :math:`\beta`) and the beta line (:math:`\beta` varied at fixed :math:`\gamma`). Per
pre-registered target one series (colour-blind-safe Okabe-Ito colours, a distinct marker each):
the seed-mean steps to the target against :math:`C` (\cref{eq:paper-c}) with the std over seeds
as error bars; a censored run counts as the horizon + 1 (dashed line). The legend gives each
target's within-seed mean Spearman :math:`\bar r` between C and the steps. It tests the paper's
claim that a larger :math:`C` generalizes faster. Drawn by rule ``stability_training_figure``
from the ``speed`` part of the family's summary::

    python -m ctadam.plots.generalization_speed --summary S.json \
        --out figures/generalization_speed.pdf
"""

from ctadam.plots import style

EXPERIMENT = "speed"  # the part of the stability_training summary this figure draws
# Okabe-Ito colours and markers, one per target (colour-blind safe, also told apart in grey).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9")
MARKERS = ("o", "s", "^", "D", "v", "P")
TITLES = {"gamma": r"gamma line ($\beta={b2:g}$)", "beta": r"beta line ($\gamma={b1:g}$)"}


def plot(summary: dict, out) -> None:
    import matplotlib.pyplot as plt

    style.apply()
    fig, axes = plt.subplots(1, 2, figsize=(style.COLUMN_WIDTH, 2.5), sharey=True)
    horizon = summary["steps"] + 1
    for ax, line in zip(axes, ("gamma", "beta"), strict=True):
        cells = [c for c in summary["cells"] if c["line"] == line]
        for i, c in enumerate(cells):
            pc = c["per_c"]
            ax.errorbar([p["c"] for p in pc], [p["mean"] for p in pc],
                        yerr=[p["std"] for p in pc], color=COLOURS[i % len(COLOURS)],
                        marker=MARKERS[i % len(MARKERS)], ms=3, lw=0.9, capsize=1.5,
                        label=f"{c['target']:g} nats, $\\bar r={c['mean_rho']:.2f}$")
        if any(c["censored"] for c in cells):
            ax.axhline(horizon, color="0.4", ls="--", lw=0.7)
        ax.set_title(TITLES[line].format(b1=summary["beta1"], b2=summary["beta2"]),
                     fontsize=7)
        ax.set_xlabel("$C$")
        ax.legend(frameon=False, fontsize=5)
    axes[0].set_ylabel(f"steps to target (mean $\\pm$ std, {summary['seeds']} seeds)")
    style.save(fig, out)


def main(argv=None) -> None:
    style.summary_main(__doc__, lambda summary, out: plot(summary[EXPERIMENT], out), argv)


if __name__ == "__main__":
    main()
