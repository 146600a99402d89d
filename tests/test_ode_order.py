"""Claim ode-order: local slopes, the solver-tolerance check, the verdict rule, config checks."""

import copy

import numpy as np
import pytest

from ctadam.claims import check_row
from ctadam.experiments import continuous_time
from ctadam.experiments.continuous_time import numbers as ode_numbers
from ctadam.experiments.continuous_time import order as ode_order
from ctadam.theory import continuous

ETAS = 4e-3 / 2.0 ** np.arange(6, -1, -1)


def test_local_slopes_of_a_first_order_series_tend_to_one():
    # E = a eta + b eta^2: k_i = 1 + b eta / (a + b eta) + ..., so k_0 -> 1 as eta -> 0 while
    # the fit over the range is visibly above one.
    etas = np.logspace(-5, -1, 9)
    err = 2.0 * etas + 30.0 * etas**2
    slopes = continuous.local_slopes(etas[::-1], err[::-1])  # order of input is irrelevant
    assert np.all(np.diff(slopes) > 0)  # increasing with eta: the eta^2 term takes over
    assert slopes[0] == pytest.approx(1.0, abs=2e-3)
    assert slopes[-1] > 1.4
    res = continuous.asymptotic_order(etas, err)
    assert res["order"] == pytest.approx(slopes[0])
    assert res["mean_last_two"] == pytest.approx(slopes[:2].mean())
    assert res["change"] == pytest.approx(slopes[1] - slopes[0])
    assert res["fit"] > res["order"] + 0.05  # the global fit mixes in the eta^2 term
    with pytest.raises(ValueError, match="distinct etas"):
        continuous.local_slopes([1e-3, 1e-3], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        continuous.local_slopes([1e-3, 2e-3], [1.0, 0.0])


def _record(problem, errors, rtol_changes):
    """A hand-made quadratic record: every model and rate has ``errors`` (over ETAS) except
    where ``errors`` is a dict; ``rtol_changes`` at the two smallest etas."""
    runs = []
    for i, eta in enumerate(ETAS):
        run = {"eta": float(eta)}
        for model in continuous.MODELS:
            run[model] = {}
            for kind in continuous.RATES:
                series = errors.get((model, kind), errors["default"])
                entry = {"error": float(series[i])}
                if i < 2:
                    entry["rtol_change"] = rtol_changes.get((model, kind), 1e-6)
                run[model][kind] = entry
        runs.append(run)
    return {"problem": problem, "runs": runs, "rtol": 1e-12, "rtol_factor": 10.0}


SECTION = {"solver_check": {"rtol_factor": 10.0, "max_change": 0.01, "n_etas": 2},
           "verdicts": {"rate_tolerance": 0.2},
           "claim": {"models": ["first", "second"], "rates": "backward", "order": 1}}


def _orders(valley_backward, smooth=ETAS**2, rtol_changes=None):
    records = [_record("quadratic_smooth", {"default": smooth}, {}),
               _record("quadratic_valley", {"default": ETAS, ("first", "backward"): valley_backward,
                                            ("second", "backward"): valley_backward},
                       rtol_changes or {})]
    return ode_order.orders_summary(records, SECTION)


def test_solver_check_logic():
    orders = _orders(ETAS, rtol_changes={("first", "matched"): 0.02})
    valley = orders["problems"][1]["models"]
    assert valley["first"]["matched"]["rtol_change"] == 0.02
    assert not valley["first"]["matched"]["rtol_pass"]
    assert valley["first"]["backward"]["rtol_pass"]
    assert orders["problems"][1]["checked_etas"] == [float(ETAS[0]), float(ETAS[1])]
    # A model nobody checked does not pass.
    rec = _record("quadratic_valley", {"default": ETAS}, {})
    for run in rec["runs"]:
        run["first"]["euler"].pop("rtol_change", None)
    entry = ode_order.order_entry(rec, 0.01)
    assert not entry["models"]["first"]["euler"]["rtol_pass"]
    # The check on the real solver: tightening rtol barely moves a well-resolved error.
    out = continuous_time.run_one({"problem": "quadratic_valley", "beta1": 0.9, "beta2": 0.99,
                                   "horizon": 0.05, "n_etas": 2, "eta_min": 5e-3,
                                   "eta_max": 1e-2, "weight_decay": 0.0, "rtol": 1e-10,
                                   "solver_check": SECTION["solver_check"]})
    for run in out["runs"]:
        assert run["second"]["backward"]["rtol_change"] < 1e-3
        assert run["second"]["backward"]["error_tight"] > 0


def test_claim_verdicts():
    # First order in the valleys, second order where no sign changes: O(eta) -> reproduced.
    orders = _orders(ETAS)
    out = ode_order.claim_verdict(orders)
    assert out["verdict"] == "reproduced"
    assert out["value"] == pytest.approx(1.0) and out["interval"] == pytest.approx([1.0, 2.0])
    row = check_row(ode_order.claim_row(orders, SECTION))
    assert row["seeds"] == 0 and "deterministic" in row["measure"]
    assert row["rule"] == "continuous_time_summary"
    # Worse than first order (k = 0.5 everywhere in the valleys) -> not reproduced.
    out = ode_order.claim_verdict(_orders(ETAS**0.5))
    assert out["verdict"] == "not reproduced" and out["value"] == pytest.approx(0.5)
    # Second order on every problem: the claimed order 1 is not what is measured.
    assert ode_order.claim_verdict(_orders(ETAS**2, smooth=ETAS**2))["verdict"] == \
        "not reproduced"
    # The solver check fails for a model of the claim -> undecidable.
    out = ode_order.claim_verdict(_orders(ETAS, rtol_changes={("second", "backward"): 0.05}))
    assert out["verdict"] == "undecidable at this scale" and "solver" in out["reason"]
    # A failing model outside the claim does not matter.
    out = ode_order.claim_verdict(_orders(ETAS, rtol_changes={("first", "matched"): 0.05}))
    assert out["verdict"] == "reproduced"
    # Slopes still moving between the last two pairs (k_0 = 1.94, k_1 = 2.23) -> undecidable.
    moving = ETAS * (1 + (ETAS / ETAS[0]) ** 1.5)
    slopes = continuous.local_slopes(ETAS, moving)
    assert abs(slopes[1] - slopes[0]) > 0.2
    out = ode_order.claim_verdict(_orders(moving))
    assert out["verdict"] == "undecidable at this scale" and "still change" in out["reason"]


def test_order_macros_name_every_cell():
    macros = ode_numbers.order_macros(_orders(ETAS, rtol_changes={("first", "kernel"): 0.5}))
    assert macros["CtAsymQuadraticValleySecondBackward"] == "1.00"
    assert macros["CtAsymQuadraticSmoothFirstMatched"] == "2.00"
    assert macros["CtRtolMarkQuadraticValleyFirstKernel"] != ""
    assert macros["CtRtolMarkQuadraticValleyFirstBackward"] == ""
    assert macros["CtRtolFailsQuadraticValley"] == "1"
    assert macros["CtClaimVerdict"] == "reproduced" and macros["CtClaimValue"] == "1.00"
    assert macros["CtMaxChange"] == "1"


def test_new_config_keys_are_checked():
    base = {"beta1": 0.9, "beta2": 0.99, "horizon": 0.04, "n_etas": 2, "shards": 1,
            "solver_check": dict(SECTION["solver_check"]), "claim": dict(SECTION["claim"]),
            "problems": {"quadratic_smooth": {"eta_min": 1e-2, "eta_max": 2e-2,
                                              "weight_decay": 0.0, "rtol": 1e-12}},
            "transformer": {"beta2": 0.9, "weight_decay": 0.5, "etas": [1e-3]}}
    data = {"shakespeare": "s.npz"}
    assert continuous_time.runs(base, data)["quadratic_smooth"]["solver_check"] == \
        SECTION["solver_check"]
    bad = [(("solver_check", "rtol_factor"), 1.0, r"^solver_check.rtol_factor must be"),
           (("solver_check", "rtol_factor"), 1e3, r"^solver_check.rtol_factor must keep"),
           (("solver_check", "max_change"), 0.0, r"^solver_check.max_change must be"),
           (("solver_check", "n_etas"), 3, r"^solver_check.n_etas must be <= n_etas"),
           (("claim", "models"), ["third"], r"^claim.models must be"),
           (("claim", "rates"), "forward", r"^claim.rates must be one of"),
           (("claim", "order"), 0, r"^claim.order must be")]
    for (key, sub), value, message in bad:
        section = copy.deepcopy(base)
        section[key][sub] = value
        with pytest.raises(ValueError, match=message):
            continuous_time.runs(section, data)
    section = copy.deepcopy(base)
    del section["solver_check"]["n_etas"]
    with pytest.raises(ValueError, match="^solver_check must hold exactly"):
        continuous_time.runs(section, data)
    # The parse-time names agree with the theory module's.
    assert continuous_time.MODEL_NAMES == continuous.MODELS
    assert continuous_time.RATE_NAMES == continuous.RATES
