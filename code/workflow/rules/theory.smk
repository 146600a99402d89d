# Theory family: Adam's stable region (closed form, no training) and the continuous-time model
# integrated against discrete Adam/AdamW. The ODE integrations are the expensive rules (one per
# problem); numbers, symbolic LaTeX and figures are cheap rules reading their records.

THEORY = config["theory"]
CT_PROBLEMS = list(THEORY["continuous"]["problems"])


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
        "{PY} ctadam.theory.symbolic --out {output} > {log} 2>&1"


rule theory_ct_error:
    output:
        "data/theory/ct_{problem}.json",
    params:
        ct=THEORY["continuous"],
        p=lambda wc: THEORY["continuous"]["problems"][wc.problem],
    log:
        "logs/theory_ct_error/{problem}.log",
    benchmark:
        "benchmarks/theory_ct_error/{problem}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    wildcard_constraints:
        problem="|".join(CT_PROBLEMS),
    shell:
        "OMP_NUM_THREADS=1 {PY} ctadam.theory.ct_error --problem {wildcards.problem}"
        " --beta {params.ct[beta]} --gamma {params.ct[gamma]} --horizon {params.ct[horizon]}"
        " --n-etas {params.ct[n_etas]} --eta-min {params.p[eta_min]} --eta-max {params.p[eta_max]}"
        " --weight-decay {params.p[weight_decay]} --rtol {params.p[rtol]}"
        " --out {output} > {log} 2>&1"


rule theory_numbers:
    input:
        expand("data/theory/ct_{problem}.json", problem=CT_PROBLEMS),
    output:
        "paper/generated/numbers_theory.tex",
    log:
        "logs/theory_numbers/theory_numbers.log",
    benchmark:
        "benchmarks/theory_numbers/theory_numbers.tsv"
    threads: 1
    shell:
        "{PY} ctadam.theory.numbers --records {input} --out {output} > {log} 2>&1"


rule theory_stability_region:
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
        "logs/theory_stability_region/theory_stability_region.log",
    benchmark:
        "benchmarks/theory_stability_region/theory_stability_region.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.stability_region --grid {params.grid} --out {output[0]} > {log} 2>&1"


rule theory_continuous_time:
    input:
        expand("data/theory/ct_{problem}.json", problem=CT_PROBLEMS),
    output:
        report(
            "figures/continuous_time.pdf",
            caption="../../../report/continuous_time.rst",
            category="Continuous time",
        ),
        "figures/continuous_time.png",
    log:
        "logs/theory_continuous_time/theory_continuous_time.log",
    benchmark:
        "benchmarks/theory_continuous_time/theory_continuous_time.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.continuous_time --records {input} --out {output[0]} > {log} 2>&1"


ALL_TARGETS += [
    "figures/stability_region.pdf",
    "figures/continuous_time.pdf",
    "paper/generated/theory_symbolic.tex",
    "paper/generated/numbers_theory.tex",
]
