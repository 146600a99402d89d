"""Figure ``norm_dynamics``: AdamW norm dynamics of LayerNorm groups against both predictions.

(a) ``|w_n|`` over steps at one (eta, lambda) for each beta, with the naive and corrected
closed recursions driven by the measured ``|u_n|^2`` (:func:`ctadam.theory.normdynamics.
norm_sq_trajectory`); (b)-(d) tail-averaged norm, angular step and ``cos(w, u)`` of every run
against the naive and the momentum-corrected equilibrium predictions.

``python -m ctadam.plots.norm_dynamics --records a.json b.json --out figures/norm_dynamics.pdf``
"""

import math

import numpy as np

from ctadam.plots import style
from ctadam.theory import normdynamics as nd

COLORS = ("tab:blue", "tab:orange", "tab:red", "tab:purple", "tab:green")


def _pick_run(runs: list[dict]) -> dict:
    """The run whose eta * lambda is the median of the grid (a representative setting)."""
    order = sorted(runs, key=lambda r: r["eta"] * r["lam"])
    return order[len(order) // 2]


def plot(records: list[dict], out: str) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    style.apply()
    fig, axes = plt.subplots(1, 4, figsize=(style.FULL_WIDTH, 2.0))
    records = sorted(records, key=lambda r: r["beta"])
    ax = axes[0]
    for color, rec in zip(COLORS, records, strict=False):
        run = _pick_run(rec["runs"])
        g = next(iter(run["groups"].values()))
        steps = np.arange(len(g["series"]["w_sq"])) * run["every"]
        ax.plot(steps, np.sqrt(g["series"]["w_sq"]), color=color, lw=1.2,
                label=fr"$\beta$={run['beta']:g}")
        for corrected, ls in ((True, "--"), (False, ":")):
            traj = nd.norm_sq_trajectory(g["w0_sq"], g["u_sq_all"], run["eta"], run["lam"],
                                         run["beta"], corrected)
            ax.plot(np.arange(len(traj)), np.sqrt(traj), color=color, ls=ls, lw=0.9)
    ax.plot([], [], "k--", lw=0.9, label="corrected")
    ax.plot([], [], "k:", lw=0.9, label="naive")
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("step $n$")
    ax.set_ylabel(r"$|w_n|$")
    ax.set_title(fr"(a) $\eta$={run['eta']:g}, $\lambda$={run['lam']:g}")
    ax.legend(frameon=False, fontsize=5.5, loc="best")
    for ax, q, label, log in ((axes[1], "norm", r"equilibrium $|w|$", True),
                              (axes[2], "angle", "angular step (rad)", True),
                              (axes[3], "cos", r"$\cos(w, u)$", False)):
        lo, hi = math.inf, -math.inf
        for color, rec in zip(COLORS, records, strict=False):
            for run in rec["runs"]:
                for g in run["groups"].values():
                    m = g["measured"][q]
                    for pred, marker, fill in (("corrected", "o", color), ("naive", "x", color)):
                        p = g[pred][q]
                        if q == "cos" and pred == "naive":
                            continue
                        ax.scatter(p, m, marker=marker, s=10, color=fill, lw=0.8)
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
    style.records_main(__doc__, plot, "records", argv)


if __name__ == "__main__":
    main()
