r"""Family ``continuous_time``: the continuous-time models against discrete Adam and AdamW.

Two kinds of runs, neither an engine run (both go through :func:`run_one`):

* one per quadratic problem of ``problems`` (id = the problem's name, :mod:`.quadratics`): the
  global error of both models of :mod:`ctadam.theory.continuous` (\cref{eq:ct-models}) at a
  fixed horizon over a range of learning rates, its local slopes and asymptotic order
  (\cref{eq:ct-local-slope}) with a solver-tolerance check (:mod:`.order`, claim ``ode-order``);
* one per optimizer on a tiny character transformer (ids ``transformer_adam`` and
  ``transformer_adamw``, :mod:`.transformer`): the relative trajectory error
  (\cref{eq:ct-traj-error}).

The protocol (:mod:`ctadam.experiments.protocol`): :func:`runs` (torch- and numpy-free, the rule
file calls it at parse time), :func:`run_one` (a quadratic config holds ``problem``, a
transformer config ``optimizer``), :func:`summarize` (:mod:`.summary`) and :func:`publish`
(macros ``Ct*`` and ``Ode*``, :mod:`.numbers`; no tables; the claim row ``ode-order``).
"""

import math
import sys

from ctadam.checks import check_int, check_real

OPTIMIZERS = ("adam", "adamw")
TABLES = ()
CLAIMS = ("ode-order",)


# scipy's solve_ivp raises any rtol below 100 machine epsilons to that value (with a warning).
MIN_RTOL = 100 * sys.float_info.epsilon


def check_solver_check(check: dict, rtol: float, n_etas: int) -> tuple[float, int]:
    """(rtol_factor, n_etas) of the ``solver_check`` section, checked: the factor > 1 with
    rtol / factor >= 100 machine epsilons (else scipy silently loosens it), 1 <= n_etas <=
    ``n_etas`` of the problem, 0 < max_change < 1. Raises ``ValueError`` naming the key."""
    if not isinstance(check, dict) or sorted(check) != ["max_change", "n_etas", "rtol_factor"]:
        raise ValueError("solver_check must hold exactly rtol_factor, max_change and n_etas, "
                         f"got {check!r}")
    factor = check_real("solver_check.rtol_factor", check["rtol_factor"], 1.0, math.inf,
                        low_open=True)
    if rtol / factor < MIN_RTOL:
        raise ValueError(f"solver_check.rtol_factor must keep rtol / rtol_factor >= {MIN_RTOL:.3g}"
                         f" (scipy's floor), got rtol {rtol:g} / {factor:g}")
    check_real("solver_check.max_change", check["max_change"], 0.0, 1.0, low_open=True,
               high_open=True)
    count = check_int("solver_check.n_etas", check["n_etas"], low=1)
    if count > n_etas:
        raise ValueError(f"solver_check.n_etas must be <= n_etas ({n_etas}), got {count}")
    return float(factor), int(count)


# The models and rate choices of ctadam.theory.continuous (MODELS, RATES; a test keeps them
# equal), named here so that the parse-time checks import neither numpy nor scipy.
MODEL_NAMES = ("first", "second")
RATE_NAMES = ("backward", "euler", "kernel", "matched")


def check_claim(claim: dict) -> dict:
    """The ``claim`` section of ``ode-order`` (:mod:`.order`), checked: ``models`` a non-empty
    list of :data:`MODEL_NAMES`, ``rates`` one of :data:`RATE_NAMES`, ``order`` > 0 (the
    predicted global order). Raises ``ValueError`` naming the key."""
    if not isinstance(claim, dict) or sorted(claim) != ["models", "order", "rates"]:
        raise ValueError(f"claim must hold exactly models, rates and order, got {claim!r}")
    models = claim["models"]
    if (not isinstance(models, list) or not models or len(set(models)) != len(models)
            or not set(models) <= set(MODEL_NAMES)):
        raise ValueError(f"claim.models must be a non-empty list of distinct {MODEL_NAMES}, "
                         f"got {models!r}")
    if claim["rates"] not in RATE_NAMES:
        raise ValueError(f"claim.rates must be one of {RATE_NAMES}, got {claim['rates']!r}")
    check_real("claim.order", claim["order"], 0.0, 4.0, low_open=True)
    return claim


def quadratic_config(section: dict, problem: str) -> dict:
    """The run config of one quadratic problem (a key of ``section["problems"]``)."""
    p = section["problems"][problem]
    rtol = check_real(f"problems.{problem}.rtol", p["rtol"], 0.0, 1e-3, low_open=True)
    check_solver_check(section["solver_check"], rtol,
                       check_int("n_etas", section["n_etas"], low=2))
    return {"problem": problem, "beta1": section["beta1"], "beta2": section["beta2"],
            "horizon": section["horizon"], "n_etas": section["n_etas"],
            "eta_min": p["eta_min"], "eta_max": p["eta_max"],
            "weight_decay": p["weight_decay"], "rtol": p["rtol"],
            "solver_check": dict(section["solver_check"])}


def transformer_config(section: dict, data: str, optimizer: str) -> dict:
    """The run config of the transformer under ``optimizer`` (``data``: the Shakespeare file).

    Weight decay applies to AdamW only; Adam runs at 0.
    """
    tf = section["transformer"]
    cfg = {k: v for k, v in tf.items() if k != "weight_decay"}
    cfg.update(optimizer=optimizer, data=data, beta1=section["beta1"], beta2=tf["beta2"],
               weight_decay=tf["weight_decay"] if optimizer == "adamw" else 0.0, threads=1)
    return cfg


def runs(section: dict, data: dict) -> dict[str, dict]:
    """The quadratic runs (in the section's order of problems), then the transformer runs; the
    quadratic configs, ``solver_check`` and ``claim`` are checked here (parse time)."""
    check_claim(section["claim"])
    out = {name: quadratic_config(section, name) for name in section["problems"]}
    if set(out) & {f"transformer_{opt}" for opt in OPTIMIZERS}:
        raise ValueError(f"problems: a problem may not be named transformer_*, got {list(out)}")
    for opt in OPTIMIZERS:
        out[f"transformer_{opt}"] = transformer_config(section, data["shakespeare"], opt)
    return out


def trackers(config: dict) -> list:
    """No trackers: the runs are not engine runs."""
    return []


def run_one(config: dict) -> dict:
    """The record of one run: a quadratic problem or the transformer."""
    if "problem" in config:
        from ctadam.experiments.continuous_time.quadratics import run
    else:
        from ctadam.experiments.continuous_time.transformer import run
    return run(config)


def summarize(records: dict[str, dict], section: dict) -> dict:
    """The quadratic records and the transformer summary (:func:`.summary.summarize`)."""
    from ctadam.experiments.continuous_time.summary import summarize as summarize_records

    return summarize_records(records, section)


def publish(summary: dict, section: dict) -> dict:
    """The macros of the quadratics (``Ct*``), of the ODE order (``CtAsym*``, ``CtClaim*``) and
    of the transformer (``Ode*``); no tables; the claim row ``ode-order`` (:mod:`.order`)."""
    from ctadam.experiments.continuous_time.numbers import (
        order_macros,
        record_macros,
        summary_macros,
    )
    from ctadam.experiments.continuous_time.order import claim_row

    return {"macros": record_macros(summary["quadratics"]) | order_macros(summary["orders"])
            | summary_macros(summary["transformer"]), "tables": {},
            "claims": [claim_row(summary["orders"], section)]}
