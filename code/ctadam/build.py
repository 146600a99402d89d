"""What a validated run config (:mod:`ctadam.runconfig`) builds: device, data, model, optimizer.

The torch half of the run config: :func:`resolve_device`, :func:`load_task` (the dataset on
the device, checked against the task), :func:`build_run_model` (the seeded network, sizes
defaulting from the data), :func:`make_optimizer` and :func:`make_sampler` (which examples
step n sees). :func:`ctadam.train.setup` calls them in that order, once per run.
"""

import torch

from ctadam.runconfig import block_size, check_choice
from ctadam.samplers import ArrayBatches, CharWindows

DTYPES = {"float32": torch.float32, "float64": torch.float64}
# Per task: the shape of one input sample (None: any size) and the dimensions of the label
# array: MNIST-1D (N, 40) and (N,), character windows (N, T) and (N, T), CIFAR-10 images
# (N, 3, H, W) and (N,).
SAMPLE_SHAPES = {"mnist1d": ((None,), 1), "shakespeare": ((None,), 2),
                 "cifar10": ((3, None, None), 1)}


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU."""
    check_choice("device", device, ("cpu", "cuda", "auto"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def check_arrays(cfg: dict, x: torch.Tensor, y: torch.Tensor) -> None:
    """Refuse training arrays that do not fit the task (:data:`SAMPLE_SHAPES`, integer
    labels), e.g. the cache of another task given as ``data``."""
    sample, y_dims = SAMPLE_SHAPES[cfg["task"]]
    fits = x.dim() == len(sample) + 1 and all(
        want is None or want == got for want, got in zip(sample, x.shape[1:], strict=True))
    if not fits or y.dim() != y_dims or y.is_floating_point():
        want = "(N, " + ", ".join("*" if d is None else str(d) for d in sample) + ")"
        raise ValueError(
            f"data {cfg['data']!r} does not hold a {cfg['task']} dataset: expected inputs of "
            f"shape {want} and {y_dims}-dimensional integer labels, got inputs of shape "
            f"{tuple(x.shape)} and labels of shape {tuple(y.shape)} ({y.dtype}); is it the "
            f"cache of another task?")


def load_task(cfg: dict, device: torch.device):
    """The task's dataset and its (x_train, y_train, x_test, y_test) on ``device``.

    Floating inputs take the run's dtype. For Shakespeare these are fixed windows of
    ``block_size`` characters (``n_train`` of them evenly spaced over the training text).
    """
    from ctadam import data

    loader = getattr(data, f"load_{cfg['task']}")
    if cfg["task"] == "shakespeare":
        ds = loader(cfg["data"], n_train=cfg["n_train"], block_size=block_size(cfg))
    else:
        ds = loader(cfg["data"], n_train=cfg["n_train"])
    dtype = DTYPES[cfg["dtype"]]

    def move(x):
        return x.to(device=device, dtype=dtype if x.is_floating_point() else None)

    tensors = [move(t) for t in (ds.x_train, ds.y_train, ds.x_test, ds.y_test)]
    check_arrays(cfg, tensors[0], tensors[1])
    return ds, tensors


def build_run_model(cfg: dict, x_train: torch.Tensor, y_train: torch.Tensor,
                    device: torch.device, vocab_size: int | None = None) -> torch.nn.Module:
    """The seeded model of ``cfg`` (input and output sizes default from the data).

    ``vocab_size``: the corpus's vocabulary for a character model (a few training windows
    need not contain every character); by default the largest id seen plus one.
    (:func:`ctadam.models.build_model` builds an architecture from explicit sizes.)
    """
    from ctadam.models import build_model

    kwargs = dict(cfg["model"])
    if cfg["arch"] == "char_transformer":
        if vocab_size is None:
            vocab_size = int(max(x_train.max(), y_train.max())) + 1
        kwargs.setdefault("vocab_size", vocab_size)
        kwargs.setdefault("block_size", x_train.shape[1])
    else:
        if cfg["arch"] in ("mlp", "cnn1d"):
            kwargs.setdefault("in_features", x_train.shape[1])
        kwargs.setdefault("out_features", int(y_train.max()) + 1)
    torch.manual_seed(cfg["seed"])
    return build_model(cfg["arch"], cfg["norm"], **kwargs).to(device, DTYPES[cfg["dtype"]])


def make_optimizer(params, opt: dict) -> torch.optim.Optimizer:
    """The optimizer of a validated ``optimizer`` block."""
    common = {"lr": opt["lr"], "eps": opt["eps"], "weight_decay": opt["weight_decay"]}
    if opt["name"] == "adam":
        return torch.optim.Adam(params, betas=tuple(opt["betas"][0]), **common)
    if opt["name"] == "adamw":
        return torch.optim.AdamW(params, betas=tuple(opt["betas"][0]), **common)
    if opt["name"] == "lion":
        from lion_pytorch import Lion

        return Lion(params, lr=opt["lr"], betas=tuple(opt["betas"][0]),
                    weight_decay=opt["weight_decay"])
    from ctadam.optim import KAdam

    betas = [tuple(p) for p in opt["betas"]]
    if opt["pooled"] is not False:
        common["pooled"] = opt["pooled"]
    return KAdam(params, k=opt["k"], betas=betas if len(betas) > 1 else betas[0], **common)


def make_sampler(cfg: dict, ds, x_train: torch.Tensor, y_train: torch.Tensor):
    """Minibatches of the run: random text windows for Shakespeare, else array batches."""
    if cfg["task"] == "shakespeare" and cfg["batch_size"] is not None:
        return CharWindows(ds.train.to(x_train.device), block_size(cfg), cfg["batch_size"],
                           cfg["seed"])
    return ArrayBatches(x_train, y_train, cfg["batch_size"], cfg["seed"])
