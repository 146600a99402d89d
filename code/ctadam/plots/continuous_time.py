"""Figure ``continuous_time``: the ODE model against discrete Adam/AdamW.

Top row: loss along the discrete iterates (dots) and along the ODE solution (line, Euler
rates) for the smallest and largest eta, one panel per problem. Bottom row: global error at
the horizon against eta on log-log axes, for the three rate choices, with the fitted slopes.

    python -m ctadam.plots.continuous_time --records a.json b.json --out figures/continuous_time.pdf
"""


import numpy as np

from ctadam.plots import style

TITLES = {"quadratic_smooth": "quadratic, no sign change",
          "quadratic_valley": "quadratic, reaches valleys",
          "regression": "tanh regression net"}
KIND_LABEL = {"euler": r"$(1-\beta)/\eta$", "kernel": r"$-\ln\beta/\eta$",
              "matched": r"$\frac{2(1-\beta)}{(1+\beta)\eta}$"}
KIND_COLOR = {"euler": "C0", "kernel": "C3", "matched": "C1"}


def draw(records: list[dict]):
    """Build the figure from ct_error records (one column per record)."""
    style.apply()
    import matplotlib.pyplot as plt

    cols = len(records)
    fig, axes = plt.subplots(2, cols, figsize=(style.FULL_WIDTH, 4.4), squeeze=False)
    for j, rec in enumerate(records):
        top, bottom = axes[0, j], axes[1, j]
        runs = rec["runs"]
        for run, color in ((runs[0], "k"), (runs[-1], "C2")):
            top.plot(run["times"], run["discrete_loss"], "o", ms=2.5, color=color,
                     label=rf"discrete, $\eta$={run['eta']:.1e}")
            top.plot(run["euler"]["times"], run["euler"]["loss"], "-", lw=1, color=color,
                     alpha=0.7, label="ODE")
        top.set_yscale("log")
        top.set_xlabel(r"time $t = n\eta$")
        top.set_ylabel(r"loss $L(\theta)$")
        top.set_title(f"{TITLES.get(rec['problem'], rec['problem'])} ({rec['optimizer']})")
        top.legend(frameon=False, fontsize=6, loc="lower left")
        etas = np.array([r["eta"] for r in runs])
        for i, kind in enumerate(KIND_LABEL):
            err = np.array([r[kind]["error"] for r in runs])
            coef = np.polyfit(np.log(etas), np.log(err), 1)
            bottom.loglog(etas, err, "o", color=KIND_COLOR[kind], ms=3)
            bottom.loglog(etas, np.exp(np.polyval(coef, np.log(etas))), "-",
                          color=KIND_COLOR[kind], lw=1, label=f"rates {KIND_LABEL[kind]}")
            bottom.text(0.97, 0.05 + 0.08 * (2 - i), f"slope {rec['order'][kind]:.2f}",
                        color=KIND_COLOR[kind], transform=bottom.transAxes, ha="right",
                        fontsize=6)
        for order, ls in ((1, ":"), (2, "--")):
            ref = runs[-1]["euler"]["error"] * (etas / etas[-1]) ** order
            bottom.loglog(etas, ref, ls, color="0.6", lw=0.8, label=f"order {order}")
        bottom.set_xlabel(r"learning rate $\eta$")
        bottom.set_ylabel(rf"$\|\theta_{{ODE}}(T)-\theta_N\|$, T={rec['horizon']:g}")
    handles, labels = axes[1, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, frameon=False, fontsize=6.5,
               bbox_to_anchor=(0.5, -0.04))
    fig.suptitle(rf"Continuous-time model vs discrete algorithm ($\beta$={records[0]['beta']}, "
                 rf"$\gamma$={records[0]['gamma']})", fontsize=8)
    fig.tight_layout()
    return fig


def main(argv=None) -> None:
    style.records_main(__doc__, lambda records, out: style.save(draw(records), out), "records",
                       argv)


if __name__ == "__main__":
    main()
