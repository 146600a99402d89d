r"""Figure ``continuous_time_transformer`` (the paper's Fig. 1, reproduced): 16 random
coordinates of the character transformer under full-batch Adam and AdamW, with both
continuous-time models.

One panel per coordinate: discrete iterates (markers), first-order model (solid line),
second-order model (dashed), for Adam and AdamW at the largest learning rate of the summary.
It tests the models of \cref{eq:ct-models} against the discrete updates of \cref{eq:adam}.
Drawn by rule ``continuous_time_figure`` from the ``transformer`` part of the family's summary::

    python -m ctadam.plots.continuous_time_transformer --summary S.json \
        --out figures/continuous_time_transformer.pdf
"""

import numpy as np

from ctadam.plots import style

OPT_STYLE = {"adam": ("#0072B2", "o", "Adam"), "adamw": ("#D55E00", "s", "AdamW")}
MODEL_LINE = {"first": ("-", "first-order model"), "second": ("--", "second-order model")}


def draw(summary: dict):
    style.apply()
    import matplotlib.pyplot as plt

    names = summary["pick_names"]
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(style.FULL_WIDTH, 1.25 * rows + 0.6),
                             squeeze=False)
    for opt, s in summary["optimizers"].items():
        color, marker, label = OPT_STYLE[opt]
        traj = s["traj"]
        steps = np.asarray(traj["steps"])
        disc = np.asarray(traj["discrete"])
        every = max(1, len(steps) // 25)
        for k, ax in enumerate(axes.flat[: len(names)]):
            ax.plot(steps[::every], disc[::every, k], marker, ms=2.2, color=color, mfc="none",
                    mew=0.6, label=f"{label} (discrete)")
            for model, (ls, mlabel) in MODEL_LINE.items():
                if model in traj:
                    ax.plot(steps, np.asarray(traj[model])[:, k], ls, lw=0.8, color=color,
                            label=f"{label}, {mlabel}")
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.set_visible(False)
            continue
        ax.set_title(names[k], fontsize=5.5)
        ax.tick_params(labelsize=5.5)
        if k // cols == rows - 1:
            ax.set_xlabel("step $n$", fontsize=6)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False, fontsize=6,
               bbox_to_anchor=(0.5, -0.05))
    eta = next(iter(summary["optimizers"].values()))["figure_eta"]
    fig.suptitle(rf"Full-batch Adam/AdamW on a character transformer ($\eta$={eta:g}, "
                 rf"$\gamma$={summary['beta1']:g}, $\beta$={summary['beta2']:g}; "
                 rf"paper letters: $\gamma$ = torch beta1) and the two continuous-time models",
                 fontsize=7)
    fig.tight_layout()
    return fig


def plot(summary: dict, out: str) -> None:
    """Draw the figure of ``summary`` and save it as ``out`` (PDF) and a PNG beside it."""
    style.save(draw(summary), out)


def main(argv=None) -> None:
    style.summary_main(__doc__, lambda summary, out: plot(summary["transformer"], out), argv)


if __name__ == "__main__":
    main()
