r"""Norm dynamics of LayerNorm networks under AdamW, measured step by step.

One run trains ``MLP(40, hidden, 10, norm="layer", norm_eps=0)`` (each hidden Linear's
(weight, bias) is an exactly scale-invariant group) with ``torch.optim.AdamW`` on MNIST-1D
minibatches and, for every group and step n, records from the iterates themselves

* ``|w_{n-1}|^2``, Adam's update ``u_n = ((1 - eta lambda) w_{n-1} - w_n) / eta``, ``|u_n|^2``,
* ``<w_{n-1}, u_n>`` and ``cos(w_{n-1}, u_n)``,
* the angular step ``angle(w_{n-1}, w_n)``.

The tail (last quarter of the steps) is averaged and set beside the naive and
momentum-corrected predictions of :mod:`ctadam.theory.normdynamics`
(eqs. \label{eq:norm-equilibrium}, \label{eq:angular-step}), evaluated at the measured mean
``|u|^2``. Run a grid as ``python -m ctadam.experiments.normdyn --data ... --out rec.json
--beta 0.9 --etas 1e-3 3e-3 --lams 0.5 1 --steps 3000``.
"""

import argparse
import math
import time

import numpy as np
import torch

from ctadam import models
from ctadam.checks import check_int, check_real, check_unit_interval
from ctadam.data import load_mnist1d
from ctadam.io import write_json_atomic
from ctadam.theory import normdynamics as nd


class GroupTracker:
    """Per-step statistics of the scale-invariant groups of a model.

    Call :meth:`before` just before ``optimizer.step()`` and :meth:`after` just after it;
    :attr:`prev` then holds each group's flat weights ``w_{n-1}`` before the step and
    :attr:`last_u` its flat update ``u_n`` (float64); :meth:`flat` gives the current weights.
    ``eta`` and ``lam`` define ``u_n = ((1 - eta lambda) w_{n-1} - w_n) / eta``; for a
    plain optimizer without decoupled decay pass ``lam = 0``.
    """

    FIELDS = ("w_sq", "u_sq", "wu", "cos", "angle")

    def __init__(self, model, eta: float, lam: float, groups=None):
        groups = models.scale_invariant_groups(model) if groups is None else groups
        params = dict(model.named_parameters())
        self.groups = {g: [params[n] for n in names] for g, names in groups.items()}
        self.eta, self.lam = eta, lam
        self.series = {g: {f: [] for f in self.FIELDS} for g in self.groups}
        self.prev = {}
        self.last_u = {}

    def flat(self, group) -> torch.Tensor:
        """The group's current parameters as one flat float64 vector."""
        return torch.cat([p.detach().reshape(-1) for p in self.groups[group]]).double()

    def before(self) -> None:
        self.prev = {g: self.flat(g) for g in self.groups}

    def after(self) -> dict:
        """Record and return this step's statistics ``{group: {field: value}}``."""
        out = {}
        for g in self.groups:
            prev, cur = self.prev[g], self.flat(g)
            u = ((1.0 - self.eta * self.lam) * prev - cur) / self.eta
            self.last_u[g] = u
            w_sq, u_sq, wu = float(prev @ prev), float(u @ u), float(prev @ u)
            a, b = prev / prev.norm(), cur / cur.norm()
            stats = {"w_sq": w_sq, "u_sq": u_sq, "wu": wu,
                     "cos": wu / math.sqrt(w_sq * u_sq) if u_sq > 0 else 0.0,
                     "angle": 2.0 * math.asin(min(1.0, float((a - b).norm()) / 2.0))}
            for f, v in stats.items():
                self.series[g][f].append(v)
            out[g] = stats
        return out


def minibatches(n: int, batch_size: int, generator: torch.Generator):
    """Endless minibatch index tensors: a fresh permutation of ``range(n)`` every epoch."""
    while True:
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start:start + batch_size]


def tangential_noise_stream(beta, eta, lam, steps, d=64, seed=0) -> dict:
    r"""``torch.optim.AdamW`` on one scale-invariant vector driven by tangential noise.

    The gradient at ``w`` is ``(I - w w^T / |w|^2) xi / |w|`` with ``xi ~ N(0, I)``: orthogonal
    to ``w`` and scaling like ``1 / |w|``, as for a layer followed by LayerNorm. Returns per-step
    arrays ``u`` (update), ``m`` (first moment), ``wu = <w_{n-1}, u_n>``,
    ``wm = <w_{n-1}, m_n>`` and ``w_sq = |w_{n-1}|^2``; used to check
    eq. \label{eq:wu-correction} (:func:`ctadam.theory.normdynamics.momentum_inner_product`).
    """
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=gen, dtype=torch.float64).requires_grad_(True)
    opt = torch.optim.AdamW([w], lr=eta, betas=(beta, 0.999), eps=1e-12, weight_decay=lam)
    rec = {k: [] for k in ("u", "m", "wu", "w_sq", "wm")}
    for _ in range(steps):
        with torch.no_grad():
            xi = torch.randn(d, generator=gen, dtype=torch.float64)
            norm_sq = w @ w
            w.grad = (xi - (xi @ w) / norm_sq * w) / norm_sq.sqrt()
            prev = w.detach().clone()
        opt.step()
        with torch.no_grad():
            u = ((1 - eta * lam) * prev - w) / eta
            m = opt.state[w]["exp_avg"].clone()
        rec["u"].append(u.numpy())
        rec["m"].append(m.numpy())
        rec["wu"].append(float(prev @ u))
        rec["wm"].append(float(prev @ m))
        rec["w_sq"].append(float(prev @ prev))
    return {k: np.array(v) for k, v in rec.items()}


def tail_summary(series: dict, eta: float, lam: float, beta: float, tail: float) -> dict:
    """Tail averages of one group's series beside the naive and corrected predictions."""
    n = len(series["w_sq"])
    start = int(n * (1.0 - tail))
    mean = {f: float(np.mean(series[f][start:])) for f in GroupTracker.FIELDS}
    out = {"measured": {"norm": math.sqrt(mean["w_sq"]), "angle": mean["angle"],
                        "cos": mean["cos"], "u_sq": mean["u_sq"]}}
    for name, corrected in (("naive", False), ("corrected", True)):
        out[name] = {
            "norm": float(np.sqrt(nd.equilibrium_norm_sq(eta, lam, beta, mean["u_sq"],
                                                         corrected))),
            "angle": float(nd.equilibrium_angular_step(eta, lam, beta, corrected)),
            "cos": float(nd.equilibrium_cosine(eta, lam, beta, corrected)),
        }
    return out


def run_one(data, hidden, eta, lam, beta, gamma, steps, batch_size, seed, tail, every):
    """Train one AdamW run and return its record (tail summaries and thinned series)."""
    torch.manual_seed(seed)
    model = models.MLP(in_features=data.x_train.shape[1], hidden=hidden, norm="layer",
                       norm_eps=0.0).double()
    opt = torch.optim.AdamW(model.parameters(), lr=eta, betas=(beta, gamma), eps=1e-8,
                            weight_decay=lam)
    tracker = GroupTracker(model, eta, lam)
    x, y = data.x_train.double(), data.y_train
    batches = minibatches(len(y), batch_size, torch.Generator().manual_seed(seed))
    losses = []
    for _ in range(steps):
        idx = next(batches)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        tracker.before()
        opt.step()
        tracker.after()
        losses.append(float(loss.detach()))
    groups = {}
    for g, series in tracker.series.items():
        groups[g] = tail_summary(series, eta, lam, beta, tail)
        groups[g]["series"] = {f: series[f][::every] for f in GroupTracker.FIELDS}
        groups[g]["w0_sq"] = series["w_sq"][0]
        groups[g]["u_sq_all"] = series["u_sq"]
    return {"eta": eta, "lam": lam, "beta": beta, "gamma": gamma, "seed": seed,
            "steps": steps, "every": every, "loss": losses[::every], "groups": groups}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="MNIST-1D .npz cache")
    parser.add_argument("--out", required=True, help="JSON record to write")
    parser.add_argument("--beta", type=float, required=True)
    parser.add_argument("--etas", type=float, nargs="+", required=True)
    parser.add_argument("--lams", type=float, nargs="+", required=True)
    parser.add_argument("--gamma", type=float, default=0.999)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64])
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--tail", type=float, default=0.25)
    parser.add_argument("--every", type=int, default=10, help="keep every k-th step of series")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    beta = check_unit_interval("beta", args.beta)
    gamma = check_unit_interval("gamma", args.gamma)
    for eta in args.etas:
        check_real("eta", eta, 0.0, 1.0, low_open=True)
    for lam in args.lams:
        check_real("lambda", lam, 0.0, 1.0 / max(args.etas), low_open=True, high_open=True)
    steps = check_int("steps", args.steps, 4)
    batch = check_int("batch_size", args.batch_size, 1, args.n_train)
    tail = check_real("tail", args.tail, 0.0, 1.0, low_open=True)
    torch.set_num_threads(args.threads)
    data = load_mnist1d(args.data, n_train=check_int("n_train", args.n_train, 1))
    start = time.perf_counter()
    runs = [run_one(data, tuple(args.hidden), eta, lam, beta, gamma, steps, batch, args.seed,
                    tail, check_int("every", args.every, 1))
            for eta in args.etas for lam in args.lams]
    write_json_atomic(args.out, {"experiment": "normdyn", "beta": beta, "tail": tail,
                                 "n_train": args.n_train, "batch_size": batch,
                                 "hidden": args.hidden, "data_sha256": data.sha256,
                                 "wall_s": time.perf_counter() - start, "runs": runs})


if __name__ == "__main__":
    main()
