"""Family lr_region: the vectorised Adam as torch runs it, the criterion, the protocol steps."""

import json

import numpy as np
import pytest
import torch

from ctadam.experiments import protocol
from ctadam.experiments.lr_region import simulation as lr
from ctadam.experiments.lr_region import summary as lrs
from ctadam.io import read_json

CFG = {"lrs": [1.0, 0.001], "n_beta1": 6, "n_beta2": 5, "beta1_max": 0.99, "beta2_min": 0.01,
       "beta2_max": 0.999, "steps": 60, "dim": 3, "condition": 10.0, "eps": 1e-12,
       "seeds": [0, 1], "sensitivity_u": [3.0, 100.0], "growth_threshold": 10.0}
SECTION = CFG | {"instability": {"K": 10.0, "onset": 2.0, "margin": 1.5},
                 "verdicts": {"alpha": 0.05, "min_seeds": 2, "agreement": 0.9,
                              "rate_tolerance": 0.2}}


def torch_peaks(beta1, beta2, eta, hessian, theta0, steps, eps):
    p = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=eta, betas=(beta1, beta2), eps=eps)
    h = torch.tensor(hessian)
    peak_u, peak_theta = 0.0, float(np.abs(theta0).max())
    for _ in range(steps):
        before = p.detach().clone()
        opt.zero_grad()
        (0.5 * p @ h @ p).backward()
        opt.step()
        peak_u = max(peak_u, float(((before - p.detach()) / eta).abs().max()))
        peak_theta = max(peak_theta, float(p.detach().abs().max()))
    return peak_u, peak_theta / float(np.abs(theta0).max())


def test_vectorised_adam_matches_torch_adam():
    hessian, theta0 = lr.problem(3, 10.0, 0)
    pairs = [(0.9, 0.999), (0.9, 0.5), (0.0, 0.9), (0.99, 0.2)]
    b1, b2 = np.array(pairs).T
    out = lr.simulate(b1, b2, 0.05, hessian, theta0, 80, 1e-12)
    for k, (a, b) in enumerate(pairs):
        peak_u, growth = torch_peaks(a, b, 0.05, hessian, theta0, 80, 1e-12)
        assert out["peak_u"][k] == pytest.approx(peak_u, rel=1e-6)
        assert out["growth"][k] == pytest.approx(growth, rel=1e-9)


def test_diverged_run_is_data_not_a_crash():
    hessian, theta0 = lr.problem(2, 1.0, 0)
    out = lr.simulate(np.array([0.9]), np.array([0.999]), 1e308, hessian, theta0, 60, 1e-12)
    assert np.isinf(out["peak_u"][0]) and np.isinf(out["growth"][0])


def test_empirical_boundary_ignores_threshold_crossings_inside_the_exact_region():
    axis = np.array([0.1, 0.2, 0.3, 0.4])
    stable = np.array([[True, True, True, True], [False, True, False, True],
                       [False, True, True, False]])
    exact = np.array([[False, False, True, True], [False, False, False, True],
                      [False, False, True, True]])
    assert lrs.empirical_boundary(stable, exact, axis) == [0.1, 0.4, 0.2]


def test_family_run_summary_publish(tmp_path):
    """The protocol's steps: config file -> record (run_one) -> summary -> macros."""
    cfg_path, section = tmp_path / "configs" / "lr_region.json", tmp_path / "section.json"
    cfg_path.parent.mkdir()
    cfg_path.write_text(json.dumps(CFG))
    section.write_text(json.dumps(SECTION))
    sum_path, tex = tmp_path / "s.json", tmp_path / "n.tex"
    assert protocol.main(["run", "lr_region", "--configs", str(cfg_path), "--out-dir",
                          str(tmp_path / "shard0"), "--threads", "1"]) == 0
    assert protocol.main(["summary", "lr_region", "--section", str(section), "--records",
                          str(tmp_path / "shard0"), "--out", str(sum_path)]) == 0
    assert protocol.main(["publish", "lr_region", "--section", str(section), "--summary",
                          str(sum_path), "--macros", str(tex), "--tables-dir", str(tmp_path),
                          "--claims", str(tmp_path / "claims.json")]) == 0
    summary = read_json(sum_path)
    assert summary["n_runs"] == 2 * 60 and len(summary["per_lr"]) == 2
    assert 0 < summary["decidable_cells"] < summary["cells"] == 30
    row, = read_json(tmp_path / "claims.json")
    assert row["id"] == "lr-region" and row["seeds"] == 2
    entry = summary["per_lr"][0]
    assert [s["u_threshold"] for s in entry["sensitivity"]] == [3.0, 10.0, 100.0]
    assert entry["bound_ok"] and np.shape(entry["log10_peak_u"]) == (6, 5)
    text = tex.read_text()
    assert r"\newcommand{\LrRegionDecades}{3}" in text and "LrRegionStableOutsideSmall" in text
    assert "LrRegionTrendByCriterion" in text


def test_summary_needs_exactly_the_one_run():
    from ctadam.experiments import lr_region

    assert lr_region.runs(SECTION, {}) == {"lr_region": CFG}
    with pytest.raises(ValueError, match="exactly the run 'lr_region'"):
        lr_region.summarize({"other": {}}, SECTION)
    with pytest.raises(ValueError, match="lr_region.steps"):
        lr_region.runs(SECTION | {"beta1_max": 0.2, "beta2_max": 0.9999, "beta2_min": 0.999}, {})


@pytest.mark.parametrize(("change", "message"), [
    ({"steps": 0}, "lr_region.steps must be an integer"),
    ({"beta2_min": 0.999}, "beta2_min must be below"),
    ({"lrs": []}, "lr_region.lrs must be a non-empty list"),
    ({"lrs": [-1.0]}, r"lr_region.lrs\[\] must be in"),
    ({"bogus": 1}, "unknown keys"),
    ({"seeds": [0, 0]}, "lr_region.seeds must be distinct"),
])
def test_bad_config_is_rejected_by_name(change, message):
    with pytest.raises(ValueError, match=message):
        lr.check_config(CFG | change)


def _entry(main, sensitivity, growth):
    return {"main": {"stable_outside_exact": main},
            "sensitivity": [{"u_threshold": u, "stable_outside_exact": x}
                            for u, x in sensitivity],
            "growth_criterion": {"stable_outside_exact": growth}}


def test_trend_says_depends_on_the_threshold_when_the_criteria_disagree():
    agree = {"K": 10.0, "per_lr": [_entry(0.8, [(3.0, 0.7)], 0.9),
                                   _entry(0.9, [(3.0, 0.8)], 0.95)]}
    assert set(lrs.directions(agree).values()) == {"shrinks"}
    split = {"K": 10.0, "per_lr": [_entry(0.8, [(3.0, 0.9)], 0.9),
                                   _entry(0.9, [(3.0, 0.8)], 0.95)]}
    assert lrs.directions(split) == {"u <= 10": "shrinks", "u <= 3": "grows",
                                     "theta growth": "shrinks"}
    assert lrs.direction(None, 0.5) == "is undefined"


def _claim_summary(small, large, sens_small=0.9, sens_large=0.5):
    per = [_entry(sum(small) / len(small), [(3.0, sens_small)], 0.9),
           _entry(sum(large) / len(large), [(3.0, sens_large)], 0.5)]
    per[0]["by_seed"], per[1]["by_seed"] = small, large
    return {"K": 10.0, "per_lr": per}


def test_claim_verdicts_follow_the_paired_interval_and_the_criteria():
    grows = _claim_summary([0.9, 0.8, 0.85], [0.5, 0.4, 0.45])
    section = SECTION | {"verdicts": SECTION["verdicts"] | {"min_seeds": 3}}
    row = lrs.claim(grows, section)
    assert row["verdict"] == "reproduced" and row["value"] == pytest.approx(0.4)
    assert row["interval"][0] > 0 and row["seeds"] == 3
    shrinks = _claim_summary([0.4, 0.5, 0.45], [0.9, 0.8, 0.85], 0.4, 0.9)
    assert lrs.claim(shrinks, section)["verdict"] == "not reproduced"
    split = _claim_summary([0.9, 0.8, 0.85], [0.5, 0.4, 0.45], 0.4, 0.9)
    assert lrs.claim(split, section)["verdict"] == "undecidable at this scale"
    strict = SECTION | {"verdicts": SECTION["verdicts"] | {"min_seeds": 5}}
    assert lrs.claim(grows, strict)["verdict"] == "undecidable at this scale"


def test_trend_names_what_the_direction_depends_on():
    assert lrs.trend({"u <= 10": "shrinks", "theta growth": "shrinks"}) == (
        "shrinks as the learning rate falls")
    assert lrs.trend({"u <= 10": "shrinks", "u <= 3": "grows", "theta growth": "shrinks"}).endswith(
        "depending on the threshold")
    assert "depending on the criterion" in lrs.trend({"u <= 10": "shrinks", "u <= 3": "shrinks",
                                                      "theta growth": "grows"})
