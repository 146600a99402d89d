"""The booktabs mean +- std table writer."""

import math

import pytest

from ctadam.tables import best_index, mean_std, mean_std_table


def test_mean_std():
    assert mean_std([1.0, 3.0]) == pytest.approx((2.0, math.sqrt(2.0)))
    assert mean_std([5.0]) == (5.0, 0.0)
    assert mean_std([2.0, math.nan, 4.0])[0] == pytest.approx(3.0)
    assert all(math.isnan(v) for v in mean_std([math.nan]))


def test_best_index():
    assert best_index([1.0, 3.0, 2.0], "max") == 1
    assert best_index([1.0, 3.0, 2.0], "min") == 0
    assert best_index([math.nan, 2.0], "min") == 1
    assert best_index([math.nan], "max") is None
    with pytest.raises(ValueError, match="goal"):
        best_index([1.0], "best")


def test_table_bolds_best_per_column():
    tex = mean_std_table(["a", "b"], ["acc", "loss"],
                         [[[90.0, 92.0], [1.5, 1.7]], [[80.0, 82.0], [1.2, 1.4]]],
                         ["max", "min"], [1, 2], row_header="opt")
    lines = tex.splitlines()
    assert lines[0] == r"\begin{tabular}{lcc}" and r"\toprule" in lines
    assert r"\midrule" in lines and r"\bottomrule" in lines
    row_a = next(line for line in lines if line.startswith("a &"))
    row_b = next(line for line in lines if line.startswith("b &"))
    assert r"$\mathbf{91.0 \pm 1.4}$" in row_a and r"$1.60 \pm 0.14$" in row_a
    assert r"$81.0 \pm 1.4$" in row_b and r"$\mathbf{1.30 \pm 0.14}$" in row_b


def test_table_empty_cell_and_shape_checks():
    tex = mean_std_table(["a", "b"], ["x"], [[None], [[1.0]]], ["max"], [0])
    assert "a & --" in tex and r"$\mathbf{1 \pm 0}$" in tex
    with pytest.raises(ValueError, match="cells"):
        mean_std_table(["a"], ["x"], [[[1.0]], [[2.0]]], ["max"], [1])
    with pytest.raises(ValueError, match="goals"):
        mean_std_table(["a"], ["x"], [[[1.0]]], ["max", "min"], [1])
