r"""Figure ``growth_slope``: the paper's Fig. 2b, measured slope against both predictions.

Rows: tasks. Columns: the measured slope of :math:`\ln\lVert u_n\rVert_\infty` (window ending
at the last step) against the paper's :math:`|C|/2` and against the exact :math:`\max(\rho,
0)`, with the line slope = prediction; colours mark where each point lies (outside both
regions, in the band, inside both); hollow grey circles are the diagnostic max slope (largest
over any window of the run). It tests the paper's growth rate :math:`|C|/2`
(\cref{eq:paper-rates}) against the exact :math:`\max(\rho, 0)` (\cref{eq:growth-rate}). Drawn
by rule ``stability_training_figure`` from the ``growth`` part of the family's summary::

    python -m ctadam.plots.growth_slope --summary S.json --out figures/growth_slope.pdf
"""


from ctadam.plots import style

EXPERIMENT = "growth"  # the part of the stability_training summary this figure draws

ZONE_STYLE = {"outside both": ("tab:red", "o"), "band": ("tab:orange", "s"),
              "inside both": ("tab:blue", "^")}
TASK_NAME = {"mnist1d": "MNIST-1D MLP", "shakespeare": "Shakespeare"}


def zone(p: dict) -> str:
    """Which region a point lies in: outside both, the band, or inside both."""
    if p["band"]:
        return "band"
    return "inside both" if p["inside"] else "outside both"


def plot(summary: dict, out) -> None:
    import matplotlib.pyplot as plt

    style.apply()
    tasks = summary["tasks"]
    fig, axes = plt.subplots(len(tasks), 2, figsize=(style.FULL_WIDTH, 2.6 * len(tasks)),
                             squeeze=False)
    cols = (("paper_rate", "paper", r"paper's prediction $|C|/2$ (per step)"),
            ("exact_rate", "exact", r"exact prediction $\max(\rho,0)$ (per step)"))
    for row, (task, t) in zip(axes, tasks.items(), strict=True):
        for ax, (key, pred, label) in zip(row, cols, strict=True):
            pts = t["points"]
            ax.scatter([p[key] for p in pts], [p["max_slope"] for p in pts], s=14,
                       facecolors="none", edgecolors="0.6", lw=0.6, label="max slope (any window)")
            for name, (color, marker) in ZONE_STYLE.items():
                sel = [p for p in pts if zone(p) == name]
                ax.scatter([p[key] for p in sel], [p["slope"] for p in sel], s=10, c=color,
                           marker=marker, label=name)
            top = max(max(p[key] for p in pts), 1e-3)
            ax.plot([0, top], [0, top], color="0.3", lw=0.8, ls="--", label="slope = prediction")
            a = t["agreement"]["end"][pred]
            ax.set_title(f"{TASK_NAME[task]}: gain {a['gain']:.2f}, median ratio "
                         f"{a['ratio_median']:.2f}", fontsize=7)
            ax.set_xlabel(label)
            ax.set_ylabel(r"measured slope of $\ln\|u_n\|_\infty$")
    axes[0][0].legend(loc="upper left", frameon=False)
    fig.suptitle(f"{len(tasks[next(iter(tasks))]['points'])} points on the normal to $C=0$ "
                 f"through $\\gamma={summary['beta1']:g}$; window: last {summary['window']} "
                 f"steps of {summary['steps']}", fontsize=8)
    fig.tight_layout()
    style.save(fig, out)


def main(argv=None) -> None:
    style.summary_main(__doc__, lambda summary, out: plot(summary[EXPERIMENT], out), argv)


if __name__ == "__main__":
    main()
