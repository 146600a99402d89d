"""The meta-adaptive experiment: same-stream comparison, three-way training, outputs."""

import pytest

from ctadam.experiments import meta_adaptive as ma
from ctadam.io import read_json
from ctadam.plots import meta_adaptive as ma_plot

BASE = {"lr": 0.003, "beta": 0.9, "gamma": 0.999, "weight_decay": 0.5, "steps": 30,
        "batch_size": 20, "n_train": 100, "hidden": [8], "seed": 0, "log_every": 5,
        "eval_every": 15}


def test_train_config_variants():
    ln = ma.train_config("adam_ln", "d.npz", BASE)
    two = ma.train_config("kadam2_none", "d.npz", BASE)
    plain = ma.train_config("adam_none", "d.npz", BASE)
    assert ln["norm"] == "layer" and plain["norm"] == "none" and two["norm"] == "none"
    assert ln["optimizer"]["name"] == "adamw" and two["optimizer"]["k"] == 2
    rho = (1 - 0.003 * 0.5) ** 2
    assert two["optimizer"]["betas"] == [[0.9, 0.999], [0.0, pytest.approx(rho)]]
    no_decay = ma.train_config("kadam2_none", "d.npz", {**BASE, "weight_decay": 0.0})
    assert no_decay["optimizer"]["betas"][1] == [0.0, 0.999]
    with pytest.raises(ValueError, match="variant"):
        ma.train_config("adam_bn", "d.npz", BASE)


def test_stream_level_two_explains_the_angle(tiny_mnist, tmp_path):
    out = tmp_path / "stream.json"
    ma.main(["stream", "--data", str(tiny_mnist), "--out", str(out), "--lams", "1.0", "0.0",
             "--hidden", "16", "--n-train", "100", "--batch-size", "20", "--steps", "300",
             "--every", "3"])
    rec = read_json(out)
    assert [r["lam"] for r in rec["runs"]] == [1.0, 0.0]
    for run in rec["runs"]:
        assert len(run["angle"]) == 100 == len(run["predicted_corrected"])
        # at beta = 0.9 the corrected closure is much closer than the naive one (the naive
        # one underestimates |w|, so it overestimates the angle)
        assert abs(run["median_ratio_corrected"] - 1) < 0.25
        assert run["median_ratio_naive"] < 0.8
        assert abs(run["median_ratio_corrected"] - 1) < abs(run["median_ratio_naive"] - 1) / 2
        assert run["median_cos_level2"] > 0.8


def test_train_numbers_and_figure(tiny_mnist, tmp_path):
    stream = tmp_path / "stream.json"
    ma.main(["stream", "--data", str(tiny_mnist), "--out", str(stream), "--lams", "1.0",
             "0.0", "--hidden", "8", "--n-train", "100", "--batch-size", "20", "--steps",
             "20", "--every", "2"])
    import json

    paths = []
    for variant in ma.VARIANTS:
        out = tmp_path / f"{variant}.json"
        ma.main(["train", "--variant", variant, "--data", str(tiny_mnist), "--params",
                 json.dumps(BASE), "--out", str(out)])
        rec = read_json(out)
        assert rec["status"] == "ok" and rec["steps_done"] == 30
        assert rec["eval"]["step"] == [15, 30]
        paths.append(str(out))
    macros = tmp_path / "m.tex"
    ma.main(["numbers", "--stream", str(stream), "--train", *paths, "--macros", str(macros)])
    text = macros.read_text()
    for name in ("MetaRatioCorrectedDecay", "MetaRatioNaiveNoDecay", "MetaCosLevelTwoDecay",
                 "MetaAccAdamLN", "MetaAccTwoAdam", "MetaAccAdamNoNorm"):
        assert f"\\newcommand{{\\{name}}}" in text
    assert r"\newcommand{\MetaStreamBeta}{0.9}" in text
    assert r"\newcommand{\MetaTrainLambda}{0.5}" in text
    assert r"\newcommand{\MetaTrainGammaTwo}{0.997}" in text  # (1 - 0.003 * 0.5)^2
    ma_plot.main(["--stream", str(stream), "--train", *paths, "--out", str(tmp_path / "f.pdf")])
    assert (tmp_path / "f.png").exists()
