r"""The one training loop: a validated config in, an atomic JSON record out.

Usage::

    python -m ctadam.train --config cfg.json [cfg2.json ...] --out rec.json [rec2.json ...]
        [--checkpoint-dir DIR] [--checkpoint-every N] [--threads 1] [--device cpu|cuda|auto]
        [--progress] [--debug]

Several configs run one after the other in one process (a sweep pays the interpreter's
start-up once), each writing its own record as soon as it ends. A repeated ``--config`` or
``--out`` adds to its list; configs and outputs pair up in order, and two outputs naming the
same file are refused before any run starts. Bad input (a config, an argument, a dataset)
exits with status 2 and one line naming it (``--debug``: with the traceback).

From Python: ``record = run(config, trackers=(), out=None)``, made of :func:`setup` (what the
config builds, :mod:`ctadam.build`), :func:`step` (one optimizer step, which the GPU timing
reuses), :func:`log_step` and :func:`finish`. The config keys are documented in
:mod:`ctadam.runconfig`; what an experiment measures beyond the loss is a tracker
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
(null or one of :data:`REASONS`; :func:`divergence` says when a run diverges),
``steps_done``, ``n_params``, ``per_step`` (``update_max_abs``, ``update_rms``: one value
per step done), ``log`` (``step``, ``loss``, ``param_norm``; ``groups``: name ->
``param_norm`` and ``update_norm`` :math:`= \eta\lVert u_{n,g}\rVert` lists), ``eval``
(``step``, ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``), ``monitor`` (the
:class:`~ctadam.monitor.StabilityMonitor` verdict), ``trackers`` (name -> result of each
tracker), ``data_sha256``, ``env`` (device, threads, CPU model, BLAS and package versions)
and ``timing`` (``wall_time_s``, summed over resumed segments).

Determinism: on one machine with the same config and thread count, the record is
byte-identical except for ``timing``; this includes runs killed (even by SIGKILL) and resumed
from ``--checkpoint-dir``: the checkpoint of a config (:func:`checkpoint_path`) is written
atomically every ``--checkpoint-every`` steps and removed when its record is written;
checkpoints of other configs in the directory are left alone. Across CPU models or BLAS
builds the last digits of the numbers may differ (floating-point reductions run in another
order), hence ``env``.
"""

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ctadam import io
from ctadam.build import build_run_model, load_task, make_optimizer, make_sampler, resolve_device
from ctadam.checks import ArgumentParser, check_int
from ctadam.monitor import StabilityMonitor
from ctadam.runconfig import BLOWUP_FACTOR, decoupled_decay, validate_config
from ctadam.samplers import evenly_spaced
from ctadam.trackers import RunContext, UpdateStats, flatten_parameters, group_index, group_norms

REASONS = ("non-finite loss", "non-finite update", "parameter norm above diverge_norm",
           "loss above diverge_loss_factor x its running minimum",
           f"loss above {BLOWUP_FACTOR:g} x its running minimum and above its first value")


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


@dataclass
class Setup:
    """Everything a validated config builds, once per run (see :func:`setup`)."""

    cfg: dict
    device: torch.device
    dataset: object
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    batches: object
    flat: torch.Tensor  # every parameter is a view of this vector
    groups: list[str]  # parameter groups (one per module that owns parameters)
    group_index: torch.Tensor  # the group of each coordinate of flat


def setup(config: dict, device: str = "cpu") -> Setup:
    """Validate ``config`` and build its data, seeded model, optimizer and sampler on
    ``device``: the one set-up of :func:`run`, the GPU timing and the benchmark harness."""
    cfg = validate_config(config)
    dev = resolve_device(device)
    ds, (x_tr, y_tr, x_te, y_te) = load_task(cfg, dev)
    model = build_run_model(cfg, x_tr, y_tr, dev, getattr(ds, "vocab_size", None))
    opt = make_optimizer(model.parameters(), cfg["optimizer"])
    batches = make_sampler(cfg, ds, x_tr, y_tr)
    flat = flatten_parameters(model)
    groups, gidx = group_index(model)
    return Setup(cfg, dev, ds, x_tr, y_tr, x_te, y_te, model, opt, batches, flat, groups,
                 gidx.to(dev))


def step(s: Setup, n: int, trackers=()) -> torch.Tensor:
    r"""Optimizer step n: the loss at :math:`\theta_{n-1}` on batch n, its gradient (times
    :math:`c^{\,n-n_0}` for n > n_0 under ``grad_scale``), the trackers' ``before_step`` hooks,
    the update. Returns the loss (a tensor, not synced)."""
    xb, yb = s.batches.batch(n)
    s.optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(s.model(xb), yb)
    loss.backward()
    gs = s.cfg["grad_scale"]
    if gs is not None and n > gs["start"]:  # the probe: g_n <- c^(n - n0) g_n
        scale = gs["factor"] ** (n - gs["start"])
        for p in s.model.parameters():
            if p.grad is not None:
                p.grad.mul_(scale)
    for t in trackers:
        t.before_step(n)
    s.optimizer.step()
    return loss


def all_finite(x: torch.Tensor) -> bool:
    """Whether every entry of ``x`` is finite: a finite sum says so (an inf or NaN entry makes
    the sum inf or NaN) at a tenth of the cost of ``isfinite``, which decides the rest."""
    return math.isfinite(float(x.sum())) or bool(torch.isfinite(x).all())


def divergence(cfg: dict, loss: float, finite_update: bool, st: dict) -> str | None:
    r"""Why step n with this ``loss`` ends the run (None: it does not), from :data:`REASONS`.

    With :math:`L_n` the loss, :math:`m_{n-1} = \min_{j<n} L_j` its running minimum and
    ``st["first_loss"]`` :math:`= L_1`: a non-finite :math:`L_n`; a non-finite update
    (``finite_update`` False: some parameter is not finite); :math:`L_n > f\,m_{n-1}` with
    :math:`f` = ``diverge_loss_factor`` when set; and for every run the blow-up
    :math:`L_n > F\,m_{n-1}` and :math:`L_n > L_1` with :math:`F` = :data:`BLOWUP_FACTOR`
    (a loss that only spikes up from a minimum near zero, still below its start, is not a
    blow-up). The parameter norm (``diverge_norm``) is checked at logged steps, apart.
    """
    if not math.isfinite(loss):
        return REASONS[0]
    if not finite_update:
        return REASONS[1]
    best, factor = st["best_loss"], cfg["diverge_loss_factor"]
    if factor is not None and loss > factor * best:
        return REASONS[3]
    if loss > BLOWUP_FACTOR * best and loss > st["first_loss"]:
        return REASONS[4]
    return None


def new_state(groups: list[str]) -> dict:
    """The run's growing state (saved in checkpoints): counters, per-step series, log, eval."""
    return {"step": 0, "u_max": [], "u_rms": [], "status": "ok", "diverged_at": None,
            "reason": None, "wall": 0.0, "best_loss": math.inf, "first_loss": None,
            "log": {"step": [], "loss": [], "param_norm": [],
                    "groups": {g: {"param_norm": [], "update_norm": []} for g in groups}},
            "eval": {"step": [], "train_loss": [], "train_acc": [], "test_loss": [],
                     "test_acc": []}}


def log_step(s: Setup, st: dict, stats: UpdateStats, monitor: StabilityMonitor, n: int,
             loss: float) -> float:
    r"""Append step n's loss and per-group :math:`\lVert\theta_g\rVert`, :math:`\eta\lVert
    u_{n,g}\rVert` to the log, feed the monitor when finite; returns the total norm."""
    stats.flush()
    both = group_norms(torch.stack([s.flat, stats.last]), s.group_index, len(s.groups))
    pnorms = dict(zip(s.groups, both[0], strict=True))
    unorms = dict(zip(s.groups, both[1], strict=True))
    total = math.sqrt(sum(v * v for v in pnorms.values()))
    log = st["log"]
    log["step"].append(n)
    log["loss"].append(loss)
    log["param_norm"].append(total)
    for g in s.groups:
        log["groups"][g]["param_norm"].append(pnorms[g])
        log["groups"][g]["update_norm"].append(unorms[g])
    if math.isfinite(total):
        monitor.observe(n, pnorms, unorms)
    return total


def record_eval(s: Setup, ev: dict, n: int) -> None:
    """Append step n's train and test loss and accuracy (``eval_samples`` of each split)."""
    n_eval = s.cfg["eval_samples"]
    train_loss, train_acc = evaluate(s.model, s.x_train, s.y_train, n_eval)
    test_loss, test_acc = evaluate(s.model, s.x_test, s.y_test, n_eval)
    for key, value in (("step", n), ("train_loss", train_loss), ("train_acc", train_acc),
                       ("test_loss", test_loss), ("test_acc", test_acc)):
        ev[key].append(value)


def finish(s: Setup, st: dict, monitor: StabilityMonitor, trackers) -> dict:
    """The record of a run (see the module docstring)."""
    return {
        "config": s.cfg, "status": st["status"], "diverged_at": st["diverged_at"],
        "reason": st["reason"], "steps_done": st["step"], "n_params": s.flat.numel(),
        "per_step": {"update_max_abs": st["u_max"], "update_rms": st["u_rms"]},
        "log": st["log"], "eval": st["eval"], "monitor": monitor.verdict(),
        "trackers": {t.name: t.result() for t in trackers},
        "data_sha256": s.dataset.sha256, "env": environment(s.device),
        "timing": {"wall_time_s": st["wall"]},
    }


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


def checkpoint_path(checkpoint_dir: str | os.PathLike, cfg: dict) -> Path:
    """The checkpoint file of ``cfg`` in ``checkpoint_dir``: one per config, so a directory
    may hold checkpoints of several configs and a run touches only its own."""
    digest = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
    return Path(checkpoint_dir) / f"checkpoint-{digest}.pt"


def _save_checkpoint(path: Path, s: Setup, st: dict, monitor, trackers) -> None:
    """Write the run's state to ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"config": s.cfg, "model": s.model.state_dict(),
                "optimizer": s.optimizer.state_dict(), "monitor": monitor.state_dict(),
                "state": st, "trackers": [t.state_dict() for t in trackers]}, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, cfg: dict) -> dict | None:
    """The saved state of ``cfg`` at ``path``, or None when there is none."""
    if not path.exists():
        return None
    try:
        saved = torch.load(path, weights_only=False)
    except Exception as err:
        raise ValueError(f"checkpoint {str(path)!r} cannot be read ({type(err).__name__}: "
                         f"{err}); delete it to start the run from step 0") from err
    if not isinstance(saved, dict) or saved.get("config") != cfg:
        raise ValueError(f"checkpoint {str(path)!r} does not belong to this config; delete it "
                         f"to start the run from step 0")
    return saved


def _resume(saved: dict, s: Setup, monitor, trackers) -> dict:
    s.model.load_state_dict(saved["model"])
    s.optimizer.load_state_dict(saved["optimizer"])
    monitor.load_state_dict(saved["monitor"])
    for t, state in zip(trackers, saved["trackers"], strict=True):
        t.load_state_dict(state)
    return saved["state"]


def run(config: dict, trackers=(), out: str | os.PathLike | None = None,
        checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 0,
        device: str = "cpu", progress: bool = False) -> dict:
    """Train once from ``config`` with ``trackers``; write the record to ``out`` and return it.

    ``checkpoint_every`` > 0 saves a checkpoint of this config to ``checkpoint_dir`` every
    that many steps; its checkpoint found there is resumed from. See the module docstring for
    the record and :mod:`ctadam.runconfig` for the config.
    """
    from tqdm import tqdm

    checkpoint_every = check_int("checkpoint_every", checkpoint_every, 0)
    if checkpoint_every and checkpoint_dir is None:
        raise ValueError("checkpoint_every > 0 needs a checkpoint_dir")
    names = [t.name for t in trackers]
    if len(set(names)) != len(names):
        raise ValueError(f"trackers must have distinct names, got {names}")
    s = setup(config, device)
    cfg = s.cfg
    ckpt = None if checkpoint_dir is None else checkpoint_path(checkpoint_dir, cfg)
    lr, decay = cfg["optimizer"]["lr"], decoupled_decay(cfg["optimizer"])
    monitor = StabilityMonitor(None, window=cfg["monitor"]["window"],
                               max_loglog_slope=cfg["monitor"]["max_loglog_slope"], warn=True)
    st = new_state(s.groups)
    for t in trackers:
        t.start(RunContext(s.model, s.optimizer, s.flat, lr, decay, cfg))
    saved = None if ckpt is None else _load_checkpoint(ckpt, cfg)
    if saved is not None:
        st = _resume(saved, s, monitor, trackers)
    steps, log_every = cfg["steps"], cfg["log_every"]
    eval_every = cfg["eval_every"] or steps
    stats = UpdateStats(s.flat, lr, decay, log_every)
    stats.u_max, stats.u_rms = st["u_max"], st["u_rms"]
    t0 = time.perf_counter()
    bar = tqdm(range(st["step"] + 1, steps + 1), disable=not progress, mininterval=1.0,
               desc="train", file=sys.stderr)
    for n in bar:
        loss_tensor = step(s, n, trackers)
        stats.record()
        loss = loss_tensor.item()
        for t in trackers:
            t.after_step(n, loss)
        st["step"] = n
        if st["first_loss"] is None:
            st["first_loss"] = loss
        bad = divergence(cfg, loss, all_finite(s.flat), st)
        st["best_loss"] = min(st["best_loss"], loss)
        if n % log_every == 0 or n == 1 or n == steps or bad:
            total = log_step(s, st, stats, monitor, n, loss)
            if bad is None and not total <= cfg["diverge_norm"]:
                bad = REASONS[2]
            bar.set_postfix(loss=f"{loss:.3g}", norm=f"{total:.3g}", refresh=False)
        if bad is None and (n % eval_every == 0 or n == steps):
            record_eval(s, st["eval"], n)
        if bad is not None:
            st.update(status="diverged", diverged_at=n, reason=bad)
            monitor.diverged(n, bad)
            break
        if checkpoint_every and n % checkpoint_every == 0 and n < steps:
            stats.flush()
            st["wall"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            _save_checkpoint(ckpt, s, st, monitor, trackers)
    bar.close()
    stats.flush()
    st["wall"] += time.perf_counter() - t0
    record = finish(s, st, monitor, trackers)
    if out is not None:
        io.write_json_atomic(out, record)
    if ckpt is not None and ckpt.exists():
        ckpt.unlink()
    return record


def read_config(path: str) -> dict:
    """The JSON config at ``path``; a ValueError naming the file when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"--config {path!r} cannot be read as JSON: {err}") from None


def build_parser() -> ArgumentParser:
    """The options of ``python -m ctadam.train``; a repeated ``--config`` or ``--out`` adds
    to its list (configs and outputs pair up in order)."""
    parser = ArgumentParser(prog="python -m ctadam.train", description=__doc__.split("\n")[0],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, nargs="+", action="extend",
                        help="run config(s) (JSON)")
    parser.add_argument("--out", required=True, nargs="+", action="extend",
                        help="where to write each config's record (one path per config)")
    parser.add_argument("--checkpoint-dir", default=None,
                        help="resume from / save checkpoints (one config only)")
    parser.add_argument("--checkpoint-every", type=int, default=0,
                        help="save a checkpoint every N steps (0: never)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--progress", action="store_true", help="show a tqdm progress bar")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def _jobs(parser, args) -> list[tuple[dict, str]]:
    """Every (validated config, output) pair, checked before any run starts."""
    if len(args.config) != len(args.out):
        parser.error(f"--out must name one record per --config: got {len(args.config)} "
                     f"configs and {len(args.out)} outputs")
    seen: dict[Path, str] = {}
    for out in args.out:
        key = Path(out).resolve()
        if key in seen:
            parser.error(f"--out names the same record twice ({seen[key]!r} and {out!r}): each "
                         f"config needs its own output")
        seen[key] = out
    if args.checkpoint_dir is not None and len(args.config) > 1:
        parser.error("--checkpoint-dir works with one --config only")
    check_int("--checkpoint-every", args.checkpoint_every, 0)
    jobs = []
    for path, out in zip(args.config, args.out, strict=True):
        try:
            jobs.append((validate_config(read_config(path)), out))
        except ValueError as err:
            raise ValueError(f"--config {path!r}: {err}") from None
    return jobs


def main(argv=None) -> int:
    """Run every ``--config`` into its ``--out``; exit status 2 with one line on bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        torch.set_num_threads(check_int("--threads", args.threads, 1))
        for config, out in _jobs(parser, args):
            record = run(config, (), out, args.checkpoint_dir, args.checkpoint_every,
                         args.device, args.progress)
            print(f"{record['status']} after {record['steps_done']} steps"
                  f"{'' if record['reason'] is None else ' (' + record['reason'] + ')'}: "
                  f"{out}, {record['timing']['wall_time_s']:.2f} s")
    except (ValueError, OSError) as err:
        if args.debug:
            raise
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
