"""Tests of ctadam.paper: collecting number macros and reading the LaTeX log."""

import re
from pathlib import Path

import pytest

from ctadam import paper
from ctadam.io import write_macros


@pytest.fixture
def macro_files(tmp_path):
    """Two per-family macro files written the way the families write them."""
    a = write_macros(tmp_path / "numbers_a.tex", {"AlphaOne": "1.5", "AlphaTwo": "2"}, "family a")
    b = write_macros(tmp_path / "numbers_b.tex", {"BetaOne": r"\num{3e-4}"}, "family b")
    return a, b


def test_concat_keeps_every_macro_once_in_input_order(macro_files, tmp_path):
    out = paper.concat_numbers(list(macro_files), tmp_path / "numbers.tex")
    text = out.read_text()
    assert paper.macro_names(text) == ["AlphaOne", "AlphaTwo", "BetaOne"]
    assert r"\newcommand{\BetaOne}{\num{3e-4}}" in text
    assert text.index("numbers_a.tex") < text.index("numbers_b.tex")


def test_concat_rejects_a_macro_defined_in_two_files(macro_files, tmp_path):
    clash = write_macros(tmp_path / "numbers_c.tex", {"AlphaTwo": "9"})
    with pytest.raises(ValueError, match=r"\\AlphaTwo.*numbers_a\.tex.*numbers_c\.tex"):
        paper.concat_numbers([*macro_files, clash], tmp_path / "numbers.tex")
    assert not (tmp_path / "numbers.tex").exists()


def test_concat_needs_inputs_that_exist(tmp_path):
    with pytest.raises(ValueError, match="inputs"):
        paper.concat_numbers([], tmp_path / "numbers.tex")
    with pytest.raises(FileNotFoundError):
        paper.concat_numbers([tmp_path / "absent.tex"], tmp_path / "numbers.tex")


CLEAN_LOG = """\
This is pdfTeX, Version 3.141592653-2.6-1.40.24
(./main.tex
LaTeX Warning: Float too large for page by 3.0pt on input line 12.
Overfull \\hbox (1.2pt too wide) in paragraph at lines 3--4
Output written on main.pdf (9 pages, 512000 bytes).
"""


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("LaTeX Warning: Reference `fig:sweep' on page 3 undefined on input line 40.",
         "undefined reference"),
        ("LaTeX Warning: Citation `adam' on page 1 undefined on input line 7.",
         "undefined citation"),
        ("Package natbib Warning: Citation `adam' on page 1 undefined on input line 7.",
         "undefined citation"),
        ("LaTeX Warning: There were undefined references.", "undefined references remain"),
        ("! LaTeX Error: File `../figures/norm_dynamics.pdf' not found.", "missing file"),
        ("! Undefined control sequence.", "TeX error"),
    ],
)
def test_log_problems_finds_each_kind(line, kind):
    problems = paper.log_problems(CLEAN_LOG + line + "\n")
    assert len(problems) == 1
    assert problems[0].startswith(kind + ":")


def test_clean_log_has_no_problems():
    assert paper.log_problems(CLEAN_LOG) == []


def test_check_log_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.log"
    good.write_text(CLEAN_LOG)
    bad = tmp_path / "bad.log"
    bad.write_text(CLEAN_LOG + "LaTeX Warning: There were undefined references.\n")
    assert paper.main(["check-log", str(good)]) == 0
    assert paper.main(["check-log", str(bad)]) == 1
    assert "undefined references" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="latexmk"):
        paper.main(["check-log", str(tmp_path / "missing.log")])


def test_numbers_cli_writes_the_combined_file(macro_files, tmp_path):
    out = tmp_path / "generated" / "numbers.tex"
    assert paper.main(["numbers", "--out", str(out), *map(str, macro_files)]) == 0
    assert paper.macro_names(out.read_text()) == ["AlphaOne", "AlphaTwo", "BetaOne"]


def test_settings_macros_and_their_checks(tmp_path):
    out = paper.write_settings(tmp_path / "numbers_paper.tex", "smoke", "cpu")
    text = out.read_text()
    assert r"\newcommand{\PaperProfile}{smoke}" in text
    assert r"\newcommand{\PaperDevice}{cpu}" in text
    with pytest.raises(ValueError, match="profile must be one of"):
        paper.write_settings(tmp_path / "x.tex", "huge", "cpu")
    with pytest.raises(ValueError, match="device must be one of"):
        paper.write_settings(tmp_path / "x.tex", "quick", "tpu")


def _paper_floats():
    """(file, environment text) of every figure and table environment in the paper."""
    root = Path(__file__).resolve().parents[1] / "paper"
    for path in [root / "main.tex", *sorted((root / "sections").glob("*.tex"))]:
        text = re.sub(r"(?<!\\)%.*", "", path.read_text(encoding="utf-8"))
        for env in re.findall(r"\\begin\{(?:figure|table)\*?\}.*?\\end\{(?:figure|table)\*?\}",
                              text, re.DOTALL):
            yield path.name, env


def test_every_figure_and_table_caption_names_its_rule():
    floats = list(_paper_floats())
    for name, env in floats:
        assert "\\caption" in env, f"a float in {name} has no caption"
        assert re.search(r"[Rr]ules?(~|\s)*\\texttt\{", env), (
            f"a caption in {name} does not name its workflow rule as rule \\texttt{{...}}:\n"
            + env[:300])


def test_timing_sums_benchmark_files_per_rule(tmp_path):
    from ctadam import timing

    header = "s\th:m:s\tmax_rss\n"
    (tmp_path / "sweep_run").mkdir()
    (tmp_path / "sweep_run" / "a.tsv").write_text(header + "1.5\t0:00:01\t10\n")
    (tmp_path / "sweep_run" / "b.tsv").write_text(header + "2.0\t0:00:02\t10\n")
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "paper.tsv").write_text(header + "4.25\t0:00:04\t10\n")
    times = timing.rule_times(tmp_path)
    assert times == {"sweep_run": (2, 3.5), "paper": (1, 4.25)}
    table = timing.markdown_table(times)
    assert table.index("`paper`") < table.index("`sweep_run`")
    assert "**7.8**" in table
    (tmp_path / "paper" / "bad.tsv").write_text("not a benchmark\n")
    with pytest.raises(ValueError, match="bad.tsv"):
        timing.rule_times(tmp_path)
    with pytest.raises(FileNotFoundError, match="run the workflow"):
        timing.rule_times(tmp_path / "absent")
