r"""LaTeX number macros of family ``continuous_time`` (``numbers_continuous_time.tex``).

From the quadratic records (orders of both models for every rate choice, \cref{eq:ct-global-error};
the gap between the models, \cref{eq:ct-gap}) and the transformer summary (errors at the
horizon, \cref{eq:ct-traj-error}, orders where well defined, the p check, solver checks, costs).
"""

import math

import numpy as np

from ctadam.io import latex_sci
from ctadam.theory import continuous, problems

MIN_ETA_DECADES = 1.5  # each quadratic's learning rates must span at least this many decades
COUNT_WORDS = ("One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight")


def _word(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _order(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.2f}"


def record_macros(records: list[dict]) -> dict[str, str]:
    """Macros of the quadratic problems (names start with ``Ct``)."""
    out = {}
    for rec in records:
        word = _word(rec["problem"])
        runs = sorted(rec["runs"], key=lambda r: r["eta"])
        etas = [r["eta"] for r in runs]
        decades = float(np.log10(max(etas) / min(etas)))
        if decades < MIN_ETA_DECADES:
            raise ValueError(f"learning rates of {rec['problem']} must span >= {MIN_ETA_DECADES}"
                             f" decades, got {decades:.4f} (widen eta_min/eta_max in the config)")
        for model in continuous.MODELS:
            for kind in continuous.RATES:
                name = f"{word}{model.capitalize()}{kind.capitalize()}"
                out[f"CtOrder{name}"] = f"{rec['order'][model][kind]:.2f}"
                local = continuous.fit_order(etas[:2], [r[model][kind]["error"] for r in runs[:2]])
                out[f"CtSlopeSmallest{name}"] = f"{local:.2f}"
                out[f"CtErrMin{name}"] = latex_sci(runs[0][model][kind]["error"], 2)
        out[f"CtGapOrder{word}"] = f"{rec['gap_order']['backward']:.2f}"
        ratio = runs[0]["second"]["backward"]["gap"] / runs[0]["first"]["backward"]["gap_predicted"]
        out[f"CtGapRatio{word}"] = f"{ratio:.3f}"
        out[f"CtEtaMin{word}"] = latex_sci(min(etas), 2)
        out[f"CtEtaMax{word}"] = latex_sci(max(etas), 2)
        out[f"CtEtaDecades{word}"] = f"{decades:.1f}"
        out[f"CtNEtas{word}"] = str(len(etas))
        out[f"CtSignChanges{word}"] = str(sum(r["sign_changes"] for r in runs))
        out[f"CtSolverDelta{word}"] = latex_sci(rec["solver_delta"])
        out[f"CtRtol{word}"] = latex_sci(rec["rtol"])
        out[f"CtLagFraction{word}"] = f"{max(etas) / (1 - rec['beta2']) / rec['horizon']:.2f}"
    rec = records[0]
    out["CtBetaOne"] = f"{rec['beta1']:g}"
    out["CtBetaTwo"] = f"{rec['beta2']:g}"
    out["CtHorizon"] = f"{rec['horizon']:g}"
    out["CtQuadCondition"] = f"{problems.QUAD_CONDITION:g}"
    return out


def order_macros(orders: dict) -> dict[str, str]:
    """Macros of the asymptotic orders and the solver checks (:mod:`.order`) and of claim
    ``ode-order``: ``CtAsym<Problem><Model><Rates>`` = k_0, ``CtAsymMean...`` = (k_0 + k_1)/2,
    ``CtRtolChange...`` the largest relative change of E under the tighter rtol, ``CtRtolMark...``
    a dagger where that check fails, and the claim's verdict, value and interval."""
    from ctadam.experiments.continuous_time.order import claim_verdict

    out = {}
    for p in orders["problems"]:
        word = _word(p["problem"])
        fails = 0
        for model in continuous.MODELS:
            for kind in continuous.RATES:
                name = f"{word}{model.capitalize()}{kind.capitalize()}"
                c = p["models"][model][kind]
                out[f"CtAsym{name}"] = f"{c['order']:.2f}"
                out[f"CtAsymMean{name}"] = _order(c["mean_last_two"])
                out[f"CtRtolChange{name}"] = latex_sci(c["rtol_change"], 2)
                out[f"CtRtolMark{name}"] = "" if c["rtol_pass"] else r"$^\dagger$"
                fails += not c["rtol_pass"]
        out[f"CtRtolFails{word}"] = str(fails)
        out[f"CtRtolChangeMax{word}"] = latex_sci(max(
            p["models"][m][k]["rtol_change"] for m in continuous.MODELS
            for k in continuous.RATES), 2)
        out[f"CtCheckEtaMax{word}"] = latex_sci(max(p["checked_etas"]), 2)
    first = orders["problems"][0]
    out["CtRtolFactor"] = f"{first['rtol_factor']:g}"
    out["CtCheckEtas"] = str(len(first["checked_etas"]))
    out["CtMaxChange"] = f"{100 * orders['max_change']:g}"
    out["CtRateTolerance"] = f"{orders['tolerance']:g}"
    out["CtClaimOrder"] = f"{orders['claim']['order']:g}"
    verdict = claim_verdict(orders)
    out["CtClaimVerdict"] = verdict["verdict"]
    out["CtClaimValue"] = f"{verdict['value']:.2f}"
    out["CtClaimLow"] = f"{verdict['interval'][0]:.2f}"
    out["CtClaimHigh"] = f"{verdict['interval'][1]:.2f}"
    return out


def summary_macros(summary: dict) -> dict[str, str]:
    """Macros of the transformer runs (names start with ``Ode``)."""
    out = {"OdeBetaOne": f"{summary['beta1']:g}", "OdeBetaTwo": f"{summary['beta2']:g}",
           "OdeEps": latex_sci(summary["eps"]), "OdeRtol": latex_sci(summary["rtol"]),
           "OdeMethod": summary["method"], "OdeDim": f"{summary['dim']:,}".replace(",", "{,}"),
           "OdeWindows": str(summary["n_windows"]), "OdeBlock": str(summary["block_size"]),
           "OdeLayers": str(summary["n_layer"]), "OdeHeads": str(summary["n_head"]),
           "OdeEmbd": str(summary["n_embd"]), "OdeNParams": str(summary["n_params"]),
           "OdeHorizonSteps": str(summary["horizon_steps"]),
           "OdeHorizonScales": f"{summary['horizon_steps'] * (1 - summary['beta2']):g}"}
    for opt, s in summary["optimizers"].items():
        word = "Adam" if opt == "adam" else "AdamW"
        for i, eta in enumerate(s["etas"]):
            out[f"OdeEta{COUNT_WORDS[i]}"] = f"{eta:g}"
            out[f"OdeSteps{COUNT_WORDS[i]}"] = str(s["steps"][str(eta)])
            for model, finals in s["final"].items():
                out[f"OdeErr{word}{model.capitalize()}{COUNT_WORDS[i]}"] = latex_sci(finals[i], 2)
        for model, order in s["order"].items():
            out[f"OdeOrder{word}{model.capitalize()}"] = _order(order)
        out[f"OdeNEtas{word}"] = str(len(s["etas"]))
        out["OdeEtaFigure"] = f"{s['figure_eta']:g}"
        for model, check in s["solver_check"].items():
            out[f"OdeSolverCheck{word}{model.capitalize()}"] = latex_sci(check)
        out[f"OdePSpread{word}"] = latex_sci(s["p_spread"]) if s["p_spread"] > 0 else "0"
        out[f"OdePValues{word}"] = ", ".join(f"{p:g}" for p in s["p_values"])
        out[f"OdeWeightDecay{word}"] = f"{s['weight_decay']:g}"
        out[f"OdeNfevPerStep{word}"] = f"{s['nfev_per_step']:.0f}"
        out[f"OdeSeconds{word}"] = f"{s['seconds']:.0f}"
        out[f"OdeLossStart{word}"] = f"{s['loss_start']:.2f}"
        out[f"OdeLossEnd{word}"] = f"{s['loss_end']:.2f}"
    return out
