r"""Figure ``normalization``: AdamW norm dynamics of LayerNorm groups against both predictions.

Drawn from the family summary alone (:mod:`ctadam.experiments.normalization.summary`, rule
``normalization_figure``): (a) :math:`|w_n|` over steps at the median :math:`\eta\lambda` of
the grid for each first-moment decay, with the naive and corrected closed recursions
(\cref{eq:norm-recursion} with \cref{eq:wu-correction}) driven by the measured
:math:`|u_n|^2`; (b)-(d) tail-averaged norm, angular step and :math:`\cos(w, u)` of every run
against the naive and the momentum-corrected equilibrium predictions
(\cref{eq:norm-equilibrium,eq:angular-step}). Paper letters: gamma is
the first-moment decay (torch beta1).

``python -m ctadam.plots.normalization --summary data/normalization/summary.json
--out figures/normalization.pdf``
"""

import math

from ctadam.plots import style

COLORS = ("tab:blue", "tab:orange", "tab:red", "tab:purple", "tab:green")


def plot(summary: dict, out: str) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    style.apply()
    fig, axes = plt.subplots(1, 4, figsize=(style.FULL_WIDTH, 2.0))
    color = {b["beta1"]: c for b, c in zip(summary["per_beta1"], COLORS, strict=False)}
    ax = axes[0]
    for t in summary["trajectories"]:
        c = color.get(t["beta1"], "k")
        ax.plot(t["step"], t["measured"], color=c, lw=1.2, label=fr"$\gamma$={t['beta1']:g}")
        ax.plot(t["step"], t["corrected"], color=c, ls="--", lw=0.9)
        ax.plot(t["step"], t["naive"], color=c, ls=":", lw=0.9)
    ax.plot([], [], "k--", lw=0.9, label="corrected")
    ax.plot([], [], "k:", lw=0.9, label="naive")
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("step $n$")
    ax.set_ylabel(r"$|w_n|$")
    if summary["trajectories"]:
        t = summary["trajectories"][-1]
        ax.set_title(fr"(a) $\eta$={t['lr']:g}, $\lambda$={t['weight_decay']:g}")
    ax.legend(frameon=False, fontsize=5.5, loc="best", title=r"$\gamma$ (= torch $\beta_1$)",
              title_fontsize=5.5)
    for ax, q, label, log in ((axes[1], "norm", r"equilibrium $|w|$", True),
                              (axes[2], "angle", "angular step (rad)", True),
                              (axes[3], "cos", r"$\cos(w, u)$", False)):
        lo, hi = math.inf, -math.inf
        for r in summary["rows"]:
            m = r[f"{q}_measured"]
            for pred, marker in (("corrected", "o"), ("naive", "x")):
                if q == "cos" and pred == "naive":
                    continue  # the naive picture predicts cos = 0
                p = r[f"{q}_{pred}"]
                ax.scatter(p, m, marker=marker, s=10, color=color.get(r["beta1"], "k"), lw=0.8)
                lo, hi = min(lo, p, m), max(hi, p, m)
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.6)
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("predicted")
        ax.set_ylabel(f"measured {label}")
    axes[1].set_title("(b) norm")
    axes[2].set_title("(c) angular step")
    axes[3].set_title("(d) cosine (corrected)")
    axes[1].scatter([], [], marker="o", color="k", s=10, label="corrected")
    axes[1].scatter([], [], marker="x", color="k", s=10, label="naive")
    axes[1].legend(frameon=False, fontsize=6, loc="upper left")
    fig.tight_layout()
    style.save(fig, out)


def main(argv=None) -> None:
    style.summary_main(__doc__, plot, argv)


if __name__ == "__main__":
    main()
