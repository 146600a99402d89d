r"""The k-Adam benchmark: k in {1, 2, 3} x norm in {none, layer} x task.

Protocol (the same budget for every cell):

1. ``split``: carve a validation split out of the training data (MNIST-1D / CIFAR-10: the last
   ``n_val`` training samples; Shakespeare: the last ``val_fraction`` of the training text), so
   that the learning rate is never chosen on the data the table reports.
2. ``select``: for one cell (task, norm, k) train seed 0 at every learning rate of the grid on
   the selection split and keep the learning rate with the best final validation metric
   (accuracy for the classification tasks, loss for Shakespeare; a diverged run is worst).
3. ``final``: train the cell at its selected learning rate for every seed on the full training
   split and evaluate on the held-out split (MNIST-1D / CIFAR-10: the test set; Shakespeare:
   the corpus's validation text, never seen in training or selection).

Every level of k-Adam uses the same ``(beta, gamma)``; ``k = 1`` is Adam(W). MNIST-1D and
CIFAR-10 runs go through :func:`ctadam.train.run`. The character-level Shakespeare task runs
through :func:`run_char`: nanoGPT-style random windows for training and a fixed, evenly spaced
subset of windows for evaluation (the engine's fixed-window path evaluates every validation
window, too slow for the quick profile's budget); its record has the keys the table and figure
read. Divergence is recorded, not raised.
"""

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from ctadam.checks import check_int, check_real
from ctadam.data import arrays_sha256
from ctadam.io import read_json, write_json_atomic, write_macros, write_text_atomic
from ctadam.tables import best_index, mean_std, mean_std_table

TASKS = ("mnist1d", "shakespeare", "cifar10")
NORMS = ("none", "layer")
# What the table reports per task: (column label, record key, scale, goal, decimals).
REPORT = {
    "mnist1d": ("MNIST-1D test acc.\\ (\\%)", "test_acc", 100.0, "max", 1),
    "shakespeare": ("Shakespeare val.\\ loss (nats/char)", "test_loss", 1.0, "min", 3),
    "cifar10": ("CIFAR-10 test acc.\\ (\\%)", "test_acc", 100.0, "max", 1),
}
WORDS = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five"}
TASK_WORDS = {"mnist1d": "MnistOneD", "shakespeare": "Shakespeare", "cifar10": "CifarTen"}


def _save_npz(path, arrays: dict, **extra) -> None:
    """Write arrays and their SHA-256 (the layout :mod:`ctadam.data` reads) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, sha256=np.array(arrays_sha256(arrays)), **arrays, **extra)
    tmp.replace(path)


def split(task: str, data: str, out: str, n_val: int = 500, val_fraction: float = 0.1) -> None:
    """Write the selection split of ``data``: training part as train, held-out part as test/val."""
    with np.load(data) as npz:
        content = {k: npz[k] for k in npz.files}
    if task == "shakespeare":
        frac = check_real("val_fraction", val_fraction, 0.0, 1.0, True, True)
        train = content["train"]
        cut = int(len(train) * (1 - frac))
        _save_npz(out, {"train": train[:cut], "val": train[cut:], "vocab": content["vocab"]})
        return
    n = len(content["y_train"])
    n_val = check_int("n_val", n_val, 1, n - 1)
    _save_npz(out, {"x_train": content["x_train"][:-n_val], "y_train": content["y_train"][:-n_val],
                    "x_test": content["x_train"][-n_val:], "y_test": content["y_train"][-n_val:]})


def optimizer_block(k: int, lr: float, params: dict) -> dict:
    """The :mod:`ctadam.train` optimizer block of k-Adam at ``lr`` (same pair at every level)."""
    return {"name": "kadam", "k": check_int("k", k, 1, 8), "lr": lr,
            "betas": [list(params.get("betas", [0.9, 0.999]))] * k,
            "eps": params.get("eps", 1e-8), "weight_decay": params.get("weight_decay", 0.0)}


def train_config(task: str, data: str, norm: str, k: int, lr: float, seed: int,
                 params: dict) -> dict:
    """A :mod:`ctadam.train` config for one run of a cell (``params``: the task's settings)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return {"task": task, "data": data, "arch": params["arch"], "norm": norm,
            "model": dict(params.get("model", {})), "optimizer": optimizer_block(k, lr, params),
            "steps": params["steps"], "batch_size": params.get("batch_size"),
            "n_train": params.get("n_train"), "seed": seed,
            "log_every": params.get("log_every", 10), "eval_every": params.get("eval_every")}


def _char_eval(model, data, block: int, batch: int, n_batches: int) -> tuple:
    """Mean loss and accuracy over ``n_batches`` fixed, evenly spaced windows of ``data``."""
    import torch
    from torch.nn import functional as F

    starts = torch.linspace(0, len(data) - block - 1, batch * n_batches).long()
    loss, acc = 0.0, 0.0
    with torch.no_grad():
        for chunk in starts.split(batch):
            x = torch.stack([data[s:s + block] for s in chunk])
            y = torch.stack([data[s + 1:s + block + 1] for s in chunk])
            out = model(x)
            loss += float(F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1)))
            acc += float((out.argmax(-1) == y).float().mean())
    return loss / n_batches, acc / n_batches


def run_char(cfg: dict, device: str = "cpu") -> dict:
    """One character-level language-model run; a record with the keys of :mod:`ctadam.train`.

    ``cfg`` is a :func:`train_config` with task ``"shakespeare"``; ``model`` holds the
    :class:`ctadam.models.CharTransformer` sizes (``block_size`` included) and optionally
    ``eval_batches`` (number of evaluation batches, default 8, taken out of ``model``).
    """
    import torch
    from torch.nn import functional as F

    from ctadam.config import make_optimizer, resolve_device, validate_optimizer
    from ctadam.data import CharCorpus, load_shakespeare
    from ctadam.models import build_model

    dev = resolve_device(device)
    corpus = load_shakespeare(cfg["data"])
    corpus = CharCorpus(corpus.train.to(dev), corpus.val.to(dev), corpus.vocab, corpus.sha256)
    kwargs = dict(cfg["model"])
    n_eval = kwargs.pop("eval_batches", 8)
    block = kwargs.setdefault("block_size", 64)
    torch.manual_seed(cfg["seed"])
    model = build_model("char_transformer", cfg["norm"], vocab_size=corpus.vocab_size,
                        **kwargs).to(dev)
    opt = make_optimizer(model.parameters(), validate_optimizer(cfg["optimizer"]))
    gen = torch.Generator().manual_seed(cfg["seed"])
    steps, log_every = cfg["steps"], cfg["log_every"]
    eval_every = cfg["eval_every"] or steps
    log = {"step": [], "loss": []}
    ev = {"step": [], "train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    status, diverged_at, t0 = "ok", None, time.perf_counter()
    for n in range(1, steps + 1):
        x, y = corpus.batch("train", cfg["batch_size"], block, gen)  # CPU generator
        x, y = x.to(dev), y.to(dev)
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = float(loss.detach())
        if n % log_every == 0 or n == 1 or n == steps:
            log["step"].append(n)
            log["loss"].append(value)
        if not math.isfinite(value):
            status, diverged_at = "diverged", n
            break
        if n % eval_every == 0 or n == steps:
            model.eval()
            tr = _char_eval(model, corpus.train, block, cfg["batch_size"], n_eval)
            te = _char_eval(model, corpus.val, block, cfg["batch_size"], n_eval)
            model.train()
            for key, v in zip(ev, (n, *tr, *te), strict=True):
                ev[key].append(v)
    return {"config": cfg, "status": status, "diverged_at": diverged_at, "log": log, "eval": ev,
            "data_sha256": corpus.sha256, "env": {"device": str(dev)},
            "timing": {"wall_time_s": time.perf_counter() - t0}}


def run_cell(cfg: dict, device: str = "cpu") -> dict:
    """Run one config through the engine that handles its task."""
    if cfg["task"] == "shakespeare":
        return run_char(cfg, device)
    from ctadam.train import run

    return run(cfg, device=device)


def final_metric(record: dict, metric: str) -> float:
    """Final held-out ``"loss"`` or ``"acc"`` of a record, as a loss to minimise.

    Accuracy is returned negated; a run that diverged or never evaluated gives ``inf``.
    """
    if metric not in ("loss", "acc"):
        raise ValueError(f"metric must be one of ('loss', 'acc'), got {metric!r}")
    values = record["eval"]["test_loss" if metric == "loss" else "test_acc"]
    if record["status"] != "ok" or not values or not math.isfinite(values[-1]):
        return math.inf
    return float(values[-1]) if metric == "loss" else -float(values[-1])


def select(task, data, norm, k, lrs, params, device="cpu") -> dict:
    """Train seed 0 at each learning rate of ``lrs``; return the records and the best rate.

    The best rate minimises :func:`final_metric` with ``params["metric"]`` (default
    ``"loss"``) on the selection split's held-out part.
    """
    metric = params.get("metric", "loss")
    records = [run_cell(train_config(task, data, norm, k, lr, 0, params), device) for lr in lrs]
    scores = [final_metric(r, metric) for r in records]
    best = int(np.argmin(scores))
    if not math.isfinite(scores[best]):
        raise RuntimeError(f"every learning rate diverged for task={task} norm={norm} k={k}")
    return {"task": task, "norm": norm, "k": k, "lrs": list(lrs), "metric": metric,
            "scores": scores, "lr": lrs[best], "records": records}


def final_values(final: dict) -> list[float]:
    """The reported metric (:data:`REPORT`) of each seed of a ``final`` record; NaN if diverged."""
    _, key, scale, _, _ = REPORT[final["task"]]
    return [scale * r["eval"][key][-1] if r["status"] == "ok" and r["eval"][key] else math.nan
            for r in final["records"]]


def optimizer_macros(finals: list[dict]) -> dict[str, str]:
    """``KadamBeta``, ``KadamGamma``, ``KadamWeightDecay``: the settings shared by every level.

    Read from the optimizer block of every run's config; a ValueError if they differ.
    """
    pairs, decays = set(), set()
    for f in finals:
        for r in f["records"]:
            opt = r["config"]["optimizer"]
            pairs.update(tuple(b) for b in opt["betas"])
            decays.add(opt["weight_decay"])
    if len(pairs) != 1 or len(decays) != 1:
        raise ValueError(f"finals must share one (beta, gamma) pair and weight decay, got "
                         f"{sorted(pairs)} and {sorted(decays)}")
    (beta, gamma), = pairs
    return {"KadamBeta": f"{beta:g}", "KadamGamma": f"{gamma:g}",
            "KadamWeightDecay": f"{decays.pop():g}"}


def table(finals: list[dict]) -> tuple[str, dict, dict]:
    """The booktabs table, the macros and a JSON summary of the final records."""
    tasks = [t for t in TASKS if any(f["task"] == t for f in finals)]
    cells = sorted({(f["k"], f["norm"]) for f in finals}, key=lambda c: (c[0], NORMS.index(c[1])))
    by_key = {(f["task"], f["k"], f["norm"]): f for f in finals}
    grid = [[final_values(by_key[(t, k, n)]) if (t, k, n) in by_key else None for t in tasks]
            for k, n in cells]
    labels = [f"{k}-Adam{' (Adam)' if k == 1 else ''}, {'LayerNorm' if n == 'layer' else 'no norm'}"
              for k, n in cells]
    tex = mean_std_table(labels, [REPORT[t][0] for t in tasks], grid,
                         [REPORT[t][3] for t in tasks], [REPORT[t][4] for t in tasks],
                         row_header="optimizer, normalization")
    macros, summary = {}, {"cells": []}
    seeds = {len(f["records"]) for f in finals}
    macros["KadamSeeds"] = str(min(seeds))
    macros.update(optimizer_macros(finals))
    macros["KadamKs"] = ", ".join(str(k) for k in sorted({f["k"] for f in finals}))
    for t in TASKS:  # every task gets its macro, so the paper builds under every profile
        macros[f"KadamBest{TASK_WORDS[t]}"] = "not run in this profile"
    for j, t in enumerate(tasks):
        means = [mean_std(row[j])[0] if row[j] is not None else math.nan for row in grid]
        best = best_index(means, REPORT[t][3])
        macros[f"KadamBest{TASK_WORDS[t]}"] = "--" if best is None else labels[best]
    for (k, n), row in zip(cells, grid, strict=True):
        for t, values in zip(tasks, row, strict=True):
            if values is None:
                continue
            mean, std = mean_std(values)
            digits = REPORT[t][4]
            name = f"Kadam{TASK_WORDS[t]}{n.capitalize()}{WORDS[k]}"
            macros[name] = f"{mean:.{digits}f} \\pm {std:.{digits}f}"
            f = by_key[(t, k, n)]
            macros[name + "Lr"] = f"{f['lr']:g}"
            summary["cells"].append({"task": t, "k": k, "norm": n, "lr": f["lr"],
                                     "values": values, "mean": mean, "std": std,
                                     "diverged": sum(r["status"] != "ok" for r in f["records"])})
    return tex, macros, summary


def diagnose(task, data, lrs, params, upper, device="cpu") -> dict:
    """Does the momentum of the upper levels explain 2-Adam's gap? (validation split only)

    Trains seed 0 without normalization at each rate of ``lrs`` with Adam, with 2-Adam using
    ``params["betas"]`` at both levels, and with 2-Adam using ``upper`` = (beta_2, gamma_2) at
    level 2; returns each variant's best final validation metric over ``lrs``.
    """
    metric = params.get("metric", "loss")
    first = list(params.get("betas", [0.9, 0.999]))
    variants = {"adam": (1, [first]), "same": (2, [first, first]),
                "upper": (2, [first, list(upper)])}
    out = {"lrs": list(lrs), "metric": metric, "upper": list(upper), "scores": {}}
    for name, (k, betas) in variants.items():
        scores = []
        for lr in lrs:
            cfg = train_config(task, data, "none", k, lr, 0, params)
            cfg["optimizer"]["betas"] = betas
            scores.append(final_metric(run_cell(cfg, device), metric))
        out["scores"][name] = scores
    return out


def diagnose_macros(res: dict) -> dict[str, str]:
    """Best validation metric of each variant (accuracy in %, or loss) as macros."""
    names = {"adam": "Adam", "same": "Same", "upper": "Upper"}
    out = {"KadamDiagUpperBeta": f"{res['upper'][0]:g}", "KadamDiagUpperGamma":
           f"{res['upper'][1]:g}"}
    for key, name in names.items():
        best = min(res["scores"][key])
        value = (f"{-100 * best:.1f}\\%" if res["metric"] == "acc" else f"{best:.3f}") \
            if math.isfinite(best) else "diverged"
        out[f"KadamDiag{name}"] = value
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("split", help="write the learning-rate selection split")
    sp.add_argument("--task", required=True, choices=TASKS)
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--n-val", type=int, default=500)
    sp.add_argument("--val-fraction", type=float, default=0.1)
    for name in ("select", "final"):
        p = sub.add_parser(name)
        p.add_argument("--task", required=True, choices=TASKS)
        p.add_argument("--data", required=True, help="selection split (select) or full data")
        p.add_argument("--norm", required=True, choices=NORMS)
        p.add_argument("--k", type=int, required=True)
        p.add_argument("--params", required=True, help="JSON object: the task's settings")
        p.add_argument("--out", required=True)
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    sub.choices["select"].add_argument("--lrs", type=float, nargs="+", required=True)
    sub.choices["final"].add_argument("--selection", required=True)
    sub.choices["final"].add_argument("--seeds", type=int, nargs="+", required=True)
    dg = sub.add_parser("diagnose", help="2-Adam with and without upper-level momentum")
    dg.add_argument("--task", required=True, choices=TASKS)
    dg.add_argument("--data", required=True, help="the selection split")
    dg.add_argument("--params", required=True)
    dg.add_argument("--lrs", type=float, nargs="+", required=True)
    dg.add_argument("--upper", type=float, nargs=2, required=True, metavar=("BETA", "GAMMA"))
    dg.add_argument("--out", required=True)
    dg.add_argument("--macros", required=True)
    tb = sub.add_parser("table", help="booktabs table, macros and summary of the final runs")
    tb.add_argument("--finals", nargs="+", required=True)
    tb.add_argument("--table", required=True)
    tb.add_argument("--macros", required=True)
    tb.add_argument("--summary", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "table":
        tex, macros, summary = table([read_json(p) for p in args.finals])
        write_text_atomic(args.table, tex)
        write_macros(args.macros, macros, "k-Adam benchmark (rule kadam_table).")
        write_json_atomic(args.summary, summary)
        return
    if args.cmd == "split":
        split(args.task, args.data, args.out, args.n_val, args.val_fraction)
        return
    import torch

    if args.cmd == "diagnose":
        torch.set_num_threads(1)
        res = diagnose(args.task, args.data, args.lrs, json.loads(args.params), args.upper)
        write_json_atomic(args.out, res)
        write_macros(args.macros, diagnose_macros(res), "k-Adam diagnosis (rule kadam_diagnose).")
        return
    torch.set_num_threads(check_int("threads", args.threads, 1))
    params = json.loads(args.params)
    if args.cmd == "select":
        lrs = [check_real("lr", lr, 0.0, low_open=True) for lr in args.lrs]
        write_json_atomic(args.out, select(args.task, args.data, args.norm, args.k, lrs,
                                           params, args.device))
        return
    lr = read_json(args.selection)["lr"]
    records = [run_cell(train_config(args.task, args.data, args.norm, args.k, lr, seed,
                                     params), args.device) for seed in args.seeds]
    write_json_atomic(args.out, {"task": args.task, "norm": args.norm, "k": args.k, "lr": lr,
                                 "seeds": args.seeds, "records": records})


if __name__ == "__main__":
    main()
