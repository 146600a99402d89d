r"""The meta-adaptive family's summary and publication: records in, one summary, macros.

:func:`summarize` reduces the records of :mod:`ctadam.experiments.meta_adaptive.runs` to one
summary:
for every stream run the measured angle of ``w/|w|`` per step beside the pooled level-2
prediction :math:`\eta|u_n|/|w_{n-1}|` with :math:`|w_{n-1}|^2` from the closed recursion
driven by the measured :math:`|u_n|^2` (:func:`~ctadam.theory.normdynamics.norm_sq_trajectory`,
naive and corrected constant; \cref{eq:meta-adaptive,eq:meta-adaptive-sum}), the cosine with
k-Adam's per-coordinate level 2, and their medians; for every training variant its loss curve,
effective step :math:`\eta|u|/|\theta|` of the first layer and final metrics. :func:`publish`
writes the ``\MetaAdaptive...`` macros (no table). Neither trains.
"""

import numpy as np

from ctadam.checks import check_int
from ctadam.experiments.meta_adaptive.runs import VARIANTS
from ctadam.theory import normdynamics as nd

TABLES = ()


def stream_summary(record: dict, every: int) -> dict:
    """Measured and predicted angles of one stream run (every ``every`` steps) and medians."""
    opt = record["config"]["optimizer"]
    lr, wd, b1 = opt["lr"], opt["weight_decay"], opt["betas"][0][0]
    level = record["trackers"]["level_two"]
    series = level["series"][level["group"]]
    u_sq, angle = np.asarray(series["u_sq"]), np.asarray(series["angle"])
    out = {"lr": lr, "weight_decay": wd, "beta1": b1, "rho": level["rho"],
           "seed": record["config"]["seed"],
           "group": level["group"], "status": record["status"],
           "step": list(range(1, len(angle) + 1, every)), "angle": angle[::every].tolist(),
           "cos_level2": level["cos_level2"][::every],
           "median_cos_level2": float(np.median(level["cos_level2"]))}
    for pred in ("naive", "corrected"):
        traj = nd.norm_sq_trajectory(series["w_sq"][0], u_sq, lr, wd, b1, pred == "corrected")
        predicted = lr * np.sqrt(u_sq) / np.sqrt(traj[:-1])
        out[f"predicted_{pred}"] = predicted[::every].tolist()
        out[f"median_ratio_{pred}"] = float(np.median(angle / predicted))
    return out


def train_summary(variant: str, record: dict) -> dict:
    """Loss curve, first layer's effective step and final metrics of one training variant."""
    log, ev = record["log"], record["eval"]
    first = sorted(log["groups"])[0]
    g = log["groups"][first]
    return {"variant": variant, "label": VARIANTS[variant][0], "status": record["status"],
            "step": log["step"], "loss": log["loss"],
            "effective_step": (np.asarray(g["update_norm"]) / np.asarray(g["param_norm"])
                               ).tolist(),
            "test_acc": ev["test_acc"][-1] if ev["test_acc"] else None,
            "train_loss": ev["train_loss"][-1] if ev["train_loss"] else None,
            "optimizer": record["config"]["optimizer"]}


def summarize(records: dict[str, dict], section: dict) -> dict:
    """The family's summary from its records (by run id); the stream curves are thinned to
    every ``section["stream"]["every"]``-th step."""
    every = check_int("meta_adaptive.stream.every", section["stream"]["every"], 1)
    streams = sorted((r for k, r in records.items() if k.startswith("stream_")),
                     key=lambda r: (-r["config"]["optimizer"]["weight_decay"],
                                    r["config"]["seed"]))
    missing = [f"train_{v}" for v in VARIANTS if f"train_{v}" not in records]
    if not streams or missing:
        raise ValueError(f"records must hold at least one stream run and every training "
                         f"variant; missing {missing or ['stream_*']}")
    runs = [stream_summary(r, every) for r in streams]
    first = min(r["seed"] for r in runs)
    medians = ("median_ratio_naive", "median_ratio_corrected", "median_cos_level2")
    return {"every": every, "stream": [r for r in runs if r["seed"] == first],
            "stream_seeds": [{k: r[k] for k in ("seed", "weight_decay", *medians)}
                             for r in runs],
            "train": [train_summary(v, records[f"train_{v}"]) for v in VARIANTS]}


def macros(summary: dict) -> dict[str, str]:
    """Stream agreement (with and without decay), the settings the paper states and the
    final metrics of the training variants."""
    out = {}
    for run in summary["stream"]:
        tag = "Decay" if run["weight_decay"] > 0 else "NoDecay"
        out[f"MetaAdaptiveRatioCorrected{tag}"] = f"{run['median_ratio_corrected']:.3f}"
        out[f"MetaAdaptiveRatioNaive{tag}"] = f"{run['median_ratio_naive']:.2f}"
        out[f"MetaAdaptiveCosLevelTwo{tag}"] = f"{run['median_cos_level2']:.3f}"
        out[f"MetaAdaptiveLambda{tag}"] = f"{run['weight_decay']:g}"
    momenta = {run["beta1"] for run in summary["stream"]}
    if len(momenta) != 1:
        raise ValueError(f"stream runs must share beta1, got {sorted(momenta)}")
    out["MetaAdaptiveStreamMomentum"] = f"{momenta.pop():g}"
    two = next(t for t in summary["train"] if t["variant"] == "kadam2_none")["optimizer"]
    out["MetaAdaptiveTrainLambda"] = f"{two['weight_decay']:g}"
    out["MetaAdaptiveTrainLevelTwoDecay"] = f"{two['betas'][1][1]:.5g}"
    for t in summary["train"]:
        name = VARIANTS[t["variant"]][1]
        acc = "--" if t["test_acc"] is None else f"{100 * t['test_acc']:.1f}\\%"
        out[f"MetaAdaptiveAcc{name}"] = acc if t["status"] == "ok" else "diverged"
        out[f"MetaAdaptiveLoss{name}"] = ("--" if t["train_loss"] is None
                                          else f"{t['train_loss']:.3f}")
    return out


CLAIMS = ("meta-adaptive",)
CLAIM = ("a normalization layer applies a second, implicit adaptive normalization to Adam's "
         "update: w/|w| moves by eta |u_n| / |w_{n-1}| with |w|^2 an EMA of |u|^2 (pooled, no "
         "momentum, decay (1 - eta lambda)^2; Sec. 4.2)")


def claim(summary: dict, section: dict) -> dict:
    """The row ``meta-adaptive``. Rule, fixed before the runs: per seed of the stream run with
    weight decay, the median ratio of the measured angular step to the pooled level-2 prediction
    with the momentum-corrected constant (\\cref{eq:meta-adaptive}); its mean over seeds with a
    Student-t interval at ``verdicts.alpha``; :func:`ctadam.claims.ratio_verdict` with
    ``verdicts.rate_tolerance``."""
    from ctadam.claims import mean_interval, ratio_verdict, row

    v = section["verdicts"]
    ratios = [r["median_ratio_corrected"] for r in summary["stream_seeds"]
              if r["weight_decay"] > 0]
    mean, interval = mean_interval(ratios, v["alpha"])
    measure = ("measured angular step of w/|w| over the level-2 prediction (corrected constant), "
               "median over steps per seed, mean over seeds with t interval; reproduced within "
               f"+-{100 * v['rate_tolerance']:g} %")
    return row("meta-adaptive", CLAIM,
               ratio_verdict(interval, v["rate_tolerance"], len(ratios), v["min_seeds"]),
               measure, mean, interval, len(ratios), "meta_adaptive_summary")


def publish(summary: dict, section: dict) -> dict:
    """The ``\\MetaAdaptive...`` macros and the claim; the family has no table."""
    out = macros(summary)
    out["MetaAdaptiveSeeds"] = str(len({r["seed"] for r in summary["stream_seeds"]}))
    return {"macros": out, "tables": {}, "claims": [claim(summary, section)]}
