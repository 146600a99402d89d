# Rules of the normalization family: AdamW norm dynamics (config "normdyn") and the
# meta-adaptive effect (config "meta_adaptive"); the k-Adam study is in kadam.smk.
# Training rules write JSON records under data/; cheap rules turn them into figures,
# tables and number macros, so restyling never retrains.

import json

MNIST1D_NPZ = "data/mnist1d/mnist1d.npz"
ND = config["normdyn"]
MA = config["meta_adaptive"]
ND_BETAS = [f"{b:g}" for b in ND["betas"]]
MA_VARIANTS = ["adam_ln", "kadam2_none", "adam_none"]


wildcard_constraints:
    beta=r"[0-9.]+",
    variant="|".join(MA_VARIANTS),


rule normdyn_run:
    input:
        MNIST1D_NPZ,
    output:
        "data/normdyn/beta{beta}.json",
    params:
        etas=" ".join(str(e) for e in ND["etas"]),
        lams=" ".join(str(x) for x in ND["lams"]),
        hidden=" ".join(str(h) for h in ND["hidden"]),
    log:
        "logs/normdyn_run/beta{beta}.log",
    benchmark:
        "benchmarks/normdyn_run/beta{beta}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    shell:
        "{PY} ctadam.experiments.normdyn --data {input} --out {output} --beta {wildcards.beta}"
        " --etas {params.etas} --lams {params.lams} --gamma {ND[gamma]}"
        " --hidden {params.hidden} --n-train {ND[n_train]} --batch-size {ND[batch_size]}"
        " --steps {ND[steps]} --tail {ND[tail]} --every {ND[every]} --seed {ND[seed]}"
        " --threads {threads} > {log} 2>&1"


rule normdyn_numbers:
    input:
        expand("data/normdyn/beta{beta}.json", beta=ND_BETAS),
    output:
        macros="paper/generated/numbers_norm.tex",
        table=report(
            "paper/generated/normdyn_table.tex",
            caption="../../../report/normdyn_table.rst",
            category="Normalization",
        ),
        summary="data/normdyn/summary.json",
    log:
        "logs/normdyn_numbers/normdyn_numbers.log",
    benchmark:
        "benchmarks/normdyn_numbers/normdyn_numbers.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.normdyn_numbers --records {input} --macros {output.macros}"
        " --table {output.table} --summary {output.summary} > {log} 2>&1"


rule normdyn_figure:
    input:
        expand("data/normdyn/beta{beta}.json", beta=ND_BETAS),
    output:
        pdf=report(
            "figures/norm_dynamics.pdf",
            caption="../../../report/norm_dynamics.rst",
            category="Normalization",
        ),
        png="figures/norm_dynamics.png",
    log:
        "logs/normdyn_figure/norm_dynamics.log",
    benchmark:
        "benchmarks/normdyn_figure/norm_dynamics.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.norm_dynamics --records {input} --out {output.pdf} > {log} 2>&1"


rule meta_stream:
    input:
        MNIST1D_NPZ,
    output:
        "data/meta_adaptive/stream.json",
    params:
        s=MA["stream"],
        lams=" ".join(str(x) for x in MA["stream"]["lams"]),
        hidden=" ".join(str(h) for h in MA["stream"]["hidden"]),
    log:
        "logs/meta_stream/stream.log",
    benchmark:
        "benchmarks/meta_stream/stream.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    shell:
        "{PY} ctadam.experiments.meta_adaptive stream --data {input} --out {output}"
        " --eta {params.s[eta]} --lams {params.lams} --beta {params.s[beta]}"
        " --gamma {params.s[gamma]} --hidden {params.hidden} --n-train {params.s[n_train]}"
        " --batch-size {params.s[batch_size]} --steps {params.s[steps]}"
        " --every {params.s[every]} --seed {params.s[seed]} --threads {threads} > {log} 2>&1"


rule meta_train:
    input:
        MNIST1D_NPZ,
    output:
        "data/meta_adaptive/{variant}.json",
    params:
        train=json.dumps(MA["train"], separators=(",", ":")),
    log:
        "logs/meta_train/{variant}.log",
    benchmark:
        "benchmarks/meta_train/{variant}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    shell:
        "{PY} ctadam.experiments.meta_adaptive train --variant {wildcards.variant}"
        " --data {input} --params '{params.train}' --out {output} --threads {threads}"
        " > {log} 2>&1"


rule meta_numbers:
    input:
        stream="data/meta_adaptive/stream.json",
        train=expand("data/meta_adaptive/{variant}.json", variant=MA_VARIANTS),
    output:
        "paper/generated/numbers_normmeta.tex",
    log:
        "logs/meta_numbers/meta_numbers.log",
    benchmark:
        "benchmarks/meta_numbers/meta_numbers.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.meta_adaptive numbers --stream {input.stream}"
        " --train {input.train} --macros {output} > {log} 2>&1"


rule meta_figure:
    input:
        stream="data/meta_adaptive/stream.json",
        train=expand("data/meta_adaptive/{variant}.json", variant=MA_VARIANTS),
    output:
        pdf=report(
            "figures/meta_adaptive.pdf",
            caption="../../../report/meta_adaptive.rst",
            category="Normalization",
        ),
        png="figures/meta_adaptive.png",
    log:
        "logs/meta_figure/meta_adaptive.log",
    benchmark:
        "benchmarks/meta_figure/meta_adaptive.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.meta_adaptive --stream {input.stream} --train {input.train}"
        " --out {output.pdf} > {log} 2>&1"


ALL_TARGETS += [
    "figures/norm_dynamics.pdf",
    "paper/generated/numbers_norm.tex",
    "paper/generated/normdyn_table.tex",
    "figures/meta_adaptive.pdf",
    "paper/generated/numbers_normmeta.tex",
]
