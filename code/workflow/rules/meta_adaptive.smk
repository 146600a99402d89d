# Rules of the meta-adaptive family (config "meta_adaptive", package
# ctadam.experiments.meta_adaptive; its text is part of the paper section normalization):
# normalization as a hidden second level of adaptive normalization (eq:meta-adaptive). The
# protocol's five rules: config -> run (stream runs with and without weight decay and the
# training variants, batched in shards) -> summary -> publish (macros) and figure.

from ctadam.experiments import protocol
from ctadam.experiments import meta_adaptive as meta_adaptive_family
from ctadam.experiments.protocol import shard_ids
from ctadam.paths import DATASETS

META_ADAPTIVE = protocol.family_section(config, "meta_adaptive")
META_ADAPTIVE_RUNS = protocol.checked_runs(
    meta_adaptive_family, META_ADAPTIVE, DATASETS
)
META_ADAPTIVE_SHARDS = shard_ids(META_ADAPTIVE_RUNS, META_ADAPTIVE["shards"])
META_ADAPTIVE_SECTION = "data/runs/meta_adaptive/section.json"
META_ADAPTIVE_SUMMARY = "data/meta_adaptive/summary.json"


rule meta_adaptive_config:
    output:
        section=META_ADAPTIVE_SECTION,
        configs=expand(
            "data/runs/meta_adaptive/configs/{run}.json", run=sorted(META_ADAPTIVE_RUNS)
        ),
    params:
        runs=META_ADAPTIVE_RUNS,
        section=META_ADAPTIVE,
    log:
        "logs/meta_adaptive_config/meta_adaptive_config.log",
    benchmark:
        "benchmarks/meta_adaptive_config/meta_adaptive_config.tsv"
    threads: 1
    run:
        write_family_configs(
            params.runs, params.section, output.configs, output.section, log[0]
        )


rule meta_adaptive_run:
    input:
        data=DATASETS["mnist1d"],
        configs=lambda wc: expand(
            "data/runs/meta_adaptive/configs/{run}.json",
            run=META_ADAPTIVE_SHARDS[int(wc.shard)],
        ),
    output:
        directory("data/runs/meta_adaptive/shard{shard}"),
    wildcard_constraints:
        shard=r"[0-9]+",
    log:
        "logs/meta_adaptive_run/shard{shard}.log",
    benchmark:
        "benchmarks/meta_adaptive_run/shard{shard}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    shell:
        "{PY} ctadam.experiments.protocol run meta_adaptive --configs {input.configs}"
        " --out-dir {output} --threads {threads} > {log} 2>&1"


rule meta_adaptive_summary:
    input:
        section=META_ADAPTIVE_SECTION,
        records=expand(
            "data/runs/meta_adaptive/shard{shard}", shard=range(len(META_ADAPTIVE_SHARDS))
        ),
    output:
        META_ADAPTIVE_SUMMARY,
    log:
        "logs/meta_adaptive_summary/meta_adaptive_summary.log",
    benchmark:
        "benchmarks/meta_adaptive_summary/meta_adaptive_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol summary meta_adaptive --section {input.section}"
        " --records {input.records} --out {output} > {log} 2>&1"


rule meta_adaptive_publish:
    input:
        section=META_ADAPTIVE_SECTION,
        summary=META_ADAPTIVE_SUMMARY,
    output:
        macros="paper/generated/numbers_meta_adaptive.tex",
        claims="data/runs/meta_adaptive/claims.json",
    log:
        "logs/meta_adaptive_publish/meta_adaptive_publish.log",
    benchmark:
        "benchmarks/meta_adaptive_publish/meta_adaptive_publish.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol publish meta_adaptive --section {input.section}"
        " --summary {input.summary} --macros {output.macros} --tables-dir paper/generated"
        " --claims {output.claims} > {log} 2>&1"


rule meta_adaptive_figure:
    input:
        META_ADAPTIVE_SUMMARY,
    output:
        pdf=report(
            "figures/meta_adaptive.pdf",
            caption="../../../report/meta_adaptive.rst",
            category="Normalization",
        ),
        png="figures/meta_adaptive.png",
    log:
        "logs/meta_adaptive_figure/meta_adaptive_figure.log",
    benchmark:
        "benchmarks/meta_adaptive_figure/meta_adaptive_figure.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.meta_adaptive --summary {input} --out {output.pdf} > {log} 2>&1"


ALL_TARGETS += [
    "figures/meta_adaptive.pdf",
    "paper/generated/numbers_meta_adaptive.tex",
]
