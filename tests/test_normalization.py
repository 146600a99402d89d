"""The normalization family: engine runs with the geometry tracker, summary, macros, figure."""

import json

import numpy as np
import pytest

from ctadam.experiments import normalization, protocol
from ctadam.experiments.normalization import __main__ as normalization_cli
from ctadam.io import read_json
from ctadam.plots import normalization as normalization_plot
from ctadam.theory import normdynamics as nd
from ctadam.trackers import ScaleInvariantStats
from ctadam.train import run

SECTION = {"beta1": [0.0, 0.9], "lr": [0.01], "weight_decay": [1.0, 2.0], "beta2": 0.999,
           "eps": 1e-8, "dtype": "float64", "hidden": [8], "n_train": 100, "batch_size": 20,
           "steps": 120, "seeds": [0], "every": 5,
           "verdicts": {"alpha": 0.05, "min_seeds": 2, "agreement": 0.9, "rate_tolerance": 0.2}}
IDENTITY = {"beta1": 0.8, "beta2": 0.999, "lr": 0.01, "weight_decay": 0.5, "eps": 1e-12,
            "steps": 60, "dim": 64, "seed": 0}


class OrthogonalityCheck(ScaleInvariantStats):
    """Also checks <grad, w> = 0 on every group before every step."""

    def before_step(self, n):
        super().before_step(n)
        for g, params in self.groups.items():
            grad = np.concatenate([p.grad.reshape(-1).numpy() for p in params])
            assert abs(float(grad @ self.prev[g].numpy())) < 1e-10


def test_tracker_matches_exact_recursion_and_scale_invariance(tiny_mnist):
    cfg = normalization.runs({**SECTION, "beta1": [0.9], "weight_decay": [0.5], "steps": 30},
                             {"mnist1d": str(tiny_mnist)})
    (config,) = cfg.values()
    assert config["model"]["norm_eps"] == 0.0 and config["optimizer"]["eps"] == 1e-8
    rec = run(config, [OrthogonalityCheck()])
    s = rec["trackers"]["groups"]["series"]["hidden1"]
    exact = nd.exact_norm_sq(s["w_sq"][0], s["u_sq"], s["wu"], 0.01, 0.5)
    np.testing.assert_allclose(exact[:-1], s["w_sq"], rtol=1e-10)
    assert all(0 < a < 1 for a in s["angle"]) and all(-1 <= c <= 1 for c in s["cos"])


def write_configs(configs: dict, where) -> list[str]:
    paths = []
    for run_id, cfg in configs.items():
        path = where / f"{run_id}.json"
        path.write_text(json.dumps(cfg))
        paths.append(str(path))
    return paths


def test_runs_summary_publish_and_figure(tiny_mnist, tmp_path):
    configs = normalization.runs(SECTION, {"mnist1d": str(tiny_mnist)})
    assert sorted(configs) == ["b0.9_lr0.01_wd1_s0", "b0.9_lr0.01_wd2_s0", "b0_lr0.01_wd1_s0",
                               "b0_lr0.01_wd2_s0"]
    section = tmp_path / "section.json"
    section.write_text(json.dumps({**SECTION, "tail": 0.25, "identity": IDENTITY}))
    assert protocol.main(["run", "normalization", "--configs",
                          *write_configs(configs, tmp_path), "--out-dir",
                          str(tmp_path / "shard0"), "--threads", "1"]) == 0
    rec = read_json(tmp_path / "shard0" / "b0.9_lr0.01_wd1_s0.json")
    assert len(rec["trackers"]["groups"]["series"]["hidden1"]["w_sq"]) == 120
    assert normalization_cli.main(["identity", "--section", str(section), "--out",
                                   str(tmp_path / "identity" / "identity.json")]) == 0
    # eq:wu-correction is an identity: only rounding error is left
    assert read_json(tmp_path / "identity" / "identity.json")["max_rel_error"] < 1e-10
    summary_path = tmp_path / "summary.json"
    assert protocol.main(["summary", "normalization", "--section", str(section), "--records",
                          str(tmp_path / "shard0"), str(tmp_path / "identity"), "--out",
                          str(summary_path)]) == 0
    summary = read_json(summary_path)
    assert [t["beta1"] for t in summary["trajectories"]] == [0.0, 0.9]
    assert len(summary["trajectories"][1]["measured"]) == 24
    row = next(r for r in summary["rows"] if r["run"] == "b0.9_lr0.01_wd1_s0")
    assert row["norm_corrected"] > 3 * row["norm_naive"]  # sqrt(c) ~ 4.3 at beta1 = 0.9
    macros = tmp_path / "m.tex"
    assert protocol.main(["publish", "normalization", "--section", str(section), "--summary",
                          str(summary_path), "--macros", str(macros), "--tables-dir",
                          str(tmp_path), "--claims", str(tmp_path / "claims.json")]) == 0
    text = macros.read_text()
    naive, corrected = read_json(tmp_path / "claims.json")
    assert (naive["id"], corrected["id"]) == ("norm-dynamics", "norm-dynamics-corrected")
    # one seed: no interval, so undecidable whatever the ratio
    assert naive["seeds"] == 1 and naive["interval"] is None
    assert naive["verdict"] == corrected["verdict"] == "undecidable at this scale"
    for name in ("NormalizationMedErrNormCorrected", "NormalizationMedErrNormNaive",
                 "NormalizationMedErrCosCorrected",
                 "NormalizationMedErrAngleCorrectedTopMomentum", "NormalizationRuns",
                 "NormalizationIdentityRelErr"):
        assert f"\\newcommand{{\\{name}}}" in text
    assert "NormalizationMedErrCosNaive" not in text  # the naive picture predicts cos = 0
    for line in (r"\newcommand{\NormalizationMomenta}{0, 0.9}",
                 r"\newcommand{\NormalizationSecondMomentDecay}{0.999}",
                 r"\newcommand{\NormalizationHidden}{8}",
                 r"\newcommand{\NormalizationMaxLrWeightDecay}{0.02}",
                 r"\newcommand{\NormalizationFirstOrderFactorTopMomentum}{4.36}",
                 r"\newcommand{\NormalizationRuns}{4}"):
        assert line in text
    table = (tmp_path / "normalization_table.tex").read_text()
    assert table.count(r"\\") >= 4 and r"\toprule" in table
    normalization_plot.main(["--summary", str(summary_path), "--out", str(tmp_path / "f.pdf")])
    assert (tmp_path / "f.pdf").stat().st_size > 0 and (tmp_path / "f.png").exists()


def test_summary_needs_the_identity_record(tmp_path, capsys):
    with pytest.raises(ValueError, match="identity"):
        normalization.summarize({}, {"tail": 0.25, "every": 5})
    (tmp_path / "section.json").write_text(json.dumps(SECTION))
    assert normalization_cli.main(["identity", "--section", str(tmp_path / "section.json"),
                                   "--out", str(tmp_path / "r.json")]) == 2
    assert "no 'identity' block" in capsys.readouterr().err


def test_bad_settings_raise_naming_the_key(tiny_mnist):
    with pytest.raises(ValueError, match="lr \\* weight_decay"):
        normalization.runs({**SECTION, "weight_decay": [200.0]}, {"mnist1d": "d.npz"})
    (config,) = normalization.runs({**SECTION, "beta1": [1.0], "weight_decay": [1.0],
                                    "lr": [0.01]}, {"mnist1d": str(tiny_mnist)}).values()
    with pytest.raises(ValueError, match="beta1"):
        run(config, [ScaleInvariantStats()])
    with pytest.raises(ValueError, match="identity config"):
        normalization.identity_run({**IDENTITY, "gamma": 0.9})
    with pytest.raises(ValueError, match="weight_decay"):
        normalization.identity_run({**IDENTITY, "weight_decay": 100.0})


def _rows(ratios_naive, ratios_corrected, beta1=0.9):
    return [{"beta1": beta1, "seed": seed, "norm_measured": 1.0, "norm_naive": 1.0 / a,
             "norm_corrected": 1.0 / b}
            for seed, (a, b) in enumerate(zip(ratios_naive, ratios_corrected, strict=True))]


def test_norm_claims_judge_the_seed_interval_of_the_ratio_against_the_tolerance():
    from ctadam.experiments.normalization.summary import claims

    summary = {"per_beta1": [{"beta1": 0.9}],
               "rows": _rows([4.1, 4.3, 4.2, 4.25, 4.15], [0.98, 1.01, 0.99, 1.0, 0.97])}
    section = {"verdicts": {"alpha": 0.05, "min_seeds": 5, "agreement": 0.9,
                            "rate_tolerance": 0.2}}
    naive, corrected = claims(summary, section)
    assert naive["verdict"] == "not reproduced" and naive["value"] == pytest.approx(4.2)
    assert corrected["verdict"] == "reproduced" and corrected["seeds"] == 5
    assert corrected["interval"][0] < 0.99 < corrected["interval"][1]
    wide = {"per_beta1": [{"beta1": 0.9}],
            "rows": _rows([1.0] * 5, [0.7, 1.3, 0.8, 1.2, 1.0])}
    assert claims(wide, section)[1]["verdict"] == "undecidable at this scale"
