"""The k-Adam benchmark: splits, configs, selection, the character loop, table and figure."""

import json
import math

import numpy as np
import pytest

from ctadam.data import arrays_sha256, load_mnist1d, load_shakespeare
from ctadam.experiments import kadam_bench as kb
from ctadam.io import read_json, write_json_atomic
from ctadam.plots import kadam_curves

MNIST_PARAMS = {"arch": "mlp", "model": {"hidden": [8]}, "steps": 20, "batch_size": 20,
                "metric": "acc", "log_every": 5, "eval_every": 10, "betas": [0.9, 0.999]}
CHAR_PARAMS = {"arch": "char_transformer", "steps": 6, "batch_size": 4, "metric": "loss",
               "model": {"n_layer": 1, "n_head": 2, "n_embd": 8, "block_size": 8,
                         "eval_batches": 2}, "log_every": 2, "eval_every": 3}


@pytest.fixture
def tiny_corpus(tmp_path):
    """A corpus file in the layout of ctadam.data.build_shakespeare (ids into a vocab)."""
    text = "to be or not to be that is the question " * 20
    vocab = np.unique(np.frombuffer(text.encode(), dtype=np.uint8)).astype(np.int64)
    ids = np.searchsorted(vocab, np.frombuffer(text.encode(), dtype=np.uint8)).astype(np.uint16)
    arrays = {"train": ids[:700], "val": ids[700:], "vocab": vocab}
    path = tmp_path / "shakespeare.npz"
    np.savez(path, sha256=np.array(arrays_sha256(arrays)), **arrays)
    return path


def test_splits_hold_out_training_data(tiny_mnist, tiny_corpus, tmp_path):
    kb.split("mnist1d", tiny_mnist, tmp_path / "sel.npz", n_val=30)
    full, sel = load_mnist1d(tiny_mnist), load_mnist1d(tmp_path / "sel.npz")
    assert sel.x_train.shape[0] == 90 and sel.x_test.shape[0] == 30
    assert np.array_equal(sel.x_test.numpy(), full.x_train[-30:].numpy())  # never the test set
    kb.split("shakespeare", tiny_corpus, tmp_path / "selc.npz", val_fraction=0.2)
    corpus, selc = load_shakespeare(tiny_corpus), load_shakespeare(tmp_path / "selc.npz")
    assert len(selc.train) + len(selc.val) == len(corpus.train) and selc.vocab == corpus.vocab
    with pytest.raises(ValueError, match="n_val"):
        kb.split("mnist1d", tiny_mnist, tmp_path / "bad.npz", n_val=120)


def test_configs():
    cfg = kb.train_config("mnist1d", "d.npz", "layer", 3, 0.01, 2, MNIST_PARAMS)
    assert cfg["optimizer"]["betas"] == [[0.9, 0.999]] * 3 and cfg["optimizer"]["k"] == 3
    assert cfg["norm"] == "layer" and cfg["seed"] == 2 and cfg["steps"] == 20
    with pytest.raises(ValueError, match="task"):
        kb.train_config("imagenet", "d", "none", 1, 0.1, 0, MNIST_PARAMS)
    with pytest.raises(ValueError, match="norm"):
        kb.train_config("mnist1d", "d", "batch", 1, 0.1, 0, MNIST_PARAMS)


def test_final_metric():
    ok = {"status": "ok", "eval": {"test_loss": [2.0, 1.0], "test_acc": [0.1, 0.6]}}
    assert kb.final_metric(ok, "loss") == 1.0 and kb.final_metric(ok, "acc") == -0.6
    assert kb.final_metric({**ok, "status": "diverged"}, "loss") == math.inf
    assert kb.final_metric({"status": "ok", "eval": {"test_loss": [], "test_acc": []}},
                           "acc") == math.inf
    with pytest.raises(ValueError, match="metric"):
        kb.final_metric(ok, "f1")


def test_select_picks_best_and_fails_when_all_diverge(monkeypatch):
    def fake(cfg, device="cpu"):
        lr = cfg["optimizer"]["lr"]
        status = "diverged" if lr > 0.05 else "ok"
        return {"status": status, "eval": {"test_loss": [abs(lr - 0.01)], "test_acc": [0.5]}}

    monkeypatch.setattr(kb, "run_cell", fake)
    params = {**MNIST_PARAMS, "metric": "loss"}
    res = kb.select("mnist1d", "d", "none", 2, [0.001, 0.01, 0.1], params)
    assert res["lr"] == 0.01 and res["scores"][2] == math.inf
    with pytest.raises(RuntimeError, match="diverged"):
        kb.select("mnist1d", "d", "none", 2, [0.1, 0.2], params)


def test_cli_select_final_table_and_curves(tiny_mnist, tiny_corpus, tmp_path):
    finals = []
    for task, data, params in (("mnist1d", tiny_mnist, MNIST_PARAMS),
                               ("shakespeare", tiny_corpus, CHAR_PARAMS)):
        for norm, k in (("none", 1), ("layer", 2)):
            sel, fin = tmp_path / f"s_{task}{norm}{k}.json", tmp_path / f"f_{task}{norm}{k}.json"
            common = ["--task", task, "--norm", norm, "--k", str(k), "--params",
                      json.dumps(params)]
            kb.main(["select", *common, "--data", str(data), "--lrs", "0.003", "0.01",
                     "--out", str(sel)])
            kb.main(["final", *common, "--data", str(data), "--selection", str(sel),
                     "--seeds", "0", "1", "--out", str(fin)])
            rec = read_json(fin)
            assert rec["lr"] == read_json(sel)["lr"] and len(rec["records"]) == 2
            assert all(r["status"] == "ok" for r in rec["records"])
            finals.append(str(fin))
    char = read_json(finals[-1])["records"][0]
    assert char["eval"]["step"] == [3, 6] and math.isfinite(char["eval"]["test_loss"][-1])
    table, macros = tmp_path / "t.tex", tmp_path / "m.tex"
    kb.main(["table", "--finals", *finals, "--table", str(table), "--macros", str(macros),
             "--summary", str(tmp_path / "s.json")])
    tex = table.read_text()
    assert tex.count(r"\mathbf") == 2 and "MNIST-1D" in tex and "Shakespeare" in tex
    assert "2-Adam, LayerNorm" in tex
    assert r"\newcommand{\KadamBestMnistOneD}" in macros.read_text()
    assert r"\newcommand{\KadamShakespeareLayerTwo}" in macros.read_text()
    assert r"\newcommand{\KadamBeta}{0.9}" in macros.read_text()
    assert r"\newcommand{\KadamKs}{1, 2}" in macros.read_text()
    kadam_curves.main(["--finals", *finals, "--out", str(tmp_path / "c.pdf")])
    assert (tmp_path / "c.png").exists()


def test_table_reports_divergence_as_missing(tmp_path):
    def final(k, acc, status="ok"):
        rec = {"status": status, "eval": {"test_acc": [acc], "test_loss": [1.0]},
               "config": {"optimizer": kb.optimizer_block(k, 0.01, MNIST_PARAMS)}}
        return {"task": "mnist1d", "norm": "none", "k": k, "lr": 0.01, "records": [rec, rec]}

    tex, macros, summary = kb.table([final(1, 0.5), final(2, 0.7, "diverged")])
    assert r"$\mathbf{50.0 \pm 0.0}$" in tex and "2-Adam, no norm & --" in tex
    assert (macros["KadamBeta"], macros["KadamGamma"], macros["KadamWeightDecay"]) == \
        ("0.9", "0.999", "0")
    other = final(1, 0.5)
    other["records"][0]["config"]["optimizer"]["betas"] = [[0.0, 0.999]]
    with pytest.raises(ValueError, match="one \\(beta, gamma\\) pair"):
        kb.table([final(1, 0.5), other])
    assert summary["cells"][1]["diverged"] == 2
    write_json_atomic(tmp_path / "x.json", summary)  # NaN cells stay valid JSON


def test_diagnose_variants_and_macros(monkeypatch):
    seen = []

    def fake(cfg, device="cpu"):
        seen.append((cfg["optimizer"]["k"], cfg["optimizer"]["betas"], cfg["norm"]))
        acc = 0.3 if cfg["optimizer"]["betas"][-1] == [0.9, 0.999] and cfg["optimizer"]["k"] == 2 \
            else 0.6
        return {"status": "ok", "eval": {"test_acc": [acc], "test_loss": [1.0]}}

    monkeypatch.setattr(kb, "run_cell", fake)
    res = kb.diagnose("mnist1d", "d", [0.001, 0.01], MNIST_PARAMS, (0.0, 0.99))
    assert {b[1][-1][0] for b in seen if b[0] == 2} == {0.9, 0.0}
    assert {n for *_, n in seen} == {"none"}
    macros = kb.diagnose_macros(res)
    assert macros["KadamDiagSame"] == "30.0\\%" and macros["KadamDiagUpper"] == "60.0\\%"
    assert macros["KadamDiagUpperGamma"] == "0.99"
