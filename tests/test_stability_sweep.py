"""Tests of family stability_sweep: configs, summary, the hard bound check, publish, figure."""

import json
import math

import numpy as np
import pytest
from conftest import write_fake_mnist1d

from ctadam import io
from ctadam.experiments import measures, protocol
from ctadam.experiments import stability_sweep as ssw
from ctadam.experiments.stability_sweep import summary as sws
from ctadam.experiments.stability_sweep import tables as swt
from ctadam.plots import stability_sweep
from ctadam.theory.stability import bound_n
from ctadam.train import run

SWEEP = {"beta1s": [0.5, 0.9], "beta2s": [0.7, 0.99], "eps": 1e-16,
         "eps_panel": {"beta1": 0.9, "beta2s": [0.7, 0.99], "eps": [1e-16, 1e-8]},
         "lr": 0.01, "steps": 40, "max_steps": 200, "n_train": 64, "hidden": [8],
         "dtype": "float64", "seeds": [0], "log_every": 2, "diverge_norm": 1e8,
         "monitor": {"window": 5, "max_loglog_slope": 2.0},
         "sensitivity_p_max": [1.0, 4.0, 8.0], "bound_tolerance": 1e-6,
         "instability": {"K": 10.0, "onset": 2.0, "margin": 1.5},
         "verdicts": {"alpha": 0.05, "min_seeds": 1, "agreement": 0.5, "rate_tolerance": 0.2}}
K = SWEEP["instability"]["K"]


def fake_record(beta1, beta2, eps=1e-16, u_max=None, norms=None, status="ok", flagged=None,
                seed=0, horizon=200):
    """A record with the fields the aggregation reads (``horizon``: its config's steps)."""
    n = 20
    u_max = [1.0] + [0.5] * (n - 1) if u_max is None else u_max
    steps = list(range(1, n + 1))
    norms = [5.0 + 0.1 * s for s in steps] if norms is None else norms
    return {"config": {"optimizer": {"betas": [[beta1, beta2]], "eps": eps},
                       "monitor": {"window": 5, "max_loglog_slope": 2.0},
                       "steps": horizon, "seed": seed},
            "per_step": {"update_max_abs": u_max, "update_rms": [0.5 * u for u in u_max]},
            "status": status, "diverged_at": None if status == "ok" else n,
            "monitor": {"exponential": flagged is not None, "flagged_at": flagged},
            "log": {"step": steps, "param_norm": norms}, "steps_done": n}


def grid_records(violate=False):
    """Inside: (0.5, 0.7), (0.5, 0.99), (0.9, 0.99); outside (0.9, 0.7), whose update peaks
    above K (unstable by the rule)."""
    recs = [fake_record(0.5, 0.7), fake_record(0.5, 0.99), fake_record(0.9, 0.99),
            fake_record(0.9, 0.7, norms=[math.exp(0.3 * s) for s in range(1, 21)], flagged=9,
                        u_max=[1.0] + [0.5] * 10 + [40.0] * 9),
            fake_record(0.9, 0.7, eps=1e-8), fake_record(0.9, 0.99, eps=1e-8)]
    if violate:
        b2 = float(bound_n(0.9, 0.99, 2))
        recs[2] = fake_record(0.9, 0.99, u_max=[1.0, 1.01 * b2] + [0.1] * 18)
    return recs


def test_run_ids_and_dedup():
    assert ssw.run_id(0.9, 0.7, 1e-16, 3) == "b1_0.9_b2_0.7_e1e-16_s3"
    configs = ssw.runs(SWEEP, {"mnist1d": "d.npz"})
    assert len(configs) == 4 + 2  # the panel's eps=1e-16 runs are grid runs
    cfg = configs["b1_0.9_b2_0.7_e1e-08_s0"]
    assert cfg["optimizer"] == {"name": "adam", "lr": 0.01, "betas": [0.9, 0.7], "eps": 1e-8}
    assert cfg["batch_size"] is None and cfg["data"] == "d.npz"
    two = ssw.runs({**SWEEP, "seeds": [0, 1]}, {"mnist1d": "d.npz"})
    assert len(two) == 2 * 4 + 2 and two["b1_0.5_b2_0.7_e1e-16_s1"]["seed"] == 1


def test_each_cell_gets_the_horizon_its_growth_rate_needs():
    from ctadam.instability import min_steps

    # inside: the base steps; outside: 1.5 ln(10 K)/rho, within [steps, max_steps]
    assert ssw.cell_steps(SWEEP, 0.9, 0.99) == 40
    need = min_steps(0.9, 0.7, K)
    assert ssw.cell_steps(SWEEP, 0.9, 0.7) == math.ceil(1.5 * need)
    assert ssw.cell_steps(SWEEP, 0.99, 0.98) == 200  # rho ~ 5e-5: capped, undecidable
    with pytest.raises(ValueError, match="stability_sweep.max_steps"):
        ssw.runs({**SWEEP, "beta1s": [0.99], "beta2s": [0.98]}, {"mnist1d": "d.npz"})


def test_max_growth_rate_uses_finite_prefix():
    steps = list(range(0, 200, 10))
    norms = [math.exp(0.05 * s) for s in steps[:15]] + [math.inf] * 5
    assert measures.max_growth_rate(steps, norms, 5) == pytest.approx(0.05, rel=1e-9)
    assert math.isnan(measures.max_growth_rate([1, 2], [1.0, 2.0], 5))


def test_aggregate_labels_and_agreement():
    summary = sws.aggregate(grid_records(), 1e-16, 1e-6, K)
    assert summary["grid_cells"] == 4 and summary["exact"]["agree"] == 4
    assert summary["exact"]["confusion"]["theory_unstable_measured_unstable"] == 1
    assert summary["exact"]["interval"][0] < 1.0 == summary["exact"]["interval"][1]
    run = next(r for r in summary["runs"] if r["id"] == "b1_0.9_b2_0.7_e1e-16_s0")
    assert run["unstable"] and run["peak_update_max_abs"] == 40.0
    assert run["growth_rate"] == pytest.approx(0.3, rel=1e-9)
    assert run["rho"] == pytest.approx(math.log(0.9) - 0.5 * math.log(0.7))
    assert summary["rate_over_rho"]["runs"] == 1
    # the paper's region calls (0.5, 0.7) stable too (C > 0): same agreement here
    assert summary["paper"]["agree"] == 4
    # inside runs: the first step is a sign step, |u_1| = 1 = B_1
    assert summary["bound"]["runs"] == 4
    assert summary["bound"]["max_ratio"] == pytest.approx(1.0)
    # afterwards |u| = 0.5, so the worst ratio is 0.5 / (smallest B_n, n >= 2, inside)
    smallest = min(float(bound_n(b1, b2, np.arange(2, 21)).min())
                   for b1, b2 in [(0.5, 0.7), (0.5, 0.99), (0.9, 0.99)])
    assert summary["bound"]["max_ratio_after_first"] == pytest.approx(0.5 / smallest)
    # an outside cell whose update stays below K lowers the agreement
    recs = grid_records()
    recs[3] = fake_record(0.9, 0.7)
    summary = sws.aggregate(recs, 1e-16, 1e-6, K)
    assert summary["exact"]["agree"] == 3 and summary["exact"]["disagreeing"] == [[0.9, 0.7]]


def test_undecidable_cells_are_counted_by_reason_never_as_bounded():
    from ctadam.instability import UNDECIDABLE_BOUND, UNDECIDABLE_HORIZON

    recs = [fake_record(0.5, 0.999),             # inside, B_inf = 18 > K
            fake_record(0.9, 0.7, horizon=10),   # outside, 10 < ln(100)/rho steps
            fake_record(0.9, 0.99)]
    summary = sws.aggregate(recs, 1e-16, 1e-6, K)
    assert summary["undecidable"] == {UNDECIDABLE_BOUND: 1, UNDECIDABLE_HORIZON: 1}
    assert summary["exact"]["cells"] == 1 and summary["exact"]["agree"] == 1


def test_a_cell_is_labelled_by_the_majority_of_its_seeds():
    spike = [1.0] + [0.5] * 10 + [40.0] * 9
    recs = [fake_record(0.9, 0.7, seed=s, u_max=spike if s < 2 else None) for s in range(3)]
    cell, = sws.cells([sws.summarize_run(r, K) for r in recs])
    assert (cell["seeds"], cell["unstable_seeds"], cell["unstable"]) == (3, 2, True)
    recs = [fake_record(0.9, 0.7, seed=s, u_max=spike if s < 1 else None) for s in range(3)]
    cell, = sws.cells([sws.summarize_run(r, K) for r in recs])
    assert not cell["unstable"]


def test_claims_follow_the_wilson_interval_against_the_threshold():
    summary = sws.aggregate(grid_records(), 1e-16, 1e-6, K)
    exact, paper = swt.claims(summary, SWEEP)
    assert exact["id"] == "region-exact" and paper["id"] == "region-paper"
    assert exact["value"] == 1.0 and exact["seeds"] == 1
    assert exact["rule"] == "stability_sweep_summary"
    # 4 of 4 cells: Wilson lower end 0.51 > 0.5 -> reproduced; above 0.9 -> undecidable
    assert exact["verdict"] == "reproduced"
    strict = {**SWEEP, "verdicts": {**SWEEP["verdicts"], "agreement": 0.9}}
    assert swt.claims(summary, strict)[0]["verdict"] == "undecidable at this scale"
    few = {**SWEEP, "verdicts": {**SWEEP["verdicts"], "min_seeds": 5}}
    assert swt.claims(summary, few)[0]["verdict"] == "undecidable at this scale"


def sensitivity_records():
    """Four grid cells whose labels change with p_max (window 5, steps 1..20).

    inside (0.5, 0.99): 5 + 0.1 n, p < 1 always;     inside (0.9, 0.99): n^2.5, 2 < p < 4;
    outside (0.9, 0.7): exp(0.3 n), p up to 5.4;     outside (0.5, 0.2): 5 + 0.1 n, p < 1.
    """
    steps = range(1, 21)
    return [fake_record(0.5, 0.99), fake_record(0.5, 0.2),
            fake_record(0.9, 0.99, norms=[s ** 2.5 for s in steps], flagged=5),
            fake_record(0.9, 0.7, norms=[math.exp(0.3 * s) for s in steps], flagged=9)]


def test_sensitivity_to_p_max():
    summary = sws.aggregate(sensitivity_records(), 1e-16, 1e-6, K, [8.0, 1.0, 4.0])
    rows = {r["p_max"]: r for r in summary["sensitivity"]}
    assert list(rows) == [1.0, 2.0, 4.0, 8.0]  # sorted; the rule's own p_max is added
    # (inside stable, inside unstable, outside stable, outside unstable) per p_max
    expected = {1.0: (1, 1, 1, 1), 2.0: (1, 1, 1, 1), 4.0: (2, 0, 1, 1), 8.0: (2, 0, 2, 0)}
    for p_max, counts in expected.items():
        c = rows[p_max]["confusion"]
        assert (c["theory_stable_measured_stable"], c["theory_stable_measured_unstable"],
                c["theory_unstable_measured_stable"],
                c["theory_unstable_measured_unstable"]) == counts
        assert rows[p_max]["agree"] == counts[0] + counts[3]
        assert rows[p_max]["agreement"] == pytest.approx((counts[0] + counts[3]) / 4)
    # the earlier rule's own row is the label recorded by the runs' monitors
    assert rows[2.0]["confusion"] == summary["theta_rule"]["confusion"]
    m = swt.macros(summary, {**SWEEP, "beta1s": [0.5, 0.9], "beta2s": [0.2, 0.7, 0.99],
                               "eps_panel": {"beta1": 0.9, "beta2s": [0.7, 0.99], "eps": [1e-16]}})
    assert m["SweepSensPmaxList"] == "1, 2, 4, 8"
    assert (m["SweepSensAgreementMin"], m["SweepSensAgreementMax"]) == ("50", "75")
    assert (m["SweepSensPmaxLow"], m["SweepSensInsideUnstableLow"],
            m["SweepSensOutsideStableLow"], m["SweepSensAgreementLow"]) == ("1", "1", "1", "50")
    assert (m["SweepSensPmaxHigh"], m["SweepSensInsideUnstableHigh"],
            m["SweepSensOutsideStableHigh"], m["SweepSensAgreementHigh"]) == ("8", "0", "2", "50")
    tex = swt.table(summary, 2.0)
    assert "$p_{\\max}=2$ (earlier rule) & 1 & 1 & 1 & 1 & 50\\,\\% \\\\" in tex
    assert "$p_{\\max}=4$ & 2 & 0 & 1 & 1 & 75\\,\\%" in tex
    assert tex.count("(earlier rule)") == 1 and "rule $K=10$, $\\gamma^2<\\beta$" in tex


def test_sensitivity_checks_replay_and_thresholds():
    recs = sensitivity_records()
    recs[3]["monitor"]["flagged_at"] = 12  # not the step the rule flags
    with pytest.raises(ValueError, match="replaying the monitor rule flags step 9, but the "
                                         "record's monitor flagged 12"):
        sws.aggregate(recs, 1e-16, 1e-6, K)
    with pytest.raises(ValueError, match=r"p_max must be in \(0, inf\)"):
        sws.aggregate(sensitivity_records(), 1e-16, 1e-6, K, [0.0])
    # a diverged run is unstable at every threshold
    recs = sensitivity_records()
    recs[1]["status"] = "diverged"
    summary = sws.aggregate(recs, 1e-16, 1e-6, K, [1e3])
    assert all(r["confusion"]["theory_unstable_measured_stable"] <= 1
               for r in summary["sensitivity"])
    assert summary["sensitivity"][-1]["confusion"]["theory_unstable_measured_unstable"] == 1


def write_records(directory, records):
    for i, rec in enumerate(records):
        io.write_json_atomic(directory / f"r{i}.json", rec)
    return str(directory)


def test_bound_violation_fails_loudly(tmp_path, capsys):
    with pytest.raises(measures.BoundViolation, match="b1_0.9_b2_0.99_e1e-16_s0"):
        sws.aggregate(grid_records(violate=True), 1e-16, 1e-6, K)
    records = write_records(tmp_path / "shard0", grid_records(violate=True))
    section = str(io.write_json_atomic(tmp_path / "section.json", SWEEP))
    args = ["summary", "stability_sweep", "--section", section, "--records", records,
            "--out", str(tmp_path / "s.json")]
    assert protocol.main(args) == 2
    assert "hard property violated" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()
    with pytest.raises(ValueError, match="at least one record"):
        ssw.summarize({}, SWEEP)


def test_cli_writes_summary_macros_table_and_figure(tmp_path):
    recs = grid_records()  # two shard directories
    dirs = [write_records(tmp_path / "shard0", recs[0::2]),
            write_records(tmp_path / "shard1", recs[1::2])]
    # the two directories must not share a file name (run id)
    for path in sorted((tmp_path / "shard1").glob("*.json")):
        path.rename(path.with_name(f"s1_{path.name}"))
    section = str(io.write_json_atomic(tmp_path / "section.json", SWEEP))
    out = tmp_path / "s.json"
    assert protocol.main(["summary", "stability_sweep", "--section", section,
                          "--records", *dirs, "--out", str(out)]) == 0
    assert protocol.main(["publish", "stability_sweep", "--section", section,
                          "--summary", str(out), "--macros", str(tmp_path / "m.tex"),
                          "--tables-dir", str(tmp_path),
                          "--claims", str(tmp_path / "claims.json")]) == 0
    macros = (tmp_path / "m.tex").read_text()
    assert "\\newcommand{\\SweepAgreement}{100}" in macros
    assert "\\newcommand{\\SweepCells}{4}" in macros
    table = (tmp_path / "stability_sweep_classification.tex").read_text()
    assert "\\toprule" in table and "(earlier rule) & 3 & 0 & 0 & 1 & 100" in table
    rows = json.loads((tmp_path / "claims.json").read_text())
    assert [r["id"] for r in rows] == ["region-exact", "region-paper"]
    assert "\\newcommand{\\SweepSensPmaxList}{1, 2, 4, 8}" in macros
    eps_tex = (tmp_path / "stability_sweep_eps_panel.tex").read_text()
    assert "0.7 (outside)" in eps_tex and "0.99 (inside)" in eps_tex
    stability_sweep.main(["--summary", str(out), "--out", str(tmp_path / "fig.pdf")])
    assert (tmp_path / "fig.pdf").stat().st_size > 0 and (tmp_path / "fig.png").exists()


def test_sharded_records_equal_single_runs(tmp_path, tiny_data):
    configs = ssw.runs({**SWEEP, "steps": 20}, {"mnist1d": tiny_data})
    shard = protocol.shard_ids(configs, 2)[0]
    paths = [io.write_json_atomic(tmp_path / "configs" / f"{i}.json", configs[i]) for i in shard]
    assert protocol.main(["run", "stability_sweep", "--configs", *map(str, paths),
                          "--out-dir", str(tmp_path / "out"), "--threads", "1"]) == 0
    rid = shard[-1]
    alone = run(configs[rid])
    batched = io.read_json(tmp_path / "out" / f"{rid}.json")
    for rec in (alone, batched):
        rec.pop("timing")
    assert json.dumps(io.read_json(io.write_json_atomic(tmp_path / "a.json", alone)),
                      sort_keys=True) == json.dumps(batched, sort_keys=True)


@pytest.fixture
def tiny_data(tmp_path) -> str:
    return str(write_fake_mnist1d(tmp_path / "tiny.npz", 64, 16, seed=1))


@pytest.mark.parametrize("beta1, beta2", [(0.9, 0.99), (0.5, 0.3), (0.99, 0.999)])
def test_real_runs_inside_respect_bound(tiny_data, beta1, beta2):
    """The hard property on real training: max_n max_i |u_n,i| / B_n <= 1 inside the region."""
    cfg = ssw.train_config({**SWEEP, "steps": 150}, tiny_data, beta1, beta2, 1e-16, 0)
    summary = sws.summarize_run(run(cfg), K)
    assert summary["inside"]
    assert 0.99 < summary["max_bound_ratio"] <= 1.0 + 1e-9
