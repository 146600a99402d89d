"""Shared pytest fixtures and settings.

Tests run on one thread so that timings and results do not depend on the machine's core
count, and in float64 unless a test says otherwise.
"""

import numpy as np
import pytest
import torch

from ctadam.data import arrays_sha256

torch.set_num_threads(1)


@pytest.fixture
def rng_seed() -> int:
    """The seed every randomised test starts from (tests stay deterministic)."""
    torch.manual_seed(0)
    return 0


def write_fake_mnist1d(path, n_train: int, n_test: int, seed: int = 0,
                       x_dtype=np.float64):
    """Write random arrays in the MNIST-1D cache format (40 features, 10 classes, hash).

    A stand-in for tests of code that reads the cache; never presented as a result.
    """
    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.normal(size=(n_train, 40)).astype(x_dtype),
              "y_train": rng.integers(0, 10, n_train), "x_test": rng.normal(size=(n_test, 40)),
              "y_test": rng.integers(0, 10, n_test)}
    np.savez(path, sha256=np.array(arrays_sha256(arrays)), **arrays)
    return path


@pytest.fixture
def tiny_mnist(tmp_path):
    """A random stand-in for the MNIST-1D cache (same keys, hash and shapes per sample)."""
    return write_fake_mnist1d(tmp_path / "mnist1d.npz", 120, 50, seed=0, x_dtype=np.float32)


def write_fake_shakespeare(path, n_train: int = 4000, n_val: int = 1000, vocab: int = 12,
                           seed: int = 0):
    """Write a random character corpus in the Shakespeare cache format (ids, vocabulary, hash).

    A stand-in for tests of code that reads the cache; never presented as a result.
    """
    rng = np.random.default_rng(seed)
    arrays = {"train": rng.integers(0, vocab, n_train).astype(np.uint16),
              "val": rng.integers(0, vocab, n_val).astype(np.uint16),
              "vocab": np.arange(97, 97 + vocab)}
    np.savez(path, sha256=np.array(arrays_sha256(arrays)), **arrays)
    return path


@pytest.fixture(scope="session")
def torch_blocker(tmp_path_factory):
    """A directory whose ``torch`` package raises ImportError.

    Put first on PYTHONPATH, it runs a command as if torch were not installed.
    """
    root = tmp_path_factory.mktemp("no_torch")
    (root / "torch").mkdir()
    (root / "torch" / "__init__.py").write_text(
        'raise ImportError("torch is blocked: this command must run without it")\n')
    return root
