"""Datasets: MNIST-1D (generated), Shakespeare characters, CIFAR-10 (full profile).

MNIST-1D is generated procedurally by the ``mnist1d`` package with its default arguments
(4000 train / 1000 test sequences of 40 features, 10 classes); its download path is never
used. The generated arrays are cached as ``.npz`` together with a SHA-256 of their bytes, so
every run can record exactly which data it saw.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ctadam import paths


@dataclass(frozen=True)
class ArrayDataset:
    """A train/test split held in memory as tensors, with the hash of its arrays."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    sha256: str

    def to(self, device=None, dtype=None) -> "ArrayDataset":
        """Move the inputs to ``device``/``dtype`` (labels keep their integer dtype)."""
        return ArrayDataset(
            self.x_train.to(device=device, dtype=dtype), self.y_train.to(device=device),
            self.x_test.to(device=device, dtype=dtype), self.y_test.to(device=device),
            self.sha256,
        )


def arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the named arrays in sorted key order (dtype, shape and bytes)."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        arr = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{arr.dtype.str}:{arr.shape}".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def mnist1d_path() -> Path:
    """Where the generated MNIST-1D arrays are cached."""
    return paths.data_dir() / "mnist1d" / "mnist1d.npz"


def generate_mnist1d(path: str | Path | None = None, seed: int = 42) -> Path:
    """Generate MNIST-1D with the package defaults (and ``seed``) and cache it as ``.npz``.

    The file holds ``x_train, y_train, x_test, y_test`` and ``sha256`` (of the four arrays).
    """
    from mnist1d.data import get_dataset_args, make_dataset

    path = Path(path) if path is not None else mnist1d_path()
    args = get_dataset_args()
    args.seed = seed
    raw = make_dataset(args)
    arrays = {"x_train": raw["x"], "y_train": raw["y"], "x_test": raw["x_test"],
              "y_test": raw["y_test"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, sha256=np.array(arrays_sha256(arrays)), **arrays)
    tmp.replace(path)
    return path


def load_mnist1d(path: str | Path | None = None, n_train: int | None = None) -> ArrayDataset:
    """Load the cached MNIST-1D arrays as float32/int64 tensors, checking their hash.

    ``n_train`` keeps only the first ``n_train`` training samples (the test set is whole).
    Raises ``FileNotFoundError`` saying how to create the cache when it is missing, and
    ``ValueError`` when the file does not match its recorded hash.
    """
    path = Path(path) if path is not None else mnist1d_path()
    if not path.exists():
        raise FileNotFoundError(
            f"MNIST-1D cache {path} is missing; create it with "
            f"`python -m ctadam.data mnist1d --out {path}` (or `snakemake --cores 1 {path}`)"
        )
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
        recorded = str(npz["sha256"])
    if arrays_sha256(arrays) != recorded:
        raise ValueError(f"MNIST-1D cache {path} is corrupt (hash mismatch); delete it and "
                         f"regenerate with `python -m ctadam.data mnist1d --out {path}`")
    if n_train is not None:
        arrays["x_train"] = arrays["x_train"][:n_train]
        arrays["y_train"] = arrays["y_train"][:n_train]
    return ArrayDataset(
        torch.from_numpy(arrays["x_train"]).float(), torch.from_numpy(arrays["y_train"]).long(),
        torch.from_numpy(arrays["x_test"]).float(), torch.from_numpy(arrays["y_test"]).long(),
        recorded,
    )
