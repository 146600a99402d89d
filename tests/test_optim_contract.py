"""KAdam keeps torch.optim's contract: momentum-cycling schedulers, torch-style betas written
at run time, state dicts of earlier versions and of torch's Adam/AdamW, tensor learning rates,
torch's keywords (amsgrad, fused, decoupled_weight_decay, capturable, differentiable) and
complex parameters, on the foreach, per-tensor and compiled paths."""

import copy
import io

import pytest
import torch
from test_optim import reference_kadam

from ctadam import optim
from ctadam.optim import KAdam

PATHS = {"single": dict(foreach=False), "foreach": dict(foreach=True),
         "compiled": dict(compile=True)}


@pytest.fixture(params=list(PATHS))
def path(request, monkeypatch):
    """Each path's options; the compiled path's update runs eagerly here (compiling takes
    seconds; ``test_optim.test_compiled_path_matches_plain_path`` compiles it)."""
    if request.param == "compiled":
        monkeypatch.setattr(optim, "_compiled_update", lambda *key: optim._fused_update)
    return PATHS[request.param]


def same(a: torch.Tensor, b: torch.Tensor, path: dict) -> bool:
    """Bit for bit, except on the compiled path (its own expression: float64 rounding)."""
    if path.get("compile"):
        return torch.allclose(a, b, rtol=1e-12, atol=1e-14)
    return torch.equal(a, b)


def problem(dtype=torch.float64, seed=0, shape=(4, 3)):
    torch.manual_seed(seed)
    return torch.randn(*shape, dtype=dtype).requires_grad_()


def loss_of(p: torch.Tensor) -> torch.Tensor:
    w = torch.arange(1.0, p.numel() + 1, dtype=torch.float64).view(p.shape).to(p.real.dtype)
    a = p.abs() if p.is_complex() else p
    return (w * a**2 + torch.sin(3 * a)).sum()


def run(opt, params, steps, scheduler=None, on_step=None):
    for n in range(steps):
        if on_step is not None:
            on_step(opt, n)
        opt.zero_grad()
        sum(loss_of(p) for p in params).backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()


SCHEDULERS = {
    "OneCycleLR": lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=30),
    "CyclicLR": lambda o: torch.optim.lr_scheduler.CyclicLR(
        o, base_lr=0.001, max_lr=0.05, step_size_up=4, cycle_momentum=True),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_momentum_cycling_schedulers_drive_level_1(name, k, path):
    """The scheduler's momentum is level 1's beta1 (k = 1: torch's Adam bit for bit); the
    upper levels keep their own decays."""
    upper = [(0.5, 0.99), (0.0, 0.9)][:k - 1]
    ref_p, p = problem(), problem()
    ref = torch.optim.Adam([ref_p], foreach=False)
    opt = KAdam([p], k=k, betas=[(0.9, 0.999)] + upper, **path)
    ref_sched, sched = SCHEDULERS[name](ref), SCHEDULERS[name](opt)
    momenta = []
    for _ in range(25):
        run(ref, [ref_p], 1, ref_sched)
        run(opt, [p], 1, sched)
        momenta.append((ref.param_groups[0]["betas"][0], opt.param_groups[0]["betas"][0]))
        assert opt.param_groups[0]["upper_betas"] == upper
    assert all(a == b for a, b in momenta) and len({a for a, _ in momenta}) > 3
    if k == 1:
        assert same(p, ref_p, path)
    assert torch.isfinite(p).all()


@pytest.mark.parametrize("k", [2, 3])
def test_torch_style_pair_sets_level_1_and_k_pairs_set_every_level(k, path):
    upper = [(0.5, 0.99)] * (k - 1)
    p, q, r = problem(), problem(), problem()
    written = KAdam([p], k=k, betas=(0.9, 0.999), **path)
    built = KAdam([q], k=k, betas=[(0.8, 0.95)] + [(0.9, 0.999)] * (k - 1), **path)
    every = KAdam([r], k=k, **path)

    def write_pair(opt, n):
        if n == 0:
            opt.param_groups[0]["betas"] = (0.8, 0.95)

    def write_all(opt, n):
        if n == 0:
            opt.param_groups[0]["betas"] = [(0.8, 0.95)] + upper

    run(written, [p], 12, on_step=write_pair)
    run(built, [q], 12)
    run(every, [r], 12, on_step=write_all)
    assert torch.equal(p, q)
    assert every.param_groups[0]["betas"] == (0.8, 0.95)
    assert every.param_groups[0]["upper_betas"] == upper
    with pytest.raises(ValueError, match=r"Invalid beta parameter at index 0: 1.0"):
        every.param_groups[0]["betas"] = (1.0, 0.999)
        run(every, [r], 1)


def old_format(state_dict: dict) -> dict:
    """A state dict as the earlier KAdam wrote it: k pairs in betas, int steps, no new keys."""
    old = copy.deepcopy(state_dict)
    for group in old["param_groups"]:
        group["betas"] = [group["betas"]] + group.pop("upper_betas")
        for key in ("foreach", "maximize", "pooled", "amsgrad", "fused", "differentiable",
                    "decoupled_weight_decay"):
            group.pop(key)
    for s in old["state"].values():
        s["step"] = int(s["step"].item())
    return old


@pytest.mark.parametrize("k", [1, 2])
def test_state_dict_of_an_earlier_version_loads_and_continues(k, path):
    p = problem()
    opt = KAdam([p], k=k, weight_decay=0.1, **path)
    run(opt, [p], 5)
    saved = old_format(opt.state_dict())
    q = p.detach().clone().requires_grad_()
    again = KAdam([q], k=k, **path)
    again.load_state_dict(saved)
    assert torch.is_tensor(again.state[q]["step"])
    run(opt, [p], 5)
    run(again, [q], 5)
    assert torch.equal(p, q)


TORCH_RUNS = {
    "Adam": (torch.optim.Adam, dict(weight_decay=0.1, amsgrad=True)),
    "AdamW": (torch.optim.AdamW, dict(weight_decay=0.1)),
    "Adam-maximize": (torch.optim.Adam, dict(maximize=True, lr=0.01)),
}


@pytest.mark.parametrize("name", list(TORCH_RUNS))
def test_torch_adam_state_dict_continues_as_kadam_k1(name, path):
    """Continue a torch Adam/AdamW run as KAdam(k=1): the same numbers as Adam itself."""
    cls, kwargs = TORCH_RUNS[name]
    p = problem()
    ref = cls([p], foreach=False, **kwargs)
    run(ref, [p], 6)
    q = p.detach().clone().requires_grad_()
    opt = KAdam([q], amsgrad=kwargs.get("amsgrad", False), **path)
    opt.load_state_dict(copy.deepcopy(ref.state_dict()))
    assert opt.param_groups[0]["decoupled_weight_decay"] == (cls is torch.optim.AdamW)
    run(ref, [p], 6)
    run(opt, [q], 6)
    assert same(p, q, path)


def test_torch_adam_state_dict_into_k2_names_the_mismatch():
    p = problem()
    ref = torch.optim.Adam([p])
    run(ref, [p], 2)
    with pytest.raises(ValueError, match=r"torch.optim.Adam/AdamW state dict .* k=2"):
        KAdam([p], k=2).load_state_dict(ref.state_dict())


@pytest.mark.parametrize("saved, target, message", [
    (dict(k=2), dict(k=3), r"KAdam state dict with k=2.* k=3"),
    (dict(k=2, pooled=[False, True]), dict(k=2), r"pooled=\[False, True\].* pooled=\[False, "),
])
def test_loading_a_different_k_or_pooled_is_caught(saved, target, message):
    p = problem()
    opt = KAdam([p], **saved)
    run(opt, [p], 2)
    with pytest.raises(ValueError, match=message):
        KAdam([p], **target).load_state_dict(opt.state_dict())


@pytest.mark.parametrize("change, message", [
    (dict(k=3), r"now has k=3, amsgrad=False, but .* created with k=2, amsgrad=False"),
    (dict(amsgrad=True), r"now has k=2, amsgrad=True, but .* created with k=2, amsgrad=False"),
    (dict(pooled=[False, True]), r"now has pooled=True at level 2, but .* pooled=False"),
])
def test_changing_the_state_layout_mid_run_is_caught(change, message, path):
    p = problem()
    opt = KAdam([p], k=2, **path)
    run(opt, [p], 2)
    opt.param_groups[0].update(change)
    with pytest.raises(RuntimeError, match=message):
        run(opt, [p], 1)


def test_state_dict_survives_torch_save_with_weights_only():
    p = problem()
    opt = KAdam([p], k=2, pooled=[False, True], betas=[(0.9, 0.999), (0.0, 0.99)])
    run(opt, [p], 3)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    q = p.detach().clone().requires_grad_()
    again = KAdam([q], k=2, pooled=[False, True])
    again.load_state_dict(loaded)
    run(opt, [p], 3)
    run(again, [q], 3)
    assert torch.equal(p, q)


@pytest.mark.parametrize("k", [1, 2])
def test_tensor_lr_set_after_construction_works_on_every_path(k, path):
    p, q = problem(torch.float32), problem(torch.float32)
    a, b = KAdam([p], k=k, **path), KAdam([q], k=k, lr=0.01, **path)
    a.param_groups[0]["lr"] = torch.tensor(0.01)
    b.param_groups[0]["lr"] = torch.tensor(0.01).item()
    run(a, [p], 8)
    run(b, [q], 8)
    assert torch.equal(p, q)


@pytest.mark.parametrize("k", [1, 2])
def test_coupled_l2_decay_is_torch_adam_weight_decay(k, path):
    """decoupled_weight_decay=False: lambda theta is added to the gradient (torch Adam's
    weight_decay); k = 1 equals torch's Adam bit for bit, k = 2 the reference."""
    p = problem()
    theta0 = p.detach().flatten().tolist()
    opt = KAdam([p], k=k, lr=0.01, weight_decay=0.3, decoupled_weight_decay=False, **path)
    if k == 1:
        ref_p = problem()
        ref = torch.optim.Adam([ref_p], lr=0.01, weight_decay=0.3, foreach=path.get("foreach"))
        run(ref, [ref_p], 15)
    run(opt, [p], 15)
    if k == 1:
        assert same(p, ref_p, path)
    else:
        expected = reference_kadam(theta0, flat_grad, 15, 0.01, [(0.9, 0.999)] * 2, 1e-8, 0.3,
                                   decoupled=False)
        assert torch.allclose(p.detach().flatten(), torch.tensor(expected, dtype=p.dtype),
                              rtol=1e-10, atol=0)


def flat_grad(theta):
    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    loss_of(t.view(4, 3)).backward()
    return t.grad.tolist()


@pytest.mark.parametrize("k, pooled", [(1, False), (2, False), (2, [False, True])])
def test_amsgrad_per_level(k, pooled, path):
    """amsgrad keeps max_t v_{i,t} at every level; k = 1 is torch's Adam(amsgrad=True)."""
    p = problem()
    theta0 = p.detach().flatten().tolist()
    opt = KAdam([p], k=k, lr=0.02, amsgrad=True, pooled=pooled, **path)
    run(opt, [p], 15)
    flags = pooled if isinstance(pooled, list) else [pooled] * k
    expected = reference_kadam(theta0, flat_grad, 15, 0.02, [(0.9, 0.999)] * k, 1e-8, 0.0,
                               pooled=flags, amsgrad=True)
    assert torch.allclose(p.detach().flatten(), torch.tensor(expected, dtype=p.dtype),
                          rtol=1e-10, atol=0)
    assert len([key for key in opt.state[p] if key != "step"]) == 3 * k
    without = reference_kadam(theta0, flat_grad, 15, 0.02, [(0.9, 0.999)] * k, 1e-8, 0.0,
                              pooled=flags)
    assert max(abs(a - b) for a, b in zip(expected, without, strict=True)) > 1e-6


@pytest.mark.parametrize("k, pooled", [(1, False), (2, False), (2, [True, False])])
def test_complex_parameters_are_their_real_views(k, pooled, path):
    """A complex tensor steps as torch's optimizers step it: as its real view (k = 1: torch
    Adam bit for bit; pooled: the mean over the 2d real coordinates)."""
    torch.manual_seed(1)
    z = torch.randn(5, 2, dtype=torch.complex128).requires_grad_()
    r = torch.view_as_real(z.detach()).clone().requires_grad_()
    opts = [KAdam([z], k=k, lr=0.02, pooled=pooled, weight_decay=0.1, **path),
            KAdam([r], k=k, lr=0.02, pooled=pooled, weight_decay=0.1, **path)]
    for _ in range(10):
        for opt in opts:
            opt.zero_grad()
        (torch.view_as_real(z) ** 3).sum().backward()
        (r**3).sum().backward()
        for opt in opts:
            opt.step()
    assert torch.equal(torch.view_as_real(z.detach()), r.detach())


def test_complex_k1_equals_torch_adam(path):
    zs = [torch.randn(6, dtype=torch.complex128, generator=torch.Generator().manual_seed(2))
          .requires_grad_() for _ in range(2)]
    opts = [torch.optim.Adam([zs[0]], lr=0.02, weight_decay=0.1, foreach=False),
            KAdam([zs[1]], lr=0.02, weight_decay=0.1, decoupled_weight_decay=False, **path)]
    run_both = [(opts[0], zs[0]), (opts[1], zs[1])]
    for _ in range(10):
        for opt, z in run_both:
            opt.zero_grad()
            loss_of(z).backward()
            opt.step()
    assert same(zs[0], zs[1], path)


def test_fused_is_the_compiled_path(monkeypatch):
    calls = []
    monkeypatch.setattr(optim, "_compiled_update",
                        lambda key: calls.append(key) or optim._fused_update)
    p, q = problem(), problem()
    run(KAdam([p], k=2, fused=True), [p], 5)
    run(KAdam([q], k=2, foreach=False), [q], 5)
    assert calls and torch.allclose(p, q, rtol=1e-12, atol=0)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(fused=True, foreach=True), RuntimeError, "`fused` and `foreach` cannot be `True`"),
    (dict(capturable=True), ValueError, r"capturable=True is not supported by KAdam: it keeps"),
    (dict(differentiable=True), ValueError,
     r"differentiable=True is not supported by KAdam: its step updates"),
    (dict(amsgrad=1), ValueError, r"amsgrad must be True or False"),
    (dict(decoupled_weight_decay=None), ValueError,
     r"decoupled_weight_decay must be True or False"),
    (dict(fused="yes"), ValueError, r"fused must be None, True or False"),
    (dict(lr=torch.tensor([0.1, 0.2])), ValueError, r"Tensor lr must be 1-element"),
    (dict(lr=torch.tensor(-0.1)), ValueError, r"Invalid learning rate"),
])
def test_torch_keywords_refused_with_the_reason(kwargs, error, message):
    with pytest.raises(error, match=message):
        KAdam([problem()], **kwargs)


def test_torch_keywords_at_their_defaults_are_accepted():
    p = problem()
    opt = KAdam([p], amsgrad=False, capturable=False, differentiable=False, fused=None,
                decoupled_weight_decay=True, foreach=None, maximize=False)
    run(opt, [p], 2)
    assert opt.state[p]["step"].item() == 2
