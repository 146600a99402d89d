# Rules of the meta-adaptive family (config "meta_adaptive"): normalization as a hidden
# second level of adaptive normalization (ctadam.experiments.meta_adaptive). Configs -> runs
# (stream runs with and without weight decay, and the training variants, batched in shards)
# -> summary -> figure and publish (macros).

import json

from ctadam.experiments import meta_adaptive as meta_adaptive_experiment
from ctadam.experiments.shards import shard_ids

META_ADAPTIVE = config["meta_adaptive"]
META_ADAPTIVE_RUNS = meta_adaptive_experiment.run_configs(
    META_ADAPTIVE, "data/mnist1d/mnist1d.npz"
)
META_ADAPTIVE_SHARDS = shard_ids(META_ADAPTIVE_RUNS, META_ADAPTIVE["shards"])
META_ADAPTIVE_SUMMARY = "data/meta_adaptive/summary.json"


rule meta_adaptive_configs:
    output:
        expand("data/runs/meta_adaptive/configs/{run}.json", run=sorted(META_ADAPTIVE_RUNS)),
    params:
        runs=META_ADAPTIVE_RUNS,
    log:
        "logs/meta_adaptive_configs/meta_adaptive_configs.log",
    benchmark:
        "benchmarks/meta_adaptive_configs/meta_adaptive_configs.tsv"
    threads: 1
    run:
        for run_id, path in zip(sorted(params.runs), output):
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(params.runs[run_id], handle, indent=1, sort_keys=True)
        with open(log[0], "w", encoding="utf-8") as handle:
            print(f"{len(output)} run configs", file=handle)


rule meta_adaptive_run:
    input:
        data="data/mnist1d/mnist1d.npz",
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
        "{PY} ctadam.experiments.meta_adaptive run --configs {input.configs}"
        " --out-dir {output} --threads {threads} > {log} 2>&1"


rule meta_adaptive_summary:
    input:
        expand("data/runs/meta_adaptive/shard{shard}", shard=range(len(META_ADAPTIVE_SHARDS))),
    output:
        META_ADAPTIVE_SUMMARY,
    params:
        every=META_ADAPTIVE["stream"]["every"],
    log:
        "logs/meta_adaptive_summary/meta_adaptive_summary.log",
    benchmark:
        "benchmarks/meta_adaptive_summary/meta_adaptive_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.meta_adaptive_summary summary --shards {input}"
        " --every {params.every} --out {output} > {log} 2>&1"


rule meta_adaptive_publish:
    input:
        META_ADAPTIVE_SUMMARY,
    output:
        "paper/generated/numbers_meta_adaptive.tex",
    log:
        "logs/meta_adaptive_publish/meta_adaptive_publish.log",
    benchmark:
        "benchmarks/meta_adaptive_publish/meta_adaptive_publish.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.meta_adaptive_summary publish --summary {input}"
        " --macros {output} > {log} 2>&1"


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
