"""The optimizer benchmark's summary (ctadam.experiments.bench) and its figure, drawn from it."""

import json

import pytest
from test_bench_optimizer import fake_record

from ctadam.bench import optimizer as bench
from ctadam.experiments import bench as bench_summary
from ctadam.experiments.bench import __main__ as bench_cli
from ctadam.plots import bench as bench_plot


def test_summary_keeps_the_figure_data_in_milliseconds(tmp_path):
    record = fake_record()
    summary = bench_summary.summarize(record)
    assert summary["sizes"] == [1000, 100000] and summary["ks"] == [1, 2, 3]
    fused = summary["ms"]["torch-fused"]  # 4 ms at N = 1e5, 4 us at N = 1e3
    assert fused["median"] == pytest.approx([4e-3, 4.0])
    assert fused["q1"] == pytest.approx([0.9 * 4e-3, 3.6])
    assert fused["q3"] == pytest.approx([1.1 * 4e-3, 4.4])
    assert summary["ratios"] == bench.ratios(record)
    assert summary["ratios"]["level_cost"]["foreach"]["3"] == pytest.approx(3.0)


def test_figure_from_the_summary_alone(tmp_path):
    (tmp_path / "record.json").write_text(json.dumps(fake_record(compile_path=False)))
    bench_cli.main(["--record", str(tmp_path / "record.json"), "--out",
                    str(tmp_path / "summary.json")])
    bench_plot.main(["--summary", str(tmp_path / "summary.json"), "--out",
                     str(tmp_path / "fig.pdf")])
    assert (tmp_path / "fig.pdf").stat().st_size > 0 and (tmp_path / "fig.png").stat().st_size > 0
