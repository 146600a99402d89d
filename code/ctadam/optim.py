r"""k-Adam: the Adam normalization applied k times (the paper's k-Adam).

Level 1 normalizes the gradient, level i normalizes the output of level i-1, and the
parameter moves along the output of level k, with AdamW's decoupled weight decay (or
Adam's coupled L2 term). For k = 1 this is exactly ``torch.optim.Adam`` and
``torch.optim.AdamW``: the operations follow torch's order, and the results were
bit-identical in our tests.

The code says "Adam, k times" literally: :func:`_normalize` is one level (one pair of
moment estimates and their bias-corrected ratio; public as :func:`kadam_level`) and the
single-tensor path calls it once per level; :func:`_normalize_foreach` is the same level on
lists of tensors. :func:`kadam` is the functional step the class runs, as torch's
``adam`` is to ``Adam``. DTensor parameters (FSDP2, tensor parallel) get a pooled level's
mean over the whole tensor; FSDP1's flat shards are refused for pooled levels, and
``ensemble_dims`` keeps pooled levels per member of a stacked ensemble. Equation labels
refer to ``paper/sections/kadam_optimizer.tex``. Names follow torch: ``beta1`` is the
first-moment (momentum) decay, ``beta2`` the second-moment decay.
"""

import math
import sys
import types
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor

from ctadam.checks import check_int, check_real
from ctadam.theory.normdynamics import implicit_decay

__all__ = ["KAdam", "kadam", "kadam_level", "implicit_decay"]

# Options of a group and their defaults; a loaded state dict's groups are completed with these.
_DEFAULTS = dict(lr=1e-3, k=1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, pooled=False,
                 amsgrad=False, maximize=False, foreach=None, compile=False, fused=None,
                 differentiable=False, decoupled_weight_decay=True, ensemble_dims=0)

# Keys of a torch.optim.Adam state and their level-1 names in KAdam's state.
_TORCH_STATE_KEYS = {"exp_avg": "exp_avg_1", "exp_avg_sq": "exp_avg_sq_1",
                     "max_exp_avg_sq": "max_exp_avg_sq_1"}

_ONE = torch.tensor(1.0)

_NOT_CAPTURABLE = (
    "capturable=True is not supported by KAdam: it keeps the step count on the host and "
    "computes the bias corrections there (torch's Adam with capturable=False does the same), "
    "so a step cannot be captured in a CUDA graph. Use torch.compile without CUDA graphs."
)
_NOT_DIFFERENTIABLE = (
    "differentiable=True is not supported by KAdam: its step updates parameters and moments "
    "in place under torch.no_grad(), so no autograd graph links one step to the next."
)


def _invalid(what: str, value, check: Callable[[], object]) -> None:
    """Run ``check``; on failure raise torch's ``Invalid <what>: <value>`` with our reason."""
    try:
        check()
    except ValueError as err:
        raise ValueError(f"Invalid {what}: {value} ({err})") from None


def _check_pair(pair, level: int) -> tuple[float, float]:
    """``pair`` as two floats in [0, 1), or ValueError in torch's words with the range."""
    if (type(pair) is tuple and len(pair) == 2 and type(pair[0]) is float
            and type(pair[1]) is float and 0.0 <= pair[0] < 1.0 and 0.0 <= pair[1] < 1.0):
        return pair  # the canonical form, as every step after the first sees it
    if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
        raise ValueError(f"betas[{level - 1}] must be a (beta1, beta2) pair, got {pair!r}")
    out = []
    for index, value in enumerate(pair):
        where = f"index {index}" + (f" of level {level}" if level > 1 else "")
        if isinstance(value, Tensor):
            raise ValueError(
                f"Invalid beta parameter at {where}: got a tensor ({value!r}); KAdam takes "
                "betas as Python floats (torch allows tensor betas only for its capturable "
                "and fused kernels, which KAdam does not have): pass float(beta)")
        _invalid(f"beta parameter at {where}", value, lambda v=value, j=index: check_real(
            f"beta{j + 1} at level {level}", v, 0.0, 1.0, high_open=True))
        out.append(float(value))
    return out[0], out[1]


def _levels(group: dict) -> list[tuple[float, float, bool]]:
    """``(beta1, beta2, pooled)`` of each level of a group, checked; the group is rewritten in
    canonical form (``betas``: level 1's pair, ``upper_betas``: levels 2..k, ``pooled``: k bools).

    ``betas`` may be a torch-style pair or a list of k pairs. A pair sets level 1 only when the
    group already has ``upper_betas`` (a scheduler or user writing ``group["betas"]`` at run
    time); at construction it sets every level.
    """
    k = _check_k(group["k"])
    betas = group["betas"]
    if not isinstance(betas, Sequence) or isinstance(betas, str) or len(betas) == 0:
        raise ValueError(f"betas must be a (beta1, beta2) pair or a list of k={k} such "
                         f"pairs, got {betas!r}")
    if not any(isinstance(b, Sequence) and not isinstance(b, str) for b in betas):
        upper = group.get("upper_betas")
        pairs = [betas] + (list(upper) if upper is not None else [betas] * (k - 1))
        if len(pairs) != k:
            raise ValueError(f"upper_betas must hold k-1={k - 1} (beta1, beta2) pairs for "
                             f"levels 2..k, got {len(pairs) - 1}")
    else:
        pairs = list(betas)
        if len(pairs) != k:
            raise ValueError(f"betas must hold k={k} (beta1, beta2) pairs, got {len(pairs)}")
    pairs = [_check_pair(pair, i) for i, pair in enumerate(pairs, start=1)]
    flags = _pooled_flags(group["pooled"], k)
    group["betas"], group["upper_betas"], group["pooled"] = pairs[0], pairs[1:], list(flags)
    return [(b1, b2, f) for (b1, b2), f in zip(pairs, flags, strict=True)]


def _check_k(k) -> int:
    """``k`` if it is a positive int, else ValueError in torch's words with the range."""
    if type(k) is not int or k < 1:
        _invalid("k value", repr(k), lambda: check_int("k", k, 1))
    return k


def _pooled_flags(pooled, k: int) -> list[bool]:
    """``pooled`` (one bool, or k of them) as a list of k bools, checked."""
    flags = [pooled] * k if isinstance(pooled, bool) else pooled
    if (not isinstance(flags, Sequence) or len(flags) != k
            or not all(isinstance(f, bool) for f in flags)):
        raise ValueError(f"pooled must be True, False or a list of k={k} bools, got {pooled!r}")
    return list(flags)


def _validate(group: dict) -> None:
    """Check a group's options (ValueError naming the argument and its range)."""
    lr = group["lr"]
    if isinstance(lr, Tensor):
        if lr.numel() != 1:
            raise ValueError(f"Tensor lr must be 1-element, got a tensor of shape "
                             f"{tuple(lr.shape)}")
        lr = lr.item()
    _invalid("learning rate", lr, lambda: check_real("lr", lr, 0.0))
    _levels(group)
    _invalid("epsilon value", group["eps"], lambda: check_real("eps", group["eps"], 0.0))
    _invalid("weight_decay value", group["weight_decay"],
             lambda: check_real("weight_decay", group["weight_decay"], 0.0))
    for flag in ("maximize", "compile", "amsgrad", "differentiable", "decoupled_weight_decay"):
        if not isinstance(group[flag], bool):
            raise ValueError(f"{flag} must be True or False, got {group[flag]!r}")
    for flag in ("foreach", "fused"):
        if group[flag] not in (None, True, False):
            raise ValueError(f"{flag} must be None, True or False, got {group[flag]!r}")
    members = group["ensemble_dims"]
    if type(members) is not int or members < 0:
        _invalid("ensemble_dims value", repr(members),
                 lambda: check_int("ensemble_dims", members, 0))
    if group["differentiable"]:
        raise ValueError(_NOT_DIFFERENTIABLE)
    if group.get("capturable", False) not in (False, None):
        raise ValueError(_NOT_CAPTURABLE)
    if group["fused"] and group["foreach"]:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together (got fused=True, "
                           "foreach=True): fused is KAdam's compiled path, foreach the "
                           "multi-tensor path; choose one.")


def _is_dtensor(t: Tensor) -> bool:
    """Whether ``t`` is a DTensor (FSDP2, tensor parallel); none can exist before
    ``torch.distributed.tensor`` is imported, so KAdam does not import it (a second of start-up)."""
    module = sys.modules.get("torch.distributed.tensor")
    return module is not None and isinstance(t, module.DTensor)


def _value(x):
    """A step count or tensor lr as a Python number, except while dynamo traces (then the
    tensor itself, so that a new value does not recompile)."""
    if isinstance(x, Tensor) and not torch.compiler.is_compiling():
        return x.item()
    return x


def _real(t: Tensor) -> Tensor:
    """A complex tensor as its real view (torch's optimizers treat complex as pairs of reals)."""
    return torch.view_as_real(t) if t.is_complex() else t


def _mean_square(x: Tensor, members: int = 0) -> Tensor:
    """The mean of ``x**2`` over every coordinate of each ensemble member (a pooled level's
    input): 0-d when ``members`` (the number of leading ensemble dimensions) is 0, else of
    shape ``x.shape[:members] + (1, ...)``.

    The norm is squared out of place: on a sharded DTensor the norm is a partial result,
    which the square first reduces across shards, so every shard gets the whole tensor's mean.
    """
    if members == 0:
        return torch.linalg.vector_norm(x).square().div_(x.numel())
    norm = torch.linalg.vector_norm(x, dim=tuple(range(members, x.dim())), keepdim=True)
    return norm.square().div_(math.prod(x.shape[members:]))


def _pooled_add(v: Tensor, x: Tensor, beta2: float, members: int) -> None:
    """``v <- beta2 v + (1 - beta2) mean(x^2)`` (eq. \\ref{eq:kadam-ema}, pooled), in place.

    On a DTensor the mean square is brought to ``v``'s placement (replicated) first.
    """
    square = _mean_square(x, members)
    if _is_dtensor(v):
        square = square.redistribute(v.device_mesh, v.placements)
    v.mul_(beta2).add_(square, alpha=1 - beta2)


def _normalize(x: Tensor, m: Tensor, v: Tensor, vmax: Tensor | None, beta1: float,
               beta2: float, pooled: bool, eps: float, n, last: bool,
               scratch: Tensor | None, members: int = 0) -> tuple[Tensor, float]:
    r"""One level of k-Adam on one tensor, in place (eqs. \ref{eq:kadam-ema}, \ref{eq:kadam-u}).

    Updates the moment estimates of the level's input ``x`` at step ``n``::

        m <- beta1 m + (1 - beta1) x         v <- beta2 v + (1 - beta2) x^2

    (``mean(x^2)`` in place of ``x^2`` when ``pooled``, per ensemble member when ``members``
    leading dimensions index members: then ``v`` has one entry per member; with ``vmax``,
    AMSGrad's running maximum of ``v`` replaces ``v`` below) and returns ``(r, c)`` with the
    level's output ``u = r / c`` when ``last`` is false (then ``c = 1``), or, for the last
    level, ``u = m / (c r)`` with ``r = sqrt(vhat) + eps`` and ``c = 1 - beta1^n`` (torch's
    Adam folds ``c`` into the step size the same way). Here ``u = mhat / (sqrt(vhat) + eps)``,
    ``mhat = m / (1 - beta1^n)``, ``vhat = v / (1 - beta2^n)``. ``scratch`` (``x`` itself
    when ``x`` is an earlier level's output, dead once m and v are updated) receives the
    output, so that no level after the first allocates memory.
    """
    m.lerp_(x, 1 - beta1)
    if pooled:
        _pooled_add(v, x, beta2, members)
    else:
        v.mul_(beta2).addcmul_(x, x, value=1 - beta2)
    if vmax is not None:
        torch.maximum(vmax, v, out=vmax)
        v = vmax
    bc1 = 1 - beta1**n
    bc2_sqrt = (1 - beta2**n) ** 0.5
    denom = v.sqrt() if scratch is None or pooled else torch.sqrt(v, out=scratch)
    if last:
        return denom.div_(bc2_sqrt).add_(eps), bc1
    # bc1 (sqrt(v) / bc2_sqrt + eps) in two passes, then m over it into a full-size buffer.
    denom.mul_(bc1 / bc2_sqrt).add_(eps * bc1)
    out = scratch if pooled else denom
    return (torch.div(m, denom) if out is None else torch.div(m, denom, out=out)), 1.0


def kadam_level(x: Tensor, m: Tensor, v: Tensor, *, beta1: float, beta2: float, eps: float,
                step: float, pooled: bool = False, ensemble_dims: int = 0) -> Tensor:
    r"""One level of k-Adam (eqs. \ref{eq:kadam-ema}, \ref{eq:kadam-u}): update ``m`` and ``v``
    in place from the level's input ``x`` at step ``step`` (counted from 1) and return the
    level's output :math:`u = \hat m / (\sqrt{\hat v} + \epsilon)` (a new tensor).

    This is the code every level of :class:`KAdam` runs; ``v`` is like ``x``, or, pooled, 0-d
    (one entry per member with ``ensemble_dims``).
    """
    return _normalize(x, m, v, None, beta1, beta2, pooled, eps, step, last=False,
                      scratch=None, members=ensemble_dims)[0]


def _normalize_foreach(xs: list[Tensor], ms: list[Tensor], vs: list[Tensor],
                       vmaxs: list[Tensor] | None, beta1: float, beta2: float, pooled: bool,
                       eps: float, ns: list[float], last: bool,
                       scratch: list[Tensor] | None,
                       members: int = 0) -> tuple[list[Tensor], list[float]]:
    """:func:`_normalize` on lists of tensors with ``torch._foreach_*`` kernels (same numbers).

    The steps that write into existing buffers (``out=``) have no foreach kernel and loop
    over the tensors, as does a pooled level of ensemble members or DTensors.
    """
    torch._foreach_lerp_(ms, xs, 1 - beta1)
    if pooled and (members or _is_dtensor(xs[0])):
        for v, x in zip(vs, xs, strict=True):
            _pooled_add(v, x, beta2, members)
    elif pooled:
        torch._foreach_mul_(vs, beta2)
        squares = torch._foreach_norm(xs)
        torch._foreach_mul_(squares, squares)
        torch._foreach_div_(squares, [float(x.numel()) for x in xs])
        torch._foreach_add_(vs, squares, alpha=1 - beta2)
    else:
        torch._foreach_mul_(vs, beta2)
        torch._foreach_addcmul_(vs, xs, xs, 1 - beta2)
    if vmaxs is not None:
        torch._foreach_maximum_(vmaxs, vs)
        vs = vmaxs
    bc1 = [1 - beta1**n for n in ns]
    bc2_sqrt = [(1 - beta2**n) ** 0.5 for n in ns]
    if scratch is None or pooled:
        denom = torch._foreach_sqrt(vs)
    else:
        denom = [torch.sqrt(v, out=s) for v, s in zip(vs, scratch, strict=True)]
    if last:
        torch._foreach_div_(denom, bc2_sqrt)
        torch._foreach_add_(denom, eps)
        return denom, bc1
    scales = [b / c for b, c in zip(bc1, bc2_sqrt, strict=True)]
    if denom[0].dtype in (torch.bfloat16, torch.float16):
        for d, scale in zip(denom, scales, strict=True):  # Tensor.mul_'s rounding, as
            d.mul_(scale)  # _normalize: torch's foreach mul rounds the scale to d's dtype first
    else:
        torch._foreach_mul_(denom, scales)
    torch._foreach_add_(denom, [eps * b for b in bc1])
    if pooled:
        out = (torch._foreach_div(ms, denom) if scratch is None else
               [torch.div(m, d, out=s) for m, d, s in zip(ms, denom, scratch, strict=True)])
    else:
        out = [torch.div(m, d, out=d) for m, d in zip(ms, denom, strict=True)]
    return out, [1.0] * len(ms)


def _fused_update(param: Tensor, grad: Tensor, ms: list[Tensor], vs: list[Tensor],
                  vmaxs: list[Tensor], coef: Tensor, pooled: tuple[bool, ...],
                  coupled: bool, members: int = 0) -> None:
    r"""All k levels and the parameter update of one tensor, written for ``torch.compile``.

    Eqs. \ref{eq:kadam-ema} and \ref{eq:kadam-u} for each level, then \ref{eq:kadam-step}.
    ``coef`` holds, per level, ``(1 - beta1, beta2, 1 - beta2, 1 - beta1^n, sqrt(1 - beta2^n))``,
    then ``(eps, eta, 1 - eta lambda, sign, mu)`` (``mu``: the L2 coefficient, used only when
    ``coupled``), as a tensor so that a new step does not recompile; ``vmaxs`` is empty
    without AMSGrad. A pooled level takes the mean over all dimensions after the first
    ``members`` (the ensemble dimensions).
    Compiled, the update of an unpooled k is one kernel that reads ``param, grad`` and each
    ``m_i, v_i`` once and writes ``param`` and each ``m_i, v_i`` once.
    """
    eps, lr, decay, sign, l2 = coef[-5], coef[-4], coef[-3], coef[-2], coef[-1]
    x = grad * sign + l2 * param if coupled else grad * sign
    for i, (m, v) in enumerate(zip(ms, vs, strict=True)):
        one_minus_beta1, beta2, one_minus_beta2, bc1, bc2_sqrt = coef[5 * i:5 * i + 5]
        m.copy_(m + one_minus_beta1 * (x - m))
        if not pooled[i]:
            square = x * x
        elif members:
            square = (x * x).mean(dim=tuple(range(members, x.dim())), keepdim=True)
        else:
            square = (x * x).mean()
        v.copy_(v * beta2 + one_minus_beta2 * square)
        if vmaxs:
            vmaxs[i].copy_(torch.maximum(vmaxs[i], v))
            v = vmaxs[i]
        x = (m / bc1) / (v.sqrt() / bc2_sqrt + eps)
    param.copy_(param * decay - lr * x)


_COMPILED: dict[tuple, Callable] = {}


def _compiled_update(key: tuple) -> Callable:
    """``torch.compile`` of :func:`_fused_update` for one (k, pooled, amsgrad, coupled,
    members, dtype, device type), built once.

    Each key gets its own copy of the function's code object, so that dynamo's limit on
    recompilations (per code object) is not spent across keys; shapes are dynamic and
    tensors are passed flattened, so one key compiles about once.
    """
    if key not in _COMPILED:
        code = _fused_update.__code__.replace(co_name=f"_fused_update_{len(_COMPILED)}")
        fn = types.FunctionType(code, _fused_update.__globals__, code.co_name,
                                _fused_update.__defaults__)
        _COMPILED[key] = torch.compile(fn, dynamic=True)
    return _COMPILED[key]


class KAdam(torch.optim.Optimizer):
    r"""k-Adam: Adam's normalization applied k times.

    .. math::
        \begin{aligned}
        &u_0 = \pm g_n + \mu\, \theta_{n-1} \quad (- \text{ if maximize};\ \mu = \lambda
            \text{ if not decoupled, else } 0) \\
        &\textbf{for } i = 1 \dots k: \\
        &\quad m_{i,n} = \beta_{1,i} m_{i,n-1} + (1-\beta_{1,i})\, u_{i-1}
            && \text{eq. \ref{eq:kadam-ema}} \\
        &\quad v_{i,n} = \beta_{2,i} v_{i,n-1} + (1-\beta_{2,i})\, s_i, \quad
            s_i = u_{i-1}^2 \text{ or, pooled, } \tfrac{1}{d} \textstyle\sum_j u_{i-1,j}^2
            && \text{eq. \ref{eq:kadam-ema}} \\
        &\quad \hat v_{i,n} = v_{i,n} \text{ or, amsgrad, } \max_{t \le n} v_{i,t} \\
        &\quad u_i = \frac{m_{i,n} / (1-\beta_{1,i}^n)}{\sqrt{\hat v_{i,n} / (1-\beta_{2,i}^n)}
            + \epsilon}
            && \text{eq. \ref{eq:kadam-u}} \\
        &\theta_n = (1 - \eta\lambda_d)\, \theta_{n-1} - \eta\, u_k, \quad
            \lambda_d = \lambda \text{ if decoupled, else } 0
            && \text{eq. \ref{eq:kadam-step}}
        \end{aligned}

    A pooled level keeps one scalar second moment per parameter tensor (d coordinates),
    the EMA of the mean of its squared input, as a normalized layer's implicit second
    normalization does with ||g_W||^2 (the paper's Assumption 2). With k = 1 this is
    ``torch.optim.AdamW`` (``decoupled_weight_decay=True``, the default) and
    ``torch.optim.Adam`` (``decoupled_weight_decay=False``, or lambda = 0).

    The state of each parameter is its step count ``"step"`` (a 0-d float tensor on the CPU,
    as torch's Adam keeps it) and 2k tensors ``"exp_avg_i"`` (m_i) and ``"exp_avg_sq_i"``
    (v_i; 0-d when level i is pooled), i = 1..k, plus ``"max_exp_avg_sq_i"`` with amsgrad.
    A group's ``betas`` is level 1's ``(beta1, beta2)`` pair, so torch's momentum-cycling
    schedulers (``OneCycleLR``, ``CyclicLR``) drive level 1's beta1; levels 2..k keep theirs
    in ``upper_betas``. Writing a pair to ``group["betas"]`` changes level 1 only; writing
    a list of k pairs changes every level.

    Args:
        params: parameters to optimize, or dicts defining parameter groups (each group
            may override every option below, k included).
        lr: learning rate eta, >= 0; a float or a 1-element tensor (every path). Default 1e-3.
        k: number of levels, a positive int. Default 1 (Adam).
        betas: decay rates (beta1, beta2) of the first and second moments, each in [0, 1):
            one pair used at every level, or a list of k pairs, level 1 first.
            beta1 = 0 is a level without momentum. Default (0.9, 0.999).
        eps: term added to the denominator at every level, >= 0. Default 1e-8.
        weight_decay: weight decay lambda, >= 0. Default 0.
        amsgrad: use AMSGrad's running maximum of v_i at every level. Default False.
        pooled: level i keeps one scalar v_i per tensor: True (all levels), False (none,
            default) or a list of k bools. On DTensor (FSDP2) parameters the mean is over
            the whole tensor, on every shard alike; FSDP1's flat shards are refused.
        maximize: ascend the objective instead of descending. Default False.
        foreach: use the ``torch._foreach_*`` path (True) or the per-tensor path (False);
            None (default) picks foreach. Both paths give the same numbers.
        compile: run each tensor's update as one ``torch.compile``-generated kernel (the
            fast path, about as fast as torch's fused Adam). Same numbers up to float
            rounding; the first step for each (k, dtype, device) compiles, which takes
            seconds. DTensor (FSDP2) parameters take the foreach path instead, with one
            warning. Default False.
        fused: True is the compiled path (``compile=True``), KAdam's counterpart of torch's
            fused kernels; it cannot be combined with ``foreach=True``. Default None.
        capturable: only False (the default): KAdam computes its bias corrections on the
            host from a CPU step count, so a step cannot be captured in a CUDA graph.
        differentiable: only False (the default): the step updates parameters and moments
            in place under ``torch.no_grad()``, so it is not differentiable.
        decoupled_weight_decay: True (default): AdamW's decay of theta by (1 - eta lambda);
            False: Adam's L2 term, lambda theta added to the gradient.
        ensemble_dims: the number of leading dimensions of every parameter that index
            members of a stacked ensemble (:mod:`ctadam.ensemble`), an int >= 0. A pooled
            level then keeps one v_i per member, the mean over that member's coordinates,
            so each member is optimized exactly as if it were trained alone; unpooled levels
            are per coordinate anyway. Every parameter of the group needs at least this many
            dimensions. Default 0 (no ensemble).

    While ``torch.compile`` traces a step, every group runs the per-tensor code (inductor
    fuses it), with the step count and a tensor lr kept as tensors, so a new step or a new lr
    value does not recompile.
    """

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-3, k: int = 1,
                 betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0, *,
                 amsgrad: bool = False, pooled: bool | Sequence[bool] = False,
                 maximize: bool = False, foreach: bool | None = None, compile: bool = False,
                 fused: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, decoupled_weight_decay: bool = True,
                 ensemble_dims: int = 0) -> None:
        if capturable is not False:
            raise ValueError(_NOT_CAPTURABLE)
        defaults = dict(lr=lr, k=k, betas=betas, eps=eps, weight_decay=weight_decay,
                        pooled=pooled, amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        compile=compile, fused=fused, differentiable=differentiable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        ensemble_dims=ensemble_dims)
        self._warned_dtensor = False
        _validate(dict(defaults))  # fail on bad defaults even before any group is added
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Validate a group's options, then add it (in the canonical form of :func:`_levels`)."""
        options = {**self.defaults, **param_group}
        _validate(options)  # a bad group raises before it is added
        super().add_param_group({**param_group, **{key: options[key] for key in
                                                   ("betas", "upper_betas", "pooled")}})

    def __setstate__(self, state: dict) -> None:
        """Complete groups and states from earlier versions or from ``torch.optim.Adam``.

        Missing group options get their defaults (torch's rule), a list of k pairs in
        ``betas`` is split into level 1 and ``upper_betas``, a Python int step becomes a
        tensor, and a loaded ``capturable`` flag is dropped (KAdam is never capturable).
        """
        super().__setstate__(state)
        for group in self.param_groups:
            group.pop("capturable", None)
            for key, value in _DEFAULTS.items():
                group.setdefault(key, value)
            _levels(group)
            for p in group["params"]:
                p_state = self.state.get(p, {})
                if "step" in p_state and not torch.is_tensor(p_state["step"]):
                    p_state["step"] = torch.tensor(float(p_state["step"]),
                                                   dtype=_step_dtype())

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a KAdam state dict, or a ``torch.optim.Adam``/``AdamW`` one into k = 1.

        The saved options replace the current ones (torch's rule), except that ``k`` and
        ``pooled`` fix the layout of the state: a saved group whose k or pooled differs from
        this optimizer's raises ValueError. The saved options are checked as the constructor
        checks its arguments (``differentiable=True`` or ``capturable=True`` in a saved
        group is refused, not run silently). A torch Adam group (no ``k``) is one unpooled
        level (``exp_avg``, ``exp_avg_sq`` become ``exp_avg_1``, ``exp_avg_sq_1``); its
        ``decoupled_weight_decay`` is kept, and is False (Adam's) where it is missing.
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than this optimizer "
                             f"({len(self.param_groups)})")
        torch_style = [("k" not in g) for g in saved_groups]
        groups = []
        for index, (saved, group, is_torch) in enumerate(
                zip(saved_groups, self.param_groups, torch_style, strict=True)):
            saved = dict(saved)
            if is_torch:
                saved.update(k=1, pooled=False)
                saved.setdefault("decoupled_weight_decay", False)
            saved.setdefault("pooled", False)
            try:
                _check_k(saved["k"])
                _validate({**_DEFAULTS, **saved})
            except ValueError as err:
                raise ValueError(f"cannot load param group {index} of the state dict: {err}") \
                    from None
            k_saved = saved["k"]
            pooled_saved = _pooled_flags(saved["pooled"], k_saved)
            if k_saved != group["k"] or pooled_saved != group["pooled"]:
                origin = "a torch.optim.Adam/AdamW state dict (one unpooled level)" if is_torch \
                    else f"a KAdam state dict with k={k_saved}, pooled={pooled_saved}"
                raise ValueError(
                    f"cannot load {origin} into param group {index} with k={group['k']}, "
                    f"pooled={group['pooled']}: k and pooled fix the layout of the state; "
                    "build the optimizer with the saved k and pooled")
            groups.append(saved)
        ids = {pid for g, is_torch in zip(saved_groups, torch_style, strict=True) if is_torch
               for pid in g["params"]}
        state = {pid: ({_TORCH_STATE_KEYS.get(key, key): v for key, v in s.items()}
                       if pid in ids else s) for pid, s in state_dict["state"].items()}
        super().load_state_dict({**state_dict, "state": state, "param_groups": groups})
        for index, group in enumerate(self.param_groups):
            group.pop("capturable", None)
            _check_params(group, index, group["params"])

    def _init_group(self, group: dict, index: int) -> list[tuple[float, float, bool]]:
        """Check a group, create the state of its parameters that have none, return its levels.

        The name is torch's: dynamo runs an optimizer's ``_init_group`` eagerly while it traces
        ``step`` and guards on the state it leaves, so that a compiled step does not recompile
        once the lazily created state exists.
        """
        stepped = next((self.state[p] for p in group["params"] if self.state.get(p)), None)
        if stepped is not None:  # a changed k or amsgrad, named before the betas' length
            _check_counts(stepped, group["k"], group["amsgrad"], index)
        levels = _levels(group)
        members = group["ensemble_dims"]
        fresh = []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError(
                    f"KAdam does not support sparse gradients (got a sparse gradient for "
                    f"{_param_name(group, index, p)}): its moments are dense tensors; use "
                    "torch.optim.SparseAdam, or a dense gradient (e.g. nn.Embedding(sparse=False))")
            if not (p.is_floating_point() or p.is_complex()):
                raise RuntimeError(
                    f"KAdam needs floating-point or complex parameters, got dtype {p.dtype}")
            state = self.state[p]
            if not state:
                fresh.append(p)
            else:
                _check_layout(state, p, levels, group["amsgrad"], members, index)
        if fresh:
            _check_params(group, index, fresh)
            for p in fresh:
                _init_state(self.state[p], p, levels, group["amsgrad"], members)
        return levels

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """Perform one step; ``closure`` (optional) re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        compiling = torch.compiler.is_compiling()
        for index, group in enumerate(self.param_groups):
            levels = self._init_group(group, index)
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            path = _path(group, params, compiling)
            if path == "foreach" and (group["compile"] or group["fused"]) and not compiling \
                    and not self._warned_dtensor:
                self._warned_dtensor = True
                warnings.warn(_DTENSOR_FALLBACK, UserWarning, stacklevel=2)
            _kadam(params, [p.grad for p in params], [self.state[p] for p in params], levels,
                   group, path)
        return loss


_DTENSOR_FALLBACK = (
    "KAdam(compile=True / fused=True) on DTensor parameters (FSDP2, tensor parallel) runs the "
    "foreach path instead: the compiled kernel works on whole local tensors, which a sharded "
    "DTensor does not give it. The numbers are those of foreach=True.")


def _path(group: dict, params: list[Tensor], compiling: bool) -> str:
    """Which code runs a group's step: "compiled", "single" (per tensor) or "foreach".

    The compiled kernel takes plain tensors, so DTensor parameters take the foreach path
    (the caller warns once); while dynamo traces a step, every group runs per tensor.
    """
    if compiling or group["foreach"] is False and not (group["compile"] or group["fused"]):
        return "single"
    if (group["compile"] or group["fused"]) and not any(_is_dtensor(p) for p in params):
        return "compiled"
    return "foreach"


def kadam(params: list[Tensor], grads: list[Tensor], states: list[dict], *, k: int = 1,
          betas=(0.9, 0.999), upper_betas=None, pooled: bool | Sequence[bool] = False,
          lr: float | Tensor = 1e-3, weight_decay: float = 0.0, eps: float = 1e-8,
          amsgrad: bool = False, maximize: bool = False, decoupled_weight_decay: bool = True,
          ensemble_dims: int = 0, foreach: bool | None = None, fused: bool = False) -> None:
    r"""Functional k-Adam: one step of :class:`KAdam` on lists of tensors, in place.

    Eqs. \ref{eq:kadam-ema}, \ref{eq:kadam-u} at each level, then \ref{eq:kadam-step}, as
    ``torch.optim.adam.adam`` is to ``torch.optim.Adam``: ``params[j]`` moves along
    ``grads[j]``, with its state in the dict ``states[j]`` (``"step"``, ``"exp_avg_i"``,
    ``"exp_avg_sq_i"``, ``"max_exp_avg_sq_i"``, the layout of :class:`KAdam`'s state; an
    empty dict is filled with zeros). ``betas`` is level 1's pair, or every level's when
    ``upper_betas`` (the k-1 pairs of levels 2..k) is None; ``pooled`` is one bool or k of
    them. The step counts are incremented here. Options are checked as :class:`KAdam`
    checks them; ``foreach=False`` runs per tensor, ``fused=True`` the compiled kernel.
    """
    options = dict(_DEFAULTS, k=k, betas=betas, upper_betas=upper_betas, pooled=pooled, lr=lr,
                   weight_decay=weight_decay, eps=eps, amsgrad=amsgrad, maximize=maximize,
                   decoupled_weight_decay=decoupled_weight_decay, ensemble_dims=ensemble_dims,
                   foreach=foreach, fused=fused)
    if options["upper_betas"] is None:
        del options["upper_betas"]
    _validate(options)
    levels = _levels(options)
    if not (len(params) == len(grads) == len(states)):
        raise ValueError(f"params, grads and states must have the same length, got "
                         f"{len(params)}, {len(grads)} and {len(states)}")
    fresh = [p for p, state in zip(params, states, strict=True) if not state]
    _check_params({**options, "params": params}, 0, fresh)  # names them as one group's
    for p, state in zip(params, states, strict=True):
        if state:
            _check_layout(state, p, levels, amsgrad, ensemble_dims, 0)
        else:
            _init_state(state, p, levels, amsgrad, ensemble_dims)
    _kadam(params, grads, states, levels, options,
           _path(options, params, torch.compiler.is_compiling()))


def _kadam(params: list[Tensor], grads: list[Tensor], states: list[dict], levels: list,
           group: dict, path: str) -> None:
    """One step of checked options ``group`` along ``path`` (see :func:`_path`)."""
    steps = [s["step"] for s in states]
    if torch.compiler.is_compiling() or not all(t.is_cpu for t in steps):
        for t in steps:
            t += 1  # in place: the state holds the same tensor
    else:  # one call; a CPU tensor as the addend spares wrapping 1 per step count
        torch._foreach_add_(steps, _ONE, alpha=1.0)
    if path == "compiled":
        _step_compiled(params, grads, states, group, levels)
    elif path == "single":
        _step_single(params, grads, states, group, levels)
    else:
        by_kind = defaultdict(list)
        for j, p in enumerate(params):
            by_kind[(p.device, p.dtype)].append(j)
        for js in by_kind.values():
            _step_foreach([params[j] for j in js], [grads[j] for j in js],
                          [states[j] for j in js], group, levels)


def _step_dtype() -> torch.dtype:
    """torch's dtype for a step count: float64 if that is the default dtype, else float32."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def _param_name(group: dict, index: int, p: Tensor) -> str:
    """A parameter's name for a message: its name in the group (when the optimizer was given
    named parameters), else its position, with its shape."""
    position = next(j for j, q in enumerate(group["params"]) if q is p) \
        if any(q is p for q in group["params"]) else None
    names = group.get("param_names")
    name = (repr(names[position]) if names and position is not None else
            f"number {position}" if position is not None else "(outside any group)")
    return f"parameter {name} of param group {index} (shape {tuple(p.shape)})"


def _check_params(group: dict, index: int, params: list[Tensor]) -> None:
    """Refuse parameters that the group's ``ensemble_dims`` or ``pooled`` cannot serve.

    A parameter needs at least ``ensemble_dims`` dimensions, and one stacked by
    :mod:`ctadam.ensemble` (marked ``_ensemble_dims``) exactly its own number under a pooled
    level, which would otherwise pool across members. FSDP1 (``FullyShardedDataParallel``)
    hands the optimizer flat 1-D shards, each a slice of one tensor or pieces of several, so
    neither a tensor's mean square (pooled) nor its member dimensions can be known there.
    """
    members = group["ensemble_dims"]
    pooled = any(_pooled_flags(group["pooled"], group["k"]))
    for p in params:
        if p.dim() < members:
            raise ValueError(
                f"ensemble_dims={members} needs parameters with at least {members} leading "
                f"member dimensions, but {_param_name(group, index, p)} has {p.dim()}; "
                "stack every parameter of the group along its leading dimensions, or put "
                "this one in a group with a smaller ensemble_dims")
        stacked = getattr(p, "_ensemble_dims", members)
        if pooled and stacked != members:
            raise ValueError(
                f"ensemble_dims={members} does not match {_param_name(group, index, p)}, "
                f"which is stacked over {stacked} leading ensemble dimension(s) "
                f"(ctadam.ensemble): pooled={group['pooled']} would take its mean square "
                f"{'across members' if members < stacked else 'over parts of a member'}; "
                f"pass ensemble_dims={stacked}")
        if (pooled or members) and getattr(p, "_fsdp_flattened", False) \
                and not _is_dtensor(p):
            option = f"pooled={group['pooled']}" if pooled else f"ensemble_dims={members}"
            raise ValueError(
                f"KAdam({option}) cannot run on {_param_name(group, index, p)}: it is a flat "
                "shard of FSDP1 (FullyShardedDataParallel, as built by Lightning's and "
                "Accelerate's FSDP), which holds a slice of a tensor or pieces of several, so "
                "a per-tensor (or per-member) mean square would silently become a per-shard "
                "one. Shard with FSDP2 (torch.distributed.fsdp.fully_shard), whose DTensor "
                "parameters KAdam pools correctly, or use pooled=False (and ensemble_dims=0)")


def _v_shape(p: Tensor, pooled: bool, members: int) -> tuple[int, ...]:
    """The shape of a second moment of ``p``: ``p``'s real view's, or, pooled, one entry per
    ensemble member (0-d without an ensemble)."""
    real = _real(p)
    if not pooled:
        return tuple(real.shape)
    return tuple(real.shape[:members]) + (1,) * (real.dim() - members) if members else ()


def _zeros_v(p: Tensor, pooled: bool, members: int = 0) -> Tensor:
    """A zero second moment for ``p``: like ``p``, or, pooled, real of :func:`_v_shape` (on
    DTensor parameters a DTensor replicated on the parameter's mesh)."""
    if not pooled:
        return torch.zeros_like(p, memory_format=torch.preserve_format)
    shape, dtype = _v_shape(p, True, members), _real(p).dtype
    if _is_dtensor(p):
        from torch.distributed.tensor import Replicate, zeros

        mesh = p.device_mesh
        return zeros(shape, dtype=dtype, device_mesh=mesh, placements=[Replicate()] * mesh.ndim)
    return torch.zeros(shape, dtype=dtype, device=p.device)


def _init_state(state: dict, p: Tensor, levels: list, amsgrad: bool, members: int) -> None:
    """Fill an empty state with step 0 and zero moments at every level."""
    state["step"] = torch.tensor(0.0, dtype=_step_dtype())
    for i, (_, _, pooled) in enumerate(levels, start=1):
        state[f"exp_avg_{i}"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state[f"exp_avg_sq_{i}"] = _zeros_v(p, pooled, members)
        if amsgrad:
            state[f"max_exp_avg_sq_{i}"] = _zeros_v(p, pooled, members)


def _check_layout(state: dict, p: Tensor, levels: list, amsgrad: bool, members: int,
                  index: int) -> None:
    """Fail clearly when a group's k, pooled, amsgrad or ensemble_dims no longer fits the
    state of ``p``."""
    _check_counts(state, len(levels), amsgrad, index)
    if p.dim() == 0 if members == 0 else p.numel() == math.prod(p.shape[:members]):
        return  # one coordinate (per member): pooled and unpooled are the same
    for i, (_, _, pooled) in enumerate(levels, start=1):
        shape = state[f"exp_avg_sq_{i}"].shape  # like p when unpooled (complex included)
        if shape == p.shape if not pooled else tuple(shape) == _v_shape(p, True, members):
            continue
        if (shape != p.shape) != pooled:
            raise RuntimeError(
                f"KAdam param group {index} now has pooled={pooled} at level {i}, but the state "
                f"of its parameters was created with pooled={not pooled}; pooled cannot change "
                "once a parameter has state (start a new optimizer, or clear opt.state)")
        raise RuntimeError(
            f"KAdam param group {index} has ensemble_dims={members}, but the pooled second "
            f"moment of a parameter of shape {tuple(p.shape)} has shape {tuple(shape)} (expected "
            f"{_v_shape(p, True, members)}): ensemble_dims cannot change once a parameter has "
            "state (start a new optimizer, or clear opt.state)")


def _check_counts(state: dict, k: int, amsgrad: bool, index: int) -> None:
    """Fail clearly when a group's k or amsgrad no longer fits a parameter's state."""
    if len(state) == 1 + (3 if amsgrad else 2) * k and f"exp_avg_{k}" in state:
        return  # the common case, checked without scanning the keys
    have = sum(key.startswith("exp_avg_sq_") for key in state)
    has_max = any(key.startswith("max_exp_avg_sq_") for key in state)
    if have != k or has_max != amsgrad:
        raise RuntimeError(
            f"KAdam param group {index} now has k={k}, amsgrad={amsgrad}, but the state of its "
            f"parameters was created with k={have}, amsgrad={has_max}; these options cannot "
            "change once a parameter has state (start a new optimizer, or clear opt.state)")


def _moments(state: dict, i: int, amsgrad: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    """Level ``i``'s ``m``, ``v`` and AMSGrad maximum (None without amsgrad), as real views."""
    vmax = _real(state[f"max_exp_avg_sq_{i}"]) if amsgrad else None
    return _real(state[f"exp_avg_{i}"]), _real(state[f"exp_avg_sq_{i}"]), vmax


def _step_single(params: list[Tensor], grads: list[Tensor], states: list[dict], group: dict,
                 levels: list) -> None:
    """Per-tensor path: :func:`_normalize` k times, then eq. \\ref{eq:kadam-step}."""
    lr, eps, wd, k = _value(group["lr"]), group["eps"], group["weight_decay"], len(levels)
    decoupled, amsgrad, members = (group["decoupled_weight_decay"], group["amsgrad"],
                                   group["ensemble_dims"])
    for p, grad, state in zip(params, grads, states, strict=True):
        x = -grad if group["maximize"] else grad
        n = _value(state["step"])
        if wd != 0:
            if decoupled:
                p.mul_(1 - lr * wd)
            else:
                x = x.add(p, alpha=wd)
        p, x = _real(p), _real(x)
        for i, (beta1, beta2, pooled) in enumerate(levels, start=1):
            m, v, vmax = _moments(state, i, amsgrad)
            x, c = _normalize(x, m, v, vmax, beta1, beta2, pooled, eps, n, last=i == k,
                              scratch=x if i > 1 else None, members=members)
        p.addcdiv_(m, x, value=-lr / c)


def _step_foreach(params: list[Tensor], grads: list[Tensor], states: list[dict], group: dict,
                  levels: list) -> None:
    """Multi-tensor path (one device and dtype): :func:`_normalize_foreach` k times."""
    lr, eps, wd, k = _value(group["lr"]), group["eps"], group["weight_decay"], len(levels)
    amsgrad = group["amsgrad"]
    xs = [_real(g) for g in grads]
    params = [_real(p) for p in params]
    if group["maximize"]:
        xs = torch._foreach_neg(xs)
    ns = [_value(s["step"]) for s in states]
    if wd != 0:
        if group["decoupled_weight_decay"]:
            torch._foreach_mul_(params, 1 - lr * wd)
        elif group["maximize"]:
            torch._foreach_add_(xs, params, alpha=wd)
        else:
            xs = torch._foreach_add(xs, params, alpha=wd)
    for i, (beta1, beta2, pooled) in enumerate(levels, start=1):
        ms, vs, vmaxs = zip(*(_moments(s, i, amsgrad) for s in states), strict=True)
        xs, cs = _normalize_foreach(xs, list(ms), list(vs), list(vmaxs) if amsgrad else None,
                                    beta1, beta2, pooled, eps, ns, last=i == k,
                                    scratch=xs if i > 1 else None,
                                    members=group["ensemble_dims"])
    torch._foreach_addcdiv_(params, list(ms), xs, [-lr / c for c in cs])


def _step_compiled(params: list[Tensor], grads: list[Tensor], states: list[dict], group: dict,
                   levels: list) -> None:
    """Fast path: one compiled kernel per tensor (:func:`_fused_update`).

    Contiguous tensors go in as 1-D views (with ensemble members, 2-D: one row per member),
    so that one compiled kernel serves every shape.
    """
    lr, eps, wd, k = _value(group["lr"]), group["eps"], group["weight_decay"], len(levels)
    amsgrad, decoupled = group["amsgrad"], group["decoupled_weight_decay"]
    members = group["ensemble_dims"]
    pooled = tuple(f for _, _, f in levels)
    for p, grad, state in zip(params, grads, states, strict=True):
        n = _value(state["step"])
        values = []
        for beta1, beta2, _ in levels:
            values += [1 - beta1, beta2, 1 - beta2, 1 - beta1**n, math.sqrt(1 - beta2**n)]
        values += [eps, lr, 1 - lr * wd if decoupled else 1.0,
                   -1.0 if group["maximize"] else 1.0, 0.0 if decoupled else wd]
        real = _real(p)
        coef_dtype = torch.float64 if real.dtype == torch.float64 else torch.float32
        coef = torch.tensor(values, dtype=coef_dtype, device=p.device)
        moments = [t for i in range(1, k + 1) for t in _moments(state, i, amsgrad)
                   if t is not None]
        tensors = [real, _real(grad)] + moments
        kernel_members = members
        if all(t.is_contiguous() for t in tensors):
            if members:
                rows = math.prod(real.shape[:members])
                tensors = [t.view(rows, -1) for t in tensors]
                kernel_members = 1
            else:
                tensors = [t.view(-1) for t in tensors]
        width = 3 if amsgrad else 2
        update = _compiled_update((k, pooled, amsgrad, not decoupled, kernel_members,
                                   real.dtype, p.device.type))
        update(tensors[0], tensors[1], tensors[2::width], tensors[3::width],
               tensors[4::width] if amsgrad else [], coef, pooled, not decoupled,
               kernel_members)
