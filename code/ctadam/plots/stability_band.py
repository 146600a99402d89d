r"""Figure ``stability_band``: which boundary training follows, under the one instability rule.

One panel per task: the peak :math:`\max_n\lVert u_n\rVert_\infty` of every run against its
point on the line at each :math:`\gamma`: outside the exact region at equal exact rate
:math:`\rho` (\cref{eq:growth-rate}), in the band between :math:`\beta = \gamma^2`
(\cref{eq:region}) and the paper's :math:`C = 0` (\cref{eq:paper-boundary}), and inside both;
the horizontal line is the rule's threshold :math:`K` (:mod:`ctadam.instability`). Filled
markers are runs that count (decidable), hollow ones undecidable runs (reported, never counted
as bounded). Inside the exact region the theorem bounds every peak by :math:`B_\infty`
(\cref{eq:bound-inf}); the test is whether the runs outside rise past :math:`K`. Drawn by rule
``stability_training_figure`` from the ``band`` part of the family's summary::

    python -m ctadam.plots.stability_band --summary S.json --out figures/stability_band.pdf
"""

import math

from ctadam.plots import style
from ctadam.plots.growth_slope import TASK_NAME

EXPERIMENT = "band"  # the part of the stability_training summary this figure draws
DIVERGED = 1e12  # where a run with a non-finite peak (diverged) is drawn


def point_labels(summary: dict) -> list[str]:
    """The points in the order of the line (beta increasing): the outside rhos (largest
    first), the band fractions, the inside fractions."""
    return ([f"r{r:g}" for r in sorted(summary["rhos"], reverse=True)]
            + [f"f{f:g}" for f in summary["band_fractions"]]
            + [f"f{f:g}" for f in summary["inside_fractions"]])


def tick(label: str) -> str:
    return f"$\\rho={label[1:]}$" if label[0] == "r" else f"$f={label[1:]}$"


def plot(summary: dict, out) -> None:
    import matplotlib.pyplot as plt

    style.apply()
    labels = point_labels(summary)
    where = {lab: i for i, lab in enumerate(labels)}
    tasks = summary["tasks"]
    b1s = summary["beta1s"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(style.FULL_WIDTH, 2.8), squeeze=False,
                             sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (task, t) in zip(axes[0], tasks.items(), strict=True):
        for j, b1 in enumerate(b1s):
            colour = colours[j % len(colours)]
            shift = 0.6 * (j - (len(b1s) - 1) / 2) / max(len(b1s), 1)
            label = f"$\\gamma={b1:g}$"
            for cell in t["cells"]:
                if abs(cell["beta1"] - b1) > 1e-12:
                    continue
                for k, (peak, counts) in enumerate(zip(cell["peaks"], cell["counts"],
                                                       strict=True)):
                    x = where[cell["point"]] + shift + 0.02 * (k - len(cell["peaks"]) / 2)
                    ax.scatter([x], [peak if math.isfinite(peak) else DIVERGED], s=9,
                               linewidths=0.6, facecolors=colour if counts else "none",
                               edgecolors=colour, label=label)
                    label = None
        ax.axhline(summary["K"], color="k", lw=0.9, ls="--", label=f"$K={summary['K']:g}$")
        n_out = len(summary["rhos"])
        ax.axvspan(n_out - 0.5, n_out + len(summary["band_fractions"]) - 0.5, color="0.9",
                   zorder=0)
        ax.set_yscale("log")
        ax.set_xticks(range(len(labels)), [tick(lab) for lab in labels], rotation=45,
                      fontsize=6)
        z = t["zones"]
        out_k = sum(z[k]["k"] for k in summary["zone_keys"] if k.startswith("outside_"))
        out_n = sum(z[k]["n"] for k in summary["zone_keys"] if k.startswith("outside_"))
        ax.set_title(f"{TASK_NAME[task]}\nunstable/decidable: outside {out_k}/{out_n}, band "
                     f"{z['band']['k']}/{z['band']['n']}, inside "
                     f"{z['inside']['k']}/{z['inside']['n']}", fontsize=7)
        ax.legend(loc="upper right", frameon=False, fontsize=6)
    axes[0][0].set_ylabel(r"peak $\max_n \| u_n \|_\infty$ (hollow: undecidable)")
    style.save(fig, out)


def main(argv=None) -> None:
    style.summary_main(__doc__, lambda summary, out: plot(summary[EXPERIMENT], out), argv)


if __name__ == "__main__":
    main()
