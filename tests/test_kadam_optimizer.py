"""The k-Adam study: plan (strategies, cells, configs), splits, selection, summary, tables."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from ctadam.data import load_mnist1d
from ctadam.experiments import kadam_optimizer as ko
from ctadam.experiments import protocol
from ctadam.experiments.kadam_optimizer import __main__ as ko_cli
from ctadam.experiments.kadam_optimizer import plan as kp
from ctadam.experiments.kadam_optimizer import selection as ks
from ctadam.experiments.kadam_optimizer import split as ksplit
from ctadam.experiments.kadam_optimizer import tables as kt
from ctadam.runconfig import validate_config

REPO = Path(__file__).resolve().parents[1]


def study(**task):
    spec = {"arch": "mlp", "model": {"hidden": [8]}, "n_val": 30, "steps": 12,
            "batch_size": 20, "lrs": [0.003, 0.01], "log_every": 4, "norms": ["none", "layer"],
            "ks": [2, 3], "strategies": list(kp.STRATEGIES), "baselines": ["lion"], **task}
    return {"run_tasks": ["mnist1d"], "figure_task": "mnist1d", "verdict_tasks": ["mnist1d"],
            "select_seeds": [0], "seeds": [0, 1],
            "verdicts": {"alpha": 0.05, "min_seeds": 5, "agreement": 0.9, "rate_tolerance": 0.2},
            "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1,
            "diverge_loss_factor": 20.0, "lion": {"betas": [0.9, 0.99], "lr_scale": 0.1},
            "shards": 2, "tasks": {"mnist1d": spec},
            "power": {"alpha": 0.05, "power": 0.8, "effect": {"test_acc": 1.0, "test_loss": 0.05},
                      "mde_ceiling": {"test_acc": 1.5, "test_loss": 0.05},
                      "sd_prior": {"test_acc": 2.8, "test_loss": 0.019}}}


def test_strategies_in_torch_letters():
    b = [0.9, 0.999]
    assert kp.strategy_betas("same", 3, b, 1e-3, 0.1) == ([[0.9, 0.999]] * 3, [False] * 3)
    assert kp.strategy_betas("nomom", 3, b, 1e-3, 0.1)[0] == [[0.9, 0.999], [0.0, 0.999],
                                                              [0.0, 0.999]]
    assert kp.strategy_betas("lastmom", 3, b, 1e-3, 0.1)[0] == [[0.0, 0.999], [0.0, 0.999],
                                                                [0.9, 0.999]]
    betas, pooled = kp.strategy_betas("theory", 3, b, 1e-2, 0.5)
    assert betas[0] == [0.9, 0.999] and pooled == [False, True, True]
    assert all(p[0] == 0.0 and p[1] == pytest.approx(0.995 ** 2) for p in betas[1:])
    with pytest.raises(ValueError, match="lr \\* weight_decay"):
        kp.strategy_betas("theory", 2, b, 1e-3, 0.0)
    with pytest.raises(ValueError, match="strategy must be one of"):
        kp.strategy_betas("fancy", 2, b, 1e-3, 0.1)


def test_cells_jobs_and_configs_validate():
    ka = study()
    cells = kp.cells(ka)
    # per norm: AdamW, Lion, 4 strategies x 2 ks
    assert len(cells) == 2 * (2 + 4 * 2)
    assert {c["name"] for c in cells} >= {"mnist1d_none_adamw_k1", "mnist1d_layer_theory_k3"}
    jobs = kp.select_jobs(ka, {"mnist1d": "s.npz"})
    assert len(jobs) == len(cells) * 2 and all(j["seed"] == 0 for j in jobs)
    lion = [j for j in jobs if j["cell"] == "mnist1d_none_lion_k1"]
    assert [j["lr"] for j in lion] == [0.0003, 0.001]
    for job in jobs:
        cfg = validate_config(job["config"])
        assert cfg["data"] == "s.npz" and cfg["diverge_loss_factor"] == 20.0
        assert cfg["optimizer"]["weight_decay"] == 0.1
    assert ko.runs(ka, {"mnist1d": "s.npz"}) == {j["name"]: j["config"] for j in jobs}
    finals = kp.final_runs(ka, {"mnist1d": "f.npz"}, {c["name"]: 0.01 for c in cells})
    assert sorted(finals) == sorted(ko.final_ids(ka))
    assert len(finals) == len(cells) * 2 and {c["seed"] for c in finals.values()} == {0, 1}
    assert ko.split_data(ka, "final") == {"mnist1d": "data/kadam_optimizer/mnist1d_final.npz"}
    with pytest.raises(ValueError, match="stage must be one of"):
        ko.split_data(ka, "test")
    with pytest.raises(ValueError, match="figure_task"):
        ko.runs({**ka, "figure_task": "cifar10"}, {"mnist1d": "s.npz"})
    with pytest.raises(ValueError, match="missing \\['mnist1d'\\]"):
        ko.runs(ka, {})
    with pytest.raises(ValueError, match="ks must be integers >= 2"):
        kp.cells(study(ks=[1, 2]))
    with pytest.raises(ValueError, match="strategies"):
        kp.cells(study(strategies=["fancy"]))


def test_split_holds_out_training_data(tiny_mnist, tmp_path):
    ksplit.split("mnist1d", str(tiny_mnist), tmp_path / "s.npz", tmp_path / "f.npz", n_train=100,
             n_test=40, n_val=30)
    full, fin, sel = (load_mnist1d(tiny_mnist), load_mnist1d(tmp_path / "f.npz"),
                      load_mnist1d(tmp_path / "s.npz"))
    assert fin.x_train.shape[0] == 100 and fin.x_test.shape[0] == 40
    assert sel.x_train.shape[0] == 70 and sel.x_test.shape[0] == 30
    assert np.array_equal(sel.x_test.numpy(), full.x_train[70:100].numpy())  # never test data
    with pytest.raises(ValueError, match="n_val"):
        ksplit.split("mnist1d", str(tiny_mnist), tmp_path / "s.npz", tmp_path / "f.npz", n_val=500)


def fake_record(lr, seed, acc, status="ok"):
    return {"config": {"task": "mnist1d", "optimizer": {"lr": lr}, "seed": seed},
            "status": status, "eval": {"test_acc": [acc]},
            "diverged_at": None if status == "ok" else 7, "timing": {"wall_time_s": 1.0},
            "reason": None if status == "ok" else "loss above diverge_loss_factor x its "
                                                  "running minimum"}


def fake_study():
    """A study of four cells with fake selection records (by run id)."""
    ka = study(norms=["none", "layer"], ks=[2], strategies=["theory"], baselines=[])
    names = [c["name"] for c in kp.cells(ka)]
    sel = {}
    for i, name in enumerate(names):
        sel[f"{name}_lr0"] = fake_record(0.003, 0, 0.5 + 0.01 * i)
        sel[f"{name}_lr1"] = fake_record(0.01, 0, 0.9, status="diverged" if i == 1 else "ok")
    return ka, names, sel


def fake_finals(ka, chosen, accs: dict) -> dict:
    """Final records by run id: accuracy ``accs[cell][seed]`` (0.5 for cells not listed)."""
    return {f"{c['name']}_s{s}": fake_record(chosen[c["name"]]["lr"], s,
                                              accs.get(c["name"], [0.5] * 3)[s])
            for c in kp.cells(ka) for s in ka["seeds"]}


def test_choose_and_summary():
    ka, names, sel = fake_study()
    ka = {**ka, "seeds": [0, 1, 2]}
    chosen = ks.choose(ka, sel)
    assert chosen[names[0]]["lr"] == 0.01  # the better validation accuracy
    assert chosen[names[1]]["lr"] == 0.003  # the diverged run is worst
    assert not any(c["all_diverged"] for c in chosen.values())
    accs = {names[0]: [0.60, 0.62, 0.64], names[1]: [0.70, 0.73, 0.75]}
    summary = ko.summarize({**sel, **fake_finals(ka, chosen, accs)}, ka)
    cell = next(c for c in summary["cells"] if c["name"] == names[1])
    assert cell["mean"] == pytest.approx(72.6667, abs=1e-3)
    d = cell["vs_adamw"]  # paired per seed: 10, 11, 11 percentage points
    assert d["n"] == 3 and d["mean"] == pytest.approx(32 / 3)
    half = 4.302653 * np.std([10, 11, 11], ddof=1) / math.sqrt(3)
    assert d["low"] == pytest.approx(32 / 3 - half, abs=1e-2)
    summary["cells"][0]["divergences"] = [{"seed": 1, "step": 7, "reason": "x"}]
    tex = kt.k_table(summary, "mnist1d")
    assert "(iii) theory" in tex and tex.count(r"\\") == 1 + 2
    assert "MNIST-1D" in kt.direct_table(summary)
    assert "Lion" in kt.baselines_table(summary)
    out = ko.publish(summary, ka)
    assert sorted(out["tables"]) == sorted(ko.TABLES)
    macros = out["macros"]
    assert macros["KadamDivergedRuns"] == "1"
    assert macros["KadamMnistOneDNoneAdamwOne"] == "62.0 \\pm 2.0"
    assert all(name.isalpha() for name in macros)


def test_summary_rejects_missing_and_stale_records():
    ka, names, sel = fake_study()
    chosen = ks.choose(ka, sel)
    finals = fake_finals(ka, chosen, {})
    with pytest.raises(ValueError, match=f"no selection record for run {names[0]}_lr0"):
        ks.choose(ka, {k: v for k, v in sel.items() if k != f"{names[0]}_lr0"})
    with pytest.raises(ValueError, match=f"no final record for run {names[0]}_s1"):
        ko.summarize({**sel, **{k: v for k, v in finals.items() if k != f"{names[0]}_s1"}},
                     ka)
    stale = dict(finals)
    stale[f"{names[1]}_s0"] = fake_record(0.01, 0, 0.5)  # the rate that was not chosen
    with pytest.raises(ValueError, match="stale final configs"):
        ko.summarize({**sel, **stale}, ka)


def test_stages_through_the_one_runner(tiny_mnist, tmp_path, monkeypatch):
    """split -> select (protocol run) -> choose (final configs) -> run -> summary -> publish."""
    ka = study(ks=[2], strategies=["theory"], baselines=[], norms=["none"], steps=4,
               n_train=100)
    monkeypatch.chdir(tmp_path)
    section = tmp_path / "section.json"
    section.write_text(json.dumps(ka))
    assert ko_cli.main(["split", "--section", str(section), "--task", "mnist1d", "--data",
                        str(tiny_mnist)]) == 0
    paths = []
    for run_id, config in ko.runs(ka, ko.split_data(ka, "select")).items():
        paths.append(tmp_path / f"{run_id}.json")
        paths[-1].write_text(json.dumps(config))
    run = ["--threads", "1", "--device", "cpu"]
    assert protocol.main(["run", "kadam_optimizer", "--configs", *map(str, paths), "--out-dir",
                          "select", *run]) == 0
    assert ko_cli.main(["choose", "--section", str(section), "--records", "select",
                        "--selection", "selection.json", "--configs-dir", "configs"]) == 0
    finals = sorted((tmp_path / "configs").glob("*.json"))
    assert [p.stem for p in finals] == sorted(ko.final_ids(ka))
    assert protocol.main(["run", "kadam_optimizer", "--configs", *map(str, finals),
                          "--out-dir", "final", *run]) == 0
    assert protocol.main(["summary", "kadam_optimizer", "--section", str(section), "--records",
                          "select", "final", "--out", "summary.json"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [len(c["values"]) for c in summary["cells"]] == [2, 2]
    assert protocol.main(["publish", "kadam_optimizer", "--section", str(section), "--summary",
                          "summary.json", "--macros", "m.tex", "--tables-dir", ".",
                          "--claims", "claims.json"]) == 0
    assert all((tmp_path / f"{stem}.tex").exists() for stem in ko.TABLES)
    rows = json.loads((tmp_path / "claims.json").read_text())
    # Two seeds and one strategy cannot judge the claim; CIFAR-10 was not run at all.
    assert [(r["id"], r["verdict"]) for r in rows] == [
        ("kadam", "undecidable at this scale"), ("kadam-cifar10", "undecidable at this scale")]
    assert "not run in this profile" in rows[1]["measure"]


def test_profiles_validate_and_name_the_shared_cifar_archive():
    from snakemake.utils import validate

    for name in ("smoke", "quick", "gpu", "full"):
        config = yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text())
        validate(config, str(REPO / "config" / "schema.yaml"))
        section = config["kadam_optimizer"]
        assert len(ko.runs(section, ko.split_data(section, "select"))) > 0
    quick = yaml.safe_load((REPO / "config" / "quick.yaml").read_text())["kadam_optimizer"]
    assert {1, 2, 3, 10} <= {1, *quick["tasks"]["cifar10"]["ks"]}


def test_figure_from_summary_alone(tmp_path):
    from ctadam.plots import kadam_optimizer as kadam_plot

    ka, names, sel = fake_study()
    chosen = ks.choose(ka, sel)
    summary = ko.summarize({**sel, **fake_finals(ka, chosen, {})}, ka)
    kadam_plot.plot(summary, "mnist1d", str(tmp_path / "k.pdf"))
    assert (tmp_path / "k.pdf").stat().st_size > 0 and (tmp_path / "k.png").exists()


def test_gpu_cell_projects_the_profile_from_step_times(tiny_mnist, tmp_path):
    from ctadam.experiments.kadam_optimizer import gpu_cell
    from ctadam.io import read_json

    ka = study(ks=[2], strategies=["theory"], baselines=[], norms=["none"])
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"kadam_optimizer": ka}))
    gpu_cell.main(["--config", str(tmp_path / "p.yaml"), "--device", "cpu", "--steps", "3",
                   "--warmup", "1", "--data", f"mnist1d={tiny_mnist}",
                   "--out", str(tmp_path / "t.json")])
    out = read_json(tmp_path / "t.json")
    assert set(out["step_ms"]) == {"mnist1d/none/adamw/1", "mnist1d/none/kadam-pooled/2"}
    assert out["runs"] == 2 * (2 + 2) and out["projected_s"] > 0


def _power_summary(sds, means, n=3):
    cells = [{"task": "mnist1d", "norm": "none", "method": "adamw", "k": 1}]
    cells += [{"task": "mnist1d", "norm": "none", "method": "theory", "k": k,
               "vs_adamw": {"sd": sd, "mean": mean, "n": n}}
              for k, (sd, mean) in enumerate(zip(sds, means, strict=True), start=2)]
    return {"metric": {"mnist1d": ["test_acc", 100.0, "max"]}, "strategies": ["theory", "same"],
            "cells": cells}


def test_power_rows_size_the_comparison_and_say_when_it_cannot_decide():
    from ctadam.stats import mde_paired, pairs_needed

    power = study()["power"]
    [row] = kt.power_rows(_power_summary([1.0, 2.0, 3.0], [0.5, -1.0, 0.2]), power)
    assert row["sd"] == 2.0 and row["pairs"] == 3 and row["largest_difference"] == 1.0
    assert row["mde"] == pytest.approx(mde_paired(2.0, 3, 0.05, 0.8, tests=2))
    assert row["pairs_for_effect"] == pairs_needed(1.0, 2.0, 0.05, 0.8, tests=2)
    assert not row["decidable"]  # an MDE of many points cannot see a 1-point difference
    [big] = kt.power_rows(_power_summary([0.1, 0.1], [5.0, 4.0], n=10), power)
    assert big["decidable"] and big["mde"] < 5.0 and big["resolved"] == 2
    assert "undecidable" in kt.power_table([row]) and "2 of 2 cells" in kt.power_table([big])


def test_the_papers_k2_claim_is_undecidable_when_its_mde_exceeds_every_difference():
    twos = [{"vs_adamw": {"sd": 2.0, "mean": m, "n": 3}} for m in (0.5, -1.0, 0.2, 0.8)]
    mde = kt.two_adam_mde(twos, 4, study()["power"])
    resolved = [abs(c["vs_adamw"]["mean"]) > mde for c in twos]
    assert mde > 1.0 and not any(resolved)
    better = [(True, True)] * 3 + [(False, False)]
    assert kt.claim_verdict(better, resolved) == "is undecidable at this scale"
    assert kt.claim_verdict(better, [True] * 4) == "holds"
    worse = [(False, False)] * 4
    assert kt.claim_verdict(worse, [True, True, False, False]) == "does not hold"
    assert kt.claim_verdict(worse, [True, False, False, False]) == "is undecidable at this scale"


# --- the ledger rows (ctadam.experiments.kadam_optimizer.verdict) from hand-made summaries ---

def _claims_summary(nets: dict, verdict_tasks=("mnist1d", "shakespeare")) -> tuple:
    """A summary whose cells hold ``nets[(task, norm)][method]`` (per-seed values; method
    'adamw' is k = 1, the strategies are k = 2), and its section."""
    from ctadam.stats import paired_t

    cells = []
    for (task, norm), methods in nets.items():
        for method, values in methods.items():
            cells.append({"task": task, "norm": norm, "method": method,
                          "k": 1 if method == "adamw" else 2, "values": list(values),
                          "vs_adamw": paired_t(values, methods["adamw"])})
    section = {**study(), "verdict_tasks": list(verdict_tasks)}
    return {"cells": cells, "metric": ks.METRIC}, section


def _net(base, shifts, noise=0.1, seeds=6, loss=False):
    """AdamW at ``base`` plus a seed effect; strategy j at ``base + shifts[j]`` plus noise."""
    rng = np.random.default_rng(len(shifts) + seeds)
    seed_effect = rng.normal(0, 1.0, seeds) * (0.01 if loss else 1.0)
    out = {"adamw": list(base + seed_effect)}
    for s, shift in zip(kp.STRATEGIES, shifts, strict=True):
        out[s] = list(base + seed_effect + shift + rng.normal(0, noise, seeds))
    return out


def _small(acc_shifts, loss_shifts, **kw):
    loss_kw = {**kw, "noise": kw.get("noise", 0.1) / 100}
    return {("mnist1d", n): _net(70.0, acc_shifts, **kw) for n in ("none", "layer")} | {
        ("shakespeare", n): _net(2.6, loss_shifts, loss=True, **loss_kw)
        for n in ("none", "layer")}


def test_the_kadam_claim_reaches_each_verdict():
    from ctadam.experiments.kadam_optimizer import verdict as kv

    # 2-Adam 2 points better (lower loss by 0.02 nats) under every strategy, 6 seeds: reproduced.
    summary, section = _claims_summary(_small([2.0] * 4, [-0.02] * 4))
    row = kv.claim_row("kadam", summary, section, "kadam_optimizer_summary")
    assert row["verdict"] == "reproduced" and row["seeds"] == 6
    from ctadam.claims import check_row
    check_row(row)
    assert row["interval"][0] < row["value"] < row["interval"][1]
    assert row["value"] == pytest.approx(2.0, abs=0.2)
    # Better under two strategies only, clearly worse under the other two: not reproduced.
    summary, section = _claims_summary(_small([2.0, 2.0, -2.0, -2.0], [-0.02] * 4))
    row = kv.claim_row("kadam", summary, section, "kadam_optimizer_summary")
    assert row["verdict"] == "not reproduced" and "2 of 4 better" in row["measure"]
    # The same effect with 3 seeds (< verdicts.min_seeds = 5): undecidable.
    summary, section = _claims_summary(_small([2.0] * 4, [-0.02] * 4, seeds=3))
    row = kv.claim_row("kadam", summary, section, "kadam_optimizer_summary")
    assert row["verdict"] == "undecidable at this scale" and "min_seeds" in row["measure"]
    # Enough seeds but noise far above the differences: the MDE exceeds them, undecidable.
    summary, section = _claims_summary(_small([0.3] * 4, [-0.002] * 4, noise=5.0))
    net = kv.network_verdict(summary, "mnist1d", "none", 0.05, 5, section["power"])
    assert net["verdict"] == "undecidable at this scale" and net["mde"] > net["largest"]
    # One strategy not run: the claim (three of four) cannot be judged.
    nets = _small([2.0] * 4, [-0.02] * 4)
    del nets[("mnist1d", "none")]["lastmom"]
    summary, section = _claims_summary(nets)
    net = kv.network_verdict(summary, "mnist1d", "none", 0.05, 5, section["power"])
    assert net["verdict"] == "undecidable at this scale" and "lastmom" in net["reason"]


def test_a_row_holds_only_where_every_network_reproduces():
    from ctadam.experiments.kadam_optimizer.verdict import combine

    r, n, u = "reproduced", "not reproduced", "undecidable at this scale"
    assert combine([r, r, r, r]) == r
    assert combine([r, n, u, r]) == n
    assert combine([r, u, r, r]) == u
    assert combine([]) == u
    # Shakespeare reversed (higher loss under 2-Adam) sinks the row although MNIST-1D holds.
    from ctadam.experiments.kadam_optimizer import verdict as kv

    summary, section = _claims_summary(_small([2.0] * 4, [0.02] * 4))
    assert kv.claim_row("kadam", summary, section, "x")["verdict"] == n


def test_cifar10_cells_of_a_cpu_profile_are_a_pipeline_check(tmp_path, monkeypatch):
    from ctadam.experiments.kadam_optimizer import verdict as kv
    from ctadam.io import write_json_atomic

    nets = _small([2.0] * 4, [-0.02] * 4) | {
        ("cifar10", n): _net(60.0, [3.0] * 4, seeds=8) for n in ("none", "layer")}
    summary, section = _claims_summary(nets)
    section["records"] = {"kadam": str(tmp_path / "absent"),
                          "kadam-cifar10": str(tmp_path / "absent")}
    rows = {r["id"]: r for r in kv.claim_rows(summary, section)}
    cifar = rows["kadam-cifar10"]
    assert cifar["verdict"] == "undecidable at this scale" and cifar["value"] is None
    assert "pipeline check, no verdict" in cifar["measure"]
    # Given as a verdict task (e.g. the GPU protocol's own section) the same cells decide.
    gpu_summary, gpu_section = _claims_summary(nets, verdict_tasks=("cifar10",))
    assert kv.claim_row("kadam-cifar10", gpu_summary, gpu_section, "x")["verdict"] == \
        "reproduced"
    # The GPU protocol's records, when present, replace the CPU profile's cells.
    write_json_atomic(tmp_path / "gpu" / "summary.json",
                      {**gpu_summary, "verdict_tasks": ["cifar10"],
                       "standalone_config": "gpu_kadam.yaml",
                       "verdicts": gpu_section["verdicts"], "power": gpu_section["power"]})
    section["records"]["kadam-cifar10"] = str(tmp_path / "gpu")
    rows = {r["id"]: r for r in kv.claim_rows(summary, section)}
    assert rows["kadam-cifar10"]["verdict"] == "reproduced"
    assert rows["kadam-cifar10"]["rule"] == "kadam_optimizer_publish"
    assert "--config config/gpu_kadam.yaml" in rows["kadam-cifar10"]["measure"]
    sentence = kv.abstract_sentence(list(rows.values()))
    assert sentence.count("is reproduced") == 2 and "pipeline check" not in sentence


def test_publish_labels_a_figure_task_outside_verdict_tasks(monkeypatch, tmp_path):
    from ctadam.plots import kadam_optimizer as kadam_plot

    ka, names, sel = fake_study()
    ka = {**ka, "verdict_tasks": [], "records": {"kadam": str(tmp_path),
                                                  "kadam-cifar10": str(tmp_path)}}
    chosen = ks.choose(ka, sel)
    summary = ko.summarize({**sel, **fake_finals(ka, chosen, {})}, ka)
    macros = ko.publish(summary, ka)["macros"]
    assert macros["KadamFigureTaskNote"] == " (pipeline check, no verdict)"
    assert macros["KadamSmallSource"] == macros["KadamCifarSource"] == "this profile's cells"
    assert "pipeline check" in macros["KadamPaperClaimNone"]
    assert "CIFAR-10 (whose CPU-profile cells are a pipeline check only)" in \
        macros["KadamAbstractSentence"]
    tables = ko.publish(summary, ka)["tables"]
    assert "MNIST-1D (pipeline check)" in tables["kadam_optimizer_direct_table"]
    assert "MNIST-1D (pipeline check), no norm" in tables["kadam_optimizer_baselines_table"]
    judged = ko.publish(summary, {**ka, "verdict_tasks": ["mnist1d"]})["macros"]
    assert judged["KadamFigureTaskNote"] == "" and "pipeline" not in judged["KadamPaperClaimNone"]
    titles = []
    monkeypatch.setattr(kadam_plot.style, "save",
                        lambda fig, out: titles.append(fig._suptitle.get_text()
                                                       if fig._suptitle else ""))
    kadam_plot.plot(summary, "mnist1d", str(tmp_path / "k.pdf"))
    kadam_plot.plot({**summary, "verdict_tasks": ["mnist1d"]}, "mnist1d", str(tmp_path / "k.pdf"))
    assert titles == ["MNIST-1D: pipeline check, no verdict", ""]


def test_a_profile_whose_seeds_cannot_reach_the_mde_ceiling_warns_at_parse_time(capsys):
    from ctadam.experiments.kadam_optimizer import power as kpow

    quick = protocol.family_section(
        yaml.safe_load((REPO / "config" / "quick.yaml").read_text()), "kadam_optimizer")
    lines = kpow.warn(quick)
    assert [line.split(": with ")[0] for line in lines] == ["WARNING: kadam_optimizer"] * 2
    assert "mnist1d" in lines[0] and "shakespeare" in lines[1]
    assert "WARNING" in capsys.readouterr().err
    needed = kpow.pairs_for_ceiling(quick, "mnist1d")
    assert kpow.planned_mde(quick, "mnist1d") > 1.5
    assert kpow.planned_mde({**quick, "seeds": list(range(needed))}, "mnist1d") <= 1.5
    assert kpow.planned_mde({**quick, "seeds": list(range(needed - 1))}, "mnist1d") > 1.5
    enough = {**quick, "seeds": list(range(max(needed, kpow.pairs_for_ceiling(
        quick, "shakespeare"))))}
    assert kpow.mde_warnings(enough) == []
    with pytest.raises(ValueError, match="power.sd_prior.test_acc"):
        kpow.mde_warnings({**quick, "power": {**quick["power"],
                                              "sd_prior": {"test_acc": -1, "test_loss": 1}}})


def test_selection_averages_its_seeds():
    ka, names, sel = fake_study()
    ka = {**ka, "select_seeds": [0, 3]}
    more = {f"{k}_s3": fake_record(v["config"]["optimizer"]["lr"], 3,
                                   v["eval"]["test_acc"][0] - (0.85 if k.endswith("lr1") else 0))
            for k, v in sel.items()}
    chosen = ks.choose(ka, {**sel, **more})
    # Seed 3 makes the larger rate worse on average: the smaller rate wins now.
    assert chosen[names[0]]["lr"] == 0.003
    assert chosen[names[0]]["scores"][0] == pytest.approx(100 * 0.5)
    with pytest.raises(ValueError, match=f"no selection record for run {names[0]}_lr0_s3"):
        ks.choose(ka, sel)
    with pytest.raises(ValueError, match="select_seeds"):
        kp.select_seeds({**ka, "select_seeds": [0, 0]})


# --- standalone protocols (ctadam.experiments.kadam_optimizer.standalone) ---

def _tiny_gpu_protocol(tmp_path, **gpu):
    """A tiny protocol config (1 norm, k in {2, 3}, 4 final seeds) and a fake CIFAR-10 file."""
    from ctadam.experiments.kadam_optimizer.split import _save_npz

    rng = np.random.default_rng(0)
    data = tmp_path / "cifar.npz"
    _save_npz(data, {"x_train": rng.integers(0, 256, (48, 3, 32, 32), dtype=np.uint8),
                     "y_train": rng.integers(0, 10, 48, dtype=np.uint8),
                     "x_test": rng.integers(0, 256, (16, 3, 32, 32), dtype=np.uint8),
                     "y_test": rng.integers(0, 10, 16, dtype=np.uint8)})
    config = yaml.safe_load((REPO / "config" / "gpu_kadam.yaml").read_text())
    ka = config["kadam_optimizer"]
    ka["seeds"] = [0, 1, 2, 3]
    ka["tasks"]["cifar10"].update(model={"channels": [4]}, n_val=8, steps=3, batch_size=8,
                                  lrs=[0.001, 0.01], log_every=1, norms=["none"], ks=[2, 3])
    config["standalone"].update(processes=1, **gpu)
    path = tmp_path / "gpu_kadam.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, data


def test_gpu_protocol_config_is_the_reviewers_protocol():
    from ctadam.experiments.kadam_optimizer import standalone as gp

    section, gpu = gp.load(REPO / "config" / "gpu_kadam.yaml")
    spec = section["tasks"]["cifar10"]
    assert spec["n_train"] is None and spec["n_test"] is None
    assert gp.epochs(section, "cifar10", 50_000) >= 10
    assert len(section["select_seeds"]) >= 2 and len(section["seeds"]) >= 16
    assert sorted(spec["strategies"]) == sorted(kp.STRATEGIES) and spec["norms"] == ["none",
                                                                                     "layer"]
    assert [1, *spec["ks"]] == list(range(1, 11)) and section["verdict_tasks"] == ["cifar10"]


def test_gpu_protocol_dry_run_plans_it_on_the_cpu(tmp_path, capsys):
    from ctadam.experiments.kadam_optimizer import standalone as gp

    config, data = _tiny_gpu_protocol(tmp_path)
    assert ko_cli.main(["protocol", "--config", str(config), "--out", str(tmp_path / "o"),
                        "--data", f"cifar10={data}", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "ESTIMATE on one GPU (not measured)" in printed
    plan = json.loads((tmp_path / "o" / "plan.json").read_text())
    # 1 AdamW + 4 strategies x 2 ks = 9 cells; 2 rates x 2 selection seeds; 4 final seeds.
    assert (plan["cells"], plan["select_runs"], plan["final_runs"]) == (9, 36, 36)
    assert plan["total_steps"] == 72 * 3 and not plan["stacked"]
    assert plan["tasks"]["cifar10"]["epochs"] == pytest.approx(3 * 8 / 48)
    fit = plan["ops"]["cifar10/none"]
    assert fit["kadam"]["b"] > 0 and fit["adamw"]["a"] > 0  # a level costs operators
    cells = [{"task": "cifar10", "norm": "none", "method": "adamw", "k": 1}] + [
        {"task": "cifar10", "norm": "none", "method": m, "k": k}
        for m in kp.STRATEGIES for k in (2, 3)]
    launch = sum(3 * gp.per_step(plan["ops"], c) * plan["seconds_per_op"] * 8 for c in cells)
    assert plan["launch_bound_s"] == pytest.approx(launch)
    fixed = plan["cpu_run_fixed_s"]["cifar10/none"]
    assert fixed == 0  # a GPU config times CPU steps alone (no whole runs)
    cpu = sum((3 * gp.per_step(plan["cpu_step_s"], c) + fixed) * 8 for c in cells)
    assert plan["cpu_estimate_s"] == pytest.approx(cpu) and cpu > 0  # 1 process
    assert plan["gpu_estimate_s"] == max(plan["launch_bound_s"], plan["compute_bound_s"])
    assert plan["estimate_s"] == plan["gpu_estimate_s"]  # the config's device is cuda
    assert plan["gpu_stacked_estimate_s"] <= plan["gpu_estimate_s"]
    assert plan["fits_budget"] == (plan["estimate_s"] <= plan["budget_s"])
    assert not (tmp_path / "o" / "final").exists()  # a dry run trains nothing
    cpu_config = yaml.safe_load(config.read_text())
    cpu_config["device"] = "cpu"
    config.write_text(yaml.safe_dump(cpu_config))
    on_cpu = gp.dry_run(config, {"cifar10": str(data)})
    # Whole runs timed: a run's fixed cost (set-up, data, evaluation) is in the CPU estimate.
    assert on_cpu["cpu_run_fixed_s"]["cifar10/none"] > 0
    assert on_cpu["estimate_s"] == on_cpu["cpu_estimate_s"] > 0
    bad = yaml.safe_load(config.read_text())
    bad["standalone"]["widen_factor"] = 1.0
    config.write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError, match="standalone.widen_factor"):
        gp.load(config)


def test_widening_extends_the_grid_at_the_edge_a_cell_chose():
    from ctadam.experiments.kadam_optimizer import standalone as gp

    section = {"run_tasks": ["cifar10"], "weight_decay": 0.1,
               "tasks": {"cifar10": {"lrs": [0.001, 0.003, 0.01], "strategies": ["theory"]}}}
    lrs = [0.001, 0.003, 0.01]
    sel = {"a": {"task": "cifar10", "lrs": lrs, "lr": 0.01, "at_edge": True},
           "b": {"task": "cifar10", "lrs": lrs, "lr": 0.003, "at_edge": False}}
    assert gp.widen(section, sel, 3.0)
    assert section["tasks"]["cifar10"]["lrs"] == [0.001, 0.003, 0.01, 0.03]
    sel["a"]["at_edge"] = False
    assert not gp.widen(section, sel, 3.0)


@pytest.mark.slow
def test_gpu_protocol_runs_end_to_end_on_the_cpu(tmp_path, monkeypatch):
    config, data = _tiny_gpu_protocol(tmp_path, max_widen=1)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "rec"
    assert ko_cli.main(["protocol", "--config", str(config), "--out", str(out), "--data",
                        f"cifar10={data}", "--device", "cpu", "--work", str(tmp_path / "w")]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["cells"]) == 9 and all(len(c["values"]) == 4 for c in summary["cells"])
    [row] = json.loads((out / "claims.json").read_text())
    assert row["id"] == "kadam-cifar10" and row["seeds"] <= 4
    assert row["verdict"] == "undecidable at this scale"  # 4 seeds < min_seeds
    assert "--dry-run" not in (out / "command.txt").read_text()
    assert not any("per_step" in json.loads(p.read_text()) for p in (out / "final").glob("*"))
