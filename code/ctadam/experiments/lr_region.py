r"""The learning-rate dependence of Adam's empirical stable region on a convex quadratic.

Every (beta1, beta2) of a grid, at every learning rate of the config, runs full-batch Adam
(bias-corrected, float64, eps tiny) on ``f(theta) = theta^T H theta / 2`` with a rotated H of
condition number ``condition``, all runs at once as arrays of shape (n_runs, dim):

    g_n = H theta_{n-1},  m_n = gamma m_{n-1} + (1-gamma) g_n,  v_n = beta v_{n-1} + (1-beta) g_n^2,
    u_n = (m_n/(1-gamma^n)) / (sqrt(v_n/(1-beta^n)) + eps),  theta_n = theta_{n-1} - lr u_n

(paper letters: gamma = beta1, beta = beta2). Each run keeps its peak update
``max_n ||u_n||_inf`` and its peak parameter growth ``max_n ||theta_n||_inf / ||theta_0||_inf``
(inf when a value leaves the float range). A run is *unstable* when its peak update exceeds
``u_threshold`` learning rates (the stated criterion); the summary repeats the classification
for every ``sensitivity_u`` threshold and for the growth criterion ``growth > growth_threshold``,
so the thresholds can change without rerunning. With eps -> 0 the update is invariant to the
scale of H and the trajectory for (lr, theta_0) is c times the one for (lr/c, theta_0/c): only
lr / ||theta_0|| and the horizon ``steps`` matter, which the record states.

    python -m ctadam.experiments.lr_region run --config C.json --out R.json
    python -m ctadam.experiments.lr_region summary --record R.json --out S.json
    python -m ctadam.experiments.lr_region numbers --summary S.json --out numbers_lrregion.tex
"""

import argparse
import time

import numpy as np

from ctadam.checks import check_int, check_real, check_unit_interval
from ctadam.io import latex_sci, read_json, write_json_atomic, write_macros
from ctadam.theory import region as rg
from ctadam.theory import stability as st

CHECK_EVERY = 50  # steps between checks for diverged (non-finite) runs
KEYS = ("lrs", "n_beta1", "n_beta2", "beta1_max", "beta2_min", "beta2_max", "steps", "dim",
        "condition", "eps", "seed", "u_threshold", "sensitivity_u", "growth_threshold")


def check_config(cfg: dict) -> dict:
    """The theory.lr_region config with every value checked (ValueError naming the key)."""
    missing = [k for k in KEYS if k not in cfg]
    extra = sorted(set(cfg) - set(KEYS))
    if missing or extra:
        raise ValueError(f"lr_region config: missing keys {missing}, unknown keys {extra}")
    out = {k: check_int(f"lr_region.{k}", cfg[k], low=2) for k in ("n_beta1", "n_beta2")}
    out["steps"] = check_int("lr_region.steps", cfg["steps"], low=1)
    out["dim"] = check_int("lr_region.dim", cfg["dim"], low=2)
    out["seed"] = check_int("lr_region.seed", cfg["seed"], low=0)
    for k in ("beta1_max", "beta2_min", "beta2_max"):
        out[k] = check_unit_interval(f"lr_region.{k}", cfg[k])
    if out["beta2_min"] >= out["beta2_max"]:
        raise ValueError("lr_region.beta2_min must be below lr_region.beta2_max, got "
                         f"{out['beta2_min']} >= {out['beta2_max']}")
    out["condition"] = check_real("lr_region.condition", cfg["condition"], 1.0, np.inf)
    out["eps"] = check_real("lr_region.eps", cfg["eps"], 0.0, 1.0)
    out["growth_threshold"] = check_real("lr_region.growth_threshold", cfg["growth_threshold"],
                                         1.0, np.inf, low_open=True)
    out["u_threshold"] = check_real("lr_region.u_threshold", cfg["u_threshold"], 1.0, np.inf,
                                    low_open=True)
    for k in ("lrs", "sensitivity_u"):
        if not isinstance(cfg[k], list) or not cfg[k]:
            raise ValueError(f"lr_region.{k} must be a non-empty list, got {cfg[k]!r}")
    out["lrs"] = sorted(check_real("lr_region.lrs[]", x, 0.0, np.inf, low_open=True)
                        for x in cfg["lrs"])
    out["sensitivity_u"] = sorted({check_real("lr_region.sensitivity_u[]", x, 1.0, np.inf,
                                              low_open=True) for x in cfg["sensitivity_u"]}
                                  | {out["u_threshold"]})
    return out


def grid(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """The beta1 axis (0 .. beta1_max) and the beta2 axis (beta2_min .. beta2_max), linear."""
    return (np.linspace(0.0, cfg["beta1_max"], cfg["n_beta1"]),
            np.linspace(cfg["beta2_min"], cfg["beta2_max"], cfg["n_beta2"]))


def problem(dim: int, condition: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """H = Q diag(1 .. condition, log-spaced) Q^T with a random rotation Q, and a unit theta_0."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    hessian = (q * np.logspace(0.0, np.log10(condition), dim)) @ q.T
    theta0 = rng.standard_normal(dim)
    return hessian, theta0 / np.abs(theta0).max()


def simulate(beta1, beta2, lr: float, hessian, theta0, steps: int, eps: float) -> dict:
    """Adam on the quadratic for every pair (beta1[i], beta2[i]) at once (module docstring).

    Returns the per-run peak update ``peak_u`` and peak growth ``growth`` (arrays of shape
    beta1.shape). A run whose theta or v leaves the float range (checked every CHECK_EVERY
    steps and at the end) has diverged: both are inf.
    """
    b1 = np.asarray(beta1, dtype=float).reshape(-1, 1)
    b2 = np.asarray(beta2, dtype=float).reshape(-1, 1)
    theta = np.tile(np.asarray(theta0, float), (b1.shape[0], 1))
    m, v, u = np.zeros_like(theta), np.zeros_like(theta), np.empty_like(theta)
    peak_u, peak_theta = np.zeros_like(theta), np.abs(theta)
    pow1, pow2 = np.ones_like(b1), np.ones_like(b2)
    c1, c2 = 1.0 - b1, 1.0 - b2
    with np.errstate(over="ignore", invalid="ignore"):
        for n in range(1, steps + 1):
            g = theta @ hessian
            m *= b1
            m += c1 * g
            g *= g
            v *= b2
            v += c2 * g
            pow1 *= b1
            pow2 *= b2
            np.divide(v, 1.0 - pow2, out=u)
            np.sqrt(u, out=u)
            u += eps
            np.divide(m, u, out=u)
            u /= 1.0 - pow1
            g = lr * u
            theta -= g
            np.abs(u, out=u)
            np.fmax(peak_u, u, out=peak_u)
            np.abs(theta, out=g)
            np.fmax(peak_theta, g, out=peak_theta)
            if n % CHECK_EVERY == 0 or n == steps:
                # diverged: theta or v (the square of g overflows first) left the float range
                bad = ~(np.isfinite(theta).all(axis=1) & np.isfinite(v).all(axis=1))
                if bad.any():  # mark the run and park it where it costs nothing
                    peak_u[bad] = np.inf
                    peak_theta[bad] = np.inf
                    theta[bad], m[bad], v[bad] = theta0, 0.0, 1.0
    peak_u, peak_theta = peak_u.max(axis=1), peak_theta.max(axis=1)
    shape = np.shape(beta1)
    return {"peak_u": peak_u.reshape(shape),
            "growth": (peak_theta / np.abs(theta0).max()).reshape(shape)}


def run(cfg: dict) -> dict:
    """The record: the config, the grid, and per learning rate the peak-update and growth maps
    (index [i, j] = (beta1_i, beta2_j)) with the wall time of the whole map."""
    cfg = check_config(cfg)
    b1_axis, b2_axis = grid(cfg)
    b1, b2 = np.meshgrid(b1_axis, b2_axis, indexing="ij")
    hessian, theta0 = problem(cfg["dim"], cfg["condition"], cfg["seed"])
    start = time.perf_counter()
    maps = []
    for lr in cfg["lrs"]:
        out = simulate(b1, b2, lr, hessian, theta0, cfg["steps"], cfg["eps"])
        maps.append({"lr": lr, "travel": lr * cfg["steps"] / float(np.abs(theta0).max()),
                     "peak_u": out["peak_u"], "growth": out["growth"]})
    seconds = time.perf_counter() - start
    return {"config": cfg, "beta1": b1_axis, "beta2": b2_axis, "maps": maps,
            "n_runs": int(b1.size * len(cfg["lrs"])), "seconds": seconds,
            "theta0_inf_norm": float(np.abs(theta0).max())}


def empirical_boundary(stable: np.ndarray, exact: np.ndarray, beta2_axis: np.ndarray) -> list:
    """Per beta1 row, the grid beta2 just above the highest unstable run outside the exact
    region (the smallest beta2 when none is unstable there). Runs inside the exact region that
    cross the threshold (where B_inf itself is above it) are counted by :func:`classify` as
    ``unstable_inside_exact``, not drawn as a boundary."""
    out = []
    for row, inside in zip(stable, exact, strict=True):
        unstable = np.flatnonzero(~row & ~inside)
        top = unstable[-1] + 1 if unstable.size else 0
        out.append(float(beta2_axis[min(top, beta2_axis.size - 1)]))
    return out


def classify(stable: np.ndarray, exact: np.ndarray, paper: np.ndarray, band: np.ndarray) -> dict:
    """How one empirical stable map compares with both theories (fractions of grid points)."""
    return {"stable_fraction": float(stable.mean()),
            "agree_exact": float((stable == exact).mean()),
            "agree_paper": float((stable == paper).mean()),
            "stable_outside_exact": float(stable[~exact].mean()) if (~exact).any() else None,
            "unstable_inside_exact": float((~stable[exact]).mean()) if exact.any() else None,
            "stable_in_band": float(stable[band].mean()) if band.any() else None}


def summarize(record: dict) -> dict:
    """Verdicts per learning rate and criterion, the empirical boundaries, and the maps."""
    cfg = record["config"]
    b1_axis, b2_axis = np.asarray(record["beta1"]), np.asarray(record["beta2"])
    b1, b2 = np.meshgrid(b1_axis, b2_axis, indexing="ij")
    exact, paper = st.in_stable_region(b1, b2), rg.paper_stable(b1, b2)
    band = rg.in_band(b1, b2)
    per_lr = []
    for entry in record["maps"]:
        peak_u, growth = np.asarray(entry["peak_u"]), np.asarray(entry["growth"])
        main = peak_u <= cfg["u_threshold"]
        per_lr.append({
            "lr": entry["lr"], "travel": entry["travel"],
            "main": classify(main, exact, paper, band) | {
                "boundary": empirical_boundary(main, exact, b2_axis)},
            "sensitivity": [{"u_threshold": u} | classify(peak_u <= u, exact, paper, band)
                            for u in cfg["sensitivity_u"]],
            "growth_criterion": classify(growth <= cfg["growth_threshold"], exact, paper, band),
            "log10_peak_u": np.log10(np.maximum(peak_u, 1e-300)),
            "max_peak_u_inside_exact": float(peak_u[exact].max()),
            "bound_ok": bool(np.all(peak_u[exact] <= st.bound_inf(b1, b2)[exact] * (1 + 1e-9)))})
    return {"config": cfg, "beta1": b1_axis, "beta2": b2_axis, "n_runs": record["n_runs"],
            "seconds": record["seconds"], "exact_boundary": rg.exact_boundary(b1_axis),
            "paper_boundary": rg.paper_boundary(b1_axis), "band_points": int(band.sum()),
            "per_lr": per_lr}


def _pct(x) -> str:
    return "--" if x is None else f"{100 * x:.1f}"


def numbers(summary: dict) -> dict[str, str]:
    """LaTeX macros (LrRegion...) from the summary."""
    cfg, per_lr = summary["config"], summary["per_lr"]
    out = {"LrRegionRuns": f"{summary['n_runs']:,}".replace(",", "{,}"),
           "LrRegionSeconds": f"{summary['seconds']:.1f}",
           "LrRegionNLrs": str(len(per_lr)), "LrRegionGrid": f"{cfg['n_beta1']}\\times"
           f"{cfg['n_beta2']}", "LrRegionSteps": str(cfg["steps"]), "LrRegionDim": str(cfg["dim"]),
           "LrRegionCondition": f"{cfg['condition']:g}", "LrRegionEps": latex_sci(cfg["eps"]),
           "LrRegionUThreshold": f"{cfg['u_threshold']:g}",
           "LrRegionGrowthThreshold": f"{cfg['growth_threshold']:g}",
           "LrRegionLrMin": latex_sci(per_lr[0]["lr"]),
           "LrRegionLrMax": latex_sci(per_lr[-1]["lr"]),
           "LrRegionDecades": f"{np.log10(per_lr[-1]['lr'] / per_lr[0]['lr']):.0f}",
           "LrRegionSensitivity": ", ".join(f"{s['u_threshold']:g}"
                                             for s in per_lr[0]["sensitivity"]),
           "LrRegionBoundOk": "holds" if all(e["bound_ok"] for e in per_lr) else "fails"}
    small, large = (per_lr[k]["main"]["stable_outside_exact"] for k in (0, -1))
    # the direction the paper states in words, read off the data: does the empirical region
    # beyond the exact boundary grow or shrink as the learning rate falls?
    out["LrRegionTrend"] = ("grows" if small > large else "shrinks" if small < large
                            else "does not change")
    for end, entry in (("Small", per_lr[0]), ("Large", per_lr[-1])):
        main = entry["main"]
        out[f"LrRegionStableOutside{end}"] = _pct(main["stable_outside_exact"])
        out[f"LrRegionUnstableInside{end}"] = _pct(main["unstable_inside_exact"])
        out[f"LrRegionStableBand{end}"] = _pct(main["stable_in_band"])
        out[f"LrRegionAgreeExact{end}"] = _pct(main["agree_exact"])
        out[f"LrRegionAgreePaper{end}"] = _pct(main["agree_paper"])
        out[f"LrRegionGrowthStableOutside{end}"] = _pct(
            entry["growth_criterion"]["stable_outside_exact"])
        outside = [s["stable_outside_exact"] for s in entry["sensitivity"]]
        out[f"LrRegionSensMin{end}"] = _pct(min(x for x in outside if x is not None))
        out[f"LrRegionSensMax{end}"] = _pct(max(x for x in outside if x is not None))
        out[f"LrRegionMaxPeakInside{end}"] = f"{entry['max_peak_u_inside_exact']:.2f}"
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="simulate every run of the grid")
    p_run.add_argument("--config", required=True, help="the theory.lr_region settings (JSON)")
    p_run.add_argument("--out", required=True)
    p_sum = sub.add_parser("summary", help="record -> verdicts and boundaries")
    p_sum.add_argument("--record", required=True)
    p_sum.add_argument("--out", required=True)
    p_num = sub.add_parser("numbers", help="summary -> LaTeX macros")
    p_num.add_argument("--summary", required=True)
    p_num.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "run":
        record = run(read_json(args.config))
        write_json_atomic(args.out, record)
        print(f"{record['n_runs']} runs in {record['seconds']:.1f} s")
    elif args.command == "summary":
        summary = summarize(read_json(args.record))
        write_json_atomic(args.out, summary)
        for entry in summary["per_lr"]:
            print(f"lr {entry['lr']:g}: {entry['main']}")
    else:
        macros = numbers(read_json(args.summary))
        write_macros(args.out, macros, comment="lr region: python -m ctadam.experiments.lr_region")
        for name, value in sorted(macros.items()):
            print(f"{name} = {value}")


if __name__ == "__main__":
    main()
