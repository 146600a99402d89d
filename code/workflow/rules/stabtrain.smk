# Rules of the stabtrain family: training against the paper's and the exact stable regions.
#
# Four experiments (config["stabtrain"]: growth = the paper's Fig. 2b, band = which boundary
# training follows, noise = gradient noise and weight decay, speed = the paper's Sec. 3.3),
# each trained in config["stabtrain"]["shards"] batched jobs (many runs per process,
# ctadam.experiments.shards; one record per run). The summary of each experiment measures
# every run, checks the hard property (no update inside the exact region above B_n; non-zero
# exit otherwise) and writes its macros and table; its figure reads the summary alone.

from ctadam.experiments import stabtrain
from ctadam.experiments.shards import shard_of
from ctadam.io import write_json_atomic

STAB = config["stabtrain"]
STAB_RUNS = {exp: stabtrain.runs(STAB, exp) for exp in stabtrain.EXPERIMENTS}
STAB_SETTINGS = "data/stabtrain/settings.json"
STAB_FIGURES = {
    "growth": "growth_slope",
    "band": "stability_band",
    "noise": "region_noise",
    "speed": "generalization_speed",
}
STAB_FIGURE_EXP = {figure: exp for exp, figure in STAB_FIGURES.items()}


wildcard_constraints:
    exp="|".join(stabtrain.EXPERIMENTS),


rule stabtrain_settings:
    output:
        STAB_SETTINGS,
    params:
        settings=STAB,
    log:
        "logs/stabtrain_settings/stabtrain_settings.log",
    benchmark:
        "benchmarks/stabtrain_settings/stabtrain_settings.tsv"
    threads: 1
    run:
        write_json_atomic(output[0], params.settings)


rule stabtrain_config:
    output:
        "data/runs/stabtrain/{exp}/configs/shard{shard}.json",
    params:
        runs=lambda w: shard_of(STAB_RUNS[w.exp], STAB["shards"], int(w.shard)),
    log:
        "logs/stabtrain_config/{exp}_shard{shard}.log",
    benchmark:
        "benchmarks/stabtrain_config/{exp}_shard{shard}.tsv"
    threads: 1
    run:
        write_json_atomic(output[0], params.runs)


rule stabtrain_run:
    input:
        shard="data/runs/stabtrain/{exp}/configs/shard{shard}.json",
        data=sorted(stabtrain.DATA.values()),
    output:
        directory("data/runs/stabtrain/{exp}/shard{shard}"),
    params:
        device=config["device"],
    log:
        "logs/stabtrain_run/{exp}_shard{shard}.log",
    benchmark:
        "benchmarks/stabtrain_run/{exp}_shard{shard}.tsv"
    threads: 1
    resources:
        mem_mb=800,
    shell:
        "{PY} ctadam.experiments.shards --shard {input.shard} --out {output}"
        " --threads {threads} --device {params.device} > {log} 2>&1"


rule stabtrain_summary:
    input:
        shards=expand(
            "data/runs/stabtrain/{{exp}}/shard{shard}", shard=range(STAB["shards"])
        ),
        settings=STAB_SETTINGS,
    output:
        summary="data/stabtrain/{exp}/summary.json",
        macros="paper/generated/numbers_stab{exp}.tex",
        table=report(
            "paper/generated/stab_{exp}_table.tex",
            caption="../../../report/stabtrain_table.rst",
            category="Stability",
        ),
    log:
        "logs/stabtrain_summary/{exp}.log",
    benchmark:
        "benchmarks/stabtrain_summary/{exp}.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.stabtrain_summary {wildcards.exp} --shards {input.shards}"
        " --settings {input.settings} --out {output.summary} --macros {output.macros}"
        " --table {output.table} > {log} 2>&1"


rule stabtrain_figure:
    input:
        lambda w: f"data/stabtrain/{STAB_FIGURE_EXP[w.figure]}/summary.json",
    output:
        pdf=report(
            "figures/{figure}.pdf",
            caption="../../../report/stabtrain_figure.rst",
            category="Stability",
        ),
        png="figures/{figure}.png",
    wildcard_constraints:
        figure="|".join(STAB_FIGURES.values()),
    log:
        "logs/stabtrain_figure/{figure}.log",
    benchmark:
        "benchmarks/stabtrain_figure/{figure}.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.{wildcards.figure} --summary {input} --out {output.pdf} > {log} 2>&1"


ALL_TARGETS += [f"figures/{f}.{ext}" for f in STAB_FIGURES.values() for ext in ("pdf", "png")]
ALL_TARGETS += [f"paper/generated/numbers_stab{exp}.tex" for exp in stabtrain.EXPERIMENTS]
ALL_TARGETS += [f"paper/generated/stab_{exp}_table.tex" for exp in stabtrain.EXPERIMENTS]
