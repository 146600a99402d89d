# Rules of the normalization family (config "normalization"): AdamW norm dynamics of
# LayerNorm groups (ctadam.experiments.normalization). Configs -> runs (batched: one job per
# shard, many engine runs per process) -> summary -> figure and publish (macros, table); the
# identity check of eq:wu-correction is a run of its own. The k-Adam benchmark (config
# "kadam") follows. Training rules write JSON records under data/; cheap rules turn them
# into figures, tables and number macros, so restyling never retrains.

import json

from ctadam.experiments import normalization as normalization_experiment
from ctadam.experiments.shards import shard_ids

MNIST1D_NPZ = "data/mnist1d/mnist1d.npz"
KADAM_DATA = {
    "mnist1d": MNIST1D_NPZ,
    "shakespeare": "data/shakespeare/shakespeare.npz",
    "cifar10": "data/cifar10/cifar10.npz",
}
NORMALIZATION = config["normalization"]
NORMALIZATION_RUNS = normalization_experiment.run_configs(NORMALIZATION, MNIST1D_NPZ)
NORMALIZATION_SHARDS = shard_ids(NORMALIZATION_RUNS, NORMALIZATION["shards"])
NORMALIZATION_SUMMARY = "data/normalization/summary.json"
KA = config["kadam"]
for _task in KA["run_tasks"]:
    if _task not in KA["tasks"]:
        raise ValueError(
            f"config kadam.run_tasks names {_task!r}, which has no entry in kadam.tasks"
        )
KA_CELLS = [
    f"{t}_{n}_k{k}" for t in KA["run_tasks"] for n in KA["norms"] for k in KA["ks"]
]


def kadam_params(task):
    """The task's settings plus the shared optimizer settings, as JSON for the CLI."""
    p = dict(KA["tasks"][task], betas=KA["betas"], weight_decay=KA["weight_decay"])
    return json.dumps(p, separators=(",", ":"))


wildcard_constraints:
    task="|".join(KADAM_DATA),
    norm="none|layer",
    k=r"[0-9]+",


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


rule kadam_split:
    input:
        lambda wc: KADAM_DATA[wc.task],
    output:
        temp("data/kadam/{task}_selection.npz"),
    params:
        n_val=lambda wc: KA["tasks"][wc.task].get("n_val", 500),
        val_fraction=lambda wc: KA["tasks"][wc.task].get("val_fraction", 0.1),
    log:
        "logs/kadam_split/{task}.log",
    benchmark:
        "benchmarks/kadam_split/{task}.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.kadam_bench split --task {wildcards.task} --data {input}"
        " --out {output} --n-val {params.n_val} --val-fraction {params.val_fraction}"
        " > {log} 2>&1"


rule kadam_select:
    input:
        "data/kadam/{task}_selection.npz",
    output:
        "data/kadam/select/{task}_{norm}_k{k}.json",
    params:
        p=lambda wc: kadam_params(wc.task),
        lrs=lambda wc: " ".join(str(x) for x in KA["tasks"][wc.task]["lrs"]),
        device=config["device"],
    log:
        "logs/kadam_select/{task}_{norm}_k{k}.log",
    benchmark:
        "benchmarks/kadam_select/{task}_{norm}_k{k}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        gpu=1 if config["device"] != "cpu" else 0,
    shell:
        "{PY} ctadam.experiments.kadam_bench select --task {wildcards.task} --data {input}"
        " --norm {wildcards.norm} --k {wildcards.k} --lrs {params.lrs} --params '{params.p}'"
        " --device {params.device} --threads {threads} --out {output} > {log} 2>&1"


rule kadam_final:
    input:
        data=lambda wc: KADAM_DATA[wc.task],
        selection="data/kadam/select/{task}_{norm}_k{k}.json",
    output:
        "data/kadam/final/{task}_{norm}_k{k}.json",
    params:
        p=lambda wc: kadam_params(wc.task),
        seeds=" ".join(str(s) for s in KA["seeds"]),
        device=config["device"],
    log:
        "logs/kadam_final/{task}_{norm}_k{k}.log",
    benchmark:
        "benchmarks/kadam_final/{task}_{norm}_k{k}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        gpu=1 if config["device"] != "cpu" else 0,
    shell:
        "{PY} ctadam.experiments.kadam_bench final --task {wildcards.task} --data {input.data}"
        " --selection {input.selection} --norm {wildcards.norm} --k {wildcards.k}"
        " --seeds {params.seeds} --params '{params.p}' --device {params.device}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule kadam_diagnose:
    input:
        "data/kadam/{task}_selection.npz".format(task=KA["diagnose"]["task"]),
    output:
        record="data/kadam/diagnose.json",
        macros="paper/generated/numbers_kadamdiag.tex",
    params:
        p=kadam_params(KA["diagnose"]["task"]),
        task=KA["diagnose"]["task"],
        lrs=" ".join(str(x) for x in KA["diagnose"]["lrs"]),
        upper=" ".join(str(x) for x in KA["diagnose"]["upper"]),
    log:
        "logs/kadam_diagnose/kadam_diagnose.log",
    benchmark:
        "benchmarks/kadam_diagnose/kadam_diagnose.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    shell:
        "{PY} ctadam.experiments.kadam_bench diagnose --task {params.task} --data {input}"
        " --params '{params.p}' --lrs {params.lrs} --upper {params.upper}"
        " --out {output.record} --macros {output.macros} > {log} 2>&1"


rule kadam_table:
    input:
        expand("data/kadam/final/{cell}.json", cell=KA_CELLS),
    output:
        table=report(
            "paper/generated/kadam_table.tex",
            caption="../../../report/kadam_table.rst",
            category="k-Adam",
        ),
        macros="paper/generated/numbers_kadam.tex",
        summary="data/kadam/summary.json",
    log:
        "logs/kadam_table/kadam_table.log",
    benchmark:
        "benchmarks/kadam_table/kadam_table.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.kadam_bench table --finals {input} --table {output.table}"
        " --macros {output.macros} --summary {output.summary} > {log} 2>&1"


rule kadam_curves:
    input:
        expand("data/kadam/final/{cell}.json", cell=KA_CELLS),
    output:
        pdf=report(
            "figures/kadam_curves.pdf",
            caption="../../../report/kadam_curves.rst",
            category="k-Adam",
        ),
        png="figures/kadam_curves.png",
    log:
        "logs/kadam_curves/kadam_curves.log",
    benchmark:
        "benchmarks/kadam_curves/kadam_curves.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.kadam_curves --finals {input} --out {output.pdf} > {log} 2>&1"


ALL_TARGETS += [
    "figures/normalization.pdf",
    "paper/generated/numbers_normalization.tex",
    "paper/generated/normalization_table.tex",
    "figures/kadam_curves.pdf",
    "paper/generated/kadam_table.tex",
    "paper/generated/numbers_kadam.tex",
    "paper/generated/numbers_kadamdiag.tex",
]
