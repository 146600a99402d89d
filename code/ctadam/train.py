r"""One training run: a validated config in, an atomic JSON record out.

Usage::

    python -m ctadam.train --config cfg.json --out rec.json [--checkpoint-dir DIR]
        [--checkpoint-every N] [--threads 1] [--device cpu|cuda|auto] [--progress]

or from Python ``record = run(config, out, checkpoint_dir=None)``.

Config (a dict / JSON object; :func:`validate_config` fills defaults and raises ``ValueError``
naming the key and its allowed range):

=================  ===========================================================================
``task``           ``"mnist1d"`` | ``"shakespeare"`` | ``"cifar10"`` (required)
``data``           path of the dataset file that ``ctadam.data.load_<task>`` reads (required)
``arch``           a key of ``ctadam.models.ARCHS`` (default ``"mlp"``)
``norm``           ``"none"`` | ``"layer"`` (default ``"none"``)
``model``          extra model kwargs, e.g. ``{"hidden": [64, 64]}``: keyword arguments of
                   the arch's class except ``norm`` (:func:`model_keys`); input/output sizes
                   default from the data (default ``{}``)
``optimizer``      ``{name: adam|adamw|kadam, lr > 0, betas: [beta, gamma] or a list of k such
                   pairs, eps >= 0 (1e-8), weight_decay >= 0 (0), k >= 1 (number of pairs)}``;
                   for adamw and kadam (decoupled decay) ``lr * weight_decay < 1``
``steps``          optimizer steps, >= 1 (required)
``batch_size``     minibatch size, or ``null`` for full batch (default ``null``)
``dtype``          ``"float32"`` | ``"float64"`` (default ``"float32"``)
``seed``           >= 0, seeds the initialisation and the minibatch order (default 0)
``n_train``        keep the first ``n_train`` training samples, or ``null`` for all
``log_every``      record norms and loss every ``log_every`` steps (default 10)
``eval_every``     test loss/accuracy every ``eval_every`` steps; ``null``: at the end only
``diverge_norm``   a parameter norm above this (checked at every logged step; a non-finite
                   loss is checked at every step) ends the run as diverged (default 1e8)
``monitor``        ``{window >= 3 (20), max_loglog_slope > 0 (2)}``, see :mod:`ctadam.monitor`
=================  ===========================================================================

Step n = 1, 2, ... computes the loss at :math:`\theta_{n-1}` on its batch, then the optimizer
update. The update direction is recovered from the parameters,

.. math::  u_n = \bigl((1-\eta\lambda)\,\theta_{n-1} - \theta_n\bigr) / \eta ,

(:math:`\lambda = 0` for Adam, whose ``weight_decay`` is an L2 term inside the gradient), so
for Adam :math:`u_n = \hat m_n / (\sqrt{\hat v_n} + \epsilon)`, the update that
\cref{eq:bound-n} bounds (by :math:`B_n` when :math:`\epsilon = 0`; :math:`\epsilon > 0` only
shrinks it). Every step records :math:`\max_i |u_{n,i}|` and the RMS
:math:`\lVert u_n\rVert/\sqrt d`; every ``log_every`` steps the loss and per-group (per module)
parameter and update norms.

Record (JSON, sorted keys): ``config`` (validated, with defaults), ``status`` (``"ok"`` or
``"diverged"``), ``diverged_at`` (step or null), ``reason`` (null, ``"non-finite loss"`` or
``"parameter norm above diverge_norm"``), ``steps_done``, ``n_params``, ``per_step``
(``update_max_abs``, ``update_rms``: one value per step done), ``log`` (``step``, ``loss``,
``param_norm``; ``groups``: name -> ``param_norm`` and ``update_norm`` :math:`= \eta\lVert
u_{n,g}\rVert` lists), ``eval``
(``step``, ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``), ``monitor`` (the
:class:`~ctadam.monitor.StabilityMonitor` verdict), ``data_sha256``, ``env`` (device, threads,
package versions) and ``timing`` (``wall_time_s``, summed over resumed segments).

Determinism: on CPU with the same config and thread count, the record is byte-identical
except for ``timing`` (a wall clock cannot be); this includes runs killed (even by SIGKILL)
and resumed from ``--checkpoint-dir``, which is written atomically every
``--checkpoint-every`` steps and removed when the record is written.
"""

import argparse
import copy
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ctadam import io
from ctadam.checks import check_int, check_real, check_unit_interval
from ctadam.monitor import StabilityMonitor, module_groups

TASKS = ("mnist1d", "shakespeare", "cifar10")
OPTIMIZERS = ("adam", "adamw", "kadam")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
DEFAULTS = {"arch": "mlp", "norm": "none", "model": {}, "batch_size": None, "dtype": "float32",
            "seed": 0, "n_train": None, "log_every": 10, "eval_every": None,
            "diverge_norm": 1e8, "monitor": {}}
REQUIRED = ("task", "data", "optimizer", "steps")
OPT_DEFAULTS = {"eps": 1e-8, "weight_decay": 0.0}
MONITOR_DEFAULTS = {"window": 20, "max_loglog_slope": 2.0}


def _check_keys(where: str, given: dict, allowed) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}; allowed keys: {sorted(allowed)}")


def _check_choice(name: str, value, choices) -> None:
    """``value`` must be one of the string ``choices`` (a non-string is never one)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def model_keys(arch: str) -> tuple[str, ...]:
    """The keyword arguments of ``ctadam.models.ARCHS[arch]`` that ``model`` may set.

    ``norm`` is excluded: it is the config's own ``norm`` key.
    """
    import inspect

    from ctadam.models import ARCHS

    params = inspect.signature(ARCHS[arch]).parameters
    return tuple(k for k, p in params.items() if k != "norm" and p.kind in (
        p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _optional_int(name: str, value, low: int = 1):
    return None if value is None else check_int(name, value, low)


def validate_optimizer(opt: dict) -> dict:
    """Check the ``optimizer`` block; returns it with defaults and ``betas`` as a list of pairs."""
    if not isinstance(opt, dict):
        raise ValueError(f"optimizer must be a mapping, got {opt!r}")
    _check_keys("optimizer", opt, ("name", "lr", "betas", "eps", "weight_decay", "k"))
    for key in ("name", "lr", "betas"):
        if key not in opt:
            raise ValueError(f"optimizer.{key} is required")
    out = {**OPT_DEFAULTS, **opt}
    _check_choice("optimizer.name", out["name"], OPTIMIZERS)
    out["lr"] = check_real("optimizer.lr", out["lr"], 0.0, low_open=True)
    out["eps"] = check_real("optimizer.eps", out["eps"], 0.0)
    out["weight_decay"] = check_real("optimizer.weight_decay", out["weight_decay"], 0.0)
    betas = out["betas"]
    if isinstance(betas, (list, tuple)) and len(betas) == 2 and all(
            not isinstance(b, (list, tuple)) for b in betas):
        betas = [betas]
    if not isinstance(betas, (list, tuple)) or not betas or any(
            not isinstance(p, (list, tuple)) or len(p) != 2 for p in betas):
        raise ValueError(f"optimizer.betas must be a pair [beta, gamma] or a list of such "
                         f"pairs, got {out['betas']!r}")
    out["betas"] = [[check_unit_interval(f"optimizer.betas[{i}][0] (beta)", b),
                     check_unit_interval(f"optimizer.betas[{i}][1] (gamma)", g)]
                    for i, (b, g) in enumerate(betas)]
    k = check_int("optimizer.k", out.get("k", len(out["betas"])), 1, 8)
    if out["name"] != "kadam" and k != 1:
        raise ValueError(f"optimizer.k must be 1 for {out['name']}, got {k} (use kadam)")
    if len(out["betas"]) not in (1, k):
        raise ValueError(f"optimizer.betas must hold 1 or k={k} pairs, got {len(out['betas'])}")
    out["k"] = k
    if out["name"] in ("adamw", "kadam") and not out["lr"] * out["weight_decay"] < 1:
        raise ValueError(f"optimizer.lr * optimizer.weight_decay must be in [0, 1) for "
                         f"{out['name']} (decoupled decay theta <- (1 - lr * weight_decay) "
                         f"theta), got optimizer.lr={out['lr']!r} * "
                         f"optimizer.weight_decay={out['weight_decay']!r} = "
                         f"{out['lr'] * out['weight_decay']!r}")
    return out


def validate_config(config: dict) -> dict:
    """Return a deep copy of ``config`` with defaults filled in, or raise ``ValueError``."""
    if not isinstance(config, dict):
        raise ValueError(f"config must be a mapping, got {type(config).__name__}")
    _check_keys("config", config, (*REQUIRED, *DEFAULTS))
    for key in REQUIRED:
        if key not in config:
            raise ValueError(f"config.{key} is required")
    cfg = {**copy.deepcopy(DEFAULTS), **copy.deepcopy(config)}
    _check_choice("task", cfg["task"], TASKS)
    if not isinstance(cfg["data"], str) or not cfg["data"]:
        raise ValueError(f"data must be a non-empty path string, got {cfg['data']!r}")
    from ctadam.models import ARCHS, NORMS

    _check_choice("arch", cfg["arch"], ARCHS)
    _check_choice("norm", cfg["norm"], NORMS)
    if not isinstance(cfg["model"], dict):
        raise ValueError(f"model must be a mapping of model kwargs, got {cfg['model']!r}")
    _check_keys(f"model (arch {cfg['arch']!r})", cfg["model"], model_keys(cfg["arch"]))
    cfg["optimizer"] = validate_optimizer(cfg["optimizer"])
    cfg["steps"] = check_int("steps", cfg["steps"], 1)
    cfg["batch_size"] = _optional_int("batch_size", cfg["batch_size"])
    _check_choice("dtype", cfg["dtype"], DTYPES)
    cfg["seed"] = check_int("seed", cfg["seed"], 0)
    cfg["n_train"] = _optional_int("n_train", cfg["n_train"])
    cfg["log_every"] = check_int("log_every", cfg["log_every"], 1)
    cfg["eval_every"] = _optional_int("eval_every", cfg["eval_every"])
    cfg["diverge_norm"] = check_real("diverge_norm", cfg["diverge_norm"], 0.0, low_open=True)
    if not isinstance(cfg["monitor"], dict):
        raise ValueError(f"monitor must be a mapping, got {cfg['monitor']!r}")
    _check_keys("monitor", cfg["monitor"], MONITOR_DEFAULTS)
    cfg["monitor"] = {**MONITOR_DEFAULTS, **cfg["monitor"]}
    cfg["monitor"]["window"] = check_int("monitor.window", cfg["monitor"]["window"], 3)
    cfg["monitor"]["max_loglog_slope"] = check_real(
        "monitor.max_loglog_slope", cfg["monitor"]["max_loglog_slope"], 0.0, low_open=True)
    return cfg


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU."""
    _check_choice("device", device, ("cpu", "cuda", "auto"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def load_task(cfg: dict, device: torch.device):
    """Load the task's data on ``device`` (floating inputs in the run's dtype)."""
    from ctadam import data

    loader = getattr(data, f"load_{cfg['task']}", None)
    if loader is None:
        raise ValueError(f"task {cfg['task']!r} has no loader ctadam.data.load_{cfg['task']}")
    ds = loader(cfg["data"], n_train=cfg["n_train"])
    dtype = DTYPES[cfg["dtype"]]

    def move(x):
        return x.to(device=device, dtype=dtype if x.is_floating_point() else None)

    return ds, [move(t) for t in (ds.x_train, ds.y_train, ds.x_test, ds.y_test)]


def build(cfg: dict, x_train: torch.Tensor, y_train: torch.Tensor, device: torch.device):
    """Seeded model (sizes default from the data) and optimizer for ``cfg``."""
    from ctadam.models import build_model

    kwargs = dict(cfg["model"])
    if cfg["arch"] == "char_transformer":
        kwargs.setdefault("vocab_size", int(max(x_train.max(), y_train.max())) + 1)
        kwargs.setdefault("block_size", x_train.shape[1])
    else:
        if cfg["arch"] in ("mlp", "cnn1d"):
            kwargs.setdefault("in_features", x_train.shape[1])
        kwargs.setdefault("out_features", int(y_train.max()) + 1)
    torch.manual_seed(cfg["seed"])
    model = build_model(cfg["arch"], cfg["norm"], **kwargs).to(device, DTYPES[cfg["dtype"]])
    return model, make_optimizer(model.parameters(), cfg["optimizer"])


def make_optimizer(params, opt: dict) -> torch.optim.Optimizer:
    """The optimizer of a validated ``optimizer`` block."""
    common = {"lr": opt["lr"], "eps": opt["eps"], "weight_decay": opt["weight_decay"]}
    if opt["name"] == "adam":
        return torch.optim.Adam(params, betas=tuple(opt["betas"][0]), **common)
    if opt["name"] == "adamw":
        return torch.optim.AdamW(params, betas=tuple(opt["betas"][0]), **common)
    from ctadam.optim import KAdam

    betas = [tuple(p) for p in opt["betas"]]
    return KAdam(params, k=opt["k"], betas=betas if len(betas) > 1 else betas[0], **common)


def decoupled_decay(opt: dict) -> float:
    """:math:`\\lambda` of the decoupled weight decay (0 for Adam's coupled L2 term)."""
    return 0.0 if opt["name"] == "adam" else opt["weight_decay"]


def flatten_parameters(model: torch.nn.Module) -> torch.Tensor:
    """Make every parameter a view of one flat tensor and return it (cheap per-step norms)."""
    params = list(model.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    offset = 0
    for p in params:
        p.data = flat[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
    return flat


def group_index(model: torch.nn.Module) -> tuple[list[str], torch.Tensor]:
    """Group names (as :func:`ctadam.monitor.module_groups`) and each flat coordinate's group."""
    owner = {id(p): i for i, ps in enumerate(module_groups(model).values()) for p in ps}
    names = list(module_groups(model))
    index = torch.cat([torch.full((p.numel(),), owner[id(p)], dtype=torch.long)
                       for p in model.parameters()])
    return names, index


def group_norms(vecs: torch.Tensor, index: torch.Tensor, n_groups: int) -> list[list[float]]:
    """Euclidean norms of each row of ``vecs`` over each group of coordinates (float64)."""
    sq = torch.zeros((vecs.shape[0], n_groups), dtype=torch.float64, device=vecs.device)
    sq.index_add_(1, index, vecs.double().square())
    return sq.sqrt().tolist()


def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy; sequence outputs (N, T, V) are flattened over tokens."""
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


@torch.no_grad()
def evaluate(model, x, y, batch: int = 4096) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(x, y)``, in chunks of ``batch`` samples."""
    total_loss, correct, count = 0.0, 0, 0
    for i in range(0, x.shape[0], batch):
        out = model(x[i:i + batch])
        yy = y[i:i + batch]
        total_loss += float(loss_fn(out, yy)) * yy.numel()
        correct += int((out.argmax(-1) == yy).sum())
        count += yy.numel()
    return total_loss / count, correct / count


class Batches:
    """Deterministic, stateless minibatch order: epoch e is ``randperm(N)`` seeded by (seed, e).

    The batch of step n depends only on (seed, n), so a resumed run sees the same batches.
    Full batch when ``batch_size`` is None.
    """

    def __init__(self, n: int, batch_size: int | None, seed: int, device: torch.device):
        self.n, self.bs, self.seed, self.device = n, batch_size, seed, device
        if batch_size is not None and batch_size > n:
            raise ValueError(f"batch_size must be <= n_train={n}, got {batch_size}")
        self._epoch, self._perm = -1, None

    def indices(self, step: int):
        if self.bs is None:
            return None
        per_epoch = self.n // self.bs
        epoch, i = divmod(step - 1, per_epoch)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(self.n, generator=gen).to(self.device)
            self._epoch = epoch
        return self._perm[i * self.bs:(i + 1) * self.bs]


def environment(device: torch.device) -> dict:
    """Device, threads and package versions (deterministic on one machine)."""
    from importlib.metadata import version

    return {"device": str(device), "threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "ctadam": version("ctadam")}


def _checkpoint_path(checkpoint_dir) -> Path | None:
    return None if checkpoint_dir is None else Path(checkpoint_dir) / "checkpoint.pt"


def _save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


class UpdateTracker:
    r"""Per-step :math:`\max_i |u_{n,i}|` and RMS of :math:`u_n`, computed in batches.

    After each optimizer step :meth:`record` copies the flat parameter vector into a buffer of
    snapshots (one cheap copy per step); :meth:`flush` turns the buffered snapshots into
    :math:`\eta u_n = (1-\eta\lambda)\theta_{n-1} - \theta_n` for all of them at once and
    appends the statistics to ``u_max`` and ``u_rms``. ``last`` is then :math:`\eta u_n` of the
    latest step. The buffer holds at most ``capacity`` steps (and about 64Ki numbers).
    """

    def __init__(self, flat: torch.Tensor, lr: float, decay: float, capacity: int):
        self.flat, self.lr, self.scale = flat, lr, 1.0 - lr * decay
        # a small buffer (<= 64Ki numbers) stays in cache and leaves the training step alone
        capacity = max(1, min(capacity, (1 << 16) // flat.numel()))
        self.buf = flat.new_empty((capacity + 1, flat.numel()))
        self.diff = flat.new_empty((capacity, flat.numel()))  # preallocated: no page faults
        self.buf[0].copy_(flat)
        self.k = 0
        self.sqrt_d = math.sqrt(flat.numel())
        self.u_max: list[float] = []
        self.u_rms: list[float] = []
        self.last = torch.zeros_like(flat)

    def record(self) -> None:
        self.k += 1
        self.buf[self.k].copy_(self.flat)
        if self.k == self.buf.shape[0] - 1:
            self.flush()

    def flush(self) -> None:
        if self.k == 0:
            return
        prev, new, diff = self.buf[:self.k], self.buf[1:self.k + 1], self.diff[:self.k]
        if self.scale != 1.0:
            torch.mul(prev, self.scale, out=diff)
            diff.sub_(new)
        else:
            torch.sub(prev, new, out=diff)
        norms = torch.linalg.vector_norm(diff, dim=1, dtype=torch.float64)
        self.u_rms += (norms / (self.lr * self.sqrt_d)).tolist()
        self.last.copy_(diff[-1])
        self.u_max += (diff.abs_().amax(dim=1).double() / self.lr).tolist()
        self.buf[0].copy_(self.buf[self.k])
        self.k = 0


def run(config: dict, out: str | os.PathLike | None = None,
        checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 0,
        device: str = "cpu", progress: bool = False) -> dict:
    """Train once from ``config``; write the record to ``out`` (if given) and return it.

    ``checkpoint_every`` > 0 saves a checkpoint to ``checkpoint_dir`` every that many steps;
    a checkpoint of the same config found there is resumed from. See the module docstring
    for the config and record formats.
    """
    from tqdm import tqdm

    cfg = validate_config(config)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, 0)
    ckpt_path = _checkpoint_path(checkpoint_dir)
    if checkpoint_every and ckpt_path is None:
        raise ValueError("checkpoint_every > 0 needs a checkpoint_dir")
    dev = resolve_device(device)
    ds, (x_tr, y_tr, x_te, y_te) = load_task(cfg, dev)
    model, opt = build(cfg, x_tr, y_tr, dev)
    flat = flatten_parameters(model)
    names, gidx = group_index(model)
    gidx = gidx.to(dev)
    lr, decay = cfg["optimizer"]["lr"], decoupled_decay(cfg["optimizer"])
    monitor = StabilityMonitor(None, window=cfg["monitor"]["window"],
                               max_loglog_slope=cfg["monitor"]["max_loglog_slope"], warn=True)
    batches = Batches(x_tr.shape[0], cfg["batch_size"], cfg["seed"], dev)
    st = {"step": 0, "u_max": [], "u_rms": [], "status": "ok", "diverged_at": None,
          "reason": None, "wall": 0.0,
          "log": {"step": [], "loss": [], "param_norm": [],
                  "groups": {g: {"param_norm": [], "update_norm": []} for g in names}},
          "eval": {"step": [], "train_loss": [], "train_acc": [], "test_loss": [],
                   "test_acc": []}}
    if ckpt_path is not None and ckpt_path.exists():
        saved = torch.load(ckpt_path, weights_only=False)
        if saved["config"] == cfg:
            model.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optimizer"])
            monitor.load_state_dict(saved["monitor"])
            st = saved["state"]
    steps, log_every = cfg["steps"], cfg["log_every"]
    eval_every = cfg["eval_every"] or steps
    tracker = UpdateTracker(flat, lr, decay, log_every)
    tracker.u_max, tracker.u_rms = st["u_max"], st["u_rms"]
    t0 = time.perf_counter()
    bar = tqdm(range(st["step"] + 1, steps + 1), disable=not progress, mininterval=1.0,
               desc="train", file=sys.stderr)
    for n in bar:
        idx = batches.indices(n)
        xb, yb = (x_tr, y_tr) if idx is None else (x_tr[idx], y_tr[idx])
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        tracker.record()
        loss_value = loss.item()
        st["step"] = n
        bad = None if math.isfinite(loss_value) else "non-finite loss"
        if n % log_every == 0 or n == 1 or n == steps or bad:
            tracker.flush()
            both = group_norms(torch.stack([flat, tracker.last]), gidx, len(names))
            pnorms, unorms = dict(zip(names, both[0], strict=True)), dict(zip(names, both[1],
                                                                               strict=True))
            total = math.sqrt(sum(v * v for v in pnorms.values()))
            log = st["log"]
            log["step"].append(n)
            log["loss"].append(loss_value)
            log["param_norm"].append(total)
            for g in names:
                log["groups"][g]["param_norm"].append(pnorms[g])
                log["groups"][g]["update_norm"].append(unorms[g])
            if math.isfinite(total):
                monitor.observe(n, pnorms, unorms)
            if bad is None and not total <= cfg["diverge_norm"]:
                bad = "parameter norm above diverge_norm"
            bar.set_postfix(loss=f"{loss_value:.3g}", norm=f"{total:.3g}", refresh=False)
        if bad is None and (n % eval_every == 0 or n == steps):
            _record_eval(st["eval"], n, model, x_tr, y_tr, x_te, y_te)
        if bad is not None:
            st.update(status="diverged", diverged_at=n, reason=bad)
        if bad is not None:
            break
        if checkpoint_every and n % checkpoint_every == 0 and n < steps:
            tracker.flush()
            st["wall"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            _save_checkpoint(ckpt_path, {"config": cfg, "model": model.state_dict(),
                                         "optimizer": opt.state_dict(),
                                         "monitor": monitor.state_dict(), "state": st})
    bar.close()
    tracker.flush()
    st["wall"] += time.perf_counter() - t0
    record = {
        "config": cfg, "status": st["status"], "diverged_at": st["diverged_at"],
        "reason": st["reason"], "steps_done": st["step"], "n_params": flat.numel(),
        "per_step": {"update_max_abs": st["u_max"], "update_rms": st["u_rms"]},
        "log": st["log"], "eval": st["eval"], "monitor": monitor.verdict(),
        "data_sha256": ds.sha256, "env": environment(dev),
        "timing": {"wall_time_s": st["wall"]},
    }
    if out is not None:
        io.write_json_atomic(out, record)
    if ckpt_path is not None and ckpt_path.exists():
        ckpt_path.unlink()
    return record


def _record_eval(ev: dict, n: int, model, x_tr, y_tr, x_te, y_te) -> None:
    train_loss, train_acc = evaluate(model, x_tr, y_tr)
    test_loss, test_acc = evaluate(model, x_te, y_te)
    for key, value in (("step", n), ("train_loss", train_loss), ("train_acc", train_acc),
                       ("test_loss", test_loss), ("test_acc", test_acc)):
        ev[key].append(value)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctadam.train", description=__doc__.split(
        "\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="run config (JSON)")
    parser.add_argument("--out", required=True, help="where to write the JSON record")
    parser.add_argument("--checkpoint-dir", default=None, help="resume from / save checkpoints")
    parser.add_argument("--checkpoint-every", type=int, default=0,
                        help="save a checkpoint every N steps (0: never)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--progress", action="store_true", help="show a tqdm progress bar")
    args = parser.parse_args(argv)
    torch.set_num_threads(check_int("threads", args.threads, 1))
    with open(args.config, encoding="utf-8") as handle:
        config = json.load(handle)
    record = run(config, args.out, args.checkpoint_dir, args.checkpoint_every, args.device,
                 args.progress)
    print(f"{record['status']} after {record['steps_done']} steps"
          f"{'' if record['reason'] is None else ' (' + record['reason'] + ')'}: "
          f"{args.out}, {record['timing']['wall_time_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
