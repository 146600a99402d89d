r"""A stability monitor for any PyTorch training loop.

Adam's update is bounded only inside the region :math:`\gamma^2 < \beta` (paper letters: gamma
= first-moment decay = PyTorch's beta1, beta = second-moment decay = beta2; \cref{eq:region});
outside it, once gradients shrink, the parameter norm can grow exponentially. The monitor
watches for exactly that. Every ``every`` optimizer steps it records, per parameter group, the
parameter norm :math:`\lVert\theta_g\rVert` and the norm of the last update
:math:`\lVert\theta_{g,n} - \theta_{g,n-1}\rVert`, and fits the recent growth of the total
parameter norm by least squares over the last ``window`` records:

.. math::  \ln\lVert\theta_n\rVert \approx c + r\,n, \qquad p = r\,\bar n ,

with :math:`r` the growth exponent per step and :math:`\bar n` the window's mean step.
:math:`p` is the local log-log slope :math:`d\ln\lVert\theta\rVert / d\ln n`. Exponential growth
:math:`e^{rn}` has :math:`p = r\bar n`, which grows without bound; polynomial growth
:math:`a + b n^k` (:math:`a, b > 0`) has :math:`p < k`, so the :math:`\sqrt{n}` or linear drift of
healthy training from a norm that is large compared with its increments stays below 1. Growth is
called *exponential* when :math:`r > 0` and :math:`p > p_{\max}` (``max_loglog_slope``, default 2;
:func:`exceeds`).

The threshold is a heuristic, not a consequence of the stability bound: bounded updates
:math:`\lVert u_n\rVert \le U` bound the norm, :math:`\lVert\theta_n\rVert \le
\lVert\theta_0\rVert + \eta U n`, but not its local slope. If the norm first shrinks to
:math:`\lVert\theta\rVert \ll \eta U \bar n` and then grows linearly,
:math:`p \approx \bar n\,\eta U / \lVert\theta\rVert` is as large as one likes, and the monitor
flags it. A flag is therefore a sign of fast growth to look at, not a proof of instability; the
sweep reports how its labels change with :math:`p_{\max}` (:func:`first_flag` replays the rule
on logged norms for any threshold). The monitor warns once
(``warnings.warn`` with :class:`UnstableGrowthWarning`) and keeps recording.

Divergence is apart from the growth fit: a non-finite parameter or update norm marks the run
as diverged at once (no fit is needed, nor possible, on such norms), and so does a caller that
stops a run for its own reason (:meth:`StabilityMonitor.diverged`, how :mod:`ctadam.train`
reports its divergences). The verdict of a diverged run reads ``exponential: true`` with
``diverged_at`` and ``reason``; ``flagged_at`` stays the step the growth rule fired (or null).

Attach it in a few lines::

    from ctadam.monitor import StabilityMonitor
    monitor = StabilityMonitor(model)        # one group per module that owns parameters
    for batch in loader:
        ...; optimizer.step()
        monitor.step()                       # cheap: norms only every `every` steps
    print(monitor.verdict())
"""

import math
import warnings
from collections.abc import Iterable

import torch


class UnstableGrowthWarning(RuntimeWarning):
    """The parameter norm is growing exponentially (outside Adam's stable region?)."""


def module_groups(model: torch.nn.Module) -> dict[str, list[torch.nn.Parameter]]:
    """Group a model's trainable parameters by the module that owns them (e.g. a layer's W, b)."""
    groups: dict[str, list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            owner = name.rsplit(".", 1)[0] if "." in name else name
            groups.setdefault(owner, []).append(param)
    return groups


def fit_growth(steps: Iterable[float], norms: Iterable[float]) -> tuple[float, float]:
    r"""Least-squares fit of :math:`\ln\lVert\theta\rVert = c + r n`; returns ``(r, r * mean(n))``.

    Non-positive or non-finite norms make the fit meaningless and return ``(nan, nan)``.
    """
    xs = [float(s) for s in steps]
    ys = [float(v) for v in norms]
    if len(xs) < 2 or any(not (math.isfinite(v) and v > 0) for v in ys):
        return math.nan, math.nan
    ys = [math.log(v) for v in ys]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return math.nan, math.nan
    rate = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return rate, rate * mx


def exceeds(rate: float, slope: float, max_loglog_slope: float) -> bool:
    r"""The rule: growth is exponential when :math:`r > 0` and :math:`p > p_{\max}` (NaN: no)."""
    return bool(rate > 0 and slope > max_loglog_slope)


def first_flag(steps: Iterable[float], norms: Iterable[float], window: int,
               max_loglog_slope: float) -> int | None:
    r"""Replay the monitor's rule on a logged norm series; the step it first flags, or None.

    Non-finite norms are skipped, as :mod:`ctadam.train` never feeds them to the monitor, so
    the replay of a run's log with the run's own ``window`` and ``max_loglog_slope`` gives
    the step that run's monitor flagged; with another threshold it gives what the monitor
    would have flagged (the labels of the sweep's sensitivity to :math:`p_{\max}`).
    """
    from ctadam.checks import check_int, check_real

    window = check_int("window", window, 3)
    max_loglog_slope = check_real("max_loglog_slope", max_loglog_slope, 0.0, low_open=True)
    kept = [(float(s), float(v)) for s, v in zip(steps, norms, strict=True)
            if math.isfinite(float(v))]
    for end in range(window, len(kept) + 1):
        xs, ys = zip(*kept[end - window:end], strict=True)
        if exceeds(*fit_growth(xs, ys), max_loglog_slope):
            return int(xs[-1])
    return None


class StabilityMonitor:
    """Track per-group parameter/update norms and flag exponential growth of the parameter norm.

    Args:
        groups: a ``torch.nn.Module`` (grouped by :func:`module_groups`), a dict name -> list of
            parameters, or ``None`` when the caller feeds norms through :meth:`observe`.
        every: record norms every ``every`` calls of :meth:`step` (default 1).
        window: number of most recent records the growth fit uses (default 20, >= 3).
        max_loglog_slope: :math:`p_{\\max}`; growth with a larger local log-log slope counts as
            exponential (default 2, a heuristic: faster than quadratic; see the module
            docstring for why bounded updates do not guarantee a smaller slope).
        warn: emit :class:`UnstableGrowthWarning` the first time growth turns exponential.
    """

    def __init__(self, groups=None, every: int = 1, window: int = 20,
                 max_loglog_slope: float = 2.0, warn: bool = True):
        from ctadam.checks import check_int, check_real

        if isinstance(groups, torch.nn.Module):
            groups = module_groups(groups)
        if not (groups is None or isinstance(groups, dict)):
            raise ValueError(f"groups must be a torch.nn.Module, a dict name -> list of "
                             f"parameters, or None, got {type(groups).__name__}")
        self.groups = {k: list(v) for k, v in (groups or {}).items()}
        self.every = check_int("every", every, 1)
        self.window = check_int("window", window, 3)
        self.max_loglog_slope = check_real("max_loglog_slope", max_loglog_slope, 0.0,
                                           low_open=True)
        self.warn = warn
        self.count = 0
        self.history: dict[str, list] = {"step": [], "param_norm": [], "update_norm": []}
        self.flagged_at: int | None = None
        self.diverged_at: int | None = None
        self.reason: str | None = None
        self._snapshot: dict[str, list[torch.Tensor]] | None = None

    @torch.no_grad()
    def step(self) -> None:
        """Call once after each optimizer step; records norms every ``every`` calls."""
        self.count += 1
        if self.count % self.every == 0:
            pnorms = {k: _group_norm(ps) for k, ps in self.groups.items()}
            unorms = None
            if self._snapshot is not None:
                unorms = {k: _group_norm([p - s for p, s in zip(ps, self._snapshot[k],
                                                                 strict=True)])
                          for k, ps in self.groups.items()}
            self.observe(self.count, pnorms, unorms)
            self._snapshot = None
        if (self.count + 1) % self.every == 0:
            self._snapshot = {k: [p.detach().clone() for p in ps] for k, ps in self.groups.items()}

    def observe(self, step: int, param_norms: dict[str, float],
                update_norms: dict[str, float] | None = None) -> None:
        """Record norms measured elsewhere (how :mod:`ctadam.train` feeds the monitor).

        A non-finite norm marks the run as diverged at ``step`` (:meth:`diverged`).
        """
        for name, norms in (("param_norms", param_norms), ("update_norms", update_norms)):
            if not (isinstance(norms, dict) or (norms is None and name == "update_norms")):
                raise ValueError(f"{name} must be a dict group name -> norm, got "
                                 f"{type(norms).__name__}")
        pnorms = {k: float(v) for k, v in param_norms.items()}
        unorms = None if update_norms is None else {k: float(v) for k, v in update_norms.items()}
        self.history["step"].append(int(step))
        self.history["param_norm"].append(pnorms)
        self.history["update_norm"].append(unorms)
        if not all(math.isfinite(v) for v in pnorms.values()):
            self.diverged(step, "non-finite parameters")
        elif unorms is not None and not all(math.isfinite(v) for v in unorms.values()):
            self.diverged(step, "non-finite update")
        if self.diverged_at is None and self.flagged_at is None and self.is_exponential():
            self.flagged_at = int(step)
            if self.warn:
                rate, slope = self.growth()
                warnings.warn(
                    f"parameter norm growing exponentially at step {step}: rate {rate:.3g} per "
                    f"step, local log-log slope {slope:.3g} > {self.max_loglog_slope:g}; is "
                    f"beta1^2 >= beta2 (outside Adam's stable region)?",
                    UnstableGrowthWarning, stacklevel=2)

    def diverged(self, step: int, reason: str) -> None:
        """Mark the run as diverged at ``step`` for ``reason`` (the first call counts); warns."""
        if self.diverged_at is not None:
            return
        self.diverged_at, self.reason = int(step), str(reason)
        if self.warn:
            warnings.warn(f"the run diverged at step {step}: {reason}", UnstableGrowthWarning,
                          stacklevel=2)

    def total_norms(self, last: int | None = None) -> list[float]:
        """The total parameter norm (all groups) at each record (or the ``last`` ones)."""
        records = self.history["param_norm"][-last:] if last else self.history["param_norm"]
        return [math.sqrt(sum(v * v for v in rec.values())) for rec in records]

    def growth(self) -> tuple[float, float]:
        """``(rate per step, local log-log slope)`` fitted over the last ``window`` records."""
        steps = self.history["step"][-self.window:]
        return fit_growth(steps, self.total_norms(self.window))

    def is_exponential(self) -> bool:
        """Whether the last ``window`` records show exponential growth (see module docstring)."""
        if len(self.history["step"]) < self.window:
            return False
        return exceeds(*self.growth(), self.max_loglog_slope)

    def verdict(self) -> dict:
        """JSON-ready summary: the latest growth fit and the step growth was first flagged;
        for a diverged run also ``diverged_at`` and ``reason``, and ``exponential`` is true."""
        rate, slope = self.growth()
        out = {"exponential": self.flagged_at is not None or self.diverged_at is not None,
               "flagged_at": self.flagged_at, "growth_rate": rate, "loglog_slope": slope,
               "window": self.window, "max_loglog_slope": self.max_loglog_slope,
               "records": len(self.history["step"])}
        if self.diverged_at is not None:
            out.update(diverged_at=self.diverged_at, reason=self.reason)
        return out

    def state_dict(self) -> dict:
        """Everything needed to resume monitoring after a checkpoint (plain Python values)."""
        return {"count": self.count, "history": self.history, "flagged_at": self.flagged_at,
                "diverged_at": self.diverged_at, "reason": self.reason}

    def load_state_dict(self, state: dict) -> None:
        self.count = state["count"]
        self.history = state["history"]
        self.flagged_at = state["flagged_at"]
        self.diverged_at, self.reason = state["diverged_at"], state["reason"]
        self._snapshot = None


def _group_norm(tensors: list[torch.Tensor]) -> float:
    return math.sqrt(sum(float(t.detach().double().pow(2).sum()) for t in tensors))
