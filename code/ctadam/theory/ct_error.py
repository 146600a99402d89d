"""Global error of the continuous-time model against discrete Adam/AdamW at a fixed horizon.

For each learning rate eta, discrete Adam runs N = round(T / eta) steps and the ODE of
:mod:`ctadam.theory.continuous` (both rate choices) is integrated to t = N eta; the error is
|theta_ODE(N eta) - theta_N| (eq:global-error). The fitted slope of log error against log eta
is the measured order. The record also keeps loss curves and the first two coordinates of
every trajectory, and counts the steps at which some gradient coordinate has changed sign
since the start (zero means the "smooth regime" of the expansion). ``order_quarter`` is the
same fit for the error at t = T/4 (from the recorded paths).

    python -m ctadam.theory.ct_error --problem regression --beta 0.9 --gamma 0.99 \
        --horizon 1 --eta-min 1e-3 --eta-max 3e-2 --n-etas 6 --weight-decay 0.1 --out rec.json
"""

import argparse
import time

import numpy as np

from ctadam.checks import check_int, check_real, check_unit_interval
from ctadam.io import write_json_atomic
from ctadam.theory import continuous, problems

CURVE_POINTS = 60


def _order_at(runs: list[dict], kind: str, when: float) -> float:
    """Fitted order of the error at the recorded time nearest ``when`` (runs whose nearest
    recorded time is t = 0 are left out); NaN when fewer than two runs remain."""
    etas, errors = [], []
    for r in runs:
        i = int(np.argmin(np.abs(r["times"] - when)))
        if i > 0:
            etas.append(r["eta"])
            errors.append(r[kind]["error_path"][i])
    return continuous.fit_order(etas, errors) if len(etas) >= 2 else float("nan")


def measure(problem: str, beta: float, gamma: float, horizon: float, etas,
            weight_decay: float = 0.0, eps: float = 0.0, rtol: float = 1e-12) -> dict:
    """Run the comparison for every eta; returns the record (see module docstring).

    ``rtol`` is the solver's relative tolerance (atol = rtol / 100). As a check on the solver,
    the smallest eta is integrated again with 10 rtol; ``solver_delta`` is how far that moves
    theta(T), to be compared with the smallest measured error.
    """
    prob = problems.get(problem)
    sign0 = np.sign(prob.grad(prob.theta0))
    runs = []
    for eta in etas:
        steps = max(1, int(round(horizon / eta)))
        every = max(1, steps // CURVE_POINTS)
        start = time.perf_counter()
        final, path = continuous.discrete_adam(prob.grad, prob.theta0, eta, beta, gamma, steps,
                                               eps=eps, weight_decay=weight_decay,
                                               record_every=every)
        t_disc = time.perf_counter() - start
        times = eta * every * np.arange(len(path))
        flips = int(sum(np.any(np.sign(prob.grad(p)) != sign0) for p in path))
        run = {"eta": float(eta), "steps": steps, "t_end": steps * eta, "times": times,
               "discrete_loss": [prob.loss(p) for p in path],
               "discrete_xy": np.array(path)[:, :2], "sign_changes": flips,
               "seconds_discrete": t_disc}
        for kind in continuous.RATES:
            start = time.perf_counter()
            theta_t, sol = continuous.integrate(prob.grad, prob.theta0, eta, beta, gamma,
                                                steps * eta, kind=kind, eps=eps,
                                                weight_decay=weight_decay, t_eval=times,
                                                rtol=rtol, atol=rtol / 100)
            ode_path = sol.y[: prob.theta0.size].T
            gap = ode_path[: len(path)] - np.array(path)
            run[kind] = {"error": float(np.linalg.norm(theta_t - final)), "theta_T": theta_t,
                         "error_path": np.linalg.norm(gap, axis=1),
                         "loss": [prob.loss(p) for p in ode_path],
                         "xy": ode_path[:, :2], "times": sol.t,
                         "nfev": int(sol.nfev), "seconds": time.perf_counter() - start}
        runs.append(run)
    etas_arr = np.array([r["eta"] for r in runs])
    orders = {kind: continuous.fit_order(etas_arr, [r[kind]["error"] for r in runs])
              for kind in continuous.RATES}
    quarter = {kind: _order_at(runs, kind, horizon / 4) for kind in continuous.RATES}
    eta0 = min(etas)
    solver_delta = {}
    for kind in continuous.RATES:
        steps = max(1, int(round(horizon / eta0)))
        theta_loose, _ = continuous.integrate(prob.grad, prob.theta0, eta0, beta, gamma,
                                              steps * eta0, kind=kind, eps=eps,
                                              weight_decay=weight_decay, rtol=10 * rtol,
                                              atol=rtol / 10)
        tight = next(r for r in runs if r["eta"] == eta0)
        solver_delta[kind] = float(np.linalg.norm(theta_loose - tight[kind]["theta_T"]))
    return {"problem": problem, "beta": beta, "gamma": gamma, "horizon": horizon,
            "weight_decay": weight_decay, "eps": eps, "optimizer":
            "AdamW" if weight_decay > 0 else "Adam", "runs": runs, "order": orders,
            "order_quarter": quarter, "rtol": rtol, "solver_delta": solver_delta,
            "dim": int(prob.theta0.size)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", required=True)
    parser.add_argument("--beta", type=float, required=True)
    parser.add_argument("--gamma", type=float, required=True)
    parser.add_argument("--horizon", type=float, required=True)
    parser.add_argument("--eta-min", type=float, required=True)
    parser.add_argument("--eta-max", type=float, required=True)
    parser.add_argument("--n-etas", type=int, required=True)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--rtol", type=float, default=1e-12, help="solver relative tolerance")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    beta = check_unit_interval("beta", args.beta)
    gamma = check_unit_interval("gamma", args.gamma)
    eta_max = check_real("eta_max", args.eta_max, 0.0, 1.0, low_open=True)
    eta_min = check_real("eta_min", args.eta_min, 0.0, eta_max, low_open=True)
    n = check_int("n_etas", args.n_etas, low=2)
    wd = check_real("weight_decay", args.weight_decay, 0.0, np.inf)
    horizon = check_real("horizon", args.horizon, 0.0, np.inf, low_open=True)
    etas = np.logspace(np.log10(eta_min), np.log10(eta_max), n)
    rtol = check_real("rtol", args.rtol, 0.0, 1e-3, low_open=True)
    record = measure(args.problem, beta, gamma, horizon, etas, weight_decay=wd, rtol=rtol)
    write_json_atomic(args.out, record)
    for kind, order in record["order"].items():
        print(f"{args.problem}: fitted global order ({kind} rates) = {order:.3f};"
              f" solver check {record['solver_delta'][kind]:.1e}")


if __name__ == "__main__":
    main()
