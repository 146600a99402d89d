r"""Summary of family ``continuous_time``: the quadratic records and the transformer summary.

The transformer records (:mod:`.transformer`) give error curves, errors at the horizon and
orders. The relative trajectory error of a model at recorded step n_k is (\cref{eq:ct-traj-error})

    eps(t_k)^2 = sum_{j<=k} ||theta_model(n_j h) - theta_{n_j}||^2
                 / sum_{j<=k} ||theta_{n_j} - theta_0||^2,

the root of the mean squared error over the run so far, normalised by the trajectory's own mean
squared displacement. Time is reported as n (1 - beta2), in units of the second-moment time
scale 1/(1 - beta2) steps, which is the same for every exponent p (t = n h, h = eta^p). The
fitted order over eta of eps(T) is reported only where it is well defined: at least two
learning rates, eps(T) increasing with eta, and the solver check below the smallest error;
otherwise it is NaN.

:func:`transformer_summary` is the ``transformer`` part of the family's summary.
"""

import numpy as np

from ctadam.experiments.continuous_time.order import orders_summary
from ctadam.theory import continuous


def relative_error(sq_err, sq_disp) -> np.ndarray:
    """eps(t_k) of eq:ct-traj-error from the per-step squared error and displacement (the
    first point, where both are zero, is left out)."""
    err = np.cumsum(np.asarray(sq_err, dtype=float)[1:])
    disp = np.cumsum(np.asarray(sq_disp, dtype=float)[1:])
    return np.sqrt(err / np.maximum(disp, 1e-300))


def well_defined_order(etas, finals, solver_check: float) -> float:
    """The fitted order of eps(T) over eta, or NaN when it is not well defined (docstring)."""
    etas, finals = np.asarray(etas, dtype=float), np.asarray(finals, dtype=float)
    order = np.argsort(etas)
    etas, finals = etas[order], finals[order]
    if etas.size < 2 or np.any(np.diff(finals) <= 0) or not solver_check < finals.min():
        return float("nan")
    return continuous.fit_order(etas, finals)


def summarize_record(rec: dict) -> dict:
    """Curves, errors at the horizon, orders and costs of one transformer record."""
    cfg = rec["config"]
    scale = 1.0 - cfg["beta2"]
    curves, finals = [], {}
    for run in rec["runs"]:
        x = np.asarray(run["marks"][1:], dtype=float) * scale
        for m in run["models"]:
            eps = relative_error(m["sq_err"], run["sq_disp"])
            curves.append({"eta": run["eta"], "model": m["model"], "p": m["p"], "x": x,
                           "eps": eps, "nfev": m["nfev"], "seconds": m["seconds"]})
            if m["p"] == 1.0:
                finals.setdefault(m["model"], {})[run["eta"]] = float(eps[-1])
    top = max(rec["runs"], key=lambda r: r["eta"])
    check = {model: float(v) for model, v in top["solver_check"].items()}
    orders = {model: well_defined_order(list(by_eta), list(by_eta.values()), check[model])
              for model, by_eta in finals.items()}
    spread = 0.0
    for model in cfg["models"]:
        ref = next(c for c in curves if c["eta"] == top["eta"] and c["model"] == model
                   and c["p"] == 1.0)["eps"]
        for c in curves:
            if c["eta"] == top["eta"] and c["model"] == model and c["p"] != 1.0:
                spread = max(spread, float(np.max(np.abs(c["eps"] - ref) / ref)))
    traj = {"steps": top["marks"], "discrete": top["params"],
            **{m["model"]: m["params"] for m in top["models"] if m["p"] == 1.0}}
    return {"optimizer": cfg["optimizer"], "weight_decay": cfg["weight_decay"],
            "etas": sorted(r["eta"] for r in rec["runs"]), "curves": curves,
            "final": {model: [by_eta[e] for e in sorted(by_eta)] for model, by_eta in
                      finals.items()}, "order": orders, "solver_check": check,
            "p_values": sorted({c["p"] for c in curves}), "p_spread": spread,
            "figure_eta": top["eta"], "traj": traj,
            "steps": {str(r["eta"]): r["steps"] for r in rec["runs"]},
            "loss_start": rec["loss0"], "loss_end": top["loss"][-1],
            "nfev_per_step": float(np.mean([m["nfev"] / top["steps"] for m in top["models"]])),
            "seconds": float(sum(m["seconds"] for r in rec["runs"] for m in r["models"])
                             + sum(r["seconds_discrete"] for r in rec["runs"]))}


def transformer_summary(records: list[dict]) -> dict:
    """One summary for all records (one per optimizer), with the shared settings."""
    if not records:
        raise ValueError("records must hold at least one transformer record, got none")
    cfg = records[0]["config"]
    shared = {k: cfg[k] for k in ("beta1", "beta2", "eps", "rates", "method", "rtol",
                                  "n_windows", "block_size", "n_layer", "n_head", "n_embd",
                                  "horizon_steps", "n_params", "seed")}
    return {**shared, "dim": records[0]["dim"], "pick_names": records[0]["pick_names"],
            "optimizers": {rec["config"]["optimizer"]: summarize_record(rec)
                           for rec in records}}


def summarize(records: dict[str, dict], section: dict) -> dict:
    """``{"quadratics": [record per problem, in the section's order], "orders": ...,
    "transformer": ...}``.

    The quadratic records (:mod:`.quadratics`) are kept whole: the figure and the macros read
    their orders, errors and curves; ``orders`` holds the local slopes, asymptotic orders and
    solver checks (:func:`.order.orders_summary`). Raises ``ValueError`` naming a missing run.
    """
    from ctadam.experiments.continuous_time import runs

    expected = runs(section, {"shakespeare": ""})
    missing = sorted(set(expected) - set(records))
    if missing:
        raise ValueError(f"records: runs {missing} of continuous_time are missing")
    quadratics = [records[i] for i in expected if "problem" in expected[i]]
    transformer = [records[i] for i in expected if "problem" not in expected[i]]
    return {"quadratics": quadratics, "orders": orders_summary(quadratics, section),
            "transformer": transformer_summary(transformer)}
