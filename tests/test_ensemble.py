"""Seeds as a batch dimension: each member of a stacked KAdam run is the run trained alone.

Tolerance: float64, relative 1e-12 on the parameters after the run (measured: at most 5e-16).
The stacked forward pass is a batched matrix product (``baddbmm``) where the single run calls
``F.linear``;
the two may sum in a different order, so the gradients agree to float64 rounding (about
1e-16 relative), which Adam's normalization (a division by sqrt(v), small where the
gradient is small) can amplify over the steps; the measured differences are printed by
``-s`` and are far below the tolerance. A member trained with pooled levels but
``ensemble_dims=0`` (pooling across members) differs by far more, which the last training
test pins.
"""

import pytest
import torch

from ctadam.ensemble import StackedMLP, member_losses, seeded_mlps, stack, unstack
from ctadam.models import MLP
from ctadam.optim import KAdam

SEEDS = (0, 1, 2)
STEPS = 12
TOL = 1e-12
ARCH = dict(in_features=8, hidden=(12, 12), out_features=4)


@pytest.fixture(params=["none", "layer", "layer-affine"])
def arch(request) -> dict:
    norm, _, affine = request.param.partition("-")
    return dict(ARCH, norm=norm, affine=bool(affine))


def batches(n_members: int, steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A different batch for each member and step (member i's data stream)."""
    gen = torch.Generator().manual_seed(7)
    return [(torch.randn(n_members, 16, ARCH["in_features"], generator=gen, dtype=torch.float64),
             torch.randint(0, ARCH["out_features"], (n_members, 16), generator=gen))
            for _ in range(steps)]


def flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def train_alone(model: MLP, opt, data, member: int) -> None:
    for x, y in data:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[member]), y[member]).backward()
        opt.step()


def train_stacked(model: StackedMLP, opt, data) -> None:
    for x, y in data:
        opt.zero_grad()
        member_losses(model(x), y).sum().backward()
        opt.step()


def test_stack_starts_each_member_from_its_seeds_weights(arch):
    solo = [m.double() for m in seeded_mlps(SEEDS, **arch)]
    stacked = stack(seeded_mlps(SEEDS, **arch)).double()
    x, _ = batches(len(SEEDS), 1)[0]
    out = stacked(x)
    for i, (member, alone) in enumerate(zip(unstack(stacked, solo[0]), solo, strict=True)):
        assert torch.equal(flat(member), flat(alone))
        torch.testing.assert_close(out[i], alone(x[i]), rtol=1e-13, atol=1e-14)
    assert not torch.equal(flat(solo[0]), flat(solo[1]))  # the seeds differ


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("pooled", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_each_member_of_a_stacked_run_equals_its_run_alone(arch, k, pooled, weight_decay):
    opts = dict(lr=0.01, k=k, betas=[(0.9, 0.99)] + [(0.0, 0.95)] * (k - 1), pooled=pooled,
                weight_decay=weight_decay)
    data = batches(len(SEEDS), STEPS)
    stacked = stack(seeded_mlps(SEEDS, **arch)).double()
    train_stacked(stacked, KAdam(stacked.parameters(), ensemble_dims=1, **opts), data)
    solo = [m.double() for m in seeded_mlps(SEEDS, **arch)]
    for i, alone in enumerate(solo):
        train_alone(alone, KAdam(alone.parameters(), **opts), data, i)
    diffs = [rel_diff(flat(m), flat(a)) for m, a in zip(unstack(stacked, solo[0]), solo,
                                                         strict=True)]
    print(f"k={k} pooled={pooled} wd={weight_decay} {arch['norm']}: max rel diff {max(diffs):.1e}")
    assert max(diffs) <= TOL


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_stacked_k1_equals_torch_adam_alone(weight_decay):
    data = batches(len(SEEDS), STEPS)
    stacked = stack(seeded_mlps(SEEDS, **ARCH)).double()
    train_stacked(stacked, KAdam(stacked.parameters(), lr=0.01, weight_decay=weight_decay,
                                 ensemble_dims=1), data)
    torch_cls = torch.optim.AdamW if weight_decay else torch.optim.Adam
    solo = [m.double() for m in seeded_mlps(SEEDS, **ARCH)]
    for i, alone in enumerate(solo):
        train_alone(alone, torch_cls(alone.parameters(), lr=0.01, weight_decay=weight_decay),
                    data, i)
    for member, alone in zip(unstack(stacked, solo[0]), solo, strict=True):
        assert rel_diff(flat(member), flat(alone)) <= TOL


@pytest.mark.parametrize("ensemble_dims", [0, 2])
def test_pooling_across_members_is_refused_naming_ensemble_dims(ensemble_dims):
    stacked = stack(seeded_mlps(SEEDS, **ARCH)).double()
    opt = KAdam(stacked.named_parameters(), k=2, pooled=[False, True],
                ensemble_dims=ensemble_dims)
    x, y = batches(len(SEEDS), 1)[0]
    member_losses(stacked(x), y).sum().backward()
    with pytest.raises(ValueError, match=rf"ensemble_dims={ensemble_dims} does not match "
                                         r"parameter 'weights.0' .* pass ensemble_dims=1"):
        opt.step()


@pytest.mark.parametrize("path", [dict(foreach=False), dict(foreach=True)])
def test_pooling_across_members_is_not_the_run_alone(path):
    """What the refusal prevents: on untagged stacked parameters, a pooled level without
    ensemble_dims averages over all members, and member 0 then differs from its run alone."""
    opts = dict(lr=0.01, k=2, betas=[(0.9, 0.99), (0.0, 0.95)], pooled=[False, True], **path)
    data = batches(len(SEEDS), STEPS)
    across = stack(seeded_mlps(SEEDS, **ARCH)).double()
    for p in across.parameters():
        del p._ensemble_dims
    train_stacked(across, KAdam(across.parameters(), **opts), data)
    per_member = stack(seeded_mlps(SEEDS, **ARCH)).double()
    train_stacked(per_member, KAdam(per_member.parameters(), ensemble_dims=1, **opts), data)
    alone = seeded_mlps(SEEDS[:1], **ARCH)[0].double()
    train_alone(alone, KAdam(alone.parameters(), **opts), data, 0)
    template = seeded_mlps(SEEDS[:1], **ARCH)[0].double()
    assert rel_diff(flat(unstack(per_member, template)[0]), flat(alone)) <= TOL
    assert rel_diff(flat(unstack(across, template)[0]), flat(alone)) > 1e-4


def test_compiled_update_pools_per_member(monkeypatch):
    """The compiled path's kernel (run eagerly here) takes the per-member mean too."""
    from ctadam import optim

    monkeypatch.setattr(optim, "_compiled_update", lambda *key: optim._fused_update)
    opts = dict(lr=0.01, k=2, betas=[(0.9, 0.99), (0.0, 0.95)], pooled=[False, True])
    data = batches(len(SEEDS), STEPS)
    stacked = stack(seeded_mlps(SEEDS, **ARCH)).double()
    train_stacked(stacked, KAdam(stacked.parameters(), ensemble_dims=1, compile=True, **opts),
                  data)
    alone = seeded_mlps(SEEDS[:1], **ARCH)[0].double()
    train_alone(alone, KAdam(alone.parameters(), **opts), data, 0)
    assert rel_diff(flat(unstack(stacked, alone)[0]), flat(alone)) <= TOL


def test_ensemble_dims_beyond_a_parameter_is_refused_naming_it():
    stacked = stack(seeded_mlps(SEEDS, **ARCH)).double()
    for p in stacked.parameters():
        del p._ensemble_dims  # as a stack made elsewhere
    opt = KAdam(stacked.named_parameters(), ensemble_dims=3, pooled=True)
    member_losses(stacked(batches(len(SEEDS), 1)[0][0]), batches(len(SEEDS), 1)[0][1]).sum(
        ).backward()
    with pytest.raises(ValueError, match=r"ensemble_dims=3 .* 'biases.0' .* has 2"):
        opt.step()


@pytest.mark.parametrize("bad", [-1, 1.0, True, "1"])
def test_bad_ensemble_dims_is_refused(bad):
    with pytest.raises(ValueError, match="ensemble_dims"):
        KAdam([torch.zeros(3, 2, requires_grad=True)], ensemble_dims=bad)


def test_stack_refuses_members_of_different_architectures():
    with pytest.raises(ValueError, match="members must share one architecture: member 1"):
        stack([MLP(**ARCH), MLP(**{**ARCH, "hidden": (12, 10)})])
    with pytest.raises(ValueError, match="members must be a non-empty list"):
        stack([])


def test_stacked_input_of_the_wrong_member_count_is_refused():
    stacked = stack(seeded_mlps(SEEDS, **ARCH))
    with pytest.raises(ValueError, match=r"input must have shape \(N=3"):
        stacked(torch.zeros(2, 5, ARCH["in_features"]))
