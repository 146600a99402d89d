"""Small networks for the experiments, each with or without a normalization layer.

Every model takes ``norm="none"`` or ``norm="layer"``. With ``norm="layer"`` a normalization
that subtracts the mean and divides by the standard deviation over a sample's features follows
each hidden linear or convolutional map:

    LN(z) = (z - mean(z)) / sqrt(var(z) + norm_eps)

(``nn.LayerNorm`` for vectors and token embeddings, ``nn.GroupNorm(1, C)`` for feature maps,
which is the same operation over all channels and positions of one sample). Because a linear
or convolutional map with weight W and bias b gives z = W x + b, scaling (W, b) by c > 0
scales z by c and leaves LN(z) unchanged when ``norm_eps = 0``; with the default ``norm_eps``
the invariance holds up to a relative error of order ``norm_eps / var(z)``. Such a pair is a
*scale-invariant group* (Claim 3 of the paper): L(c w) = L(w), hence <grad L(w), w> = 0.
:func:`scale_invariant_groups` lists the groups of a model by parameter name.

The normalization has no affine parameters by default (``affine=False``), so the preceding
map's (W, b) is exactly the group; ``affine=True`` adds a learnable gain and bias after it,
which does not change the groups. All models are deterministic on CPU, work in float32 and
float64 (``model.double()``), and are initialised from the global torch RNG (seed it first).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from ctadam.checks import check_int, check_real

NORMS = ("none", "layer")


def _check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return norm


def _check_eps(norm_eps) -> float:
    return check_real("norm_eps", norm_eps, 0.0)


def _vector_norm(norm: str, width: int, affine: bool, norm_eps: float) -> nn.Module:
    """LayerNorm over the last dimension, or the identity for ``norm="none"``."""
    if norm == "none":
        return nn.Identity()
    return nn.LayerNorm(width, eps=norm_eps, elementwise_affine=affine, bias=affine)


def _map_norm(norm: str, channels: int, affine: bool, norm_eps: float) -> nn.Module:
    """Layer normalization of a whole (C, ...) feature map per sample, or the identity."""
    if norm == "none":
        return nn.Identity()
    return nn.GroupNorm(1, channels, eps=norm_eps, affine=affine)


def _pair(prefix: str) -> list[str]:
    return [f"{prefix}.weight", f"{prefix}.bias"]


class MLP(nn.Module):
    """Fully connected ReLU network: per hidden layer Linear -> [LayerNorm] -> ReLU.

    Args:
        in_features: input width (40 for MNIST-1D).
        hidden: widths of the hidden layers.
        out_features: number of outputs (classes).
        norm: "none" or "layer" (LayerNorm after each hidden Linear).
        affine: give the LayerNorms a learnable gain and bias.
        norm_eps: the LayerNorm's eps (0 makes the scale invariance exact).
    """

    def __init__(self, in_features: int = 40, hidden=(64, 64), out_features: int = 10,
                 norm: str = "none", affine: bool = False, norm_eps: float = 1e-5):
        super().__init__()
        self.norm = _check_norm(norm)
        norm_eps = _check_eps(norm_eps)
        widths = [check_int("in_features", in_features)]
        widths += [check_int("hidden width", h) for h in hidden]
        layers: list[nn.Module] = []
        self._group_prefixes: list[str] = []
        for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
            self._group_prefixes.append(f"layers.{len(layers)}")
            layers += [nn.Linear(width_in, width_out),
                       _vector_norm(norm, width_out, affine, norm_eps), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], check_int("out_features", out_features)))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def scale_invariant_groups(self) -> dict[str, list[str]]:
        if self.norm == "none":
            return {}
        return {f"hidden{i + 1}": _pair(p) for i, p in enumerate(self._group_prefixes)}


class CNN1D(nn.Module):
    """1-D convolutional network for MNIST-1D (input (N, L), one channel).

    Conv1d(k=5) then Conv1d(k=3, stride 2) per remaining channel entry, each followed by
    [layer norm over (C, L)] and ReLU; the flattened feature map feeds a Linear classifier.

    Args:
        in_features: sequence length L (40 for MNIST-1D).
        channels: output channels of the convolutions (the first keeps the length, the
            others halve it).
        out_features: number of classes.
        norm, affine, norm_eps: as in :class:`MLP`.
    """

    def __init__(self, in_features: int = 40, channels=(32, 32, 32), out_features: int = 10,
                 norm: str = "none", affine: bool = False, norm_eps: float = 1e-5):
        super().__init__()
        self.norm = _check_norm(norm)
        norm_eps = _check_eps(norm_eps)
        length = check_int("in_features", in_features)
        channels = [check_int("channels", c) for c in channels]
        if not channels:
            raise ValueError("channels must list at least one convolution, got ()")
        layers: list[nn.Module] = []
        self._group_prefixes: list[str] = []
        c_in = 1
        for i, c_out in enumerate(channels):
            stride = 1 if i == 0 else 2
            kernel = 5 if i == 0 else 3
            self._group_prefixes.append(f"features.{len(layers)}")
            layers += [nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=kernel // 2),
                       _map_norm(norm, c_out, affine, norm_eps), nn.ReLU()]
            length = (length - 1) // stride + 1
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * length, check_int("out_features", out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.unsqueeze(1)).flatten(1))

    def scale_invariant_groups(self) -> dict[str, list[str]]:
        if self.norm == "none":
            return {}
        return {f"conv{i + 1}": _pair(p) for i, p in enumerate(self._group_prefixes)}


class CifarCNN(nn.Module):
    """Small VGG-style network for CIFAR-10 (input (N, 3, 32, 32)).

    Per stage: Conv2d(3x3) -> [layer norm over (C, H, W)] -> ReLU -> MaxPool(2); then global
    average pooling and a Linear classifier.

    Args:
        channels: output channels of the stages (each halves the resolution).
        out_features: number of classes.
        norm, affine, norm_eps: as in :class:`MLP`.
    """

    def __init__(self, channels=(32, 64, 128), out_features: int = 10, norm: str = "none",
                 affine: bool = False, norm_eps: float = 1e-5):
        super().__init__()
        self.norm = _check_norm(norm)
        norm_eps = _check_eps(norm_eps)
        channels = [check_int("channels", c) for c in channels]
        if not channels:
            raise ValueError("channels must list at least one convolution, got ()")
        layers: list[nn.Module] = []
        self._group_prefixes: list[str] = []
        c_in = 3
        for c_out in channels:
            self._group_prefixes.append(f"features.{len(layers)}")
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1),
                       _map_norm(norm, c_out, affine, norm_eps), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, check_int("out_features", out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))

    def scale_invariant_groups(self) -> dict[str, list[str]]:
        if self.norm == "none":
            return {}
        return {f"conv{i + 1}": _pair(p) for i, p in enumerate(self._group_prefixes)}


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: softmax(q k^T / sqrt(d_head) + mask) v."""

    def __init__(self, n_embd: int, n_head: int, block_size: int):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd must be a multiple of n_head={n_head}, got {n_embd}")
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        mask = torch.ones(block_size, block_size, dtype=torch.bool).tril()
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, e = x.shape
        q, k, v = self.qkv(x).split(e, dim=2)
        q, k, v = (z.view(n, t, self.n_head, e // self.n_head).transpose(1, 2) for z in (q, k, v))
        logits = (q @ k.transpose(-2, -1)) / math.sqrt(e // self.n_head)
        logits = logits.masked_fill(~self.mask[:t, :t], float("-inf"))
        y = logits.softmax(dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(n, t, e))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + mlp(LN(x)) (GELU, width 4e)."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, norm: str, affine: bool,
                 norm_eps: float):
        super().__init__()
        self.ln1 = _vector_norm(norm, n_embd, affine, norm_eps)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size)
        self.ln2 = _vector_norm(norm, n_embd, affine, norm_eps)
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.proj(F.gelu(self.fc(self.ln2(x))))


class CharTransformer(nn.Module):
    """Character-level decoder-only transformer (nanoGPT-like, pre-norm, no dropout).

    Token and position embeddings feed ``n_layer`` pre-norm blocks, a final norm and an
    untied output layer giving next-character logits of shape (N, T, vocab_size). With
    ``norm="none"`` every LayerNorm is the identity.

    With ``norm="layer"`` the whole residual stream is one scale-invariant group: scaling the
    embeddings and every map that writes into the stream (each block's ``attn.proj`` and
    ``proj``) by c scales the stream by c at every depth, and every reader of the stream sits
    behind a LayerNorm. The output layer is untied from the token embedding for this reason.

    Args:
        vocab_size: number of distinct characters.
        block_size: maximum context length T.
        n_layer, n_head, n_embd: depth, heads, embedding width (a multiple of n_head).
        norm, affine, norm_eps: as in :class:`MLP`.
    """

    def __init__(self, vocab_size: int, block_size: int = 64, n_layer: int = 2, n_head: int = 4,
                 n_embd: int = 64, norm: str = "none", affine: bool = False,
                 norm_eps: float = 1e-5):
        super().__init__()
        self.norm = _check_norm(norm)
        norm_eps = _check_eps(norm_eps)
        vocab_size = check_int("vocab_size", vocab_size)
        self.block_size = check_int("block_size", block_size)
        n_layer, n_head = check_int("n_layer", n_layer), check_int("n_head", n_head)
        n_embd = check_int("n_embd", n_embd)
        self.tok = nn.Embedding(vocab_size, n_embd)
        self.pos = nn.Embedding(self.block_size, n_embd)
        self.blocks = nn.ModuleList(
            Block(n_embd, n_head, self.block_size, norm, affine, norm_eps) for _ in range(n_layer)
        )
        self.ln_f = _vector_norm(norm, n_embd, affine, norm_eps)
        self.head = nn.Linear(n_embd, vocab_size)
        self.apply(_init_gpt)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        if t > self.block_size:
            raise ValueError(f"sequence length must be <= block_size={self.block_size}, got {t}")
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    def scale_invariant_groups(self) -> dict[str, list[str]]:
        if self.norm == "none":
            return {}
        names = ["tok.weight", "pos.weight"]
        for i in range(len(self.blocks)):
            names += _pair(f"blocks.{i}.attn.proj") + _pair(f"blocks.{i}.proj")
        return {"residual": names}


def _init_gpt(module: nn.Module) -> None:
    """GPT-2 style initialisation: N(0, 0.02) weights, zero biases."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear):
        nn.init.zeros_(module.bias)


ARCHS = {"mlp": MLP, "cnn1d": CNN1D, "cifar_cnn": CifarCNN, "char_transformer": CharTransformer}


def build_model(arch: str, norm: str = "none", **kwargs) -> nn.Module:
    """Construct the network ``arch`` (a key of :data:`ARCHS`) with ``norm`` and its kwargs."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {tuple(ARCHS)}, got {arch!r}")
    return ARCHS[arch](norm=norm, **kwargs)


def scale_invariant_groups(model: nn.Module) -> dict[str, list[str]]:
    """Map each scale-invariant group of ``model`` to its parameter names.

    The names are those of ``model.named_parameters()``; scaling all parameters of one group
    by the same c > 0 leaves the model's output unchanged (exactly when ``norm_eps = 0``).
    The dictionary is empty for ``norm="none"``.
    """
    if not hasattr(model, "scale_invariant_groups"):
        raise ValueError(f"model must be one of {tuple(ARCHS)} from ctadam.models, "
                         f"got {type(model).__name__}")
    groups = model.scale_invariant_groups()
    known = dict(model.named_parameters())
    for group, names in groups.items():
        missing = [n for n in names if n not in known]
        if missing:
            raise RuntimeError(f"group {group} names unknown parameters {missing}")
    return groups
