"""KAdam: k = 1 is torch's Adam/AdamW, k > 1 follows a plain-Python reference, and the
optimizer behaves like a torch optimizer (state, state_dict, groups, dtypes, bad input)."""

import copy
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctadam import optim
from ctadam.optim import KAdam

DTYPE_TOL = {torch.float32: 1e-6, torch.float64: 1e-12}


def make_mlp(dtype: torch.dtype, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3)
    ).to(dtype)


def batch(dtype: torch.dtype, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(16, 6, generator=gen, dtype=dtype),
            torch.randn(16, 3, generator=gen, dtype=dtype))


def train(nets_and_opts, data, steps: int) -> None:
    """Train each (net, optimizer) pair on the same full batch, side by side."""
    x, y = data
    for _ in range(steps):
        for net, opt in nets_and_opts:
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
            opt.step()


def flat(net: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


hyper = st.fixed_dictionaries({
    "beta1": st.floats(0.0, 0.99),
    "beta2": st.floats(0.0, 0.9999),
    "eps": st.sampled_from([1e-12, 1e-8, 1e-3]),
    "lr": st.floats(1e-4, 3e-2),
    "weight_decay": st.sampled_from([0.0, 1e-3, 0.1, 1.0]),
    "foreach": st.booleans(),
})


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@settings(max_examples=50, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(h=hyper)
def test_k1_matches_torch_adam_and_adamw(dtype, h):
    """k = 1 equals torch.optim.Adam (lambda = 0) or AdamW (lambda > 0) over 200 steps."""
    betas = (h["beta1"], h["beta2"])
    torch_cls = torch.optim.AdamW if h["weight_decay"] > 0 else torch.optim.Adam
    ref_net, net = make_mlp(dtype), make_mlp(dtype)
    ref = torch_cls(ref_net.parameters(), lr=h["lr"], betas=betas, eps=h["eps"],
                    weight_decay=h["weight_decay"], foreach=h["foreach"])
    opt = KAdam(net.parameters(), lr=h["lr"], betas=betas, eps=h["eps"],
                weight_decay=h["weight_decay"], foreach=h["foreach"])
    train([(ref_net, ref), (net, opt)], batch(dtype), steps=200)
    assert rel_err(flat(net), flat(ref_net)) <= DTYPE_TOL[dtype]


def reference_kadam(theta, grad_fn, steps, lr, pairs, eps, weight_decay, pooled=None,
                    decoupled=True, amsgrad=False):
    """Plain-Python k-Adam on one tensor (a list of coordinates), straight from the recursion.

    A pooled level feeds every coordinate's second moment the mean of the squared inputs
    over the tensor; ``decoupled=False`` adds the L2 term to the gradient instead.
    """
    k, d = len(pairs), len(theta)
    pooled = pooled or [False] * k
    m = [[0.0] * d for _ in range(k)]
    v = [[0.0] * d for _ in range(k)]
    vmax = [[0.0] * d for _ in range(k)]
    theta = list(theta)
    for n in range(1, steps + 1):
        g = grad_fn(theta)
        u = [gj + (0.0 if decoupled else weight_decay * t) for gj, t in zip(g, theta, strict=True)]
        for i, (beta1, beta2) in enumerate(pairs):
            squares = [x * x for x in u]
            if pooled[i]:
                squares = [sum(squares) / d] * d
            for j in range(d):
                m[i][j] = beta1 * m[i][j] + (1 - beta1) * u[j]
                v[i][j] = beta2 * v[i][j] + (1 - beta2) * squares[j]
                vmax[i][j] = max(vmax[i][j], v[i][j])
            second = vmax[i] if amsgrad else v[i]
            u = [(m[i][j] / (1 - beta1**n)) / (math.sqrt(second[j] / (1 - beta2**n)) + eps)
                 for j in range(d)]
        decay = lr * weight_decay if decoupled else 0.0
        theta = [(1 - decay) * t - lr * uj for t, uj in zip(theta, u, strict=True)]
    return theta


A = [0.5, 2.0, 0.1, 1.3, 0.7]
C = [1.0, -2.0, 0.5, 0.0, 3.0]


def py_grad(theta):
    return [a * (t - c) + 0.3 * math.sin(3 * t) for a, t, c in zip(A, theta, C, strict=True)]


def torch_loss(theta):
    a, c = torch.tensor(A, dtype=theta.dtype), torch.tensor(C, dtype=theta.dtype)
    return (0.5 * a * (theta - c) ** 2 - 0.1 * torch.cos(3 * theta)).sum()


@pytest.mark.parametrize("k, pairs", [
    (2, [(0.9, 0.999), (0.5, 0.9)]),
    (2, (0.8, 0.99)),
    (3, [(0.9, 0.99), (0.0, 0.95), (0.7, 0.999)]),
])
@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_k_levels_match_plain_python_reference(k, pairs, foreach, weight_decay):
    theta0 = [0.3, -1.0, 2.0, 0.0, 1.5]
    lr, eps, steps = 0.05, 1e-8, 150
    theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    opt = KAdam([theta], lr=lr, k=k, betas=pairs, eps=eps, weight_decay=weight_decay,
                foreach=foreach)
    for _ in range(steps):
        opt.zero_grad()
        torch_loss(theta).backward()
        opt.step()
    full_pairs = pairs if isinstance(pairs, list) else [pairs] * k
    expected = reference_kadam(theta0, py_grad, steps, lr, full_pairs, eps, weight_decay)
    assert rel_err(theta.detach(), torch.tensor(expected, dtype=torch.float64)) <= 1e-10
    # The trajectory is not trivially the same for every k: k levels move theta differently.
    k1 = reference_kadam(theta0, py_grad, steps, lr, full_pairs[:1], eps, weight_decay)
    assert max(abs(a - b) for a, b in zip(expected, k1, strict=True)) > 1e-3


def run_split(paths, pooled, pairs, steps=120, lr=0.05, weight_decay=0.05):
    """KAdam on theta = (a, b) as two tensors (3 and 2 coordinates); returns theta."""
    theta0 = [0.3, -1.0, 2.0, 0.0, 1.5]
    a = torch.tensor(theta0[:3], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(theta0[3:], dtype=torch.float64, requires_grad=True)
    opt = KAdam([a, b], lr=lr, k=len(pairs), betas=pairs, weight_decay=weight_decay,
                pooled=pooled, **paths)
    for _ in range(steps):
        opt.zero_grad()
        torch_loss(torch.cat([a, b])).backward()
        opt.step()
    return torch.cat([a, b]).detach(), opt.state[a]


POOLED_CASES = [
    ([False, True], [(0.9, 0.999), (0.0, 0.99)]),  # the k-Adam study's level 2: no momentum
    (True, [(0.9, 0.999)]),
    ([True, False, True], [(0.9, 0.99), (0.5, 0.95), (0.0, 0.999)]),
]


@pytest.mark.parametrize("pooled, pairs", POOLED_CASES)
@pytest.mark.parametrize("path", ["single", "foreach", "fused-eager"])
def test_pooled_levels_match_plain_python_reference(monkeypatch, pooled, pairs, path):
    """A pooled level keeps one v per tensor: the EMA of the tensor's mean squared input."""
    paths = {"single": dict(foreach=False), "foreach": dict(foreach=True),
             "fused-eager": dict(compile=True)}[path]
    if path == "fused-eager":
        monkeypatch.setattr(optim, "_compiled_update", lambda *key: optim._fused_update)
    got, state = run_split(paths, pooled, pairs)
    k = len(pairs)
    flags = pooled if isinstance(pooled, list) else [pooled] * k
    # theta's loss is a sum over coordinates, so each tensor follows its own reference.
    expected = [x for part, grad in ((slice(0, 3), A[:3]), (slice(3, 5), A[3:]))
                for x in reference_kadam(
                    [0.3, -1.0, 2.0, 0.0, 1.5][part],
                    lambda t, part=part: py_grad_part(t, part), 120, 0.05, pairs, 1e-8, 0.05,
                    pooled=flags)]
    assert rel_err(got, torch.tensor(expected, dtype=torch.float64)) <= 1e-10
    moments = [v for key, v in state.items() if key != "step"]
    assert len(moments) == 2 * k
    for i, flag in enumerate(flags, start=1):
        assert state[f"exp_avg_sq_{i}"].dim() == (0 if flag else 1)
    # Pooling changes the trajectory: the unpooled reference is measurably elsewhere.
    unpooled = reference_kadam([0.3, -1.0, 2.0], lambda t: py_grad_part(t, slice(0, 3)),
                               120, 0.05, pairs, 1e-8, 0.05)
    assert max(abs(x - y) for x, y in zip(expected[:3], unpooled, strict=True)) > 1e-3


def py_grad_part(theta, part: slice):
    a, c = A[part], C[part]
    return [ai * (t - ci) + 0.3 * math.sin(3 * t) for ai, t, ci in zip(a, theta, c, strict=True)]


def test_pooled_paths_agree_bit_for_bit():
    single, _ = run_split(dict(foreach=False), [False, True], [(0.9, 0.999), (0.0, 0.99)])
    multi, _ = run_split(dict(foreach=True), [False, True], [(0.9, 0.999), (0.0, 0.99)])
    assert torch.equal(single, multi)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_state_holds_exactly_2k_tensors_and_a_tensor_step(k):
    """2k moment tensors, and the step as torch keeps it (a 0-d float tensor on the CPU)."""
    net = make_mlp(torch.float64)
    opt = KAdam(net.parameters(), k=k)
    train([(net, opt)], batch(torch.float64), steps=3)
    for p in net.parameters():
        state = opt.state[p]
        tensors = [v for key, v in state.items() if key != "step"]
        assert len(tensors) == 2 * k
        assert all(t.shape == p.shape and t.dtype == p.dtype for t in tensors)
        step = state["step"]
        assert torch.is_tensor(step) and step.dim() == 0 and step.device.type == "cpu"
        assert step.item() == 3


@pytest.mark.parametrize("foreach", [False, True])
def test_state_dict_roundtrip_continues_identically(foreach):
    data = batch(torch.float32)
    net = make_mlp(torch.float32)
    opt = KAdam(net.parameters(), lr=1e-2, k=2, betas=[(0.9, 0.99), (0.5, 0.9)],
                weight_decay=0.01, foreach=foreach)
    train([(net, opt)], data, steps=10)
    net2 = copy.deepcopy(net)
    opt2 = KAdam(net2.parameters(), lr=0.5, k=2, foreach=foreach)  # options come from the dict
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    train([(net, opt), (net2, opt2)], data, steps=10)
    assert torch.equal(flat(net), flat(net2))
    assert opt2.param_groups[0]["lr"] == 1e-2


def test_single_tensor_and_foreach_paths_agree_with_mixed_groups_and_dtypes():
    """Two groups (different k, lr, betas) and two dtypes; both paths give the same bits."""
    results = []
    for foreach in (False, True):
        torch.manual_seed(3)
        a = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
        b = torch.randn(5, dtype=torch.float32, requires_grad=True)
        c = torch.randn(4, dtype=torch.float64, requires_grad=True)
        opt = KAdam([{"params": [a, b]}, {"params": [c], "k": 3, "lr": 0.02,
                                           "betas": (0.8, 0.95)}],
                    lr=0.01, k=2, maximize=True, foreach=foreach)
        for step in range(20):
            opt.zero_grad()
            loss = -(torch.sin(a + step).sum() + (b**2).sum() + torch.cos(c).sum())
            loss.backward()
            opt.step()
        results.append([t.detach().clone() for t in (a, b, c)])
        assert len([v for key, v in opt.state[c].items() if key != "step"]) == 6
    for single, multi in zip(*results, strict=True):
        assert torch.equal(single, multi)


def test_groups_behave_like_separate_optimizers():
    torch.manual_seed(4)
    a0, b0 = torch.randn(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
    a2, b2 = a0.clone().requires_grad_(), b0.clone().requires_grad_()
    joint = KAdam([{"params": [a]}, {"params": [b], "k": 2, "weight_decay": 0.1}], lr=0.01)
    sep = [KAdam([a2], lr=0.01), KAdam([b2], lr=0.01, k=2, weight_decay=0.1)]
    for _ in range(15):
        for opts, (x, y) in (([joint], (a, b)), (sep, (a2, b2))):
            for o in opts:
                o.zero_grad()
            (torch.sin(x).sum() + (y**3).sum()).backward()
            for o in opts:
                o.step()
    assert torch.equal(a, a2) and torch.equal(b, b2)


def test_closure_is_called_and_its_loss_returned():
    theta = torch.tensor([1.0, -2.0], requires_grad=True)
    opt = KAdam([theta], lr=0.1, k=2)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (theta**2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert calls == [1] and loss.item() == pytest.approx(5.0)
    assert theta.abs().max().item() < 2.0


@pytest.mark.parametrize("foreach", [False, True])
def test_bfloat16_k1_equals_torch_adam(foreach):
    torch.manual_seed(5)
    theta0 = torch.randn(64).to(torch.bfloat16)
    out = []
    for cls in (torch.optim.AdamW, KAdam):
        theta = theta0.clone().requires_grad_()
        opt = cls([theta], lr=1e-2, weight_decay=0.1, foreach=foreach)
        for _ in range(30):
            opt.zero_grad()
            ((theta.float() - 0.5) ** 2).sum().backward()
            opt.step()
        out.append(theta.detach())
    assert torch.equal(out[0], out[1])


def test_bfloat16_parameters_step_close_to_float32():
    """bfloat16 keeps bfloat16 state; after 30 steps k = 2 is near the float32 run.

    Parameters start near 0.1 so that an update of lr = 1e-2 is well above bfloat16's
    spacing there (2^-10); bfloat16 then only adds rounding of relative size 2^-8 per step.
    """
    runs = {}
    for dtype in (torch.bfloat16, torch.float32):
        torch.manual_seed(5)
        theta = (0.1 * torch.randn(64)).to(dtype).requires_grad_()
        opt = KAdam([theta], lr=1e-2, k=2)
        for _ in range(30):
            opt.zero_grad()
            ((theta.float() - 0.5) ** 2).sum().backward()
            opt.step()
        assert all(t.dtype == dtype for key, t in opt.state[theta].items() if key != "step")
        runs[dtype] = theta.detach().float()
    assert rel_err(runs[torch.bfloat16], runs[torch.float32]) < 3e-2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("foreach", [False, True])
def test_cuda_matches_cpu(foreach):
    torch.manual_seed(6)
    theta0 = torch.randn(100, dtype=torch.float64)
    out = []
    for device in ("cpu", "cuda"):
        theta = theta0.to(device, copy=True).requires_grad_()
        opt = KAdam([theta], lr=1e-2, k=3, foreach=foreach)
        for _ in range(20):
            opt.zero_grad()
            torch.sin(theta).sum().backward()
            opt.step()
        out.append(theta.detach().cpu())
    assert rel_err(out[1], out[0]) <= 1e-12


def test_sparse_gradients_are_rejected():
    emb = torch.nn.Embedding(10, 3, sparse=True)
    opt = KAdam(emb.parameters())
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse gradients"):
        opt.step()


BAD_INPUT = [
    (dict(lr=-1e-3), r"lr must be in \[0, inf\)"),
    (dict(lr=float("nan")), r"lr must be finite"),
    (dict(k=0), r"k must be an integer >= 1"),
    (dict(k=2.0), r"k must be an integer >= 1"),
    (dict(k=True), r"k must be an integer >= 1"),
    (dict(betas=(1.0, 0.999)), r"beta1 at level 1 must be in \[0, 1\)"),
    (dict(betas=(-0.1, 0.999)), r"beta1 at level 1 must be in \[0, 1\)"),
    (dict(betas=(0.9, 1.0)), r"beta2 at level 1 must be in \[0, 1\)"),
    (dict(betas=(0.9, float("inf"))), r"beta2 at level 1 must be finite and in \[0, 1\)"),
    (dict(k=2, betas=[(0.9, 0.99), (0.9, 1.5)]), r"beta2 at level 2 must be in \[0, 1\)"),
    (dict(k=3, betas=[(0.9, 0.99), (0.9, 0.99)]), r"betas must hold k=3 .* got 2"),
    (dict(betas=(0.9,)), r"betas\[0\] must be a \(beta1, beta2\) pair"),
    (dict(k=2, betas=[(0.9, 0.99), (0.9,)]), r"betas\[1\] must be a \(beta1, beta2\) pair"),
    (dict(betas=()), r"betas must be a \(beta1, beta2\) pair"),
    (dict(betas=(0.9, "x")), r"beta2 at level 1 must be a real number in \[0, 1\)"),
    (dict(eps=-1e-8), r"eps must be in \[0, inf\)"),
    (dict(weight_decay=-0.1), r"weight_decay must be in \[0, inf\)"),
    (dict(weight_decay=float("inf")), r"weight_decay must be finite"),
    (dict(foreach="yes"), r"foreach must be None, True or False"),
    (dict(compile=1), r"compile must be True or False"),
    (dict(k=2, pooled=[True]), r"pooled must be True, False or a list of k=2 bools"),
    (dict(pooled="yes"), r"pooled must be True, False or a list of k=1 bools"),
]


@pytest.mark.parametrize("kwargs, message", BAD_INPUT)
def test_bad_input_names_argument_and_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KAdam([torch.zeros(2, requires_grad=True)], **kwargs)


def test_bad_param_group_is_rejected():
    opt = KAdam([torch.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match=r"lr must be in \[0, inf\)"):
        opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)], "lr": -1.0})
    with pytest.raises(ValueError, match=r"betas must hold k=2 .* got 3"):
        opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)], "k": 2,
                             "betas": [(0.9, 0.99)] * 3})
    assert len(opt.param_groups) == 1
    opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)], "k": 3})
    # Level 1's pair sits in "betas" (where torch's schedulers look), levels 2..k in
    # "upper_betas".
    group = opt.param_groups[1]
    assert [group["betas"]] + group["upper_betas"] == [(0.9, 0.999)] * 3


def compiled_vs_plain(dtype: torch.dtype, k: int, steps: int, **options) -> float:
    """Relative difference after ``steps`` of KAdam(compile=True) and the plain path."""
    x, y = batch(torch.float32)
    nets = [make_mlp(torch.float32).to(dtype) for _ in range(2)]
    options = {"weight_decay": 0.01, **options}
    opts = [KAdam(n.parameters(), lr=1e-2, k=k, compile=c, **options)
            for n, c in zip(nets, (False, True), strict=True)]
    train(list(zip(nets, opts, strict=True)), (x.to(dtype), y.to(dtype)), steps=steps)
    return rel_err(flat(nets[1]).double(), flat(nets[0]).double())


@pytest.mark.parametrize("k", [1, 2, 3])
def test_fused_update_math_matches_plain_path(monkeypatch, k):
    """The compiled path's update, run eagerly (no compiling), gives the plain path's numbers.

    Covers the coefficient packing, the flattening and the k-level expression of
    ``_fused_update``; the slow test below compiles it.
    """
    monkeypatch.setattr(optim, "_compiled_update", lambda *key: optim._fused_update)
    assert compiled_vs_plain(torch.float64, k, steps=30) <= 1e-12


@pytest.mark.slow
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5),
                                        (torch.bfloat16, 5e-2)])
def test_compiled_path_matches_plain_path(dtype, tol):
    """torch.compile of the update (seconds to compile) matches the plain path, k = 2."""
    assert compiled_vs_plain(dtype, 2, steps=20) <= tol


@pytest.mark.slow
def test_compiled_path_with_pooled_amsgrad_and_l2_matches_plain_path():
    """The compiled update with a pooled level (a reduction), AMSGrad and coupled L2."""
    assert compiled_vs_plain(torch.float64, 2, steps=20, pooled=[False, True], amsgrad=True,
                             decoupled_weight_decay=False, maximize=True,
                             betas=[(0.9, 0.999), (0.0, 0.99)]) <= 1e-12
