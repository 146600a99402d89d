"""The norm-dynamics experiment: per-step tracking, the CLI, numbers and figure."""

import numpy as np
import pytest
import torch

from ctadam import models
from ctadam.experiments import normdyn, normdyn_numbers
from ctadam.io import read_json
from ctadam.plots import norm_dynamics
from ctadam.theory import normdynamics as nd


def test_tracker_matches_exact_recursion_and_scale_invariance(rng_seed):
    model = models.MLP(hidden=(8,), norm="layer", norm_eps=0.0).double()
    eta, lam = 0.01, 0.5
    opt = torch.optim.AdamW(model.parameters(), lr=eta, betas=(0.9, 0.999), weight_decay=lam)
    tracker = normdyn.GroupTracker(model, eta, lam)
    x, y = torch.randn(32, 40, dtype=torch.float64), torch.randint(0, 10, (32,))
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        grad = torch.cat([p.grad.reshape(-1) for p in tracker.groups["hidden1"]])
        assert abs(float(grad @ tracker.flat("hidden1"))) < 1e-10  # <grad, w> = 0
        tracker.before()
        opt.step()
        tracker.after()
    s = tracker.series["hidden1"]
    exact = nd.exact_norm_sq(s["w_sq"][0], s["u_sq"], s["wu"], eta, lam)
    np.testing.assert_allclose(exact[:-1], s["w_sq"], rtol=1e-10)
    assert all(0 < a < 1 for a in s["angle"]) and all(-1 <= c <= 1 for c in s["cos"])


def test_cli_numbers_and_figure(tiny_mnist, tmp_path):
    recs = []
    for beta in (0.0, 0.9):
        out = tmp_path / f"beta{beta}.json"
        normdyn.main(["--data", str(tiny_mnist), "--out", str(out), "--beta", str(beta),
                      "--etas", "0.01", "--lams", "1.0", "2.0", "--hidden", "8",
                      "--n-train", "100", "--batch-size", "20", "--steps", "120",
                      "--every", "5"])
        recs.append(out)
    rec = read_json(recs[1])
    assert [r["lam"] for r in rec["runs"]] == [1.0, 2.0]
    g = rec["runs"][0]["groups"]["hidden1"]
    assert len(g["series"]["w_sq"]) == 24 and len(g["u_sq_all"]) == 120
    assert g["corrected"]["norm"] > 3 * g["naive"]["norm"]  # sqrt(c) ~ 4.3 at beta = 0.9
    macros, table = tmp_path / "m.tex", tmp_path / "t.tex"
    normdyn_numbers.main(["--records", *map(str, recs), "--macros", str(macros),
                          "--table", str(table), "--summary", str(tmp_path / "s.json")])
    text = macros.read_text()
    for name in ("NormMedErrNormCorrected", "NormMedErrNormNaive", "NormMedErrCosCorrected",
                 "NormMedErrAngleCorrectedTopBeta", "NormdynRuns"):
        assert f"\\newcommand{{\\{name}}}" in text
    assert "NormMedErrCosNaive" not in text  # the naive picture predicts cos = 0
    for line in (r"\newcommand{\NormdynBetas}{0, 0.9}", r"\newcommand{\NormdynGamma}{0.999}",
                 r"\newcommand{\NormdynHidden}{8}", r"\newcommand{\NormdynMaxEtaLambda}{0.02}",
                 r"\newcommand{\NormFirstOrderFactorTopBeta}{4.36}"):
        assert line in text
    # eq:wu-correction is an identity: only rounding error is left
    assert normdyn_numbers.identity_rel_error() < 1e-10
    assert table.read_text().count(r"\\") >= 4 and r"\toprule" in table.read_text()
    norm_dynamics.main(["--records", *map(str, recs), "--out", str(tmp_path / "f.pdf")])
    assert (tmp_path / "f.pdf").stat().st_size > 0 and (tmp_path / "f.png").exists()


def test_cli_rejects_bad_arguments(tiny_mnist, tmp_path):
    base = ["--data", str(tiny_mnist), "--out", str(tmp_path / "x.json"), "--etas", "0.01",
            "--lams", "1.0"]
    with pytest.raises(ValueError, match="beta"):
        normdyn.main([*base, "--beta", "1.0"])
    with pytest.raises(ValueError, match="batch_size"):
        normdyn.main([*base, "--beta", "0.5", "--n-train", "10", "--batch-size", "20"])
