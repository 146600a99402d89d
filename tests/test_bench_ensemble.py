"""The ensemble benchmark's record (``python -m ctadam.bench.ensemble``); no timing is checked."""

import json

import pytest

from ctadam.bench import ensemble


def test_record_holds_both_runs_and_the_same_work(tmp_path):
    out, tex = tmp_path / "ensemble.json", tmp_path / "numbers.tex"
    ensemble.main(["--out", str(out), "--members", "3", "--steps", "2", "--rounds", "1",
                   "--batch", "4", "--macros", str(tex)])
    record = json.loads(out.read_text())
    speedup = f"{record['results']['k1']['speedup']:.1f}"
    assert rf"\newcommand{{\BenchEnsembleSpeedupKOne}}{{{speedup}}}" in tex.read_text()
    assert record["members"] == 3 and set(record["results"]) == set(ensemble.CONFIGS)
    for result in record["results"].values():
        assert result["speedup"] == result["sequential_s"] / result["stacked_s"]
        assert result["member0_max_rel_diff"] <= 1e-12  # stacked member 0 = its run alone


@pytest.mark.parametrize("argv, message", [(["--members", "0"], "members must be"),
                                           (["--device", "tpu"], "device must be")])
def test_bad_arguments_are_refused(tmp_path, argv, message):
    with pytest.raises(ValueError, match=message):
        ensemble.main(["--out", str(tmp_path / "x.json"), *argv])
