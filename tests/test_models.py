"""Models: shapes, dtypes, determinism, and the scale-invariant groups checked numerically.

For every listed group w: L(c w) = L(w) (float64, norm_eps = 0) and <grad L, w> = 0; for
every parameter outside all groups, scaling it alone changes the loss.
"""

import pytest
import torch
from torch.nn import functional as F

from ctadam.models import ARCHS, build_model, scale_invariant_groups

VOCAB = 11

SMALL = {
    "mlp": {"hidden": (16, 12)},
    "cnn1d": {"channels": (4, 6, 5)},
    "cifar_cnn": {"channels": (4, 6)},
    "char_transformer": {"vocab_size": VOCAB, "block_size": 8, "n_layer": 2, "n_head": 2,
                         "n_embd": 8},
}


def _batch(arch: str, gen: torch.Generator):
    if arch in ("mlp", "cnn1d"):
        return torch.randn(6, 40, generator=gen, dtype=torch.float64), torch.arange(6) % 10
    if arch == "cifar_cnn":
        x = torch.randn(3, 3, 32, 32, generator=gen, dtype=torch.float64)
        return x, torch.tensor([1, 7, 3])
    x = torch.randint(0, VOCAB, (3, 8), generator=gen)
    return x, torch.randint(0, VOCAB, (3, 8), generator=gen)


def _loss(model, x, y) -> torch.Tensor:
    logits = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def _generic_model(arch: str, norm: str, **kwargs):
    """A float64 model at a generic point (no zero biases, which would hide a scaling)."""
    torch.manual_seed(0)
    model = build_model(arch, norm, **SMALL[arch], **kwargs).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def _scaled_loss(model, x, y, names, c: float) -> float:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n in names:
            params[n].mul_(c)
        loss = _loss(model, x, y).item()
        for n in names:
            params[n].div_(c)
    return loss


@pytest.mark.parametrize("arch", list(ARCHS))
def test_groups_are_scale_invariant(arch):
    gen = torch.Generator().manual_seed(1)
    model = _generic_model(arch, "layer", norm_eps=0.0)
    x, y = _batch(arch, gen)
    groups = scale_invariant_groups(model)
    assert groups, "norm='layer' must give at least one group"
    base = _loss(model, x, y)
    base.backward()
    params = dict(model.named_parameters())
    for names in groups.values():
        for c in (0.1, 3.0, 17.0):
            assert _scaled_loss(model, x, y, names, c) == pytest.approx(base.item(), abs=1e-10)
        inner = sum((params[n].grad * params[n]).sum() for n in names)
        gnorm = torch.sqrt(sum(params[n].grad.square().sum() for n in names))
        wnorm = torch.sqrt(sum(params[n].square().sum() for n in names))
        assert gnorm > 1e-6, "a scale-invariant group still has a gradient"
        assert abs(inner.item()) <= 1e-10 * gnorm.item() * wnorm.item()


def _model_and_groups(arch: str, norm: str, seed: int):
    """A model (exactly scale-invariant groups: norm_eps = 0), a batch, its loss, grouped names."""
    gen = torch.Generator().manual_seed(seed)
    model = _generic_model(arch, norm, norm_eps=0.0)
    x, y = _batch(arch, gen)
    grouped = {n for names in scale_invariant_groups(model).values() for n in names}
    return model, x, y, _loss(model, x, y).item(), grouped


@pytest.mark.parametrize("norm", ["none", "layer"])
@pytest.mark.parametrize("arch", list(ARCHS))
def test_other_parameters_are_not_scale_invariant(arch, norm):
    model, x, y, base, grouped = _model_and_groups(arch, norm, seed=2)
    others = [n for n, _ in model.named_parameters() if n not in grouped]
    assert others
    for n in others:
        assert abs(_scaled_loss(model, x, y, [n], 3.0) - base) > 1e-6, n


@pytest.mark.parametrize("norm", ["none", "layer"])
@pytest.mark.parametrize("arch", list(ARCHS))
def test_no_group_is_missing(arch, norm):
    """Every (weight, bias) pair of a layer outside the listed groups is not scale-invariant."""
    model, x, y, base, grouped = _model_and_groups(arch, norm, seed=6)
    pairs = [[f"{m}.weight", f"{m}.bias"] for m, mod in model.named_modules()
             if getattr(mod, "bias", None) is not None and f"{m}.weight" not in grouped]
    assert pairs
    for pair in pairs:
        assert abs(_scaled_loss(model, x, y, pair, 3.0) - base) > 1e-6, pair


def test_norm_none_has_no_groups():
    for arch in ARCHS:
        assert scale_invariant_groups(build_model(arch, "none", **SMALL[arch])) == {}


def test_default_eps_is_nearly_invariant():
    """With LayerNorm's default eps the invariance is approximate, of relative size eps/var."""
    gen = torch.Generator().manual_seed(3)
    model = _generic_model("mlp", "layer")
    x, y = _batch("mlp", gen)
    base = _loss(model, x, y).item()
    scaled = _scaled_loss(model, x, y, scale_invariant_groups(model)["hidden1"], 2.0)
    assert scaled != base
    assert scaled == pytest.approx(base, rel=1e-4)


def test_affine_keeps_groups_and_adds_gains():
    model = build_model("mlp", "layer", affine=True, hidden=(5,))
    names = dict(model.named_parameters())
    assert scale_invariant_groups(model) == {"hidden1": ["layers.0.weight", "layers.0.bias"]}
    assert "layers.1.weight" in names and "layers.1.bias" in names


@pytest.mark.parametrize("arch", list(ARCHS))
def test_float32_float64_and_determinism(arch):
    gen = torch.Generator().manual_seed(4)
    x, _ = _batch(arch, gen)
    outs = []
    for _ in range(2):
        torch.manual_seed(5)
        model = build_model(arch, "layer", **SMALL[arch])
        outs.append(model(x.float() if x.is_floating_point() else x))
    assert outs[0].dtype == torch.float32
    assert torch.equal(outs[0], outs[1])
    out64 = model.double()(x)
    assert out64.dtype == torch.float64
    assert torch.allclose(out64.float(), outs[1], atol=1e-4)


def test_default_shapes():
    torch.manual_seed(0)
    assert build_model("mlp").forward(torch.zeros(2, 40)).shape == (2, 10)
    assert build_model("cnn1d", "layer").forward(torch.zeros(2, 40)).shape == (2, 10)
    assert build_model("cifar_cnn").forward(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    model = build_model("char_transformer", vocab_size=65)
    assert model(torch.zeros(2, 64, dtype=torch.long)).shape == (2, 64, 65)


def test_transformer_is_causal():
    torch.manual_seed(0)
    model = build_model("char_transformer", "layer", **SMALL["char_transformer"])
    idx = torch.randint(0, VOCAB, (1, 8))
    changed = idx.clone()
    changed[0, 5] = (idx[0, 5] + 1) % VOCAB
    a, b = model(idx), model(changed)
    assert torch.equal(a[0, :5], b[0, :5])
    assert not torch.equal(a[0, 5:], b[0, 5:])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"arch": "resnet"}, "arch must be one of"),
    ({"arch": "mlp", "norm": "batch"}, "norm must be one of"),
    ({"arch": "mlp", "norm_eps": -1.0}, "norm_eps must be in"),
    ({"arch": "mlp", "hidden": (0,)}, "hidden width must be"),
    ({"arch": "char_transformer", "vocab_size": 5, "n_embd": 10, "n_head": 4}, "n_embd must be"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_model(**kwargs)


def test_too_long_sequence_and_foreign_model():
    model = build_model("char_transformer", vocab_size=5, block_size=4)
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="model must be one of"):
        scale_invariant_groups(torch.nn.Linear(2, 2))
