# The optimizer benchmark (config "bench", not a training family): speed of KAdam against
# torch.optim.Adam, timed in one process (python -m ctadam.bench.optimizer). The timing rule
# bench_optimizer is the expensive step; bench_publish (numbers, table) reads its JSON record,
# bench_summary reduces the record to what the figure draws and bench_figure reads only that
# summary, so restyling the figure never re-times anything.


rule bench_optimizer:
    output:
        "data/bench/optimizer.json",
    params:
        sizes=" ".join(str(s) for s in config["bench"]["sizes"]),
        ks=" ".join(str(k) for k in config["bench"]["ks"]),
        repeats=config["bench"]["repeats"],
        warmup=config["bench"]["warmup"],
        compile_flag="" if config["bench"]["compile"] else "--no-compile",
    log:
        "logs/bench_optimizer/bench_optimizer.log",
    benchmark:
        "benchmarks/bench_optimizer/bench_optimizer.tsv"
    # The timing itself uses one thread; reserving every core keeps other jobs off the
    # machine while it measures.
    threads: ALL_CORES
    resources:
        mem_mb=4000,
    shell:
        "{PY} ctadam.bench.optimizer measure --out {output} --sizes {params.sizes}"
        " --ks {params.ks} --repeats {params.repeats} --warmup {params.warmup}"
        " --threads 1 {params.compile_flag} > {log} 2>&1"


# Seeds as a batch dimension: a stacked ensemble of MLPs under one KAdam step against the
# same members trained one after another (python -m ctadam.bench.ensemble).
rule bench_ensemble:
    output:
        record="data/bench/ensemble.json",
        macros="paper/generated/numbers_bench_ensemble.tex",
    params:
        members=config["bench"]["ensemble"]["members"],
        steps=config["bench"]["ensemble"]["steps"],
        rounds=config["bench"]["ensemble"]["rounds"],
    log:
        "logs/bench_ensemble/bench_ensemble.log",
    benchmark:
        "benchmarks/bench_ensemble/bench_ensemble.tsv"
    threads: ALL_CORES
    shell:
        "{PY} ctadam.bench.ensemble --out {output.record} --macros {output.macros}"
        " --members {params.members} --steps {params.steps} --rounds {params.rounds}"
        " --threads 1 > {log} 2>&1"


rule bench_publish:
    input:
        "data/bench/optimizer.json",
    output:
        macros="paper/generated/numbers_bench.tex",
        table=report(
            "paper/generated/bench_optimizer.tex",
            caption="../../../report/bench_optimizer.rst",
            category="k-Adam",
        ),
    log:
        "logs/bench_publish/bench_publish.log",
    benchmark:
        "benchmarks/bench_publish/bench_publish.tsv"
    threads: 1
    shell:
        "{PY} ctadam.bench.optimizer numbers --record {input} --macros {output.macros}"
        " --table {output.table} > {log} 2>&1"


rule bench_summary:
    input:
        "data/bench/optimizer.json",
    output:
        "data/bench/summary.json",
    log:
        "logs/bench_summary/bench_summary.log",
    benchmark:
        "benchmarks/bench_summary/bench_summary.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.bench --record {input} --out {output} > {log} 2>&1"


rule bench_figure:
    input:
        "data/bench/summary.json",
    output:
        pdf=report(
            "figures/bench.pdf",
            caption="../../../report/bench.rst",
            category="k-Adam",
        ),
        png="figures/bench.png",
    log:
        "logs/bench_figure/bench_figure.log",
    benchmark:
        "benchmarks/bench_figure/bench_figure.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.bench --summary {input} --out {output.pdf} > {log} 2>&1"


ALL_TARGETS += [
    "paper/generated/numbers_bench_ensemble.tex",
    "figures/bench.pdf",
    "figures/bench.png",
    "paper/generated/numbers_bench.tex",
    "paper/generated/bench_optimizer.tex",
]
