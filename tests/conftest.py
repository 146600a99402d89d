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


@pytest.fixture
def tiny_mnist(tmp_path):
    """A random stand-in for the MNIST-1D cache (same keys, hash and shapes per sample)."""
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.normal(size=(120, 40)).astype(np.float32),
              "y_train": rng.integers(0, 10, 120), "x_test": rng.normal(size=(50, 40)),
              "y_test": rng.integers(0, 10, 50)}
    path = tmp_path / "mnist1d.npz"
    np.savez(path, sha256=np.array(arrays_sha256(arrays)), **arrays)
    return path
