# Family continuous_time: the continuous-time models integrated against discrete Adam/AdamW
# (config["continuous_time"]), the protocol of ctadam.experiments.protocol.
#
# config: data/runs/continuous_time/section.json and one config per run: one per quadratic
#   problem (id = its name) and one per optimizer on the character transformer
#   (transformer_adam, transformer_adamw);
# run: config["continuous_time"]["shards"] jobs; the runs are ODE integrations, not engine runs
#   (the family's run_one), and the expensive rules of the family;
# summary: the quadratic records and the transformer summary; publish:
#   numbers_continuous_time.tex;
# figure: continuous_time (quadratics), continuous_time_transformer (the paper's Fig. 1),
#   continuous_time_error, all from the summary.

from ctadam.experiments import protocol
from ctadam.experiments import continuous_time
from ctadam.experiments.protocol import shard_ids
from ctadam.paths import DATASETS

CONTINUOUS_TIME = protocol.family_section(config, "continuous_time")
CONTINUOUS_TIME_RUNS = protocol.checked_runs(continuous_time, CONTINUOUS_TIME, DATASETS)
CONTINUOUS_TIME_SHARDS = shard_ids(CONTINUOUS_TIME_RUNS, CONTINUOUS_TIME["shards"])
CONTINUOUS_TIME_DIR = "data/runs/continuous_time"
# The figures (plot modules of ctadam.plots).
CONTINUOUS_TIME_FIGURES = [
    "continuous_time",
    "continuous_time_transformer",
    "continuous_time_error",
]


rule continuous_time_config:
    output:
        section=f"{CONTINUOUS_TIME_DIR}/section.json",
        configs=[f"{CONTINUOUS_TIME_DIR}/configs/{i}.json" for i in sorted(CONTINUOUS_TIME_RUNS)],
    params:
        runs=CONTINUOUS_TIME_RUNS,
        section=CONTINUOUS_TIME,
    log:
        "logs/continuous_time_config/continuous_time_config.log",
    benchmark:
        "benchmarks/continuous_time_config/continuous_time_config.tsv"
    threads: 1
    run:
        write_family_configs(
            params.runs, params.section, output.configs, output.section, log[0]
        )


rule continuous_time_run:
    input:
        configs=lambda w: [
            f"{CONTINUOUS_TIME_DIR}/configs/{i}.json"
            for i in CONTINUOUS_TIME_SHARDS[int(w.shard)]
        ],
        data=DATASETS["shakespeare"],
    output:
        directory(f"{CONTINUOUS_TIME_DIR}/shard{{shard}}"),
    wildcard_constraints:
        shard=r"\d+",
    log:
        "logs/continuous_time_run/shard{shard}.log",
    benchmark:
        "benchmarks/continuous_time_run/shard{shard}.tsv"
    threads: 1
    resources:
        mem_mb=1500,
    shell:
        "OMP_NUM_THREADS=1 {PY} ctadam.experiments.protocol run continuous_time"
        " --configs {input.configs} --out-dir {output} --threads {threads} > {log} 2>&1"


rule continuous_time_summary:
    input:
        records=expand(
            f"{CONTINUOUS_TIME_DIR}/shard{{shard}}",
            shard=range(len(CONTINUOUS_TIME_SHARDS)),
        ),
        section=f"{CONTINUOUS_TIME_DIR}/section.json",
    output:
        f"{CONTINUOUS_TIME_DIR}/summary.json",
    log:
        "logs/continuous_time_summary/continuous_time_summary.log",
    benchmark:
        "benchmarks/continuous_time_summary/continuous_time_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol summary continuous_time --section {input.section}"
        " --records {input.records} --out {output} > {log} 2>&1"


rule continuous_time_publish:
    input:
        summary=f"{CONTINUOUS_TIME_DIR}/summary.json",
        section=f"{CONTINUOUS_TIME_DIR}/section.json",
    output:
        claims=f"{CONTINUOUS_TIME_DIR}/claims.json",
        macros="paper/generated/numbers_continuous_time.tex",
    log:
        "logs/continuous_time_publish/continuous_time_publish.log",
    benchmark:
        "benchmarks/continuous_time_publish/continuous_time_publish.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol publish continuous_time --section {input.section}"
        " --summary {input.summary} --macros {output.macros} --tables-dir paper/generated"
        " --claims {output.claims}"
        " > {log} 2>&1"


rule continuous_time_figure:
    input:
        f"{CONTINUOUS_TIME_DIR}/summary.json",
    output:
        pdf=report(
            "figures/{figure}.pdf",
            caption="../../../report/continuous_time_figure.rst",
            category="Continuous time",
        ),
        png="figures/{figure}.png",
    wildcard_constraints:
        figure="|".join(CONTINUOUS_TIME_FIGURES),
    log:
        "logs/continuous_time_figure/{figure}.log",
    benchmark:
        "benchmarks/continuous_time_figure/{figure}.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.{wildcards.figure} --summary {input} --out {output.pdf} > {log} 2>&1"


ALL_TARGETS += [f"figures/{f}.{ext}" for f in CONTINUOUS_TIME_FIGURES for ext in ("pdf", "png")]
ALL_TARGETS += ["paper/generated/numbers_continuous_time.tex"]
