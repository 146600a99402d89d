r"""Family ``continuous_time``: the continuous-time models against discrete Adam and AdamW.

Two kinds of runs, neither an engine run (both go through :func:`run_one`):

* one per quadratic problem of ``problems`` (id = the problem's name, :mod:`.quadratics`): the
  global error of both models of :mod:`ctadam.theory.continuous` (\cref{eq:ct-models}) at a
  fixed horizon over a range of learning rates, and its fitted order
  (\cref{eq:ct-global-error});
* one per optimizer on a tiny character transformer (ids ``transformer_adam`` and
  ``transformer_adamw``, :mod:`.transformer`): the relative trajectory error
  (\cref{eq:ct-traj-error}).

The protocol (:mod:`ctadam.experiments.protocol`): :func:`runs` (torch- and numpy-free, the rule
file calls it at parse time), :func:`run_one` (a quadratic config holds ``problem``, a
transformer config ``optimizer``), :func:`summarize` (:mod:`.summary`) and :func:`publish`
(macros ``Ct*`` and ``Ode*``, :mod:`.numbers`; no tables).
"""

OPTIMIZERS = ("adam", "adamw")
TABLES = ()


def quadratic_config(section: dict, problem: str) -> dict:
    """The run config of one quadratic problem (a key of ``section["problems"]``)."""
    p = section["problems"][problem]
    return {"problem": problem, "beta1": section["beta1"], "beta2": section["beta2"],
            "horizon": section["horizon"], "n_etas": section["n_etas"],
            "eta_min": p["eta_min"], "eta_max": p["eta_max"],
            "weight_decay": p["weight_decay"], "rtol": p["rtol"]}


def transformer_config(section: dict, data: str, optimizer: str) -> dict:
    """The run config of the transformer under ``optimizer`` (``data``: the Shakespeare file).

    Weight decay applies to AdamW only; Adam runs at 0.
    """
    tf = section["transformer"]
    cfg = {k: v for k, v in tf.items() if k != "weight_decay"}
    cfg.update(optimizer=optimizer, data=data, beta1=section["beta1"], beta2=tf["beta2"],
               weight_decay=tf["weight_decay"] if optimizer == "adamw" else 0.0, threads=1)
    return cfg


def runs(section: dict, data: dict) -> dict[str, dict]:
    """The quadratic runs (in the section's order of problems), then the transformer runs."""
    out = {name: quadratic_config(section, name) for name in section["problems"]}
    if set(out) & {f"transformer_{opt}" for opt in OPTIMIZERS}:
        raise ValueError(f"problems: a problem may not be named transformer_*, got {list(out)}")
    for opt in OPTIMIZERS:
        out[f"transformer_{opt}"] = transformer_config(section, data["shakespeare"], opt)
    return out


def trackers(config: dict) -> list:
    """No trackers: the runs are not engine runs."""
    return []


def run_one(config: dict) -> dict:
    """The record of one run: a quadratic problem or the transformer."""
    if "problem" in config:
        from ctadam.experiments.continuous_time.quadratics import run
    else:
        from ctadam.experiments.continuous_time.transformer import run
    return run(config)


def summarize(records: dict[str, dict], section: dict) -> dict:
    """The quadratic records and the transformer summary (:func:`.summary.summarize`)."""
    from ctadam.experiments.continuous_time.summary import summarize as summarize_records

    return summarize_records(records, section)


def publish(summary: dict, section: dict) -> dict:
    """The macros of the quadratics (``Ct*``) and of the transformer (``Ode*``); no tables."""
    from ctadam.experiments.continuous_time.numbers import record_macros, summary_macros

    return {"macros": record_macros(summary["quadratics"])
            | summary_macros(summary["transformer"]), "tables": {}}
