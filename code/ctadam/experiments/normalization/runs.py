r"""The normalization family's runs: norm dynamics of LayerNorm groups under AdamW.

Every run trains ``MLP(40, hidden, 10, norm="layer", norm_eps=0)`` on MNIST-1D minibatches
with AdamW through :func:`ctadam.train.run`; each hidden Linear's (weight, bias) is an exactly
scale-invariant group, and the :class:`~ctadam.trackers.ScaleInvariantStats` tracker records
for every group and step :math:`|w_{n-1}|^2`, :math:`|u_n|^2`, :math:`\langle w_{n-1}, u_n\rangle`,
:math:`\cos(w_{n-1}, u_n)` and the angular step. The grid is ``beta1 x lr x weight_decay`` of
the config section ``normalization``, each for every seed of ``seeds`` (:func:`runs`, pure
Python: the rule file calls it when the workflow is parsed).

The second run of the family, :func:`identity_run`, checks \cref{eq:wu-correction} on a
simulated group: ``torch.optim.AdamW`` on one vector driven by tangential noise
(:func:`tangential_noise_stream`), where the identity must hold to rounding. Its config is
the section's ``identity`` block and its record is the run ``identity`` of the family (rule
``normalization_identity``, ``python -m ctadam.experiments.normalization identity``).
"""

from ctadam.checks import check_int, check_real, check_unit_interval

# The run id of the identity check among the family's records.
IDENTITY_RUN = "identity"


def run_id(beta1: float, lr: float, weight_decay: float, seed: int) -> str:
    """The name of one run, e.g. ``b0.9_lr0.01_wd0.5_s0``."""
    return f"b{beta1:g}_lr{lr:g}_wd{weight_decay:g}_s{seed}"


def runs(section: dict, data: dict) -> dict[str, dict]:
    """Engine configs of the grid ``beta1 x lr x weight_decay x seeds`` of ``section``, by run id.

    ``data`` maps a task to its dataset file (:data:`ctadam.paths.DATASETS`); the runs train
    on ``data["mnist1d"]``.
    """
    data = data["mnist1d"]
    out = {}
    for b1 in section["beta1"]:
        for lr in section["lr"]:
            for wd, seed in ((w, s) for w in section["weight_decay"] for s in section["seeds"]):
                if not lr * wd < 1:
                    raise ValueError(f"normalization: lr * weight_decay must be < 1, got "
                                     f"lr={lr!r} * weight_decay={wd!r}")
                out[run_id(b1, lr, wd, seed)] = {
                    "task": "mnist1d", "data": data, "arch": "mlp", "norm": "layer",
                    "model": {"hidden": list(section["hidden"]), "norm_eps": 0.0},
                    "optimizer": {"name": "adamw", "lr": lr, "betas": [b1, section["beta2"]],
                                  "eps": section["eps"], "weight_decay": wd},
                    "steps": section["steps"], "batch_size": section["batch_size"],
                    "dtype": section["dtype"], "seed": seed,
                    "n_train": section["n_train"], "log_every": section["every"]}
    return out


def trackers(config: dict) -> list:
    """The trackers of one run: per-step geometry of every scale-invariant group."""
    from ctadam.trackers import ScaleInvariantStats

    return [ScaleInvariantStats()]


def tangential_noise_stream(beta1, lr, weight_decay, steps, dim=64, seed=0, beta2=0.999,
                            eps=1e-12) -> dict:
    r"""``torch.optim.AdamW`` on one scale-invariant vector driven by tangential noise.

    The gradient at ``w`` is :math:`(I - w w^\top/|w|^2)\,\xi/|w|` with
    :math:`\xi \sim N(0, I)`: orthogonal to ``w`` and scaling like ``1/|w|``, as for a layer
    followed by LayerNorm. Returns per-step numpy arrays ``u`` (update), ``m`` (first
    moment), ``wu`` :math:`= \langle w_{n-1}, u_n\rangle`, ``wm``
    :math:`= \langle w_{n-1}, m_n\rangle` and ``w_sq`` :math:`= |w_{n-1}|^2`.
    """
    import numpy as np
    import torch

    from ctadam.trackers import scaled_update

    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(dim, generator=gen, dtype=torch.float64).requires_grad_(True)
    opt = torch.optim.AdamW([w], lr=lr, betas=(beta1, beta2), eps=eps,
                            weight_decay=weight_decay)
    rec = {k: [] for k in ("u", "m", "wu", "w_sq", "wm")}
    for _ in range(steps):
        with torch.no_grad():
            xi = torch.randn(dim, generator=gen, dtype=torch.float64)
            norm_sq = w @ w
            w.grad = (xi - (xi @ w) / norm_sq * w) / norm_sq.sqrt()
            prev = w.detach().clone()
        opt.step()
        with torch.no_grad():
            u = scaled_update(prev, w.detach(), lr, weight_decay) / lr
            m = opt.state[w]["exp_avg"].clone()
        rec["u"].append(u.numpy())
        rec["m"].append(m.numpy())
        rec["wu"].append(float(prev @ u))
        rec["wm"].append(float(prev @ m))
        rec["w_sq"].append(float(prev @ prev))
    return {k: np.array(v) for k, v in rec.items()}


IDENTITY_KEYS = ("beta1", "beta2", "lr", "weight_decay", "eps", "steps", "dim", "seed")


def identity_run(config: dict) -> dict:
    r"""Relative error of \cref{eq:wu-correction} at every step n = 2..``steps``.

    ``config`` holds :data:`IDENTITY_KEYS`. The record has the config, ``rel_error`` (one
    value per step n >= 2) and its maximum ``max_rel_error``.
    """
    from ctadam.theory.normdynamics import momentum_inner_product

    missing = sorted(set(IDENTITY_KEYS) - set(config))
    if missing or set(config) - set(IDENTITY_KEYS):
        raise ValueError(f"identity config must have exactly the keys {IDENTITY_KEYS}, "
                         f"got {sorted(config)}")
    b1 = check_unit_interval("beta1", config["beta1"])
    lr = check_real("lr", config["lr"], 0.0, 1.0, low_open=True)
    wd = check_real("weight_decay", config["weight_decay"], 0.0, 1.0 / lr, high_open=True)
    steps = check_int("steps", config["steps"], 2)
    rec = tangential_noise_stream(b1, lr, wd, steps, check_int("dim", config["dim"], 1),
                                  check_int("seed", config["seed"], 0),
                                  check_unit_interval("beta2", config["beta2"]),
                                  check_real("eps", config["eps"], 0.0))
    errs = [abs(momentum_inner_product(rec["u"][:n], rec["m"][:n], b1, lr, wd)
                / rec["wm"][n - 1] - 1.0) for n in range(2, steps + 1)]
    return {"config": dict(config), "rel_error": errs, "max_rel_error": max(errs)}
