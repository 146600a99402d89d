# Rules of the sweep family: Adam's (beta, gamma) stability sweep (Claim 1).
#
# One job per training run (wildcard `run`, e.g. b0.9_g0.7_e1e-16), configs generated from
# config["sweep"] by ctadam.experiments.sweep; the aggregation reads every record, checks the
# hard property "no update coordinate above B_n inside the region" (non-zero exit if violated)
# and writes the summary, the number macros and the classification table (one row per
# threshold p_max of config["sweep"]["sensitivity_p_max"], replayed on the logged norms, so
# changing those thresholds never retrains); the figure is drawn from the summary alone, so
# restyling it never retrains. The harness writes the macros naming its networks.

import json

from ctadam.experiments.sweep import run_configs

SWEEP = config["sweep"]
SWEEP_DATA = "data/mnist1d/mnist1d.npz"
SWEEP_RUNS = run_configs(SWEEP, SWEEP_DATA)
SWEEP_JSON = json.dumps(SWEEP, sort_keys=True)
SWEEP_SUMMARY = "data/sweep/summary.json"


wildcard_constraints:
    run=r"b[0-9.e+-]+_g[0-9.e+-]+_e[0-9.e+-]+",


rule sweep_run:
    input:
        SWEEP_DATA,
    output:
        config="data/runs/sweep/configs/{run}.json",
        record="data/runs/sweep/{run}.json",
    params:
        cfg=lambda wildcards: json.dumps(SWEEP_RUNS[wildcards.run], sort_keys=True),
        device=config["device"],
    log:
        "logs/sweep_run/{run}.log",
    benchmark:
        "benchmarks/sweep_run/{run}.tsv"
    threads: 1
    resources:
        mem_mb=600,
    shell:
        "printf '%s\\n' '{params.cfg}' > {output.config}"
        " && {PY} ctadam.train --config {output.config} --out {output.record}"
        " --threads {threads} --device {params.device} > {log} 2>&1"


rule sweep_aggregate:
    input:
        expand("data/runs/sweep/{run}.json", run=sorted(SWEEP_RUNS)),
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
    params:
        sweep=SWEEP_JSON,
    log:
        "logs/sweep_aggregate/sweep_aggregate.log",
    benchmark:
        "benchmarks/sweep_aggregate/sweep_aggregate.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.sweep aggregate --records {input} --sweep-json '{params.sweep}'"
        " --out {output.summary} --macros {output.macros} --table {output.table}"
        " --eps-table {output.eps_table} > {log} 2>&1"


rule sweep_figure:
    input:
        SWEEP_SUMMARY,
    output:
        pdf=report(
            "figures/stability_sweep.pdf",
            caption="../../../report/stability_sweep.rst",
            category="Stability",
        ),
        png="figures/stability_sweep.png",
    params:
        sweep=SWEEP_JSON,
    log:
        "logs/sweep_figure/stability_sweep.log",
    benchmark:
        "benchmarks/sweep_figure/stability_sweep.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.stability_sweep --summary {input} --sweep-json '{params.sweep}'"
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
