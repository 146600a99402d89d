r"""The one training loop: a validated config in, an atomic JSON record out.

Usage::

    python -m ctadam.train --config cfg.json [cfg2.json ...] --out rec.json [rec2.json ...]
        [--checkpoint-dir DIR] [--checkpoint-every N] [--threads 1] [--device cpu|cuda|auto]
        [--progress]

Several configs run one after the other in one process (a sweep pays the interpreter's
start-up once), each writing its own record as soon as it ends. From Python:
``record = run(config, trackers=(), out=None)``. The config keys are documented in
:mod:`ctadam.config`; what an experiment measures beyond the loss is a tracker
(:mod:`ctadam.trackers`); which examples a step sees comes from :mod:`ctadam.samplers`.

Step n = 1, 2, ... computes the loss at :math:`\theta_{n-1}` on its batch, then the optimizer
update. The update direction :math:`u_n` is recovered from the iterates
(:func:`ctadam.trackers.scaled_update`), so for Adam it is
:math:`\hat m_n / (\sqrt{\hat v_n} + \epsilon)`, the update that \cref{eq:bound-n} bounds (by
:math:`B_n` when :math:`\epsilon = 0`). Every step records :math:`\max_i |u_{n,i}|` and the RMS
:math:`\lVert u_n\rVert/\sqrt d`; every ``log_every`` steps the loss and per-group (per module)
parameter and update norms.

Record (JSON, sorted keys), the same top-level keys for every run: ``config`` (validated, with
defaults), ``status`` (``"ok"`` or ``"diverged"``), ``diverged_at`` (step or null), ``reason``
(null, ``"non-finite loss"``, ``"parameter norm above diverge_norm"`` or ``"loss above
diverge_loss_factor x its running minimum"``), ``steps_done``, ``n_params``, ``per_step``
(``update_max_abs``, ``update_rms``: one value per step done), ``log`` (``step``, ``loss``,
``param_norm``; ``groups``: name -> ``param_norm`` and ``update_norm`` :math:`= \eta\lVert
u_{n,g}\rVert` lists), ``eval`` (``step``, ``train_loss``, ``train_acc``, ``test_loss``,
``test_acc``), ``monitor`` (the :class:`~ctadam.monitor.StabilityMonitor` verdict),
``trackers`` (name -> result of each tracker), ``data_sha256``, ``env`` (device, threads,
CPU model, BLAS and package versions) and ``timing`` (``wall_time_s``, summed over resumed
segments).

Determinism: on one machine with the same config and thread count, the record is
byte-identical except for ``timing``; this includes runs killed (even by SIGKILL) and resumed
from ``--checkpoint-dir``, which is written atomically every ``--checkpoint-every`` steps and
removed when the record is written. Across CPU models or BLAS builds the last digits of the
numbers may differ (floating-point reductions run in another order), hence ``env``.
"""

import argparse
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
from ctadam.checks import check_int
from ctadam.config import (
    DTYPES,
    block_size,
    build_model,
    decoupled_decay,
    make_optimizer,
    resolve_device,
    validate_config,
)
from ctadam.monitor import StabilityMonitor
from ctadam.samplers import ArrayBatches, CharWindows, evenly_spaced
from ctadam.trackers import RunContext, UpdateStats, flatten_parameters, group_index, group_norms


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

    return ds, [move(t) for t in (ds.x_train, ds.y_train, ds.x_test, ds.y_test)]


def sampler(cfg: dict, ds, x_train: torch.Tensor, y_train: torch.Tensor):
    """Minibatches of the run: random text windows for Shakespeare, else array batches."""
    if cfg["task"] == "shakespeare" and cfg["batch_size"] is not None:
        return CharWindows(ds.train.to(x_train.device), block_size(cfg), cfg["batch_size"],
                           cfg["seed"])
    return ArrayBatches(x_train, y_train, cfg["batch_size"], cfg["seed"])


def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy; sequence outputs (N, T, V) are flattened over tokens."""
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


@torch.no_grad()
def evaluate(model, x, y, n: int | None = None, batch: int = 4096) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(x, y)`` (``n`` evenly spaced samples)."""
    keep = evenly_spaced(x.shape[0], n)
    if keep is not None:
        x, y = x[keep.to(x.device)], y[keep.to(y.device)]
    total_loss, correct, count = 0.0, 0, 0
    for i in range(0, x.shape[0], batch):
        out = model(x[i:i + batch])
        yy = y[i:i + batch]
        total_loss += float(loss_fn(out, yy)) * yy.numel()
        correct += int((out.argmax(-1) == yy).sum())
        count += yy.numel()
    return total_loss / count, correct / count


def _blas() -> str:
    for line in torch.__config__.show().splitlines():
        if "BLAS_INFO=" in line:
            return line.split("BLAS_INFO=")[1].split(",")[0]
    return "unknown"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict:
    """Device, machine (CPU model, threads, BLAS) and package versions."""
    from importlib.metadata import version

    env = {"device": str(device), "threads": torch.get_num_threads(), "cpu": _cpu_model(),
           "blas": _blas(), "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "ctadam": version("ctadam")}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def _save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _divergence(cfg: dict, loss: float, best_loss: float) -> str | None:
    """Why a step with this ``loss`` ends the run (None: it does not); norms checked apart."""
    if not math.isfinite(loss):
        return "non-finite loss"
    factor = cfg["diverge_loss_factor"]
    if factor is not None and loss > factor * best_loss:
        return "loss above diverge_loss_factor x its running minimum"
    return None


def run(config: dict, trackers=(), out: str | os.PathLike | None = None,
        checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 0,
        device: str = "cpu", progress: bool = False) -> dict:
    """Train once from ``config`` with ``trackers``; write the record to ``out`` and return it.

    ``checkpoint_every`` > 0 saves a checkpoint to ``checkpoint_dir`` every that many steps;
    a checkpoint of the same config found there is resumed from. See the module docstring
    for the record and :mod:`ctadam.config` for the config.
    """
    from tqdm import tqdm

    cfg = validate_config(config)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, 0)
    ckpt_path = None if checkpoint_dir is None else Path(checkpoint_dir) / "checkpoint.pt"
    if checkpoint_every and ckpt_path is None:
        raise ValueError("checkpoint_every > 0 needs a checkpoint_dir")
    names = [t.name for t in trackers]
    if len(set(names)) != len(names):
        raise ValueError(f"trackers must have distinct names, got {names}")
    dev = resolve_device(device)
    ds, (x_tr, y_tr, x_te, y_te) = load_task(cfg, dev)
    model = build_model(cfg, x_tr, y_tr, dev, getattr(ds, "vocab_size", None))
    opt = make_optimizer(model.parameters(), cfg["optimizer"])
    batches = sampler(cfg, ds, x_tr, y_tr)
    flat = flatten_parameters(model)
    groups, gidx = group_index(model)
    gidx = gidx.to(dev)
    lr, decay = cfg["optimizer"]["lr"], decoupled_decay(cfg["optimizer"])
    monitor = StabilityMonitor(None, window=cfg["monitor"]["window"],
                               max_loglog_slope=cfg["monitor"]["max_loglog_slope"], warn=True)
    st = {"step": 0, "u_max": [], "u_rms": [], "status": "ok", "diverged_at": None,
          "reason": None, "wall": 0.0, "best_loss": math.inf,
          "log": {"step": [], "loss": [], "param_norm": [],
                  "groups": {g: {"param_norm": [], "update_norm": []} for g in groups}},
          "eval": {"step": [], "train_loss": [], "train_acc": [], "test_loss": [],
                   "test_acc": []}}
    ctx = RunContext(model, opt, flat, lr, decay, cfg)
    for t in trackers:
        t.start(ctx)
    if ckpt_path is not None and ckpt_path.exists():
        saved = torch.load(ckpt_path, weights_only=False)
        if saved["config"] == cfg:
            model.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optimizer"])
            monitor.load_state_dict(saved["monitor"])
            st = saved["state"]
            for t, state in zip(trackers, saved["trackers"], strict=True):
                t.load_state_dict(state)
    steps, log_every = cfg["steps"], cfg["log_every"]
    eval_every = cfg["eval_every"] or steps
    stats = UpdateStats(flat, lr, decay, log_every)
    stats.u_max, stats.u_rms = st["u_max"], st["u_rms"]
    t0 = time.perf_counter()
    bar = tqdm(range(st["step"] + 1, steps + 1), disable=not progress, mininterval=1.0,
               desc="train", file=sys.stderr)
    for n in bar:
        xb, yb = batches.batch(n)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        for t in trackers:
            t.before_step(n)
        opt.step()
        stats.record()
        loss_value = loss.item()
        for t in trackers:
            t.after_step(n, loss_value)
        st["step"] = n
        bad = _divergence(cfg, loss_value, st["best_loss"])
        st["best_loss"] = min(st["best_loss"], loss_value)
        if n % log_every == 0 or n == 1 or n == steps or bad:
            stats.flush()
            both = group_norms(torch.stack([flat, stats.last]), gidx, len(groups))
            pnorms = dict(zip(groups, both[0], strict=True))
            unorms = dict(zip(groups, both[1], strict=True))
            total = math.sqrt(sum(v * v for v in pnorms.values()))
            log = st["log"]
            log["step"].append(n)
            log["loss"].append(loss_value)
            log["param_norm"].append(total)
            for g in groups:
                log["groups"][g]["param_norm"].append(pnorms[g])
                log["groups"][g]["update_norm"].append(unorms[g])
            if math.isfinite(total):
                monitor.observe(n, pnorms, unorms)
            if bad is None and not total <= cfg["diverge_norm"]:
                bad = "parameter norm above diverge_norm"
            bar.set_postfix(loss=f"{loss_value:.3g}", norm=f"{total:.3g}", refresh=False)
        if bad is None and (n % eval_every == 0 or n == steps):
            _record_eval(st["eval"], n, model, cfg["eval_samples"], x_tr, y_tr, x_te, y_te)
        if bad is not None:
            st.update(status="diverged", diverged_at=n, reason=bad)
            break
        if checkpoint_every and n % checkpoint_every == 0 and n < steps:
            stats.flush()
            st["wall"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            _save_checkpoint(ckpt_path, {"config": cfg, "model": model.state_dict(),
                                         "optimizer": opt.state_dict(),
                                         "monitor": monitor.state_dict(), "state": st,
                                         "trackers": [t.state_dict() for t in trackers]})
    bar.close()
    stats.flush()
    st["wall"] += time.perf_counter() - t0
    record = {
        "config": cfg, "status": st["status"], "diverged_at": st["diverged_at"],
        "reason": st["reason"], "steps_done": st["step"], "n_params": flat.numel(),
        "per_step": {"update_max_abs": st["u_max"], "update_rms": st["u_rms"]},
        "log": st["log"], "eval": st["eval"], "monitor": monitor.verdict(),
        "trackers": {t.name: t.result() for t in trackers},
        "data_sha256": ds.sha256, "env": environment(dev),
        "timing": {"wall_time_s": st["wall"]},
    }
    if out is not None:
        io.write_json_atomic(out, record)
    if ckpt_path is not None and ckpt_path.exists():
        ckpt_path.unlink()
    return record


def _record_eval(ev: dict, n: int, model, n_eval, x_tr, y_tr, x_te, y_te) -> None:
    train_loss, train_acc = evaluate(model, x_tr, y_tr, n_eval)
    test_loss, test_acc = evaluate(model, x_te, y_te, n_eval)
    for key, value in (("step", n), ("train_loss", train_loss), ("train_acc", train_acc),
                       ("test_loss", test_loss), ("test_acc", test_acc)):
        ev[key].append(value)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctadam.train", description=__doc__.split(
        "\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, nargs="+", help="run config(s) (JSON)")
    parser.add_argument("--out", required=True, nargs="+",
                        help="where to write each config's record (one path per config)")
    parser.add_argument("--checkpoint-dir", default=None,
                        help="resume from / save checkpoints (one config only)")
    parser.add_argument("--checkpoint-every", type=int, default=0,
                        help="save a checkpoint every N steps (0: never)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--progress", action="store_true", help="show a tqdm progress bar")
    args = parser.parse_args(argv)
    if len(args.config) != len(args.out):
        parser.error(f"--out must name one record per --config: got {len(args.config)} "
                     f"configs and {len(args.out)} outputs")
    if args.checkpoint_dir is not None and len(args.config) > 1:
        parser.error("--checkpoint-dir works with one --config only")
    torch.set_num_threads(check_int("threads", args.threads, 1))
    for config_path, out in zip(args.config, args.out, strict=True):
        with open(config_path, encoding="utf-8") as handle:
            config = json.load(handle)
        record = run(config, (), out, args.checkpoint_dir, args.checkpoint_every, args.device,
                     args.progress)
        print(f"{record['status']} after {record['steps_done']} steps"
              f"{'' if record['reason'] is None else ' (' + record['reason'] + ')'}: "
              f"{out}, {record['timing']['wall_time_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
