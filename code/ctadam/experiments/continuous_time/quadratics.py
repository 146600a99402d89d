r"""Global error of the continuous-time models against discrete Adam/AdamW at a fixed horizon.

For each learning rate eta, discrete Adam runs N = round(T / eta) steps and every model of
:mod:`ctadam.theory.continuous` (first- and second-order, each rate choice) is integrated to
step N (time N h, h = eta^p); the error is |theta_model(N h) - theta_N| (eq:ct-global-error),
its fitted slope against log eta over the whole range is kept as a sensitivity column (the
order reported is the local slope at the smallest etas, :mod:`.order`). ``gap`` is the
distance between the second and the first model at step N, ``gap_predicted`` the norm of
(h/2)(F(0) - F(T)) (eq:ct-gap) from the first model. The record also keeps loss curves, the
first two coordinates of every trajectory, counts the recorded points at which some gradient
coordinate has changed sign since the start (zero means the smooth regime of the expansion),
the solver-tolerance check of the smallest etas (:func:`solver_check`) and its run config.

One run of family ``continuous_time`` per problem (:func:`run`, the family's ``run_one``).
"""

import time

import numpy as np

from ctadam.checks import check_int, check_real, check_unit_interval
from ctadam.experiments.continuous_time import check_solver_check
from ctadam.theory import continuous, problems

CURVE_POINTS = 60


def _one_eta(prob, eta, beta1, beta2, horizon, weight_decay, eps, rtol) -> dict:
    steps = max(1, int(round(horizon / eta)))
    every = max(1, steps // CURVE_POINTS)
    start = time.perf_counter()
    final, path = continuous.discrete_adam(prob.grad, prob.theta0, eta, beta1, beta2, steps,
                                           eps=eps, weight_decay=weight_decay,
                                           record_every=every)
    sign0 = np.sign(prob.grad(prob.theta0))
    run = {"eta": float(eta), "steps": steps, "times": eta * every * np.arange(len(path)),
           "discrete_loss": [prob.loss(p) for p in path], "discrete_xy": np.array(path)[:, :2],
           "sign_changes": int(sum(np.any(np.sign(prob.grad(p)) != sign0) for p in path)),
           "seconds_discrete": time.perf_counter() - start}
    marks = every * np.arange(len(path))
    g0 = prob.grad(prob.theta0)
    y0 = np.concatenate([prob.theta0, g0, g0 * g0])
    for model in continuous.MODELS:
        run[model] = {}
        for kind in continuous.RATES:
            start = time.perf_counter()
            theta_t, sol = continuous.integrate(
                prob.grad, prob.theta0, eta, beta1, beta2, steps, kind=kind, model=model,
                eps=eps, weight_decay=weight_decay, eval_steps=marks, rtol=rtol, atol=rtol / 100)
            ode_path = sol.y[: prob.theta0.size].T
            entry = {"error": float(np.linalg.norm(theta_t - final)), "theta_T": theta_t,
                     "loss": [prob.loss(p) for p in ode_path], "xy": ode_path[:, :2],
                     "times": sol.t, "nfev": int(sol.nfev),
                     "seconds": time.perf_counter() - start}
            if model == "first":
                force = [continuous.first_order_force(y, 1.0, eps, weight_decay)
                         for y in (y0, sol.y[:, -1])]
                entry["gap_predicted"] = float(np.linalg.norm(0.5 * eta * (force[0] - force[1])))
            run[model][kind] = entry
    for kind in continuous.RATES:
        run["second"][kind]["gap"] = float(np.linalg.norm(
            run["second"][kind]["theta_T"] - run["first"][kind]["theta_T"]))
    return run


def solver_check(prob, run: dict, beta1, beta2, weight_decay, eps, rtol, rtol_factor) -> None:
    """Integrate every model of ``run`` (one eta) again at rtol / ``rtol_factor`` (atol / the
    same factor) and add to each entry ``error_tight`` and ``rtol_change`` = |E_tight - E| / E,
    the relative change of the global error (eq:ct-global-error) under the tighter tolerance,
    and ``theta_shift`` = |theta_tight(T) - theta(T)|."""
    tight = rtol / rtol_factor
    final = None
    for model in continuous.MODELS:
        for kind in continuous.RATES:
            entry = run[model][kind]
            theta_t, _ = continuous.integrate(prob.grad, prob.theta0, run["eta"], beta1, beta2,
                                              run["steps"], kind=kind, model=model, eps=eps,
                                              weight_decay=weight_decay, rtol=tight,
                                              atol=tight / 100)
            if final is None:
                final = continuous.discrete_adam(prob.grad, prob.theta0, run["eta"], beta1,
                                                 beta2, run["steps"], eps=eps,
                                                 weight_decay=weight_decay)
            entry["error_tight"] = float(np.linalg.norm(theta_t - final))
            entry["rtol_change"] = abs(entry["error_tight"] - entry["error"]) / entry["error"]
            entry["theta_shift"] = float(np.linalg.norm(theta_t - entry["theta_T"]))


def measure(problem: str, beta1: float, beta2: float, horizon: float, etas,
            weight_decay: float = 0.0, eps: float = 0.0, rtol: float = 1e-12,
            rtol_factor: float = 10.0, check_etas: int = 1) -> dict:
    """Run the comparison for every eta (p = 1); returns the record (module docstring).

    ``rtol`` is the solver's relative tolerance (atol = rtol / 100). As a check on the solver,
    the ``check_etas`` smallest etas are integrated again at rtol / ``rtol_factor``
    (:func:`solver_check`); ``solver_delta`` is the largest shift of theta(T) that causes at
    the smallest eta (over the models and rates).
    """
    prob = problems.get(problem)
    runs = [_one_eta(prob, eta, beta1, beta2, horizon, weight_decay, eps, rtol) for eta in etas]
    etas_arr = np.array([r["eta"] for r in runs])
    orders = {model: {kind: continuous.fit_order(etas_arr, [r[model][kind]["error"] for r in runs])
                      for kind in continuous.RATES} for model in continuous.MODELS}
    gap_order = {kind: continuous.fit_order(etas_arr, [r["second"][kind]["gap"] for r in runs])
                 for kind in continuous.RATES}
    ascending = sorted(runs, key=lambda r: r["eta"])
    for run in ascending[:check_etas]:
        solver_check(prob, run, beta1, beta2, weight_decay, eps, rtol, rtol_factor)
    delta = max(ascending[0][model][kind]["theta_shift"] for model in continuous.MODELS
                for kind in continuous.RATES)
    return {"problem": problem, "beta1": beta1, "beta2": beta2, "horizon": horizon,
            "weight_decay": weight_decay, "eps": eps,
            "optimizer": "AdamW" if weight_decay > 0 else "Adam", "runs": runs, "order": orders,
            "gap_order": gap_order, "rtol": rtol, "rtol_factor": rtol_factor,
            "check_etas": check_etas, "solver_delta": delta, "dim": int(prob.theta0.size)}


def run(config: dict) -> dict:
    """The record of one quadratic run config (see :func:`ctadam.experiments.continuous_time.runs`):
    the values checked (``ValueError`` naming the key), ``n_etas`` learning rates log-spaced
    from ``eta_min`` to ``eta_max``, then :func:`measure`."""
    beta1 = check_unit_interval("beta1", config["beta1"])
    beta2 = check_unit_interval("beta2", config["beta2"])
    eta_max = check_real("eta_max", config["eta_max"], 0.0, 1.0, low_open=True)
    eta_min = check_real("eta_min", config["eta_min"], 0.0, eta_max, low_open=True)
    n = check_int("n_etas", config["n_etas"], low=2)
    wd = check_real("weight_decay", config["weight_decay"], 0.0, np.inf)
    horizon = check_real("horizon", config["horizon"], 0.0, np.inf, low_open=True)
    etas = np.logspace(np.log10(eta_min), np.log10(eta_max), n)
    rtol = check_real("rtol", config["rtol"], 0.0, 1e-3, low_open=True)
    factor, check_etas = check_solver_check(config["solver_check"], rtol, n)
    record = measure(config["problem"], beta1, beta2, horizon, etas, weight_decay=wd, rtol=rtol,
                     rtol_factor=factor, check_etas=check_etas)
    record["config"] = config  # verbatim: the runner's resume check compares it with the run's
    for model, by_kind in record["order"].items():
        for kind, order in by_kind.items():
            print(f"{config['problem']}: {model}-order model, {kind} rates: fitted order "
                  f"{order:.3f}", flush=True)
    return record
