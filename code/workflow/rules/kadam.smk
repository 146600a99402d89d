# Rules of the k-Adam study (config "kadam"): the paper's k sweep under four upper-level
# strategies on CIFAR-10 with and without normalization, the direct test (un-normalized
# 2-Adam with the theory's momentum-free, pooled level 2 against AdamW with and without
# LayerNorm) on every task, and the tuned baselines (AdamW, Lion).
#
# kadam_plan writes the plan and the selection jobs (ctadam.experiments.kadam_plan, no torch);
# kadam_select runs them in `shards` batched processes; kadam_choose keeps each cell's best
# learning rate on the validation split and writes the final jobs; kadam_final runs every
# seed; kadam_summary gathers them; the figure and the tables read only the summary.

import json

from ctadam.experiments import kadam_plan

KA = config["kadam"]
KA_SOURCES = {
    "mnist1d": "data/mnist1d/mnist1d.npz",
    "shakespeare": "data/shakespeare/shakespeare.npz",
    "cifar10": "data/cifar10/cifar10.npz",
}
KA_DATA = {
    t: {"select": f"data/kadam/{t}_select.npz", "final": f"data/kadam/{t}_final.npz"}
    for t in KA["run_tasks"]
}
if KA["figure_task"] not in KA["run_tasks"]:
    raise ValueError(f"config kadam.figure_task {KA['figure_task']!r} is not in run_tasks")
KA_SELECT_JOBS = kadam_plan.select_jobs(KA, KA_DATA)
KA_SHARDS = list(range(KA["shards"]))
KA_PLAN = json.dumps({"kadam": KA, "data": KA_DATA}, sort_keys=True)
KA_DEVICE = config["device"]


wildcard_constraints:
    katask="|".join(KA_SOURCES),
    shard=r"[0-9]+",


rule kadam_plan:
    output:
        plan="data/kadam/plan.json",
        jobs=expand("data/kadam/select/jobs{shard}.json", shard=KA_SHARDS),
    params:
        plan=KA_PLAN,
    log:
        "logs/kadam_plan/kadam_plan.log",
    benchmark:
        "benchmarks/kadam_plan/kadam_plan.tsv"
    threads: 1
    run:
        with open(output.plan, "w", encoding="utf-8") as handle:
            handle.write(params.plan + "\n")
        for i, path in enumerate(output.jobs):
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(kadam_plan.shard(KA_SELECT_JOBS, i, len(KA_SHARDS)), handle)
        with open(log[0], "w", encoding="utf-8") as handle:
            handle.write(f"{len(KA_SELECT_JOBS)} selection jobs in {len(KA_SHARDS)} shards\n")


rule kadam_split:
    input:
        data=lambda wc: KA_SOURCES[wc.katask],
        plan="data/kadam/plan.json",
    output:
        select="data/kadam/{katask}_select.npz",
        final="data/kadam/{katask}_final.npz",
    log:
        "logs/kadam_split/{katask}.log",
    benchmark:
        "benchmarks/kadam_split/{katask}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "{PY} ctadam.experiments.kadam_bench split --task {wildcards.katask}"
        " --data {input.data} --plan {input.plan} --select-out {output.select}"
        " --final-out {output.final} > {log} 2>&1"


rule kadam_select:
    input:
        jobs="data/kadam/select/jobs{shard}.json",
        data=[KA_DATA[t]["select"] for t in KA["run_tasks"]],
    output:
        directory("data/runs/kadam/select/shard{shard}"),
    params:
        device=KA_DEVICE,
    log:
        "logs/kadam_select/shard{shard}.log",
    benchmark:
        "benchmarks/kadam_select/shard{shard}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        gpu=1 if KA_DEVICE != "cpu" else 0,
    shell:
        "{PY} ctadam.experiments.kadam_bench runs --jobs {input.jobs} --out-dir {output}"
        " --threads {threads} --device {params.device} > {log} 2>&1"


rule kadam_choose:
    input:
        plan="data/kadam/plan.json",
        records=expand("data/runs/kadam/select/shard{shard}", shard=KA_SHARDS),
    output:
        selection="data/kadam/selection.json",
        jobs=expand("data/kadam/final/jobs{shard}.json", shard=KA_SHARDS),
    log:
        "logs/kadam_choose/kadam_choose.log",
    benchmark:
        "benchmarks/kadam_choose/kadam_choose.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.kadam_bench choose --plan {input.plan}"
        " --records {input.records} --selection {output.selection} --jobs {output.jobs}"
        " > {log} 2>&1"


rule kadam_final:
    input:
        jobs="data/kadam/final/jobs{shard}.json",
        data=[KA_DATA[t]["final"] for t in KA["run_tasks"]],
    output:
        directory("data/runs/kadam/final/shard{shard}"),
    params:
        device=KA_DEVICE,
    log:
        "logs/kadam_final/shard{shard}.log",
    benchmark:
        "benchmarks/kadam_final/shard{shard}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        gpu=1 if KA_DEVICE != "cpu" else 0,
    shell:
        "{PY} ctadam.experiments.kadam_bench runs --jobs {input.jobs} --out-dir {output}"
        " --threads {threads} --device {params.device} > {log} 2>&1"


rule kadam_summary:
    input:
        plan="data/kadam/plan.json",
        selection="data/kadam/selection.json",
        records=expand("data/runs/kadam/final/shard{shard}", shard=KA_SHARDS),
    output:
        "data/kadam/summary.json",
    log:
        "logs/kadam_summary/kadam_summary.log",
    benchmark:
        "benchmarks/kadam_summary/kadam_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.kadam_bench summary --plan {input.plan}"
        " --selection {input.selection} --records {input.records} --out {output}"
        " > {log} 2>&1"


rule kadam_figure:
    input:
        "data/kadam/summary.json",
    output:
        pdf=report(
            "figures/kadam_k.pdf",
            caption="../../../report/kadam_k.rst",
            category="k-Adam",
        ),
        png="figures/kadam_k.png",
    params:
        task=KA["figure_task"],
    log:
        "logs/kadam_figure/kadam_k.log",
    benchmark:
        "benchmarks/kadam_figure/kadam_k.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.kadam_k --summary {input} --task {params.task}"
        " --out {output.pdf} > {log} 2>&1"


rule kadam_publish:
    input:
        "data/kadam/summary.json",
    output:
        k_table=report(
            "paper/generated/kadam_k_table.tex",
            caption="../../../report/kadam_k_table.rst",
            category="k-Adam",
        ),
        direct=report(
            "paper/generated/kadam_direct_table.tex",
            caption="../../../report/kadam_direct_table.rst",
            category="k-Adam",
        ),
        baselines=report(
            "paper/generated/kadam_baselines_table.tex",
            caption="../../../report/kadam_baselines_table.rst",
            category="k-Adam",
        ),
        macros="paper/generated/numbers_kadam.tex",
    params:
        task=KA["figure_task"],
    log:
        "logs/kadam_publish/kadam_publish.log",
    benchmark:
        "benchmarks/kadam_publish/kadam_publish.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.kadam_tables --summary {input} --task {params.task}"
        " --k-table {output.k_table} --direct-table {output.direct}"
        " --baselines-table {output.baselines} --macros {output.macros} > {log} 2>&1"


ALL_TARGETS += [
    "figures/kadam_k.pdf",
    "paper/generated/kadam_k_table.tex",
    "paper/generated/kadam_direct_table.tex",
    "paper/generated/kadam_baselines_table.tex",
    "paper/generated/numbers_kadam.tex",
]
