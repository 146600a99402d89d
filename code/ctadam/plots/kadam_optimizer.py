r"""Figure ``kadam_optimizer``: the held-out metric of k-Adam against k, one line per strategy.

k-Adam is \cref{eq:kadam-ema,eq:kadam-u,eq:kadam-step}; strategy (iii) sets its upper levels to
the implicit level of a normalized layer, \cref{eq:meta-adaptive}. One panel per network (no
normalization, LayerNorm) of one task: mean over seeds with error bars of +- one standard
deviation, at each cell's learning rate chosen on the validation split; k = 1 is AdamW (shared
by every strategy), Lion is a dashed horizontal line with a band of +- one standard deviation.
A task outside the summary's ``verdict_tasks`` (the quick profile's CIFAR-10 subset) is titled
a pipeline check, no verdict. Reads only ``data/kadam_optimizer/summary.json`` (rule
``kadam_optimizer_figure``).

``python -m ctadam.plots.kadam_optimizer --summary data/kadam_optimizer/summary.json
--task cifar10 --out figures/kadam_optimizer.pdf``
"""

import argparse

from ctadam.experiments.kadam_optimizer.verdict import PIPELINE_CHECK
from ctadam.io import read_json
from ctadam.plots import style

# Colour-blind-safe (Okabe-Ito) colours with distinct markers.
STYLE = {"same": ("#E69F00", "o"), "nomom": ("#56B4E9", "s"), "theory": ("#009E73", "^"),
         "lastmom": ("#CC79A7", "D")}
LABEL = {"same": "(i) same $(\\gamma, \\beta)$ every level",
         "nomom": "(ii) $\\gamma_j = 0$ above level 1",
         "theory": "(iii) $\\gamma_j = 0$, pooled, $\\beta_j=(1-\\eta\\lambda)^2$",
         "lastmom": "(iv) momentum at level $k$ only"}
YLABEL = {"cifar10": "test accuracy (%)", "mnist1d": "test accuracy (%)",
          "shakespeare": "held-out loss (nats/char)"}
TITLE = {"cifar10": "CIFAR-10", "mnist1d": "MNIST-1D", "shakespeare": "Shakespeare"}
NORM_TITLE = {"none": "no normalization", "layer": "LayerNorm"}


def plot(summary: dict, task: str, out: str) -> None:
    import matplotlib.pyplot as plt

    style.apply()
    cells = [c for c in summary["cells"] if c["task"] == task]
    norms = [n for n in NORM_TITLE if any(c["norm"] == n for c in cells)]
    if not norms:
        raise ValueError(f"summary has no cell of task {task!r}")
    fig, axes = plt.subplots(1, len(norms), figsize=(style.FULL_WIDTH, 3.0), squeeze=False,
                             sharey=True)
    for ax, norm in zip(axes[0], norms, strict=True):
        mine = [c for c in cells if c["norm"] == norm]
        adamw = next(c for c in mine if c["method"] == "adamw")
        for s in summary["strategies"]:
            line = sorted((c for c in mine if c["method"] == s), key=lambda c: c["k"])
            if not line:
                continue
            line = [adamw, *line]
            colour, marker = STYLE[s]
            ax.errorbar([c["k"] for c in line], [c["mean"] for c in line],
                        yerr=[c["std"] for c in line], color=colour, marker=marker, ms=3.5,
                        lw=1.0, capsize=2, label=LABEL[s])
        lion = next((c for c in mine if c["method"] == "lion"), None)
        if lion is not None:
            ax.axhline(lion["mean"], color="0.3", ls="--", lw=0.8, label="Lion (tuned)")
            ax.axhspan(lion["mean"] - lion["std"], lion["mean"] + lion["std"], color="0.3",
                       alpha=0.12, lw=0)
        ax.set_xscale("log")
        ks = sorted({c["k"] for c in mine})
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.minorticks_off()
        ax.set_xlabel("$k$ (levels; $k=1$ is AdamW)")
        ax.set_title(f"{TITLE[task]}, {NORM_TITLE[norm]}")
    if task not in summary.get("verdict_tasks", [task]):
        fig.suptitle(f"{TITLE[task]}: {PIPELINE_CHECK}", fontsize=8)
    axes[0, 0].set_ylabel(YLABEL[task])
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False, fontsize=6)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    style.save(fig, out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", required=True)
    parser.add_argument("--task", required=True, choices=tuple(TITLE))
    parser.add_argument("--out", required=True, help="PDF path; a PNG is written beside it")
    args = parser.parse_args(argv)
    plot(read_json(args.summary), args.task, args.out)


if __name__ == "__main__":
    main()
