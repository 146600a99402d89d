# Family theory: Adam's stable region in closed form (no training, no runs). Its steps are the
# command lines of ctadam.experiments.theory (the mathematics is ctadam.theory):
# theory_symbolic (the sympy derivations as macros), theory_numbers (numbers_theory.tex),
# theory_region_table (the two regions side by side), theory_figure (figures/stability_region).

THEORY = config["theory"]


rule theory_symbolic:
    output:
        report(
            "paper/generated/theory_symbolic.tex",
            caption="../../../report/theory_symbolic.rst",
            category="Stability",
        ),
    log:
        "logs/theory_symbolic/theory_symbolic.log",
    benchmark:
        "benchmarks/theory_symbolic/theory_symbolic.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.theory.symbolic --out {output} > {log} 2>&1"


rule theory_numbers:
    output:
        "paper/generated/numbers_theory.tex",
    log:
        "logs/theory_numbers/theory_numbers.log",
    benchmark:
        "benchmarks/theory_numbers/theory_numbers.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.theory.numbers --out {output} > {log} 2>&1"


rule theory_figure:
    output:
        report(
            "figures/stability_region.pdf",
            caption="../../../report/stability_region.rst",
            category="Stability",
        ),
        "figures/stability_region.png",
    params:
        grid=THEORY["region_grid"],
    log:
        "logs/theory_figure/stability_region.log",
    benchmark:
        "benchmarks/theory_figure/stability_region.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.stability_region --grid {params.grid} --out {output[0]} > {log} 2>&1"


rule theory_region_table:
    output:
        report(
            "paper/generated/region_table.tex",
            caption="../../../report/region_table.rst",
            category="Stability",
        ),
    log:
        "logs/theory_region_table/theory_region_table.log",
    benchmark:
        "benchmarks/theory_region_table/theory_region_table.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.theory.region_table --out {output} > {log} 2>&1"


ALL_TARGETS += [
    "figures/stability_region.pdf",
    "paper/generated/region_table.tex",
    "paper/generated/theory_symbolic.tex",
    "paper/generated/numbers_theory.tex",
]
