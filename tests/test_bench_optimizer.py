"""The optimizer speed benchmark: record layout, ratios, macros and table (its summary and
figure: tests/test_bench.py)."""

import re

import pytest

from ctadam.bench import optimizer as bench
from ctadam.io import read_json


def fake_record(compile_path: bool = True) -> dict:
    """A record with chosen medians: Adam foreach 10 ms, fused 4 ms, KAdam k costs k x."""
    names = bench.config_names([1, 2, 3], compile_path)
    base = {"torch-foreach": 10.0, "torch-single": 8.0, "torch-fused": 4.0,
            "kadam-foreach": 11.0, "kadam-single": 8.0, "kadam-compile": 4.4}
    results = {}
    for size, scale in ((1000, 1e-3), (100000, 1.0)):
        res = {}
        for name in names:
            prefix, _, level = name.rpartition("-k")
            ms = base[prefix] * int(level) if name.startswith("kadam") else base[name]
            ms *= scale
            res[name] = {"median_s": ms / 1e3, "q1_s": 0.9 * ms / 1e3, "q3_s": 1.1 * ms / 1e3,
                         "min_s": (0.7 if name == "torch-fused" else 0.8) * ms / 1e3,
                         "first_step_s": (2.5 if "compile" in name else 0.01) * scale,
                         "samples_s": [ms / 1e3]}
        results[str(size)] = res
    return {"sizes": [1000, 100000], "ks": [1, 2, 3], "repeats": 5, "warmup": 1, "threads": 1,
            "dtype": "float32", "compile_path": compile_path, "names": names,
            "results": results,
            "machine": {"torch": "x", "cpus": 2, "load_average_before": 0.25}}


def test_traffic_ratio_counts_tensors():
    assert bench.traffic_ratio(1) == 1.0
    assert bench.traffic_ratio(2) == pytest.approx(11 / 7)
    assert bench.traffic_ratio(3) == pytest.approx(15 / 7)


def test_ratios_at_largest_size():
    r = bench.ratios(fake_record())
    assert r["size"] == 100000
    assert r["foreach_vs_torch_foreach"] == pytest.approx(1.1)
    assert r["single_vs_torch_single"] == pytest.approx(1.0)
    assert r["compile_vs_torch_fused"] == pytest.approx(1.1)
    assert r["compile_vs_torch_fused_min"] == pytest.approx(1.1 * 0.8 / 0.7)
    assert r["foreach_vs_torch_foreach_min"] == pytest.approx(1.1)
    assert r["level_cost"]["compile"] == {"1": 1.0, "2": 2.0, "3": 3.0}
    assert r["level_bound"]["2"] == pytest.approx(1.2 * 11 / 7)
    assert r["compile_seconds_k1"] == pytest.approx(2.5e-3)  # first step at the smallest size


def test_macros_and_table(tmp_path):
    record = fake_record()
    macros = bench.macros(record)
    assert macros["BenchForeachVsTorchForeach"] == "1.10"
    assert macros["BenchCompiledVsTorchFused"] == "1.10"
    assert macros["BenchCompiledLevelThree"] == "3.00"
    assert macros["BenchLevelBoundTwo"] == "1.89"
    assert macros["BenchTorchFusedMs"] == "4"
    assert macros["BenchSize"] == "10^{5}"
    assert macros["BenchForeachVsTorchForeachMin"] == "1.10"
    assert macros["BenchLoadAverage"] == "0.2" and macros["BenchCpus"] == "2"
    assert all(re.fullmatch("[A-Za-z]+", name) for name in macros)
    table = bench.latex_table(record)
    assert r"\toprule" in table and r"\bottomrule" in table
    assert table.count(r"\\") == len(record["names"]) + 1
    without = bench.macros(fake_record(compile_path=False))
    assert without["BenchCompiledVsTorchFused"] == "n/a"
    assert without["BenchCompiledLevelTwo"] == "n/a"
    assert without["BenchForeachLevelTwo"] == "2.00"
    assert set(without) == set(macros)  # the paper's macros exist under every profile


def scaled(record: dict, name: str, factor: float) -> dict:
    """``record`` with every time of ``name`` at the largest size multiplied by ``factor``."""
    stats = record["results"][str(max(record["sizes"]))][name]
    for key in ("median_s", "q1_s", "q3_s", "min_s"):
        stats[key] *= factor
    return record


def test_ratio_text_shows_the_side_of_the_target():
    assert bench.ratio_text(1.096, 1.1) == "1.10"
    assert bench.ratio_text(1.104, 1.1) == "1.104"
    assert bench.ratio_text(1.0999999999999999, 1.1) == "1.10"
    assert bench.ratio_text(1.1 + 1e-9, 1.1) == repr(1.1 + 1e-9)
    assert bench.ratio_text(2.0, 1.8857) == "2.00"


def test_targets_met_and_not_met():
    record = fake_record()  # default 1.1 x foreach, compiled 1.1 x fused, k levels cost k x
    met = bench.targets(record)
    assert met["default"] is True and met["fast"] is True
    assert met["levels"] == [(kind, k) for kind in ("foreach", "single", "compile")
                             for k in (2, 3)]
    macros = bench.macros(record)
    assert macros["BenchDefaultOutcome"] == macros["BenchFastOutcome"] == "met"
    assert macros["BenchLevelOutcome"] == (
        "not met by the default path at $k = 2$, the default path at $k = 3$, "
        "the per-tensor path at $k = 2$, the per-tensor path at $k = 3$, "
        "the compiled path at $k = 2$ and the compiled path at $k = 3$")
    assert (macros["BenchTargetDefault"], macros["BenchTargetFast"],
            macros["BenchTargetLevelSlack"]) == ("1.1", "1.2", "1.2")

    slow = scaled(scaled(fake_record(), "kadam-foreach-k1", 1.104 / 1.1),
                  "kadam-compile-k1", 1.25 / 1.1)
    macros = bench.macros(slow)
    assert macros["BenchForeachVsTorchForeach"] == "1.104"
    assert macros["BenchDefaultOutcome"] == macros["BenchFastOutcome"] == "not met"
    assert macros["BenchCompiledVsTorchFused"] == "1.25"

    cheap = fake_record()  # k levels cost exactly the traffic ratio: every pair meets 1.2 x it
    for kind in ("foreach", "single", "compile"):
        for k in (2, 3):
            scaled(cheap, f"kadam-{kind}-k{k}", bench.traffic_ratio(k) / k)
    assert bench.targets(cheap)["levels"] == []
    assert bench.macros(cheap)["BenchLevelOutcome"] == "met on every path at every $k$ timed"
    one = fake_record()
    one["ks"] = [1]
    assert bench.macros(one)["BenchLevelOutcome"] == bench.NOT_CHECKED
    mixed = scaled(fake_record(), "kadam-single-k3", 0.6)  # cost 3 -> 1.8, under 2.57
    assert (bench.macros(mixed)["BenchLevelOutcome"].count("per-tensor path at $k = 2$, the")
            == 1 and "per-tensor path at $k = 3$" not in bench.macros(mixed)["BenchLevelOutcome"])


def test_outcomes_without_compiled_path():
    macros = bench.macros(fake_record(compile_path=False))
    assert macros["BenchFastOutcome"] == bench.NOT_CHECKED
    assert macros["BenchDefaultOutcome"] == "met"
    assert "compiled" not in macros["BenchLevelOutcome"]


def test_measure_cli_writes_record_and_numbers(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["measure", "--out", str(out), "--sizes", "500", "2000", "--ks", "1", "2",
                "--repeats", "3", "--warmup", "1", "--no-compile"])
    record = read_json(out)
    assert record["names"] == bench.config_names([1, 2], compile_path=False)
    for size in ("500", "2000"):
        for stats in record["results"][size].values():
            assert 0 < stats["min_s"] <= stats["q1_s"] <= stats["median_s"] <= stats["q3_s"]
            assert len(stats["samples_s"]) == 3
    assert "foreach_vs_torch_foreach" in capsys.readouterr().out
    macros, table = tmp_path / "numbers_bench.tex", tmp_path / "table.tex"
    bench.main(["numbers", "--record", str(out), "--macros", str(macros), "--table", str(table)])
    assert r"\newcommand{\BenchForeachVsTorchForeach}" in macros.read_text()
    assert r"\newcommand{\BenchFastOutcome}{not checked in this profile}" in macros.read_text()
    assert re.search(r"\\newcommand\{\\BenchDefaultOutcome\}\{(met|not met)\}",
                     macros.read_text())
    assert r"\begin{tabular}" in table.read_text()


@pytest.mark.parametrize("argv, message", [
    (["--sizes", "0"], r"sizes must be an integer >= 1"),
    (["--ks", "9"], r"ks must be an integer \[1, 8\]"),
    (["--repeats", "0"], r"repeats must be an integer >= 1"),
    (["--warmup", "-1"], r"warmup must be an integer >= 0"),
])
def test_measure_rejects_bad_arguments(tmp_path, argv, message):
    with pytest.raises(ValueError, match=message):
        bench.main(["measure", "--out", str(tmp_path / "x.json"), *argv])
