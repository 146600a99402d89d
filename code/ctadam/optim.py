r"""k-Adam: the Adam normalization applied k times (paper-notes Claim 4).

Level 1 normalizes the gradient, level i normalizes the output of level i-1, and the
parameter moves along the output of level k, with AdamW's decoupled weight decay. For
k = 1 this is exactly ``torch.optim.Adam`` (``weight_decay=0``) and ``torch.optim.AdamW``:
the operations follow torch's order, and the results were bit-identical in our tests.

The code says "Adam, k times" literally: :func:`_normalize` is one level (one pair of
moment estimates and their bias-corrected ratio) and the single-tensor path calls it once per
level; :func:`_normalize_foreach` is the same level on lists of tensors. Equation labels
refer to ``paper/sections/kadam_optimizer.tex``.
"""

import math
import types
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor

from ctadam.checks import check_int, check_real

__all__ = ["KAdam"]


def _as_pairs(betas, k: int) -> list[tuple[float, float]]:
    """Validate ``betas`` (one (beta, gamma) pair, or k of them) and return k float pairs."""
    if not isinstance(betas, Sequence) or isinstance(betas, str) or len(betas) == 0:
        raise ValueError(
            f"betas must be a (beta, gamma) pair or a list of k={k} such pairs, got {betas!r}"
        )
    nested = any(isinstance(b, Sequence) and not isinstance(b, str) for b in betas)
    pairs = list(betas) if nested else [tuple(betas)] * k
    if nested and len(pairs) != k:
        raise ValueError(f"betas must hold k={k} (beta, gamma) pairs, got {len(pairs)}")
    out = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise ValueError(f"betas[{i}] must be a (beta, gamma) pair, got {pair!r}")
        beta = check_real(f"beta at level {i + 1}", pair[0], 0.0, 1.0, high_open=True)
        gamma = check_real(f"gamma at level {i + 1}", pair[1], 0.0, 1.0, high_open=True)
        out.append((beta, gamma))
    return out


def _normalize(x: Tensor, m: Tensor, v: Tensor, beta: float, gamma: float, eps: float,
               n: int, last: bool, scratch: Tensor | None) -> tuple[Tensor, float]:
    r"""One level of k-Adam on one tensor, in place (eqs. \ref{eq:kadam-ema}, \ref{eq:kadam-u}).

    Updates the moment estimates of the level's input ``x`` at step ``n``::

        m <- beta m + (1 - beta) x            v <- gamma v + (1 - gamma) x^2

    and returns ``(r, c)`` with the level's output ``u = r / c`` when ``last`` is false
    (then ``c = 1``), or, for the last level, ``u = m / (c r)`` with ``r = sqrt(vhat) + eps``
    and ``c = 1 - beta^n`` (torch's Adam folds ``c`` into the step size the same way). Here
    ``u = mhat / (sqrt(vhat) + eps)``, ``mhat = m / (1 - beta^n)``, ``vhat = v / (1 - gamma^n)``.
    ``scratch`` (``x`` itself when ``x`` is an earlier level's output, dead once m and v are
    updated) receives ``r``, so that no level after the first allocates memory.
    """
    m.lerp_(x, 1 - beta)
    v.mul_(gamma).addcmul_(x, x, value=1 - gamma)
    bc1 = 1 - beta**n
    bc2_sqrt = (1 - gamma**n) ** 0.5
    denom = v.sqrt() if scratch is None else torch.sqrt(v, out=scratch)
    if last:
        return denom.div_(bc2_sqrt).add_(eps), bc1
    # bc1 (sqrt(v) / bc2_sqrt + eps) in two passes, then m over it into the same buffer.
    denom.mul_(bc1 / bc2_sqrt).add_(eps * bc1)
    return torch.div(m, denom, out=denom), 1.0


def _normalize_foreach(xs: list[Tensor], ms: list[Tensor], vs: list[Tensor], beta: float,
                       gamma: float, eps: float, ns: list[int], last: bool,
                       scratch: list[Tensor] | None) -> tuple[list[Tensor], list[float]]:
    """:func:`_normalize` on lists of tensors with ``torch._foreach_*`` kernels (same numbers).

    The two steps that write into existing buffers (``out=``) have no foreach kernel and
    loop over the tensors.
    """
    torch._foreach_lerp_(ms, xs, 1 - beta)
    torch._foreach_mul_(vs, gamma)
    torch._foreach_addcmul_(vs, xs, xs, 1 - gamma)
    bc1 = [1 - beta**n for n in ns]
    bc2_sqrt = [(1 - gamma**n) ** 0.5 for n in ns]
    if scratch is None:
        denom = torch._foreach_sqrt(vs)
    else:
        denom = [torch.sqrt(v, out=s) for v, s in zip(vs, scratch, strict=True)]
    if last:
        torch._foreach_div_(denom, bc2_sqrt)
        torch._foreach_add_(denom, eps)
        return denom, bc1
    torch._foreach_mul_(denom, [b / c for b, c in zip(bc1, bc2_sqrt, strict=True)])
    torch._foreach_add_(denom, [eps * b for b in bc1])
    return [torch.div(m, d, out=d) for m, d in zip(ms, denom, strict=True)], [1.0] * len(ms)


def _fused_update(param: Tensor, grad: Tensor, ms: list[Tensor], vs: list[Tensor],
                  coef: Tensor) -> None:
    r"""All k levels and the parameter update of one tensor, written for ``torch.compile``.

    Eqs. \ref{eq:kadam-ema} and \ref{eq:kadam-u} for each level, then \ref{eq:kadam-step}.
    ``coef`` holds, per level, ``(1 - beta, gamma, 1 - gamma, 1 - beta^n, sqrt(1 - gamma^n))``,
    then ``(eps, eta, 1 - eta lambda, sign)``, as a tensor so that a new step does not
    recompile. Compiled, the whole update is one kernel that reads ``param, grad`` and each
    ``m_i, v_i`` once and writes ``param`` and each ``m_i, v_i`` once.
    """
    eps, lr, decay, sign = coef[-4], coef[-3], coef[-2], coef[-1]
    x = grad * sign
    for i, (m, v) in enumerate(zip(ms, vs, strict=True)):
        one_minus_beta, gamma, one_minus_gamma, bc1, bc2_sqrt = coef[5 * i:5 * i + 5]
        m.copy_(m + one_minus_beta * (x - m))
        v.copy_(v * gamma + one_minus_gamma * x * x)
        x = (m / bc1) / (v.sqrt() / bc2_sqrt + eps)
    param.copy_(param * decay - lr * x)


_COMPILED: dict[tuple, Callable] = {}


def _compiled_update(k: int, dtype: torch.dtype, device: torch.device) -> Callable:
    """``torch.compile`` of :func:`_fused_update` for one (k, dtype, device), built once.

    Each key gets its own copy of the function's code object, so that dynamo's limit on
    recompilations (per code object) is not spent across keys; shapes are dynamic and
    tensors are passed flattened, so one key compiles about once.
    """
    key = (k, dtype, device.type)
    if key not in _COMPILED:
        code = _fused_update.__code__.replace(co_name=f"_fused_update_k{k}")
        fn = types.FunctionType(code, _fused_update.__globals__, code.co_name)
        _COMPILED[key] = torch.compile(fn, dynamic=True)
    return _COMPILED[key]


class KAdam(torch.optim.Optimizer):
    r"""k-Adam: Adam's normalization applied k times, with decoupled weight decay.

    .. math::
        \begin{aligned}
        &u_0 = \pm g_n \quad (- \text{ if maximize}) \\
        &\textbf{for } i = 1 \dots k: \\
        &\quad m_{i,n} = \beta_i m_{i,n-1} + (1-\beta_i)\, u_{i-1}
            && \text{eq. \ref{eq:kadam-ema}} \\
        &\quad v_{i,n} = \gamma_i v_{i,n-1} + (1-\gamma_i)\, u_{i-1}^2
            && \text{eq. \ref{eq:kadam-ema}} \\
        &\quad u_i = \frac{m_{i,n} / (1-\beta_i^n)}{\sqrt{v_{i,n} / (1-\gamma_i^n)} + \epsilon}
            && \text{eq. \ref{eq:kadam-u}} \\
        &\theta_n = (1 - \eta\lambda)\, \theta_{n-1} - \eta\, u_k
            && \text{eq. \ref{eq:kadam-step}}
        \end{aligned}

    With k = 1 this is ``torch.optim.Adam`` (lambda = 0) and ``torch.optim.AdamW``.
    The state of each parameter is its step count ``"step"`` (a Python int) and exactly
    2k tensors ``"exp_avg_i"`` (m_i) and ``"exp_avg_sq_i"`` (v_i), i = 1..k, in the
    parameter's dtype and device.

    Args:
        params: parameters to optimize, or dicts defining parameter groups (each group
            may override every option below, k included).
        lr: learning rate eta, >= 0. Default 1e-3.
        k: number of levels, a positive int. Default 1 (Adam).
        betas: decay rates (beta, gamma) of the first and second moments, each in [0, 1):
            one pair used at every level, or a list of k pairs, level 1 first.
            Default (0.9, 0.999).
        eps: term added to the denominator at every level, >= 0. Default 1e-8.
        weight_decay: decoupled weight decay lambda, >= 0 (AdamW style). Default 0.
        maximize: ascend the objective instead of descending. Default False.
        foreach: use the ``torch._foreach_*`` path (True) or the per-tensor path (False);
            None (default) picks foreach. Both paths give the same numbers. Ignored when
            ``compile`` is True.
        compile: run each tensor's update as one ``torch.compile``-generated kernel (the
            fast path, about as fast as torch's fused Adam). Same numbers up to float
            rounding; the first step for each (k, dtype, device) compiles, which takes
            seconds. Default False.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, k: int = 1,
                 betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0, *,
                 maximize: bool = False, foreach: bool | None = None,
                 compile: bool = False) -> None:
        defaults = dict(lr=lr, k=k, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, compile=compile)
        _validate(dict(defaults))  # fail on bad defaults even before any group is added
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Validate a group's options, then add it (its betas become a list of k pairs)."""
        options = {**self.defaults, **param_group}
        _validate(options)  # a bad group raises before it is added
        super().add_param_group({**param_group, "betas": options["betas"]})

    def _init_state(self, p: Tensor, k: int) -> dict:
        state = self.state[p]
        if not state:
            state["step"] = 0
            for i in range(1, k + 1):
                state[f"exp_avg_{i}"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state[f"exp_avg_sq_{i}"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """Perform one step; ``closure`` (optional) re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError("KAdam does not support sparse gradients")
                if not p.is_floating_point():
                    raise RuntimeError(
                        f"KAdam needs real floating-point parameters, got dtype {p.dtype}"
                    )
            if not params:
                continue
            k = group["k"]
            states = [self._init_state(p, k) for p in params]
            for state in states:
                state["step"] += 1
            if group["compile"]:
                _step_compiled(params, states, group)
            elif group["foreach"] is False:
                _step_single(params, states, group)
            else:
                groups = defaultdict(list)
                for p, state in zip(params, states, strict=True):
                    groups[(p.device, p.dtype)].append((p, state))
                for members in groups.values():
                    _step_foreach([p for p, _ in members], [s for _, s in members], group)
        return loss


def _validate(group: dict) -> None:
    """Check a group's options one at a time (ValueError naming the argument and range)."""
    check_real("lr", group["lr"], 0.0)
    k = check_int("k", group["k"], 1)
    group["betas"] = _as_pairs(group["betas"], k)
    check_real("eps", group["eps"], 0.0)
    check_real("weight_decay", group["weight_decay"], 0.0)
    for flag in ("maximize", "compile"):
        if not isinstance(group[flag], bool):
            raise ValueError(f"{flag} must be True or False, got {group[flag]!r}")
    if group["foreach"] not in (None, True, False):
        raise ValueError(f"foreach must be None, True or False, got {group['foreach']!r}")


def _step_single(params: list[Tensor], states: list[dict], group: dict) -> None:
    """Per-tensor path: :func:`_normalize` k times, then eq. \\ref{eq:kadam-step}."""
    lr, eps, wd, k = group["lr"], group["eps"], group["weight_decay"], group["k"]
    for p, state in zip(params, states, strict=True):
        x = -p.grad if group["maximize"] else p.grad
        n = state["step"]
        if wd != 0:
            p.mul_(1 - lr * wd)
        for i, (beta, gamma) in enumerate(group["betas"], start=1):
            x, c = _normalize(x, state[f"exp_avg_{i}"], state[f"exp_avg_sq_{i}"], beta, gamma,
                              eps, n, last=i == k, scratch=x if i > 1 else None)
        p.addcdiv_(state[f"exp_avg_{k}"], x, value=-lr / c)


def _step_foreach(params: list[Tensor], states: list[dict], group: dict) -> None:
    """Multi-tensor path (one device and dtype): :func:`_normalize_foreach` k times."""
    lr, eps, wd, k = group["lr"], group["eps"], group["weight_decay"], group["k"]
    xs = [p.grad for p in params]
    if group["maximize"]:
        xs = torch._foreach_neg(xs)
    ns = [s["step"] for s in states]
    if wd != 0:
        torch._foreach_mul_(params, 1 - lr * wd)
    for i, (beta, gamma) in enumerate(group["betas"], start=1):
        ms = [s[f"exp_avg_{i}"] for s in states]
        vs = [s[f"exp_avg_sq_{i}"] for s in states]
        xs, cs = _normalize_foreach(xs, ms, vs, beta, gamma, eps, ns, last=i == k,
                                    scratch=xs if i > 1 else None)
    torch._foreach_addcdiv_(params, ms, xs, [-lr / c for c in cs])


def _step_compiled(params: list[Tensor], states: list[dict], group: dict) -> None:
    """Fast path: one compiled kernel per tensor (:func:`_fused_update`)."""
    lr, eps, wd, k = group["lr"], group["eps"], group["weight_decay"], group["k"]
    for p, state in zip(params, states, strict=True):
        n = state["step"]
        values = []
        for beta, gamma in group["betas"]:
            values += [1 - beta, gamma, 1 - gamma, 1 - beta**n, math.sqrt(1 - gamma**n)]
        values += [eps, lr, 1 - lr * wd, -1.0 if group["maximize"] else 1.0]
        coef_dtype = torch.float64 if p.dtype == torch.float64 else torch.float32
        coef = torch.tensor(values, dtype=coef_dtype, device=p.device)
        tensors = [p, p.grad] + [state[f"{name}_{i}"] for i in range(1, k + 1)
                                 for name in ("exp_avg", "exp_avg_sq")]
        if all(t.is_contiguous() for t in tensors):  # 1-D views: one kernel for every shape
            tensors = [t.view(-1) for t in tensors]
        update = _compiled_update(k, p.dtype, p.device)
        update(tensors[0], tensors[1], tensors[2::2], tensors[3::2], coef)
