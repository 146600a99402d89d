# Family stability_sweep: Adam's (gamma, beta) stability sweep (Claim 1; paper letters,
# gamma = torch beta1, beta = torch beta2), the protocol of ctadam.experiments.protocol.
#
# config: data/runs/stability_sweep/section.json and one config per run (ids such as
#   b1_0.9_b2_0.7_e1e-16 for torch beta1, beta2, eps), from config["stability_sweep"];
# run: config["stability_sweep"]["shards"] jobs, many runs per process, one record per run;
# summary: every record -> summary.json; fails (no summary) when an update inside the region
#   exceeds B_n (the hard property); the sensitivity rows replay the monitor's rule at each
#   threshold of sensitivity_p_max on the logged norms, so changing them never retrains;
# publish: numbers_stability_sweep.tex and the classification and eps-panel tables;
# figure: figures/stability_sweep.pdf from the summary alone.
# stability_sweep_harness times the harness on the sweep's networks (numbers_harness.tex).

from ctadam.experiments import protocol
from ctadam.experiments import stability_sweep
from ctadam.experiments.protocol import shard_ids
from ctadam.paths import DATASETS

STABILITY_SWEEP = protocol.family_section(config, "stability_sweep")
STABILITY_SWEEP_RUNS = protocol.checked_runs(stability_sweep, STABILITY_SWEEP, DATASETS)
STABILITY_SWEEP_SHARDS = shard_ids(STABILITY_SWEEP_RUNS, STABILITY_SWEEP["shards"])
STABILITY_SWEEP_DIR = "data/runs/stability_sweep"


rule stability_sweep_config:
    output:
        section=f"{STABILITY_SWEEP_DIR}/section.json",
        configs=[f"{STABILITY_SWEEP_DIR}/configs/{i}.json" for i in sorted(STABILITY_SWEEP_RUNS)],
    params:
        runs=STABILITY_SWEEP_RUNS,
        section=STABILITY_SWEEP,
    log:
        "logs/stability_sweep_config/stability_sweep_config.log",
    benchmark:
        "benchmarks/stability_sweep_config/stability_sweep_config.tsv"
    threads: 1
    run:
        write_family_configs(
            params.runs, params.section, output.configs, output.section, log[0]
        )


rule stability_sweep_run:
    input:
        configs=lambda w: [
            f"{STABILITY_SWEEP_DIR}/configs/{i}.json"
            for i in STABILITY_SWEEP_SHARDS[int(w.shard)]
        ],
        data=DATASETS["mnist1d"],
    output:
        directory(f"{STABILITY_SWEEP_DIR}/shard{{shard}}"),
    params:
        device=config["device"],
    wildcard_constraints:
        shard=r"\d+",
    log:
        "logs/stability_sweep_run/shard{shard}.log",
    benchmark:
        "benchmarks/stability_sweep_run/shard{shard}.tsv"
    threads: 1
    resources:
        mem_mb=800,
    shell:
        "{PY} ctadam.experiments.protocol run stability_sweep --configs {input.configs}"
        " --out-dir {output} --threads {threads} --device {params.device} > {log} 2>&1"


rule stability_sweep_summary:
    input:
        records=expand(
            f"{STABILITY_SWEEP_DIR}/shard{{shard}}",
            shard=range(len(STABILITY_SWEEP_SHARDS)),
        ),
        section=f"{STABILITY_SWEEP_DIR}/section.json",
    output:
        f"{STABILITY_SWEEP_DIR}/summary.json",
    log:
        "logs/stability_sweep_summary/stability_sweep_summary.log",
    benchmark:
        "benchmarks/stability_sweep_summary/stability_sweep_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol summary stability_sweep --section {input.section}"
        " --records {input.records} --out {output} > {log} 2>&1"


rule stability_sweep_publish:
    input:
        summary=f"{STABILITY_SWEEP_DIR}/summary.json",
        section=f"{STABILITY_SWEEP_DIR}/section.json",
    output:
        claims=f"{STABILITY_SWEEP_DIR}/claims.json",
        macros="paper/generated/numbers_stability_sweep.tex",
        tables=[
            report(
                f"paper/generated/{stem}.tex",
                caption=f"../../../report/{stem}.rst",
                category="Stability",
            )
            for stem in stability_sweep.TABLES
        ],
    log:
        "logs/stability_sweep_publish/stability_sweep_publish.log",
    benchmark:
        "benchmarks/stability_sweep_publish/stability_sweep_publish.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.protocol publish stability_sweep --section {input.section}"
        " --summary {input.summary} --macros {output.macros} --tables-dir paper/generated"
        " --claims {output.claims}"
        " > {log} 2>&1"


rule stability_sweep_figure:
    input:
        f"{STABILITY_SWEEP_DIR}/summary.json",
    output:
        pdf=report(
            "figures/stability_sweep.pdf",
            caption="../../../report/stability_sweep.rst",
            category="Stability",
        ),
        png="figures/stability_sweep.png",
    log:
        "logs/stability_sweep_figure/stability_sweep.log",
    benchmark:
        "benchmarks/stability_sweep_figure/stability_sweep.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.stability_sweep --summary {input} --out {output.pdf} > {log} 2>&1"


rule stability_sweep_harness:
    input:
        DATASETS["mnist1d"],
    output:
        result="data/bench/harness.json",
        macros="paper/generated/numbers_harness.tex",
    params:
        steps=STABILITY_SWEEP["harness"]["steps"],
        repeats=STABILITY_SWEEP["harness"]["repeats"],
        device=config["device"],
    log:
        "logs/stability_sweep_harness/harness.log",
    benchmark:
        "benchmarks/stability_sweep_harness/harness.tsv"
    # All cores, so that no other job of the workflow runs beside this timing; torch uses one.
    threads: ALL_CORES
    resources:
        mem_mb=600,
    shell:
        "{PY} ctadam.bench.harness --data {input} --steps {params.steps}"
        " --repeats {params.repeats} --device {params.device} --threads 1"
        " --out {output.result} --macros {output.macros} > {log} 2>&1"


ALL_TARGETS += [
    "figures/stability_sweep.pdf",
    "figures/stability_sweep.png",
    "paper/generated/numbers_stability_sweep.tex",
    *[f"paper/generated/{stem}.tex" for stem in stability_sweep.TABLES],
    "paper/generated/numbers_harness.tex",
]
