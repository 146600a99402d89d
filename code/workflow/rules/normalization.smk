# Rules of the normalization family (config "normalization", package
# ctadam.experiments.normalization, paper section normalization): AdamW norm dynamics of
# LayerNorm groups. The protocol's five rules (ctadam.experiments.protocol): config -> run (one
# job per shard, many engine runs per process) -> summary -> publish (macros, table) and
# figure; normalization_identity checks eq:wu-correction on a simulated group, and its record
# is one more record the summary reads. Training rules write JSON records under data/; cheap
# rules turn them into figures, tables and number macros, so restyling never retrains.

from ctadam.experiments import protocol
from ctadam.experiments import normalization as normalization_family
from ctadam.experiments.protocol import shard_ids
from ctadam.paths import DATASETS

NORMALIZATION = protocol.family_section(config, "normalization")
NORMALIZATION_RUNS = protocol.checked_runs(
    normalization_family, NORMALIZATION, DATASETS
)
NORMALIZATION_SHARDS = shard_ids(NORMALIZATION_RUNS, NORMALIZATION["shards"])
NORMALIZATION_SECTION = "data/runs/normalization/section.json"
NORMALIZATION_SUMMARY = "data/normalization/summary.json"


rule normalization_config:
    output:
        section=NORMALIZATION_SECTION,
        configs=expand(
            "data/runs/normalization/configs/{run}.json", run=sorted(NORMALIZATION_RUNS)
        ),
    params:
        runs=NORMALIZATION_RUNS,
        section=NORMALIZATION,
    log:
        "logs/normalization_config/normalization_config.log",
    benchmark:
        "benchmarks/normalization_config/normalization_config.tsv"
    threads: 1
    run:
        write_family_configs(
            params.runs, params.section, output.configs, output.section, log[0]
        )


rule normalization_run:
    input:
        data=DATASETS["mnist1d"],
        configs=lambda wc: expand(
            "data/runs/normalization/configs/{run}.json",
            run=NORMALIZATION_SHARDS[int(wc.shard)],
        ),
    output:
        directory("data/runs/normalization/shard{shard}"),
    wildcard_constraints:
        shard=r"[0-9]+",
    log:
        "logs/normalization_run/shard{shard}.log",
    benchmark:
        "benchmarks/normalization_run/shard{shard}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    shell:
        "{PY} ctadam.experiments.protocol run normalization --configs {input.configs}"
        " --out-dir {output} --threads {threads} > {log} 2>&1"


rule normalization_identity:
    input:
        NORMALIZATION_SECTION,
    output:
        directory("data/runs/normalization/identity"),
    log:
        "logs/normalization_identity/normalization_identity.log",
    benchmark:
        "benchmarks/normalization_identity/normalization_identity.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.normalization identity --section {input}"
        " --out {output}/identity.json > {log} 2>&1"


rule normalization_summary:
    input:
        section=NORMALIZATION_SECTION,
        records=expand(
            "data/runs/normalization/shard{shard}", shard=range(len(NORMALIZATION_SHARDS))
        ),
        identity="data/runs/normalization/identity",
    output:
        NORMALIZATION_SUMMARY,
    log:
        "logs/normalization_summary/normalization_summary.log",
    benchmark:
        "benchmarks/normalization_summary/normalization_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol summary normalization --section {input.section}"
        " --records {input.records} {input.identity} --out {output} > {log} 2>&1"


rule normalization_publish:
    input:
        section=NORMALIZATION_SECTION,
        summary=NORMALIZATION_SUMMARY,
    output:
        macros="paper/generated/numbers_normalization.tex",
        claims="data/runs/normalization/claims.json",
        table=report(
            "paper/generated/normalization_table.tex",
            caption="../../../report/normalization_table.rst",
            category="Normalization",
        ),
    log:
        "logs/normalization_publish/normalization_publish.log",
    benchmark:
        "benchmarks/normalization_publish/normalization_publish.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol publish normalization --section {input.section}"
        " --summary {input.summary} --macros {output.macros} --tables-dir paper/generated"
        " --claims {output.claims} > {log} 2>&1"


rule normalization_figure:
    input:
        NORMALIZATION_SUMMARY,
    output:
        pdf=report(
            "figures/normalization.pdf",
            caption="../../../report/normalization.rst",
            category="Normalization",
        ),
        png="figures/normalization.png",
    log:
        "logs/normalization_figure/normalization_figure.log",
    benchmark:
        "benchmarks/normalization_figure/normalization_figure.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.normalization --summary {input} --out {output.pdf} > {log} 2>&1"


ALL_TARGETS += [
    "figures/normalization.pdf",
    "paper/generated/numbers_normalization.tex",
    "paper/generated/normalization_table.tex",
]
