"""Where the library finds the datasets by default: the project root and its ``data/``.

Paths are relative to the project root, which is the current working directory (the
directory holding the ``Snakefile``) unless the environment variable ``CTADAM_ROOT`` names
another one. Keeping them relative lets the tests run the workflow in a temporary copy.
"""

import os
from pathlib import Path


def root() -> Path:
    """The project root: ``$CTADAM_ROOT`` if set, else the current working directory."""
    return Path(os.environ.get("CTADAM_ROOT", os.getcwd()))


def data_dir() -> Path:
    """Datasets and run records (generated, git-ignored)."""
    return root() / "data"
