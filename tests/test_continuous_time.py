"""Family continuous_time: the transformer on a tiny made-up corpus, the quadratics, protocol."""


import numpy as np
import pytest

from ctadam.data import _save_npz
from ctadam.experiments import continuous_time, protocol
from ctadam.experiments.continuous_time import numbers as ode_numbers
from ctadam.experiments.continuous_time import quadratics
from ctadam.experiments.continuous_time import summary as ode_summary
from ctadam.experiments.continuous_time import transformer as ode_transformer
from ctadam.io import read_json, write_json_atomic
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
    from ctadam.plots import continuous_time_error as fig2
    from ctadam.plots import continuous_time_transformer as fig1

    cfg_path = tmp_path / "configs" / "transformer_adamw.json"
    write_json_atomic(cfg_path, _config(corpus))
    assert protocol.main(["run", "continuous_time", "--configs", str(cfg_path), "--out-dir",
                          str(tmp_path / "shard0"), "--threads", "1"]) == 0
    records = [read_json(tmp_path / "shard0" / "transformer_adamw.json")]
    rec = records[0]
    assert [r["steps"] for r in rec["runs"]] == [4, 2]
    top = rec["runs"][-1]
    # The largest eta ran p = 1 and p = 0.5 for both models; p only rescales time (eq:ct-p).
    assert sorted((m["model"], m["p"]) for m in top["models"]) == [
        ("first", 0.5), ("first", 1.0), ("second", 0.5), ("second", 1.0)]
    same = [m for m in top["models"] if m["model"] == "second"]
    np.testing.assert_allclose(same[0]["sq_err"], same[1]["sq_err"], rtol=1e-3, atol=1e-16)
    summary = ode_summary.transformer_summary(records)
    s = summary["optimizers"]["adamw"]
    assert set(s["final"]) == set(continuous.MODELS)
    assert all(e > 0 for e in s["final"]["first"])
    macros = ode_numbers.summary_macros(summary)
    assert macros["OdeEtaOne"] == "0.0005" and macros["OdeEtaFigure"] == "0.001"
    assert "OdeErrAdamWSecondTwo" in macros and "OdeSolverCheckAdamWFirst" in macros
    out = write_json_atomic(tmp_path / "summary.json", {"transformer": summary})
    fig1.main(["--summary", str(out), "--out", str(tmp_path / "f1.pdf")])
    fig2.main(["--summary", str(out), "--out", str(tmp_path / "f2.pdf")])
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


CHECK = {"rtol_factor": 10.0, "max_change": 0.01, "n_etas": 1}
QUADRATIC = {"problem": "quadratic_smooth", "beta1": 0.9, "beta2": 0.99, "horizon": 0.04,
             "n_etas": 2, "eta_min": 1e-2, "eta_max": 2e-2, "weight_decay": 0.0, "rtol": 1e-12,
             "solver_check": CHECK}
CLAIM = {"models": ["first", "second"], "rates": "backward", "order": 1}


def test_quadratic_record(tmp_path, capsys):
    cfg_path = write_json_atomic(tmp_path / "configs" / "quadratic_smooth.json", QUADRATIC)
    argv = ["run", "continuous_time", "--configs", str(cfg_path), "--out-dir",
            str(tmp_path / "shard0"), "--threads", "1"]
    assert protocol.main(argv) == 0
    rec = read_json(tmp_path / "shard0" / "quadratic_smooth.json")
    # The record holds its run config verbatim, so a second run skips it (resume).
    capsys.readouterr()
    assert protocol.main(argv) == 0
    assert "quadratic_smooth: record present, skipped" in capsys.readouterr().out
    assert [r["sign_changes"] for r in rec["runs"]] == [0, 0]
    assert set(rec["order"]) == set(continuous.MODELS)
    assert set(rec["order"]["second"]) == set(continuous.RATES)
    assert all(r["second"]["backward"]["gap"] > 0 for r in rec["runs"])
    assert rec["config"] == QUADRATIC
    # Only the smallest eta (solver_check.n_etas = 1) is integrated again at the tighter rtol.
    smallest, largest = sorted(rec["runs"], key=lambda r: r["eta"])
    assert 0 <= smallest["first"]["kernel"]["rtol_change"] < 1
    assert "rtol_change" not in largest["first"]["kernel"]
    # 1e-2..2e-2 spans 0.3 decades: the numbers step refuses to report orders over it.
    with pytest.raises(ValueError, match=r"^learning rates of quadratic_smooth must span >= 1.5"):
        ode_numbers.record_macros([rec])
    with pytest.raises(ValueError, match="^eta_min must be"):
        quadratics.run(QUADRATIC | {"eta_min": 0.1, "eta_max": 0.01})


def test_runs_and_summary_name_every_run():
    section = {"beta1": 0.9, "beta2": 0.99, "horizon": 0.04, "n_etas": 2, "shards": 1,
               "solver_check": CHECK, "claim": CLAIM,
               "problems": {"quadratic_smooth": {k: QUADRATIC[k] for k in
                                                 ("eta_min", "eta_max", "weight_decay", "rtol")}},
               "transformer": {"beta2": 0.9, "weight_decay": 0.5, "etas": [1e-3]}}
    runs = continuous_time.runs(section, {"shakespeare": "s.npz"})
    assert list(runs) == ["quadratic_smooth", "transformer_adam", "transformer_adamw"]
    assert runs["quadratic_smooth"] == QUADRATIC
    assert runs["transformer_adam"]["weight_decay"] == 0.0
    assert runs["transformer_adamw"]["weight_decay"] == 0.5
    assert runs["transformer_adamw"]["data"] == "s.npz" and runs["transformer_adam"]["threads"] == 1
    with pytest.raises(ValueError, match=r"runs \['transformer_adam', 'transformer_adamw'\]"):
        continuous_time.summarize({"quadratic_smooth": {}}, section)
