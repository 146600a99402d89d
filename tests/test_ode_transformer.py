"""The ode_transformer family on a tiny made-up corpus: run -> summary -> macros -> figures."""

import json

import numpy as np
import pytest

from ctadam.data import _save_npz
from ctadam.experiments import ode_summary, ode_transformer
from ctadam.io import read_json
from ctadam.theory import continuous


@pytest.fixture
def corpus(tmp_path):
    """A random stand-in for the Shakespeare cache (same keys and hash); never a result."""
    rng = np.random.default_rng(0)
    arrays = {"train": rng.integers(0, 12, 400).astype(np.uint16),
              "val": rng.integers(0, 12, 100).astype(np.uint16),
              "vocab": np.arange(97, 109)}
    return _save_npz(tmp_path / "shakespeare.npz", arrays)


def _config(corpus, **change):
    cfg = {"data": str(corpus), "optimizer": "adamw", "beta1": 0.9, "beta2": 0.9, "eps": 1e-8,
           "weight_decay": 0.5, "etas": [5e-4, 1e-3], "extra_p": [0.5], "horizon_steps": 2,
           "curve_points": 4, "n_params": 3, "models": ["first", "second"],
           "rates": "backward", "method": "RK45", "rtol": 1e-6, "atol_scale": 1e-2,
           "n_windows": 2, "block_size": 4, "n_layer": 1, "n_head": 1, "n_embd": 4, "seed": 0}
    return cfg | change


def test_objective_gradient_is_the_loss_derivative(corpus):
    obj = ode_transformer.Objective(str(corpus), 2, 4, 1, 1, 4, 0)
    rng = np.random.default_rng(1)
    theta = obj.theta0 + 0.05 * rng.normal(size=obj.theta0.size)
    direction = rng.normal(size=theta.size)
    slope = (obj.loss(theta + 1e-6 * direction) - obj.loss(theta - 1e-6 * direction)) / 2e-6
    assert obj.grad(theta) @ direction == pytest.approx(slope, rel=1e-6)
    assert obj.coordinate_name(0) == "tok.weight[0,0]"


def test_run_summary_macros_and_figures(corpus, tmp_path):
    from ctadam.plots import ode_error
    from ctadam.plots import ode_transformer as fig1
    from ctadam.theory import ode_numbers

    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(_config(corpus)))
    ode_transformer.main(["--config", str(cfg_path), "--out", str(tmp_path / "w.json")])
    records = [read_json(tmp_path / "w.json")]
    rec = records[0]
    assert [r["steps"] for r in rec["runs"]] == [4, 2]
    top = rec["runs"][-1]
    # The largest eta ran p = 1 and p = 0.5 for both models; p only rescales time (eq:ct-p).
    assert sorted((m["model"], m["p"]) for m in top["models"]) == [
        ("first", 0.5), ("first", 1.0), ("second", 0.5), ("second", 1.0)]
    same = [m for m in top["models"] if m["model"] == "second"]
    np.testing.assert_allclose(same[0]["sq_err"], same[1]["sq_err"], rtol=1e-3, atol=1e-16)
    summary = ode_summary.summarize(records)
    s = summary["optimizers"]["adamw"]
    assert set(s["final"]) == set(continuous.MODELS)
    assert all(e > 0 for e in s["final"]["first"])
    macros = ode_numbers.summary_macros(summary)
    assert macros["OdeEtaOne"] == "0.0005" and macros["OdeEtaFigure"] == "0.001"
    assert "OdeErrAdamWSecondTwo" in macros and "OdeSolverCheckAdamWFirst" in macros
    out = tmp_path / "summary.json"
    ode_summary.main(["--records", str(tmp_path / "w.json"), "--out", str(out)])
    fig1.main(["--summary", str(out), "--out", str(tmp_path / "f1.pdf")])
    ode_error.main(["--summary", str(out), "--out", str(tmp_path / "f2.pdf")])
    assert (tmp_path / "f1.png").exists() and (tmp_path / "f2.png").exists()


def test_well_defined_order_and_bad_config(corpus):
    assert ode_summary.well_defined_order([1e-3, 2e-3], [0.1, 0.4], 1e-3) == pytest.approx(2.0)
    assert np.isnan(ode_summary.well_defined_order([1e-3, 2e-3], [0.4, 0.1], 1e-3))
    assert np.isnan(ode_summary.well_defined_order([1e-3, 2e-3], [0.1, 0.4], 0.2))
    with pytest.raises(ValueError, match="^optimizer must be one of"):
        ode_transformer.check_config(_config(corpus, optimizer="sgd"))
    with pytest.raises(ValueError, match="^weight_decay must be 0 for adam"):
        ode_transformer.check_config(_config(corpus, optimizer="adam"))
    with pytest.raises(ValueError, match="^method must be one of"):
        ode_transformer.check_config(_config(corpus, method="Radau"))
    with pytest.raises(ValueError, match="^models must be among"):
        ode_transformer.check_config(_config(corpus, models=["third"]))
