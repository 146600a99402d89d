"""The hashed ``.npz`` caches every dataset is stored in, and checks of downloaded sources.

A cache holds named arrays and ``sha256``, a SHA-256 over them (:func:`arrays_sha256`); the
loaders check it, so every run records exactly which data it saw, and a missing or altered
cache fails with the command that rebuilds it.
"""

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ctadam.checks import check_int
from ctadam.io import atomic_output


@dataclass(frozen=True)
class ArrayDataset:
    """A train/test split held in memory as tensors, with the hash of its arrays."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    sha256: str


def arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the named arrays in sorted key order (dtype, shape and bytes)."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        arr = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{arr.dtype.str}:{arr.shape}".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (read in chunks)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def verified_source(path: Path, what: str, how: str, sha256: str | None) -> str:
    """Check a downloaded source file before it is opened; return its SHA-256.

    ``what`` names the file in messages and ``how`` says how to get it. A missing file raises
    ``FileNotFoundError``, a hash other than ``sha256`` ``ValueError`` (None skips the check).
    """
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} is missing; get it with {how}")
    got = file_sha256(path)
    if sha256 is not None and got != sha256:
        raise ValueError(f"{what} {path} has SHA-256 {got}, expected {sha256}; delete it and "
                         f"get it again with {how}")
    return got


def save_npz(path: str | Path, arrays: dict[str, np.ndarray], **extra) -> Path:
    """Write ``arrays`` (hashed) and ``extra`` (not hashed) atomically as ``.npz``.

    Goes through :func:`ctadam.io.atomic_output`: a unique temporary file beside ``path``,
    removed when the write fails; one left by a killed writer is cleared by the next.
    """
    path = Path(path)
    with atomic_output(path) as handle:
        np.savez(handle, sha256=np.array(arrays_sha256(arrays)), **arrays, **extra)
    return path


def load_npz(path: Path, keys: tuple[str, ...], what: str, rebuild: str) -> dict:
    """Read a cache written by :func:`save_npz`, checking it against its recorded hash.

    Returns the arrays named in ``keys`` plus every other entry and ``"sha256"``. A missing
    file raises ``FileNotFoundError`` and an unreadable or altered one ``ValueError``, both
    naming the command ``rebuild`` that (re)creates it.
    """
    if not path.exists():
        raise FileNotFoundError(f"{what} cache {path} is missing; create it with `{rebuild}`")
    try:
        with np.load(path) as npz:
            content = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{what} cache {path} is corrupt ({err}); delete it and rebuild it "
                         f"with `{rebuild}`") from err
    missing = [k for k in (*keys, "sha256") if k not in content]
    if missing:
        raise ValueError(f"{what} cache {path} lacks {missing}; delete it and rebuild it "
                         f"with `{rebuild}`")
    content["sha256"] = str(content["sha256"])
    if arrays_sha256({k: content[k] for k in keys}) != content["sha256"]:
        raise ValueError(f"{what} cache {path} is corrupt (hash mismatch); delete it and "
                         f"rebuild it with `{rebuild}`")
    return content


def take(x: np.ndarray, n: int | None, name: str = "n_train") -> np.ndarray:
    return x if n is None else x[: check_int(name, n, 1, len(x))]
