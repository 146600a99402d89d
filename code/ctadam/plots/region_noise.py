r"""Figure ``region_noise``: does gradient noise or weight decay change where training is unstable?

Left: per condition (full batch, minibatches, AdamW weight decays; MNIST-1D, one gamma) the
unstable share of the decidable runs at each point of the line, with its Wilson 95 % interval,
under the one rule of :mod:`ctadam.instability`; the points are ordered by beta: outside the
exact region at equal exact rate :math:`\rho` (\cref{eq:growth-rate}), then the band
(shaded) between :math:`\beta = \gamma^2` (\cref{eq:region}) and :math:`C = 0`
(\cref{eq:paper-boundary}), then inside both. Right: the peaks
:math:`\max_n\lVert u_n\rVert_\infty` with the threshold :math:`K`. Drawn by rule
``stability_training_figure`` from the ``noise`` part of the family's summary::

    python -m ctadam.plots.region_noise --summary S.json --out figures/region_noise.pdf
"""

import math

from ctadam.plots import style

EXPERIMENT = "noise"  # the part of the stability_training summary this figure draws


def label(c: dict) -> str:
    if c["weight_decay"]:
        return f"AdamW $\\lambda={c['weight_decay']:g}$"
    return "full batch" if c["batch_size"] is None else f"batch {c['batch_size']}"


def tick(p: dict) -> str:
    return f"$\\rho={p['value']:g}$" if p["kind"] == "rho" else f"$f={p['value']:g}$"


def plot(summary: dict, out) -> None:
    import matplotlib.pyplot as plt

    style.apply()
    pts = summary["points"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(style.FULL_WIDTH, 2.6))
    conds = summary["conditions"]
    for k, c in enumerate(conds):
        shift = 0.5 * (k - (len(conds) - 1) / 2) / len(conds)
        xs, ys, lo, hi = [], [], [], []
        for i, p in enumerate(c["points"]):
            u = p["unstable"]
            if u["n"]:
                xs.append(i + shift)
                ys.append(u["fraction"])
                lo.append(u["fraction"] - u["low"])
                hi.append(u["high"] - u["fraction"])
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", ms=3, lw=0.8, capsize=1.5,
                    label=label(c))
        px = [i + shift for i, p in enumerate(c["points"]) for _ in p["peaks"]]
        py = [v if math.isfinite(v) else 1e12 for p in c["points"] for v in p["peaks"]]
        bx.scatter(px, py, s=6, label=label(c))
    bands = [i for i, p in enumerate(pts) if p["zone"] == "band"]
    for a in (ax, bx):
        if bands:
            a.axvspan(bands[0] - 0.5, bands[-1] + 0.5, color="0.9", zorder=0)
        a.set_xticks(range(len(pts)), [tick(p) for p in pts], rotation=45, fontsize=6)
    bx.axhline(summary["K"], color="k", lw=0.9, ls="--", label=f"$K={summary['K']:g}$")
    bx.set_yscale("log")
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("unstable share (Wilson 95 %)")
    bx.set_ylabel(r"peak $\max_n \| u_n \|_\infty$")
    ax.set_title(f"MNIST-1D, $\\gamma={summary['beta1']:g}$, {summary['seeds']} seeds, "
                 f"$K={summary['K']:g}$", fontsize=7)
    ax.legend(frameon=False, fontsize=6)
    style.save(fig, out)


def main(argv=None) -> None:
    style.summary_main(__doc__, lambda summary, out: plot(summary[EXPERIMENT], out), argv)


if __name__ == "__main__":
    main()
