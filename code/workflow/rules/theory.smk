# Theory family: Adam's stable region (closed form, no training) and the continuous-time model
# integrated against discrete Adam/AdamW. The ODE integrations are the expensive rules (one per
# problem); numbers, symbolic LaTeX and figures are cheap rules reading their records.
# The lr-region experiment (Adam on a quadratic over learning rates x (beta1, beta2), all runs
# vectorised in one job) follows the same shape: run -> summary -> figure and macros.

import json

THEORY = config["theory"]
CT_PROBLEMS = list(THEORY["continuous"]["problems"])
LR_REGION_JSON = json.dumps(THEORY["lr_region"], sort_keys=True)


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
        "{PY} ctadam.theory.region_table --out {output} > {log} 2>&1"


rule theory_lr_region_run:
    output:
        "data/theory/lr_region.json",
    params:
        cfg=LR_REGION_JSON,
    log:
        "logs/theory_lr_region_run/theory_lr_region_run.log",
    benchmark:
        "benchmarks/theory_lr_region_run/theory_lr_region_run.tsv"
    threads: 1
    resources:
        mem_mb=1500,
    shell:
        "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"
        " {PY} ctadam.experiments.lr_region run --config-json '{params.cfg}' --out {output}"
        " > {log} 2>&1"


rule theory_lr_region_summary:
    input:
        "data/theory/lr_region.json",
    output:
        "data/theory/lr_region_summary.json",
    log:
        "logs/theory_lr_region_summary/theory_lr_region_summary.log",
    benchmark:
        "benchmarks/theory_lr_region_summary/theory_lr_region_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.lr_region summary --record {input} --out {output} > {log} 2>&1"


rule theory_lr_region_numbers:
    input:
        "data/theory/lr_region_summary.json",
    output:
        "paper/generated/numbers_lrregion.tex",
    log:
        "logs/theory_lr_region_numbers/theory_lr_region_numbers.log",
    benchmark:
        "benchmarks/theory_lr_region_numbers/theory_lr_region_numbers.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.lr_region numbers --summary {input} --out {output} > {log} 2>&1"


rule theory_lr_region_figure:
    input:
        "data/theory/lr_region_summary.json",
    output:
        report(
            "figures/lr_region.pdf",
            caption="../../../report/lr_region.rst",
            category="Stability",
        ),
        "figures/lr_region.png",
    log:
        "logs/theory_lr_region_figure/theory_lr_region_figure.log",
    benchmark:
        "benchmarks/theory_lr_region_figure/theory_lr_region_figure.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.lr_region --summary {input} --out {output[0]} > {log} 2>&1"


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
    "figures/lr_region.pdf",
    "paper/generated/region_table.tex",
    "paper/generated/numbers_lrregion.tex",
    "figures/continuous_time.pdf",
    "paper/generated/theory_symbolic.tex",
    "paper/generated/numbers_theory.tex",
]
