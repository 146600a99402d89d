r"""What a training run measures besides its loss: trackers hooked into the one loop.

:func:`ctadam.train.run` calls, for every tracker it is given,

* ``start(ctx)`` once, with the :class:`RunContext` (model, optimizer, flat parameter vector,
  learning rate, decoupled decay, validated config),
* ``before_step(n)`` after the backward pass of step n and before ``optimizer.step()``,
* ``after_step(n, loss)`` right after the step (``loss`` at :math:`\theta_{n-1}`),
* ``result()`` at the end: a JSON-able dict stored as ``record["trackers"][tracker.name]``;
  ``state_dict()`` / ``load_state_dict()`` carry it across a checkpoint.

The update direction is recovered from the iterates, written once in :func:`scaled_update`:

.. math::  \eta u_n = (1-\eta\lambda)\,\theta_{n-1} - \theta_n ,

with :math:`\lambda` the decoupled weight decay (0 for Adam, whose ``weight_decay`` is an L2
term inside the gradient). For Adam, :math:`u_n = \hat m_n/(\sqrt{\hat v_n}+\epsilon)`.
"""

import math
from dataclasses import dataclass

import torch

from ctadam.monitor import module_groups
from ctadam.optim import implicit_decay, kadam_level


@dataclass
class RunContext:
    """What a tracker may read during a run."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    flat: torch.Tensor  # every parameter is a view of this vector
    lr: float
    decay: float  # decoupled weight decay lambda (0 for Adam)
    config: dict


def scaled_update(prev: torch.Tensor, new: torch.Tensor, lr: float, decay: float,
                  out: torch.Tensor | None = None) -> torch.Tensor:
    r""":math:`\eta u_n = (1-\eta\lambda)\theta_{n-1} - \theta_n` (rows of batched inputs)."""
    scale = 1.0 - lr * decay
    if scale != 1.0:
        out = torch.mul(prev, scale, out=out)
        return out.sub_(new)
    return torch.sub(prev, new, out=out)


class Tracker:
    """Base class: every hook does nothing; subclasses override what they need."""

    name = "tracker"

    def start(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def before_step(self, n: int) -> None:
        pass

    def after_step(self, n: int, loss: float) -> None:
        pass

    def result(self) -> dict:
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def flatten_parameters(model: torch.nn.Module) -> torch.Tensor:
    """Make every parameter a view of one flat tensor and return it (cheap per-step norms)."""
    params = list(model.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    offset = 0
    for p in params:
        p.data = flat[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
    return flat


def group_index(model: torch.nn.Module) -> tuple[list[str], torch.Tensor]:
    """Group names (as :func:`ctadam.monitor.module_groups`) and each flat coordinate's group."""
    groups = module_groups(model)
    owner = {id(p): i for i, ps in enumerate(groups.values()) for p in ps}
    index = torch.cat([torch.full((p.numel(),), owner[id(p)], dtype=torch.long)
                       for p in model.parameters()])
    return list(groups), index


def group_norms(vecs: torch.Tensor, index: torch.Tensor, n_groups: int) -> list[list[float]]:
    """Euclidean norms of each row of ``vecs`` over each group of coordinates (float64)."""
    sq = torch.zeros((vecs.shape[0], n_groups), dtype=torch.float64, device=vecs.device)
    sq.index_add_(1, index, vecs.double().square())
    return sq.sqrt().tolist()


class UpdateStats:
    r"""Per-step :math:`\max_i |u_{n,i}|` and RMS :math:`\lVert u_n\rVert/\sqrt d`, in batches.

    The engine's own statistics (``record["per_step"]``). After each step :meth:`record`
    copies the flat parameters into a small buffer of snapshots; :meth:`flush` turns the
    buffered snapshots into :math:`\eta u_n` (:func:`scaled_update`) for all of them at once
    and appends the statistics to ``u_max`` and ``u_rms``. ``last`` is then :math:`\eta u_n`
    of the latest step. The buffer holds at most ``capacity`` steps (and about 64Ki numbers).
    """

    def __init__(self, flat: torch.Tensor, lr: float, decay: float, capacity: int):
        self.flat, self.lr, self.decay = flat, lr, decay
        # a small buffer (<= 64Ki numbers) stays in cache and leaves the training step alone
        capacity = max(1, min(capacity, (1 << 16) // flat.numel()))
        self.buf = flat.new_empty((capacity + 1, flat.numel()))
        self.diff = flat.new_empty((capacity, flat.numel()))  # preallocated: no page faults
        self.buf[0].copy_(flat)
        self.k = 0
        self.sqrt_d = math.sqrt(flat.numel())
        self.u_max: list[float] = []
        self.u_rms: list[float] = []
        self.last = torch.zeros_like(flat)

    def record(self) -> None:
        self.k += 1
        self.buf[self.k].copy_(self.flat)
        if self.k == self.buf.shape[0] - 1:
            self.flush()

    def flush(self) -> None:
        if self.k == 0:
            return
        prev, new = self.buf[:self.k], self.buf[1:self.k + 1]
        diff = scaled_update(prev, new, self.lr, self.decay, out=self.diff[:self.k])
        norms = torch.linalg.vector_norm(diff, dim=1, dtype=torch.float64)
        self.u_rms += (norms / (self.lr * self.sqrt_d)).tolist()
        self.last.copy_(diff[-1])
        self.u_max += (diff.abs_().amax(dim=1).double() / self.lr).tolist()
        self.buf[0].copy_(self.buf[self.k])
        self.k = 0


class ScaleInvariantStats(Tracker):
    r"""Per-step geometry of parameter groups (by default the model's scale-invariant ones).

    For every group w and step n, from the iterates (float64): :math:`|w_{n-1}|^2`,
    :math:`|u_n|^2`, :math:`\langle w_{n-1}, u_n\rangle`, :math:`\cos(w_{n-1}, u_n)` and the
    angular step :math:`\angle(w_{n-1}, w_n)`, with :math:`u_n` of :func:`scaled_update`, in
    :attr:`series` (group -> field -> one value per step). :attr:`prev` and :attr:`last_u`
    hold the latest step's flat :math:`w_{n-1}` and :math:`u_n`.
    """

    name = "groups"
    FIELDS = ("w_sq", "u_sq", "wu", "cos", "angle")

    def __init__(self, groups: dict[str, list[str]] | None = None):
        self.groups_by_name = groups
        self.series: dict[str, dict[str, list[float]]] = {}
        self.prev: dict[str, torch.Tensor] = {}
        self.last_u: dict[str, torch.Tensor] = {}

    def start(self, ctx: RunContext) -> None:
        from ctadam.models import scale_invariant_groups

        super().start(ctx)
        names = self.groups_by_name
        names = scale_invariant_groups(ctx.model) if names is None else names
        params = dict(ctx.model.named_parameters())
        self.groups = {g: [params[p] for p in ps] for g, ps in names.items()}
        self.series = self.series or {g: {f: [] for f in self.FIELDS} for g in self.groups}

    def flat(self, group: str) -> torch.Tensor:
        """The group's current parameters as one flat float64 vector."""
        return torch.cat([p.detach().reshape(-1) for p in self.groups[group]]).double()

    def before_step(self, n: int) -> None:
        self.prev = {g: self.flat(g) for g in self.groups}

    def after_step(self, n: int, loss: float) -> None:
        lr, decay = self.ctx.lr, self.ctx.decay
        for g in self.groups:
            prev, cur = self.prev[g], self.flat(g)
            u = scaled_update(prev, cur, lr, decay) / lr
            self.last_u[g] = u
            w_sq, u_sq, wu = float(prev @ prev), float(u @ u), float(prev @ u)
            a, b = prev / prev.norm(), cur / cur.norm()
            stats = {"w_sq": w_sq, "u_sq": u_sq, "wu": wu,
                     "cos": wu / math.sqrt(w_sq * u_sq) if u_sq > 0 else 0.0,
                     "angle": 2.0 * math.asin(min(1.0, float((a - b).norm()) / 2.0))}
            for f, v in stats.items():
                self.series[g][f].append(v)

    def result(self) -> dict:
        return {"series": self.series}

    def state_dict(self) -> dict:
        return {"series": self.series}

    def load_state_dict(self, state: dict) -> None:
        self.series = state["series"]


class LevelTwoStats(ScaleInvariantStats):
    r""":class:`ScaleInvariantStats` of the first scale-invariant group, beside k-Adam's level 2.

    The normalization layer applies an implicit second level of adaptive normalization to
    Adam's update (\cref{eq:meta-adaptive}). On the same stream of updates :math:`u_n` this
    tracker computes the explicit, per-coordinate level 2 of k-Adam with no momentum and decay
    :math:`\rho = (1-\eta\lambda)^2` (:func:`ctadam.theory.normdynamics.implicit_decay`),
    bias-corrected,
    :math:`u^{(2)}_n = u_n / \sqrt{v_n / (1-\rho^n)}`, :math:`v_n = \rho v_{n-1} + (1-\rho) u_n^2`,
    with KAdam's own level (:func:`ctadam.optim.kadam_level`, eps 1e-300 so that a zero
    coordinate stays zero). For :math:`\rho = 1` the bias-corrected average is the running mean
    of :math:`u^2`, the same level with decay :math:`1 - 1/n` and no bias correction (step
    infinity). It records per step the cosine between the move of :math:`w/|w|` and the
    tangential part of :math:`u^{(2)}_n` (``cos_level2``). A model without a scale-invariant
    group records nothing.
    """

    name = "level_two"

    def __init__(self):
        super().__init__()
        self.cos_level2: list[float] = []
        self.v2: torch.Tensor | None = None

    def start(self, ctx: RunContext) -> None:
        from ctadam.models import scale_invariant_groups

        groups = scale_invariant_groups(ctx.model)
        first = next(iter(groups), None)
        self.groups_by_name = {} if first is None else {first: groups[first]}
        self.first = first
        self.rho = implicit_decay(ctx.lr, ctx.decay)
        super().start(ctx)

    def after_step(self, n: int, loss: float) -> None:
        super().after_step(n, loss)
        if self.first is None:
            return
        u, prev = self.last_u[self.first], self.prev[self.first]
        if self.v2 is None:
            self.v2 = torch.zeros_like(u)
        beta2, step = (self.rho, n) if self.rho < 1 else (1.0 - 1.0 / n, math.inf)
        u2 = kadam_level(u, torch.zeros_like(u), self.v2, beta1=0.0, beta2=beta2, eps=1e-300,
                         step=step)
        cur = self.flat(self.first)
        radial = prev / prev.norm()
        move = radial - cur / cur.norm()
        u2_t = u2 - (u2 @ radial) * radial
        self.cos_level2.append(float(move @ u2_t / (move.norm() * u2_t.norm())))

    def result(self) -> dict:
        return {"group": self.first, "rho": self.rho, "series": self.series,
                "cos_level2": self.cos_level2}

    def state_dict(self) -> dict:
        return {"series": self.series, "cos_level2": self.cos_level2, "v2": self.v2}

    def load_state_dict(self, state: dict) -> None:
        self.series, self.cos_level2, self.v2 = (state["series"], state["cos_level2"],
                                                 state["v2"])
