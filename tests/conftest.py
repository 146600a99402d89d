"""Shared pytest fixtures and settings.

Tests run on one thread so that timings and results do not depend on the machine's core
count, and in float64 unless a test says otherwise.
"""

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def rng_seed() -> int:
    """The seed every randomised test starts from (tests stay deterministic)."""
    torch.manual_seed(0)
    return 0
