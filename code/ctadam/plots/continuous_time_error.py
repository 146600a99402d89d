r"""Figure ``continuous_time_error``: relative trajectory error of the continuous-time models
against full-batch Adam and AdamW on the character transformer, over the whole run.

One panel per optimizer: eps(t) (\cref{eq:ct-traj-error}) against time in units of the second-moment
time scale, for every learning rate (colour) and model (line style); the largest learning
rate is drawn again for every exponent p of the time step h = eta^p (markers).

Drawn by rule ``continuous_time_figure`` from the ``transformer`` part of the family's summary::

    python -m ctadam.plots.continuous_time_error --summary S.json \
        --out figures/continuous_time_error.pdf
"""

import numpy as np

from ctadam.plots import style

ETA_COLORS = ("#0072B2", "#009E73", "#D55E00", "#CC79A7", "#E69F00")
MODEL_LINE = {"first": "-", "second": "--"}
P_MARKERS = ("o", "^", "v", "D")


def draw(summary: dict):
    style.apply()
    import matplotlib.pyplot as plt

    opts = list(summary["optimizers"])
    fig, axes = plt.subplots(1, len(opts), figsize=(style.FULL_WIDTH, 2.6), squeeze=False,
                             sharey=True)
    for ax, opt in zip(axes[0], opts, strict=True):
        s = summary["optimizers"][opt]
        colors = dict(zip(s["etas"], ETA_COLORS, strict=False))
        extra = [p for p in s["p_values"] if p != 1.0]
        for c in s["curves"]:
            x, eps = np.asarray(c["x"]), np.asarray(c["eps"])
            if c["p"] == 1.0:
                ax.loglog(x, eps, MODEL_LINE[c["model"]], color=colors[c["eta"]], lw=1,
                          label=rf"$\eta$={c['eta']:g}, {c['model']}-order")
            else:
                every = max(1, len(x) // 8)
                ax.loglog(x[::every], eps[::every], P_MARKERS[extra.index(c["p"]) % 4],
                          ms=3, mfc="none", color=colors[c["eta"]],
                          label=rf"$\eta$={c['eta']:g}, {c['model']}-order, $p$={c['p']:g}")
        ax.set_xlabel(r"time $n(1-\beta)$ (second-moment time scales)")
        ax.set_title("Adam" if opt == "adam" else rf"AdamW ($\lambda$={s['weight_decay']:g})")
        ax.legend(frameon=False, fontsize=5.5)
    axes[0, 0].set_ylabel(r"relative trajectory error $\epsilon(t)$")
    fig.suptitle(rf"Continuous-time models vs discrete optimizer ($\gamma$={summary['beta1']:g},"
                 rf" $\beta$={summary['beta2']:g}, rates $(1-x)/x$ per step)", fontsize=8)
    fig.tight_layout()
    return fig


def plot(summary: dict, out: str) -> None:
    """Draw the figure of ``summary`` and save it as ``out`` (PDF) and a PNG beside it."""
    style.save(draw(summary), out)


def main(argv=None) -> None:
    style.summary_main(__doc__, lambda summary, out: plot(summary["transformer"], out), argv)


if __name__ == "__main__":
    main()
