# Theory family: Adam's stable region (closed form, no training) and the continuous-time models
# integrated against discrete Adam/AdamW. The ODE integrations are the expensive rules (one per
# problem, one per optimizer on the transformer); the summary, numbers, symbolic LaTeX
# and figures are cheap rules reading their records.
# The lr-region experiment (Adam on a quadratic over learning rates x (beta1, beta2), all runs
# vectorised in one job) follows the same shape: run -> summary -> figure and macros.

from ctadam.io import write_json_atomic

THEORY = config["theory"]
CT_PROBLEMS = list(THEORY["continuous"]["problems"])
ODE_TF = THEORY["continuous"]["transformer"]
ODE_OPTS = ["adam", "adamw"]
ODE_DATA = "data/shakespeare/shakespeare.npz"


def ode_run_config(opt):
    """The run config of python -m ctadam.experiments.ode_transformer for one optimizer."""
    cfg = {k: v for k, v in ODE_TF.items() if k != "weight_decay"}
    cfg.update(
        optimizer=opt,
        data=ODE_DATA,
        beta1=THEORY["continuous"]["beta1"],
        beta2=ODE_TF["beta2"],
        weight_decay=ODE_TF["weight_decay"] if opt == "adamw" else 0.0,
        threads=1,
    )
    return cfg


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
        " --beta1 {params.ct[beta1]} --beta2 {params.ct[beta2]} --horizon {params.ct[horizon]}"
        " --n-etas {params.ct[n_etas]} --eta-min {params.p[eta_min]} --eta-max {params.p[eta_max]}"
        " --weight-decay {params.p[weight_decay]} --rtol {params.p[rtol]}"
        " --out {output} > {log} 2>&1"


rule ode_transformer_config:
    output:
        "data/theory/ode_transformer/configs/{opt}.json",
    params:
        cfg=lambda wc: ode_run_config(wc.opt),
    log:
        "logs/ode_transformer_config/{opt}.log",
    benchmark:
        "benchmarks/ode_transformer_config/{opt}.tsv"
    threads: 1
    wildcard_constraints:
        opt="|".join(ODE_OPTS),
    run:
        write_json_atomic(output[0], params.cfg)


rule ode_transformer_run:
    input:
        data=ODE_DATA,
        config="data/theory/ode_transformer/configs/{opt}.json",
    output:
        "data/theory/ode_transformer/{opt}.json",
    log:
        "logs/ode_transformer_run/{opt}.log",
    benchmark:
        "benchmarks/ode_transformer_run/{opt}.tsv"
    threads: 1
    resources:
        mem_mb=1500,
    wildcard_constraints:
        opt="|".join(ODE_OPTS),
    shell:
        "OMP_NUM_THREADS=1 {PY} ctadam.experiments.ode_transformer --config {input.config}"
        " --out {output} > {log} 2>&1"


rule ode_summary:
    input:
        expand("data/theory/ode_transformer/{opt}.json", opt=ODE_OPTS),
    output:
        "data/theory/ode_summary.json",
    log:
        "logs/ode_summary/ode_summary.log",
    benchmark:
        "benchmarks/ode_summary/ode_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.ode_summary --records {input} --out {output} > {log} 2>&1"


rule ode_numbers:
    input:
        records=expand("data/theory/ct_{problem}.json", problem=CT_PROBLEMS),
        summary="data/theory/ode_summary.json",
    output:
        "paper/generated/numbers_ode.tex",
    log:
        "logs/ode_numbers/ode_numbers.log",
    benchmark:
        "benchmarks/ode_numbers/ode_numbers.tsv"
    threads: 1
    shell:
        "{PY} ctadam.theory.ode_numbers --records {input.records} --summary {input.summary}"
        " --out {output} > {log} 2>&1"


rule ode_figures:
    input:
        "data/theory/ode_summary.json",
    output:
        fig1=report(
            "figures/ode_transformer.pdf",
            caption="../../../report/ode_transformer.rst",
            category="Continuous time",
        ),
        fig1_png="figures/ode_transformer.png",
        err=report(
            "figures/ode_error.pdf",
            caption="../../../report/ode_error.rst",
            category="Continuous time",
        ),
        err_png="figures/ode_error.png",
    log:
        "logs/ode_figures/ode_figures.log",
    benchmark:
        "benchmarks/ode_figures/ode_figures.tsv"
    threads: 1
    shell:
        "({PY} ctadam.plots.ode_transformer --summary {input} --out {output.fig1}"
        " && {PY} ctadam.plots.ode_error --summary {input} --out {output.err}) > {log} 2>&1"


rule theory_numbers:
    output:
        "paper/generated/numbers_theory.tex",
    log:
        "logs/theory_numbers/theory_numbers.log",
    benchmark:
        "benchmarks/theory_numbers/theory_numbers.tsv"
    threads: 1
    shell:
        "{PY} ctadam.theory.numbers --out {output} > {log} 2>&1"


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


rule theory_lr_region_config:
    output:
        "data/theory/lr_region_config.json",
    params:
        cfg=THEORY["lr_region"],
    log:
        "logs/theory_lr_region_config/theory_lr_region_config.log",
    benchmark:
        "benchmarks/theory_lr_region_config/theory_lr_region_config.tsv"
    threads: 1
    run:
        write_json_atomic(output[0], params.cfg)


rule theory_lr_region_run:
    input:
        "data/theory/lr_region_config.json",
    output:
        "data/theory/lr_region.json",
    log:
        "logs/theory_lr_region_run/theory_lr_region_run.log",
    benchmark:
        "benchmarks/theory_lr_region_run/theory_lr_region_run.tsv"
    threads: 1
    resources:
        mem_mb=1500,
    shell:
        "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"
        " {PY} ctadam.experiments.lr_region run --config {input} --out {output}"
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
    "figures/ode_transformer.pdf",
    "figures/ode_error.pdf",
    "paper/generated/numbers_ode.tex",
    "paper/generated/theory_symbolic.tex",
    "paper/generated/numbers_theory.tex",
]
