r"""Figure ``bench``: step time of KAdam and torch's Adam against size, and the cost of k levels.

The step timed is k-Adam's (\cref{eq:kadam-ema,eq:kadam-u,eq:kadam-step}); it moves (3 + 4k)
tensors of N floats, so the cost of k levels over k = 1 is at best (3 + 4k)/7. Left: median time
of one step (float32, one thread) against the number of parameters N, log-log, with quartile
bars. Right: at the largest N, the step time with k levels over the k = 1 time of the same
path, next to the memory-traffic ratio (3 + 4k)/7 and the target bound 1.2 (3 + 4k)/7.
Drawn from the summary alone (:mod:`ctadam.experiments.bench`, rule
``bench_figure``).

    python -m ctadam.plots.bench --summary data/bench/summary.json --out figures/bench.pdf
"""

import argparse

import matplotlib.pyplot as plt
import numpy as np

from ctadam.bench.optimizer import TARGET_LEVEL_SLACK, size_tex, traffic_ratio
from ctadam.io import read_json
from ctadam.plots import style

STYLE = {  # name prefix -> (colour, marker, line style)
    "torch-foreach": ("0.35", "s", "--"), "torch-single": ("0.6", "v", "--"),
    "torch-fused": ("0.0", "D", "--"),
    "kadam-foreach": ("tab:blue", "o", "-"), "kadam-single": ("tab:green", "^", "-"),
    "kadam-compile": ("tab:red", "*", "-"),
}
LABEL = {"torch-foreach": "Adam foreach", "torch-single": "Adam single-tensor",
         "torch-fused": "Adam fused", "kadam-foreach": "KAdam foreach",
         "kadam-single": "KAdam single-tensor", "kadam-compile": "KAdam compiled"}


def plot(summary: dict):
    """Build the two-panel figure from the benchmark's summary; return the figure."""
    style.apply()
    fig, (left, right) = plt.subplots(1, 2, figsize=(style.FULL_WIDTH, 2.8))
    sizes = np.array(summary["sizes"], dtype=float)
    top = 0.0
    for name in summary["names"]:
        prefix = name.rsplit("-k", 1)[0]
        k = int(name.rsplit("-k", 1)[1]) if name.startswith("kadam") else 1
        if k != 1 and name.startswith("kadam"):
            continue  # the left panel compares k = 1 with Adam; k > 1 is on the right
        colour, marker, line = STYLE[prefix]
        ms = summary["ms"][name]
        med = np.array(ms["median"])
        err = np.array([med - np.array(ms["q1"]), np.array(ms["q3"]) - med])
        label = LABEL[prefix] + (", $k = 1$" if name.startswith("kadam") else "")
        left.errorbar(sizes, med, yerr=err, color=colour, marker=marker, ls=line, ms=4,
                      capsize=2, label=label)
        top = max(top, med.max())
    left.set(xscale="log", yscale="log", xlabel="parameters $N$", ylabel="step time (ms)",
             title=f"one step, float32, {summary['threads']} thread")
    left.set_ylim(top=top * 40)  # room for the legend above the curves
    left.legend(frameon=False, loc="upper left", ncol=2, fontsize=6)

    r = summary["ratios"]
    ks = np.array(summary["ks"])
    fine = np.linspace(ks.min(), ks.max(), 50)
    right.plot(fine, traffic_ratio(fine), color="0.5", ls=":", label=r"$(3+4k)/7$ (traffic)")
    right.plot(fine, TARGET_LEVEL_SLACK * traffic_ratio(fine), color="0.2", ls="--",
               label=rf"${TARGET_LEVEL_SLACK}\,(3+4k)/7$ (target)")
    for kind, costs in r["level_cost"].items():
        colour, marker, _ = STYLE[f"kadam-{kind}"]
        right.plot(ks, [costs[str(k)] for k in ks], color=colour, marker=marker,
                   label=LABEL[f"kadam-{kind}"] + (" (default)" if kind == "foreach" else ""))
    right.set(xlabel="levels $k$", ylabel=r"$t_k / t_1$", xticks=ks,
              title=f"cost of $k$ levels at $N = {size_tex(r['size'])}$")
    right.legend(frameon=False)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ctadam.plots.bench",
                                     description="Figure of the optimizer speed benchmark.")
    parser.add_argument("--summary", required=True, help="JSON from ctadam.experiments.bench")
    parser.add_argument("--out", required=True, help="PDF path (a PNG is written next to it)")
    args = parser.parse_args(argv)
    style.save(plot(read_json(args.summary)), args.out)


if __name__ == "__main__":
    main()
