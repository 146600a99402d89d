r"""The asymptotic order of the continuous-time models on the quadratics, and claim ``ode-order``.

For each problem, model and rate choice the global errors E(eta) at the horizon
(\cref{eq:ct-global-error}) give the local slopes (\cref{eq:ct-local-slope})

    k_i = d ln E / d ln eta  between consecutive learning rates eta_i < eta_{i+1},

and the asymptotic order is k_0, the slope of the smallest pair; (k_0 + k_1)/2 and
|k_0 - k_1| are its stability check, the least-squares fit over the whole range is kept as a
sensitivity column (:func:`ctadam.theory.continuous.asymptotic_order`). The solver check of
every model: its error at the ``solver_check.n_etas`` smallest learning rates, integrated again
at rtol / ``solver_check.rtol_factor``, changes by a relative ``rtol_change``; it passes when
that is below ``solver_check.max_change`` at every checked eta.

Claim ``ode-order`` (pre-registered, config ``continuous_time.claim``): the continuous-time
model(s) ``claim.models`` with rates ``claim.rates`` track discrete Adam with a global error
O(eta^q), q = ``claim.order``. With tol = ``verdicts.rate_tolerance`` and k_0 per problem and
model:

* "undecidable at this scale" when the solver check fails for one of them, or when one of them
  is not asymptotic yet: |k_0 - k_1| > tol (or a single pair);
* "reproduced" when every k_0 >= q - tol (the error is O(eta^q) on every problem) and the worst
  case min k_0 is within tol of q (order q is attained, not exceeded everywhere);
* "not reproduced" otherwise.

The measurement is deterministic (no seed enters it), so the row's ``seeds`` is 0.
"""

import math

from ctadam.stats import NOT_REPRODUCED, REPRODUCED, UNDECIDABLE
from ctadam.theory import continuous

RULE = "continuous_time_summary"


def order_entry(rec: dict, max_change: float) -> dict:
    """The orders and solver checks of one quadratic record (:mod:`.quadratics`)."""
    runs = sorted(rec["runs"], key=lambda r: r["eta"])
    etas = [r["eta"] for r in runs]
    models = {}
    for model in continuous.MODELS:
        models[model] = {}
        for kind in continuous.RATES:
            errors = [r[model][kind]["error"] for r in runs]
            entry = continuous.asymptotic_order(etas, errors)
            changes = [r[model][kind]["rtol_change"] for r in runs
                       if "rtol_change" in r[model][kind]]
            entry["rtol_change"] = max(changes) if changes else float("nan")
            entry["rtol_pass"] = bool(changes) and entry["rtol_change"] < max_change
            models[model][kind] = entry
    checked = [r["eta"] for r in runs if "rtol_change" in r["first"]["backward"]]
    return {"problem": rec["problem"], "etas": etas, "errors": {
        model: {kind: [r[model][kind]["error"] for r in runs] for kind in continuous.RATES}
        for model in continuous.MODELS}, "models": models, "checked_etas": checked,
        "rtol": rec["rtol"], "rtol_factor": rec["rtol_factor"]}


def orders_summary(records: list[dict], section: dict) -> dict:
    """The ``orders`` part of the family's summary: one :func:`order_entry` per problem, the
    thresholds they are judged by and the claim's settings."""
    max_change = section["solver_check"]["max_change"]
    return {"problems": [order_entry(rec, max_change) for rec in records],
            "max_change": max_change, "tolerance": section["verdicts"]["rate_tolerance"],
            "claim": dict(section["claim"])}


def claim_verdict(orders: dict) -> dict:
    """The verdict of ``ode-order`` from the ``orders`` summary (module docstring): verdict,
    value (worst-case k_0), interval [min, max] of k_0, and the reason."""
    claim, tol = orders["claim"], orders["tolerance"]
    q = float(claim["order"])
    cells = [(p["problem"], model, p["models"][model][claim["rates"]])
             for p in orders["problems"] for model in claim["models"]]
    if not cells:
        raise ValueError("orders: no problem to judge claim ode-order by")
    k0 = [c["order"] for _, _, c in cells]
    value, interval = min(k0), [min(k0), max(k0)]
    failed = [f"{p}/{m}" for p, m, c in cells if not c["rtol_pass"]]
    moving = [f"{p}/{m}" for p, m, c in cells
              if math.isnan(c["change"]) or c["change"] > tol]
    if failed:
        verdict, reason = UNDECIDABLE, f"solver check fails for {failed}"
    elif moving:
        verdict = UNDECIDABLE
        reason = f"local slopes still change by more than {tol:g} for {moving}"
    elif all(k >= q - tol for k in k0) and abs(value - q) <= tol:
        verdict, reason = REPRODUCED, f"every order >= {q - tol:g}, worst case within {tol:g}"
    else:
        verdict, reason = NOT_REPRODUCED, f"worst-case order {value:.2f} is not {q:g} +- {tol:g}"
    return {"verdict": verdict, "value": value, "interval": interval, "reason": reason,
            "cells": [(p, m, c["order"]) for p, m, c in cells]}


def claim_row(orders: dict, section: dict) -> dict:
    """The ledger row of ``ode-order`` (:mod:`ctadam.claims`)."""
    claim = orders["claim"]
    out = claim_verdict(orders)
    q = claim["order"]
    models = " and ".join(f"{m}-order" for m in claim["models"])
    per = "; ".join(f"{p} {m} {k:.2f}" for p, m, k in out["cells"])
    etas = min(min(p["etas"]) for p in orders["problems"])
    return {
        "id": "ode-order",
        "claim": (f"The continuous-time model ({models} model, the paper's {claim['rates']} "
                  f"rates) tracks discrete Adam with a global error O(eta^{q:g}) at a fixed "
                  f"horizon."),
        "verdict": out["verdict"],
        "measure": (f"asymptotic order = local slope d ln E/d ln eta of the global error at the "
                    f"two smallest eta (down to {etas:.2g}) on the quadratics ({per}); "
                    f"solver check: rtol / {orders['problems'][0]['rtol_factor']:g} changes E "
                    f"by < {orders['max_change']:g} relative; {out['reason']}; deterministic, "
                    f"so seeds do not apply (0)."),
        "value": out["value"],
        "interval": out["interval"],
        "seeds": 0,
        "rule": RULE,
    }
