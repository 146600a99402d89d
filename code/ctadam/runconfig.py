r"""The run config of :func:`ctadam.train.run`: defaults and validation, without torch.

A config is a plain dict (a JSON object). :func:`validate_config` returns a copy with every
default filled in, or raises ``ValueError`` naming the key and its allowed range;
:func:`make_run_config` fills the dataset path of the task (:data:`ctadam.paths.DATASETS`) and
validates, so a workflow can check every run config when it parses, with no torch imported.
What a config builds (device, data, model, optimizer) is :mod:`ctadam.build`.

=======================  ====================================================================
``task``                 ``"mnist1d"`` | ``"shakespeare"`` | ``"cifar10"`` (required)
``data``                 path of the dataset file ``ctadam.data.load_<task>`` reads (required;
                         :func:`make_run_config` defaults it to ``paths.DATASETS[task]``)
``arch``                 a key of :data:`MODEL_KEYS` = ``ctadam.models.ARCHS`` (default ``"mlp"``)
``norm``                 ``"none"`` | ``"layer"`` (default ``"none"``)
``model``                keyword arguments of the arch's class except ``norm``
                         (:func:`model_keys`); sizes default from the data (default ``{}``).
                         For ``char_transformer``, ``block_size`` (default 64) is also the
                         length of the training and evaluation windows.
``optimizer``            ``{name, lr, betas, eps, weight_decay, k, pooled}``, see
                         :func:`validate_optimizer`
``steps``                optimizer steps, >= 1 (required)
``batch_size``           minibatch size, or ``null`` for full batch (default ``null``)
``dtype``                ``"float32"`` | ``"float64"`` (default ``"float32"``)
``seed``                 >= 0, seeds the initialisation and the minibatch order (default 0)
``n_train``              keep ``n_train`` training samples (Shakespeare: fixed windows), or
                         ``null`` for all
``eval_samples``         evaluate on ``eval_samples`` evenly spaced samples of each split, or
                         ``null`` for all (default ``null``)
``log_every``            record norms and loss every ``log_every`` steps (default 10)
``eval_every``           train/test loss and accuracy every ``eval_every`` steps; ``null``: at
                         the end only
``diverge_norm``         a parameter norm above this ends the run as diverged (default 1e8)
``diverge_loss_factor``  a finite loss above this multiple of its running minimum ends the
                         run as diverged (a loss spike); ``null``: only the engine's own
                         blow-up rule (:data:`BLOWUP_FACTOR`) (default ``null``)
``monitor``              ``{window >= 3 (20), max_loglog_slope > 0 (2)}``, see
                         :mod:`ctadam.monitor`
``grad_scale``           ``{start >= 0, 0 < factor < 1}``: for every step n > start, each
                         parameter's gradient is multiplied by ``factor ** (n - start)``
                         before the optimizer step (a controlled probe of the update's
                         growth, gradients decaying geometrically), or ``null`` for none
                         (default ``null``)
=======================  ====================================================================

Optimizer names follow PyTorch: ``betas = (beta1, beta2)`` are the decays of the first and
second moment (the paper's gamma and beta).
"""

import copy

from ctadam import paths
from ctadam.checks import check_int, check_real, check_unit_interval

TASKS = tuple(paths.DATASETS)
OPTIMIZERS = ("adam", "adamw", "kadam", "lion")
DTYPES = ("float32", "float64")
NORMS = ("none", "layer")
# The keyword arguments of each class of ``ctadam.models.ARCHS`` that ``model`` may set (its
# ``norm`` is the config's own key). A static table, so validation needs no torch; a test
# checks it against the classes' signatures.
MODEL_KEYS = {
    "mlp": ("in_features", "hidden", "out_features", "affine", "norm_eps"),
    "cnn1d": ("in_features", "channels", "out_features", "affine", "norm_eps"),
    "cifar_cnn": ("channels", "out_features", "affine", "norm_eps"),
    "char_transformer": ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "affine",
                         "norm_eps"),
}
# Every run ends as diverged when its loss exceeds this multiple of its running minimum while
# also above its first value: a blow-up (see ctadam.train.divergence). Measured on the quick
# profile's configs: no stability run inside the stable region rose above 1.07 x its first
# loss; outside it, the losses that rose above their first value did so by at most 30x or by
# 4e3x and more over their minimum; the k-Adam (MNIST-1D), meta-adaptive and normalization runs
# measured stayed below 2.3 x their running minimum.
BLOWUP_FACTOR = 1e3
DEFAULTS = {"arch": "mlp", "norm": "none", "model": {}, "batch_size": None, "dtype": "float32",
            "seed": 0, "n_train": None, "eval_samples": None, "log_every": 10,
            "eval_every": None, "diverge_norm": 1e8, "diverge_loss_factor": None,
            "monitor": {}, "grad_scale": None}
REQUIRED = ("task", "data", "optimizer", "steps")
OPT_DEFAULTS = {"eps": 1e-8, "weight_decay": 0.0, "pooled": False}
MONITOR_DEFAULTS = {"window": 20, "max_loglog_slope": 2.0}


def check_keys(where: str, given: dict, allowed) -> None:
    """Raise ``ValueError`` naming every key of ``given`` that is not in ``allowed``."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}; allowed keys: {sorted(allowed)}")


def check_choice(name: str, value, choices) -> None:
    """``value`` must be one of the string ``choices`` (a non-string is never one)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def model_keys(arch: str) -> tuple[str, ...]:
    """The keyword arguments of ``ctadam.models.ARCHS[arch]`` that ``model`` may set.

    ``norm`` is excluded: it is the config's own ``norm`` key.
    """
    check_choice("arch", arch, MODEL_KEYS)
    return MODEL_KEYS[arch]


def _optional_int(name: str, value, low: int = 1):
    return None if value is None else check_int(name, value, low)


def _betas(given) -> list[list[float]]:
    """``[beta1, beta2]`` or a list of such pairs, as a list of checked pairs."""
    betas = given
    if isinstance(betas, (list, tuple)) and len(betas) == 2 and all(
            not isinstance(b, (list, tuple)) for b in betas):
        betas = [betas]
    if not isinstance(betas, (list, tuple)) or not betas or any(
            not isinstance(p, (list, tuple)) or len(p) != 2 for p in betas):
        raise ValueError(f"optimizer.betas must be a pair [beta1, beta2] or a list of such "
                         f"pairs, got {given!r}")
    return [[check_unit_interval(f"optimizer.betas[{i}][0] (beta1)", b1),
             check_unit_interval(f"optimizer.betas[{i}][1] (beta2)", b2)]
            for i, (b1, b2) in enumerate(betas)]


def validate_optimizer(opt: dict) -> dict:
    r"""Check the ``optimizer`` block; returns it with defaults and ``betas`` as a list of pairs.

    Keys: ``name`` (``adam`` | ``adamw`` | ``kadam`` | ``lion``), ``lr`` > 0, ``betas`` (one
    ``[beta1, beta2]`` pair, or k pairs for k-Adam), ``eps`` >= 0 (1e-8), ``weight_decay``
    >= 0 (0; coupled L2 for ``adam``, decoupled :math:`\theta \leftarrow (1-\eta\lambda)\theta`
    for ``adamw``, ``kadam`` and ``lion``, which need ``lr * weight_decay < 1``; Lion is
    ``lion_pytorch.Lion``, Chen et al. 2023), ``k`` >= 1 (the number
    of pairs), ``pooled`` (k-Adam only: ``false``, ``true`` or k booleans, see
    :class:`ctadam.optim.KAdam`).
    """
    if not isinstance(opt, dict):
        raise ValueError(f"optimizer must be a mapping, got {opt!r}")
    check_keys("optimizer", opt, ("name", "lr", "betas", *OPT_DEFAULTS, "k"))
    for key in ("name", "lr", "betas"):
        if key not in opt:
            raise ValueError(f"optimizer.{key} is required")
    out = {**OPT_DEFAULTS, **opt}
    check_choice("optimizer.name", out["name"], OPTIMIZERS)
    out["lr"] = check_real("optimizer.lr", out["lr"], 0.0, low_open=True)
    out["eps"] = check_real("optimizer.eps", out["eps"], 0.0)
    out["weight_decay"] = check_real("optimizer.weight_decay", out["weight_decay"], 0.0)
    out["betas"] = _betas(out["betas"])
    k = check_int("optimizer.k", out.get("k", len(out["betas"])), 1)
    if out["name"] != "kadam" and k != 1:
        raise ValueError(f"optimizer.k must be 1 for {out['name']}, got {k} (use kadam)")
    if len(out["betas"]) not in (1, k):
        raise ValueError(f"optimizer.betas must hold 1 or k={k} pairs, got {len(out['betas'])}")
    out["k"] = k
    pooled = out["pooled"]
    if not (isinstance(pooled, bool) or (isinstance(pooled, list) and len(pooled) == k
                                         and all(isinstance(p, bool) for p in pooled))):
        raise ValueError(f"optimizer.pooled must be true, false or a list of k={k} booleans, "
                         f"got {pooled!r}")
    if out["name"] != "kadam" and pooled is not False:
        raise ValueError(f"optimizer.pooled must be false for {out['name']} (use kadam)")
    if out["name"] in ("adamw", "kadam", "lion") and not out["lr"] * out["weight_decay"] < 1:
        raise ValueError(f"optimizer.lr * optimizer.weight_decay must be in [0, 1) for "
                         f"{out['name']} (decoupled decay theta <- (1 - lr * weight_decay) "
                         f"theta), got optimizer.lr={out['lr']!r} * "
                         f"optimizer.weight_decay={out['weight_decay']!r} = "
                         f"{out['lr'] * out['weight_decay']!r}")
    return out


def validate_grad_scale(gs) -> dict | None:
    r"""Check ``grad_scale``: ``null`` or ``{start: int >= 0, factor: real in (0, 1)}``.

    With it, step :math:`n > n_0` (``start``) trains on :math:`c^{\,n-n_0} g_n` (``factor`` c):
    the gradients decay geometrically at rate :math:`q = c` per step, under which Adam's update
    grows at :math:`\ln\max(\gamma, q) - \ln\max(\sqrt\beta, q)` per step, i.e. at
    :math:`\rho` of \cref{eq:growth-rate} when :math:`q < \min(\gamma, \sqrt\beta)`
    (paper-notes P.5).
    """
    if gs is None:
        return None
    if not isinstance(gs, dict):
        raise ValueError(f"grad_scale must be null or a mapping {{start, factor}}, got {gs!r}")
    check_keys("grad_scale", gs, ("start", "factor"))
    for key in ("start", "factor"):
        if key not in gs:
            raise ValueError(f"grad_scale.{key} is required")
    return {"start": check_int("grad_scale.start", gs["start"], 0),
            "factor": check_real("grad_scale.factor", gs["factor"], 0.0, 1.0, low_open=True,
                                 high_open=True)}


def validate_config(config: dict) -> dict:
    """Return a deep copy of ``config`` with defaults filled in, or raise ``ValueError``."""
    if not isinstance(config, dict):
        raise ValueError(f"config must be a mapping, got {type(config).__name__}")
    check_keys("config", config, (*REQUIRED, *DEFAULTS))
    for key in REQUIRED:
        if key not in config:
            raise ValueError(f"config.{key} is required")
    cfg = {**copy.deepcopy(DEFAULTS), **copy.deepcopy(config)}
    check_choice("task", cfg["task"], TASKS)
    if not isinstance(cfg["data"], str) or not cfg["data"]:
        raise ValueError(f"data must be a non-empty path string, got {cfg['data']!r}")
    check_choice("arch", cfg["arch"], MODEL_KEYS)
    check_choice("norm", cfg["norm"], NORMS)
    if not isinstance(cfg["model"], dict):
        raise ValueError(f"model must be a mapping of model kwargs, got {cfg['model']!r}")
    check_keys(f"model (arch {cfg['arch']!r})", cfg["model"], model_keys(cfg["arch"]))
    if (cfg["task"] == "shakespeare") != (cfg["arch"] == "char_transformer"):
        raise ValueError(f"arch 'char_transformer' goes with task 'shakespeare' and only with "
                         f"it, got task {cfg['task']!r} with arch {cfg['arch']!r}")
    cfg["optimizer"] = validate_optimizer(cfg["optimizer"])
    cfg["steps"] = check_int("steps", cfg["steps"], 1)
    cfg["batch_size"] = _optional_int("batch_size", cfg["batch_size"])
    check_choice("dtype", cfg["dtype"], DTYPES)
    cfg["seed"] = check_int("seed", cfg["seed"], 0)
    cfg["n_train"] = _optional_int("n_train", cfg["n_train"])
    cfg["eval_samples"] = _optional_int("eval_samples", cfg["eval_samples"])
    cfg["log_every"] = check_int("log_every", cfg["log_every"], 1)
    cfg["eval_every"] = _optional_int("eval_every", cfg["eval_every"])
    cfg["diverge_norm"] = check_real("diverge_norm", cfg["diverge_norm"], 0.0, low_open=True)
    if cfg["diverge_loss_factor"] is not None:
        cfg["diverge_loss_factor"] = check_real("diverge_loss_factor",
                                                cfg["diverge_loss_factor"], 1.0, low_open=True)
    if not isinstance(cfg["monitor"], dict):
        raise ValueError(f"monitor must be a mapping, got {cfg['monitor']!r}")
    check_keys("monitor", cfg["monitor"], MONITOR_DEFAULTS)
    cfg["monitor"] = {**MONITOR_DEFAULTS, **cfg["monitor"]}
    cfg["monitor"]["window"] = check_int("monitor.window", cfg["monitor"]["window"], 3)
    cfg["monitor"]["max_loglog_slope"] = check_real(
        "monitor.max_loglog_slope", cfg["monitor"]["max_loglog_slope"], 0.0, low_open=True)
    cfg["grad_scale"] = validate_grad_scale(cfg["grad_scale"])
    return cfg


def block_size(cfg: dict) -> int:
    """Window length of a character-level run (the transformer's ``block_size``)."""
    return cfg["model"].get("block_size", 64)


def decoupled_decay(opt: dict) -> float:
    r""":math:`\lambda` of the decoupled weight decay (0 for Adam's coupled L2 term)."""
    return 0.0 if opt["name"] == "adam" else opt["weight_decay"]


def make_run_config(task: str, **keys) -> dict:
    """The validated config of a run on ``task``: ``data`` defaults to the task's dataset
    file (``paths.DATASETS[task]``, relative to the project root), every other key as
    :func:`validate_config`."""
    check_choice("task", task, TASKS)
    return validate_config({"task": task, "data": paths.DATASETS[task], **keys})
