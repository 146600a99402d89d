"""Figure ``kadam_curves``: training curves of the k-Adam benchmark's final runs.

One column per task: the training loss (minibatch, smoothed) on top and the held-out metric
the table reports below, each the mean over seeds with a band of +- one standard deviation.
Colour is k (1 = Adam), solid lines have LayerNorm, dashed lines none. Every cell uses the
learning rate selected on its validation split (legend).

``python -m ctadam.plots.kadam_curves --finals a.json b.json ... --out figures/kadam_curves.pdf``
"""

import numpy as np

from ctadam.plots import style

K_COLORS = {1: "tab:gray", 2: "tab:blue", 3: "tab:red", 4: "tab:green", 5: "tab:purple"}
TITLES = {"mnist1d": "MNIST-1D", "shakespeare": "Shakespeare (chars)", "cifar10": "CIFAR-10"}
# Per task (in table order): y label, record key and scale of the metric the table reports
# (ctadam.experiments.kadam_bench.REPORT).
METRICS = {"mnist1d": ("test accuracy (%)", "test_acc", 100.0),
           "shakespeare": ("held-out loss (nats/char)", "test_loss", 1.0),
           "cifar10": ("test accuracy (%)", "test_acc", 100.0)}
TASKS = tuple(METRICS)


def _band(ax, steps, runs, color, ls, label, smooth=1):
    """Mean +- std over seeds of equally long curves (runs that diverged are skipped)."""
    runs = [np.asarray(r, float) for r in runs if len(r) == len(steps)]
    if not runs:
        return
    arr = np.vstack(runs)
    if smooth > 1 and arr.shape[1] >= smooth:
        kernel = np.ones(smooth) / smooth
        arr = np.vstack([np.convolve(r, kernel, mode="valid") for r in arr])
        steps = np.asarray(steps)[smooth - 1:]
    mean, std = arr.mean(0), arr.std(0)
    ax.plot(steps, mean, color=color, ls=ls, lw=1.0, label=label)
    ax.fill_between(steps, mean - std, mean + std, color=color, alpha=0.15, lw=0)


def plot(finals: list[dict], out: str) -> None:
    import matplotlib.pyplot as plt

    style.apply()
    tasks = [t for t in TASKS if any(f["task"] == t for f in finals)]
    fig, axes = plt.subplots(2, len(tasks), figsize=(style.FULL_WIDTH, 3.6), squeeze=False)
    for j, task in enumerate(tasks):
        ylabel, key, scale = METRICS[task]
        for f in sorted((f for f in finals if f["task"] == task),
                        key=lambda f: (f["k"], f["norm"])):
            color, ls = K_COLORS.get(f["k"], "k"), "-" if f["norm"] == "layer" else "--"
            label = f"k={f['k']}, {'LN' if f['norm'] == 'layer' else 'none'}, lr={f['lr']:g}"
            ok = [r for r in f["records"] if r["status"] == "ok"]
            if not ok:
                continue
            _band(axes[0, j], ok[0]["log"]["step"], [r["log"]["loss"] for r in ok], color, ls,
                  label, smooth=5)
            _band(axes[1, j], ok[0]["eval"]["step"],
                  [scale * np.asarray(r["eval"][key]) for r in ok], color, ls, label)
        axes[0, j].set_title(TITLES[task])
        axes[0, j].set_yscale("log")
        axes[0, j].set_ylabel("training loss")
        axes[1, j].set_ylabel(ylabel)
        axes[1, j].set_xlabel("step $n$")
        axes[0, j].legend(frameon=False, fontsize=5, ncol=2)
    fig.tight_layout()
    style.save(fig, out)


def main(argv=None) -> None:
    style.records_main(__doc__, plot, "finals", argv)


if __name__ == "__main__":
    main()
