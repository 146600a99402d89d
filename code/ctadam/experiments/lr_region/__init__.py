r"""Family ``lr_region``: the learning-rate dependence of Adam's empirical stable region.

One non-engine run: full-batch Adam on a convex quadratic for every (beta1, beta2) of a grid at
every learning rate of the section, all at once as arrays (:mod:`.simulation`). Its summary
(:mod:`.summary`) compares each learning rate's empirical stable map with the exact region
:math:`\beta > \gamma^2` (\cref{eq:region}) and the paper's :math:`C > 0` (\cref{eq:paper-c}).

The protocol (:mod:`ctadam.experiments.protocol`): :func:`runs` (one run, id ``lr_region``,
whose config is the section), :func:`run_one` (the simulation, in place of the engine; numpy
only when called), :func:`summarize`, :func:`publish` (macros ``LrRegion*``, the claim
``lr-region``, no tables).
"""

RUN_ID = "lr_region"
TABLES = ()
CLAIMS = ("lr-region",)


def runs(section: dict, data: dict) -> dict[str, dict]:
    """The one run ``{"lr_region": config}``, the section's simulation keys (``data`` is unused:
    no dataset). Raises ``ValueError`` naming ``lr_region.steps`` when the instability rule
    could decide no cell of the grid at that horizon
    (:func:`ctadam.instability.require_decidable`)."""
    from ctadam.experiments.lr_region.simulation import KEYS
    from ctadam.instability import require_decidable

    n1, n2 = section["n_beta1"], section["n_beta2"]
    beta1s = [section["beta1_max"] * i / (n1 - 1) for i in range(n1)]
    beta2s = [section["beta2_min"] + (section["beta2_max"] - section["beta2_min"]) * j / (n2 - 1)
              for j in range(n2)]
    require_decidable([(b1, b2, section["steps"]) for b1 in beta1s for b2 in beta2s if b1 > 0],
                      section["instability"]["K"], "lr_region.steps")
    return {RUN_ID: {k: section[k] for k in KEYS}}


def trackers(config: dict) -> list:
    """No trackers: the run is not an engine run."""
    return []


def run_one(config: dict) -> dict:
    """The record of the simulation (:func:`.simulation.run`)."""
    from ctadam.experiments.lr_region.simulation import run

    return run(config)


def summarize(records: dict[str, dict], section: dict) -> dict:
    """Verdicts per learning rate and criterion, the empirical boundaries and the maps."""
    from ctadam.experiments.lr_region.summary import summarize as summarize_record

    if set(records) != {RUN_ID}:
        raise ValueError(f"records: lr_region needs exactly the run {RUN_ID!r}, got "
                         f"{sorted(records)}")
    return summarize_record(records[RUN_ID], section["instability"]["K"])


def publish(summary: dict, section: dict) -> dict:
    """The macros ``LrRegion*`` of the summary and the claim ``lr-region``; no tables."""
    from ctadam.experiments.lr_region.summary import claim, numbers

    return {"macros": numbers(summary), "tables": {}, "claims": [claim(summary, section)]}
