"""MNIST-1D, generated procedurally by the ``mnist1d`` package with its default arguments.

4000 train / 1000 test sequences of 40 features, 10 classes; the package's download path is
never used.
"""

from pathlib import Path

import torch

from ctadam import paths
from ctadam.checks import check_int
from ctadam.data.cache import ArrayDataset, load_npz, save_npz, take


def mnist1d_path() -> Path:
    """Where the generated MNIST-1D arrays are cached."""
    return paths.dataset("mnist1d")


def generate_mnist1d(path: str | Path | None = None, seed: int = 42) -> Path:
    """Generate MNIST-1D with the package defaults (and ``seed``) and cache it as ``.npz``.

    The file holds ``x_train, y_train, x_test, y_test`` and ``sha256`` (of the four arrays).
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = check_int("seed", seed, 0)
    raw = make_dataset(args)
    arrays = {"x_train": raw["x"], "y_train": raw["y"], "x_test": raw["x_test"],
              "y_test": raw["y_test"]}
    return save_npz(path if path is not None else mnist1d_path(), arrays)


def load_mnist1d(path: str | Path | None = None, n_train: int | None = None) -> ArrayDataset:
    """Load the cached MNIST-1D arrays as float32/int64 tensors, checking their hash.

    ``n_train`` keeps only the first ``n_train`` training samples (the test set is whole).
    Raises ``FileNotFoundError`` saying how to create the cache when it is missing, and
    ``ValueError`` when the file is unreadable or does not match its recorded hash.
    """
    path = Path(path) if path is not None else mnist1d_path()
    keys = ("x_train", "y_train", "x_test", "y_test")
    npz = load_npz(path, keys, "MNIST-1D", f"python -m ctadam.data mnist1d --out {path}")
    return ArrayDataset(
        torch.from_numpy(take(npz["x_train"], n_train)).float(),
        torch.from_numpy(take(npz["y_train"], n_train)).long(),
        torch.from_numpy(npz["x_test"]).float(), torch.from_numpy(npz["y_test"]).long(),
        npz["sha256"],
    )
