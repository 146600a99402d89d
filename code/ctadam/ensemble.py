r"""Seeds as a batch dimension: N MLPs of one architecture trained as one stacked module.

:func:`stack` turns N ordinary :class:`ctadam.models.MLP` (e.g. :func:`seeded_mlps`, member
i built right after ``torch.manual_seed(seeds[i])``, so it starts from exactly the weights of
the single run with that seed) into a :class:`StackedMLP` whose every parameter has a leading
member dimension; its forward pass is one batched matrix product per layer,

.. math::  h^{(l)}_{i} = \phi\big(\mathrm{LN}(h^{(l-1)}_{i} W^{(l)\top}_{i} + b^{(l)}_{i})\big),
           \qquad i = 1 \dots N,

on member i's own batch (input of shape ``(N, B, in_features)``). Member i's outputs, loss and
gradients depend on member i's parameters only, so one optimizer step on the stack is N
independent steps, provided the optimizer never mixes members: :class:`ctadam.optim.KAdam`
with ``ensemble_dims=1`` (a pooled level's mean square is then per member; KAdam refuses a
pooled level with another ``ensemble_dims`` on these parameters). :func:`unstack`
returns the members as ordinary MLPs.
"""

import copy

import torch
from torch import nn
from torch.nn import functional as F

from ctadam.checks import check_int
from ctadam.models import MLP

__all__ = ["StackedMLP", "seeded_mlps", "stack", "unstack", "member_losses", "ENSEMBLE_DIMS"]

# Leading member dimensions of a stacked parameter, recorded on each as ``_ensemble_dims``:
# KAdam refuses a pooled level whose ``ensemble_dims`` differs (it would pool across members).
ENSEMBLE_DIMS = 1


def seeded_mlps(seeds, **mlp_kwargs) -> list[MLP]:
    """One :class:`ctadam.models.MLP` per seed, each built right after ``torch.manual_seed``."""
    models = []
    for seed in seeds:
        torch.manual_seed(check_int("seed", seed, 0))
        models.append(MLP(**mlp_kwargs))
    return models


def _layout(model: MLP) -> tuple:
    """What two MLPs must share to be stacked: every parameter's name and shape, and the
    LayerNorms' settings."""
    norms = [(m.normalized_shape, m.eps, m.elementwise_affine) for m in model.modules()
             if isinstance(m, nn.LayerNorm)]
    return tuple((n, tuple(p.shape)) for n, p in model.named_parameters()), tuple(norms)


class StackedMLP(nn.Module):
    """N :class:`ctadam.models.MLP` with one architecture, as stacked parameters (built by
    :func:`stack`). ``forward`` takes ``(N, B, in_features)`` (or ``(B, in_features)``, the
    same batch for every member) and returns ``(N, B, out_features)``.

    Parameters: ``weights[l]`` of shape ``(N, out, in)``, ``biases[l]`` ``(N, out)``, and with
    affine LayerNorms ``gains[l]``, ``shifts[l]`` ``(N, width)`` for each hidden layer l.
    """

    def __init__(self, members: list[MLP]):
        super().__init__()
        if not members or not all(isinstance(m, MLP) for m in members):
            raise ValueError(f"members must be a non-empty list of ctadam.models.MLP, got "
                             f"{[type(m).__name__ for m in members] if members else members!r}")
        first = _layout(members[0])
        for i, m in enumerate(members[1:], start=1):
            if _layout(m) != first:
                raise ValueError(f"members must share one architecture: member {i} has "
                                 f"{_layout(m)}, member 0 has {first}")
        linears = [[layer for layer in m.layers if isinstance(layer, nn.Linear)]
                   for m in members]
        norms = [[layer for layer in m.layers if isinstance(layer, nn.LayerNorm)]
                 for m in members]
        self.norm, self.n_members = members[0].norm, len(members)
        self.norm_eps = norms[0][0].eps if norms[0] else None

        def stacked(tensors):
            param = nn.Parameter(torch.stack([t.detach() for t in tensors]))
            param._ensemble_dims = ENSEMBLE_DIMS  # KAdam refuses to pool across members
            return param

        self.weights = nn.ParameterList(stacked([ls[j].weight for ls in linears])
                                        for j in range(len(linears[0])))
        self.biases = nn.ParameterList(stacked([ls[j].bias for ls in linears])
                                       for j in range(len(linears[0])))
        affine = bool(norms[0]) and norms[0][0].elementwise_affine
        self.gains = nn.ParameterList(stacked([ns[j].weight for ns in norms])
                                      for j in range(len(norms[0]))) if affine else None
        self.shifts = nn.ParameterList(stacked([ns[j].bias for ns in norms])
                                       for j in range(len(norms[0]))) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.expand(self.n_members, *x.shape)
        if x.dim() != 3 or x.shape[0] != self.n_members:
            raise ValueError(f"StackedMLP input must have shape (N={self.n_members}, B, "
                             f"features) or (B, features), got {tuple(x.shape)}")
        last = len(self.weights) - 1
        for j, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
            if j == last:
                break
            if self.norm == "layer":
                x = F.layer_norm(x, (x.shape[-1],), eps=self.norm_eps)
                if self.gains is not None:
                    x = x * self.gains[j].unsqueeze(1) + self.shifts[j].unsqueeze(1)
            x = F.relu(x)
        return x


def stack(members: list[MLP]) -> StackedMLP:
    """The members as one :class:`StackedMLP` (copies of their parameters)."""
    return StackedMLP(members)


def unstack(stacked: StackedMLP, template: MLP) -> list[MLP]:
    """Member i of ``stacked`` as an ordinary MLP: a copy of ``template`` (one member's
    architecture, e.g. the first of the MLPs that were stacked) holding member i's parameters."""
    affine = stacked.gains is not None
    out = []
    for i in range(stacked.n_members):
        model = copy.deepcopy(template)
        linears = [layer for layer in model.layers if isinstance(layer, nn.Linear)]
        norms = [layer for layer in model.layers if isinstance(layer, nn.LayerNorm)]
        if len(linears) != len(stacked.weights) or (affine and len(norms) != len(stacked.gains)):
            raise ValueError("template must have the stacked members' architecture")
        with torch.no_grad():
            for layer, w, b in zip(linears, stacked.weights, stacked.biases, strict=True):
                layer.weight.copy_(w[i])
                layer.bias.copy_(b[i])
            if affine:
                for layer, g, s in zip(norms, stacked.gains, stacked.shifts, strict=True):
                    layer.weight.copy_(g[i])
                    layer.bias.copy_(s[i])
        out.append(model)
    return out


def member_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Each member's mean cross-entropy, shape ``(N,)``: ``logits`` ``(N, B, C)``, ``targets``
    ``(N, B)``. Their sum is the loss to differentiate: member i's gradient is then that of
    its own mean loss, as in its single run."""
    n, b, c = logits.shape
    losses = F.cross_entropy(logits.reshape(n * b, c), targets.reshape(n * b),
                             reduction="none")
    return losses.view(n, b).mean(dim=1)
