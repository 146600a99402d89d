# Rules of the sweep family: Adam's (gamma, beta) stability sweep (Claim 1; paper letters,
# gamma = torch beta1, beta = torch beta2).
#
# The runs (configs from config["sweep"] by ctadam.experiments.sweep, ids such as
# b1_0.9_b2_0.7_e1e-16 for torch beta1, beta2, eps) are trained in config["sweep"]["shards"] batched jobs, many runs per
# process (ctadam.experiments.shards), each run still writing its own record. The aggregation
# reads every record, checks the hard property "no update coordinate above B_n inside the
# region" (non-zero exit if violated) and writes the summary, the number macros and the
# classification table (one row per threshold p_max of config["sweep"]["sensitivity_p_max"],
# replayed on the logged norms, so changing those thresholds never retrains); the figure is
# drawn from the summary alone, so restyling it never retrains. The harness writes the macros
# naming its networks.

from ctadam.experiments.shards import shard_of
from ctadam.experiments.sweep import run_configs
from ctadam.io import write_json_atomic

SWEEP = config["sweep"]
SWEEP_DATA = "data/mnist1d/mnist1d.npz"
SWEEP_RUNS = run_configs(SWEEP, SWEEP_DATA)
SWEEP_SHARDS = range(SWEEP["shards"])
SWEEP_SETTINGS = "data/sweep/settings.json"
SWEEP_SUMMARY = "data/sweep/summary.json"


rule sweep_settings:
    output:
        SWEEP_SETTINGS,
    params:
        settings=SWEEP,
    log:
        "logs/sweep_settings/sweep_settings.log",
    benchmark:
        "benchmarks/sweep_settings/sweep_settings.tsv"
    threads: 1
    run:
        write_json_atomic(output[0], params.settings)


rule sweep_config:
    output:
        "data/runs/sweep/configs/shard{shard}.json",
    params:
        runs=lambda wildcards: shard_of(SWEEP_RUNS, SWEEP["shards"], int(wildcards.shard)),
    log:
        "logs/sweep_config/shard{shard}.log",
    benchmark:
        "benchmarks/sweep_config/shard{shard}.tsv"
    threads: 1
    run:
        write_json_atomic(output[0], params.runs)


rule sweep_run:
    input:
        shard="data/runs/sweep/configs/shard{shard}.json",
        data=SWEEP_DATA,
    output:
        directory("data/runs/sweep/shard{shard}"),
    params:
        device=config["device"],
    log:
        "logs/sweep_run/shard{shard}.log",
    benchmark:
        "benchmarks/sweep_run/shard{shard}.tsv"
    threads: 1
    resources:
        mem_mb=800,
    shell:
        "{PY} ctadam.experiments.shards --shard {input.shard} --out {output}"
        " --threads {threads} --device {params.device} > {log} 2>&1"


rule sweep_aggregate:
    input:
        shards=expand("data/runs/sweep/shard{shard}", shard=SWEEP_SHARDS),
        settings=SWEEP_SETTINGS,
    output:
        summary=SWEEP_SUMMARY,
        macros="paper/generated/numbers_sweep.tex",
        table=report(
            "paper/generated/sweep_classification.tex",
            caption="../../../report/sweep_classification.rst",
            category="Stability",
        ),
        eps_table=report(
            "paper/generated/sweep_eps_panel.tex",
            caption="../../../report/sweep_eps_panel.rst",
            category="Stability",
        ),
    log:
        "logs/sweep_aggregate/sweep_aggregate.log",
    benchmark:
        "benchmarks/sweep_aggregate/sweep_aggregate.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.sweep aggregate --shards {input.shards}"
        " --settings {input.settings} --out {output.summary} --macros {output.macros}"
        " --table {output.table} --eps-table {output.eps_table} > {log} 2>&1"


rule sweep_figure:
    input:
        summary=SWEEP_SUMMARY,
        settings=SWEEP_SETTINGS,
    output:
        pdf=report(
            "figures/stability_sweep.pdf",
            caption="../../../report/stability_sweep.rst",
            category="Stability",
        ),
        png="figures/stability_sweep.png",
    log:
        "logs/sweep_figure/stability_sweep.log",
    benchmark:
        "benchmarks/sweep_figure/stability_sweep.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.stability_sweep --summary {input.summary} --settings {input.settings}"
        " --out {output.pdf} > {log} 2>&1"


rule sweep_harness:
    input:
        SWEEP_DATA,
    output:
        result="data/bench/harness.json",
        macros="paper/generated/numbers_harness.tex",
    params:
        steps=SWEEP["harness"]["steps"],
        repeats=SWEEP["harness"]["repeats"],
        device=config["device"],
    log:
        "logs/sweep_harness/harness.log",
    benchmark:
        "benchmarks/sweep_harness/harness.tsv"
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
    "paper/generated/numbers_sweep.tex",
    "paper/generated/sweep_classification.tex",
    "paper/generated/sweep_eps_panel.tex",
    "paper/generated/numbers_harness.tex",
]
