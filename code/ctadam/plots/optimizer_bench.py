"""Figure: step time of KAdam and torch's Adam against size, and the cost of k levels.

Left: median time of one step (float32, one thread) against the number of parameters N,
log-log, with quartile bars. Right: at the largest N, the step time with k levels over the
k = 1 time of the same path, next to the memory-traffic ratio (3 + 4k)/7 and the target
bound 1.2 (3 + 4k)/7.

    python -m ctadam.plots.optimizer_bench --record data/bench/optimizer.json \\
        --out figures/optimizer_bench.pdf
"""

import argparse

import matplotlib.pyplot as plt
import numpy as np

from ctadam.bench.optimizer import TARGET_LEVEL_SLACK, ratios, size_tex, traffic_ratio
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


def plot(record: dict):
    """Build the two-panel figure from a benchmark record; return the figure."""
    style.apply()
    fig, (left, right) = plt.subplots(1, 2, figsize=(style.FULL_WIDTH, 2.8))
    sizes = np.array(record["sizes"], dtype=float)
    top = 0.0
    for name in record["names"]:
        prefix = name.rsplit("-k", 1)[0]
        k = int(name.rsplit("-k", 1)[1]) if name.startswith("kadam") else 1
        if k != 1 and name.startswith("kadam"):
            continue  # the left panel compares k = 1 with Adam; k > 1 is on the right
        colour, marker, line = STYLE[prefix]
        stats = [record["results"][str(int(s))][name] for s in sizes]
        med = np.array([s["median_s"] for s in stats]) * 1e3
        err = np.array([[m - s["q1_s"] * 1e3, s["q3_s"] * 1e3 - m]
                        for m, s in zip(med, stats, strict=True)]).T
        label = LABEL[prefix] + (", $k = 1$" if name.startswith("kadam") else "")
        left.errorbar(sizes, med, yerr=err, color=colour, marker=marker, ls=line, ms=4,
                      capsize=2, label=label)
        top = max(top, med.max())
    left.set(xscale="log", yscale="log", xlabel="parameters $N$", ylabel="step time (ms)",
             title=f"one step, float32, {record['threads']} thread")
    left.set_ylim(top=top * 40)  # room for the legend above the curves
    left.legend(frameon=False, loc="upper left", ncol=2, fontsize=6)

    r = ratios(record)
    ks = np.array(record["ks"])
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
    parser = argparse.ArgumentParser(prog="python -m ctadam.plots.optimizer_bench",
                                     description="Figure of the optimizer speed benchmark.")
    parser.add_argument("--record", required=True, help="JSON from ctadam.bench.optimizer")
    parser.add_argument("--out", required=True, help="PDF path (a PNG is written next to it)")
    args = parser.parse_args(argv)
    style.save(plot(read_json(args.record)), args.out)


if __name__ == "__main__":
    main()
