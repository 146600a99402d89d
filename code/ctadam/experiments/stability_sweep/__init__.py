r"""Family ``stability_sweep``: Adam's (gamma, beta) stability sweep against the exact region.

In the paper's letters gamma is the first-moment decay (torch ``beta1``) and beta the
second-moment decay (torch ``beta2``); config keys and summary fields use the torch names.
Every cell of a (beta1, beta2) grid is one full-batch training run of :mod:`ctadam.train`
(float64, a tiny eps so that eps does not mask the instability), repeated for every seed; an
eps panel repeats one row (one beta1) of the grid at larger eps with the first seed. A run is
identified by :func:`run_id` of its (beta1, beta2, eps, seed), so panel runs at the grid's eps
are the grid's own runs. A cell's horizon comes from its growth rate (:func:`cell_steps`), and
the one instability rule of :mod:`ctadam.instability` labels each run. The theory: the
region :math:`\gamma^2 < \beta` (\cref{eq:region}), the bound :math:`B_n` inside it
(\cref{eq:bound-n}) and the growth rate :math:`\rho` outside it (\cref{eq:growth-rate}).

The protocol (:mod:`ctadam.experiments.protocol`): :func:`runs` (torch- and numpy-free, the
rule file calls it at parse time), :func:`trackers` (none: the engine's per-step update
statistics and monitor suffice), :func:`~.summary.summarize` (the per-run numbers, the
agreement with theory and the hard bound check, :mod:`.summary`) and
:func:`~.tables.publish` (macros ``Sweep*`` and the tables :data:`TABLES`, :mod:`.tables`).
The verdicts themselves come from :mod:`ctadam.experiments.measures`.
"""

from ctadam.experiments.stability_sweep.summary import summarize
from ctadam.experiments.stability_sweep.tables import CLAIMS, TABLES, publish

__all__ = ["CLAIMS", "TABLES", "cell_steps", "publish", "run_id", "runs", "summarize",
           "train_config", "trackers"]


def run_id(beta1: float, beta2: float, eps: float, seed: int) -> str:
    """File-name-safe id of one run, e.g. ``b1_0.9_b2_0.7_e1e-16_s0`` (torch beta1, beta2)."""
    return f"b1_{beta1:.6g}_b2_{beta2:.6g}_e{eps:.3g}_s{seed}"


def cell_steps(section: dict, beta1: float, beta2: float) -> int:
    r"""The horizon of one cell: ``steps`` inside the region, raised for a cell outside it to
    ``instability.margin`` times :math:`\ln(10K)/\rho` (capped at ``max_steps``) so that the
    instability rule can call it unstable (:func:`ctadam.instability.horizon`)."""
    from ctadam.instability import horizon

    rule = section["instability"]
    return horizon(beta1, beta2, rule["K"], section["steps"], section["max_steps"],
                   rule["margin"])


def train_config(section: dict, data: str, beta1: float, beta2: float, eps: float,
                 seed: int) -> dict:
    """The :mod:`ctadam.train` config of one sweep run (``data``: the MNIST-1D file)."""
    return {
        "task": "mnist1d", "data": data, "arch": "mlp", "norm": "none",
        "model": {"hidden": list(section["hidden"])},
        "optimizer": {"name": "adam", "lr": section["lr"], "betas": [beta1, beta2], "eps": eps},
        "steps": cell_steps(section, beta1, beta2), "batch_size": None,
        "dtype": section["dtype"], "seed": seed, "n_train": section["n_train"],
        "log_every": section["log_every"], "diverge_norm": section["diverge_norm"],
        "monitor": dict(section["monitor"]),
    }


def runs(section: dict, data: dict) -> dict[str, dict]:
    """All runs of the sweep (every grid cell for every seed, and the eps panel at the first
    seed, deduplicated) by run id.

    ``data`` maps each task to its dataset file (:data:`ctadam.paths.DATASETS`). Raises
    ``ValueError`` naming ``stability_sweep.max_steps`` when the instability rule could decide
    no grid cell (:func:`ctadam.instability.require_decidable`).
    """
    from ctadam.instability import require_decidable

    grid = [(b1, b2) for b1 in section["beta1s"] for b2 in section["beta2s"]]
    require_decidable([(b1, b2, cell_steps(section, b1, b2)) for b1, b2 in grid],
                      section["instability"]["K"], "stability_sweep.max_steps")
    cells = [(b1, b2, section["eps"], s) for b1, b2 in grid for s in section["seeds"]]
    panel = section["eps_panel"]
    cells += [(panel["beta1"], b2, e, section["seeds"][0]) for e in panel["eps"]
              for b2 in panel["beta2s"]]
    return {run_id(*c): train_config(section, data["mnist1d"], *c) for c in cells}


def trackers(config: dict) -> list:
    """No trackers: the record's per-step update statistics and monitor are all it reads."""
    return []
