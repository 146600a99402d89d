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
* ``band``: at each :math:`\gamma` of ``beta1s``, points outside the exact region at equal
  exact rate :math:`\rho` (``rhos``, :math:`\beta = (\gamma/e^\rho)^2`), in the band
  (``band_fractions``) and inside both regions (``inside_fractions``), each for every seed and
  task, each cell for the steps :func:`cell_horizon` picks from its rates (``base_steps`` to
  ``max_steps``);
* ``noise``: the same kind of line at one :math:`\gamma` (MNIST-1D), under full batch and
  minibatches (``batch_sizes``, at no weight decay) and under AdamW weight decays (full batch);
* ``speed`` (the paper's Sec. 3.3): inside the region, two lines of ``points`` values of
  :math:`C` evenly spaced in :math:`(0, C(\gamma_0, \beta_0)]`: the *beta line* varies
  :math:`\beta` at :math:`\gamma_0` (``beta1``), the *gamma line* varies :math:`\gamma` at
  :math:`\beta_0` (``beta2``); both end at :math:`(\gamma_0, \beta_0)`; every seed, with the
  held-out loss every ``eval_every`` steps on ``eval_samples`` fixed held-out windows.

Every run is a :mod:`ctadam.train` config (float64, full batch unless said, a tiny eps);
ids name the experiment's coordinates. This module imports neither torch nor numpy when
loaded (the rule file calls it at parse time); the band and noise builders import
:mod:`ctadam.instability` when called, for the horizons and the parse-time decidability check.
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


def rho_beta2(beta1: float, rho: float, key: str = "rhos") -> float:
    r"""beta at exact rate ``rho``, gamma = ``beta1``: :math:`\beta = (\gamma/e^{\rho})^2`.

    Inverts :math:`\rho = \ln\gamma - \tfrac12\ln\beta` (\cref{eq:growth-rate}); ``rho > 0``
    puts the point outside the exact region (\cref{eq:region}). Raises ``ValueError`` naming
    ``key`` if ``rho`` is not a finite real > 0 or the beta is not in (0, 1).
    """
    if isinstance(rho, bool) or not isinstance(rho, int | float) or not 0.0 < rho < math.inf:
        raise ValueError(f"{key}: every rho must be a finite real > 0 (outside the exact "
                         f"region), got {rho!r}")
    beta2 = (beta1 * math.exp(-rho)) ** 2
    if not 0.0 < beta2 < 1.0:
        raise ValueError(f"{key}: rho={rho:g} at beta1={beta1:g} gives beta2={beta2:.4g}, "
                         "outside (0, 1)")
    return beta2


def stability_points(beta1: float, sec: dict, key: str) -> list[dict]:
    """The points of one line at gamma = ``beta1`` of a ``band``/``noise`` section ``sec``.

    Outside the exact region at equal exact rate (``rhos``, :func:`rho_beta2`), in the band at
    ``band_fractions`` (each in (0, 1)) and inside both regions at ``inside_fractions`` (each
    > 1) (:func:`band_beta2`), ordered by beta. Each point is ``{"label", "zone", "kind",
    "value", "beta2"}`` with ``zone`` one of ``"outside"``, ``"band"``, ``"inside"``, ``kind``
    ``"rho"`` or ``"f"`` and ``label`` ``r<rho>`` or ``f<fraction>`` (the run ids carry it).
    Raises ``ValueError`` naming ``key`` and the offending sub-key.
    """
    pts = [{"label": f"r{_key(r)}", "zone": "outside", "kind": "rho", "value": float(r),
            "beta2": rho_beta2(beta1, r, f"{key}.rhos")} for r in sec["rhos"]]
    for sub, zone, ok, allowed in (("band_fractions", "band", lambda f: 0.0 < f < 1.0, "(0, 1)"),
                                   ("inside_fractions", "inside", lambda f: f > 1.0, "> 1")):
        for f in sec[sub]:
            if isinstance(f, bool) or not isinstance(f, int | float) or not ok(f):
                raise ValueError(f"{key}.{sub}: every fraction must be in {allowed}, got {f!r}")
            pts.append({"label": f"f{_key(f)}", "zone": zone, "kind": "f", "value": float(f),
                        "beta2": band_beta2(beta1, f)})
    labels = [p["label"] for p in pts]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{key}: the points {labels} repeat a value")
    return sorted(pts, key=lambda p: p["beta2"])


def paper_rate(beta1: float, beta2: float) -> float:
    """The paper's predicted growth per step, |C|/2 where C < 0, else 0 (eq:paper-rates)."""
    return max(-paper_c(beta1, beta2), 0.0) / 2.0


def cell_horizon(beta1: float, beta2: float, K: float, base_steps: int, max_steps: int,
                 margin: float) -> int:
    r"""The steps of a cell: :func:`ctadam.instability.horizon` (``margin`` times
    :math:`\ln(10K)/\rho` outside the exact region, else ``base_steps``, at most
    ``max_steps``), raised where the paper predicts growth (:math:`C < 0`) to ``margin`` times
    :math:`\ln(10K)/(|C|/2)`, again at most ``max_steps``.

    The second term matters in the band, where :math:`\rho < 0`: a band run that stays below
    ``K`` is evidence against the paper's growth at :math:`|C|/2` only if that growth would have
    carried an update of order one past ``10 K`` within the run (:func:`paper_decidable`).
    """
    from ctadam import instability

    steps = instability.horizon(beta1, beta2, K, base_steps, max_steps, margin)
    rate = paper_rate(beta1, beta2)
    if rate > 0:
        steps = max(steps, min(max_steps, math.ceil(margin * math.log(10 * K) / rate)))
    return steps


def paper_decidable(beta1: float, beta2: float, K: float, steps: int) -> bool:
    r"""Whether the paper's growth :math:`e^{n|C|/2}` reaches ``10 K`` within ``steps`` steps,
    i.e. :math:`N \ge \ln(10K)/(|C|/2)` (False where the paper predicts no growth, C >= 0)."""
    rate = paper_rate(beta1, beta2)
    return rate > 0 and steps >= math.log(10 * K) / rate


def _line_cells(st: dict, exp: str, beta1s) -> list[tuple[float, dict, int]]:
    """``(beta1, point, steps)`` of every cell of experiment ``exp`` (``band``/``noise``)."""
    sec, K = st[exp], st["instability"]["K"]
    margin = st["instability"]["margin"]
    key = f"stability_training.{exp}"
    if not isinstance(sec["max_steps"], int) or isinstance(sec["max_steps"], bool) \
            or not isinstance(sec["base_steps"], int) or sec["max_steps"] < sec["base_steps"]:
        raise ValueError(f"{key}.max_steps must be an integer >= base_steps "
                         f"({sec['base_steps']!r}), got {sec['max_steps']!r}")
    return [(b1, p, cell_horizon(b1, p["beta2"], K, sec["base_steps"], sec["max_steps"], margin))
            for b1 in beta1s for p in stability_points(b1, sec, key)]


def check_line_decidable(st: dict, exp: str, cells: list[tuple[float, dict, int]]) -> None:
    """Parse-time check (:func:`ctadam.instability.require_decidable`) that the experiment can
    decide something: some outside cell and some band-or-inside cell are decidable, and (band)
    some band cell is :func:`paper_decidable`. Raises ``ValueError`` naming the profile key."""
    from ctadam import instability

    K, key = st["instability"]["K"], f"stability_training.{exp}"
    zones = {"outside": f"{key}.rhos (or {key}.max_steps)",
             "band": f"{key}.band_fractions", "inside": f"{key}.inside_fractions"}
    for zone, name in zones.items():
        instability.require_decidable(
            [(b1, p["beta2"], n) for b1, p, n in cells if p["zone"] == zone], K, name)
    band = [(b1, p, n) for b1, p, n in cells if p["zone"] == "band"]
    if exp == "band" and band and not any(paper_decidable(b1, p["beta2"], K, n)
                                          for b1, p, n in band):
        raise ValueError(f"{key}.max_steps: with instability.K = {K:g} no band cell runs long "
                         "enough for the paper's growth |C|/2 to reach 10 K: raise max_steps")


def band_runs(st: dict, data: dict) -> dict[str, dict]:
    """Run id ``<task>_g<beta1>_<point label>_s<seed>`` -> config; each cell's steps from
    :func:`cell_horizon` (checked at parse time by :func:`check_line_decidable`)."""
    b = st["band"]
    cells = _line_cells(st, "band", b["beta1s"])
    check_line_decidable(st, "band", cells)
    return {f"{task}_g{_key(b1)}_{p['label']}_s{s}":
            train_config(st, data, task, b1, p["beta2"], s, steps)
            for task in b["tasks"] for b1, p, steps in cells for s in b["seeds"]}


def noise_conditions(noise: dict) -> list[dict]:
    """The conditions: each batch size at no weight decay, each weight decay at full batch."""
    conds = [{"name": f"batch{'full' if bs is None else bs}", "batch_size": bs,
              "weight_decay": 0.0} for bs in noise["batch_sizes"]]
    conds += [{"name": f"wd{_key(wd)}", "batch_size": None, "weight_decay": wd}
              for wd in noise["weight_decays"] if wd != 0.0]
    return conds


def noise_runs(st: dict, data: dict) -> dict[str, dict]:
    """Run id ``<condition>_<point label>_s<seed>`` -> config (MNIST-1D); the points and steps
    as in :func:`band_runs` at the one gamma ``noise.beta1``."""
    n = st["noise"]
    cells = _line_cells(st, "noise", [n["beta1"]])
    check_line_decidable(st, "noise", cells)
    return {f"{c['name']}_{p['label']}_s{s}":
            train_config(st, data, "mnist1d", b1, p["beta2"], s, steps, c["batch_size"],
                         c["weight_decay"])
            for c in noise_conditions(n) for b1, p, steps in cells for s in n["seeds"]}


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
