r"""Parse-time power check of a profile's k-Adam study: will its seeds be able to decide?

Before any run there is no measured paired standard deviation, so the check uses the profile's
prior ``power.sd_prior[metric]`` (an assumption, stated in the profile: the paired standard
deviations :math:`s_d` a previous run measured). For every task from which a verdict may be
drawn (``verdict_tasks`` that the profile runs) it computes the minimum detectable effect

.. math::  \mathrm{MDE}(s_d, n) = \min\{\delta : P(|T_{n-1}(\delta\sqrt n/s_d)| >
           t_{1-\alpha/2m,\,n-1}) \ge \text{power}\}

of a paired t-test with :math:`n` = the number of seeds, Holm over :math:`m` = 4 strategies
(its strictest step; :func:`ctadam.stats.mde_paired`), and warns, without failing, when it
exceeds the profile's ceiling ``power.mde_ceiling[metric]``: every observed difference below
that MDE will be "undecidable at this scale". :func:`pairs_for_ceiling` says how many seeds
would do.
"""

import math
import sys

from ctadam.experiments.kadam_optimizer import plan
from ctadam.experiments.kadam_optimizer.selection import METRIC


def _prior(power: dict, key: str, metric: str) -> float:
    block = power.get(key)
    if not isinstance(block, dict) or metric not in block:
        raise ValueError(f"kadam_optimizer.power.{key}.{metric} is required (a number > 0)")
    value = block[metric]
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"kadam_optimizer.power.{key}.{metric} must be a number > 0, got "
                         f"{value!r}")
    return float(value)


def planned_mde(section: dict, task: str) -> float:
    """The MDE of ``task``'s comparisons with the profile's seeds and ``sd_prior``."""
    from ctadam.stats import mde_paired

    power, metric = section["power"], METRIC[task][0]
    n = len(section["seeds"])
    if n < 2:
        return math.inf
    return mde_paired(_prior(power, "sd_prior", metric), n, power["alpha"], power["power"],
                      len(plan.STRATEGIES))


def pairs_for_ceiling(section: dict, task: str) -> int:
    """The fewest seeds whose MDE (``sd_prior``) is at most ``mde_ceiling`` of ``task``."""
    from ctadam.stats import pairs_needed

    power, metric = section["power"], METRIC[task][0]
    return pairs_needed(_prior(power, "mde_ceiling", metric),
                        _prior(power, "sd_prior", metric), power["alpha"], power["power"],
                        len(plan.STRATEGIES))


def mde_warnings(section: dict) -> list[str]:
    """One ``WARNING: ...`` line per verdict task whose planned MDE exceeds its ceiling."""
    bad = [t for t in section["verdict_tasks"] if t not in METRIC]
    if bad:
        raise ValueError(f"kadam_optimizer.verdict_tasks has {bad}; allowed: {sorted(METRIC)}")
    out = []
    for task in section["verdict_tasks"]:
        if task not in section["run_tasks"]:
            continue
        metric = METRIC[task][0]
        ceiling = _prior(section["power"], "mde_ceiling", metric)
        mde = planned_mde(section, task)
        if mde > ceiling:
            out.append(f"WARNING: kadam_optimizer: with {len(section['seeds'])} seeds and the "
                       f"prior paired sd power.sd_prior.{metric} = "
                       f"{section['power']['sd_prior'][metric]:g}, the MDE of {task}'s "
                       f"comparisons is {mde:.3g} > power.mde_ceiling.{metric} = {ceiling:g}; "
                       f"any smaller difference will be 'undecidable at this scale' "
                       f"({pairs_for_ceiling(section, task)} seeds would reach the ceiling)")
    return out


def warn(section: dict) -> list[str]:
    """Print :func:`mde_warnings` (the rule file calls this when the workflow is parsed)."""
    lines = mde_warnings(section)
    for line in lines:
        print(line, file=sys.stderr, flush=True)
    return lines
