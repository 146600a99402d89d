"""Tests of family stability_training: configs, measurement, summary, the hard check, figures."""

import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import write_fake_shakespeare

from ctadam import io
from ctadam.experiments import protocol
from ctadam.experiments import stability_training as fam
from ctadam.experiments.measures import max_window_slope, window_slope
from ctadam.experiments.stability_training import configs as stt
from ctadam.experiments.stability_training import growth as stabtrain_growth
from ctadam.experiments.stability_training.measure import boundary_interval, measure_run
from ctadam.plots import generalization_speed, growth_slope, region_noise, stability_band
from ctadam.theory import region, stability
from ctadam.train import run

DATA = {"mnist1d": "data/mnist1d/mnist1d.npz", "shakespeare": "data/shakespeare/shakespeare.npz"}
TASKS = {"mnist1d": {"lr": 0.01, "n_train": 50, "hidden": [8], "eval_samples": 50},
         "shakespeare": {"lr": 0.01, "n_train": 4, "block_size": 8, "n_layer": 1, "n_head": 1,
                         "n_embd": 8, "eval_samples": 8}}
ST = {"shards": 1, "eps": 1e-16, "dtype": "float64", "log_every": 10, "diverge_norm": 1e12,
      "bound_tolerance": 1e-6, "tasks": TASKS,
      "measure": {"window": 10, "growth_factor": 2.0, "sensitivity": [100.0]},
      "growth": {"tasks": ["mnist1d", "shakespeare"],
                 "lines": [{"beta1": 0.7, "points": 6, "half_length": 0.06},
                           {"beta1": 0.9, "points": 6, "half_length": 0.06}],
                 "steps": 40, "seed": 0,
                 "probe": {"tasks": ["mnist1d"], "seeds": [0, 1, 2, 3, 4], "start": 10,
                           "factor": 0.1, "skip": 5, "window": 10}},
      "band": {"tasks": ["mnist1d"], "beta1s": [0.5, 0.9], "fractions": [-0.5, 0.5, 1.5],
               "seeds": [0, 1, 2], "steps": 30},
      "noise": {"beta1": 0.5, "fractions": [-0.5, 0.5], "batch_sizes": [None, 16],
                "weight_decays": [0.0, 0.1, 1.0], "seeds": [0, 1], "steps": 30},
      "speed": {"beta1": 0.9, "beta2": 0.999, "points": 4, "seeds": [0, 1], "steps": 30,
                "n_train": 8, "block_size": 6, "eval_samples": 16, "targets": [2.9, 2.45],
                "eval_every": 10, "bootstrap": 200, "bootstrap_seed": 0},
      # the profile's shared rules (protocol.family_section adds them)
      "instability": {"K": 10.0, "onset": 2.0, "margin": 1.5},
      "verdicts": {"alpha": 0.05, "min_seeds": 5, "agreement": 0.9, "rate_tolerance": 0.2}}


def test_rule_modules_import_without_torch_or_numpy():
    code = ("import sys; import ctadam.experiments.stability_training, "
            "ctadam.experiments.stability_sweep, ctadam.experiments.protocol, ctadam.io; "
            "assert not {'torch', 'numpy'} & set(sys.modules), sorted(sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_normal_points_cross_c_zero_along_its_gradient():
    pts = stt.normal_points(0.7, 6, 0.06)
    assert len(pts) == 6 and pts[3] == (0.7, pytest.approx(0.7 / 1.3))
    c = [stt.paper_c(*p) for p in pts]
    assert c[3] == pytest.approx(0.0, abs=1e-12) and all(np.diff(c) > 0)
    assert c == pytest.approx(list(region.paper_c(*np.array(pts).T)))
    steps = np.diff(np.array(pts), axis=0)
    assert np.hypot(*steps.T) == pytest.approx(0.02)  # equal spacing, 0.06 / 3
    with pytest.raises(ValueError, match="half_length=0.9 leaves the unit square"):
        stt.normal_points(0.7, 6, 0.9)


def test_band_fractions_and_speed_points():
    assert stt.band_beta2(0.5, 0.0) == pytest.approx(0.25)
    assert stt.band_beta2(0.5, 1.0) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match=r"band fraction -2 at beta1=0.3 gives beta2=-0.0829"):
        stt.band_beta2(0.3, -2)
    b2 = stt.speed_beta2s(0.9, 0.999, 4)
    c = [stt.paper_c(0.9, b) for b in b2]
    assert c == pytest.approx([stt.paper_c(0.9, 0.999) * k / 4 for k in range(1, 5)])
    with pytest.raises(ValueError, match="beta2_max=0.5 must lie inside"):
        stt.speed_beta2s(0.9, 0.5, 4)


def test_run_configs_of_each_experiment():
    growth = stt.RUNS["growth"](ST, DATA)
    assert len(growth) == 2 * 6 * (2 + 5)  # lines x points x (training tasks + probe seeds)
    assert growth["shakespeare_g0.9_k003"]["model"]["block_size"] == 8
    assert growth["shakespeare_g0.9_k003"]["optimizer"]["betas"] == [0.9, pytest.approx(0.9 / 1.1)]
    probe = growth["probe_mnist1d_g0.7_k002_s4"]
    assert probe["steps"] == 25 and probe["seed"] == 4
    assert probe["grad_scale"] == {"start": 10, "factor": 0.1}
    assert "grad_scale" not in growth["mnist1d_g0.7_k002"]
    band = stt.RUNS["band"](ST, DATA)
    assert len(band) == 2 * 3 * 3
    cfg = band["mnist1d_g0.5_f0.5_s2"]
    assert cfg["optimizer"]["betas"] == [0.5, pytest.approx(0.25 + 0.5 / 12)]
    assert cfg["seed"] == 2 and cfg["batch_size"] is None and cfg["optimizer"]["eps"] == 1e-16
    noise = stt.RUNS["noise"](ST, DATA)
    assert len(noise) == 4 * 2 * 2  # batch full, batch 16, wd 0.1, wd 1 (wd 0 is batch full)
    assert noise["wd1_f0.5_s0"]["optimizer"]["name"] == "adamw"
    assert noise["wd1_f0.5_s0"]["optimizer"]["weight_decay"] == 1.0
    assert noise["batch16_f-0.5_s1"]["batch_size"] == 16
    speed = stt.RUNS["speed"](ST, DATA)
    assert len(speed) == 2 * 4 * 2 and speed["beta_k00_s1"]["eval_every"] == 10
    assert speed["gamma_k00_s1"]["n_train"] == 8
    assert speed["beta_k03_s0"]["model"]["block_size"] == 6
    assert speed["beta_k03_s0"]["eval_samples"] == 16
    every = fam.runs(ST, DATA)
    assert len(every) == len(growth) + len(band) + len(noise) + len(speed)
    assert every["band_mnist1d_g0.5_f0.5_s2"] == cfg and cfg["data"] == DATA["mnist1d"]
    assert set(fam.split({k: {} for k in every})["speed"]) == set(speed)
    with pytest.raises(ValueError, match="'nope_x': the id must start with one of"):
        fam.split({"nope_x": {}})
    with pytest.raises(ValueError, match=r"no run of the experiments \['band', 'noise', 'speed'\]"):
        fam.split({"growth_x": {}})


def fake_record(b1, b2, u_max, status="ok", seed=0, test_loss=None, task="mnist1d",
                grad_scale=None):
    return {"config": {"task": task, "optimizer": {"betas": [[b1, b2]], "weight_decay": 0.0},
                       "seed": seed, "batch_size": None, "grad_scale": grad_scale},
            "per_step": {"update_max_abs": list(u_max)}, "status": status,
            "diverged_at": None if status == "ok" else len(u_max),
            "eval": {"step": [10, 20, 30], "test_loss": test_loss or [3.0, 2.5, 2.4]}}


def test_window_slope_and_growth_label():
    n = np.arange(1, 101)
    slope, first, last = window_slope(np.exp(0.05 * n), 20)
    assert slope == pytest.approx(0.05) and (first, last) == (81, 100)
    # the window ends before the first non-finite update
    u = np.concatenate([np.exp(0.02 * n[:50]), [np.inf] * 50])
    assert window_slope(u, 20) == (pytest.approx(0.02), 31, 50)
    spike = np.concatenate([np.exp(0.1 * n[:30]), np.full(70, np.exp(3.0))])
    assert max_window_slope(spike, 20) == pytest.approx(0.1)
    assert window_slope(spike, 20)[0] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(window_slope([1.0, np.nan], 20)[0])
    grow = measure_run("a", fake_record(0.9, 0.7, np.exp(0.05 * n)), 20, 2.0)
    flat = measure_run("b", fake_record(0.5, 0.3, 0.5 + 0 * n), 20, 2.0)
    assert grow["growing"] and not grow["inside"] and grow["rho"] > 0
    assert not flat["growing"] and flat["band"] and flat["inside"]
    assert flat["fraction"] == pytest.approx((0.3 - 0.25) / (1 / 3 - 0.25))
    assert flat["max_bound_ratio"] == pytest.approx(
        0.5 / float(stability.bound_n(0.5, 0.3, np.arange(1, 101)).min()))
    assert measure_run("c", fake_record(0.5, 0.3, 0.5 + 0 * n, "diverged"), 20, 2.0)["growing"]


def test_boundary_interval_majority_vote():
    cells = [{"fraction": f, "growing": g} for f, g in
             [(-0.5, True), (-0.5, True), (0.5, True), (0.5, False), (1.5, False), (1.5, False)]]
    b = boundary_interval(cells)
    assert (b["low"], b["high"], b["monotone"]) == (0.5, 1.5, True)  # a tie counts as growing
    assert b["votes"] == [[-0.5, 2, 2], [0.5, 1, 2], [1.5, 0, 2]]
    cells[4]["growing"] = cells[5]["growing"] = True
    cells[2]["growing"] = False
    b = boundary_interval(cells)
    assert (b["low"], b["high"], b["monotone"]) == (1.5, None, False)
    none = boundary_interval([{"fraction": 0.2, "growing": False}])
    assert (none["low"], none["high"]) == (None, 0.2)


def test_growth_agreement_gain_and_ratios():
    runs = [{"slope": 2 * x, "paper_rate": x, "exact_rate": 0.0} for x in (0.01, 0.02, 0.0)]
    a = stabtrain_growth.agreement(runs, "paper_rate")
    assert a["points"] == 2 and a["gain"] == pytest.approx(2.0)
    assert (a["ratio_median"], a["ratio_min"], a["ratio_max"]) == pytest.approx((2, 2, 2))
    assert a["zero_points"] == 1 and a["zero_max_slope"] == 0.0
    assert math.isnan(stabtrain_growth.agreement(runs, "exact_rate")["gain"])


def write_fake_records(tmp_path, violate=False):
    """Fake records of every run in ST: growth at max(rho, 0), bounded inside; the probe runs
    grow (or shrink) at rho after their start, Adam's bias-correction factor included.

    With ``violate``, the first run of the band experiment inside the exact region exceeds B_n.
    """
    shard = tmp_path / "shard0"
    runs = fam.runs(ST, DATA)
    for k, rid in enumerate(sorted(runs)):
        cfg = runs[rid]
        n = np.arange(1, cfg["steps"] + 1)
        b1, b2 = cfg["optimizer"]["betas"]
        rho = max(float(stability.growth_rate(b1, b2)), 0.0)
        u = 0.5 * np.exp(rho * n) if rho > 0 else 0.5 + 0 * n
        if cfg.get("grad_scale"):
            n0, r = cfg["grad_scale"]["start"], float(stability.growth_rate(b1, b2))
            bias = np.sqrt(1 - b2 ** n) / (1 - b1 ** n)
            u = np.where(n > n0, 0.5 * np.exp(r * (n - n0)) * bias / bias[n0 - 1], 0.5)
        u[0] = 1.0
        if violate and rho == 0 and rid.startswith("band_"):
            u[5] = 2 * float(stability.bound_n(b1, b2, 6))
            violate = False
        losses = [3.0 - 0.01 * k - 0.1 * (b2 > 0.99), 2.5, 2.4 - 0.001 * k]
        io.write_json_atomic(shard / f"{rid}.json",
                             fake_record(b1, b2, u, seed=cfg["seed"], test_loss=losses,
                                         task=cfg["task"], grad_scale=cfg.get("grad_scale")))
    return shard


@pytest.fixture
def published(tmp_path):
    """The protocol's summary and publish steps on fake records of every experiment."""
    shard = write_fake_records(tmp_path)
    section = str(io.write_json_atomic(tmp_path / "section.json", ST))
    out = tmp_path / "s.json"
    assert protocol.main(["summary", "stability_training", "--section", section,
                          "--records", str(shard), "--out", str(out)]) == 0
    assert protocol.main(["publish", "stability_training", "--section", section,
                          "--summary", str(out), "--macros", str(tmp_path / "m.tex"),
                          "--tables-dir", str(tmp_path),
                          "--claims", str(tmp_path / "claims.json")]) == 0
    return tmp_path


@pytest.mark.parametrize("exp, module", [("growth", growth_slope), ("band", stability_band),
                                         ("noise", region_noise),
                                         ("speed", generalization_speed)])
def test_summary_publish_and_figure(published, exp, module):
    summary = io.read_json(published / "s.json")[exp]
    assert summary["bound"]["runs"] > 0 and summary["bound"]["max_ratio"] == pytest.approx(1.0)
    assert "\\toprule" in (published / f"stability_training_{exp}.tex").read_text()
    macros = (published / "m.tex").read_text()
    assert f"\\Stab{exp.capitalize()}InsideRuns" in macros
    if exp == "growth":  # the fake slopes are exactly the exact rate
        for line in summary["lines"]:
            t = line["tasks"]["mnist1d"]
            for measure in ("end", "max", "phase", "probe"):
                a = t["analysis"][measure]["rho"]
                assert a["gain"] == pytest.approx(1.0, rel=1e-6) and a["points"] > 0
            probe = t["analysis"]["probe"]
            assert probe["differ"]["follows"] == "rho" and probe["differ"]["paper"] == 0
            assert probe["band"]["points"] > 0 or line["beta1"] == 0.9  # a narrow band there
            assert probe["band"]["negative"] == probe["band"]["points"]
            assert line["tasks"]["shakespeare"]["analysis"]["probe"]["rho"]["points"] == 0
        assert "\\StabGrowthMnistExactMaxGain" in macros  # read by paper/main.tex
        assert "\\newcommand{\\StabGrowthClaimVerdict}{not reproduced}" in macros
        row = io.read_json(published / "claims.json")[0]
        assert row["id"] == "growth-rate" and row["verdict"] == "not reproduced"
        assert "follow the exact rate rho" in row["measure"] and row["seeds"] == 5
    if exp == "band":  # fake: growth at rho outside, too slow to count at gamma = 0.9
        c = summary["tasks"]["mnist1d"]["counts"]
        assert c["band"] == {"bounded": 6, "growing": 0}
        assert c["outside"] == {"bounded": 3, "growing": 3}
        b = summary["tasks"]["mnist1d"]["by_beta1"]["0.5"]["boundary"]
        assert (b["low"], b["high"], b["monotone"]) == (-0.5, 0.5, True)
        assert "\\newcommand{\\StabBandBounded}{6}" in macros
        assert "\\newcommand{\\StabBandSensOutsideGrowing}{3, 0}" in macros  # factors 2, 100
    if exp == "noise":
        assert "\\newcommand{\\StabNoiseMoved}{0}" in macros
    module.main(["--summary", str(published / "s.json"), "--out", str(published / "fig.pdf")])
    assert (published / "fig.pdf").stat().st_size > 0 and (published / "fig.png").exists()


def test_summary_fails_loudly_on_a_bound_violation(tmp_path, capsys):
    shard = write_fake_records(tmp_path, violate=True)
    section = io.write_json_atomic(tmp_path / "section.json", ST)
    args = ["summary", "stability_training", "--section", str(section), "--records", str(shard),
            "--out", str(tmp_path / "s.json")]
    assert protocol.main(args) == 2
    assert "hard property violated" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()


def test_real_transformer_run_in_the_band_respects_the_bound(tmp_path):
    """Real full-batch training (random stand-in corpus) in the band: |u_n| <= B_n holds."""
    data = write_fake_shakespeare(tmp_path / "s.npz", vocab=12)
    cfg = stt.train_config(ST, DATA, "shakespeare", 0.5, stt.band_beta2(0.5, 0.5), 0, 25)
    r = measure_run("x", run({**cfg, "data": str(data)}), 10, 2.0)
    assert r["band"] and r["inside"] and math.isfinite(r["slope"])
    assert 0.99 < r["max_bound_ratio"] <= 1.0 + 1e-9


def test_tables_do_not_depend_on_the_summary_json_key_order(published):
    """publish reads the summary back from JSON (keys sorted); the rows keep the family's order."""
    records = protocol.read_records([published / "shard0"])
    summary = fam.summarize(records, ST)
    replayed = io.read_json(published / "s.json")
    for exp, module in fam.experiment_modules().items():
        assert module.table(replayed[exp]) == module.table(summary[exp]), exp
