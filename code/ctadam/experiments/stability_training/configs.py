r"""Training against the two stable regions: the run configs of the four experiments.

Letters: docstrings use the paper's (gamma = first-moment decay = torch ``beta1``, beta =
second-moment decay = torch ``beta2``); code and config keys PyTorch's. The paper's region is
:math:`C = 2(1-\gamma)/\gamma - (1-\beta)/\beta > 0`, i.e. above :math:`\beta = \gamma/(2-\gamma)`
(:mod:`ctadam.theory.region`); the exact discrete one is :math:`\beta > \gamma^2`
(:mod:`ctadam.theory.stability`). Between them lies the *band*. A point's *band fraction*
:math:`f = (\beta - \gamma^2) / (\gamma/(2-\gamma) - \gamma^2)` is 0 on the exact boundary and
1 on the paper's.

Experiments (each a subsection of the workflow config ``stability_training``):

* ``growth`` (the paper's Fig. 2b): on each of ``lines`` (one per :math:`\gamma_0`), ``points``
  points on the normal to :math:`C = 0` through :math:`(\gamma_0, \gamma_0/(2-\gamma_0))`, the
  :math:`C = 0` point included: a training run of ``steps`` steps (one seed) per task, and a
  controlled *probe* per ``probe.tasks`` and ``probe.seeds``: trained to step
  :math:`n_0` = ``probe.start``, then every gradient scaled by :math:`c^{\,n-n_0}`
  (:math:`c` = ``probe.factor``, the engine's ``grad_scale``) for ``probe.skip`` +
  ``probe.window`` more steps;
* ``band``: at each :math:`\gamma` of ``beta1s``, the :math:`\beta` of ``fractions`` (band
  fractions), each for every seed;
* ``noise``: one :math:`\gamma`, the same band fractions, under full batch and minibatches
  (``batch_sizes``, at no weight decay) and under AdamW weight decays (full batch);
* ``speed`` (the paper's Sec. 3.3): inside the region, two lines of ``points`` values of
  :math:`C` evenly spaced in :math:`(0, C(\gamma_0, \beta_0)]`: the *beta line* varies
  :math:`\beta` at :math:`\gamma_0` (``beta1``), the *gamma line* varies :math:`\gamma` at
  :math:`\beta_0` (``beta2``); both end at :math:`(\gamma_0, \beta_0)`; every seed, with the
  held-out loss every ``eval_every`` steps on ``eval_samples`` fixed held-out windows.

Every run is a :mod:`ctadam.train` config (float64, full batch unless said, a tiny eps);
ids name the experiment's coordinates. This module imports neither torch nor numpy: the rule
file calls it at parse time.
"""

import math


def paper_beta2(beta1: float) -> float:
    """The paper's boundary C = 0: beta = gamma / (2 - gamma)."""
    return beta1 / (2.0 - beta1)


def band_beta2(beta1: float, fraction: float) -> float:
    """beta at band fraction ``fraction``: gamma^2 + f (gamma/(2-gamma) - gamma^2).

    Raises ``ValueError`` if that beta is outside (0, 1).
    """
    beta2 = beta1 * beta1 + fraction * (paper_beta2(beta1) - beta1 * beta1)
    if not 0.0 < beta2 < 1.0:
        raise ValueError(f"band fraction {fraction} at beta1={beta1} gives beta2={beta2:.4g}, "
                         "outside (0, 1)")
    return beta2


def paper_c(beta1: float, beta2: float) -> float:
    """C = 2(1-gamma)/gamma - (1-beta)/beta (pure Python; see ctadam.theory.region)."""
    return 2.0 * (1.0 - beta1) / beta1 - (1.0 - beta2) / beta2


def normal_points(beta1: float, points: int, half_length: float) -> list[tuple[float, float]]:
    r"""``points`` (gamma, beta) on the normal to C = 0 through (gamma_0, gamma_0/(2-gamma_0)).

    The normal is the gradient of C, :math:`(-2/\gamma^2, 1/\beta^2)`, normalised, so moving
    along it raises C; the offsets are ``half_length * (k - points//2) / (points//2)`` for
    k = 0 .. points-1, so offset 0 (the C = 0 point) is included and the side C < 0 gets
    the extra point when ``points`` is even.
    """
    b2 = paper_beta2(beta1)
    gx, gy = -2.0 / beta1 ** 2, 1.0 / b2 ** 2
    norm = math.hypot(gx, gy)
    mid = points // 2
    out = []
    for k in range(points):
        t = half_length * (k - mid) / mid
        out.append((beta1 + t * gx / norm, b2 + t * gy / norm))
    for g, b in out:
        if not (0.0 < g < 1.0 and 0.0 < b < 1.0):
            raise ValueError(f"half_length={half_length} leaves the unit square at "
                             f"beta1={g:.4g}, beta2={b:.4g}")
    return out


def speed_beta2s(beta1: float, beta2_max: float, points: int) -> list[float]:
    """beta for C = C_max k / points, k = 1 .. points, with C_max = C(gamma, beta2_max) > 0."""
    c_max = paper_c(beta1, beta2_max)
    if not c_max > 0:
        raise ValueError(f"beta2_max={beta2_max} must lie inside the paper's region at "
                         f"beta1={beta1} (C > 0), got C = {c_max:.4g}")
    r1 = (1.0 - beta1) / beta1
    return [1.0 / (1.0 + 2.0 * r1 - c_max * k / points) for k in range(1, points + 1)]


def speed_beta1s(beta1_max: float, beta2: float, points: int) -> list[float]:
    r"""gamma for C = C_max k / points, k = 1 .. points, at fixed beta (the gamma line).

    C_max = C(beta1_max, beta) > 0 (\cref{eq:paper-c}); solving
    :math:`2(1-\gamma)/\gamma = C + (1-\beta)/\beta` gives
    :math:`\gamma = 2 / (2 + C + (1-\beta)/\beta)`, which falls as C grows and equals
    ``beta1_max`` at C_max. Every point has C > 0, so it lies inside both regions
    (:math:`\beta > \gamma/(2-\gamma) \ge \gamma^2`).
    """
    c_max = paper_c(beta1_max, beta2)
    if not c_max > 0:
        raise ValueError(f"beta2={beta2} must lie inside the paper's region at "
                         f"beta1={beta1_max} (C > 0), got C = {c_max:.4g}")
    r2 = (1.0 - beta2) / beta2
    return [2.0 / (2.0 + c_max * k / points + r2) for k in range(1, points + 1)]


# The two lines of the speed experiment: the coordinate each varies.
SPEED_LINES = ("gamma", "beta")


def check_speed_targets(targets) -> list[float]:
    """The held-out loss targets (nats): a non-empty, strictly decreasing list of finite
    positive numbers. Raises ``ValueError`` naming ``stability_training.speed.targets``."""
    key = "stability_training.speed.targets"
    if not isinstance(targets, (list, tuple)) or not targets:
        raise ValueError(f"{key} must be a non-empty list of held-out losses in nats, "
                         f"got {targets!r}")
    out = []
    for i, t in enumerate(targets):
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) \
                or t <= 0:
            raise ValueError(f"{key}[{i}] must be a finite number > 0 (nats), got {t!r}")
        out.append(float(t))
    if any(b >= a for a, b in zip(out, out[1:], strict=False)):
        raise ValueError(f"{key} must be strictly decreasing (easiest target first), got {out}")
    return out


def speed_points(sp: dict) -> list[dict]:
    """The points of both lines: ``{line, k, beta1, beta2, c}``, k = 0 .. points-1 by rising C.

    Checks the section at parse time: ``targets`` (:func:`check_speed_targets`) and
    ``eval_every`` <= ``steps``, naming the key.
    """
    check_speed_targets(sp["targets"])
    if not 1 <= sp["eval_every"] <= sp["steps"]:
        raise ValueError(f"stability_training.speed.eval_every must be in [1, steps="
                         f"{sp['steps']}], got {sp['eval_every']}")
    pts = [("beta", sp["beta1"], b2) for b2 in speed_beta2s(sp["beta1"], sp["beta2"],
                                                               sp["points"])]
    pts += [("gamma", b1, sp["beta2"]) for b1 in speed_beta1s(sp["beta1"], sp["beta2"],
                                                                sp["points"])]
    out, seen = [], {}
    for line, b1, b2 in pts:
        k = seen.setdefault(line, 0)
        seen[line] += 1
        out.append({"line": line, "k": k, "beta1": b1, "beta2": b2, "c": paper_c(b1, b2)})
    return out


def train_config(st: dict, data: dict, task: str, beta1: float, beta2: float, seed: int,
                 steps: int, batch_size=None, weight_decay: float = 0.0, eval_every=None) -> dict:
    """The :mod:`ctadam.train` config of one run on ``task`` (a key of ``st["tasks"]``); ``data``
    maps each task to its dataset file."""
    t = st["tasks"][task]
    if task == "mnist1d":
        arch, model = "mlp", {"hidden": list(t["hidden"])}
    else:
        arch = "char_transformer"
        model = {k: t[k] for k in ("block_size", "n_layer", "n_head", "n_embd")}
    opt = {"name": "adamw" if weight_decay else "adam", "lr": t["lr"],
           "betas": [beta1, beta2], "eps": st["eps"]}
    if weight_decay:
        opt["weight_decay"] = weight_decay
    return {"task": task, "data": data[task], "arch": arch, "norm": "none", "model": model,
            "optimizer": opt, "steps": steps, "batch_size": batch_size, "dtype": st["dtype"],
            "seed": seed, "n_train": t["n_train"], "eval_samples": t["eval_samples"],
            "log_every": st["log_every"], "eval_every": eval_every,
            "diverge_norm": st["diverge_norm"]}


def _key(x: float) -> str:
    return f"{x:.6g}"


def check_probe(probe: dict, points, key: str = "stability_training.growth.probe") -> None:
    r"""Parse-time checks of the probe: ``start`` >= 1, ``skip`` >= 0, ``window`` >= 3 integers
    and :math:`0 < c < \min(\gamma, \sqrt\beta)` at every point ``(gamma, beta)``.

    Under gradients scaled by :math:`c^{\,n-n_0}` the update grows per step at
    :math:`\ln\max(\gamma, c) - \ln\max(\sqrt\beta, c)` (paper-notes P.5), which is the exact
    :math:`\rho = \ln\gamma - \tfrac12\ln\beta` (\cref{eq:growth-rate}) only when
    :math:`c < \min(\gamma, \sqrt\beta)`; a larger ``factor`` is refused, naming the key.
    """
    for name, low in (("start", 1), ("skip", 0), ("window", 3)):
        v = probe[name]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{key}.{name} must be an integer >= {low}, got {v!r}")
    c = probe["factor"]
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0.0 < c < 1.0:
        raise ValueError(f"{key}.factor must be a real in (0, 1), got {c!r}")
    for b1, b2 in points:
        bound = min(b1, math.sqrt(b2))
        if not c < bound:
            raise ValueError(f"{key}.factor = {c:g} must be below min(beta1, sqrt(beta2)) = "
                             f"{bound:.4g} at the point beta1={b1:.4g}, beta2={b2:.4g}, else the "
                             "probe's rate is not rho")


def growth_lines(g: dict) -> list[dict]:
    """Each line of ``g["lines"]`` with its points: ``{beta1, points, half_length, name,
    cells: [(beta1, beta2), ...]}``; ``name`` is ``g<beta1>`` (run ids carry it)."""
    out = []
    for i, line in enumerate(g["lines"]):
        for k in ("beta1", "points", "half_length"):
            if k not in line:
                raise ValueError(f"stability_training.growth.lines[{i}].{k} is required")
        cells = normal_points(line["beta1"], line["points"], line["half_length"])
        out.append({**line, "name": f"g{_key(line['beta1'])}", "cells": cells})
    names = [ln["name"] for ln in out]
    if len(set(names)) != len(names):
        raise ValueError(f"stability_training.growth.lines: two lines share a beta1 ({names})")
    return out


def growth_runs(st: dict, data: dict) -> dict[str, dict]:
    """Run ids ``<task>_<line>_k<index>`` (training, ``steps`` steps, seed ``seed``) and
    ``probe_<task>_<line>_k<index>_s<seed>`` (the probe: ``start + skip + window`` steps with
    ``grad_scale = {start, factor}``) -> config, for every line and point on it."""
    g, p = st["growth"], st["growth"]["probe"]
    lines = growth_lines(g)
    check_probe(p, [c for ln in lines for c in ln["cells"]])
    out = {}
    probe_steps = p["start"] + p["skip"] + p["window"]
    for ln in lines:
        for k, (b1, b2) in enumerate(ln["cells"]):
            for task in g["tasks"]:
                out[f"{task}_{ln['name']}_k{k:03d}"] = train_config(st, data, task, b1, b2,
                                                                    g["seed"], g["steps"])
            for task in p["tasks"]:
                for s in p["seeds"]:
                    cfg = train_config(st, data, task, b1, b2, s, probe_steps)
                    cfg["grad_scale"] = {"start": p["start"], "factor": p["factor"]}
                    out[f"probe_{task}_{ln['name']}_k{k:03d}_s{s}"] = cfg
    return out


def band_runs(st: dict, data: dict) -> dict[str, dict]:
    """Run id ``<task>_g<beta1>_f<fraction>_s<seed>`` -> config."""
    b = st["band"]
    return {f"{task}_g{_key(b1)}_f{_key(f)}_s{s}":
            train_config(st, data, task, b1, band_beta2(b1, f), s, b["steps"])
            for task in b["tasks"] for b1 in b["beta1s"] for f in b["fractions"]
            for s in b["seeds"]}


def noise_conditions(noise: dict) -> list[dict]:
    """The conditions: each batch size at no weight decay, each weight decay at full batch."""
    conds = [{"name": f"batch{'full' if bs is None else bs}", "batch_size": bs,
              "weight_decay": 0.0} for bs in noise["batch_sizes"]]
    conds += [{"name": f"wd{_key(wd)}", "batch_size": None, "weight_decay": wd}
              for wd in noise["weight_decays"] if wd != 0.0]
    return conds


def noise_runs(st: dict, data: dict) -> dict[str, dict]:
    """Run id ``<condition>_f<fraction>_s<seed>`` -> config (MNIST-1D)."""
    n = st["noise"]
    return {f"{c['name']}_f{_key(f)}_s{s}":
            train_config(st, data, "mnist1d", n["beta1"], band_beta2(n["beta1"], f), s,
                         n["steps"], c["batch_size"], c["weight_decay"])
            for c in noise_conditions(n) for f in n["fractions"] for s in n["seeds"]}


def speed_runs(st: dict, data: dict) -> dict[str, dict]:
    """Run id ``<line>_k<index>_s<seed>`` -> config (Shakespeare, held-out loss every
    ``eval_every`` steps).

    The speed section's ``n_train``, ``block_size`` and ``eval_samples`` replace the task's
    (more training text, and a larger fixed held-out set: ``eval_samples`` evenly spaced
    validation windows, the same at every evaluation).
    """
    sp = st["speed"]
    points = speed_points(sp)  # checks the section first
    shakespeare = {**st["tasks"]["shakespeare"], "n_train": sp["n_train"],
                   "block_size": sp["block_size"], "eval_samples": sp["eval_samples"]}
    st = {**st, "tasks": {**st["tasks"], "shakespeare": shakespeare}}
    return {f"{p['line']}_k{p['k']:02d}_s{s}":
            train_config(st, data, "shakespeare", p["beta1"], p["beta2"], s, sp["steps"],
                         eval_every=sp["eval_every"])
            for p in points for s in sp["seeds"]}


# The run builders of the experiments, in the order the family lists them.
RUNS = {"growth": growth_runs, "band": band_runs, "noise": noise_runs, "speed": speed_runs}
