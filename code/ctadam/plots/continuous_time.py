r"""Figure ``continuous_time``: the two continuous-time models against discrete Adam/AdamW.

Top row: loss along the discrete iterates (dots) and along the first-order model (line, the
paper's rates (1-x)/x) for the smallest and largest eta, one panel per problem. Bottom row:
global error at the horizon against eta on log-log axes, for every rate choice (colour and
marker, colour-blind-safe) and model (solid: first order, dashed: second order), with the
local slopes k_i = d ln E / d ln eta (eq:ct-local-slope) of the paper's rates written along
both models' curves and the asymptotic order k_0 (smallest pair) of every curve in the
upper left (f: first, s: second model; a dagger where the solver-tolerance check fails). It
tests the models of \cref{eq:ct-models} by their global error (\cref{eq:ct-global-error}).
Drawn by rule ``continuous_time_figure`` from the ``quadratics`` and ``orders`` parts of the
family's summary::

    python -m ctadam.plots.continuous_time --summary S.json --out figures/continuous_time.pdf
"""


import numpy as np

from ctadam.plots import style

TITLES = {"quadratic_smooth": "quadratic, no sign change",
          "quadratic_valley": "quadratic, reaches valleys"}
KIND_LABEL = {"backward": r"$(1-x)/x$", "euler": r"$1-x$", "kernel": r"$-\ln x$",
              "matched": r"$2(1-x)/(1+x)$"}
KIND_COLOR = {"backward": "#0072B2", "euler": "#009E73", "kernel": "#D55E00",
              "matched": "#CC79A7"}
KIND_MARKER = {"backward": "o", "euler": "s", "kernel": "^", "matched": "D"}
MODEL_LINE = {"first": "-", "second": "--"}


def draw(records: list[dict], orders: dict):
    """Build the figure from the quadratic records (one column per record) and the ``orders``
    part of the summary (local slopes and asymptotic orders, same order of problems)."""
    style.apply()
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    cols = len(records)
    fig, axes = plt.subplots(2, cols, figsize=(style.FULL_WIDTH, 4.4), squeeze=False)
    for j, rec in enumerate(records):
        top, bottom = axes[0, j], axes[1, j]
        runs = rec["runs"]
        for run, color in ((runs[0], "k"), (runs[-1], "C2")):
            top.plot(run["times"], run["discrete_loss"], "o", ms=2.5, color=color,
                     label=rf"discrete, $\eta$={run['eta']:.1e}")
            first = run["first"]["backward"]
            top.plot(first["times"], first["loss"], "-", lw=1, color=color, alpha=0.7,
                     label="first-order model")
        top.set_yscale("log")
        top.set_xlabel(r"time $t = n\eta$ ($p = 1$)")
        top.set_ylabel(r"loss $L(\theta)$")
        top.set_title(f"{TITLES.get(rec['problem'], rec['problem'])} ({rec['optimizer']})")
        top.legend(frameon=False, fontsize=6, loc="lower left")
        etas = np.array([r["eta"] for r in runs])
        asym = orders["problems"][j]["models"]
        for model, ls in MODEL_LINE.items():
            for i, kind in enumerate(KIND_LABEL):
                err = np.array([r[model][kind]["error"] for r in runs])
                bottom.loglog(etas, err, ls, marker=KIND_MARKER[kind], ms=2.5, lw=0.9,
                              color=KIND_COLOR[kind], mfc="none" if model == "second" else None,
                              label=f"{model}-order, rates {KIND_LABEL[kind]}")
                cell = asym[model][kind]
                mark = "" if cell["rtol_pass"] else r"$^\dagger$"
                bottom.text(0.03 if model == "first" else 0.26, 0.96 - 0.065 * i,
                            rf"{model[0]}: $k_0$={cell['order']:.2f}{mark}",
                            color=KIND_COLOR[kind], transform=bottom.transAxes, ha="left",
                            va="top", fontsize=5)
                if kind == "backward":
                    order = np.argsort(etas)
                    e_sorted, err_sorted = etas[order], err[order]
                    mids = np.sqrt(e_sorted[1:] * e_sorted[:-1])
                    mid_err = np.sqrt(err_sorted[1:] * err_sorted[:-1])
                    shift = 1.6 if model == "first" else 1 / 1.6
                    for x, y, k in zip(mids, mid_err, asym[model][kind]["slopes"], strict=True):
                        bottom.text(x, y * shift, f"{k:.2f}", fontsize=4.5, ha="center",
                                    color=KIND_COLOR[kind])
        for order, ls in ((1, ":"), (2, "-.")):
            ref = runs[-1]["first"]["backward"]["error"] * (etas / etas[-1]) ** order
            bottom.loglog(etas, ref, ls, color="0.6", lw=0.8, label=f"order {order}")
        bottom.xaxis.set_minor_formatter(NullFormatter())
        bottom.set_xlabel(r"learning rate $\eta$")
        bottom.set_ylabel(rf"$\|\theta_{{ODE}}(T)-\theta_N\|$, T={rec['horizon']:g}")
    handles, labels = axes[1, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, fontsize=6,
               bbox_to_anchor=(0.5, -0.09))
    fig.suptitle(rf"Continuous-time models vs discrete algorithm ($\gamma$={records[0]['beta1']}"
                 rf" = torch beta1, $\beta$={records[0]['beta2']} = torch beta2)", fontsize=8)
    fig.tight_layout()
    return fig


def main(argv=None) -> None:
    def plot(summary, out):
        return style.save(draw(summary["quadratics"], summary["orders"]), out)

    style.summary_main(__doc__, plot, argv)


if __name__ == "__main__":
    main()
