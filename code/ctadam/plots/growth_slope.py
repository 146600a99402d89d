r"""Figure ``growth_slope``: the paper's Fig. 2b where the growth happens.

Columns: the lines along the normal to :math:`C = 0` (one per :math:`\gamma_0`); rows: tasks.
x: the signed offset along the unit normal (negative: outside the paper's region, :math:`C<0`).
Curves: the exact rate :math:`\rho` (\cref{eq:growth-rate}) and the paper's :math:`|C|/2`
(\cref{eq:paper-rates}, 0 inside its region); shaded: the band, :math:`\rho < 0 < |C|/2`.
Markers (Okabe-Ito colours, distinct shapes): the controlled probe's slope (median over seeds),
the growth-phase slope (onset to peak) and the paper's protocol (slope at the last step) of
:math:`\ln\lVert u_n\rVert_\infty`. The title states what the probe follows. Drawn by rule
``stability_training_figure`` from the ``growth`` part of the family's summary::

    python -m ctadam.plots.growth_slope --summary S.json --out figures/growth_slope.pdf
"""

import math

from ctadam.plots import style

EXPERIMENT = "growth"  # the part of the stability_training summary this figure draws

# Okabe-Ito colours (colour-blind safe), each with its own marker.
MARKERS = (("probe_slope", "probe (median over seeds)", "#0072B2", "o"),
           ("phase_slope", "growth phase (onset to peak)", "#E69F00", "^"),
           ("slope", "paper's protocol (last window)", "#009E73", "s"))
TASK_NAME = {"mnist1d": "MNIST-1D MLP", "shakespeare": "Shakespeare"}


def title(summary: dict) -> str:
    """The figure's message, from the claim's numbers."""
    from ctadam.experiments.stability_training.growth import claim_numbers

    c = claim_numbers(summary)
    if c["points"] == 0:
        return "Controlled probe: no point where $|C|/2$ and $\\rho$ differ"
    follows = {"rho": "the exact rate $\\rho$", "paper": "the paper's $|C|/2$",
               "tie": "neither prediction", "none": "neither prediction"}[c["follows"]]
    return (f"Where growth happens (probe) the slope follows {follows}: "
            f"{c['rho']} of {c['points']} points nearer $\\rho$; median slope/$(|C|/2)$ = "
            f"{c['value']:.2f}")


def plot(summary: dict, out) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    style.apply()
    lines = summary["lines"]
    tasks = [t for t in TASK_NAME if t in lines[0]["tasks"]]
    fig, axes = plt.subplots(len(tasks), len(lines),
                             figsize=(style.FULL_WIDTH, 2.4 * len(tasks) + 0.4), squeeze=False)
    for j, ln in enumerate(lines):
        for i, task in enumerate(tasks):
            ax, pts = axes[i][j], ln["tasks"][task]["points"]
            x = np.array([p["offset"] for p in pts])
            band = band_span(pts)
            if band is not None:
                ax.axvspan(*band, color="0.88", lw=0, label="band $\\rho<0<|C|/2$")
            ax.plot(x, [p["rho"] for p in pts], color="black", lw=1.0, label="exact $\\rho$")
            ax.plot(x, [p["paper_rate"] for p in pts], color="#CC79A7", lw=1.0, ls="--",
                    label="paper $|C|/2$")
            ax.axhline(0.0, color="0.5", lw=0.5)
            for z, (key, label, color, marker) in enumerate(MARKERS):
                y = np.array([p[key] for p in pts], dtype=float)
                ok = np.isfinite(y)
                if ok.any():  # later markers hollow, so that the probe stays visible
                    ax.scatter(x[ok], y[ok], s=18 if z == 0 else 22, marker=marker, label=label,
                               facecolors=color if z == 0 else "none", edgecolors=color,
                               linewidths=0.8, zorder=5 - z)
            a = ln["tasks"][task]["analysis"]["probe"]
            gains = (f"probe gain vs $\\rho$ {_fmt(a['rho']['gain'])}, "
                     f"vs $|C|/2$ {_fmt(a['paper']['gain'])}")
            ax.set_title(f"{TASK_NAME[task]}, $\\gamma_0 = {ln['beta1']:g}$: {gains}", fontsize=7)
            ax.set_xlabel("offset along the normal to $C=0$ ($C<0$ to the left)")
            ax.set_ylabel("slope of $\\ln\\|u_n\\|_\\infty$ per step")
    axes[0][0].legend(loc="upper right", frameon=False, fontsize=6)
    fig.suptitle(title(summary), fontsize=8)
    fig.tight_layout()
    style.save(fig, out)


def band_span(pts: list[dict]):
    """(lo, hi) offsets of the band on a line: from where rho crosses 0 (linear interpolation
    between grid points) to the C = 0 point (offset 0); None when rho does not cross 0 at a
    negative offset on the grid (and no grid point lies in the band)."""
    pts = sorted(pts, key=lambda p: p["offset"])
    for a, b in zip(pts, pts[1:], strict=False):
        if a["rho"] > 0 >= b["rho"] and a["offset"] < 0:
            x0 = a["offset"] + (b["offset"] - a["offset"]) * a["rho"] / (a["rho"] - b["rho"])
            return (x0, 0.0) if x0 < 0 else None
    if any(p["rho"] < 0 < p["paper_rate"] for p in pts):
        return pts[0]["offset"], 0.0
    return None


def _fmt(x) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.2f}"


def main(argv=None) -> None:
    style.summary_main(__doc__, lambda summary, out: plot(summary[EXPERIMENT], out), argv)


if __name__ == "__main__":
    main()
