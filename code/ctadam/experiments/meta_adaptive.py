r"""The meta-adaptive effect of normalization, measured (paper-notes Claim 4).

**stream**: train a LayerNorm MLP with AdamW (and with plain Adam, ``lambda = 0``) and follow
the first scale-invariant group ``w``. The normalized weights ``w / |w|`` turn by the angle
``~ eta |u_n| / |w_{n-1}|`` per step, and the closed norm recursion of
:mod:`ctadam.theory.normdynamics` (\label{eq:norm-recursion}) makes ``|w_{n-1}|^2`` an
exponential moving average of ``|u|^2`` with decay ``rho = (1 - eta lambda)^2``. For
``lambda > 0`` (``rho < 1``; ``V_0 = (1 - rho) |w_0|^2 / (eta^2 c)``)

.. math::

    \frac{\eta |u_n|}{|w_{n-1}|} = \sqrt{\frac{1-\rho}{c}}\,
        \frac{|u_n|}{\sqrt{V_{n-1}}}, \qquad V_n = \rho V_{n-1} + (1-\rho) |u_n|^2,

and for ``lambda = 0`` (``rho = 1``, where the prefactor above vanishes and ``V`` stays
constant, so that form does not apply) the average becomes a running sum, as in AdaGrad:

.. math::

    \frac{\eta |u_n|}{|w_{n-1}|} = \frac{\eta |u_n|}
        {\sqrt{|w_0|^2 + \eta^2 c \sum_{k<n} |u_k|^2}} .

Both are a second RMS normalization of Adam's update, pooled over the group, without momentum
(\label{eq:meta-adaptive}). For every step the record holds the measured angle, this
prediction (from the measured ``|u_n|^2`` through
:func:`ctadam.theory.normdynamics.norm_sq_trajectory`, which covers both cases; naive
``c = 1`` and corrected ``c``), and the cosine between the measured tangential move of
``w/|w|`` and the per-coordinate level-2 update that k-Adam would compute from the same
stream (``beta_2 = 0, gamma_2 = rho``; for ``rho = 1`` a running sum), which tells how much
pooling over the group matters.

**train**: Adam(W) + LayerNorm, 2-Adam without normalization and Adam(W) without
normalization on the same MNIST-1D task through :func:`ctadam.train.run` (records with
training curves and per-layer update/parameter norms, whose ratio is the effective step).
"""

import argparse
import json

import numpy as np

from ctadam.checks import check_int, check_real, check_unit_interval
from ctadam.io import read_json, write_json_atomic, write_macros
from ctadam.theory import normdynamics as nd

VARIANTS = ("adam_ln", "kadam2_none", "adam_none")


def stream(data, hidden, eta, lam, beta, gamma, steps, batch_size, seed, every) -> dict:
    """One AdamW run on a LayerNorm MLP with the meta-adaptive comparison on its first group."""
    import torch

    from ctadam import models
    from ctadam.experiments.normdyn import GroupTracker, minibatches

    torch.manual_seed(seed)
    model = models.MLP(in_features=data.x_train.shape[1], hidden=hidden, norm="layer",
                       norm_eps=0.0).double()
    opt = torch.optim.AdamW(model.parameters(), lr=eta, betas=(beta, gamma), eps=1e-8,
                            weight_decay=lam)
    groups = models.scale_invariant_groups(model)
    first = next(iter(groups))
    tracker = GroupTracker(model, eta, lam, {first: groups[first]})
    rho = float(nd.contraction(eta, lam))
    x, y = data.x_train.double(), data.y_train
    batches = minibatches(len(y), batch_size, torch.Generator().manual_seed(seed))
    v2, cos_level2, losses = None, [], []
    for n in range(1, steps + 1):
        idx = next(batches)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        tracker.before()
        prev = tracker.prev[first]
        opt.step()
        tracker.after()
        u = tracker.last_u[first]
        # k-Adam's level 2 on the same stream, per coordinate: beta_2 = 0, gamma_2 = rho
        # (bias-corrected); for rho = 1 (no weight decay) a running sum, as in AdaGrad.
        if rho < 1:
            v2 = (1 - rho) * u * u if v2 is None else rho * v2 + (1 - rho) * u * u
            u2 = u / (v2 / (1 - rho**n)).sqrt().clamp_min(1e-300)
        else:
            v2 = u * u if v2 is None else v2 + u * u
            u2 = u / (v2 / n).sqrt().clamp_min(1e-300)
        cur = tracker.flat(first)
        move = prev / prev.norm() - cur / cur.norm()
        radial = prev / prev.norm()
        u2_t = u2 - (u2 @ radial) * radial
        cos_level2.append(float(move @ u2_t / (move.norm() * u2_t.norm())))
        losses.append(float(loss.detach()))
    series = tracker.series[first]
    u_sq = np.asarray(series["u_sq"])
    pred = {}
    for name, corrected in (("naive", False), ("corrected", True)):
        traj = nd.norm_sq_trajectory(series["w_sq"][0], u_sq, eta, lam, beta, corrected)
        pred[name] = (eta * np.sqrt(u_sq) / np.sqrt(traj[:-1])).tolist()
    return {"eta": eta, "lam": lam, "beta": beta, "gamma": gamma, "rho": rho, "steps": steps,
            "group": first, "every": every, "loss": losses[::every],
            "angle": series["angle"][::every],
            "predicted_naive": pred["naive"][::every],
            "predicted_corrected": pred["corrected"][::every],
            "cos_level2": cos_level2[::every],
            "median_ratio_corrected": float(np.median(
                np.asarray(series["angle"]) / np.asarray(pred["corrected"]))),
            "median_ratio_naive": float(np.median(
                np.asarray(series["angle"]) / np.asarray(pred["naive"]))),
            "median_cos_level2": float(np.median(cos_level2))}


def train_config(variant: str, data: str, base: dict) -> dict:
    r"""The :mod:`ctadam.train` config of one variant of the three-way comparison.

    ``base`` holds ``lr, beta, gamma, weight_decay, steps, batch_size, n_train, hidden, seed,
    log_every, eval_every``. 2-Adam uses ``(beta, gamma)`` at level 1 and ``(0, rho)`` at level
    2 with ``rho = (1 - lr weight_decay)^2``, the decay of the implicit level of LayerNorm
    (\label{eq:meta-adaptive}). Without weight decay it uses ``(0, gamma)``, which is *not* the
    counterpart of the implicit level: that level is then a running sum (the angle decays like
    ``n^{-1/2}``), whereas k-Adam's bias-corrected level 2 divides by a weighted *mean* of
    ``u^2`` for every ``gamma_2`` and cannot reproduce the decay. It is then only a
    momentum-free 2-Adam baseline (paper Sec. \label{sec:meta-adaptive} says so).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    lr, wd = base["lr"], base["weight_decay"]
    level1 = [base["beta"], base["gamma"]]
    rho = (1 - lr * wd) ** 2 if wd > 0 else base["gamma"]
    if variant == "kadam2_none":
        opt = {"name": "kadam", "k": 2, "betas": [level1, [0.0, rho]]}
    else:
        opt = {"name": "adamw", "betas": level1}
    opt.update(lr=lr, weight_decay=wd)
    return {"task": "mnist1d", "data": data, "arch": "mlp",
            "norm": "layer" if variant == "adam_ln" else "none",
            "model": {"hidden": list(base["hidden"])}, "optimizer": opt,
            "steps": base["steps"], "batch_size": base["batch_size"],
            "n_train": base["n_train"], "seed": base["seed"], "log_every": base["log_every"],
            "eval_every": base["eval_every"]}


def numbers(stream_rec: dict, train_recs: dict[str, dict]) -> dict[str, str]:
    """Macros: stream agreement (runs with and without decay), the settings the paper states
    (stream beta, training weight decay, 2-Adam's level-2 gamma) and final test accuracies."""
    out = {}
    for run in stream_rec["runs"]:
        tag = "Decay" if run["lam"] > 0 else "NoDecay"
        out[f"MetaRatioCorrected{tag}"] = f"{run['median_ratio_corrected']:.3f}"
        out[f"MetaRatioNaive{tag}"] = f"{run['median_ratio_naive']:.2f}"
        out[f"MetaCosLevelTwo{tag}"] = f"{run['median_cos_level2']:.3f}"
        out[f"MetaLambda{tag}"] = f"{run['lam']:g}"
    betas = {run["beta"] for run in stream_rec["runs"]}
    if len(betas) != 1:
        raise ValueError(f"stream runs must share beta, got {sorted(betas)}")
    out["MetaStreamBeta"] = f"{betas.pop():g}"
    two = train_recs["kadam2_none"]["config"]["optimizer"]
    out["MetaTrainLambda"] = f"{two['weight_decay']:g}"
    out["MetaTrainGammaTwo"] = f"{two['betas'][1][1]:.5g}"
    names = {"adam_ln": "AdamLN", "kadam2_none": "TwoAdam", "adam_none": "AdamNoNorm"}
    for variant, rec in train_recs.items():
        ev = rec["eval"]
        acc = f"{100 * ev['test_acc'][-1]:.1f}\\%" if ev["test_acc"] else "--"
        out[f"MetaAcc{names[variant]}"] = acc if rec["status"] == "ok" else "diverged"
        out[f"MetaLoss{names[variant]}"] = f"{ev['train_loss'][-1]:.3f}" if ev["train_loss"] \
            else "--"
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stream", help="same-stream comparison with the level-2 normalization")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--eta", type=float, default=1e-2)
    s.add_argument("--lams", type=float, nargs="+", default=[0.5, 0.0])
    s.add_argument("--beta", type=float, default=0.9)
    s.add_argument("--gamma", type=float, default=0.999)
    s.add_argument("--hidden", type=int, nargs="+", default=[64])
    s.add_argument("--n-train", type=int, default=1000)
    s.add_argument("--batch-size", type=int, default=100)
    s.add_argument("--steps", type=int, default=2000)
    s.add_argument("--every", type=int, default=5)
    s.add_argument("--seed", type=int, default=0)
    t = sub.add_parser("train", help="one variant of the three-way training comparison")
    t.add_argument("--variant", required=True, choices=VARIANTS)
    t.add_argument("--data", required=True)
    t.add_argument("--params", required=True, help="JSON object: see train_config")
    t.add_argument("--out", required=True)
    for p in (s, t):
        p.add_argument("--threads", type=int, default=1)
    m = sub.add_parser("numbers", help="LaTeX macros from the stream and training records")
    m.add_argument("--stream", required=True)
    m.add_argument("--train", nargs=3, required=True, metavar=VARIANTS,
                   help="records of " + ", ".join(VARIANTS) + " in this order")
    m.add_argument("--macros", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "numbers":
        recs = {v: read_json(p) for v, p in zip(VARIANTS, args.train, strict=True)}
        write_macros(args.macros, numbers(read_json(args.stream), recs),
                     "Meta-adaptive effect (rule meta_adaptive_numbers).")
        return
    import torch

    from ctadam.data import load_mnist1d

    torch.set_num_threads(check_int("threads", args.threads, 1))
    if args.cmd == "train":
        from ctadam.train import run

        run(train_config(args.variant, args.data, json.loads(args.params)), out=args.out)
        return
    eta = check_real("eta", args.eta, 0.0, 1.0, low_open=True)
    lams = [check_real("lambda", lam, 0.0, 1.0 / eta, high_open=True) for lam in args.lams]
    data = load_mnist1d(args.data, n_train=check_int("n_train", args.n_train, 1))
    runs = [stream(data, tuple(args.hidden), eta, lam, check_unit_interval("beta", args.beta),
                   check_unit_interval("gamma", args.gamma), check_int("steps", args.steps, 2),
                   check_int("batch_size", args.batch_size, 1, args.n_train), args.seed,
                   check_int("every", args.every, 1))
            for lam in lams]
    write_json_atomic(args.out, {"experiment": "meta_adaptive_stream", "runs": runs,
                                 "data_sha256": data.sha256, "n_train": args.n_train})


if __name__ == "__main__":
    main()
