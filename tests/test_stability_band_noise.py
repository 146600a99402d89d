"""Experiments band and noise of family stability_training under the one instability rule:
equal-rho points, horizons, parse-time decidability, Wilson intervals, undecidable runs,
the claim rows' verdict rules."""

import math

import numpy as np
import pytest

from ctadam import stats
from ctadam.experiments.stability_training import band, noise
from ctadam.experiments.stability_training import configs as stt
from ctadam.experiments.stability_training.measure import (
    instability_run,
    measure_run,
    proportion,
    rule_boundary,
)
from ctadam.theory import stability

DATA = {"mnist1d": "m.npz", "shakespeare": "s.npz"}
TASKS = {"mnist1d": {"lr": 0.01, "n_train": 50, "hidden": [8], "eval_samples": 50},
         "shakespeare": {"lr": 0.01, "n_train": 4, "block_size": 8, "n_layer": 1, "n_head": 1,
                         "n_embd": 8, "eval_samples": 8}}
VERDICTS = {"alpha": 0.05, "min_seeds": 5, "agreement": 0.9, "rate_tolerance": 0.2}


def section(**band_keys):
    b = {"tasks": ["mnist1d"], "beta1s": [0.5, 0.9], "rhos": [0.01, 0.1],
         "band_fractions": [0.5, 0.8], "inside_fractions": [1.5], "seeds": [0, 1, 2, 3, 4],
         "base_steps": 30, "max_steps": 800} | band_keys
    return {"eps": 1e-16, "dtype": "float64", "log_every": 10, "diverge_norm": 1e12,
            "tasks": TASKS, "measure": {"window": 10, "growth_factor": 2.0, "sensitivity": [10.0]},
            "band": b,
            "noise": {"beta1": 0.5, "rhos": [0.1, 1.0], "band_fractions": [0.5],
                      "inside_fractions": [], "batch_sizes": [None, 16], "weight_decays": [0.0],
                      "seeds": [0, 1, 2, 3, 4], "base_steps": 30, "max_steps": 800},
            "instability": {"K": 10.0, "onset": 2.0, "margin": 1.5}, "verdicts": VERDICTS}


def test_equal_rho_points_have_that_exact_rate_and_are_ordered_by_beta():
    b2 = stt.rho_beta2(0.9, 0.01)
    assert b2 == pytest.approx((0.9 / math.exp(0.01)) ** 2)
    assert float(stability.growth_rate(0.9, b2)) == pytest.approx(0.01)
    assert not stability.in_stable_region(0.9, b2)
    with pytest.raises(ValueError, match=r"band\.rhos: every rho must be a finite real > 0"):
        stt.rho_beta2(0.5, 0.0, "band.rhos")
    with pytest.raises(ValueError, match="outside"):
        stt.rho_beta2(0.5, 800.0)  # beta2 underflows to 0
    pts = stt.stability_points(0.5, section()["band"], "stability_training.band")
    assert [p["label"] for p in pts] == ["r0.1", "r0.01", "f0.5", "f0.8", "f1.5"]
    assert [p["zone"] for p in pts] == ["outside"] * 2 + ["band"] * 2 + ["inside"]
    assert np.all(np.diff([p["beta2"] for p in pts]) > 0)
    with pytest.raises(ValueError, match=r"stability_training\.band\.band_fractions: every "
                                         r"fraction must be in \(0, 1\), got 1\.2"):
        stt.stability_points(0.5, section(band_fractions=[1.2])["band"],
                             "stability_training.band")


def test_horizon_from_rho_outside_and_from_the_paper_rate_in_the_band():
    K, m = 10.0, 1.5
    # outside: margin ln(10 K) / rho
    assert stt.cell_horizon(0.9, stt.rho_beta2(0.9, 0.01), K, 300, 2500, m) == 691
    assert stt.cell_horizon(0.9, stt.rho_beta2(0.9, 0.01), K, 300, 500, m) == 500  # capped
    assert stt.cell_horizon(0.5, stt.rho_beta2(0.5, 0.1), K, 300, 2500, m) == 300  # base
    # band (rho < 0): the paper's |C|/2 sets it
    b2 = stt.band_beta2(0.9, 0.5)
    rate = -stt.paper_c(0.9, b2) / 2
    assert stt.cell_horizon(0.9, b2, K, 300, 5000, m) == math.ceil(m * math.log(100) / rate)
    assert stt.paper_decidable(0.9, b2, K, math.ceil(math.log(100) / rate))
    assert not stt.paper_decidable(0.9, b2, K, 300)
    # inside both (C > 0): base steps, and the paper predicts no growth there
    assert stt.cell_horizon(0.5, stt.band_beta2(0.5, 1.5), K, 300, 5000, m) == 300
    assert not stt.paper_decidable(0.5, stt.band_beta2(0.5, 1.5), K, 10 ** 6)
    runs = stt.band_runs(section(), DATA)
    assert len(runs) == 2 * 5 * 5
    assert runs["mnist1d_g0.9_r0.01_s0"]["steps"] == 691
    assert runs["mnist1d_g0.5_f1.5_s3"]["steps"] == 30
    assert runs["mnist1d_g0.5_r0.1_s0"]["optimizer"]["betas"] == [0.5, stt.rho_beta2(0.5, 0.1)]
    assert set(stt.noise_runs(section(), DATA)) >= {"batch16_r1_s4", "batchfull_f0.5_s0"}


def test_parse_time_failure_names_the_key_when_nothing_is_decidable():
    with pytest.raises(ValueError, match=r"stability_training\.band\.rhos .*every one of the 4 "
                                         r"cells is undecidable"):
        stt.band_runs(section(max_steps=40), DATA)  # ln(100)/0.1 = 46 steps > 40
    with pytest.raises(ValueError, match=r"stability_training\.band\.band_fractions"):
        st = section()
        st["instability"] = {**st["instability"], "K": 1.2}  # B_inf >= K for every band cell
        stt.band_runs(st, DATA)
    with pytest.raises(ValueError, match=r"stability_training\.band\.max_steps: .*no band cell"):
        stt.band_runs(section(beta1s=[0.9], max_steps=700), DATA)
    with pytest.raises(ValueError, match=r"stability_training\.noise\.rhos"):
        st = section()
        st["noise"] = {**st["noise"], "rhos": [0.01], "max_steps": 300}
        stt.noise_runs(st, DATA)
    with pytest.raises(ValueError, match=r"band\.max_steps must be an integer >= base_steps"):
        stt.band_runs(section(max_steps=10), DATA)


def record(b1, b2, peak, steps, status="ok", task="mnist1d", seed=0, batch=None):
    u = np.linspace(1.0, peak, steps) if math.isfinite(peak) else np.ones(steps)
    return {"config": {"task": task, "optimizer": {"betas": [[b1, b2]], "weight_decay": 0.0},
                       "seed": seed, "batch_size": batch, "steps": steps},
            "per_step": {"update_max_abs": list(u)}, "status": status,
            "diverged_at": None if status == "ok" else steps, "eval": {}}


def measured(run_id, rec, K=10.0):
    return {**measure_run(run_id, rec, 10, 2.0), **instability_run(rec, K)}


def test_instability_run_applies_the_one_rule():
    b2 = stt.rho_beta2(0.5, 0.1)
    r = instability_run(record(0.5, b2, 50.0, 300), 10.0)
    assert (r["peak"], r["unstable"], r["decidable"], r["steps"]) == (50.0, True, True, 300)
    r = instability_run(record(0.5, b2, 5.0, 40), 10.0)  # 40 < ln(100)/0.1
    assert not r["unstable"] and not r["decidable"] and "horizon" in r["decidability"]
    r = instability_run(record(0.5, b2, 5.0, 300, status="diverged"), 10.0)
    assert r["unstable"]


def band_measured():
    """Hand-made band runs at gamma 0.5 (5 seeds): rho = 0.1 all unstable; the band bounded;
    one band run too short for the paper's rate; one outside run too short for rho."""
    b = section()["band"]
    runs = []
    for p in stt.stability_points(0.5, b, "x"):
        for s in range(5):
            steps = 700 if p["label"] == "r0.01" else 300  # ln(100)/0.01 = 461 steps
            peak = 50.0 if p["label"] == "r0.1" else 2.0
            if p["label"] == "f0.8" and s == 0:
                steps = 12  # |C|/2 = 0.079: ln(100)/0.079 = 58 steps needed
            if p["label"] == "r0.01" and s == 0:
                steps, peak = 100, 20.0  # unstable, but below ln(100)/0.01 steps: undecidable
            runs.append(measured(f"mnist1d_g0.5_{p['label']}_s{s}",
                                 record(0.5, p["beta2"], peak, steps, seed=s)))
    return runs


def test_band_summary_counts_only_decidable_runs_with_wilson_intervals():
    st = section(beta1s=[0.5])
    s = band.summarize(band_measured(), st)
    z = s["zones"]
    assert s["zone_keys"] == ["outside_r0.1", "outside_r0.01", "band", "inside"]
    assert (z["outside_r0.1"]["k"], z["outside_r0.1"]["n"]) == (5, 5)
    assert (z["outside_r0.01"]["k"], z["outside_r0.01"]["n"]) == (0, 4)
    assert z["outside_r0.01"]["undecidable"] == 1
    assert z["outside_r0.01"]["undecidable_unstable"] == 1  # reported, not counted
    assert (z["band"]["k"], z["band"]["n"], z["band"]["undecidable"]) == (0, 9, 1)
    assert z["band"]["reasons"] == {band.UNDECIDABLE_PAPER: 1}
    for key in s["zone_keys"]:
        assert (z[key]["low"], z[key]["high"]) == stats.wilson_interval(z[key]["k"], z[key]["n"])
    assert z["outside_r0.1"]["peak_max"] == 50.0
    table = band.table(s)
    assert "5/5" in table and "0/9" in table and "\\toprule" in table
    macros = band.macros(s, st)
    assert macros["StabBandBandUndecidable"] == "1" and macros["StabBandCells"] == "9"
    assert macros["StabBandOutsideAUnstable"] == "5" and macros["StabBandRhoA"] == "0.1"
    # a run on no point of the profile's lines is an error, not silently dropped
    stray = measured("mnist1d_g0.5_x_s0", record(0.5, 0.3, 2.0, 300))
    with pytest.raises(ValueError, match="on no point"):
        band.summarize([stray], st)


def prop(k, n):
    return proportion(k, n)


def test_band_verdict_reaches_each_outcome():
    assert band.band_verdict(prop(18, 20), prop(20, 20), 5, 5) == "reproduced"
    assert band.band_verdict(prop(0, 40), prop(20, 20), 5, 5) == "not reproduced"
    # band bounded but the rule rarely fires outside: it could not have told
    assert band.band_verdict(prop(0, 40), prop(10, 20), 5, 5) == "undecidable at this scale"
    assert band.band_verdict(prop(10, 20), prop(20, 20), 5, 5) == "undecidable at this scale"
    assert band.band_verdict(prop(0, 40), prop(20, 20), 3, 5) == "undecidable at this scale"
    assert band.band_verdict(prop(0, 0), prop(20, 20), 5, 5) == "undecidable at this scale"
    s = band.summarize(band_measured(), section(beta1s=[0.5]))
    row = band.claim(s, section())
    assert row["verdict"] == "not reproduced" and row["value"] == 0.0
    assert row["interval"] == list(stats.wilson_interval(0, 9)) and row["seeds"] == 5


def test_rule_boundary_votes_with_decidable_runs_only():
    cells = ([{"fraction": -1.0, "unstable": True, "decidable": True}] * 3
             + [{"fraction": -0.5, "unstable": True, "decidable": False}] * 3
             + [{"fraction": -0.2, "unstable": False, "decidable": True}] * 3
             + [{"fraction": 0.5, "unstable": False, "decidable": True}] * 3)
    b = rule_boundary(cells)
    assert (b["low"], b["high"], b["monotone"], b["decided"]) == (-1.0, -0.2, True, True)
    assert b["votes"][1] == [-0.5, 0, 0, 3]
    none = rule_boundary([{"fraction": 0.5, "unstable": True, "decidable": False}])
    assert not none["decided"] and none["low"] is None


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), method 10: 56/70 - 48/80 = 0.2, interval [0.0524, 0.3339]
    low, high = noise.newcombe_interval(56, 70, 48, 80)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_noise_verdict_reaches_each_outcome():
    def t(p_holm, low, high, d=0.0):
        return {"condition": "c", "difference": d, "low": low, "high": high, "p": p_holm,
                "p_holm": p_holm}

    assert noise.noise_verdict([t(0.01, 0.2, 0.6, 0.4)], 5, VERDICTS) == "not reproduced"
    assert noise.noise_verdict([t(0.9, -0.05, 0.08)], 5, VERDICTS) == "reproduced"
    assert noise.noise_verdict([t(0.9, -0.3, 0.4)], 5, VERDICTS) == "undecidable at this scale"
    assert noise.noise_verdict([t(0.01, 0.2, 0.6)], 3, VERDICTS) == "undecidable at this scale"
    empty = {"condition": "c", "difference": None, "low": None, "high": None, "p": math.nan,
             "p_holm": math.nan}
    assert noise.noise_verdict([empty], 5, VERDICTS) == "undecidable at this scale"


def test_noise_summary_compares_each_condition_with_full_batch():
    st = section()
    runs = []
    for cond in ("batchfull", "batch16"):
        for p in stt.stability_points(0.5, st["noise"], "x"):
            for s in range(5):
                unstable = p["label"] == "r1" or (cond == "batch16" and p["label"] == "r0.1")
                runs.append(measured(f"{cond}_{p['label']}_s{s}",
                                     record(0.5, p["beta2"], 50.0 if unstable else 2.0, 300,
                                            seed=s, batch=16 if cond == "batch16" else None)))
    s = noise.summarize(runs, st)
    full, b16 = s["conditions"]
    assert (full["outside"]["k"], full["outside"]["n"]) == (5, 10)
    assert (b16["outside"]["k"], b16["outside"]["n"]) == (10, 10)
    assert (full["boundary"]["low"], b16["boundary"]["low"]) == pytest.approx((-2.594, -0.544),
                                                                              abs=1e-3)
    t, = s["tests"]
    assert t["difference"] == 0.5 and t["p"] == pytest.approx(stats_fisher(10, 10, 5, 10))
    assert t["p_holm"] == t["p"]  # one comparison
    assert t["low"] < 0.5 < t["high"]
    u = full["points"][0]["unstable"]
    assert (u["low"], u["high"]) == stats.wilson_interval(5, 5)
    row = noise.claim(s, st)
    assert row["value"] == 0.5 and row["interval"] == [t["low"], t["high"]]
    assert row["verdict"] == ("not reproduced" if t["p_holm"] < 0.05
                              else "undecidable at this scale")
    assert "\\toprule" in noise.table(s) and noise.macros(s, st)["StabNoiseOutsideB"] == "10/10"


def stats_fisher(k1, n1, k2, n2):
    from scipy import stats as sp

    return sp.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])[1]
