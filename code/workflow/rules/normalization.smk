# Rules of the normalization family (config "normalization"): AdamW norm dynamics of
# LayerNorm groups (ctadam.experiments.normalization). Configs -> runs (batched: one job per
# shard, many engine runs per process) -> summary -> figure and publish (macros, table); the
# identity check of eq:wu-correction is a run of its own (the k-Adam study is in kadam.smk).
# Training rules write JSON records under data/; cheap rules turn them into figures, tables
# and number macros, so restyling never retrains.

import json

from ctadam.experiments import normalization as normalization_experiment
from ctadam.experiments.shards import shard_ids

MNIST1D_NPZ = "data/mnist1d/mnist1d.npz"
NORMALIZATION = config["normalization"]
NORMALIZATION_RUNS = normalization_experiment.run_configs(NORMALIZATION, MNIST1D_NPZ)
NORMALIZATION_SHARDS = shard_ids(NORMALIZATION_RUNS, NORMALIZATION["shards"])
NORMALIZATION_SUMMARY = "data/normalization/summary.json"


rule normalization_configs:
    output:
        runs=expand("data/runs/normalization/configs/{run}.json", run=sorted(NORMALIZATION_RUNS)),
        identity="data/runs/normalization/identity/config.json",
    params:
        runs=NORMALIZATION_RUNS,
        identity=NORMALIZATION["identity"],
    log:
        "logs/normalization_configs/normalization_configs.log",
    benchmark:
        "benchmarks/normalization_configs/normalization_configs.tsv"
    threads: 1
    run:
        for run_id, path in zip(sorted(params.runs), output.runs):
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(params.runs[run_id], handle, indent=1, sort_keys=True)
        with open(output.identity, "w", encoding="utf-8") as handle:
            json.dump(params.identity, handle, indent=1, sort_keys=True)
        with open(log[0], "w", encoding="utf-8") as handle:
            print(f"{len(output.runs)} run configs and the identity config", file=handle)


rule normalization_run:
    input:
        data=MNIST1D_NPZ,
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
        "{PY} ctadam.experiments.normalization run --configs {input.configs}"
        " --out-dir {output} --threads {threads} > {log} 2>&1"


rule normalization_identity:
    input:
        "data/runs/normalization/identity/config.json",
    output:
        "data/runs/normalization/identity/record.json",
    log:
        "logs/normalization_identity/normalization_identity.log",
    benchmark:
        "benchmarks/normalization_identity/normalization_identity.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.normalization identity --config {input} --out {output}"
        " > {log} 2>&1"


rule normalization_summary:
    input:
        shards=expand(
            "data/runs/normalization/shard{shard}", shard=range(len(NORMALIZATION_SHARDS))
        ),
        identity="data/runs/normalization/identity/record.json",
    output:
        NORMALIZATION_SUMMARY,
    params:
        tail=NORMALIZATION["tail"],
        every=NORMALIZATION["every"],
    log:
        "logs/normalization_summary/normalization_summary.log",
    benchmark:
        "benchmarks/normalization_summary/normalization_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.normalization_summary summary --shards {input.shards}"
        " --identity {input.identity} --tail {params.tail} --every {params.every}"
        " --out {output} > {log} 2>&1"


rule normalization_publish:
    input:
        NORMALIZATION_SUMMARY,
    output:
        macros="paper/generated/numbers_normalization.tex",
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
        "{PY} ctadam.experiments.normalization_summary publish --summary {input}"
        " --macros {output.macros} --table {output.table} > {log} 2>&1"


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
