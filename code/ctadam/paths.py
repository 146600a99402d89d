"""Where the library finds the datasets by default: the project root and its ``data/``.

Paths are relative to the project root, which is the current working directory (the
directory holding the ``Snakefile``) unless the environment variable ``CTADAM_ROOT`` names
another one. Keeping them relative lets the tests run the workflow in a temporary copy.
"""

import os
from pathlib import Path

# The dataset file of each task, relative to the project root: what the data rules write and
# what run configs name as ``data``. Rule files and experiments take their paths from here.
DATASETS = {
    "mnist1d": "data/mnist1d/mnist1d.npz",
    "shakespeare": "data/shakespeare/shakespeare.npz",
    "cifar10": "data/cifar10/cifar10.npz",
}


def root() -> Path:
    """The project root: ``$CTADAM_ROOT`` if set, else the current working directory."""
    return Path(os.environ.get("CTADAM_ROOT", os.getcwd()))


def data_dir() -> Path:
    """Datasets and run records (generated, git-ignored)."""
    return root() / "data"


def dataset(task: str) -> Path:
    """The default dataset file of ``task`` (a key of :data:`DATASETS`) under the root."""
    if task not in DATASETS:
        raise ValueError(f"task must be one of {tuple(DATASETS)}, got {task!r}")
    return root() / DATASETS[task]
