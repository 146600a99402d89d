# Family lr_region: the learning-rate dependence of Adam's empirical stable region on a convex
# quadratic (config["lr_region"]), the protocol of ctadam.experiments.protocol.
#
# config: data/runs/lr_region/section.json and the one run config (the section itself);
# run: the numpy simulation of every (beta1, beta2, lr) at once (the family's run_one);
# summary: verdicts per learning rate and criterion; publish: numbers_lr_region.tex;
# figure: figures/lr_region.pdf from the summary.

from ctadam.experiments import protocol
from ctadam.experiments import lr_region
from ctadam.paths import DATASETS

LR_REGION = protocol.family_section(config, "lr_region")
LR_REGION_RUNS = protocol.checked_runs(lr_region, LR_REGION, DATASETS)
LR_REGION_DIR = "data/runs/lr_region"


rule lr_region_config:
    output:
        section=f"{LR_REGION_DIR}/section.json",
        configs=[f"{LR_REGION_DIR}/configs/{i}.json" for i in sorted(LR_REGION_RUNS)],
    params:
        runs=LR_REGION_RUNS,
        section=LR_REGION,
    log:
        "logs/lr_region_config/lr_region_config.log",
    benchmark:
        "benchmarks/lr_region_config/lr_region_config.tsv"
    threads: 1
    run:
        write_family_configs(
            params.runs, params.section, output.configs, output.section, log[0]
        )


rule lr_region_run:
    input:
        configs=[f"{LR_REGION_DIR}/configs/{i}.json" for i in sorted(LR_REGION_RUNS)],
    output:
        directory(f"{LR_REGION_DIR}/shard0"),
    log:
        "logs/lr_region_run/lr_region_run.log",
    benchmark:
        "benchmarks/lr_region_run/lr_region_run.tsv"
    threads: 1
    resources:
        mem_mb=1500,
    shell:
        "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"
        " {PY} ctadam.experiments.protocol run lr_region --configs {input.configs}"
        " --out-dir {output} --threads {threads} > {log} 2>&1"


rule lr_region_summary:
    input:
        records=f"{LR_REGION_DIR}/shard0",
        section=f"{LR_REGION_DIR}/section.json",
    output:
        f"{LR_REGION_DIR}/summary.json",
    log:
        "logs/lr_region_summary/lr_region_summary.log",
    benchmark:
        "benchmarks/lr_region_summary/lr_region_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol summary lr_region --section {input.section}"
        " --records {input.records} --out {output} > {log} 2>&1"


rule lr_region_publish:
    input:
        summary=f"{LR_REGION_DIR}/summary.json",
        section=f"{LR_REGION_DIR}/section.json",
    output:
        claims=f"{LR_REGION_DIR}/claims.json",
        macros="paper/generated/numbers_lr_region.tex",
    log:
        "logs/lr_region_publish/lr_region_publish.log",
    benchmark:
        "benchmarks/lr_region_publish/lr_region_publish.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol publish lr_region --section {input.section}"
        " --summary {input.summary} --macros {output.macros} --tables-dir paper/generated"
        " --claims {output.claims}"
        " > {log} 2>&1"


rule lr_region_figure:
    input:
        f"{LR_REGION_DIR}/summary.json",
    output:
        pdf=report(
            "figures/lr_region.pdf",
            caption="../../../report/lr_region.rst",
            category="Stability",
        ),
        png="figures/lr_region.png",
    log:
        "logs/lr_region_figure/lr_region.log",
    benchmark:
        "benchmarks/lr_region_figure/lr_region.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.lr_region --summary {input} --out {output.pdf} > {log} 2>&1"


ALL_TARGETS += [
    "figures/lr_region.pdf",
    "figures/lr_region.png",
    "paper/generated/numbers_lr_region.tex",
]
