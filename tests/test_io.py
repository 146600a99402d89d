"""Atomic writers, JSON with non-finite floats, and LaTeX number formatting."""

import math

import pytest

from ctadam import io


def test_json_round_trips_non_finite_floats(tmp_path):
    record = {"a": [1.5, math.inf, -math.inf], "b": math.nan}
    path = io.write_json_atomic(tmp_path / "r.json", record)
    back = io.read_json(path)
    assert back["a"] == [1.5, math.inf, -math.inf] and math.isnan(back["b"])
    assert "NaN" not in path.read_text() and not list(tmp_path.glob(".*.tmp"))


def test_macros_are_sorted_and_names_checked(tmp_path):
    path = io.write_macros(tmp_path / "n.tex", {"Beta": "2", "Alpha": "1"})
    lines = [ln for ln in path.read_text().splitlines() if ln.startswith("\\newcommand")]
    assert lines == ["\\newcommand{\\Alpha}{1}", "\\newcommand{\\Beta}{2}"]
    with pytest.raises(ValueError, match="letters only"):
        io.write_macros(tmp_path / "bad.tex", {"Bad1": "x"})


@pytest.mark.parametrize("x, digits, expected", [
    (3.46e17, 2, r"\ensuremath{3.5\times 10^{17}}"),
    (1e-16, 1, r"\ensuremath{10^{-16}}"),
    (6.2e-15, 1, r"\ensuremath{6\times 10^{-15}}"),
    (-1e3, 1, r"\ensuremath{-10^{3}}"),
    (0.0, 1, "0"),
    (math.inf, 1, r"\ensuremath{\infty}"),
])
def test_latex_sci(x, digits, expected):
    assert io.latex_sci(x, digits) == expected
