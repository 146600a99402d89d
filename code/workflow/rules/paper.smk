# Rules of the paper family: every family's number macros -> paper/generated/numbers.tex,
# then latexmk -> paper/main.pdf (failing on undefined references or missing files).
# `snakemake --cores all paper/main.pdf` builds every figure, table and number first.

import re


# The front page of `snakemake --report report.html`.
report: "../../../report/workflow.rst"


# Every family's number macros: each family lists its paper/generated/numbers_<family>.tex
# in ALL_TARGETS (this file is included last, so the list is complete), plus this family's
# own settings macros. A macro file missing here shows up as an undefined \Name in rule paper.
PAPER_NUMBERS = sorted(
    t for t in ALL_TARGETS if re.fullmatch(r"paper/generated/numbers_[a-z_]+\.tex", t)
) + ["paper/generated/numbers_paper.tex"]

# Sections of paper/main.tex, in the order it \input's them.
PAPER_SECTIONS = [
    "introduction",
    "theory",
    "lr_region",
    "continuous_time",
    "kadam_optimizer",
    "experiments_overview",
    "stability_sweep",
    "stability_training",
    "normalization",
    "results",
    "limitations",
]

# Everything the other families publish (figures, tables, their numbers_*.tex): all of it is
# an input of rule `paper`, so the PDF is built after every artifact it can include and is
# rebuilt when any of them changes. (This file is included last: ALL_TARGETS is complete.)
PAPER_ARTIFACTS = list(ALL_TARGETS)


rule paper_settings:
    output:
        "paper/generated/numbers_paper.tex",
    params:
        profile=config["profile"],
        device=config["device"],
    log:
        "logs/paper_settings/paper_settings.log",
    benchmark:
        "benchmarks/paper_settings/paper_settings.tsv"
    threads: 1
    shell:
        "{PY} ctadam.paper settings --profile {params.profile} --device {params.device}"
        " --out {output} > {log} 2>&1"


rule paper_numbers:
    input:
        PAPER_NUMBERS,
    output:
        "paper/generated/numbers.tex",
    log:
        "logs/paper_numbers/paper_numbers.log",
    benchmark:
        "benchmarks/paper_numbers/paper_numbers.tsv"
    threads: 1
    shell:
        "{PY} ctadam.paper numbers --out {output} {input} > {log} 2>&1"


# latexmk leaves LaTeX's own log in paper/main.log (not an output, so it survives a failure).
rule paper:
    input:
        tex="paper/main.tex",
        bib="paper/refs.bib",
        sections=expand("paper/sections/{section}.tex", section=PAPER_SECTIONS),
        numbers="paper/generated/numbers.tex",
        artifacts=PAPER_ARTIFACTS,
    output:
        pdf=report(
            "paper/main.pdf",
            caption="../../../report/paper.rst",
            category="Paper",
        ),
    log:
        "logs/paper/paper.log",
    benchmark:
        "benchmarks/paper/paper.tsv"
    threads: 1
    shell:
        "(cd paper && latexmk -pdf -g -interaction=nonstopmode -halt-on-error -file-line-error"
        " main.tex) > {log} 2>&1"
        " && {PY} ctadam.paper check-log paper/main.log >> {log} 2>&1"


ALL_TARGETS += ["paper/main.pdf"]
