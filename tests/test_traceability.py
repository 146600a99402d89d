"""Traceability: every equation the code cites is in the paper, every figure names its rule,
and the paper's section list has one source (main.tex).

These read the tracked sources only (no workflow run), so they are cheap and always on.
"""

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ctadam import paper

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((ROOT / "code" / "workflow" / "rules").glob("*.smk"))
DIRECTIVE = re.compile(r"^    (input|output|params|log|benchmark|threads|resources|shell|run|"
                       r"wildcard_constraints|message|script|priority):", re.M)


def paper_labels() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "paper").rglob("*.tex")
                     if "generated" not in p.parts)
    return set(re.findall(r"\\label\{(eq:[^}]+)\}", text))


def cited_labels() -> dict[str, list[str]]:
    """Every ``eq:`` label cited in the code, rule files and report captions, by file."""
    files = [*(ROOT / "code").rglob("*.py"), *RULE_FILES, *(ROOT / "report").glob("*.rst")]
    out = {}
    for path in files:
        for label in re.findall(r"\beq:[A-Za-z0-9-]*[A-Za-z0-9]", path.read_text("utf-8")):
            out.setdefault(label, []).append(str(path.relative_to(ROOT)))
    return out


def rule_blocks() -> dict[str, str]:
    """``{rule name: its text}`` over every rule file."""
    blocks = {}
    for path in RULE_FILES:
        parts = re.split(r"^rule (\w+):\n", path.read_text(encoding="utf-8"), flags=re.M)
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            blocks[name] = re.split(r"^\S", body, maxsplit=1, flags=re.M)[0]
    return blocks


def section(block: str, directive: str) -> str:
    """The text of one directive (``output``, ``shell``, ...) of a rule block."""
    pieces = DIRECTIVE.split(block)
    for key, body in zip(pieces[1::2], pieces[2::2], strict=True):
        if key == directive:
            return body
    return ""


@functools.cache
def figure_rules() -> dict[str, str]:
    """``{figure stem: the rule whose job writes figures/<stem>.pdf}``, from Snakemake's own
    dry-run plan of every job of the default profile (wildcard rules included)."""
    plan = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--forceall", "--cores", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    out, rule = {}, None
    for line in plan.stdout.splitlines():
        if line.startswith("rule ") and line.endswith(":"):
            rule = line[5:-1].strip()
        elif line.strip().startswith("output:") and rule is not None:
            for stem in re.findall(r"figures/(\w+)\.pdf", line):
                assert out.get(stem, rule) == rule, f"figures/{stem}.pdf: {out[stem]}, {rule}"
                out[stem] = rule
    return out


def paper_figures() -> dict[str, str]:
    """``{figure stem: its caption}`` for every figure the paper includes."""
    out = {}
    for path in (ROOT / "paper" / "sections").glob("*.tex"):
        text = path.read_text(encoding="utf-8")
        for env in re.findall(r"\\begin\{figure\*?\}(.*?)\\end\{figure\*?\}", text, re.S):
            stems = re.findall(r"\\includegraphics(?:\[[^]]*\])?\{\.\./figures/(\w+)\.pdf\}", env)
            caption = env[env.find("\\caption"):]
            for stem in stems:
                out[stem] = caption
    return out


def test_every_cited_equation_label_exists_in_the_paper():
    labels = paper_labels()
    missing = {label: files for label, files in cited_labels().items() if label not in labels}
    assert not missing, f"equation labels cited in code but absent from paper/: {missing}"


def test_the_rule_parser_sees_the_workflow():
    # Guards the checks below against a parser that silently finds nothing.
    assert len(rule_blocks()) > 30
    assert len(figure_rules()) >= 10 and len(paper_figures()) >= 10


def test_every_plot_module_cites_the_equation_its_figure_tests():
    plots = [p for p in (ROOT / "code" / "ctadam" / "plots").glob("*.py")
             if p.stem not in ("__init__", "style")]
    lacking = [p.stem for p in plots if not re.search(r"\beq:\w", p.read_text("utf-8"))]
    assert not lacking, f"plot modules citing no equation label: {lacking}"


@pytest.mark.parametrize("stem", sorted(paper_figures()))
def test_every_paper_figure_caption_names_the_rule_that_draws_it(stem):
    rules = figure_rules()
    assert stem in rules, f"no rule writes figures/{stem}.pdf, which the paper includes"
    caption = paper_figures()[stem].replace(r"\_", "_")
    assert rules[stem] in caption, f"the caption of figures/{stem}.pdf does not name {rules[stem]}"


@pytest.mark.parametrize("rule", sorted(set(figure_rules().values())))
def test_every_report_caption_of_a_figure_names_its_rule(rule):
    block = rule_blocks()[rule]
    captions = re.findall(r'caption="\.\./\.\./\.\./report/(\w+\.rst)"', section(block, "output"))
    assert captions, f"rule {rule} draws a figure without a report caption"
    for name in captions:
        text = (ROOT / "report" / name).read_text(encoding="utf-8")
        assert rule in text, f"report/{name} does not name rule {rule}"


def test_the_paper_rule_reads_its_section_list_from_main_tex():
    names = paper.sections(ROOT / "paper" / "main.tex")
    assert names[0] == "introduction" and len(names) == len(set(names)) >= 8
    assert all((ROOT / "paper" / "sections" / f"{n}.tex").exists() for n in names)
    smk = (ROOT / "code" / "workflow" / "rules" / "paper.smk").read_text(encoding="utf-8")
    assert re.search(r"\.sections\(\"paper/main\.tex\"\)", smk)
    repeated = [n for n in names if f'"{n}"' in smk]
    assert not repeated, f"paper.smk repeats main.tex's section names {repeated}"
