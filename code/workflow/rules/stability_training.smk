# Family stability_training: training against the paper's and the exact stable regions, the
# protocol of ctadam.experiments.protocol.
#
# Four experiments in one family (config["stability_training"]: growth = the paper's Fig. 2b,
# band = which boundary training follows, noise = gradient noise and weight decay, speed = the
# paper's Sec. 3.3); run ids carry the experiment (growth_mnist1d_k000).
# config: data/runs/stability_training/section.json and one config per run (band and noise:
#   each cell's steps from its rates; a grid that leaves a zone without a decidable cell under
#   instability.K fails when this file is parsed, naming the key);
# run: config["stability_training"]["shards"] jobs, many runs per process, one record per run;
# summary: every run measured (ctadam.experiments.measures decides "growing", and
#   ctadam.instability "unstable" = max ||u_n||_inf > K or diverged), the hard
#   property checked per experiment (no update inside the exact region above B_n; the step
#   fails otherwise), each experiment summarised: summary.json = {experiment: summary};
# publish: numbers_stability_training.tex and one table per experiment;
# figure: growth_slope, stability_band, region_noise, generalization_speed, each from its
#   experiment's part of the summary.

from ctadam.experiments import protocol
from ctadam.experiments import stability_training
from ctadam.experiments.protocol import shard_ids
from ctadam.paths import DATASETS

STABILITY_TRAINING = protocol.family_section(config, "stability_training")
STABILITY_TRAINING_RUNS = protocol.checked_runs(
    stability_training, STABILITY_TRAINING, DATASETS
)
STABILITY_TRAINING_SHARDS = shard_ids(STABILITY_TRAINING_RUNS, STABILITY_TRAINING["shards"])
STABILITY_TRAINING_DIR = "data/runs/stability_training"
# The figures (plot modules of ctadam.plots), one per experiment.
STABILITY_TRAINING_FIGURES = [
    "growth_slope",
    "stability_band",
    "region_noise",
    "generalization_speed",
]


rule stability_training_config:
    output:
        section=f"{STABILITY_TRAINING_DIR}/section.json",
        configs=[
            f"{STABILITY_TRAINING_DIR}/configs/{i}.json" for i in sorted(STABILITY_TRAINING_RUNS)
        ],
    params:
        runs=STABILITY_TRAINING_RUNS,
        section=STABILITY_TRAINING,
    log:
        "logs/stability_training_config/stability_training_config.log",
    benchmark:
        "benchmarks/stability_training_config/stability_training_config.tsv"
    threads: 1
    run:
        write_family_configs(
            params.runs, params.section, output.configs, output.section, log[0]
        )


rule stability_training_run:
    input:
        configs=lambda w: [
            f"{STABILITY_TRAINING_DIR}/configs/{i}.json"
            for i in STABILITY_TRAINING_SHARDS[int(w.shard)]
        ],
        data=[DATASETS["mnist1d"], DATASETS["shakespeare"]],
    output:
        directory(f"{STABILITY_TRAINING_DIR}/shard{{shard}}"),
    params:
        device=config["device"],
    wildcard_constraints:
        shard=r"\d+",
    log:
        "logs/stability_training_run/shard{shard}.log",
    benchmark:
        "benchmarks/stability_training_run/shard{shard}.tsv"
    threads: 1
    resources:
        mem_mb=800,
    shell:
        "{PY} ctadam.experiments.protocol run stability_training --configs {input.configs}"
        " --out-dir {output} --threads {threads} --device {params.device} > {log} 2>&1"


rule stability_training_summary:
    input:
        records=expand(
            f"{STABILITY_TRAINING_DIR}/shard{{shard}}",
            shard=range(len(STABILITY_TRAINING_SHARDS)),
        ),
        section=f"{STABILITY_TRAINING_DIR}/section.json",
    output:
        f"{STABILITY_TRAINING_DIR}/summary.json",
    log:
        "logs/stability_training_summary/stability_training_summary.log",
    benchmark:
        "benchmarks/stability_training_summary/stability_training_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol summary stability_training --section {input.section}"
        " --records {input.records} --out {output} > {log} 2>&1"


rule stability_training_publish:
    input:
        summary=f"{STABILITY_TRAINING_DIR}/summary.json",
        section=f"{STABILITY_TRAINING_DIR}/section.json",
    output:
        claims=f"{STABILITY_TRAINING_DIR}/claims.json",
        macros="paper/generated/numbers_stability_training.tex",
        tables=[
            report(
                f"paper/generated/{stem}.tex",
                caption=f"../../../report/{stem}.rst",
                category="Stability",
            )
            for stem in stability_training.TABLES
        ],
    log:
        "logs/stability_training_publish/stability_training_publish.log",
    benchmark:
        "benchmarks/stability_training_publish/stability_training_publish.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol publish stability_training --section {input.section}"
        " --summary {input.summary} --macros {output.macros} --tables-dir paper/generated"
        " --claims {output.claims}"
        " > {log} 2>&1"


rule stability_training_figure:
    input:
        f"{STABILITY_TRAINING_DIR}/summary.json",
    output:
        pdf=report(
            "figures/{figure}.pdf",
            caption="../../../report/stability_training_figure.rst",
            category="Stability",
        ),
        png="figures/{figure}.png",
    wildcard_constraints:
        figure="|".join(STABILITY_TRAINING_FIGURES),
    log:
        "logs/stability_training_figure/{figure}.log",
    benchmark:
        "benchmarks/stability_training_figure/{figure}.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.{wildcards.figure} --summary {input} --out {output.pdf} > {log} 2>&1"


ALL_TARGETS += [
    f"figures/{f}.{ext}" for f in STABILITY_TRAINING_FIGURES for ext in ("pdf", "png")
]
ALL_TARGETS += ["paper/generated/numbers_stability_training.tex"]
ALL_TARGETS += [f"paper/generated/{stem}.tex" for stem in stability_training.TABLES]
