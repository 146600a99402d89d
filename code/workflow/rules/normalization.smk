# Rules of the normalization family: AdamW norm dynamics (config "normdyn"), the
# meta-adaptive effect (config "meta_adaptive") and the k-Adam benchmark (config "kadam").
# Training rules write JSON records under data/; cheap rules turn them into figures,
# tables and number macros, so restyling never retrains.

import json

MNIST1D_NPZ = "data/mnist1d/mnist1d.npz"
KADAM_DATA = {
    "mnist1d": MNIST1D_NPZ,
    "shakespeare": "data/shakespeare/shakespeare.npz",
    "cifar10": "data/cifar10/cifar10.npz",
}
ND = config["normdyn"]
MA = config["meta_adaptive"]
KA = config["kadam"]
ND_BETAS = [f"{b:g}" for b in ND["betas"]]
MA_VARIANTS = ["adam_ln", "kadam2_none", "adam_none"]
for _task in KA["run_tasks"]:
    if _task not in KA["tasks"]:
        raise ValueError(
            f"config kadam.run_tasks names {_task!r}, which has no entry in kadam.tasks"
        )
KA_CELLS = [
    f"{t}_{n}_k{k}" for t in KA["run_tasks"] for n in KA["norms"] for k in KA["ks"]
]


def kadam_params(task):
    """The task's settings plus the shared optimizer settings, as JSON for the CLI."""
    p = dict(KA["tasks"][task], betas=KA["betas"], weight_decay=KA["weight_decay"])
    return json.dumps(p, separators=(",", ":"))


wildcard_constraints:
    beta=r"[0-9.]+",
    variant="|".join(MA_VARIANTS),
    task="|".join(KADAM_DATA),
    norm="none|layer",
    k=r"[0-9]+",


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


rule kadam_split:
    input:
        lambda wc: KADAM_DATA[wc.task],
    output:
        temp("data/kadam/{task}_selection.npz"),
    params:
        n_val=lambda wc: KA["tasks"][wc.task].get("n_val", 500),
        val_fraction=lambda wc: KA["tasks"][wc.task].get("val_fraction", 0.1),
    log:
        "logs/kadam_split/{task}.log",
    benchmark:
        "benchmarks/kadam_split/{task}.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.kadam_bench split --task {wildcards.task} --data {input}"
        " --out {output} --n-val {params.n_val} --val-fraction {params.val_fraction}"
        " > {log} 2>&1"


rule kadam_select:
    input:
        "data/kadam/{task}_selection.npz",
    output:
        "data/kadam/select/{task}_{norm}_k{k}.json",
    params:
        p=lambda wc: kadam_params(wc.task),
        lrs=lambda wc: " ".join(str(x) for x in KA["tasks"][wc.task]["lrs"]),
        device=config["device"],
    log:
        "logs/kadam_select/{task}_{norm}_k{k}.log",
    benchmark:
        "benchmarks/kadam_select/{task}_{norm}_k{k}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        gpu=1 if config["device"] != "cpu" else 0,
    shell:
        "{PY} ctadam.experiments.kadam_bench select --task {wildcards.task} --data {input}"
        " --norm {wildcards.norm} --k {wildcards.k} --lrs {params.lrs} --params '{params.p}'"
        " --device {params.device} --threads {threads} --out {output} > {log} 2>&1"


rule kadam_final:
    input:
        data=lambda wc: KADAM_DATA[wc.task],
        selection="data/kadam/select/{task}_{norm}_k{k}.json",
    output:
        "data/kadam/final/{task}_{norm}_k{k}.json",
    params:
        p=lambda wc: kadam_params(wc.task),
        seeds=" ".join(str(s) for s in KA["seeds"]),
        device=config["device"],
    log:
        "logs/kadam_final/{task}_{norm}_k{k}.log",
    benchmark:
        "benchmarks/kadam_final/{task}_{norm}_k{k}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        gpu=1 if config["device"] != "cpu" else 0,
    shell:
        "{PY} ctadam.experiments.kadam_bench final --task {wildcards.task} --data {input.data}"
        " --selection {input.selection} --norm {wildcards.norm} --k {wildcards.k}"
        " --seeds {params.seeds} --params '{params.p}' --device {params.device}"
        " --threads {threads} --out {output} > {log} 2>&1"


rule kadam_diagnose:
    input:
        "data/kadam/{task}_selection.npz".format(task=KA["diagnose"]["task"]),
    output:
        record="data/kadam/diagnose.json",
        macros="paper/generated/numbers_kadamdiag.tex",
    params:
        p=kadam_params(KA["diagnose"]["task"]),
        task=KA["diagnose"]["task"],
        lrs=" ".join(str(x) for x in KA["diagnose"]["lrs"]),
        upper=" ".join(str(x) for x in KA["diagnose"]["upper"]),
    log:
        "logs/kadam_diagnose/kadam_diagnose.log",
    benchmark:
        "benchmarks/kadam_diagnose/kadam_diagnose.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    shell:
        "{PY} ctadam.experiments.kadam_bench diagnose --task {params.task} --data {input}"
        " --params '{params.p}' --lrs {params.lrs} --upper {params.upper}"
        " --out {output.record} --macros {output.macros} > {log} 2>&1"


rule kadam_table:
    input:
        expand("data/kadam/final/{cell}.json", cell=KA_CELLS),
    output:
        table=report(
            "paper/generated/kadam_table.tex",
            caption="../../../report/kadam_table.rst",
            category="k-Adam",
        ),
        macros="paper/generated/numbers_kadam.tex",
        summary="data/kadam/summary.json",
    log:
        "logs/kadam_table/kadam_table.log",
    benchmark:
        "benchmarks/kadam_table/kadam_table.tsv"
    threads: 1
    shell:
        "{PY} ctadam.experiments.kadam_bench table --finals {input} --table {output.table}"
        " --macros {output.macros} --summary {output.summary} > {log} 2>&1"


rule kadam_curves:
    input:
        expand("data/kadam/final/{cell}.json", cell=KA_CELLS),
    output:
        pdf=report(
            "figures/kadam_curves.pdf",
            caption="../../../report/kadam_curves.rst",
            category="k-Adam",
        ),
        png="figures/kadam_curves.png",
    log:
        "logs/kadam_curves/kadam_curves.log",
    benchmark:
        "benchmarks/kadam_curves/kadam_curves.tsv"
    threads: 1
    shell:
        "{PY} ctadam.plots.kadam_curves --finals {input} --out {output.pdf} > {log} 2>&1"


ALL_TARGETS += [
    "figures/norm_dynamics.pdf",
    "paper/generated/numbers_norm.tex",
    "paper/generated/normdyn_table.tex",
    "figures/meta_adaptive.pdf",
    "paper/generated/numbers_normmeta.tex",
    "figures/kadam_curves.pdf",
    "paper/generated/kadam_table.tex",
    "paper/generated/numbers_kadam.tex",
    "paper/generated/numbers_kadamdiag.tex",
]
