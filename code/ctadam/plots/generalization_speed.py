r"""Figure ``generalization_speed``: the paper's Sec. 3.3, steps to a held-out loss against C.

Shakespeare transformer inside the region: each seed's steps to the held-out loss target (dots)
and the mean +- std per C (line), with Spearman's rank correlation and its bootstrap interval
in the title. It tests the paper's claim that a larger :math:`C` (\cref{eq:paper-c}) trains
faster. Drawn by rule ``stability_training_figure`` from the ``speed`` part of the family's
summary::

    python -m ctadam.plots.generalization_speed --summary S.json \
        --out figures/generalization_speed.pdf
"""


from ctadam.plots import style

EXPERIMENT = "speed"  # the part of the stability_training summary this figure draws


def plot(summary: dict, out) -> None:
    import matplotlib.pyplot as plt

    style.apply()
    fig, ax = plt.subplots(figsize=(style.COLUMN_WIDTH, 2.4))
    runs = summary["runs"]
    ax.scatter([r["c"] for r in runs], [r["steps_to_target"] for r in runs], s=8, c="0.5",
               label="one seed")
    per = summary["per_c"]
    ax.errorbar([p["c"] for p in per], [p["mean"] for p in per], yerr=[p["std"] for p in per],
                color="tab:blue", marker="o", ms=3, lw=1, capsize=2, label="mean $\\pm$ std")
    s = summary["spearman"]
    ax.set_title(f"Spearman {s['rho']:.2f} [{s['low']:.2f}, {s['high']:.2f}] (95% bootstrap); "
                 f"mean falls/rises at {summary['falls']}/{summary['rises']} of {summary['pairs']} "
                 "steps in C", fontsize=7)
    ax.set_xlabel(f"$C$ (at $\\gamma={summary['beta1']:g}$)")
    ax.set_ylabel(f"steps to held-out loss {summary['target']:.3f}")
    ax.legend(frameon=False)
    style.save(fig, out)


def main(argv=None) -> None:
    style.summary_main(__doc__, lambda summary, out: plot(summary[EXPERIMENT], out), argv)


if __name__ == "__main__":
    main()
