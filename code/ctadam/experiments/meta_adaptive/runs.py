r"""The meta-adaptive family's runs: normalization as a hidden second level of adaptivity.

**Stream runs** train a LayerNorm MLP with AdamW, with and without weight decay (one run per
entry of ``stream.weight_decay`` and seed of ``stream.seeds``), through
:func:`ctadam.train.run` with the
:class:`~ctadam.trackers.LevelTwoStats` tracker on the first scale-invariant group ``w``. The
normalized weights ``w/|w|`` turn by about :math:`\eta|u_n|/|w_{n-1}|` per step, and the closed
norm recursion (\cref{eq:norm-recursion}) makes :math:`|w_{n-1}|^2` an exponential moving
average of :math:`|u|^2` with decay :math:`\rho = (1-\eta\lambda)^2` for :math:`\lambda > 0`
(\cref{eq:meta-adaptive}) and a running sum, as in AdaGrad, for :math:`\lambda = 0`
(\cref{eq:meta-adaptive-sum}): a second RMS normalization of Adam's update, pooled over the
group, without momentum. The tracker also sets the move of ``w/|w|`` beside k-Adam's
per-coordinate level 2 on the same stream.

**Training runs** compare the :data:`VARIANTS` on the same MNIST-1D task: AdamW + LayerNorm,
2-Adam without normalization (level 2 ``betas = (0, rho)``) and AdamW without normalization.

Every config comes from the section ``meta_adaptive`` (:func:`runs`, pure Python: the rule
file calls it when the workflow is parsed).
"""

from ctadam.theory.normdynamics import implicit_decay

# The training comparison: run id suffix -> (figure label, macro name part). The one list.
VARIANTS = {"adam_ln": ("AdamW + LayerNorm", "AdamLN"),
            "kadam2_none": ("2-Adam, no norm", "TwoAdam"),
            "adam_none": ("AdamW, no norm", "AdamNoNorm")}


def stream_id(weight_decay: float, seed: int) -> str:
    return f"stream_wd{weight_decay:g}_s{seed}"


def level_two_betas(train: dict) -> list[float]:
    r"""2-Adam's level-2 ``[beta1, beta2]``: ``[0, rho]``, :math:`\rho = (1-\eta\lambda)^2`.

    :math:`\rho` is the decay of the implicit level of LayerNorm (\cref{eq:meta-adaptive}).
    Without weight decay it is ``[0, beta2]``, which is *not* the counterpart of the implicit
    level: that level is then a running sum (the angle decays like :math:`n^{-1/2}`), whereas
    k-Adam's bias-corrected level 2 divides by a weighted *mean* of :math:`u^2` for every
    decay; it is then only a momentum-free 2-Adam baseline.
    """
    lr, wd = train["lr"], train["weight_decay"]
    return [0.0, implicit_decay(lr, wd) if wd > 0 else train["beta2"]]


def _mlp(s: dict, data: str, norm: str, model: dict, optimizer: dict, seed: int) -> dict:
    return {"task": "mnist1d", "data": data, "arch": "mlp", "norm": norm, "model": model,
            "optimizer": {"lr": s["lr"], "eps": s["eps"], **optimizer},
            "steps": s["steps"], "batch_size": s["batch_size"], "dtype": s["dtype"],
            "seed": seed, "n_train": s["n_train"]}


def runs(section: dict, data: dict) -> dict[str, dict]:
    """Engine configs of the stream runs and the training variants, by run id.

    ``data`` maps a task to its dataset file (:data:`ctadam.paths.DATASETS`); every run
    trains on ``data["mnist1d"]``.
    """
    data = data["mnist1d"]
    s, t = section["stream"], section["train"]
    out = {}
    for wd in s["weight_decay"]:
        if not s["lr"] * wd < 1:
            raise ValueError(f"meta_adaptive.stream: lr * weight_decay must be < 1, got "
                             f"lr={s['lr']!r} * weight_decay={wd!r}")
        for seed in s["seeds"]:
            cfg = _mlp(s, data, "layer", {"hidden": list(s["hidden"]), "norm_eps": 0.0},
                       {"name": "adamw", "betas": [s["beta1"], s["beta2"]], "weight_decay": wd},
                       seed)
            out[stream_id(wd, seed)] = {**cfg, "log_every": s["every"]}
    level1 = [t["beta1"], t["beta2"]]
    for variant in VARIANTS:
        if variant == "kadam2_none":
            opt = {"name": "kadam", "k": 2, "betas": [level1, level_two_betas(t)]}
        else:
            opt = {"name": "adamw", "betas": level1}
        opt["weight_decay"] = t["weight_decay"]
        cfg = _mlp(t, data, "layer" if variant == "adam_ln" else "none",
                   {"hidden": list(t["hidden"])}, opt, t["seed"])
        out[f"train_{variant}"] = {**cfg, "log_every": t["log_every"],
                                   "eval_every": t["eval_every"]}
    return out


def trackers(config: dict) -> list:
    """The trackers of one run: the level-2 comparison (a no-op without normalization)."""
    from ctadam.trackers import LevelTwoStats

    return [LevelTwoStats()]
