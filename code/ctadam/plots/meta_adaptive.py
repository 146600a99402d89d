r"""Figure ``meta_adaptive``: LayerNorm as a hidden second level of adaptive normalization.

(a) per-step angle of ``w/|w|`` for a LayerNorm group under AdamW (lambda > 0) and Adam
(lambda = 0), beside the pooled level-2 normalization of the same update stream (corrected and
naive constants; \cref{eq:meta-adaptive} and \cref{eq:meta-adaptive-sum}); (b) cosine between
the move of ``w/|w|`` and k-Adam's per-coordinate level-2 update of the same stream; (c)
training loss and (d) effective step ``eta |u| / |w|`` of the first layer for Adam(W) +
LayerNorm, 2-Adam without normalization and Adam(W) without it.

Drawn from the family summary alone (:mod:`ctadam.experiments.meta_adaptive.summary`, rule
``meta_adaptive_figure``). Paper letters: gamma is the first-moment decay (torch beta1).

``python -m ctadam.plots.meta_adaptive --summary data/meta_adaptive/summary.json --out f.pdf``
"""


import numpy as np

from ctadam.plots import style

COLORS = {"adam_ln": "tab:blue", "kadam2_none": "tab:red", "adam_none": "tab:gray"}


def _smooth(steps, x, width: int = 5):
    """Trailing moving average over ``width`` points (no edge artefacts): (steps, values)."""
    steps, x = np.asarray(steps), np.asarray(x, float)
    if x.size < width:
        return steps, x
    return steps[width - 1:], np.convolve(x, np.ones(width) / width, mode="valid")


def plot(summary: dict, out: str) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    style.apply()
    fig, axes = plt.subplots(1, 4, figsize=(style.FULL_WIDTH, 2.0))
    for run, color in zip(summary["stream"], ("tab:blue", "tab:green"), strict=False):
        steps = run["step"]
        label = fr"$\lambda$={run['weight_decay']:g}"
        axes[0].plot(*_smooth(steps, run["angle"]), color=color, lw=1.0,
                     label=f"measured, {label}")
        axes[0].plot(*_smooth(steps, run["predicted_corrected"]), color="k", ls="--", lw=0.8)
        axes[0].plot(*_smooth(steps, run["predicted_naive"]), color="k", ls=":", lw=0.8)
        axes[1].plot(steps, run["cos_level2"], color=color, lw=0.8, label=label)
    axes[0].plot([], [], "k--", lw=0.8, label="level 2, corrected")
    axes[0].plot([], [], "k:", lw=0.8, label="level 2, naive")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step $n$")
    axes[0].set_ylabel(r"angle($w_{n-1}, w_n$) (rad)")
    axes[0].set_title(fr"(a) step of $w/|w|$, $\gamma$={summary['stream'][0]['beta1']:g}")
    axes[0].legend(frameon=False, fontsize=5.5, loc="lower left")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("step $n$")
    axes[1].set_ylabel(r"cos(move of $w/|w|$, level-2 $u_2$)")
    axes[1].set_title("(b) per-coordinate level 2")
    axes[1].legend(frameon=False, fontsize=6)
    for t in summary["train"]:
        acc = t["test_acc"]
        label = t["label"] + ("" if acc is None else f" ({100 * acc:.0f}%)")
        color = COLORS.get(t["variant"], "k")
        axes[2].plot(*_smooth(t["step"], t["loss"], 9), color=color, lw=1.0, label=label)
        axes[3].plot(*_smooth(t["step"], t["effective_step"], 9), color=color, lw=1.0)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("step $n$")
    axes[2].set_ylabel("training loss (minibatch)")
    axes[2].set_title("(c) training (test accuracy)")
    fig.legend(*axes[2].get_legend_handles_labels(), loc="lower center", ncol=3,
               frameon=False, bbox_to_anchor=(0.75, -0.08))
    for ax in axes:
        ax.yaxis.set_minor_formatter(NullFormatter())
    axes[3].set_yscale("log")
    axes[3].set_xlabel("step $n$")
    axes[3].set_ylabel(r"$\eta|u_n| / |\theta_n|$, first layer")
    axes[3].set_title("(d) effective step")
    fig.tight_layout()
    style.save(fig, out)


def main(argv=None) -> None:
    style.summary_main(__doc__, plot, argv)


if __name__ == "__main__":
    main()
