r"""Family ``stability_training``: training against the paper's and the exact stable regions.

Four experiments, each a subsection of the config section (:mod:`.configs` builds their runs):
``growth`` (the paper's Fig. 2b where the growth happens: on two lines, the slope at the
paper's step, over the growth phase and in a controlled probe with geometrically decaying
gradients, against the paper's :math:`|C|/2`, \cref{eq:paper-rates}, and the exact
:math:`\rho`, \cref{eq:growth-rate}; it states the ledger claim ``growth-rate``), ``band``
(which boundary training follows: the paper's :math:`C = 0`, \cref{eq:paper-boundary}, or the
exact :math:`\beta = \gamma^2`, \cref{eq:region}), ``noise`` (gradient noise and weight decay)
and ``speed`` (the paper's Sec. 3.3: larger :math:`C`, \cref{eq:paper-c}, and the steps to a
held-out loss).

The protocol (:mod:`ctadam.experiments.protocol`): :func:`runs` gives every run of every
experiment, its id prefixed by the experiment (``growth_mnist1d_k000``); torch- and
numpy-free, the rule file calls it at parse time. :func:`summarize` measures every run
(:mod:`.measure`, verdicts from :mod:`ctadam.experiments.measures`), checks the hard property
inside the exact region per experiment and summarises each with its module (:mod:`.growth`,
:mod:`.band`, :mod:`.noise`, :mod:`.speed`): the summary is ``{experiment: summary}``.
:func:`publish` gives the macros of all four (prefixes ``StabTask``, ``StabMeasure``,
``StabGrowth``, ``StabBand``, ``StabNoise``, ``StabSpeed``) and the tables :data:`TABLES`.
Both import numpy and scipy only when called.
"""

from ctadam.experiments.stability_training.configs import RUNS

EXPERIMENTS = tuple(RUNS)
TABLES = tuple(f"stability_training_{exp}" for exp in EXPERIMENTS)
# The ledger claim each experiment states (its module's ``claim(summary, section)``).
CLAIM_OF = {"growth": "growth-rate", "band": "band", "noise": "noise", "speed": "speed"}
CLAIMS = tuple(CLAIM_OF[exp] for exp in EXPERIMENTS)


def runs(section: dict, data: dict) -> dict[str, dict]:
    """Every run of the four experiments, ``{<experiment>_<id>: config}``.

    ``data`` maps each task to its dataset file (:data:`ctadam.paths.DATASETS`).
    """
    return {f"{exp}_{run_id}": config for exp, build in RUNS.items()
            for run_id, config in build(section, data).items()}


def trackers(config: dict) -> list:
    """No trackers: the record's per-step update statistics and evaluations suffice."""
    return []


def split(records: dict[str, dict]) -> dict[str, dict[str, dict]]:
    """The records by experiment, each ``{id without the experiment prefix: record}``.

    Raises ``ValueError`` for a run id of no experiment, or an experiment without records.
    """
    out = {exp: {} for exp in EXPERIMENTS}
    for run_id, record in records.items():
        exp, _, rest = run_id.partition("_")
        if exp not in out or not rest:
            raise ValueError(f"record {run_id!r}: the id must start with one of "
                             f"{[e + '_' for e in EXPERIMENTS]}")
        out[exp][rest] = record
    empty = [exp for exp, recs in out.items() if not recs]
    if empty:
        raise ValueError(f"records: no run of the experiments {empty}")
    return out


def experiment_modules() -> dict:
    """The module that summarises each experiment (imports numpy and scipy)."""
    from ctadam.experiments.stability_training import band, growth, noise, speed

    return {"growth": growth, "band": band, "noise": noise, "speed": speed}


def summarize(records: dict[str, dict], section: dict) -> dict:
    r"""``{experiment: summary}``: each run measured, the bound checked, the experiment summarised.

    Raises :class:`~ctadam.experiments.measures.BoundViolation` when an update inside the exact
    region exceeds :math:`B_n` (\cref{eq:bound-n}) by more than ``bound_tolerance``.
    """
    from ctadam.experiments.measures import check_bound
    from ctadam.experiments.stability_training import measure

    modules = experiment_modules()
    window, factor = section["measure"]["window"], section["measure"]["growth_factor"]
    onset, probe = section["instability"]["onset"], section["growth"]["probe"]
    out = {}
    for exp, recs in split(records).items():
        measured = [measure.measure_run(i, recs[i], window, factor, onset, probe)
                    for i in sorted(recs)]
        bound = check_bound(measured, section["bound_tolerance"])
        out[exp] = {**modules[exp].summarize(measured, section), "bound": bound}
    return out


def publish(summary: dict, section: dict) -> dict:
    """The macros of every experiment (with its bound check) and one table per experiment."""
    modules = experiment_modules()
    macros, tables = {}, {}
    for exp in EXPERIMENTS:
        s, prefix = summary[exp], f"Stab{exp.capitalize()}"
        macros |= modules[exp].macros(s, section)
        macros[f"{prefix}InsideRuns"] = str(s["bound"]["runs"])
        macros[f"{prefix}MaxBoundRatio"] = f"{s['bound']['max_ratio']:.3f}"
        tables[f"stability_training_{exp}"] = modules[exp].table(s)
    claims = [modules[exp].claim(summary[exp], section) for exp in EXPERIMENTS
              if hasattr(modules[exp], "claim")]
    return {"macros": macros, "tables": tables, "claims": claims}
