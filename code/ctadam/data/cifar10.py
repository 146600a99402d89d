"""CIFAR-10 from the official python-pickle archive, its source record, and the loader.

The archive is checked against :data:`CIFAR10_SHA256` before it is unpickled; the images are
stored as uint8 and normalised per channel when loaded. An image-folder copy is decoded by
:mod:`ctadam.data.images` into the same cache. Beside every cache, ``<stem>.source.json``
records what it was built from (:func:`source_record_path`).
"""

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from ctadam import paths
from ctadam.data.cache import ArrayDataset, load_npz, save_npz, take, verified_source
from ctadam.io import write_json_atomic

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# SHA-256 of the official archive (170,498,071 bytes), as pinned by Keras' CIFAR-10 loader
# (keras.datasets.cifar10). Its MD5, c58f30108f718f92721af3b95e74349a, is the one the
# dataset's page and torchvision publish; both digests identify the same file.
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"


def source_record_path(cache: str | Path) -> Path:
    """The JSON record beside a CIFAR-10 cache saying what it was built from."""
    return Path(cache).with_suffix(".source.json")


def write_source_record(cache: Path, source: str, path: Path, sha256: str | None,
                         checked: bool, url: str | None = None) -> dict:
    """Record beside ``cache`` its source (``archive``/``images``), path, URL and hashes."""
    with np.load(cache) as npz:  # reads only this entry
        cache_sha256 = str(npz["sha256"])
    record = {"source": source, "path": str(path), "url": url, "source_sha256": sha256,
              "source_sha256_checked": checked, "cache_sha256": cache_sha256}
    write_json_atomic(source_record_path(cache), record)
    return record


def _cifar_batch(tar: tarfile.TarFile, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) of one pickled CIFAR-10 batch."""
    member = next((m for m in tar.getmembers() if m.name.rsplit("/", 1)[-1] == name), None)
    if member is None:
        raise ValueError(f"CIFAR-10 archive {tar.name} has no batch {name}")
    batch = pickle.load(io.BytesIO(tar.extractfile(member).read()), encoding="bytes")
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(batch[b"labels"], dtype=np.uint8)


def build_cifar10(archive: str | Path, out: str | Path,
                  sha256: str | None = CIFAR10_SHA256, url: str | None = None) -> Path:
    """Convert the CIFAR-10 python archive into a hashed ``.npz`` of uint8 arrays.

    The archive's SHA-256 is checked against ``sha256`` *before* anything is unpickled
    (None skips the check: only for archives made locally, e.g. by the tests). Beside the
    cache, ``<out stem>.source.json`` records the archive's path and hash, and ``url``, where
    it was downloaded from (see :func:`source_record_path`).
    """
    archive = Path(archive)
    fetch_cmd = f"python -m ctadam.data fetch-cifar10 --out {archive}"
    got = verified_source(archive, "CIFAR-10 archive",
                          f"`{fetch_cmd}` (or by hand from {CIFAR10_URL})", sha256)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            train = [_cifar_batch(tar, name) for name in CIFAR10_TRAIN_BATCHES]
            x_test, y_test = _cifar_batch(tar, CIFAR10_TEST_BATCH)
    except (tarfile.TarError, OSError, EOFError, pickle.UnpicklingError, KeyError) as err:
        raise ValueError(f"CIFAR-10 archive {archive} is unreadable ({err!r}); delete it and "
                         f"download it again with `{fetch_cmd}`") from err
    arrays = {"x_train": np.concatenate([x for x, _ in train]),
              "y_train": np.concatenate([y for _, y in train]),
              "x_test": x_test, "y_test": y_test}
    out = save_npz(out, arrays)
    write_source_record(out, "archive", archive, got, sha256 is not None, url)
    return out


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-channel mean and standard deviation of uint8 images (N, C, H, W) in [0, 1].

    Computed from the histogram of the 256 pixel values, so no float copy is made.
    """
    levels = np.arange(256) / 255.0
    mean, std = [], []
    for c in range(images.shape[1]):
        freq = np.bincount(images[:, c].ravel(), minlength=256) / images[:, c].size
        mu = float(freq @ levels)
        mean.append(mu)
        std.append(float(np.sqrt(freq @ (levels - mu) ** 2)))
    return np.array(mean), np.array(std)


def cifar10_path() -> Path:
    """Where the converted CIFAR-10 arrays are cached."""
    return paths.dataset("cifar10")


def load_cifar10(path: str | Path | None = None, n_train: int | None = None) -> ArrayDataset:
    """Load CIFAR-10 as float32 NCHW images normalised per channel, and int64 labels.

    Each channel c becomes (x / 255 - mean_c) / std_c with the mean and standard deviation
    of the whole training set (:func:`channel_stats`). ``n_train`` keeps the first
    ``n_train`` training images.
    """
    path = Path(path) if path is not None else cifar10_path()
    rebuild = (f"python -m ctadam.data cifar10 --archive "
               f"{path.with_name(CIFAR10_ARCHIVE)} --out {path}")
    npz = load_npz(path, ("x_train", "y_train", "x_test", "y_test"), "CIFAR-10", rebuild)
    mean, std = channel_stats(npz["x_train"])
    mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def normalise(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x).float().div_(255.0).sub_(mean).div_(std)

    return ArrayDataset(
        normalise(take(npz["x_train"], n_train)),
        torch.from_numpy(take(npz["y_train"], n_train)).long(),
        normalise(npz["x_test"]), torch.from_numpy(npz["y_test"]).long(), npz["sha256"],
    )
