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
