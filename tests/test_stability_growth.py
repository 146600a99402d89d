"""Fig. 2b where the growth happens: the engine's gradient-scale probe, the growth-phase and
probe slopes, the parse-time checks of the probe and the ledger verdict of ``growth-rate``."""

import copy
import math

import numpy as np
import pytest
from conftest import write_fake_mnist1d

from ctadam.experiments.stability_training import configs as stt
from ctadam.experiments.stability_training import growth
from ctadam.experiments.stability_training.measure import measure_run, probe_slope
from ctadam.runconfig import validate_config
from ctadam.theory import region, stability
from ctadam.train import run

VERDICTS = {"alpha": 0.05, "min_seeds": 5, "agreement": 0.9, "rate_tolerance": 0.2}


def bias(b1, b2, n):
    """Adam's bias-correction factor of the update, sqrt(1 - beta^n) / (1 - gamma^n)."""
    return np.sqrt(1 - b2 ** n) / (1 - b1 ** n)


def tiny_config(data, b1, b2, grad_scale, steps):
    return {"task": "mnist1d", "data": str(data), "model": {"hidden": [8]}, "n_train": 50,
            "optimizer": {"name": "adam", "lr": 0.01, "betas": [b1, b2], "eps": 1e-16},
            "dtype": "float64", "steps": steps, "log_every": 5, "diverge_norm": 1e12,
            "grad_scale": grad_scale}


@pytest.mark.parametrize("bad, match", [
    ({"start": 5, "factor": 1.0}, r"grad_scale.factor must be in \(0, 1\)"),
    ({"start": 5, "factor": 0.0}, r"grad_scale.factor must be in \(0, 1\)"),
    ({"start": -1, "factor": 0.5}, "grad_scale.start"),
    ({"start": 5}, "grad_scale.factor is required"),
    ({"start": 5, "factor": 0.5, "c": 1}, r"grad_scale has unknown keys \['c'\]"),
    (0.5, "grad_scale must be null or a mapping"),
])
def test_a_bad_grad_scale_is_refused_naming_the_key(tmp_path, bad, match):
    cfg = tiny_config(tmp_path / "x.npz", 0.9, 0.7, bad, 10)
    with pytest.raises(ValueError, match=match):
        validate_config(cfg)
    assert validate_config({**cfg, "grad_scale": None})["grad_scale"] is None


def test_probe_slope_is_rho_outside_and_negative_in_the_band(tmp_path):
    """Real training on a tiny MLP, then gradients scaled by c^(n - n0): ln ||u_n||_inf (bias
    correction undone) grows at exactly rho outside the exact region and shrinks in the band.

    eps = 1e-16 and a 20-step window: sqrt(v_n) shrinks by sqrt(beta)^25 > 1e-4 in it, far
    from eps, so eps does not bend the line."""
    data = write_fake_mnist1d(tmp_path / "m.npz", 50, 20)
    start, skip, window = 20, 5, 20
    cells = {"outside": (0.9, 0.7), "band": (0.7, stt.band_beta2(0.7, 0.5))}
    for name, (b1, b2) in cells.items():
        gs = {"start": start, "factor": 0.1}
        rec = run(tiny_config(data, b1, b2, gs, start + skip + window))
        assert rec["status"] == "ok" and rec["config"]["grad_scale"] == gs
        slope, resid, pts = probe_slope(rec["per_step"]["update_max_abs"], b1, b2, start, skip,
                                        window)
        rho = float(stability.growth_rate(b1, b2))
        assert pts == window and slope == pytest.approx(rho, abs=1e-6), name
        assert resid < 1e-5
        if name == "band":
            assert region.in_band(b1, b2)
            assert slope < 0 < float(region.paper_growth_rate(b1, b2))
        else:
            assert slope > 0
    # without the probe the same run does not follow rho after step n0
    b1, b2 = cells["outside"]
    rec = run(tiny_config(data, b1, b2, None, start + skip + window))
    plain = probe_slope(rec["per_step"]["update_max_abs"], b1, b2, start, skip, window)[0]
    assert abs(plain - float(stability.growth_rate(b1, b2))) > 1e-3


def test_probe_and_phase_slopes_of_synthetic_series():
    b1, b2, n = 0.9, 0.8, np.arange(1, 101)
    u = np.exp(0.03 * n) * bias(b1, b2, n)
    slope, resid, pts = probe_slope(u, b1, b2, 40, 5, 30)
    assert slope == pytest.approx(0.03, abs=1e-12) and resid < 1e-12 and pts == 30
    cut = u.copy()
    cut[60:] = np.inf  # a diverged tail: the fit stops before it
    assert probe_slope(cut, b1, b2, 40, 5, 30)[2] == 15
    assert math.isnan(probe_slope(cut, b1, b2, 57, 2, 30)[0])  # fewer than 3 usable steps
    # the growth phase: flat, growth at 0.05 from onset to the peak, then a plateau
    ramp = np.concatenate([np.ones(10), np.exp(0.05 * np.arange(1, 61)), np.full(30, 1.0)])
    ramp[70:] = ramp[69]
    rec = {"config": {"task": "mnist1d", "optimizer": {"betas": [[b1, b2]],
                                                       "weight_decay": 0.0},
                      "seed": 0, "batch_size": None,
                      "grad_scale": {"start": 40, "factor": 0.1}},
           "per_step": {"update_max_abs": list(ramp)}, "status": "ok", "diverged_at": None,
           "eval": {}}
    r = measure_run("x", rec, 20, 2.0, onset=2.0, probe={"skip": 5, "window": 20})
    assert r["phase_slope"] == pytest.approx(0.05, rel=1e-9)
    assert r["probe"] and math.isfinite(r["probe_slope"]) and r["probe_points"] == 20
    plain = measure_run("y", {**rec, "config": {**rec["config"], "grad_scale": None}}, 20, 2.0)
    assert not plain["probe"] and math.isnan(plain["probe_slope"])


def test_a_probe_factor_above_min_beta1_sqrt_beta2_is_refused_at_parse_time():
    st = {"eps": 1e-16, "dtype": "float64", "log_every": 10, "diverge_norm": 1e12,
          "tasks": {"mnist1d": {"lr": 0.01, "n_train": 50, "hidden": [8], "eval_samples": 50}},
          "growth": {"tasks": ["mnist1d"], "lines": [{"beta1": 0.7, "points": 4,
                                                     "half_length": 0.06}],
                     "steps": 40, "seed": 0,
                     "probe": {"tasks": ["mnist1d"], "seeds": [0], "start": 10, "factor": 0.1,
                               "skip": 5, "window": 10}}}
    data = {"mnist1d": "m.npz"}
    assert len(stt.growth_runs(st, data)) == 8
    bad = copy.deepcopy(st)
    bad["growth"]["probe"]["factor"] = 0.7  # above gamma = 0.67 on the inside end of the line
    with pytest.raises(ValueError, match=r"stability_training.growth.probe.factor = 0.7 must be "
                                         r"below min\(beta1, sqrt\(beta2\)\)"):
        stt.growth_runs(bad, data)
    bad["growth"]["probe"]["factor"] = 1.5
    with pytest.raises(ValueError, match=r"probe.factor must be a real in \(0, 1\)"):
        stt.growth_runs(bad, data)
    bad["growth"]["probe"] |= {"factor": 0.1, "window": 2}
    with pytest.raises(ValueError, match="probe.window must be an integer >= 3"):
        stt.growth_runs(bad, data)
    bad["growth"]["probe"]["window"] = 10
    bad["growth"]["lines"].append(dict(bad["growth"]["lines"][0]))
    with pytest.raises(ValueError, match="two lines share a beta1"):
        stt.growth_runs(bad, data)


def point(b1, b2, probe_slopes, **slopes):
    c = float(region.paper_c(b1, b2))
    rho = float(stability.growth_rate(b1, b2))
    p = {"beta1": b1, "beta2": b2, "c": c, "paper_rate": max(-c / 2, 0.0), "rho": rho,
         "exact_rate": max(rho, 0.0), "probe_slopes": list(probe_slopes),
         "probe_slope": float(np.median(probe_slopes)), "probe_residual": 0.0,
         "slope": math.nan, "max_slope": math.nan, "phase_slope": math.nan}
    p["differ"] = growth.predictions_differ(p["paper_rate"], rho, 0.2)
    return p | slopes


def summary_of(points, seeds=5):
    t = {"points": points, "probed": True, "training": False, "diverged": 0,
         "probe_diverged": 0,
         "analysis": {m: growth.analyse(points, col) for m, col in growth.MEASURES.items()}}
    return {"probe": {"factor": 0.1, "start": 30, "skip": 10, "window": 40,
                      "seeds": list(range(seeds)), "tasks": ["mnist1d"]},
            "lines": [{"name": "g0.7", "beta1": 0.7, "points": len(points), "half_length": 0.06,
                       "tasks": {"mnist1d": t}}],
            "steps": 500, "window": 100, "onset": 2.0, "tolerance": 0.2, "min_seeds": 5}


# points on the gamma0 = 0.7 line: outside both (|C|/2 = 3 rho), outside both, in the band
CELLS = [stt.normal_points(0.7, 8, 0.06)[k] for k in (0, 1, 3)]


def test_the_three_verdicts_of_the_growth_claim():
    section = {"verdicts": VERDICTS}
    at_paper = [point(b1, b2, [float(region.paper_growth_rate(b1, b2))] * 5)
                for b1, b2 in CELLS]
    row = growth.claim(summary_of(at_paper), section)
    assert row["verdict"] == "reproduced" and row["value"] == pytest.approx(1.0)
    assert row["seeds"] == 5 and row["rule"] == "stability_training_summary"
    at_rho = [point(b1, b2, [float(stability.growth_rate(b1, b2))] * 5) for b1, b2 in CELLS]
    row = growth.claim(summary_of(at_rho), section)
    assert row["verdict"] == "not reproduced" and row["value"] < 0.5
    assert "follow the exact rate rho (3 of 3 points nearer rho" in row["measure"]
    assert row["interval"][0] < 0 < row["interval"][1]  # the band point shrinks
    assert growth.claim(summary_of(at_rho, seeds=3), section)["verdict"] == \
        "undecidable at this scale"
    inside = [point(0.7, 0.6, [-0.1] * 5)]  # C > 0: no point where the predictions differ
    row = growth.claim(summary_of(inside), section)
    assert row["verdict"] == "undecidable at this scale" and row["value"] is None
    assert row["interval"] is None


def test_analysis_counts_which_prediction_and_the_band_sign():
    pts = [point(b1, b2, [float(stability.growth_rate(b1, b2))]) for b1, b2 in CELLS]
    a = growth.analyse(pts, "probe_slope")
    assert a["differ"] == pytest.approx({"points": 3, "rho": 3, "paper": 0, "follows": "rho",
                                         "paper_ratio_median": a["differ"]["paper_ratio_median"],
                                         "rho_ratio_median": 1.0})
    assert a["band"] == {"points": 1, "negative": 1, "max_slope": pts[2]["rho"]}
    assert a["rho"]["gain"] == pytest.approx(1.0) and a["rho"]["points"] == 2
    assert growth.majority(2, 2) == "tie" and growth.majority(0, 0) == "none"
    # near the defaults |C|/2 overstates rho by only 1.2x at the outer end of the line
    b1, b2 = stt.normal_points(0.9, 8, 0.06)[0]
    p, r = float(region.paper_growth_rate(b1, b2)), float(stability.growth_rate(b1, b2))
    assert p / r == pytest.approx(1.2045, abs=1e-3)
    assert growth.predictions_differ(p, r, 0.2) and not growth.predictions_differ(p, r, 0.25)
    assert growth.predictions_differ(0.1, 0.05, 0.2) and not growth.predictions_differ(0, -1, 0.2)
