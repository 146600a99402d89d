r"""The k-Adam study's plan: which cells exist and the run config of each (no torch, no numpy).

Snakemake imports this module while it parses the workflow, so it uses the standard library
only. Its config section is ``kadam_optimizer``. A *cell* is (task, norm, method, k);
``method`` is a baseline (``adamw``, k = 1, which is also k-Adam's k = 1; ``lion``) or one of
four strategies for the upper levels of k-Adam (torch letters: ``(beta1, beta2)`` = the decays
of the first and second moment, the paper's (gamma, beta); ``(b1, b2)`` is the profile's
level-1 pair, :math:`\eta` the learning rate and :math:`\lambda` the decoupled weight decay):

``same``     every level ``(b1, b2)`` (the artifact's earlier k-Adam)
``nomom``    level 1 ``(b1, b2)``, levels 2..k ``(0, b2)``: no momentum above level 1
``theory``   level 1 ``(b1, b2)``, levels 2..k ``(0, (1 - eta lambda)^2)`` with one pooled
             second moment per tensor: the implicit level of a normalized layer under AdamW
             (\cref{eq:meta-adaptive}: gamma_2 = 0, decay (1 - eta lambda)^2)
``lastmom``  levels 1..k-1 ``(0, b2)``, level k ``(b1, b2)``: the one momentum moved from the
             gradient to the last normalized direction

Every optimizer gets the same decoupled weight decay :math:`\lambda`
(``kadam_optimizer.weight_decay``), the same learning-rate grid size and the same seeds; Lion's
grid is the task's grid times ``kadam_optimizer.lion.lr_scale`` (Lion's sign update has unit
size per coordinate).

The study has two stages: *select* (the seeds ``select_seeds`` of every cell at every rate
of its grid, on a selection split that holds out part of the training data) and *final*
(every seed at the chosen rate, on the final data). Run ids: ``<cell>_lr<i>`` (select, seed 0;
``<cell>_lr<i>_s<seed>`` for another seed), ``<cell>_s<seed>`` (final); the data files of each
stage are :func:`split_data`.
"""

import copy

from ctadam.theory.normdynamics import implicit_decay

STRATEGIES = ("same", "nomom", "theory", "lastmom")
BASELINES = ("adamw", "lion")
METHODS = (*BASELINES, *STRATEGIES)
NORMS = ("none", "layer")
# Keys of a task's profile block that go into the run config unchanged.
RUN_KEYS = ("arch", "steps", "batch_size", "eval_samples", "log_every", "eval_every")


def strategy_betas(strategy: str, k: int, betas, lr: float, weight_decay: float):
    """``(betas, pooled)`` of k-Adam's ``k`` levels under ``strategy`` (see the module doc)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    b1, b2 = (float(b) for b in betas)
    upper = k - 1
    if strategy == "same":
        return [[b1, b2]] * k, [False] * k
    if strategy == "nomom":
        return [[b1, b2]] + [[0.0, b2]] * upper, [False] * k
    if strategy == "lastmom":
        return [[0.0, b2]] * upper + [[b1, b2]], [False] * k
    if not 0 < lr * weight_decay < 1:
        raise ValueError(f"strategy 'theory' needs 0 < lr * weight_decay < 1 (level-2 decay "
                         f"(1 - lr * weight_decay)^2), got lr={lr!r}, weight_decay="
                         f"{weight_decay!r}")
    return [[b1, b2]] + [[0.0, implicit_decay(lr, weight_decay)]] * upper, [False] + [True] * upper


def cell_name(task: str, norm: str, method: str, k: int) -> str:
    """File-name key of a cell, e.g. ``cifar10_none_theory_k2``."""
    return f"{task}_{norm}_{method}_k{k}"


def task_cells(ka: dict, task: str) -> list[dict]:
    """The cells of ``task``: per norm AdamW (k = 1), the baselines, strategies x ks."""
    spec = ka["tasks"][task]
    for key, allowed in (("norms", NORMS), ("strategies", STRATEGIES), ("baselines", ("lion",))):
        bad = [v for v in spec[key] if v not in allowed]
        if bad:
            raise ValueError(f"kadam_optimizer.tasks.{task}.{key} has {bad}; allowed: "
                             f"{allowed}")
    if any(not isinstance(k, int) or k < 2 for k in spec["ks"]):
        raise ValueError(f"kadam_optimizer.tasks.{task}.ks must be integers >= 2 (k = 1 is "
                         f"the AdamW cell), got {spec['ks']!r}")
    out = []
    for norm in spec["norms"]:
        out.append({"task": task, "norm": norm, "method": "adamw", "k": 1})
        out += [{"task": task, "norm": norm, "method": b, "k": 1} for b in spec["baselines"]]
        out += [{"task": task, "norm": norm, "method": s, "k": k}
                for s in spec["strategies"] for k in spec["ks"]]
    for cell in out:
        cell["name"] = cell_name(cell["task"], cell["norm"], cell["method"], cell["k"])
    return out


def cells(ka: dict) -> list[dict]:
    """Every cell of the profile's ``kadam_optimizer.run_tasks``."""
    for task in ka["run_tasks"]:
        if task not in ka["tasks"]:
            raise ValueError(f"kadam_optimizer.run_tasks names {task!r}, which has no "
                             f"kadam_optimizer.tasks entry")
    return [c for task in ka["run_tasks"] for c in task_cells(ka, task)]


def lr_grid(ka: dict, cell: dict) -> list[float]:
    """The learning rates tried for ``cell`` (Lion: the task's grid times its lr_scale)."""
    grid = [float(x) for x in ka["tasks"][cell["task"]]["lrs"]]
    if cell["method"] == "lion":
        return [float(f"{x * ka['lion']['lr_scale']:.6g}") for x in grid]
    return grid


def optimizer_block(ka: dict, cell: dict, lr: float) -> dict:
    """The :mod:`ctadam.runconfig` optimizer block of ``cell`` at learning rate ``lr``."""
    common = {"lr": lr, "eps": ka["eps"], "weight_decay": ka["weight_decay"]}
    if cell["method"] == "adamw":
        return {"name": "adamw", "betas": list(ka["betas"]), **common}
    if cell["method"] == "lion":
        return {"name": "lion", "betas": list(ka["lion"]["betas"]), **common}
    betas, pooled = strategy_betas(cell["method"], cell["k"], ka["betas"], lr,
                                   ka["weight_decay"])
    block = {"name": "kadam", "k": cell["k"], "betas": betas, **common}
    if any(pooled):
        block["pooled"] = pooled
    return block


def run_config(ka: dict, cell: dict, lr: float, seed: int, data: str) -> dict:
    """The :func:`ctadam.train.run` config of one run of ``cell``."""
    spec = ka["tasks"][cell["task"]]
    cfg = {key: copy.deepcopy(spec[key]) for key in RUN_KEYS if key in spec}
    cfg.update(task=cell["task"], data=data, norm=cell["norm"],
               model=copy.deepcopy(spec.get("model", {})),
               optimizer=optimizer_block(ka, cell, lr), seed=seed,
               n_train=spec.get("train_windows"),
               diverge_loss_factor=ka["diverge_loss_factor"])
    return cfg


def select_seeds(ka: dict) -> list[int]:
    """The seeds of the selection (``kadam_optimizer.select_seeds``, distinct integers >= 0)."""
    seeds = ka["select_seeds"]
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)):
        raise ValueError(f"kadam_optimizer.select_seeds must be a non-empty list of distinct "
                         f"integers >= 0, got {seeds!r}")
    return seeds


def select_name(cell: dict, i: int, seed: int) -> str:
    """Run id of a selection run: ``<cell>_lr<i>`` for seed 0, ``<cell>_lr<i>_s<seed>``."""
    return f"{cell['name']}_lr{i}" + ("" if seed == 0 else f"_s{seed}")


def select_jobs(ka: dict, data: dict) -> list[dict]:
    """Selection runs: every seed of ``select_seeds`` of every cell at every rate of its grid
    on the task's selection file ``data[task]``."""
    return [{"name": select_name(c, i, s), "cell": c["name"], "lr": lr, "seed": s,
             "config": run_config(ka, c, lr, s, data[c["task"]])}
            for c in cells(ka) for i, lr in enumerate(lr_grid(ka, c)) for s in select_seeds(ka)]


def final_jobs(ka: dict, data: dict, chosen: dict) -> list[dict]:
    """Final runs: every seed of every cell at its chosen rate (``chosen[name]``) on the
    task's final file ``data[task]``."""
    return [{"name": f"{c['name']}_s{s}", "cell": c["name"], "lr": chosen[c["name"]],
             "seed": s, "config": run_config(ka, c, chosen[c["name"]], s, data[c["task"]])}
            for c in cells(ka) for s in ka["seeds"]]


STAGES = ("select", "final")
# Where the split data files of each stage live (the rule kadam_optimizer_split writes them).
SPLIT = "data/kadam_optimizer/{task}_{stage}.npz"


def split_data(ka: dict, stage: str) -> dict[str, str]:
    """The data file of ``stage`` (:data:`STAGES`) of every run task."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    return {task: SPLIT.format(task=task, stage=stage) for task in ka["run_tasks"]}


def runs(ka: dict, data: dict) -> dict[str, dict]:
    """The selection runs (stage ``select``), by run id; ``data[task]`` is the task's selection
    file (:func:`split_data`). The final runs follow from their results (:func:`final_runs`).
    """
    if ka["figure_task"] not in ka["run_tasks"]:
        raise ValueError(f"kadam_optimizer.figure_task {ka['figure_task']!r} is not in "
                         f"run_tasks {ka['run_tasks']}")
    missing = sorted(set(ka["run_tasks"]) - set(data))
    if missing:
        raise ValueError(f"data must name a selection file for every run task; missing {missing}")
    return {job["name"]: job["config"] for job in select_jobs(ka, data)}


def final_ids(ka: dict) -> list[str]:
    """The run ids of the final stage (known before any learning rate is chosen)."""
    return [f"{c['name']}_s{s}" for c in cells(ka) for s in ka["seeds"]]


def final_runs(ka: dict, data: dict, chosen: dict) -> dict[str, dict]:
    """The final runs by run id, at the chosen rates; ``data[task]`` is the final file."""
    return {job["name"]: job["config"] for job in final_jobs(ka, data, chosen)}
