# Rules of the k-Adam study (config "kadam_optimizer", package
# ctadam.experiments.kadam_optimizer, paper section kadam_optimizer): the paper's k sweep under
# four upper-level strategies on CIFAR-10 with and without normalization, the direct test
# (un-normalized 2-Adam with the momentum-free, pooled level 2 of eq:meta-adaptive against
# AdamW with and without LayerNorm) on every task, and the tuned baselines (AdamW, Lion).
#
# Two stages through the one runner (ctadam.experiments.protocol): kadam_optimizer_config
# writes the section and the selection configs; kadam_optimizer_split cuts each task's data
# into a selection file (part of the training data held out) and a final file;
# kadam_optimizer_select trains the selection configs (one job per shard);
# kadam_optimizer_choose keeps each cell's best learning rate on the validation split and
# writes the final configs; kadam_optimizer_run trains every seed at its chosen rate. The
# summary reads the records of both stages; the figure and the tables read only the summary.

import os

from ctadam.experiments import protocol
from ctadam.experiments import kadam_optimizer as kadam_optimizer_family
from ctadam.experiments.kadam_optimizer import power as kadam_optimizer_power
from ctadam.experiments.kadam_optimizer.verdict import RECORDS as KADAM_RECORDS
from ctadam.experiments.protocol import shard_ids
from ctadam.paths import DATASETS

KADAM_OPTIMIZER = protocol.family_section(config, "kadam_optimizer")
# A profile whose seeds cannot reach power.mde_ceiling (with the stated sd_prior) is warned
# about here, when the workflow is parsed (once: not again when a job's own process reparses
# it); it still runs.
if workflow.is_main_process:
    kadam_optimizer_power.warn(KADAM_OPTIMIZER)
KADAM_OPTIMIZER_SELECT_DATA = kadam_optimizer_family.split_data(KADAM_OPTIMIZER, "select")
KADAM_OPTIMIZER_FINAL_DATA = kadam_optimizer_family.split_data(KADAM_OPTIMIZER, "final")
KADAM_OPTIMIZER_SELECT_RUNS = protocol.checked_runs(
    kadam_optimizer_family, KADAM_OPTIMIZER, KADAM_OPTIMIZER_SELECT_DATA
)
KADAM_OPTIMIZER_FINAL_IDS = kadam_optimizer_family.final_ids(KADAM_OPTIMIZER)
KADAM_OPTIMIZER_SELECT_SHARDS = shard_ids(
    KADAM_OPTIMIZER_SELECT_RUNS, KADAM_OPTIMIZER["shards"]
)
KADAM_OPTIMIZER_SHARDS = shard_ids(KADAM_OPTIMIZER_FINAL_IDS, KADAM_OPTIMIZER["shards"])
KADAM_OPTIMIZER_SECTION = "data/runs/kadam_optimizer/section.json"
KADAM_OPTIMIZER_SUMMARY = "data/kadam_optimizer/summary.json"
KADAM_OPTIMIZER_DEVICE = config["device"]


wildcard_constraints:
    katask="|".join(KADAM_OPTIMIZER["run_tasks"]),


rule kadam_optimizer_config:
    output:
        section=KADAM_OPTIMIZER_SECTION,
        configs=expand(
            "data/runs/kadam_optimizer/select/configs/{run}.json",
            run=sorted(KADAM_OPTIMIZER_SELECT_RUNS),
        ),
    params:
        runs=KADAM_OPTIMIZER_SELECT_RUNS,
        section=KADAM_OPTIMIZER,
    log:
        "logs/kadam_optimizer_config/kadam_optimizer_config.log",
    benchmark:
        "benchmarks/kadam_optimizer_config/kadam_optimizer_config.tsv"
    threads: 1
    run:
        write_family_configs(
            params.runs, params.section, output.configs, output.section, log[0]
        )


rule kadam_optimizer_split:
    input:
        data=lambda wc: DATASETS[wc.katask],
        section=KADAM_OPTIMIZER_SECTION,
    output:
        select="data/kadam_optimizer/{katask}_select.npz",
        final="data/kadam_optimizer/{katask}_final.npz",
    log:
        "logs/kadam_optimizer_split/{katask}.log",
    benchmark:
        "benchmarks/kadam_optimizer_split/{katask}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "{PY} ctadam.experiments.kadam_optimizer split --section {input.section}"
        " --task {wildcards.katask} --data {input.data} > {log} 2>&1"


rule kadam_optimizer_select:
    input:
        data=list(KADAM_OPTIMIZER_SELECT_DATA.values()),
        configs=lambda wc: expand(
            "data/runs/kadam_optimizer/select/configs/{run}.json",
            run=KADAM_OPTIMIZER_SELECT_SHARDS[int(wc.shard)],
        ),
    output:
        directory("data/runs/kadam_optimizer/select/shard{shard}"),
    wildcard_constraints:
        shard=r"[0-9]+",
    params:
        device=KADAM_OPTIMIZER_DEVICE,
    log:
        "logs/kadam_optimizer_select/shard{shard}.log",
    benchmark:
        "benchmarks/kadam_optimizer_select/shard{shard}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        gpu=1 if KADAM_OPTIMIZER_DEVICE != "cpu" else 0,
    shell:
        "{PY} ctadam.experiments.protocol run kadam_optimizer --configs {input.configs}"
        " --out-dir {output} --threads {threads} --device {params.device} > {log} 2>&1"


rule kadam_optimizer_choose:
    input:
        section=KADAM_OPTIMIZER_SECTION,
        records=expand(
            "data/runs/kadam_optimizer/select/shard{shard}",
            shard=range(len(KADAM_OPTIMIZER_SELECT_SHARDS)),
        ),
    output:
        selection="data/runs/kadam_optimizer/selection.json",
        configs=expand(
            "data/runs/kadam_optimizer/configs/{run}.json",
            run=sorted(KADAM_OPTIMIZER_FINAL_IDS),
        ),
    log:
        "logs/kadam_optimizer_choose/kadam_optimizer_choose.log",
    benchmark:
        "benchmarks/kadam_optimizer_choose/kadam_optimizer_choose.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.kadam_optimizer choose --section {input.section}"
        " --records {input.records} --selection {output.selection}"
        " --configs-dir data/runs/kadam_optimizer/configs > {log} 2>&1"


rule kadam_optimizer_run:
    input:
        data=list(KADAM_OPTIMIZER_FINAL_DATA.values()),
        configs=lambda wc: expand(
            "data/runs/kadam_optimizer/configs/{run}.json",
            run=KADAM_OPTIMIZER_SHARDS[int(wc.shard)],
        ),
    output:
        directory("data/runs/kadam_optimizer/shard{shard}"),
    wildcard_constraints:
        shard=r"[0-9]+",
    params:
        device=KADAM_OPTIMIZER_DEVICE,
    log:
        "logs/kadam_optimizer_run/shard{shard}.log",
    benchmark:
        "benchmarks/kadam_optimizer_run/shard{shard}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        gpu=1 if KADAM_OPTIMIZER_DEVICE != "cpu" else 0,
    shell:
        "{PY} ctadam.experiments.protocol run kadam_optimizer --configs {input.configs}"
        " --out-dir {output} --threads {threads} --device {params.device} > {log} 2>&1"


rule kadam_optimizer_summary:
    input:
        section=KADAM_OPTIMIZER_SECTION,
        select=expand(
            "data/runs/kadam_optimizer/select/shard{shard}",
            shard=range(len(KADAM_OPTIMIZER_SELECT_SHARDS)),
        ),
        final=expand(
            "data/runs/kadam_optimizer/shard{shard}",
            shard=range(len(KADAM_OPTIMIZER_SHARDS)),
        ),
    output:
        KADAM_OPTIMIZER_SUMMARY,
    log:
        "logs/kadam_optimizer_summary/kadam_optimizer_summary.log",
    benchmark:
        "benchmarks/kadam_optimizer_summary/kadam_optimizer_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol summary kadam_optimizer --section {input.section}"
        " --records {input.select} {input.final} --out {output} > {log} 2>&1"


rule kadam_optimizer_publish:
    input:
        section=KADAM_OPTIMIZER_SECTION,
        summary=KADAM_OPTIMIZER_SUMMARY,
        # The committed records of the standalone protocols (CIFAR-10 on one GPU, the small
        # tasks on the CPU; ctadam.experiments.kadam_optimizer.standalone), when present: the
        # ledger rows kadam-cifar10 and kadam are judged from them.
        standalone=[
            p
            for p in (f"{d}/summary.json" for d in KADAM_RECORDS.values())
            if os.path.exists(p)
        ],
    output:
        claims="data/runs/kadam_optimizer/claims.json",
        k_table=report(
            "paper/generated/kadam_optimizer_k_table.tex",
            caption="../../../report/kadam_optimizer_k_table.rst",
            category="k-Adam",
        ),
        direct=report(
            "paper/generated/kadam_optimizer_direct_table.tex",
            caption="../../../report/kadam_optimizer_direct_table.rst",
            category="k-Adam",
        ),
        baselines=report(
            "paper/generated/kadam_optimizer_baselines_table.tex",
            caption="../../../report/kadam_optimizer_baselines_table.rst",
            category="k-Adam",
        ),
        power=report(
            "paper/generated/kadam_optimizer_power_table.tex",
            caption="../../../report/kadam_optimizer_power_table.rst",
            category="k-Adam",
        ),
        macros="paper/generated/numbers_kadam_optimizer.tex",
    log:
        "logs/kadam_optimizer_publish/kadam_optimizer_publish.log",
    benchmark:
        "benchmarks/kadam_optimizer_publish/kadam_optimizer_publish.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol publish kadam_optimizer --section {input.section}"
        " --summary {input.summary} --macros {output.macros} --tables-dir paper/generated"
        " --claims {output.claims} > {log} 2>&1"


rule kadam_optimizer_figure:
    input:
        KADAM_OPTIMIZER_SUMMARY,
    output:
        pdf=report(
            "figures/kadam_optimizer.pdf",
            caption="../../../report/kadam_optimizer.rst",
            category="k-Adam",
        ),
        png="figures/kadam_optimizer.png",
    params:
        task=KADAM_OPTIMIZER["figure_task"],
    log:
        "logs/kadam_optimizer_figure/kadam_optimizer_figure.log",
    benchmark:
        "benchmarks/kadam_optimizer_figure/kadam_optimizer_figure.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.kadam_optimizer --summary {input} --task {params.task}"
        " --out {output.pdf} > {log} 2>&1"


ALL_TARGETS += [
    "figures/kadam_optimizer.pdf",
    "paper/generated/kadam_optimizer_k_table.tex",
    "paper/generated/kadam_optimizer_direct_table.tex",
    "paper/generated/kadam_optimizer_baselines_table.tex",
    "paper/generated/kadam_optimizer_power_table.tex",
    "paper/generated/numbers_kadam_optimizer.tex",
]
