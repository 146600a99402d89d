"""The k-Adam study: plan (strategies, cells, configs), splits, selection, summary, tables."""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from ctadam.data import load_mnist1d
from ctadam.experiments import kadam_bench as kb
from ctadam.experiments import kadam_plan as kp
from ctadam.experiments import kadam_tables as kt
from ctadam.runconfig import validate_config

REPO = Path(__file__).resolve().parents[1]


def study(**task):
    spec = {"arch": "mlp", "model": {"hidden": [8]}, "n_val": 30, "steps": 12,
            "batch_size": 20, "lrs": [0.003, 0.01], "log_every": 4, "norms": ["none", "layer"],
            "ks": [2, 3], "strategies": list(kp.STRATEGIES), "baselines": ["lion"], **task}
    return {"run_tasks": ["mnist1d"], "figure_task": "mnist1d", "seeds": [0, 1],
            "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1,
            "diverge_loss_factor": 20.0, "lion": {"betas": [0.9, 0.99], "lr_scale": 0.1},
            "shards": 2, "tasks": {"mnist1d": spec}}


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
    data = {"mnist1d": {"select": "s.npz", "final": "f.npz"}}
    jobs = kp.select_jobs(ka, data)
    assert len(jobs) == len(cells) * 2 and all(j["seed"] == 0 for j in jobs)
    lion = [j for j in jobs if j["cell"] == "mnist1d_none_lion_k1"]
    assert [j["lr"] for j in lion] == [0.0003, 0.001]
    for job in jobs:
        cfg = validate_config(job["config"])
        assert cfg["data"] == "s.npz" and cfg["diverge_loss_factor"] == 20.0
        assert cfg["optimizer"]["weight_decay"] == 0.1
    finals = kp.final_jobs(ka, data, {c["name"]: 0.01 for c in cells})
    assert len(finals) == len(cells) * 2 and {j["seed"] for j in finals} == {0, 1}
    shards = [kp.shard(finals, i, 3) for i in range(3)]
    assert sorted(j["name"] for s in shards for j in s) == sorted(j["name"] for j in finals)
    with pytest.raises(ValueError, match="ks must be integers >= 2"):
        kp.cells(study(ks=[1, 2]))
    with pytest.raises(ValueError, match="strategies"):
        kp.cells(study(strategies=["fancy"]))


def test_split_holds_out_training_data(tiny_mnist, tmp_path):
    kb.split("mnist1d", str(tiny_mnist), tmp_path / "s.npz", tmp_path / "f.npz", n_train=100,
             n_test=40, n_val=30)
    full, fin, sel = (load_mnist1d(tiny_mnist), load_mnist1d(tmp_path / "f.npz"),
                      load_mnist1d(tmp_path / "s.npz"))
    assert fin.x_train.shape[0] == 100 and fin.x_test.shape[0] == 40
    assert sel.x_train.shape[0] == 70 and sel.x_test.shape[0] == 30
    assert np.array_equal(sel.x_test.numpy(), full.x_train[70:100].numpy())  # never test data
    with pytest.raises(ValueError, match="n_val"):
        kb.split("mnist1d", str(tiny_mnist), tmp_path / "s.npz", tmp_path / "f.npz", n_val=500)


def fake_record(cell, lr, seed, acc, status="ok"):
    return {"job": {"cell": cell, "lr": lr, "seed": seed, "name": f"{cell}_{lr}_{seed}"},
            "config": {"task": "mnist1d"}, "status": status, "eval": {"test_acc": [acc]},
            "diverged_at": None if status == "ok" else 7, "timing": {"wall_time_s": 1.0},
            "reason": None if status == "ok" else "loss above diverge_loss_factor x its "
                                                  "running minimum"}


def fake_study():
    ka = study(norms=["none", "layer"], ks=[2], strategies=["theory"], baselines=[])
    names = [c["name"] for c in kp.cells(ka)]
    sel = []
    for i, name in enumerate(names):
        sel += [fake_record(name, 0.003, 0, 0.5 + 0.01 * i),
                fake_record(name, 0.01, 0, 0.9, status="diverged" if i == 1 else "ok")]
    return {"kadam": ka}, names, sel


def test_choose_and_summary(tmp_path):
    plan, names, sel = fake_study()
    chosen = kb.choose(plan, sel)
    assert chosen[names[0]]["lr"] == 0.01  # the better validation accuracy
    assert chosen[names[1]]["lr"] == 0.003  # the diverged run is worst
    assert not any(c["all_diverged"] for c in chosen.values())
    accs = {names[0]: [0.60, 0.62, 0.64], names[1]: [0.70, 0.73, 0.75]}
    finals = [fake_record(n, chosen[n]["lr"], s, a) for n, v in accs.items()
              for s, a in enumerate(v)]
    finals += [fake_record(n, chosen[n]["lr"], s, 0.5) for n in names[2:] for s in range(3)]
    summary = kb.summarize(plan, chosen, finals)
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
    macros = kt.macros(summary, "mnist1d")
    assert macros["KadamDivergedRuns"] == "1"
    assert macros["KadamMnistOneDNoneAdamwOne"] == "62.0 \\pm 2.0"
    assert all(name.isalpha() for name in macros)


def test_paired_and_welch_handle_divergence():
    assert kb.paired([1.0, math.nan, 3.0], [0.0, 1.0, 1.0])["n"] == 2
    assert math.isnan(kb.paired([math.nan], [1.0])["mean"])
    w = kt.welch([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert w["mean"] == pytest.approx(2.0) and w["low"] < 2.0 < w["high"]


def test_profiles_validate_and_name_the_shared_cifar_archive():
    from snakemake.utils import validate

    for name in ("smoke", "quick", "gpu", "full"):
        config = yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text())
        validate(config, str(REPO / "config" / "schema.yaml"))
        assert config["kadam"]["figure_task"] in config["kadam"]["run_tasks"]
        assert len(kp.cells(config["kadam"])) > 0
    quick = yaml.safe_load((REPO / "config" / "quick.yaml").read_text())["kadam"]
    assert {1, 2, 3, 10} <= {1, *quick["tasks"]["cifar10"]["ks"]}


def test_figure_from_summary_alone(tmp_path):
    from ctadam.plots import kadam_k

    plan, names, sel = fake_study()
    chosen = kb.choose(plan, sel)
    finals = [fake_record(n, chosen[n]["lr"], s, 0.5 + 0.01 * s) for n in names
              for s in range(2)]
    kadam_k.plot(kb.summarize(plan, chosen, finals), "mnist1d", str(tmp_path / "k.pdf"))
    assert (tmp_path / "k.pdf").stat().st_size > 0 and (tmp_path / "k.png").exists()


def test_gpu_cell_projects_the_profile_from_step_times(tiny_mnist, tmp_path):
    from ctadam.experiments import gpu_cell
    from ctadam.io import read_json

    ka = study(ks=[2], strategies=["theory"], baselines=[], norms=["none"])
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"kadam": ka}))
    gpu_cell.main(["--config", str(tmp_path / "p.yaml"), "--device", "cpu", "--steps", "3",
                   "--warmup", "1", "--data", f"mnist1d={tiny_mnist}",
                   "--out", str(tmp_path / "t.json")])
    out = read_json(tmp_path / "t.json")
    assert set(out["step_ms"]) == {"mnist1d/none/adamw/1", "mnist1d/none/kadam-pooled/2"}
    assert out["runs"] == 2 * (2 + 2) and out["projected_s"] > 0
