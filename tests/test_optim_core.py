"""KAdam's functional core and its checks: ``kadam`` is the class's step, ``kadam_level`` is
one level, loaded groups are checked like constructor arguments, FSDP1's flat shards are
refused for pooled levels, and the foreach and per-tensor paths agree in bfloat16."""

import pytest
import torch

from ctadam import optim
from ctadam.optim import KAdam, implicit_decay, kadam, kadam_level


def params(dtype=torch.float64, seed: int = 0) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(shape, generator=gen).to(dtype))
            for shape in ((7, 5), (5,), ())]


def set_grads(ps, step: int) -> None:
    gen = torch.Generator().manual_seed(100 + step)
    for p in ps:
        p.grad = torch.randn(p.shape, generator=gen).to(p.dtype)


OPTIONS = [dict(k=1), dict(k=1, weight_decay=0.1, decoupled_weight_decay=False),
           dict(k=2, pooled=[False, True], betas=[(0.9, 0.99), (0.0, 0.95)], weight_decay=0.1),
           dict(k=3, pooled=True, amsgrad=True, maximize=True)]


@pytest.mark.parametrize("opts", OPTIONS)
@pytest.mark.parametrize("foreach", [True, False])
def test_functional_kadam_is_the_class_step(opts, foreach):
    a, b = params(), params()
    opt = KAdam(a, lr=0.01, foreach=foreach, **opts)
    states = [{} for _ in b]
    betas = opts.get("betas", (0.9, 0.999))
    extra = dict(betas=betas[0], upper_betas=betas[1:]) if isinstance(betas, list) else {}
    functional = {**opts, **extra}
    for step in range(5):
        set_grads(a, step)
        set_grads(b, step)
        opt.step()
        with torch.no_grad():
            kadam(b, [p.grad for p in b], states, lr=0.01, foreach=foreach, **functional)
    for p, q, s in zip(a, b, states, strict=True):
        assert torch.equal(p, q)
        assert all(torch.equal(v, opt.state[p][key]) for key, v in s.items())


def test_functional_kadam_checks_its_arguments():
    p = params()
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.5"):
        kadam(p, [torch.zeros_like(q) for q in p], [{} for _ in p], betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="same length, got 3, 2 and 3"):
        kadam(p, [torch.zeros_like(q) for q in p[:2]], [{} for _ in p])
    with pytest.raises(ValueError, match=r"ensemble_dims=1 .* parameter number 2 .* has 0"):
        kadam(p, [torch.zeros_like(q) for q in p], [{} for _ in p], ensemble_dims=1)


def test_kadam_level_is_one_bias_corrected_level():
    x = torch.randn(6, dtype=torch.float64)
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    u = kadam_level(x, m, v, beta1=0.9, beta2=0.99, eps=0.0, step=1)
    torch.testing.assert_close(u, x / x.abs(), rtol=1e-15, atol=0)  # step 1: x / |x|
    pooled_v = torch.zeros((), dtype=torch.float64)
    u = kadam_level(x, torch.zeros_like(x), pooled_v, beta1=0.0, beta2=0.5, eps=0.0, step=1,
                    pooled=True)
    torch.testing.assert_close(u, x / x.square().mean().sqrt(), rtol=1e-15, atol=0)


def test_implicit_decay():
    assert implicit_decay(0.1, 0.5) == (1 - 0.05) ** 2
    assert implicit_decay(0.1, 0.0) == 1.0


def adam_state() -> tuple[list, dict]:
    p = params()[:1]
    opt = torch.optim.Adam(p)
    set_grads(p, 0)
    opt.step()
    return p, opt.state_dict()


def test_loaded_differentiable_group_is_refused():
    """Issue 19: a torch Adam state saved with differentiable=True used to load and run."""
    p, sd = adam_state()
    sd["param_groups"][0]["differentiable"] = True  # as Adam(..., differentiable=True) saves
    with pytest.raises(ValueError, match="param group 0 .* differentiable=True is not supported"):
        KAdam(p).load_state_dict(sd)


def test_loaded_capturable_group_is_refused():
    p, sd = adam_state()
    sd["param_groups"][0]["capturable"] = True
    with pytest.raises(ValueError, match="capturable=True is not supported"):
        KAdam(p).load_state_dict(sd)


def test_loaded_plain_torch_adam_still_loads():
    p, sd = adam_state()
    opt = KAdam(p)
    opt.load_state_dict(sd)
    assert "capturable" not in opt.param_groups[0]
    assert opt.param_groups[0]["differentiable"] is False


def test_loaded_string_k_is_blamed_on_k_not_pooled():
    """Issue 18: a loaded group with k='2' was reported as a bad ``pooled``."""
    p = params()[:1]
    opt = KAdam(p, k=2)
    set_grads(p, 0)
    opt.step()
    sd = opt.state_dict()
    sd["param_groups"][0]["k"] = "2"
    with pytest.raises(ValueError, match=r"Invalid k value: '2' \(k must be an integer >= 1"):
        KAdam(p, k=2).load_state_dict(sd)


def test_tensor_betas_are_refused_as_tensors():
    with pytest.raises(ValueError, match=r"index 1: got a tensor .* pass float\(beta\)"):
        KAdam(params(), betas=(0.9, torch.tensor(0.99)))


def test_tensor_lr_of_many_elements_names_its_shape():
    with pytest.raises(ValueError, match=r"1-element, got a tensor of shape \(2,\)"):
        KAdam(params(), lr=torch.tensor([0.1, 0.2]))


def fsdp1_shard() -> torch.nn.Parameter:
    """A parameter marked as FSDP1 marks its flat shards (and, with use_orig_params, the
    original parameters' views into them)."""
    p = torch.nn.Parameter(torch.randn(12, dtype=torch.float64))
    p._fsdp_flattened = True
    p.grad = torch.randn(12, dtype=torch.float64)
    return p


@pytest.mark.parametrize("pooled", [True, [False, True]])
def test_pooled_on_fsdp1_flat_shards_is_refused(pooled):
    opt = KAdam([fsdp1_shard()], k=2, pooled=pooled)
    with pytest.raises(ValueError, match=r"parameter number 0 of param group 0 .* FSDP1 .*"
                                         r"fully_shard.* pooled=False"):
        opt.step()


def test_unpooled_on_fsdp1_flat_shards_runs():
    p = fsdp1_shard()
    before = p.detach().clone()
    KAdam([p], k=2).step()
    assert not torch.equal(p, before)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("pooled", [False, True])
def test_bf16_foreach_and_per_tensor_paths_agree(k, pooled):
    """Issue 19: at k >= 2 the paths differed by 4.8e-2 in bfloat16 (torch's foreach
    multiplication rounds its scalar to bfloat16; the levels now divide)."""
    runs = []
    for foreach in (True, False):
        ps = params(torch.bfloat16)
        opt = KAdam(ps, lr=0.01, k=k, pooled=pooled, weight_decay=0.1, foreach=foreach)
        for step in range(6):
            set_grads(ps, step)
            opt.step()
        runs.append(torch.cat([p.detach().flatten() for p in ps]))
    assert torch.equal(runs[0], runs[1])


def test_dtensor_pooled_state_is_replicated(monkeypatch):
    """The pooled second moment of a DTensor parameter is a replicated DTensor (so DCP saves
    it once); tests/test_distributed.py runs it on real meshes."""
    assert optim._v_shape(torch.zeros(3, 4), True, 0) == ()
    assert optim._v_shape(torch.zeros(3, 4), True, 1) == (3, 1)
    assert optim._v_shape(torch.zeros(3, 4, dtype=torch.complex128), True, 1) == (3, 1, 1)


@pytest.mark.parametrize("decay", [0.5, 0.0])
def test_level_two_tracker_runs_kadams_level(decay):
    """``trackers.LevelTwoStats`` (now KAdam's level 2) equals the explicit level it states:
    v_n = rho v_{n-1} + (1 - rho) u_n^2, u2 = u / sqrt(v_n / (1 - rho^n)), and for rho = 1 the
    running mean of u^2."""
    from ctadam.models import MLP
    from ctadam.trackers import LevelTwoStats, RunContext

    torch.manual_seed(0)
    model = MLP(in_features=4, hidden=(6,), out_features=2, norm="layer").double()
    lr = 0.1
    tracker = LevelTwoStats()
    tracker.start(RunContext(model, None, None, lr, decay, {}))
    rho = implicit_decay(lr, decay)
    group = tracker.groups[tracker.first]
    v, expected = None, []
    for n in range(1, 6):
        tracker.before_step(n)
        prev = torch.cat([p.detach().flatten() for p in group])
        u = torch.randn_like(prev)
        with torch.no_grad():
            offset = 0
            for p in group:
                p.mul_(1 - lr * decay).sub_(lr * u[offset:offset + p.numel()].view_as(p))
                offset += p.numel()
        tracker.after_step(n, 0.0)
        u = tracker.last_u[tracker.first]
        if rho < 1:
            v = (1 - rho) * u * u if v is None else rho * v + (1 - rho) * u * u
            u2 = u / (v / (1 - rho**n)).sqrt()
        else:
            v = u * u if v is None else v + u * u
            u2 = u / (v / n).sqrt()
        cur = torch.cat([p.detach().flatten() for p in group])
        radial = prev / prev.norm()
        move = radial - cur / cur.norm()
        u2_t = u2 - (u2 @ radial) * radial
        expected.append(float(move @ u2_t / (move.norm() * u2_t.norm())))
    assert tracker.cos_level2 == pytest.approx(expected, rel=1e-12, abs=1e-12)
