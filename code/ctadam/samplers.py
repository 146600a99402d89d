"""Which examples step n of a training run sees: array minibatches and character windows.

Both samplers are stateless in the step: the batch of step n depends only on (seed, n), so a
run resumed from a checkpoint sees the same batches as one that never stopped.
"""

import torch


class ArrayBatches:
    """Minibatches of an in-memory training set, or the full batch when ``batch_size`` is None.

    Epoch e (steps ``e * (N // batch_size) + 1, ...``) walks ``randperm(N)`` seeded by
    ``seed * 1_000_003 + e``; the last ``N mod batch_size`` samples of a permutation are
    left out of that epoch.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int | None, seed: int):
        self.x, self.y, self.bs, self.seed = x, y, batch_size, seed
        self.n = x.shape[0]
        if batch_size is not None and batch_size > self.n:
            raise ValueError(f"batch_size must be <= n_train={self.n}, got {batch_size}")
        self._epoch, self._perm = -1, None

    def indices(self, step: int) -> torch.Tensor | None:
        """Sample indices of step ``step`` (1-based); None for the full batch."""
        if self.bs is None:
            return None
        epoch, i = divmod(step - 1, self.n // self.bs)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(self.n, generator=gen).to(self.x.device)
            self._epoch = epoch
        return self._perm[i * self.bs:(i + 1) * self.bs]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.indices(step)
        return (self.x, self.y) if idx is None else (self.x[idx], self.y[idx])


class CharWindows:
    """Random next-character windows of a text, nanoGPT style.

    Step n draws ``batch_size`` start positions i_b uniformly (with replacement) from a
    generator seeded by ``seed * 1_000_003 + n`` and returns
    ``x[b] = text[i_b : i_b + T]``, ``y[b] = text[i_b + 1 : i_b + T + 1]`` with T = ``block_size``.
    """

    def __init__(self, text: torch.Tensor, block_size: int, batch_size: int, seed: int):
        if block_size >= len(text):
            raise ValueError(f"block_size must be < the text length {len(text)}, "
                             f"got {block_size}")
        self.windows = text.unfold(0, block_size + 1, 1)
        self.bs, self.seed = batch_size, seed

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        starts = torch.randint(len(self.windows), (self.bs,), generator=gen)
        chunk = self.windows[starts.to(self.windows.device)]
        return chunk[:, :-1], chunk[:, 1:]


def evenly_spaced(n_total: int, n: int | None) -> torch.Tensor | None:
    """Indices of ``n`` samples spread evenly over ``range(n_total)``; None keeps all."""
    if n is None or n >= n_total:
        return None
    return torch.linspace(0, n_total - 1, n).round().long()
