"""KAdam held to the behaviours PyTorch's own optimizer tests demand of Adam, for k = 1, 2, 3.

The inputs are torch's: the ``OptimizerInfo`` of ``torch.optim.Adam`` in
``torch.testing._internal.common_optimizers`` (its keyword sets, its documented schedulers and
its error inputs), imported from the installed wheel (which needs the ``expecttest`` package).
The checks are our own restatement of what torch's ``TestOptimRenewed`` asks of an optimizer.
An Adam input's ``weight_decay`` is Adam's coupled L2 term, so it is passed to KAdam with
``decoupled_weight_decay=False``.
"""

import copy
from collections import defaultdict

import pytest
import torch

from ctadam.optim import KAdam

pytest.importorskip("expecttest", reason="torch's optimizer test inputs need expecttest")
common = pytest.importorskip("torch.testing._internal.common_optimizers")

ADAM = next(info for info in common.optim_db if info.optim_cls is torch.optim.Adam)
INPUTS = {i.desc: i.kwargs for i in ADAM.optim_inputs_func(device="cpu", dtype=torch.float64)}
KS = [1, 2, 3]


def kadam_kwargs(kwargs: dict, k: int) -> dict:
    return {"decoupled_weight_decay": False, **kwargs, "k": k}


def model(seed: int = 0) -> list[torch.Tensor]:
    """A weight matrix and a bias, as torch's tests use (float64)."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(5, 4, generator=gen, dtype=torch.float64).requires_grad_(),
            torch.randn(5, generator=gen, dtype=torch.float64).requires_grad_()]


def loss_fn(params) -> torch.Tensor:
    weight, bias = params
    x = torch.linspace(-1.0, 1.0, 4, dtype=torch.float64)
    return ((weight @ x + bias) ** 2).sum() + 0.1 * (weight**2).sum()


def train(opt, params, steps: int, schedulers=()) -> list[float]:
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        for sched in schedulers:
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(loss.item())
            else:
                sched.step()
    return losses


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("desc", list(INPUTS))
def test_k1_is_torch_adam_for_every_torch_input(desc, foreach):
    ref_params, params = model(), model()
    ref = torch.optim.Adam(ref_params, foreach=foreach, **INPUTS[desc])
    opt = KAdam(params, foreach=foreach, **kadam_kwargs(INPUTS[desc], 1))
    train(ref, ref_params, 12)
    train(opt, params, 12)
    for a, b in zip(ref_params, params, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("desc", list(INPUTS))
def test_goes_right_direction(desc, k):
    """torch's ``test_forloop_goes_right_direction``: a few steps lower the loss (raise it
    with maximize). Only the direction is asked, not an Adam-tuned amount of progress: with
    k > 1 each level rescales the update, so a threshold tuned on Adam's curve would test the
    tuning, not the optimizer."""
    params = model()
    opt = KAdam(params, **kadam_kwargs({**INPUTS[desc], "lr": 1e-2}, k))
    start = loss_fn(params).item()
    train(opt, params, 10)
    end = loss_fn(params).item()
    assert (end > start) if INPUTS[desc].get("maximize") else (end < start)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("desc", list(INPUTS))
def test_state_dict_and_deepcopy_continue_identically(desc, k):
    """torch's ``test_state_dict_deterministic`` and ``test_deepcopy_copies_all_public_attrs``:
    an optimizer rebuilt from its state dict, or deep-copied, continues with the same bits."""
    params = model()
    opt = KAdam(params, **kadam_kwargs(INPUTS[desc], k))
    train(opt, params, 4)
    copies = [copy.deepcopy(params) for _ in range(2)]
    rebuilt = KAdam(copies[0], **kadam_kwargs({}, k))
    rebuilt.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert rebuilt.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    cloned = copy.deepcopy(opt)
    cloned.param_groups[0]["params"] = copies[1]
    cloned.state = defaultdict(
        dict, {new: cloned.state[old] for old, new in zip(cloned.state, copies[1], strict=True)})
    for o, p in ((opt, params), (rebuilt, copies[0]), (cloned, copies[1])):
        train(o, p, 4)
    for a, b, c in zip(params, *copies, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)


@pytest.mark.parametrize("k", KS)
def test_step_without_gradients_changes_nothing(k):
    """torch's ``test_step_is_noop_when_params_have_no_grad`` and
    ``test_step_is_noop_for_zero_grads``-style checks: no grad, no state, no move."""
    params = model()
    before = [p.detach().clone() for p in params]
    opt = KAdam(params, k=k)
    opt.step()
    assert not opt.state and all(torch.equal(a, b) for a, b in zip(params, before, strict=True))
    params[1].grad = torch.zeros_like(params[1])
    opt.step()
    assert params[0] not in opt.state and opt.state[params[1]]["step"].item() == 1
    assert torch.equal(params[1], before[1])  # a zero gradient moves nothing (lambda = 0)
    assert "KAdam" in repr(opt)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("index", range(len(ADAM.scheduler_inputs)))
def test_torch_documented_schedulers(index, k):
    """Each scheduler chain torch tests Adam with drives KAdam's lr as it drives Adam's;
    at k = 1 the runs agree bit for bit."""
    ref_params, params = model(), model()
    ref = torch.optim.Adam(ref_params, lr=0.01, foreach=False)
    opt = KAdam(params, k=k, lr=0.01)
    make = ADAM.scheduler_inputs[index]
    ref_scheds, scheds = [m(ref) for m in make], [m(opt) for m in make]
    lrs = []
    for _ in range(12):
        train(ref, ref_params, 1, ref_scheds)
        train(opt, params, 1, scheds)
        lrs.append((ref.param_groups[0]["lr"], opt.param_groups[0]["lr"]))
    assert all(a == b for a, b in lrs)
    if k == 1:
        assert all(torch.equal(a, b) for a, b in zip(ref_params, params, strict=True))
    assert all(torch.isfinite(p).all() for p in params)


ERRORS = ADAM.optim_error_inputs_func(device="cpu", dtype=torch.float32)
# Torch error inputs that do not apply to KAdam, and why.
NOT_APPLICABLE = {
    "betas must be either both floats or both Tensors":
        "KAdam's betas are Python floats (one pair per level); a tensor is refused as "
        "'must be a real number'",
    r"betas\[0\] as a Tensor is not supported for capturable=False and foreach=True":
        "same: tensor betas are not accepted at all",
    "lr as Tensor doesn't work with foreach & not capturable":
        "KAdam supports a tensor lr on the foreach path (issue 12), so no error is due",
}


@pytest.mark.parametrize("case", ERRORS, ids=[e.optimizer_error_input.desc for e in ERRORS])
def test_torch_error_inputs(case):
    """Bad input fails as torch's Adam fails (same exception type and message pattern)."""
    given = case.optimizer_error_input
    if given.desc in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[given.desc])
    params = given.params if given.params is not None else [
        torch.nn.Parameter(torch.randn(1, 1))]
    if case.error_type is UserWarning:
        with pytest.warns(UserWarning, match=case.error_regex):
            KAdam(params, **given.kwargs)
        return
    with pytest.raises(case.error_type, match=case.error_regex):
        opt = KAdam(params, **given.kwargs)
        opt.step()
